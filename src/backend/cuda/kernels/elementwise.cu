// Element-wise kernels: each fuses the work that follows one GEMM, so a layer
// of a pass is one or two GEMMs plus one of these launches.

// out = f(z + b) (bias per row); when `zb` is non-null it also receives z + b
// (the output layer keeps its pre-activations for stable losses). `z`, `zb`
// and `out` may alias.
extern "C" __global__ void bias_act(const float* z, i64 ldz, const float* b, float* zb, i64 ldzb,
                                    float* out, i64 ldo, int rows, int n, int act) {
    const i64 total = (i64)rows * n;
    for (i64 i = grid_start(); i < total; i += grid_stride()) {
        const i64 r = i % rows, c = i / rows;
        const float v = z[r + c * ldz] + b[r];
        if (zb) zb[r + c * ldzb] = v;
        out[r + c * ldo] = act_apply(act, v);
    }
}

// out = in ⊙ f'(a) (f' from the unit outputs `a`); `out` may alias `in`.
extern "C" __global__ void deriv_mul(float* out, i64 ldo, const float* in, i64 ldi, const float* a,
                                     i64 lda, int rows, int n, int act) {
    const i64 total = (i64)rows * n;
    for (i64 i = grid_start(); i < total; i += grid_stride()) {
        const i64 r = i % rows, c = i / rows;
        out[r + c * ldo] = in[r + c * ldi] * act_deriv(act, a[r + c * lda]);
    }
}

// The Hessian's backward step: p = p ⊙ f'(a) + e ⊙ f''(a) ⊙ rz, where p is
// (R{δ}·Wᵀ + δ·Vᵀ), e = δ·Wᵀ the cached pre-derivative delta and rz = R{z}.
extern "C" __global__ void hess_back(float* p, i64 ldp, const float* e, i64 lde, const float* a,
                                     i64 lda, const float* rz, i64 ldrz, int rows, int n, int act) {
    const i64 total = (i64)rows * n;
    for (i64 i = grid_start(); i < total; i += grid_stride()) {
        const i64 r = i % rows, c = i / rows;
        const float av = a[r + c * lda];
        const float pv = p[r + c * ldp];
        p[r + c * ldp] = pv * act_deriv(act, av) + e[r + c * lde] * act_second(act, av) * rz[r + c * ldrz];
    }
}

// Element-wise loss Hessian at the output (w.r.t. the pre-activations) applied
// in place: logistic + cross-entropy r ⊙= y(1 − y); linear + un-halved squared
// error r ⊙= 2. (Softmax has a per-column kernel.)
extern "C" __global__ void loss_hess_elem(float* r_, i64 ldr, const float* y, i64 ldy, int rows,
                                          int n, int loss) {
    const i64 total = (i64)rows * n;
    for (i64 i = grid_start(); i < total; i += grid_stride()) {
        const i64 r = i % rows, c = i / rows;
        if (loss == LOSS_CROSS_ENTROPY) {
            const float yv = y[r + c * ldy];
            r_[r + c * ldr] *= yv * (1.0f - yv);
        } else {
            r_[r + c * ldr] *= 2.0f;
        }
    }
}

// out = in ⊙ in (rows may include the ones row of an augmented activation).
extern "C" __global__ void square(float* out, i64 ldo, const float* in, i64 ldi, int rows, int n) {
    const i64 total = (i64)rows * n;
    for (i64 i = grid_start(); i < total; i += grid_stride()) {
        const i64 r = i % rows, c = i / rows;
        const float v = in[r + c * ldi];
        out[r + c * ldo] = v * v;
    }
}

// out = d ⊙ s (each column c scaled by s[c]).
extern "C" __global__ void scale_cols(float* out, i64 ldo, const float* d, i64 ldd, const float* s,
                                      int rows, int n) {
    const i64 total = (i64)rows * n;
    for (i64 i = grid_start(); i < total; i += grid_stride()) {
        const i64 r = i % rows, c = i / rows;
        out[r + c * ldo] = d[r + c * ldd] * s[c];
    }
}

// Builds an augmented activation matrix from `n` plain columns of `rows`
// values: rows 0..rows−1 copied, row `rows` set to 1 (the bias input), and the
// padding rows up to `ldd` set to 0.
extern "C" __global__ void augment(float* dst, i64 ldd, const float* src, i64 lds, int rows, int n) {
    const i64 total = ldd * n;
    for (i64 i = grid_start(); i < total; i += grid_stride()) {
        const i64 r = i % ldd, c = i / ldd;
        dst[i] = r < rows ? src[r + c * lds] : (r == rows ? 1.0f : 0.0f);
    }
}

// Sets row `row` of `n` columns to `value` (the ones row of augmented buffers).
extern "C" __global__ void fill_row(float* m, i64 ld, int row, int n, float value) {
    for (i64 c = grid_start(); c < n; c += grid_stride()) m[row + c * ld] = value;
}

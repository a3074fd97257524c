// Per-example (per-column) kernels: one thread block per column, with
// block reductions in a fixed order so results are deterministic.

// Softmax output layer: zb = z + b, y = softmax(zb) over the column.
extern "C" __global__ void softmax_cols(const float* z, i64 ldz, const float* b, float* zb, i64 ldzb,
                                        float* y, i64 ldy, int rows, int n) {
    const i64 c = blockIdx.x;
    if (c >= n) return;
    float m = NEG_INF_F;
    for (int r = threadIdx.x; r < rows; r += blockDim.x) {
        const float v = z[r + c * ldz] + b[r];
        zb[r + c * ldzb] = v;
        m = larger(m, v);
    }
    __syncthreads();
    m = block_max(m);
    float s = 0.0f;
    for (int r = threadIdx.x; r < rows; r += blockDim.x) s += expf(zb[r + c * ldzb] - m);
    s = block_sum(s);
    for (int r = threadIdx.x; r < rows; r += blockDim.x) y[r + c * ldy] = expf(zb[r + c * ldzb] - m) / s;
}

__device__ __forceinline__ double softplus(double z) {
    return (z > 0.0 ? z : 0.0) + log1p(exp(-fabs(z)));
}

// Per-example loss and squared error (in f64) from the output pre-activations
// `z`, outputs `y` and targets `t`: loss into per_ex[c], error into
// per_ex[n + c]. When `delta` is non-null it also receives ∂ℓ/∂z: y − t
// (cross-entropy), 2(y − t) (squared error), s·y − t with s = Σ t (softmax).
extern "C" __global__ void loss_cols(const float* z, i64 ldz, const float* y, i64 ldy, const float* t,
                                     i64 ldt, int rows, int n, int loss, double* per_ex,
                                     float* delta, i64 ldd) {
    const i64 c = blockIdx.x;
    if (c >= n) return;
    double l = 0.0, e = 0.0;
    if (loss == LOSS_CROSS_ENTROPY) {
        for (int r = threadIdx.x; r < rows; r += blockDim.x) {
            const double zv = z[r + c * ldz], tv = t[r + c * ldt];
            const float yv = y[r + c * ldy];
            const double d = (double)yv - tv;
            l += softplus(zv) - tv * zv;
            e += d * d;
            if (delta) delta[r + c * ldd] = yv - t[r + c * ldt];
        }
    } else if (loss == LOSS_SQUARED_ERROR) {
        for (int r = threadIdx.x; r < rows; r += blockDim.x) {
            const float yv = y[r + c * ldy], tv = t[r + c * ldt];
            const double d = (double)yv - (double)tv;
            l += d * d;
            e += d * d;
            if (delta) delta[r + c * ldd] = 2.0f * (yv - tv);
        }
    } else {
        double m = NEG_INF_D;
        float ts = 0.0f;
        for (int r = threadIdx.x; r < rows; r += blockDim.x) {
            m = larger(m, (double)z[r + c * ldz]);
            ts += t[r + c * ldt];
        }
        __syncthreads();
        m = block_max(m);
        ts = block_sum(ts);
        double se = 0.0;
        for (int r = threadIdx.x; r < rows; r += blockDim.x) se += exp((double)z[r + c * ldz] - m);
        const double lse = m + log(block_sum(se));
        for (int r = threadIdx.x; r < rows; r += blockDim.x) {
            const double tv = t[r + c * ldt];
            const float yv = y[r + c * ldy];
            const double d = (double)yv - tv;
            l += tv * (lse - (double)z[r + c * ldz]);
            e += d * d;
            if (delta) delta[r + c * ldd] = ts * yv - t[r + c * ldt];
        }
    }
    l = block_sum(l);
    e = block_sum(e);
    if (threadIdx.x == 0) {
        per_ex[c] = l;
        per_ex[n + c] = e;
    }
}

// Softmax loss Hessian applied in place per column: r = s·y ⊙ (r − yᵀr), s = Σ t.
extern "C" __global__ void loss_hess_softmax(float* r_, i64 ldr, const float* y, i64 ldy, const float* t,
                                             i64 ldt, int rows, int n) {
    const i64 c = blockIdx.x;
    if (c >= n) return;
    float ts = 0.0f;
    double dot = 0.0;
    for (int r = threadIdx.x; r < rows; r += blockDim.x) {
        ts += t[r + c * ldt];
        dot += (double)r_[r + c * ldr] * (double)y[r + c * ldy];
    }
    ts = block_sum(ts);
    const float yr = (float)block_sum(dot);
    for (int r = threadIdx.x; r < rows; r += blockDim.x) {
        r_[r + c * ldr] = ts * y[r + c * ldy] * (r_[r + c * ldr] - yr);
    }
}

// s[c] += Σ_r u(r, c)·d(r, c) (the empirical Fisher's per-example g_nᵀv).
extern "C" __global__ void col_dot_acc(const float* u, i64 ldu, const float* d, i64 ldd, int rows, int n,
                                       float* s) {
    const i64 c = blockIdx.x;
    if (c >= n) return;
    double acc = 0.0;
    for (int r = threadIdx.x; r < rows; r += blockDim.x) acc += (double)u[r + c * ldu] * (double)d[r + c * ldd];
    acc = block_sum(acc);
    if (threadIdx.x == 0) s[c] += (float)acc;
}

// Sums the per-example losses and errors written by `loss_cols` (per_ex[0..n]
// and per_ex[n..2n]) into out[0] and out[1], in one block and a fixed order.
extern "C" __global__ void sum_losses(const double* per_ex, int n, double* out) {
    double l = 0.0, e = 0.0;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        l += per_ex[i];
        e += per_ex[n + i];
    }
    l = block_sum(l);
    e = block_sum(e);
    if (threadIdx.x == 0) {
        out[0] = l;
        out[1] = e;
    }
}

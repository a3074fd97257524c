// CG's vector work on the device (src/backend/cuda/cg.rs), so that a whole
// CG solve keeps its vectors on the GPU and only f64 scalars come back.
//
// Element-wise arithmetic is written with explicitly rounded intrinsics in
// the host solver's order (src/hf/vector.rs, src/hf/cg.rs), so NVRTC cannot
// contract it into FMAs: every vector element is the host's bit for bit
// given the same inputs. Only the sums differ in order: each block of a
// `cg_*` kernel writes its sum to `partial[k * gridDim.x + blockIdx.x]`
// (k = which quantity), and `cg_finish` adds those in block order. With the
// grid fixed by the length alone, results are deterministic on a device.

// Grid-stride sum of one block, written to its slot of `partial`.
__device__ __forceinline__ void cg_block_partial(double v, double* partial, int k) {
    v = block_sum(v);
    if (threadIdx.x == 0) partial[(i64)k * gridDim.x + blockIdx.x] = v;
}

// The damped product's tail: out = out + (wc·mask)·v in f32 (the objective's
// weight cost), then out = out + λ·v in f64 rounded to f32 (the session's
// damping); partial sums of vᵀout (pᵀAp when v = p).
extern "C" __global__ void cg_damp(float* out, const float* v, const float* mask, float wc, double lambda,
                                   i64 n, double* partial) {
    double acc = 0.0;
    for (i64 i = grid_start(); i < n; i += grid_stride()) {
        const float vi = v[i];
        const float o = __fadd_rn(out[i], __fmul_rn(__fmul_rn(wc, mask[i]), vi));
        const float d = (float)__dadd_rn((double)o, __dmul_rn(lambda, (double)vi));
        out[i] = d;
        acc = __dadd_rn(acc, __dmul_rn((double)vi, (double)d));
    }
    cg_block_partial(acc, partial, 0);
}

// y = r / m (or r when m is null), in f32.
__device__ __forceinline__ float cg_precondition(float r, const float* m, i64 i) {
    return m ? __fdiv_rn(r, m[i]) : r;
}

// The start of CG from r = A·x (or zeros): r = r − b, y = r / m, p = −y;
// partial sums of rᵀy (k = 0) and xᵀ(r − b) (k = 1, twice φ).
extern "C" __global__ void cg_start(float* r, float* y, float* p, const float* x, const float* b, const float* m,
                                    i64 n, double* partial) {
    double ry = 0.0, ph = 0.0;
    for (i64 i = grid_start(); i < n; i += grid_stride()) {
        const float ri = __fsub_rn(r[i], b[i]);
        const float yi = cg_precondition(ri, m, i);
        r[i] = ri;
        y[i] = yi;
        p[i] = -yi;
        ry = __dadd_rn(ry, __dmul_rn((double)ri, (double)yi));
        ph = __dadd_rn(ph, __dmul_rn((double)x[i], __dsub_rn((double)ri, (double)b[i])));
    }
    cg_block_partial(ry, partial, 0);
    cg_block_partial(ph, partial, 1);
}

// One CG update: x = x + α·p, r = r + α·Ap (each in f64, rounded to f32),
// y = r / m; partial sums of rᵀy (k = 0) and xᵀ(r − b) (k = 1).
extern "C" __global__ void cg_update(float* x, float* r, float* y, const float* p, const float* ap,
                                     const float* b, const float* m, double alpha, i64 n, double* partial) {
    double ry = 0.0, ph = 0.0;
    for (i64 i = grid_start(); i < n; i += grid_stride()) {
        const float xi = (float)__dadd_rn((double)x[i], __dmul_rn(alpha, (double)p[i]));
        const float ri = (float)__dadd_rn((double)r[i], __dmul_rn(alpha, (double)ap[i]));
        const float yi = cg_precondition(ri, m, i);
        x[i] = xi;
        r[i] = ri;
        y[i] = yi;
        ry = __dadd_rn(ry, __dmul_rn((double)ri, (double)yi));
        ph = __dadd_rn(ph, __dmul_rn((double)xi, __dsub_rn((double)ri, (double)b[i])));
    }
    cg_block_partial(ry, partial, 0);
    cg_block_partial(ph, partial, 1);
}

// The next search direction: p = −y + β·p (in f64, rounded to f32).
extern "C" __global__ void cg_direction(float* p, const float* y, double beta, i64 n) {
    for (i64 i = grid_start(); i < n; i += grid_stride()) {
        p[i] = (float)__dadd_rn(-(double)y[i], __dmul_rn(beta, (double)p[i]));
    }
}

// out[k] = Σ_b partial[k·blocks + b] for k < count, by one thread block in a
// fixed order (the second stage of every CG sum).
extern "C" __global__ void cg_finish(const double* partial, int blocks, int count, double* out) {
    for (int k = 0; k < count; ++k) {
        double s = 0.0;
        for (int b = threadIdx.x; b < blocks; b += blockDim.x) s = __dadd_rn(s, partial[(i64)k * blocks + b]);
        s = block_sum(s);
        if (threadIdx.x == 0) out[k] = s;
    }
}

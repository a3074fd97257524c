// Shared definitions of hessfree's CUDA kernels (compiled by NVRTC at run
// time; no system headers are available there).
//
// Matrices are column-major with one column per example: element (r, c) of a
// matrix with leading dimension `ld` lives at `m[r + c * ld]`. Indices are
// 64-bit so that `c * ld` cannot overflow for large data sets.
//
// Activation codes follow `Activation::code()`, loss codes `loss_code()` in
// `src/backend/cuda/mod.rs`.

#define ACT_LOGISTIC 0
#define ACT_TANH 1
#define ACT_LINEAR 2
#define ACT_RELU 3
#define ACT_SOFTMAX 4

#define LOSS_CROSS_ENTROPY 0
#define LOSS_SQUARED_ERROR 1
#define LOSS_SOFTMAX_CE 2

typedef long long i64;

// f(z) for element-wise activations (softmax has its own kernel).
__device__ __forceinline__ float act_apply(int act, float z) {
    switch (act) {
    case ACT_LOGISTIC: return 1.0f / (1.0f + expf(-z));
    case ACT_TANH: return tanhf(z);
    case ACT_RELU: return z > 0.0f ? z : 0.0f;
    default: return z;
    }
}

// f'(z) written in terms of the output a = f(z).
__device__ __forceinline__ float act_deriv(int act, float a) {
    switch (act) {
    case ACT_LOGISTIC: return a * (1.0f - a);
    case ACT_TANH: return 1.0f - a * a;
    case ACT_RELU: return a > 0.0f ? 1.0f : 0.0f;
    default: return 1.0f;
    }
}

// f''(z) written in terms of the output a = f(z).
__device__ __forceinline__ float act_second(int act, float a) {
    switch (act) {
    case ACT_LOGISTIC: return a * (1.0f - a) * (1.0f - 2.0f * a);
    case ACT_TANH: return -2.0f * a * (1.0f - a * a);
    default: return 0.0f;
    }
}

// Sum over a thread block (blockDim.x a multiple of 32, at most 1024) in a
// fixed order, so results are deterministic. Every thread gets the result.
template <typename T>
__device__ T block_sum(T v) {
    __shared__ T partial[32];
    __shared__ T result;
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    if (warp == 0) {
        const int warps = blockDim.x >> 5;
        v = lane < warps ? partial[lane] : T(0);
        for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
        if (lane == 0) result = v;
    }
    __syncthreads();
    const T r = result;
    __syncthreads();
    return r;
}

template <typename T>
__device__ __forceinline__ T larger(T a, T b) { return b > a ? b : a; }

// Maximum over a thread block; every thread gets the result.
template <typename T>
__device__ T block_max(T v) {
    __shared__ T partial[32];
    __shared__ T result;
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    for (int o = 16; o > 0; o >>= 1) v = larger(v, __shfl_down_sync(0xffffffffu, v, o));
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    if (warp == 0) {
        const int warps = blockDim.x >> 5;
        v = lane < warps ? partial[lane] : partial[0];
        for (int o = 16; o > 0; o >>= 1) v = larger(v, __shfl_down_sync(0xffffffffu, v, o));
        if (lane == 0) result = v;
    }
    __syncthreads();
    const T r = result;
    __syncthreads();
    return r;
}

// First element index and stride of a grid-stride loop.
__device__ __forceinline__ i64 grid_start() { return (i64)blockIdx.x * blockDim.x + threadIdx.x; }
__device__ __forceinline__ i64 grid_stride() { return (i64)gridDim.x * blockDim.x; }

// −∞ without <cmath> (unavailable under NVRTC).
#define NEG_INF_F __int_as_float(0xff800000)
#define NEG_INF_D __longlong_as_double(0xfff0000000000000LL)

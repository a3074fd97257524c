// Just enough of CUDA's device-side declarations for clang to parse,
// type-check and compile hessfree's NVRTC kernels to PTX without a CUDA
// toolkit (tests/cuda_kernels.rs). NVRTC provides all of these itself.
#define __global__ __attribute__((global))
#define __device__ __attribute__((device))
#define __shared__ __attribute__((shared))
#define __forceinline__ __inline__ __attribute__((always_inline))

struct __hf_dim3 {
    unsigned x, y, z;
};
extern const __device__ __hf_dim3 threadIdx, blockIdx, blockDim, gridDim;

__device__ void __syncthreads();
__device__ float __shfl_down_sync(unsigned mask, float v, unsigned delta);
__device__ double __shfl_down_sync(unsigned mask, double v, unsigned delta);
__device__ float __int_as_float(int);
__device__ double __longlong_as_double(long long);

// Correctly rounded arithmetic that the compiler may not contract.
__device__ float __fadd_rn(float, float);
__device__ float __fsub_rn(float, float);
__device__ float __fmul_rn(float, float);
__device__ float __fdiv_rn(float, float);
__device__ double __dadd_rn(double, double);
__device__ double __dsub_rn(double, double);
__device__ double __dmul_rn(double, double);

// Math functions (libdevice under NVRTC).
__device__ float expf(float);
__device__ double exp(double);
__device__ float logf(float);
__device__ double log(double);
__device__ double log1p(double);
__device__ float tanhf(float);
__device__ float fabsf(float);
__device__ double fabs(double);
__device__ float fmaxf(float, float);
__device__ double fmax(double, double);
__device__ float sqrtf(float);
__device__ double sqrt(double);

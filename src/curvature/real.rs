//! The floating-point types the numerical kernels run in.

use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView1, ArrayView2, ArrayViewMut2, LinalgScalar};
use num_traits::Float;

/// `f32` (storage and GEMMs in training) or `f64` (derivative checks).
pub trait Real: LinalgScalar + Float + Send + Sync + std::fmt::Debug + 'static {
    /// Converts from `f64`, rounding to nearest.
    fn of(x: f64) -> Self;
    /// Converts to `f64` exactly.
    fn f64(self) -> f64;
    /// Replaces every value `z` of `xs` by the logistic `1 / (1 + e^(−z))`.
    /// `f64` uses libm's `exp`; `f32` a vectorised exponential accurate to a
    /// few ulp (see `fastmath`).
    fn logistic_in_place(xs: &mut [Self]) {
        for v in xs.iter_mut() {
            *v = Self::one() / (Self::one() + (-*v).exp());
        }
    }
    /// `c = alpha·a·b + beta·c` (with `beta = 0`, `c` is not read).
    /// `f64` uses matrixmultiply through ndarray; `f32` the project's own
    /// AVX2/FMA kernel where the CPU has it (see `gemm`).
    fn gemm(
        alpha: Self,
        a: &ArrayView2<Self>,
        b: &ArrayView2<Self>,
        beta: Self,
        c: &mut ArrayViewMut2<Self>,
    ) {
        general_mat_mul(alpha, a, b, beta, c)
    }
    /// `c = a·b + 1·biasᵀ` (every row of `c` starts from `bias`; `c` is not
    /// read): the affine part of a layer.
    fn gemm_bias(
        a: &ArrayView2<Self>,
        b: &ArrayView2<Self>,
        bias: &ArrayView1<Self>,
        c: &mut ArrayViewMut2<Self>,
    ) {
        c.rows_mut().into_iter().for_each(|mut r| r.assign(bias));
        Self::gemm(Self::one(), a, b, Self::one(), c)
    }
    /// A `rows × cols` batch output that the caller overwrites in full
    /// before reading it: zeros for `f64`; for `f32` possibly a buffer a
    /// previous pass gave back (see `scratch`), with stale values.
    fn batch_output(rows: usize, cols: usize) -> Array2<Self> {
        Array2::zeros((rows, cols))
    }
    /// Hands a batch array whose values are no longer needed back for reuse
    /// by [`Real::batch_output`] (`f32`; `f64` just frees it).
    fn recycle(a: Array2<Self>) {
        drop(a)
    }
    /// `out[i] = log(1 + e^z[i])` in f64 for the elements both slices have.
    /// `f64` uses libm's `exp` and `log1p`; `f32` a vectorised version
    /// accurate to a few f64 ulp (see `fastmath`).
    fn softplus_into(z: &[Self], out: &mut [f64]) {
        for (o, &z) in out.iter_mut().zip(z) {
            let z = z.f64();
            *o = z.max(0.0) + (-z.abs()).exp().ln_1p();
        }
    }
}

impl Real for f32 {
    fn of(x: f64) -> Self {
        x as f32
    }
    fn f64(self) -> f64 {
        self as f64
    }
    fn logistic_in_place(xs: &mut [Self]) {
        super::fastmath::logistic_f32(xs)
    }
    fn softplus_into(z: &[Self], out: &mut [f64]) {
        super::fastmath::softplus_f32_to_f64(z, out)
    }
    fn gemm(
        alpha: Self,
        a: &ArrayView2<Self>,
        b: &ArrayView2<Self>,
        beta: Self,
        c: &mut ArrayViewMut2<Self>,
    ) {
        super::gemm::sgemm(alpha, a, b, beta, c)
    }
    fn gemm_bias(
        a: &ArrayView2<Self>,
        b: &ArrayView2<Self>,
        bias: &ArrayView1<Self>,
        c: &mut ArrayViewMut2<Self>,
    ) {
        super::gemm::sgemm_bias(a, b, bias, c)
    }
    fn batch_output(rows: usize, cols: usize) -> Array2<Self> {
        let buffer = super::scratch::take_for_overwrite(rows * cols);
        Array2::from_shape_vec((rows, cols), buffer).expect("a buffer of rows × cols floats")
    }
    fn recycle(a: Array2<Self>) {
        super::scratch::give(a.into_raw_vec_and_offset().0)
    }
}

impl Real for f64 {
    fn of(x: f64) -> Self {
        x
    }
    fn f64(self) -> f64 {
        self
    }
}

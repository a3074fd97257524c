//! The floating-point types the numerical kernels run in.

use ndarray::LinalgScalar;
use num_traits::Float;

/// `f32` (storage and GEMMs in training) or `f64` (derivative checks).
pub trait Real: LinalgScalar + Float + Send + Sync + std::fmt::Debug + 'static {
    /// Converts from `f64`, rounding to nearest.
    fn of(x: f64) -> Self;
    /// Converts to `f64` exactly.
    fn f64(self) -> f64;
}

impl Real for f32 {
    fn of(x: f64) -> Self {
        x as f32
    }
    fn f64(self) -> f64 {
        self as f64
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

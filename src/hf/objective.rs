//! The interface between the optimizer and what it trains.
//!
//! The HF optimizer only ever sees a flat `f32` parameter vector θ and an
//! [`Objective`]. Our feed-forward networks implement it (`net::NetObjective`),
//! and so can any host model (through the C ABI's callback objective) or a
//! plain test function such as Rosenbrock.

use crate::error::Result;
use crate::hf::cg::{CgOptions, CgResult, DampedSystem};

/// Which curvature matrix the CG solver multiplies by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CurvatureKind {
    /// The Gauss-Newton matrix `Jᵀ H_L J` (positive semi-definite; the default).
    GaussNewton,
    /// The exact Hessian of the objective (may be indefinite).
    Hessian,
    /// The empirical Fisher `mean_n g_n g_nᵀ` of per-example gradients.
    EmpiricalFisher,
}

/// A contiguous range of training examples used for curvature products.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chunk {
    /// Index of the first example.
    pub start: usize,
    /// Number of examples (at least 1).
    pub len: usize,
}

/// Objective value and the paper's reported error at one θ.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Metrics {
    /// The training objective (mean per-example loss plus regulariser).
    pub objective: f64,
    /// Table 2's "error" (mean per-example sum of squared reconstruction
    /// error) where the objective has such a notion, else `None`.
    pub error: Option<f64>,
}

/// Something the HF optimizer can minimise.
///
/// Conventions every implementation follows:
/// - The objective is a **mean over examples** plus any regulariser (e.g. the
///   weight cost `½·wc·‖θ‖²`), and the gradient and curvature products are
///   those of exactly that function. The optimizer adds only the damping `λ`.
/// - [`Objective::loss_and_gradient`] and [`Objective::loss`] work on the full
///   training set; curvature products work on the chunk fixed by the last
///   [`Objective::set_curvature_chunk`] call, at the θ given there.
/// - Errors (including host-callback failures) propagate as [`crate::Error`];
///   non-finite values are *returned*, not errors: the optimizer checks them.
pub trait Objective {
    /// Number of parameters P (the length of θ).
    fn num_params(&self) -> usize;

    /// Number of training examples N over which curvature chunks are taken
    /// (at least 1; an objective without examples returns 1).
    fn num_examples(&self) -> usize;

    /// Which curvature kinds [`Objective::set_curvature_chunk`] accepts.
    fn supports_curvature(&self, kind: CurvatureKind) -> bool;

    /// The full-batch objective f(θ).
    fn loss(&mut self, theta: &[f32]) -> Result<f64>;

    /// The full-batch objective f(θ); writes ∇f(θ) into `grad`, and, when
    /// `precond_stat` is given, the preconditioner statistic: the mean over
    /// examples of the per-example squared gradient plus the regulariser's
    /// diagonal curvature (e.g. `wc` on weight-cost-bearing entries).
    fn loss_and_gradient(
        &mut self,
        theta: &[f32],
        grad: &mut [f32],
        precond_stat: Option<&mut [f32]>,
    ) -> Result<f64>;

    /// Fixes the curvature chunk and point: caches what products at θ on
    /// `chunk` need (for networks, the chunk's activations).
    fn set_curvature_chunk(
        &mut self,
        theta: &[f32],
        chunk: Chunk,
        kind: CurvatureKind,
    ) -> Result<()>;

    /// `out = C·v` on the current chunk, C the curvature chosen in
    /// [`Objective::set_curvature_chunk`] (mean per example, regulariser
    /// included, no damping).
    fn curvature_product(&mut self, v: &[f32], out: &mut [f32]) -> Result<()>;

    /// The objective restricted to the current curvature chunk, at `theta`
    /// (used for the reduction ratio ρ).
    fn chunk_loss(&mut self, theta: &[f32]) -> Result<f64>;

    /// Objective and error on the full training set (for reports).
    fn train_metrics(&mut self, theta: &[f32]) -> Result<Metrics> {
        Ok(Metrics {
            objective: self.loss(theta)?,
            error: None,
        })
    }

    /// Objective and error on a held-out test set, if the objective has one.
    fn test_metrics(&mut self, _theta: &[f32]) -> Result<Option<Metrics>> {
        Ok(None)
    }

    /// Solves `system` by CG from `x0` under `opts` where this objective's
    /// curvature products run, when that is somewhere other than host memory
    /// (the CUDA backend keeps CG's vectors on the GPU, so only scalars cross
    /// per CG iteration). `Ok(None)`, the default, means "not offered": the
    /// optimizer then runs CG on the host through
    /// [`Objective::curvature_product`]. An implementation computes what the
    /// host solver would, up to its own summation order.
    fn solve_damped(
        &mut self,
        _system: &DampedSystem<'_>,
        _x0: &[f32],
        _opts: &CgOptions,
    ) -> Result<Option<CgResult>> {
        Ok(None)
    }

    /// What [`Objective::train_metrics`] would return at `theta`, when that
    /// is known without a new pass (for example because [`Objective::loss`]
    /// has just evaluated `theta`), bit for bit; `None` otherwise (the
    /// default). The session asks before computing the metrics of its report.
    fn known_train_metrics(&mut self, _theta: &[f32]) -> Option<Metrics> {
        None
    }
}

/// A boxed objective is an objective (so sessions can hold `Box<dyn Objective>`).
impl<O: Objective + ?Sized> Objective for Box<O> {
    fn num_params(&self) -> usize {
        (**self).num_params()
    }
    fn num_examples(&self) -> usize {
        (**self).num_examples()
    }
    fn supports_curvature(&self, kind: CurvatureKind) -> bool {
        (**self).supports_curvature(kind)
    }
    fn loss(&mut self, theta: &[f32]) -> Result<f64> {
        (**self).loss(theta)
    }
    fn loss_and_gradient(
        &mut self,
        theta: &[f32],
        grad: &mut [f32],
        precond_stat: Option<&mut [f32]>,
    ) -> Result<f64> {
        (**self).loss_and_gradient(theta, grad, precond_stat)
    }
    fn set_curvature_chunk(
        &mut self,
        theta: &[f32],
        chunk: Chunk,
        kind: CurvatureKind,
    ) -> Result<()> {
        (**self).set_curvature_chunk(theta, chunk, kind)
    }
    fn curvature_product(&mut self, v: &[f32], out: &mut [f32]) -> Result<()> {
        (**self).curvature_product(v, out)
    }
    fn chunk_loss(&mut self, theta: &[f32]) -> Result<f64> {
        (**self).chunk_loss(theta)
    }
    fn train_metrics(&mut self, theta: &[f32]) -> Result<Metrics> {
        (**self).train_metrics(theta)
    }
    fn test_metrics(&mut self, theta: &[f32]) -> Result<Option<Metrics>> {
        (**self).test_metrics(theta)
    }
    fn solve_damped(
        &mut self,
        system: &DampedSystem<'_>,
        x0: &[f32],
        opts: &CgOptions,
    ) -> Result<Option<CgResult>> {
        (**self).solve_damped(system, x0, opts)
    }
    fn known_train_metrics(&mut self, theta: &[f32]) -> Option<Metrics> {
        (**self).known_train_metrics(theta)
    }
}

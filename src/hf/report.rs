//! Per-iteration reports and the final summary of a run: plain data that the
//! C ABI copies into its own structs, with text renderings for logs.

use crate::hf::cg::CgStop;

/// Why an HF step was rejected (θ left unchanged).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RejectReason {
    /// The full-batch objective or gradient at θ was NaN/Inf.
    NonFiniteGradient,
    /// The preconditioner statistic was NaN/Inf or negative.
    NonFinitePreconditioner,
    /// CG met a NaN/Inf scalar (curvature products, α, β or φ).
    NonFiniteCurvature,
    /// Every candidate step gave a NaN/Inf full objective.
    NonFiniteCandidate,
    /// The chunk objective at θ was NaN/Inf (ρ cannot be formed).
    NonFiniteChunkLoss,
    /// The line search accepted no rate (not a non-finite failure).
    LineSearchFailed,
}

impl RejectReason {
    /// Whether the rejection was caused by NaN/Inf (these count towards
    /// `max_rejected_in_row`).
    pub fn is_non_finite(self) -> bool {
        !matches!(self, RejectReason::LineSearchFailed)
    }

    /// A human-readable description.
    pub fn text(self) -> &'static str {
        match self {
            RejectReason::NonFiniteGradient => "objective or gradient at theta is NaN/Inf",
            RejectReason::NonFinitePreconditioner => "preconditioner statistic is NaN/Inf",
            RejectReason::NonFiniteCurvature => "CG met NaN/Inf (curvature product or CG scalar)",
            RejectReason::NonFiniteCandidate => "every candidate step gives a NaN/Inf objective",
            RejectReason::NonFiniteChunkLoss => "chunk objective at theta is NaN/Inf",
            RejectReason::LineSearchFailed => "line search accepted no rate",
        }
    }
}

/// What one HF iteration did.
#[derive(Clone, Debug, PartialEq)]
pub struct IterationReport {
    /// The session's iteration count after this step (1-based).
    pub iteration: u64,
    /// Training objective at the (new) θ.
    pub objective: f64,
    /// Training error at θ, if the objective defines one.
    pub train_error: Option<f64>,
    /// Test objective, if the objective has a test set.
    pub test_objective: Option<f64>,
    /// Test error, if the objective has a test set and an error.
    pub test_error: Option<f64>,
    /// CG iterations this HF iteration.
    pub cg_iterations: u64,
    /// CG iterations over the whole session.
    pub cg_iterations_total: u64,
    /// CG iteration number of the iterate chosen by backtracking.
    pub cg_chosen: u64,
    /// Why CG stopped (`None` when the step was rejected before CG).
    pub cg_stop: Option<CgStop>,
    /// Reduction ratio ρ on the curvature chunk (NaN when not computed).
    pub rho: f64,
    /// λ after this iteration's update.
    pub lambda: f64,
    /// Line-search shrinks (0 when rate 1 was accepted).
    pub ls_shrinks: u64,
    /// The accepted rate (0 when the step was rejected).
    pub ls_rate: f64,
    /// Euclidean norm of the chosen (backtracked) CG direction p.
    pub p_norm: f64,
    /// Whether the step was rejected (θ unchanged).
    pub rejected: bool,
    /// Why, when rejected.
    pub reject_reason: Option<RejectReason>,
    /// Wall-clock seconds this iteration took.
    pub wall_seconds: f64,
    /// Session wall-clock seconds so far (accumulated across resumes).
    pub total_seconds: f64,
    /// Curvature products this iteration (CG plus the one for ρ).
    pub products: u64,
    /// Curvature products over the whole session.
    pub products_total: u64,
    /// Full-batch objective evaluations this iteration (gradient pass included).
    pub evaluations: u64,
    /// First example of the curvature chunk.
    pub chunk_start: u64,
    /// Examples in the curvature chunk.
    pub chunk_len: u64,
}

/// Six significant digits, switching to exponent form for tiny or huge values.
fn num(x: f64) -> String {
    let a = x.abs();
    if a == 0.0 || (1e-3..1e6).contains(&a) || !x.is_finite() {
        format!("{x:.6}")
    } else {
        format!("{x:.5e}")
    }
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), num)
}

impl IterationReport {
    /// One line in the spirit of HFDemo's printout.
    pub fn log_line(&self) -> String {
        let cg = self.cg_stop.map_or("-", CgStop::name);
        let mut line = format!(
            "iter {}: obj {} err {} test {} | CG {} (total {}) chose {} [{}] | rho {:.4} lambda {:.4e} | rate {} ({} shrinks) |p| {:.4e} | {} products | {:.2}s",
            self.iteration,
            num(self.objective),
            opt(self.train_error),
            opt(self.test_error),
            self.cg_iterations,
            self.cg_iterations_total,
            self.cg_chosen,
            cg,
            self.rho,
            self.lambda,
            self.ls_rate,
            self.ls_shrinks,
            self.p_norm,
            self.products,
            self.wall_seconds,
        );
        if let Some(reason) = self.reject_reason {
            line.push_str(&format!(" | REJECTED: {}", reason.text()));
        }
        line
    }
}

/// Why a run stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Termination {
    /// `max_iters` reached.
    MaxIterations,
    /// `max_seconds` reached.
    MaxSeconds,
    /// The training error reached `target_error`.
    TargetError,
    /// The training objective reached `target_objective`.
    TargetObjective,
    /// No new best objective for `no_progress_iters` iterations.
    NoProgress,
    /// A stop was requested through a [`crate::hf::StopHandle`].
    StopRequested,
    /// The progress callback asked to stop.
    CallbackStop,
    /// `max_rejected_in_row` steps in a row were rejected for NaN/Inf.
    TooManyRejected,
}

impl Termination {
    /// A human-readable description.
    pub fn text(self) -> &'static str {
        match self {
            Termination::MaxIterations => "maximum number of iterations reached",
            Termination::MaxSeconds => "time limit reached",
            Termination::TargetError => "target training error reached",
            Termination::TargetObjective => "target training objective reached",
            Termination::NoProgress => "no progress in the objective",
            Termination::StopRequested => "stop requested",
            Termination::CallbackStop => "progress callback asked to stop",
            Termination::TooManyRejected => "too many steps in a row rejected for NaN/Inf",
        }
    }
}

/// The result of [`crate::hf::Session::run`].
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Why the run stopped.
    pub termination: Termination,
    /// Iterations done by this call to `run`.
    pub iterations: u64,
    /// The session's total iteration count.
    pub iterations_total: u64,
    /// Steps rejected during this run.
    pub rejected: u64,
    /// CG iterations over the session.
    pub cg_iterations_total: u64,
    /// Curvature products over the session.
    pub products_total: u64,
    /// Full-batch objective evaluations over the session.
    pub evaluations_total: u64,
    /// Training objective at the final θ (NaN if the session has not yet
    /// completed a step since it was created or resumed).
    pub final_objective: f64,
    /// Training error at the final θ, if defined.
    pub final_train_error: Option<f64>,
    /// Test error at the final θ, if there is a test set.
    pub final_test_error: Option<f64>,
    /// Final λ.
    pub final_lambda: f64,
    /// Wall-clock seconds of this run.
    pub wall_seconds: f64,
    /// Session wall-clock seconds (accumulated across resumes).
    pub total_seconds: f64,
}

impl Summary {
    /// A one-line summary.
    pub fn brief(&self) -> String {
        format!(
            "HF stopped: {} after {} iterations (objective {}, train error {}, test error {}, {:.1}s)",
            self.termination.text(),
            self.iterations,
            num(self.final_objective),
            opt(self.final_train_error),
            opt(self.final_test_error),
            self.wall_seconds
        )
    }

    /// A multi-line report with every total.
    pub fn full(&self) -> String {
        format!(
            "HF summary\n  termination:          {}\n  iterations (run):     {}\n  iterations (session): {}\n  rejected steps:       {}\n  CG iterations:        {}\n  curvature products:   {}\n  objective evaluations: {}\n  final objective:      {}\n  final train error:    {}\n  final test error:     {}\n  final lambda:         {:.6e}\n  wall time (run):      {:.3} s\n  wall time (session):  {:.3} s\n",
            self.termination.text(),
            self.iterations,
            self.iterations_total,
            self.rejected,
            self.cg_iterations_total,
            self.products_total,
            self.evaluations_total,
            num(self.final_objective),
            opt(self.final_train_error),
            opt(self.final_test_error),
            self.final_lambda,
            self.wall_seconds,
            self.total_seconds
        )
    }
}

//! First-order baselines: minibatch SGD with classical or Nesterov momentum,
//! and Adam, over the same objectives the HF optimizer trains.
//!
//! They exist so that HF can be compared honestly with what a user would
//! otherwise pick, on the same backend and the same objective (loss plus
//! weight cost). A first-order method needs gradients of minibatches, which
//! the HF [`Objective`] does not offer; [`MinibatchObjective`] adds exactly
//! that one method (the network objective implements it through
//! [`crate::backend::Backend::evaluate_range`]).
//!
//! Minibatches are contiguous row ranges `start..start+batch_size` of the
//! training set (the last one may be shorter). Each epoch visits every range
//! once, in a seeded random order, so callers that want examples mixed
//! across minibatches shuffle the data once up front
//! ([`crate::data::Dataset::shuffled`]). Runs are deterministic per seed.
//!
//! Cost is counted in **passes over the data**: examples whose gradient was
//! computed, divided by N. The full-batch pass that produces each epoch's
//! report is not counted (it is reporting, not training).

use std::time::Instant;

use crate::error::{Error, Result};
use crate::hf::{Control, Metrics, Objective};
use crate::rng::Rng;

/// An [`Objective`] that can also give the gradient of a minibatch.
pub trait MinibatchObjective: Objective {
    /// The objective restricted to the examples `start..start+len`: their
    /// mean loss plus the whole regulariser (so that its expectation over
    /// random minibatches is the full objective). Writes its gradient into
    /// `grad` (length [`Objective::num_params`]). An empty or out-of-range
    /// row range is an error; NaN/Inf values are returned, not errors.
    fn minibatch_loss_and_gradient(
        &mut self,
        theta: &[f32],
        start: usize,
        len: usize,
        grad: &mut [f32],
    ) -> Result<f64>;
}

/// A boxed minibatch objective is a minibatch objective.
impl<O: MinibatchObjective + ?Sized> MinibatchObjective for Box<O> {
    fn minibatch_loss_and_gradient(
        &mut self,
        theta: &[f32],
        start: usize,
        len: usize,
        grad: &mut [f32],
    ) -> Result<f64> {
        (**self).minibatch_loss_and_gradient(theta, start, len, grad)
    }
}

/// The update rule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Method {
    /// SGD with momentum μ: `v ← μ·v − η·g; θ ← θ + v` (classical), or with
    /// `nesterov` the look-ahead form `θ ← θ + μ·v − η·g` after the same
    /// velocity update (Sutskever et al. 2013, written for the gradient at
    /// the current θ). μ = 0 is plain SGD.
    Sgd {
        /// Momentum μ in [0, 1). Default 0.9.
        momentum: f64,
        /// Nesterov's accelerated gradient instead of classical momentum.
        nesterov: bool,
    },
    /// Adam (Kingma & Ba 2015) with bias correction:
    /// `m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²;
    /// θ ← θ − η·m̂/(√v̂ + ε)`.
    Adam {
        /// Decay of the first moment, in [0, 1). Default 0.9.
        beta1: f64,
        /// Decay of the second moment, in [0, 1). Default 0.999.
        beta2: f64,
        /// Added to √v̂ to avoid division by zero (> 0). Default 1e-8.
        epsilon: f64,
    },
}

impl Method {
    /// A short name for reports (`"sgd"`, `"nesterov"`, `"adam"`).
    pub fn name(&self) -> &'static str {
        match self {
            Method::Sgd {
                nesterov: false, ..
            } => "sgd",
            Method::Sgd { nesterov: true, .. } => "nesterov",
            Method::Adam { .. } => "adam",
        }
    }
}

/// Options of a first-order run. Construct with [`FirstOrderConfig::sgd`],
/// [`FirstOrderConfig::nesterov`] or [`FirstOrderConfig::adam`] and adjust
/// fields; [`Default`] is [`FirstOrderConfig::sgd`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FirstOrderConfig {
    /// The update rule and its constants.
    pub method: Method,
    /// Step size η (> 0). Default 0.01 for SGD, 1e-3 for Adam.
    pub learning_rate: f64,
    /// Examples per minibatch (≥ 1; clipped to N). Default 100.
    pub batch_size: usize,
    /// Stop after this many epochs (0 = no limit). Default 10.
    pub max_epochs: u64,
    /// Stop once this many passes over the data have been spent on gradients
    /// (0 = no limit). Checked before each step, so the last epoch may end
    /// early and the total may exceed the budget by less than one minibatch.
    pub max_passes: f64,
    /// Stop once the training error (where the objective defines one) at an
    /// epoch's end is ≤ this. Default `None`.
    pub target_error: Option<f64>,
    /// Stop once this many seconds have been spent in training (0 = no limit;
    /// not deterministic). Default 0.
    pub max_seconds: f64,
    /// Visit the minibatches of each epoch in a seeded random order (else in
    /// data order). Default true.
    pub shuffle_batches: bool,
    /// Seed of the minibatch order. Default 0.
    pub seed: u64,
}

impl Default for FirstOrderConfig {
    fn default() -> Self {
        FirstOrderConfig::sgd()
    }
}

impl FirstOrderConfig {
    /// SGD with classical momentum 0.9, learning rate 0.01, batches of 100,
    /// 10 epochs, shuffled batch order, seed 0.
    pub fn sgd() -> Self {
        FirstOrderConfig {
            method: Method::Sgd {
                momentum: 0.9,
                nesterov: false,
            },
            learning_rate: 0.01,
            batch_size: 100,
            max_epochs: 10,
            max_passes: 0.0,
            target_error: None,
            max_seconds: 0.0,
            shuffle_batches: true,
            seed: 0,
        }
    }

    /// As [`FirstOrderConfig::sgd`] with Nesterov momentum.
    pub fn nesterov() -> Self {
        FirstOrderConfig {
            method: Method::Sgd {
                momentum: 0.9,
                nesterov: true,
            },
            ..FirstOrderConfig::sgd()
        }
    }

    /// Adam with β₁ = 0.9, β₂ = 0.999, ε = 1e-8, learning rate 1e-3, the
    /// rest as [`FirstOrderConfig::sgd`].
    pub fn adam() -> Self {
        FirstOrderConfig {
            method: Method::Adam {
                beta1: 0.9,
                beta2: 0.999,
                epsilon: 1e-8,
            },
            learning_rate: 1e-3,
            ..FirstOrderConfig::sgd()
        }
    }

    /// Checks every option's range; the error names the option and its range.
    pub fn validate(&self) -> Result<()> {
        let unit = |name: &str, x: f64| -> Result<()> {
            if (0.0..1.0).contains(&x) {
                Ok(())
            } else {
                Err(Error::out_of_range(format!("{name} must lie in [0, 1), got {x}")))
            }
        };
        match self.method {
            Method::Sgd { momentum, .. } => unit("momentum", momentum)?,
            Method::Adam {
                beta1,
                beta2,
                epsilon,
            } => {
                unit("beta1", beta1)?;
                unit("beta2", beta2)?;
                positive("epsilon", epsilon)?;
            }
        }
        positive("learning_rate", self.learning_rate)?;
        if self.batch_size == 0 {
            return Err(Error::out_of_range("batch_size must be at least 1, got 0"));
        }
        non_negative("max_passes", self.max_passes)?;
        non_negative("max_seconds", self.max_seconds)?;
        if let Some(t) = self.target_error.filter(|t| t.is_nan()) {
            return Err(Error::out_of_range(format!(
                "target_error must be a number (or None), got {t}"
            )));
        }
        Ok(())
    }
}

fn positive(name: &str, x: f64) -> Result<()> {
    if x.is_finite() && x > 0.0 {
        Ok(())
    } else {
        Err(Error::out_of_range(format!(
            "{name} must be finite and > 0, got {x}"
        )))
    }
}

fn non_negative(name: &str, x: f64) -> Result<()> {
    if x.is_finite() && x >= 0.0 {
        Ok(())
    } else {
        Err(Error::out_of_range(format!(
            "{name} must be finite and ≥ 0 (0 = no limit), got {x}"
        )))
    }
}

/// Where a run met NaN/Inf. θ and the optimizer state are those from before
/// the offending step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NonFiniteAt {
    /// The epoch (1-based) in which it happened.
    pub epoch: u64,
    /// The step (1-based, over the whole run) that was refused; 0 when the
    /// epoch-end full-batch objective was non-finite.
    pub step: u64,
    /// First example of the minibatch (0 for the full-batch objective).
    pub start: usize,
    /// Examples in the minibatch (N for the full-batch objective).
    pub len: usize,
    /// What was non-finite.
    pub what: NonFiniteWhat,
}

/// Which quantity was NaN/Inf.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NonFiniteWhat {
    /// The minibatch loss or gradient.
    Gradient,
    /// The updated parameters or optimizer state (the step overflowed).
    Update,
    /// The full-batch objective at the epoch's end.
    Objective,
}

impl NonFiniteAt {
    /// A human-readable description.
    pub fn text(&self) -> String {
        let what = match self.what {
            NonFiniteWhat::Gradient => "minibatch loss or gradient",
            NonFiniteWhat::Update => "parameter update",
            NonFiniteWhat::Objective => "full-batch objective",
        };
        format!(
            "{what} became NaN/Inf in epoch {}, step {}, examples {}..{}",
            self.epoch,
            self.step,
            self.start,
            self.start + self.len
        )
    }
}

/// What one epoch did (the last epoch of a run may be partial).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochReport {
    /// Epochs started so far (1-based).
    pub epoch: u64,
    /// Minibatch steps taken in this epoch.
    pub steps: u64,
    /// Minibatch steps over the run so far.
    pub steps_total: u64,
    /// Passes over the data spent on gradients so far (examples / N).
    pub passes: f64,
    /// Full training objective at θ after the epoch.
    pub objective: f64,
    /// Training error at θ after the epoch, if the objective defines one.
    pub train_error: Option<f64>,
    /// Seconds spent in this epoch (including the report's full pass).
    pub wall_seconds: f64,
    /// Seconds spent in all epochs so far.
    pub total_seconds: f64,
    /// Set when the epoch stopped at a NaN/Inf.
    pub non_finite: Option<NonFiniteAt>,
}

impl EpochReport {
    /// One log line.
    pub fn log_line(&self) -> String {
        let error = self
            .train_error
            .map_or("-".to_string(), |e| format!("{e:.6}"));
        let mut line = format!(
            "epoch {:4}  passes {:8.2}  objective {:.6}  train error {}  {:.2}s",
            self.epoch, self.passes, self.objective, error, self.total_seconds
        );
        if let Some(at) = self.non_finite {
            line.push_str("  STOPPED: ");
            line.push_str(&at.text());
        }
        line
    }
}

/// Why a first-order run stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Termination {
    /// `max_epochs` epochs were completed.
    MaxEpochs,
    /// `max_passes` passes over the data were spent.
    MaxPasses,
    /// The training error reached `target_error`.
    TargetError,
    /// `max_seconds` were spent.
    MaxSeconds,
    /// The per-epoch callback asked to stop.
    CallbackStop,
    /// NaN/Inf appeared (see [`Summary::non_finite`]); θ is the last finite one.
    NonFinite,
}

impl Termination {
    /// A human-readable description.
    pub fn text(self) -> &'static str {
        match self {
            Termination::MaxEpochs => "maximum number of epochs reached",
            Termination::MaxPasses => "budget of passes over the data spent",
            Termination::TargetError => "target training error reached",
            Termination::MaxSeconds => "time limit reached",
            Termination::CallbackStop => "progress callback asked to stop",
            Termination::NonFinite => "NaN/Inf met; parameters kept at the last finite step",
        }
    }
}

/// The result of [`FirstOrder::run`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    /// The update rule's name.
    pub method: &'static str,
    /// Why the run stopped.
    pub termination: Termination,
    /// Epochs started (the last may be partial).
    pub epochs: u64,
    /// Minibatch steps taken.
    pub steps: u64,
    /// Passes over the data spent on gradients.
    pub passes: f64,
    /// Training objective at the final θ (NaN when no epoch ran).
    pub final_objective: f64,
    /// Training error at the final θ, if defined.
    pub final_train_error: Option<f64>,
    /// Where NaN/Inf appeared, if it did.
    pub non_finite: Option<NonFiniteAt>,
    /// Seconds spent in epochs.
    pub total_seconds: f64,
}

impl Summary {
    /// A one-line summary.
    pub fn brief(&self) -> String {
        let error = self
            .final_train_error
            .map_or("-".to_string(), |e| format!("{e:.6}"));
        let mut line = format!(
            "{} stopped: {} after {} epochs, {} steps, {:.2} passes (objective {:.6}, train error {}, {:.1}s)",
            self.method,
            self.termination.text(),
            self.epochs,
            self.steps,
            self.passes,
            self.final_objective,
            error,
            self.total_seconds
        );
        if let Some(at) = self.non_finite {
            line.push_str(": ");
            line.push_str(&at.text());
        }
        line
    }
}

/// The per-method state: velocity for SGD, moments for Adam, and scratch
/// buffers so that a step is committed only when everything is finite.
#[derive(Clone, Debug)]
enum State {
    Sgd {
        velocity: Vec<f32>,
        next_velocity: Vec<f32>,
    },
    Adam {
        m: Vec<f32>,
        v: Vec<f32>,
        next_m: Vec<f32>,
        next_v: Vec<f32>,
    },
}

impl State {
    fn new(method: Method, p: usize) -> Self {
        match method {
            Method::Sgd { .. } => State::Sgd {
                velocity: vec![0.0; p],
                next_velocity: vec![0.0; p],
            },
            Method::Adam { .. } => State::Adam {
                m: vec![0.0; p],
                v: vec![0.0; p],
                next_m: vec![0.0; p],
                next_v: vec![0.0; p],
            },
        }
    }

    /// Writes the updated θ into `next_theta` and the updated state into the
    /// scratch buffers; `t` is the 1-based step number. Returns whether
    /// everything written is finite.
    fn propose(
        &mut self,
        method: Method,
        lr: f64,
        t: u64,
        theta: &[f32],
        grad: &[f32],
        next_theta: &mut [f32],
    ) -> bool {
        let mut finite = true;
        match (self, method) {
            (
                State::Sgd {
                    velocity,
                    next_velocity,
                },
                Method::Sgd { momentum, nesterov },
            ) => {
                let items = theta.iter().zip(grad).zip(velocity.iter());
                for (((th, g), v), (nt, nv)) in items.zip(next_theta.iter_mut().zip(next_velocity))
                {
                    let step = -lr * *g as f64;
                    let v_new = momentum * *v as f64 + step;
                    // Classical: θ + v_new. Nesterov: θ + μ·v_new − η·g.
                    let delta = if nesterov {
                        momentum * v_new + step
                    } else {
                        v_new
                    };
                    *nv = v_new as f32;
                    *nt = (*th as f64 + delta) as f32;
                    finite &= nt.is_finite() && nv.is_finite();
                }
            }
            (
                State::Adam {
                    m,
                    v,
                    next_m,
                    next_v,
                },
                Method::Adam {
                    beta1,
                    beta2,
                    epsilon,
                },
            ) => {
                let exponent = i32::try_from(t).unwrap_or(i32::MAX);
                let c1 = 1.0 - beta1.powi(exponent);
                let c2 = 1.0 - beta2.powi(exponent);
                let olds = theta.iter().zip(grad).zip(m.iter().zip(v.iter()));
                let news = next_theta.iter_mut().zip(next_m.iter_mut().zip(next_v));
                for (((th, g), (mi, vi)), (nt, (nm, nv))) in olds.zip(news) {
                    let g = *g as f64;
                    let m_new = beta1 * *mi as f64 + (1.0 - beta1) * g;
                    let v_new = beta2 * *vi as f64 + (1.0 - beta2) * g * g;
                    let delta = -lr * (m_new / c1) / ((v_new / c2).sqrt() + epsilon);
                    *nm = m_new as f32;
                    *nv = v_new as f32;
                    *nt = (*th as f64 + delta) as f32;
                    finite &= nt.is_finite() && nm.is_finite() && nv.is_finite();
                }
            }
            // `State::new` pairs each method with its own state.
            _ => return false,
        }
        finite
    }

    /// Makes the proposed state current.
    fn commit(&mut self) {
        match self {
            State::Sgd {
                velocity,
                next_velocity,
            } => std::mem::swap(velocity, next_velocity),
            State::Adam {
                m,
                v,
                next_m,
                next_v,
            } => {
                std::mem::swap(m, next_m);
                std::mem::swap(v, next_v);
            }
        }
    }
}

/// A first-order optimisation of a [`MinibatchObjective`]: θ, the method's
/// state, the minibatch order's random state and the counters.
pub struct FirstOrder<O: MinibatchObjective> {
    objective: O,
    config: FirstOrderConfig,
    theta: Vec<f32>,
    next_theta: Vec<f32>,
    grad: Vec<f32>,
    state: State,
    rng: Rng,
    epoch: u64,
    steps: u64,
    gradient_examples: u64,
    seconds: f64,
    last_metrics: Option<Metrics>,
}

/// How an epoch's minibatch loop ended.
enum LoopEnd {
    Complete,
    Budget(Termination),
    NonFinite(NonFiniteAt),
}

impl<O: MinibatchObjective> FirstOrder<O> {
    /// Starts a run at `theta0` (copied). Checks the configuration and the
    /// length and finiteness of θ.
    pub fn new(objective: O, theta0: &[f32], config: FirstOrderConfig) -> Result<Self> {
        config.validate()?;
        let p = objective.num_params();
        if theta0.len() != p {
            return Err(Error::shape(format!(
                "theta0 has {} entries, the objective has {p} parameters",
                theta0.len()
            )));
        }
        if let Some(i) = theta0.iter().position(|x| !x.is_finite()) {
            return Err(Error::non_finite(format!(
                "theta0[{i}] = {} is not finite",
                theta0[i]
            )));
        }
        if objective.num_examples() == 0 {
            return Err(Error::invalid("the objective has no training examples"));
        }
        Ok(FirstOrder {
            state: State::new(config.method, p),
            rng: Rng::new(config.seed),
            objective,
            config,
            theta: theta0.to_vec(),
            next_theta: vec![0.0; p],
            grad: vec![0.0; p],
            epoch: 0,
            steps: 0,
            gradient_examples: 0,
            seconds: 0.0,
            last_metrics: None,
        })
    }

    /// The current parameters.
    pub fn theta(&self) -> &[f32] {
        &self.theta
    }

    /// The configuration.
    pub fn config(&self) -> &FirstOrderConfig {
        &self.config
    }

    /// The objective.
    pub fn objective(&self) -> &O {
        &self.objective
    }

    /// The objective, mutably.
    pub fn objective_mut(&mut self) -> &mut O {
        &mut self.objective
    }

    /// The objective and the final θ.
    pub fn into_parts(self) -> (O, Vec<f32>) {
        (self.objective, self.theta)
    }

    /// Epochs started so far.
    pub fn epochs(&self) -> u64 {
        self.epoch
    }

    /// Minibatch steps taken so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Passes over the data spent on gradients so far (examples / N).
    pub fn passes(&self) -> f64 {
        self.gradient_examples as f64 / self.objective.num_examples() as f64
    }

    /// Seconds spent in epochs so far.
    pub fn seconds(&self) -> f64 {
        self.seconds
    }

    /// The starts of the minibatches of the next epoch, in visiting order.
    fn batch_starts(&mut self, n: usize, batch: usize) -> Vec<usize> {
        let mut starts: Vec<usize> = (0..n).step_by(batch).collect();
        if self.config.shuffle_batches {
            self.rng.shuffle(&mut starts);
        }
        starts
    }

    /// The stop condition that holds before the next step, if any.
    fn budget_spent(&self, started: Instant) -> Option<Termination> {
        let c = &self.config;
        let n = self.objective.num_examples() as f64;
        if c.max_passes > 0.0 && self.gradient_examples as f64 >= c.max_passes * n {
            return Some(Termination::MaxPasses);
        }
        if c.max_seconds > 0.0 && self.seconds + started.elapsed().as_secs_f64() >= c.max_seconds
        {
            return Some(Termination::MaxSeconds);
        }
        None
    }

    /// One minibatch step on `start..start+len`; commits θ and the state only
    /// when the gradient and the update are finite.
    fn step(&mut self, start: usize, len: usize) -> Result<Option<NonFiniteWhat>> {
        let loss =
            self.objective
                .minibatch_loss_and_gradient(&self.theta, start, len, &mut self.grad)?;
        self.gradient_examples += len as u64;
        if !loss.is_finite() || self.grad.iter().any(|g| !g.is_finite()) {
            return Ok(Some(NonFiniteWhat::Gradient));
        }
        let t = self.steps + 1;
        let finite = self.state.propose(
            self.config.method,
            self.config.learning_rate,
            t,
            &self.theta,
            &self.grad,
            &mut self.next_theta,
        );
        if !finite {
            return Ok(Some(NonFiniteWhat::Update));
        }
        self.state.commit();
        std::mem::swap(&mut self.theta, &mut self.next_theta);
        self.steps = t;
        Ok(None)
    }

    /// The minibatch steps of one epoch, until the epoch is done, a budget is
    /// spent or a step meets NaN/Inf. Returns the steps taken and why it ended.
    fn epoch_steps(&mut self, started: Instant) -> Result<(u64, LoopEnd)> {
        let n = self.objective.num_examples();
        let batch = self.config.batch_size.min(n);
        let mut steps = 0;
        for start in self.batch_starts(n, batch) {
            if let Some(t) = self.budget_spent(started) {
                return Ok((steps, LoopEnd::Budget(t)));
            }
            let len = batch.min(n - start);
            if let Some(what) = self.step(start, len)? {
                let at = NonFiniteAt {
                    epoch: self.epoch,
                    step: self.steps + 1,
                    start,
                    len,
                    what,
                };
                return Ok((steps, LoopEnd::NonFinite(at)));
            }
            steps += 1;
        }
        Ok((steps, LoopEnd::Complete))
    }

    /// Runs one epoch (every minibatch once, in the seeded order) and the
    /// full-batch pass for its report. The epoch ends early when `max_passes`
    /// or `max_seconds` is spent or a step meets NaN/Inf (then θ and the
    /// state are those before that step and the report says where).
    pub fn run_epoch(&mut self) -> Result<EpochReport> {
        Ok(self.epoch_with_end()?.0)
    }

    fn epoch_with_end(&mut self) -> Result<(EpochReport, Option<Termination>)> {
        let started = Instant::now();
        self.epoch += 1;
        let (steps, end) = self.epoch_steps(started)?;
        let metrics = self.objective.train_metrics(&self.theta)?;
        self.last_metrics = Some(metrics);
        let wall = started.elapsed().as_secs_f64();
        self.seconds += wall;
        let (stop, non_finite) = match end {
            LoopEnd::NonFinite(at) => (Some(Termination::NonFinite), Some(at)),
            // A finite last step can still give an overflowing full objective.
            _ if !metrics.objective.is_finite() => {
                let at = NonFiniteAt {
                    epoch: self.epoch,
                    step: 0,
                    start: 0,
                    len: self.objective.num_examples(),
                    what: NonFiniteWhat::Objective,
                };
                (Some(Termination::NonFinite), Some(at))
            }
            LoopEnd::Budget(t) => (Some(t), None),
            LoopEnd::Complete => (None, None),
        };
        let report = EpochReport {
            epoch: self.epoch,
            steps,
            steps_total: self.steps,
            passes: self.passes(),
            objective: metrics.objective,
            train_error: metrics.error,
            wall_seconds: wall,
            total_seconds: self.seconds,
            non_finite,
        };
        Ok((report, stop))
    }

    /// Runs epochs until a stop condition: `max_epochs` (counted over the
    /// whole run, across calls), `max_passes`, `max_seconds`, `target_error`,
    /// NaN/Inf, or the callback returning [`Control::Stop`]. The callback sees
    /// every epoch's report. Errors from the objective are returned as `Err`.
    pub fn run<F: FnMut(&EpochReport) -> Control>(&mut self, mut callback: F) -> Result<Summary> {
        let mut non_finite = None;
        let termination = loop {
            if self.config.max_epochs > 0 && self.epoch >= self.config.max_epochs {
                break Termination::MaxEpochs;
            }
            let (report, stop) = self.epoch_with_end()?;
            let control = callback(&report);
            if let Some(t) = stop {
                non_finite = report.non_finite;
                break t;
            }
            let target = self.config.target_error;
            if target.is_some_and(|t| report.train_error.is_some_and(|e| e <= t)) {
                break Termination::TargetError;
            }
            if control == Control::Stop {
                break Termination::CallbackStop;
            }
        };
        Ok(Summary {
            method: self.config.method.name(),
            termination,
            epochs: self.epoch,
            steps: self.steps,
            passes: self.passes(),
            final_objective: self.last_metrics.map_or(f64::NAN, |m| m.objective),
            final_train_error: self.last_metrics.and_then(|m| m.error),
            non_finite,
            total_seconds: self.seconds,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_validate_and_name_the_bad_option() {
        for c in [
            FirstOrderConfig::sgd(),
            FirstOrderConfig::nesterov(),
            FirstOrderConfig::adam(),
        ] {
            c.validate().unwrap();
        }
        let bad = FirstOrderConfig {
            learning_rate: -1.0,
            ..FirstOrderConfig::sgd()
        };
        let msg = bad.validate().unwrap_err().to_string();
        assert!(msg.contains("learning_rate"), "{msg}");
        let bad = FirstOrderConfig {
            method: Method::Sgd {
                momentum: 1.0,
                nesterov: false,
            },
            ..FirstOrderConfig::sgd()
        };
        assert!(bad.validate().unwrap_err().to_string().contains("momentum"));
        let bad = FirstOrderConfig {
            batch_size: 0,
            ..FirstOrderConfig::adam()
        };
        assert!(bad.validate().unwrap_err().to_string().contains("batch_size"));
    }

    #[test]
    fn nesterov_step_matches_the_look_ahead_formula() {
        // One parameter, gradient 1, μ = 0.5, η = 0.1, velocity 0.2:
        // v' = 0.5·0.2 − 0.1 = 0; θ' = θ + 0.5·v' − 0.1 = θ − 0.1.
        let method = Method::Sgd {
            momentum: 0.5,
            nesterov: true,
        };
        let mut state = State::Sgd {
            velocity: vec![0.2],
            next_velocity: vec![0.0],
        };
        let mut next = [0.0f32];
        assert!(state.propose(method, 0.1, 1, &[1.0], &[1.0], &mut next));
        assert!((next[0] - 0.9).abs() < 1e-6, "{}", next[0]);
    }

    #[test]
    fn first_adam_step_has_length_learning_rate() {
        let method = FirstOrderConfig::adam().method;
        let mut state = State::new(method, 2);
        let mut next = [0.0f32; 2];
        assert!(state.propose(method, 0.01, 1, &[0.0, 0.0], &[3.0, -0.5], &mut next));
        assert!((next[0] + 0.01).abs() < 1e-6 && (next[1] - 0.01).abs() < 1e-6);
    }
}

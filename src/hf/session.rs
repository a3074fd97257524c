//! An HF optimisation session: the state of a run and one HF iteration in
//! HFDemo's order.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::checkpoint::{ByteReader, ByteWriter, Container};
use crate::error::{Error, ErrorKind, Result};
use crate::hf::backtrack::backtrack;
use crate::hf::cg::{self, CgOptions, CgResult, CgStop, DampedSystem};
use crate::hf::config::{ChunkOrder, HfConfig};
use crate::hf::damping::DampingRule;
use crate::hf::line_search::{armijo, ArmijoRule, LineSearchResult};
use crate::hf::objective::{Chunk, Metrics, Objective};
use crate::hf::precond::build_preconditioner;
use crate::hf::report::{IterationReport, RejectReason, Summary, Termination};
use crate::hf::vector::{dot, for_each_block_mut};
use crate::rng::Rng;

/// The kind tag of session checkpoint files.
pub const SESSION_KIND: &str = "hf-session";

/// A cloneable handle that asks a running session to stop after its current
/// iteration; usable from any thread.
#[derive(Clone, Debug, Default)]
pub struct StopHandle(Arc<AtomicBool>);

impl StopHandle {
    /// A handle with no stop requested.
    pub fn new() -> Self {
        Self::default()
    }
    /// Asks the session to stop at the next iteration boundary.
    pub fn request_stop(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    /// Whether a stop has been requested (and not yet acted on).
    pub fn is_stop_requested(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
    /// Withdraws a pending stop request.
    pub fn clear(&self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

/// What a progress callback tells [`Session::run`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// Keep going.
    Continue,
    /// Stop after this iteration.
    Stop,
}

/// Session totals (saved in checkpoints).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Counters {
    /// CG iterations over the session.
    pub cg_iterations: u64,
    /// Curvature products over the session.
    pub products: u64,
    /// Full-batch objective evaluations over the session.
    pub evaluations: u64,
    /// Steps rejected for NaN/Inf in a row, up to now.
    pub rejected_in_row: u64,
    /// Best training objective seen (+inf before the first step).
    pub best_objective: f64,
    /// Iterations since the best objective improved.
    pub since_best: u64,
    /// Accumulated wall-clock seconds in `step`.
    pub seconds: f64,
}

/// The mutable scalars of a session, restored when a step fails with `Err`.
#[derive(Clone, Debug)]
struct Snapshot {
    chunk_pos: u64,
    chunk_size: f64,
    rng: Rng,
    counters: Counters,
}

/// An HF optimisation of an [`Objective`]: θ, λ, the previous CG direction,
/// the chunk schedule, the random state and the counters.
pub struct Session<O: Objective> {
    objective: O,
    config: HfConfig,
    theta: Vec<f32>,
    lambda: f64,
    p_prev: Vec<f32>,
    iteration: u64,
    chunk_pos: u64,
    chunk_size: f64,
    rng: Rng,
    counters: Counters,
    stop: StopHandle,
    last_metrics: Option<(Metrics, Option<Metrics>)>,
}

/// What a finished step found; turned into a report and committed.
struct StepOutcome {
    objective: f64,
    cg: Option<(u64, u64, CgStop)>,
    rho: f64,
    ls: Option<LineSearchResult>,
    p_norm: f64,
    reject: Option<RejectReason>,
    products: u64,
    evaluations: u64,
    chunk: Chunk,
    /// θ after the step, when accepted.
    new_theta: Option<Vec<f32>>,
    /// λ after the ρ update, when CG got that far.
    new_lambda: Option<f64>,
    /// The last CG iterate, when CG got that far and it is finite.
    new_p_prev: Option<Vec<f32>>,
}

fn add_scaled(theta: &[f32], rate: f64, p: &[f32], out: &mut [f32]) {
    for ((o, &t), &d) in out.iter_mut().zip(theta).zip(p) {
        *o = (t as f64 + rate * d as f64) as f32;
    }
}

fn all_finite(v: &[f32]) -> bool {
    v.iter().all(|x| x.is_finite())
}

impl<O: Objective> Session<O> {
    /// Starts a session at `theta0` (copied). Checks the configuration, the
    /// length and finiteness of θ, and that the objective supports the chosen
    /// curvature.
    pub fn new(objective: O, theta0: &[f32], config: HfConfig) -> Result<Self> {
        config.validate()?;
        check_objective(&objective, &config)?;
        let n = objective.num_params();
        if theta0.len() != n {
            return Err(Error::shape(format!(
                "theta has {} entries, the objective has {n} parameters",
                theta0.len()
            )));
        }
        if let Some(i) = theta0.iter().position(|x| !x.is_finite()) {
            return Err(Error::non_finite(format!(
                "initial theta entry {i} is {}",
                theta0[i]
            )));
        }
        Ok(Session {
            lambda: config.initial_lambda,
            chunk_size: config.chunk_size as f64,
            rng: Rng::new(config.seed as u64),
            objective,
            config,
            theta: theta0.to_vec(),
            p_prev: vec![0.0; n],
            iteration: 0,
            chunk_pos: 0,
            counters: Counters {
                best_objective: f64::INFINITY,
                ..Counters::default()
            },
            stop: StopHandle::new(),
            last_metrics: None,
        })
    }

    /// The current parameters θ.
    pub fn theta(&self) -> &[f32] {
        &self.theta
    }
    /// The current damping λ.
    pub fn lambda(&self) -> f64 {
        self.lambda
    }
    /// The last CG iterate of the previous iteration (the warm start before decay).
    pub fn previous_direction(&self) -> &[f32] {
        &self.p_prev
    }
    /// HF iterations done so far (across resumes).
    pub fn iteration(&self) -> u64 {
        self.iteration
    }
    /// The session's totals.
    pub fn counters(&self) -> Counters {
        self.counters
    }
    /// The configuration.
    pub fn config(&self) -> &HfConfig {
        &self.config
    }
    /// Replaces the configuration (validated). λ, θ and the schedule keep
    /// their state; a new `chunk_size` takes effect from the next iteration.
    pub fn set_config(&mut self, config: HfConfig) -> Result<()> {
        config.validate()?;
        check_objective(&self.objective, &config)?;
        if config.chunk_size != self.config.chunk_size
            || config.chunk_growth != self.config.chunk_growth
        {
            self.chunk_size = config.chunk_size as f64;
        }
        self.config = config;
        Ok(())
    }
    /// The objective.
    pub fn objective(&self) -> &O {
        &self.objective
    }
    /// The objective, mutably.
    pub fn objective_mut(&mut self) -> &mut O {
        &mut self.objective
    }
    /// Ends the session, returning the objective and θ.
    pub fn into_parts(self) -> (O, Vec<f32>) {
        (self.objective, self.theta)
    }
    /// A handle that stops [`Session::run`] from any thread.
    pub fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }

    /// The curvature chunk of the next iteration, and the schedule state after it.
    fn plan_chunk(&self, rng: &mut Rng) -> (Chunk, u64) {
        let n = self.objective.num_examples().max(1) as u64;
        let k = if self.config.chunk_size == 0 {
            n
        } else {
            (self.chunk_size.round() as u64).clamp(1, n)
        };
        match self.config.chunk_order {
            ChunkOrder::Cyclic => {
                let start = if self.chunk_pos >= n {
                    0
                } else {
                    self.chunk_pos
                };
                // A chunk that would run past the end is shifted back so it
                // covers the tail: every example is used once per cycle.
                let first = if start + k > n { n - k } else { start };
                let next = if start + k >= n { 0 } else { start + k };
                (chunk(first, k), next)
            }
            ChunkOrder::Random => {
                let first = rng.below(n - k + 1);
                (chunk(first, k), self.chunk_pos)
            }
        }
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            chunk_pos: self.chunk_pos,
            chunk_size: self.chunk_size,
            rng: self.rng.clone(),
            counters: self.counters,
        }
    }

    fn restore(&mut self, s: Snapshot) {
        self.chunk_pos = s.chunk_pos;
        self.chunk_size = s.chunk_size;
        self.rng = s.rng;
        self.counters = s.counters;
    }

    /// One HF iteration (HFDemo's order): full-batch loss, gradient and
    /// preconditioner statistic; fix the curvature chunk; CG from
    /// `cg_decay·p_prev`; backtrack over the kept iterates on the full
    /// objective; ρ on the chunk with the undamped model; λ update; Armijo
    /// line search; θ update; metrics for the report.
    ///
    /// NaN/Inf anywhere rejects the step (θ kept, λ raised, previous direction
    /// reset) and the report says why. An error from the objective is
    /// returned as `Err` with θ, λ and the schedule unchanged.
    pub fn step(&mut self) -> Result<IterationReport> {
        let started = Instant::now();
        let snapshot = self.snapshot();
        match self.step_inner(started) {
            Ok(report) => Ok(report),
            Err(e) => {
                self.restore(snapshot);
                Err(e)
            }
        }
    }

    fn step_inner(&mut self, started: Instant) -> Result<IterationReport> {
        let mut rng = self.rng.clone();
        let (chunk, next_pos) = self.plan_chunk(&mut rng);
        let mut out = self.compute_step(chunk)?;
        // Commit the schedule only after the objective's calls succeeded.
        self.rng = rng;
        self.chunk_pos = next_pos;
        self.chunk_size =
            (self.chunk_size * self.config.chunk_growth).min(self.objective.num_examples() as f64);
        let metrics = self.metrics_after(&mut out)?;
        Ok(self.commit(out, metrics, started))
    }

    /// Everything from the gradient to the line search; θ, λ and p_prev are
    /// written here only on success paths that cannot fail afterwards.
    fn compute_step(&mut self, chunk: Chunk) -> Result<StepOutcome> {
        let n = self.theta.len();
        let mut out = StepOutcome {
            objective: f64::NAN,
            cg: None,
            rho: f64::NAN,
            ls: None,
            p_norm: 0.0,
            reject: None,
            products: 0,
            evaluations: 0,
            chunk,
            new_theta: None,
            new_lambda: None,
            new_p_prev: None,
        };
        // 1. Full-batch objective, gradient and preconditioner statistic.
        let mut grad = vec![0f32; n];
        let mut stat = self.config.precondition.then(|| vec![0f32; n]);
        let f0 = self
            .objective
            .loss_and_gradient(&self.theta, &mut grad, stat.as_deref_mut())?;
        out.evaluations += 1;
        out.objective = f0;
        if !f0.is_finite() || !all_finite(&grad) {
            out.reject = Some(RejectReason::NonFiniteGradient);
            return Ok(out);
        }
        let precond = match stat {
            Some(stat) => {
                let mut m = vec![0f32; n];
                let built =
                    build_preconditioner(&stat, self.lambda, self.config.precond_exponent, &mut m);
                match built {
                    Ok(()) => Some(m),
                    Err(e) if e.kind() == ErrorKind::NonFinite => {
                        out.reject = Some(RejectReason::NonFinitePreconditioner);
                        return Ok(out);
                    }
                    Err(e) => return Err(e),
                }
            }
            None => None,
        };
        // 2. Fix the curvature chunk at θ.
        self.objective
            .set_curvature_chunk(&self.theta, chunk, self.config.curvature)?;
        // 3. CG on (C + λI) p = −g from decay·p_prev.
        let result = self.run_cg(&grad, precond.as_deref())?;
        out.products += result.products as u64;
        let final_p = result.final_iterate();
        out.cg = Some((
            result.iterations as u64,
            result.iterations as u64,
            result.stop,
        ));
        if result.stop == CgStop::NonFinite || !all_finite(final_p) {
            out.reject = Some(RejectReason::NonFiniteCurvature);
            return Ok(out);
        }
        // 4. Backtrack over the kept iterates on the full objective.
        let candidates = if self.config.backtrack {
            &result.iterates[..]
        } else {
            &result.iterates[result.iterates.len() - 1..]
        };
        let mut trial = vec![0f32; n];
        let theta = &self.theta;
        let objective = &mut self.objective;
        let chosen = backtrack(candidates, |p| {
            add_scaled(theta, 1.0, p, &mut trial);
            objective.loss(&trial)
        })?;
        out.evaluations += chosen.evaluations as u64;
        out.cg = Some((
            result.iterations as u64,
            chosen.iteration as u64,
            result.stop,
        ));
        let p = &candidates[chosen.position].1;
        out.p_norm = dot(p, p).sqrt();
        if !chosen.objective.is_finite() {
            out.reject = Some(RejectReason::NonFiniteCandidate);
            return Ok(out);
        }
        // 5. ρ on the chunk with the undamped model q(p) − q(0) = ½pᵀCp + gᵀp.
        let slope = dot(&grad, p);
        let fc0 = self.objective.chunk_loss(&self.theta)?;
        if !fc0.is_finite() {
            out.reject = Some(RejectReason::NonFiniteChunkLoss);
            return Ok(out);
        }
        add_scaled(&self.theta, 1.0, p, &mut trial);
        let fc1 = self.objective.chunk_loss(&trial)?;
        let mut cp = vec![0f32; n];
        self.objective.curvature_product(p, &mut cp)?;
        out.products += 1;
        let model_change = 0.5 * dot(p, &cp) + slope;
        out.rho = if !fc1.is_finite() || fc1 > fc0 {
            f64::NEG_INFINITY
        } else {
            (fc1 - fc0) / model_change
        };
        // 6. λ update (made whether or not the step is then accepted).
        let new_lambda = self.damping().update(self.lambda, out.rho);
        // 7. Armijo line search on the full objective.
        let ls = if self.config.line_search {
            let rule = self.armijo_rule();
            let theta = &self.theta;
            let objective = &mut self.objective;
            armijo(&rule, f0, slope, Some(chosen.objective), |t| {
                add_scaled(theta, t, p, &mut trial);
                objective.loss(&trial)
            })?
        } else {
            LineSearchResult {
                accepted: true,
                rate: 1.0,
                shrinks: 0,
                objective: chosen.objective,
                evaluations: 0,
            }
        };
        out.evaluations += ls.evaluations as u64;
        out.ls = Some(ls);
        // λ, p_prev and θ are committed once the metrics are in.
        out.new_lambda = Some(new_lambda);
        out.new_p_prev = Some(result.final_iterate().to_vec());
        if ls.accepted {
            add_scaled(&self.theta, ls.rate, p, &mut trial);
            out.new_theta = Some(trial);
            out.objective = ls.objective;
        } else {
            out.reject = Some(RejectReason::LineSearchFailed);
        }
        Ok(out)
    }

    fn run_cg(&mut self, grad: &[f32], precond: Option<&[f32]>) -> Result<CgResult> {
        let b: Vec<f32> = grad.iter().map(|&g| -g).collect();
        let decay = self.config.cg_decay;
        let x0: Vec<f32> = self
            .p_prev
            .iter()
            .map(|&v| (decay * v as f64) as f32)
            .collect();
        let opts = self.cg_options();
        let lambda = self.lambda;
        let system = DampedSystem {
            lambda,
            b: &b,
            precond,
        };
        if let Some(result) = self.objective.solve_damped(&system, &x0, &opts)? {
            return Ok(result);
        }
        let objective = &mut self.objective;
        let mut damped = |v: &[f32], out: &mut [f32]| -> Result<()> {
            objective.curvature_product(v, out)?;
            for_each_block_mut(out, |start, part| {
                for (o, &vi) in part.iter_mut().zip(&v[start..]) {
                    *o = (*o as f64 + lambda * vi as f64) as f32;
                }
            });
            Ok(())
        };
        cg::solve(&mut damped, &b, &x0, precond, &opts)
    }

    fn cg_options(&self) -> CgOptions {
        let c = &self.config;
        let max_iters = c.cg_max_iters as usize;
        let keep = if c.backtrack {
            cg::iterate_grid(c.backtrack_grid_first, c.backtrack_grid_base, max_iters)
        } else {
            Vec::new()
        };
        CgOptions {
            max_iters,
            min_iters: c.cg_min_iters as usize,
            epsilon: c.cg_epsilon,
            window_min: c.cg_window_min as usize,
            window_fraction: c.cg_window_fraction,
            keep,
        }
    }

    fn damping(&self) -> DampingRule {
        let c = &self.config;
        DampingRule {
            rho_low: c.rho_low,
            rho_high: c.rho_high,
            increase: c.lambda_increase,
            decrease: c.lambda_decrease,
            min: c.lambda_min,
            max: c.lambda_max,
        }
    }

    fn armijo_rule(&self) -> ArmijoRule {
        ArmijoRule {
            c: self.config.ls_c,
            shrink: self.config.ls_shrink,
            max_shrinks: self.config.ls_max_shrinks as usize,
        }
    }

    /// Training and test metrics at the new θ (kept from before on rejection).
    fn metrics_after(&mut self, out: &mut StepOutcome) -> Result<(Metrics, Option<Metrics>)> {
        if out.new_theta.is_none() {
            let kept = self.last_metrics.map(|(m, t)| (m.error, t));
            let train = Metrics {
                objective: out.objective,
                error: kept.and_then(|(e, _)| e),
            };
            return Ok((train, kept.and_then(|(_, t)| t)));
        }
        let theta = out.new_theta.as_deref().unwrap_or(&self.theta);
        // The accepted θ was usually just evaluated by backtracking or the
        // line search; a pass over the training set only when it was not.
        let train = match self.objective.known_train_metrics(theta) {
            Some(known) => known,
            None => {
                out.evaluations += 1;
                self.objective.train_metrics(theta)?
            }
        };
        let test = self.objective.test_metrics(theta)?;
        self.last_metrics = Some((train, test));
        Ok((train, test))
    }

    /// Applies a step's outcome to λ, p_prev and the counters; builds the report.
    fn commit(
        &mut self,
        mut out: StepOutcome,
        (train, test): (Metrics, Option<Metrics>),
        started: Instant,
    ) -> IterationReport {
        if out.reject.is_some_and(RejectReason::is_non_finite) {
            // Garbage in the step: be more conservative and restart CG cold.
            self.lambda = self.damping().penalise(self.lambda);
            self.p_prev.iter_mut().for_each(|v| *v = 0.0);
            self.counters.rejected_in_row += 1;
        } else {
            self.counters.rejected_in_row = 0;
            if let Some(lambda) = out.new_lambda {
                self.lambda = lambda;
            }
            if let Some(p) = out.new_p_prev.take() {
                self.p_prev = p;
            }
            if let Some(theta) = out.new_theta.take() {
                self.theta = theta;
            }
        }
        let accepted = out.reject.is_none();
        if accepted && train.objective < self.counters.best_objective {
            self.counters.best_objective = train.objective;
            self.counters.since_best = 0;
        } else {
            self.counters.since_best += 1;
        }
        let (cg_iters, cg_chosen, cg_stop) = match out.cg {
            Some((it, chosen, stop)) => (it, chosen, Some(stop)),
            None => (0, 0, None),
        };
        self.iteration += 1;
        self.counters.cg_iterations += cg_iters;
        self.counters.products += out.products;
        self.counters.evaluations += out.evaluations;
        let wall = started.elapsed().as_secs_f64();
        self.counters.seconds += wall;
        let (ls_rate, ls_shrinks) = match out.ls {
            Some(ls) => (ls.rate, ls.shrinks as u64),
            None => (0.0, 0),
        };
        IterationReport {
            iteration: self.iteration,
            objective: train.objective,
            train_error: train.error,
            test_objective: test.map(|t| t.objective),
            test_error: test.and_then(|t| t.error),
            cg_iterations: cg_iters,
            cg_iterations_total: self.counters.cg_iterations,
            cg_chosen,
            cg_stop,
            rho: out.rho,
            lambda: self.lambda,
            ls_shrinks,
            ls_rate,
            p_norm: out.p_norm,
            rejected: out.reject.is_some(),
            reject_reason: out.reject,
            wall_seconds: wall,
            total_seconds: self.counters.seconds,
            products: out.products,
            products_total: self.counters.products,
            evaluations: out.evaluations,
            chunk_start: out.chunk.start as u64,
            chunk_len: out.chunk.len as u64,
        }
    }

    /// Runs iterations until a stop condition: `max_iters` (session total),
    /// `max_seconds` (session total), `target_error`, `target_objective`,
    /// `no_progress_iters`, `max_rejected_in_row`, a stop request, or the
    /// callback returning [`Control::Stop`]. The callback sees every report.
    pub fn run<F: FnMut(&IterationReport) -> Control>(
        &mut self,
        mut callback: F,
    ) -> Result<Summary> {
        let started = Instant::now();
        let mut iterations = 0u64;
        let mut rejected = 0u64;
        let mut last: Option<IterationReport> = None;
        let termination = loop {
            if let Some(t) = self.stop_before_step() {
                break t;
            }
            let report = self.step()?;
            iterations += 1;
            rejected += u64::from(report.rejected);
            let control = callback(&report);
            let after = self.stop_after_step(&report);
            last = Some(report);
            if let Some(t) = after {
                break t;
            }
            if control == Control::Stop {
                break Termination::CallbackStop;
            }
        };
        let c = self.counters;
        // Without an iteration in this run, report the last known metrics.
        let kept = self.last_metrics;
        Ok(Summary {
            termination,
            iterations,
            iterations_total: self.iteration,
            rejected,
            cg_iterations_total: c.cg_iterations,
            products_total: c.products,
            evaluations_total: c.evaluations,
            final_objective: last
                .as_ref()
                .map_or(kept.map_or(f64::NAN, |(m, _)| m.objective), |r| r.objective),
            final_train_error: last
                .as_ref()
                .map_or(kept.and_then(|(m, _)| m.error), |r| r.train_error),
            final_test_error: last
                .as_ref()
                .map_or(kept.and_then(|(_, t)| t.and_then(|t| t.error)), |r| {
                    r.test_error
                }),
            final_lambda: self.lambda,
            wall_seconds: started.elapsed().as_secs_f64(),
            total_seconds: c.seconds,
        })
    }

    fn stop_before_step(&self) -> Option<Termination> {
        let c = &self.config;
        if self.stop.is_stop_requested() {
            self.stop.clear();
            return Some(Termination::StopRequested);
        }
        if c.max_iters > 0 && self.iteration >= c.max_iters as u64 {
            return Some(Termination::MaxIterations);
        }
        if c.max_seconds > 0.0 && self.counters.seconds >= c.max_seconds {
            return Some(Termination::MaxSeconds);
        }
        None
    }

    fn stop_after_step(&self, r: &IterationReport) -> Option<Termination> {
        let c = &self.config;
        if self.counters.rejected_in_row >= c.max_rejected_in_row as u64 {
            return Some(Termination::TooManyRejected);
        }
        if !r.rejected {
            if r.train_error.is_some_and(|e| e <= c.target_error) {
                return Some(Termination::TargetError);
            }
            if r.objective <= c.target_objective {
                return Some(Termination::TargetObjective);
            }
        }
        if c.no_progress_iters > 0 && self.counters.since_best >= c.no_progress_iters as u64 {
            return Some(Termination::NoProgress);
        }
        if self.stop.is_stop_requested() {
            self.stop.clear();
            return Some(Termination::StopRequested);
        }
        None
    }

    /// The session as checkpoint bytes: θ, λ, previous direction, iteration,
    /// chunk schedule, random state, counters, accumulated time and config.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut state = ByteWriter::new();
        state.u64(self.theta.len() as u64);
        state.u64(self.iteration);
        state.f64(self.lambda);
        state.u64(self.chunk_pos);
        state.f64(self.chunk_size);
        for s in self.rng.state() {
            state.u64(s);
        }
        let c = &self.counters;
        state.u64(c.cg_iterations);
        state.u64(c.products);
        state.u64(c.evaluations);
        state.u64(c.rejected_in_row);
        state.f64(c.best_objective);
        state.u64(c.since_best);
        state.f64(c.seconds);
        let mut theta = ByteWriter::new();
        theta.f32s(&self.theta);
        let mut p_prev = ByteWriter::new();
        p_prev.f32s(&self.p_prev);
        let mut file = Container::new(SESSION_KIND);
        file.add("config", self.config.to_text().into_bytes());
        file.add("state", state.into_bytes());
        file.add("theta", theta.into_bytes());
        file.add("p_prev", p_prev.into_bytes());
        file.encode()
    }

    /// Saves the session to `path` atomically (see [`Session::to_bytes`]).
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::checkpoint::write_atomic(path, &self.to_bytes())
    }

    /// Continues a session saved with [`Session::save`] on `objective`, which
    /// must have the same number of parameters. Running m more iterations
    /// gives bit-identical results to a run that was never interrupted.
    pub fn resume(objective: O, path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, "cannot read session", e))?;
        Self::from_bytes(objective, &bytes).map_err(|e| e.context(format!("'{}'", path.display())))
    }

    /// Like [`Session::resume`], from checkpoint bytes.
    pub fn from_bytes(objective: O, bytes: &[u8]) -> Result<Self> {
        let file = crate::checkpoint::decode(bytes)?;
        file.expect_kind(SESSION_KIND)?;
        let text = std::str::from_utf8(file.require("config")?)
            .map_err(|_| Error::format("session config is not UTF-8"))?;
        let config = HfConfig::from_text(text)?;
        let mut r = ByteReader::new(file.require("state")?);
        let num_params = r.u64()?;
        let n = objective.num_params();
        if num_params != n as u64 {
            return Err(Error::shape(format!(
                "session has {num_params} parameters, the objective has {n}"
            )));
        }
        let iteration = r.u64()?;
        let lambda = r.f64()?;
        let chunk_pos = r.u64()?;
        let chunk_size = r.f64()?;
        let rng = Rng::from_state([r.u64()?, r.u64()?, r.u64()?, r.u64()?]);
        let counters = Counters {
            cg_iterations: r.u64()?,
            products: r.u64()?,
            evaluations: r.u64()?,
            rejected_in_row: r.u64()?,
            best_objective: r.f64()?,
            since_best: r.u64()?,
            seconds: r.f64()?,
        };
        r.finish()?;
        let theta = read_vector(&file, "theta", n)?;
        let p_prev = read_vector(&file, "p_prev", n)?;
        // A writer only ever stores a finite warm start; anything else is damage.
        if let Some(i) = p_prev.iter().position(|x| !x.is_finite()) {
            return Err(Error::format(format!(
                "session 'p_prev' entry {i} is {}, not finite",
                p_prev[i]
            )));
        }
        if !(lambda.is_finite() && lambda >= 0.0 && chunk_size.is_finite() && chunk_size >= 0.0) {
            return Err(Error::format(format!(
                "session state is invalid: lambda {lambda}, chunk size {chunk_size}"
            )));
        }
        let mut session = Session::new(objective, &theta, config)?;
        session.p_prev = p_prev;
        session.iteration = iteration;
        session.lambda = lambda;
        session.chunk_pos = chunk_pos;
        session.chunk_size = chunk_size;
        session.rng = rng;
        session.counters = counters;
        Ok(session)
    }
}

fn read_vector(file: &Container, name: &str, n: usize) -> Result<Vec<f32>> {
    let mut r = ByteReader::new(file.require(name)?);
    let v = r.f32s()?;
    r.finish()?;
    if v.len() != n {
        return Err(Error::shape(format!(
            "session '{name}' has {} entries, expected {n}",
            v.len()
        )));
    }
    Ok(v)
}

fn chunk(start: u64, len: u64) -> Chunk {
    Chunk {
        start: start as usize,
        len: len as usize,
    }
}

fn check_objective<O: Objective>(objective: &O, config: &HfConfig) -> Result<()> {
    if !objective.supports_curvature(config.curvature) {
        return Err(Error::unsupported(format!(
            "the objective does not support curvature '{}'",
            config.get_str("curvature").unwrap_or("?")
        )));
    }
    if objective.num_examples() == 0 {
        return Err(Error::invalid("the objective has no training examples"));
    }
    Ok(())
}

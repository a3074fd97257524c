//! Numerical faults: NaN/Inf from a host objective at chosen calls, a step
//! that overflows on a real network, and an exploding damping λ. In every
//! case the session rejects the bad step, keeps θ, raises λ, says why in the
//! report, and either carries on or stops with a clear termination reason.
//!
//! `tests/hf_session.rs` already covers a single NaN gradient, a NaN
//! curvature product, NaN candidate objectives and persistent NaN; this file
//! adds the remaining rejection reasons, Inf as well as NaN, a whole run
//! through intermittent faults, overflow in a network, and λ at its bounds.

mod hf_common;

use hessfree::data::curves;
use hessfree::hf::{
    Chunk, Control, CurvatureKind, HfConfig, Objective, RejectReason, Session, Termination,
};
use hessfree::net::{initial_params, Activation, Init, NetObjective, NetSpec};
use hessfree::Result;
use hf_common::{delegate_to_inner, Faulty, Logistic, Rosenbrock};

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Where [`Poison`] injects its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Site {
    /// One gradient entry of `loss_and_gradient`.
    Gradient,
    /// One entry of the preconditioner statistic.
    PrecondStat,
    /// One entry of a curvature product.
    Product,
    /// The chunk objective (used for ρ).
    ChunkLoss,
}

/// Wraps an objective and writes `value` (NaN, ±Inf) at `site` on the
/// 0-based calls listed in `calls` (counted per site).
struct Poison<O> {
    inner: O,
    site: Site,
    value: f32,
    calls: Vec<usize>,
    count: usize,
}

impl<O> Poison<O> {
    fn new(inner: O, site: Site, value: f32, calls: Vec<usize>) -> Self {
        Poison {
            inner,
            site,
            value,
            calls,
            count: 0,
        }
    }

    /// Counts a call at `site`; true when this one is to be poisoned.
    fn hit(&mut self, site: Site) -> bool {
        if site != self.site {
            return false;
        }
        let call = self.count;
        self.count += 1;
        self.calls.contains(&call)
    }
}

impl<O: Objective> Objective for Poison<O> {
    delegate_to_inner!(
        num_params,
        num_examples,
        supports_curvature,
        loss,
        set_curvature_chunk,
        train_metrics,
        test_metrics,
    );
    fn loss_and_gradient(
        &mut self,
        theta: &[f32],
        grad: &mut [f32],
        stat: Option<&mut [f32]>,
    ) -> Result<f64> {
        let has_stat = stat.is_some();
        let mut stat = stat;
        let f = self
            .inner
            .loss_and_gradient(theta, grad, stat.as_deref_mut())?;
        if self.hit(Site::Gradient) {
            grad[grad.len() / 2] = self.value;
        }
        if has_stat && self.hit(Site::PrecondStat) {
            if let Some(s) = stat {
                s[0] = self.value;
            }
        }
        Ok(f)
    }
    fn curvature_product(&mut self, v: &[f32], out: &mut [f32]) -> Result<()> {
        self.inner.curvature_product(v, out)?;
        if self.hit(Site::Product) {
            out[out.len() - 1] = self.value;
        }
        Ok(())
    }
    fn chunk_loss(&mut self, theta: &[f32]) -> Result<f64> {
        let f = self.inner.chunk_loss(theta)?;
        Ok(if self.hit(Site::ChunkLoss) {
            self.value as f64
        } else {
            f
        })
    }
}

/// Takes one step that must be rejected for `reason`, and checks that θ is
/// kept bit for bit, λ is raised by `lambda_increase`, the warm start is
/// reset, and the report says so.
fn assert_rejected_step<O: Objective>(s: &mut Session<O>, reason: RejectReason) {
    let theta = s.theta().to_vec();
    let lambda = s.lambda();
    let iteration = s.iteration();
    let r = s.step().unwrap();
    assert!(r.rejected, "step {} not rejected: {r:?}", iteration + 1);
    assert_eq!(r.reject_reason, Some(reason), "{r:?}");
    assert_eq!(r.iteration, iteration + 1, "a rejected step still counts");
    assert_eq!(bits(s.theta()), bits(&theta), "theta changed on rejection");
    let raised = lambda * s.config().lambda_increase;
    assert_eq!(s.lambda(), raised);
    assert_eq!(r.lambda, raised);
    assert!(s.previous_direction().iter().all(|&v| v == 0.0));
    assert!(r.log_line().contains("REJECTED"), "{}", r.log_line());
    assert!(r.log_line().contains(reason.text()), "{}", r.log_line());
}

fn rosenbrock_session<O: Objective>(obj: O) -> Session<O> {
    Session::new(obj, &Rosenbrock::start(10), HfConfig::default()).unwrap()
}

#[test]
fn every_non_finite_site_rejects_with_its_reason() {
    let cases = [
        (Site::Gradient, RejectReason::NonFiniteGradient),
        (Site::PrecondStat, RejectReason::NonFinitePreconditioner),
        (Site::Product, RejectReason::NonFiniteCurvature),
        (Site::ChunkLoss, RejectReason::NonFiniteChunkLoss),
    ];
    for (site, reason) in cases {
        for value in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            // Poison the second iteration's call only: one good step first.
            let calls = match site {
                Site::Gradient | Site::PrecondStat => vec![1],
                // Two chunk losses per step: at θ (ρ's base), then at θ + p.
                Site::ChunkLoss => vec![2],
                Site::Product => vec![],
            };
            let mut s = rosenbrock_session(Poison::new(Rosenbrock::new(10), site, value, calls));
            let first = s.step().unwrap();
            assert!(!first.rejected, "{site:?}: {first:?}");
            if site == Site::Product {
                let done = s.objective().count;
                s.objective_mut().calls = vec![done];
            }
            assert_rejected_step(&mut s, reason);
            // The fault was transient: the session carries on.
            let next = s.step().unwrap();
            assert!(!next.rejected, "{site:?} {value}: {next:?}");
        }
    }
}

/// A NaN chunk objective at the trial point θ + p is not a fault of θ: the
/// step gets ρ = −∞ (so λ rises by the damping rule) and the full-objective
/// line search still decides whether θ moves.
#[test]
fn nan_chunk_loss_at_the_trial_point_gives_rho_minus_infinity() {
    let poison = Poison::new(Rosenbrock::new(10), Site::ChunkLoss, f32::NAN, vec![1]);
    let mut s = rosenbrock_session(poison);
    let r = s.step().unwrap();
    assert_eq!(r.rho, f64::NEG_INFINITY, "{r:?}");
    assert_eq!(s.lambda(), 45.0 * 1.5);
    assert!(!r.rejected, "{r:?}");
    assert!(s.theta().iter().all(|x| x.is_finite()));
}

/// Faults sprinkled over a run: the run carries on, counts the rejections,
/// ends on its iteration limit, and still learns.
#[test]
fn intermittent_nan_is_skipped_and_the_run_finishes() {
    let cfg = HfConfig {
        chunk_size: 50,
        max_iters: 15,
        initial_lambda: 1.0,
        ..HfConfig::default()
    };
    let mut obj = Faulty::new(Logistic::new(200, 10, 3, true));
    obj.nan_product = vec![0]; // iteration 1: CG's first product
    obj.nan_grad = vec![1, 4]; // iterations 2 and 5
    let mut s = Session::new(obj, &[0.0; 10], cfg.clone()).unwrap();
    let mut reasons = Vec::new();
    let summary = s
        .run(|r| {
            reasons.push(r.reject_reason);
            Control::Continue
        })
        .unwrap();
    assert_eq!(summary.termination, Termination::MaxIterations);
    assert_eq!(summary.iterations, 15);
    assert_eq!(summary.rejected, 3);
    assert_eq!(reasons[0], Some(RejectReason::NonFiniteCurvature));
    assert_eq!(reasons[1], Some(RejectReason::NonFiniteGradient));
    assert_eq!(reasons[4], Some(RejectReason::NonFiniteGradient));
    assert_eq!(reasons.iter().filter(|r| r.is_some()).count(), 3);
    // Compare with a clean run: the faults cost iterations, not the result.
    let mut clean = Session::new(Logistic::new(200, 10, 3, true), &[0.0; 10], cfg).unwrap();
    let clean_summary = clean.run(|_| Control::Continue).unwrap();
    let start = Logistic::new(200, 10, 3, true).loss(&[0.0; 10]).unwrap();
    assert!(summary.final_objective.is_finite());
    assert!(
        summary.final_objective < start - 0.5 * (start - clean_summary.final_objective),
        "faulty run {} vs clean {} from {start}",
        summary.final_objective,
        clean_summary.final_objective
    );
}

/// A small autoencoder objective on CURVES-like data.
fn net_objective(config: &HfConfig) -> (NetObjective, Vec<f32>) {
    let spec = NetSpec::autoencoder(&[784, 20, 6], Activation::Logistic).unwrap();
    let theta = initial_params(&spec, Init::default(), 5).unwrap();
    let data = curves(100, 2).unwrap();
    let (obj, _) = NetObjective::from_config(spec, data, None, config).unwrap();
    (obj, theta)
}

fn net_config() -> HfConfig {
    HfConfig {
        chunk_size: 50,
        cg_max_iters: 30,
        threads: 1,
        backend: hessfree::hf::BackendChoice::Cpu,
        ..HfConfig::default()
    }
}

/// Parameters scaled so far that f32 arithmetic in the network overflows:
/// the step is rejected, θ kept, λ raised, and persistent overflow ends the
/// run with `TooManyRejected`, never an error or a panic.
#[test]
fn overflowing_network_is_rejected_and_stops_cleanly() {
    let cfg = HfConfig {
        max_rejected_in_row: 4,
        max_iters: 50,
        ..net_config()
    };
    let (obj, theta) = net_objective(&cfg);
    let huge: Vec<f32> = theta.iter().map(|&t| t * 1e36).collect();
    let mut s = Session::new(obj, &huge, cfg).unwrap();
    let r = s.step().unwrap();
    eprintln!("{}", r.log_line());
    // Where the overflow first shows (the gradient or the squared-gradient
    // statistic) depends on the f32 kernels; either way it is a non-finite rejection.
    assert!(
        matches!(
            r.reject_reason,
            Some(RejectReason::NonFiniteGradient | RejectReason::NonFinitePreconditioner)
        ),
        "{r:?}"
    );
    assert!(r.objective.is_finite(), "the loss itself still fits in f64");
    assert_eq!(bits(s.theta()), bits(&huge));
    assert_eq!(s.lambda(), 45.0 * 1.5);
    let summary = s.run(|_| Control::Continue).unwrap();
    assert_eq!(summary.termination, Termination::TooManyRejected);
    assert_eq!(s.iteration(), 4);
    assert_eq!(bits(s.theta()), bits(&huge));
}

/// Curvature scaled down by 1e-38: with almost no damping, CG's step is
/// ~1e38 times too long and θ + p overflows f32.
struct Flat<O>(O);

impl<O: Objective> Objective for Flat<O> {
    fn num_params(&self) -> usize {
        self.0.num_params()
    }
    fn num_examples(&self) -> usize {
        self.0.num_examples()
    }
    fn supports_curvature(&self, kind: CurvatureKind) -> bool {
        self.0.supports_curvature(kind)
    }
    fn loss(&mut self, theta: &[f32]) -> Result<f64> {
        self.0.loss(theta)
    }
    fn loss_and_gradient(
        &mut self,
        theta: &[f32],
        grad: &mut [f32],
        stat: Option<&mut [f32]>,
    ) -> Result<f64> {
        self.0.loss_and_gradient(theta, grad, stat)
    }
    fn set_curvature_chunk(&mut self, t: &[f32], c: Chunk, k: CurvatureKind) -> Result<()> {
        self.0.set_curvature_chunk(t, c, k)
    }
    fn curvature_product(&mut self, v: &[f32], out: &mut [f32]) -> Result<()> {
        self.0.curvature_product(v, out)?;
        out.iter_mut().for_each(|o| *o *= 1e-38);
        Ok(())
    }
    fn chunk_loss(&mut self, theta: &[f32]) -> Result<f64> {
        self.0.chunk_loss(theta)
    }
}

/// A step that overflows θ is rejected with θ kept and λ raised ×1.5 each
/// time; once λ has grown enough the steps are finite again and the session
/// carries on from the same θ.
#[test]
fn step_that_overflows_is_rejected_until_lambda_recovers() {
    let cfg = HfConfig {
        initial_lambda: 1e-39,
        precondition: false,
        max_rejected_in_row: 1000,
        max_iters: 1000,
        ..HfConfig::default()
    };
    let start = Rosenbrock::start(10);
    let f0 = Rosenbrock::new(10).loss(&start).unwrap();
    let mut s = Session::new(Flat(Rosenbrock::new(10)), &start, cfg).unwrap();
    let mut rejected = 0;
    let mut overflowed = 0;
    let mut lambda = 1e-39;
    loop {
        let r = s.step().unwrap();
        if !r.rejected {
            assert!(r.objective.is_finite() && r.objective < f0, "{r:?}");
            break;
        }
        // Overflow inside CG or in θ + p is a non-finite rejection; a step
        // so long that no rate passes the line search fails it instead.
        match r.reject_reason {
            Some(RejectReason::LineSearchFailed) => {}
            Some(reason) if reason.is_non_finite() => overflowed += 1,
            other => panic!("unexpected {other:?}: {r:?}"),
        }
        assert_eq!(bits(s.theta()), bits(&start), "theta changed on rejection");
        lambda *= 1.5;
        assert_eq!(r.lambda, lambda);
        rejected += 1;
        assert!(rejected < 500, "never recovered: {r:?}");
    }
    assert!(overflowed >= 1, "no step overflowed");
    eprintln!("{rejected} steps rejected ({overflowed} overflowed) before recovery");
    assert!(rejected >= 1);
    assert!(s.theta().iter().all(|x| x.is_finite()));
}

/// Every proposed step looks bad on the curvature chunk (ρ = −∞), so λ is
/// raised at every iteration: the exploding-λ scenario.
struct Pessimist<O> {
    inner: O,
    at: Vec<f32>,
}

impl<O: Objective> Objective for Pessimist<O> {
    delegate_to_inner!(
        num_params,
        num_examples,
        supports_curvature,
        loss,
        loss_and_gradient,
        curvature_product,
    );
    fn set_curvature_chunk(&mut self, t: &[f32], c: Chunk, k: CurvatureKind) -> Result<()> {
        self.at = t.to_vec();
        self.inner.set_curvature_chunk(t, c, k)
    }
    fn chunk_loss(&mut self, theta: &[f32]) -> Result<f64> {
        let moved = theta.iter().zip(&self.at).any(|(a, b)| a != b);
        Ok(self.inner.chunk_loss(theta)? + if moved { 1e6 } else { 0.0 })
    }
}

fn pessimist() -> Pessimist<Rosenbrock> {
    Pessimist {
        inner: Rosenbrock::new(10),
        at: Vec::new(),
    }
}

#[test]
fn lambda_max_caps_an_exploding_lambda() {
    let cfg = HfConfig {
        lambda_max: 1000.0,
        max_iters: 20,
        ..HfConfig::default()
    };
    let mut s = Session::new(pessimist(), &Rosenbrock::start(10), cfg).unwrap();
    let mut lambdas = Vec::new();
    let summary = s
        .run(|r| {
            assert_eq!(r.rho, f64::NEG_INFINITY, "{r:?}");
            lambdas.push(r.lambda);
            Control::Continue
        })
        .unwrap();
    let mut want = 45.0;
    for (i, &l) in lambdas.iter().enumerate() {
        want = f64::min(want * 1.5, 1000.0);
        assert_eq!(l, want, "iteration {}", i + 1);
    }
    assert_eq!(summary.termination, Termination::MaxIterations);
    assert_eq!(summary.final_lambda, 1000.0);
}

/// Without `lambda_max`, λ grows until λ·v overflows f32 in the damped
/// curvature product: CG reports non-finite, the steps are rejected with θ
/// kept, and the run stops with `TooManyRejected`.
#[test]
fn exploding_lambda_without_bound_stops_the_run_clearly() {
    let cfg = HfConfig {
        initial_lambda: 1e30,
        max_iters: 1000,
        ..HfConfig::default()
    };
    let start = Rosenbrock::start(10);
    let mut s = Session::new(pessimist(), &start, cfg).unwrap();
    let mut reports = Vec::new();
    let summary = s
        .run(|r| {
            reports.push(r.clone());
            Control::Continue
        })
        .unwrap();
    assert_eq!(summary.termination, Termination::TooManyRejected);
    assert!(summary.termination.text().contains("rejected"));
    let tail = &reports[reports.len() - 10..];
    for r in tail {
        assert_eq!(
            r.reject_reason,
            Some(RejectReason::NonFiniteCurvature),
            "{r:?}"
        );
    }
    // λ rose ×1.5 at every iteration, accepted (ρ = −∞) or rejected.
    for w in reports.windows(2) {
        assert_eq!(w[1].lambda, w[0].lambda * 1.5);
    }
    // It got there through steps that were taken, each with ρ < rho_low.
    assert!(
        reports.len() > 10 && !reports[0].rejected,
        "{:?}",
        reports[0]
    );
    assert!(reports[0].rho < 0.25, "{:?}", reports[0]);
    assert!(s.theta().iter().all(|x| x.is_finite()));
}

/// λ pushed past the largest f64 stays finite, so the session it belongs
/// to can still be saved and resumed.
#[test]
fn lambda_never_overflows_to_infinity_and_resumes() {
    let cfg = HfConfig {
        initial_lambda: 1e307,
        ..HfConfig::default()
    };
    let mut s = Session::new(pessimist(), &Rosenbrock::start(10), cfg).unwrap();
    let summary = s.run(|_| Control::Continue).unwrap();
    assert_eq!(summary.termination, Termination::TooManyRejected);
    assert!(s.lambda().is_finite(), "lambda {}", s.lambda());
    assert_eq!(s.lambda(), f64::MAX);
    let dir = std::env::temp_dir().join(format!("hessfree-faults-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("exploded.hfs");
    s.save(&path).unwrap();
    let resumed = Session::resume(pessimist(), &path).unwrap();
    assert_eq!(resumed.lambda(), f64::MAX);
    let _ = std::fs::remove_dir_all(&dir);
}

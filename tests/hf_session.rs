//! End-to-end HF sessions through the `Objective` trait: Rosenbrock,
//! determinism, save/resume equality, non-finite handling, stop conditions.

mod hf_common;

use hessfree::hf::cg::{self, CgOptions, CgResult, DampedSystem};
use hessfree::hf::{ChunkOrder, Control, HfConfig, Objective, RejectReason, Session, Termination};
use hessfree::ErrorKind;
use hf_common::{Faulty, Logistic, Rosenbrock, SerialSpace};

fn temp_path(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("hessfree-hf-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// HF (Gauss-Newton, defaults) minimises the extended Rosenbrock function,
/// n = 100, from (−1.2, 1, …).
#[test]
fn hf_minimises_extended_rosenbrock() {
    let n = 100;
    let cfg = HfConfig {
        max_iters: 200,
        target_objective: 1e-10,
        ..HfConfig::default()
    };
    let mut s = Session::new(Rosenbrock::new(n), &Rosenbrock::start(n), cfg).unwrap();
    let f0 = {
        let mut r = Rosenbrock::new(n);
        hessfree::hf::Objective::loss(&mut r, &Rosenbrock::start(n)).unwrap()
    };
    let mut log = Vec::new();
    let summary = s
        .run(|r| {
            log.push(r.log_line());
            Control::Continue
        })
        .unwrap();
    eprintln!("{}\n{}", log.join("\n"), summary.full());
    assert_eq!(
        summary.termination,
        Termination::TargetObjective,
        "{}",
        summary.brief()
    );
    assert!(
        summary.final_objective <= 1e-10,
        "f = {:e} (start {f0})",
        summary.final_objective
    );
    let max_dev = s
        .theta()
        .iter()
        .map(|&x| (x - 1.0).abs())
        .fold(0.0f32, f32::max);
    assert!(max_dev < 1e-4, "max |x − 1| = {max_dev}");
    eprintln!(
        "Rosenbrock n=100: f {f0:.3e} -> {:.3e} in {} iterations, {} CG steps",
        summary.final_objective, summary.iterations, summary.cg_iterations_total
    );
}

/// The exact Hessian also works (Rosenbrock's H is positive definite on this path
/// or CG reports negative curvature and the step still makes progress).
#[test]
fn hf_with_exact_hessian_makes_progress_on_rosenbrock() {
    let n = 20;
    let mut cfg = HfConfig::default();
    cfg.set_str("curvature", "hessian").unwrap();
    cfg.max_iters = 100;
    cfg.target_objective = 1e-8;
    let mut s = Session::new(Rosenbrock::new(n), &Rosenbrock::start(n), cfg).unwrap();
    let summary = s.run(|_| Control::Continue).unwrap();
    assert!(summary.final_objective < 1e-6, "{}", summary.brief());
}

fn logistic_config() -> HfConfig {
    HfConfig {
        chunk_size: 50,
        chunk_growth: 1.1,
        chunk_order: ChunkOrder::Random,
        seed: 7,
        max_iters: 12,
        initial_lambda: 1.0,
        ..HfConfig::default()
    }
}

fn run_reports(cfg: HfConfig) -> (Vec<u32>, Vec<String>) {
    let mut s = Session::new(Logistic::new(200, 10, 3, true), &[0.0; 10], cfg).unwrap();
    let mut lines = Vec::new();
    s.run(|r| {
        // Everything but wall time.
        let mut r = r.clone();
        r.wall_seconds = 0.0;
        r.total_seconds = 0.0;
        lines.push(format!("{r:?}"));
        Control::Continue
    })
    .unwrap();
    (bits(s.theta()), lines)
}

#[test]
fn same_config_gives_bit_identical_runs() {
    let (a, la) = run_reports(logistic_config());
    let (b, lb) = run_reports(logistic_config());
    assert_eq!(a, b);
    assert_eq!(la, lb);
    let mut other = logistic_config();
    other.seed = 8;
    let (c, _) = run_reports(other);
    assert_ne!(a, c, "the seed (random chunk order) should matter");
}

#[test]
fn logistic_session_reports_chunks_metrics_and_progress() {
    let mut s = Session::new(
        Logistic::new(200, 10, 3, true),
        &[0.0; 10],
        logistic_config(),
    )
    .unwrap();
    let mut reports = Vec::new();
    let summary = s
        .run(|r| {
            reports.push(r.clone());
            Control::Continue
        })
        .unwrap();
    assert_eq!(summary.termination, Termination::MaxIterations);
    assert_eq!(reports.len(), 12);
    let first = &reports[0];
    assert!(reports.last().unwrap().objective < first.objective);
    for (i, r) in reports.iter().enumerate() {
        assert_eq!(r.iteration, i as u64 + 1);
        let expected_len = ((50.0 * 1.1f64.powi(i as i32)).round() as u64).min(200);
        assert_eq!(r.chunk_len, expected_len, "iteration {}", i + 1);
        assert!(r.chunk_start + r.chunk_len <= 200);
        assert!(r.train_error.is_some() && r.test_error.is_some() && r.test_objective.is_some());
        assert!(r.cg_iterations >= 1 && r.products > r.cg_iterations);
        assert!(r.cg_chosen <= r.cg_iterations);
        assert!(!r.rejected);
    }
    assert_eq!(
        summary.cg_iterations_total,
        reports.iter().map(|r| r.cg_iterations).sum::<u64>()
    );
    assert_eq!(
        summary.products_total,
        reports.last().unwrap().products_total
    );
    assert!(summary.brief().contains("maximum number of iterations"));
}

#[test]
fn cyclic_chunks_cover_the_set_in_order() {
    let cfg = HfConfig {
        chunk_size: 80, // 200 = 80 + 80 + 40: the third chunk is shifted back to [120, 200)
        max_iters: 5,
        ..HfConfig::default()
    };
    let mut s = Session::new(Logistic::new(200, 4, 1, false), &[0.0; 4], cfg).unwrap();
    let mut starts = Vec::new();
    s.run(|r| {
        starts.push((r.chunk_start, r.chunk_len));
        Control::Continue
    })
    .unwrap();
    assert_eq!(
        starts,
        vec![(0, 80), (80, 80), (120, 80), (0, 80), (80, 80)]
    );
}

/// Resuming after k iterations and running m more gives bit-identical θ, λ
/// and previous direction to a straight k + m run.
#[test]
fn save_and_resume_equals_straight_run() {
    let (k, m) = (5u64, 7u64);
    let mut cfg = logistic_config();
    cfg.max_iters = (k + m) as i64;
    let mut straight =
        Session::new(Logistic::new(200, 10, 3, true), &[0.0; 10], cfg.clone()).unwrap();
    straight.run(|_| Control::Continue).unwrap();

    let mut first = Session::new(Logistic::new(200, 10, 3, true), &[0.0; 10], cfg).unwrap();
    for _ in 0..k {
        first.step().unwrap();
    }
    let path = temp_path("resume.hfs");
    first.save(&path).unwrap();
    drop(first);
    let mut resumed = Session::resume(Logistic::new(200, 10, 3, true), &path).unwrap();
    assert_eq!(resumed.iteration(), k);
    let summary = resumed.run(|_| Control::Continue).unwrap();
    assert_eq!(summary.iterations, m);
    assert_eq!(bits(resumed.theta()), bits(straight.theta()));
    assert_eq!(resumed.lambda().to_bits(), straight.lambda().to_bits());
    assert_eq!(
        bits(resumed.previous_direction()),
        bits(straight.previous_direction())
    );
    assert_eq!(resumed.counters().products, straight.counters().products);
    // A wrong-sized objective is refused.
    let e = Session::resume(Logistic::new(200, 9, 3, true), &path)
        .err()
        .unwrap();
    assert_eq!(e.kind(), ErrorKind::ShapeMismatch);
    std::fs::remove_file(&path).unwrap();
}

fn faulty_session(f: impl FnOnce(&mut Faulty<Rosenbrock>)) -> Session<Faulty<Rosenbrock>> {
    let mut obj = Faulty::new(Rosenbrock::new(10));
    f(&mut obj);
    Session::new(obj, &Rosenbrock::start(10), HfConfig::default()).unwrap()
}

#[test]
fn nan_gradient_rejects_step_keeps_theta_raises_lambda() {
    let mut s = faulty_session(|o| o.nan_grad = vec![1]);
    let r1 = s.step().unwrap();
    assert!(!r1.rejected);
    let (theta, lambda) = (s.theta().to_vec(), s.lambda());
    let r2 = s.step().unwrap();
    assert!(r2.rejected);
    assert_eq!(r2.reject_reason, Some(RejectReason::NonFiniteGradient));
    assert_eq!(bits(s.theta()), bits(&theta));
    assert_eq!(s.lambda(), lambda * 1.5);
    assert_eq!(r2.lambda, lambda * 1.5);
    assert!(s.previous_direction().iter().all(|&v| v == 0.0));
    assert!(r2.log_line().contains("REJECTED"), "{}", r2.log_line());
    let r3 = s.step().unwrap();
    assert!(!r3.rejected);
}

#[test]
fn nan_curvature_product_rejects_step() {
    let mut s = faulty_session(|o| o.nan_product = vec![2]);
    let (theta, lambda) = (s.theta().to_vec(), s.lambda());
    let r = s.step().unwrap();
    assert!(r.rejected);
    assert_eq!(r.reject_reason, Some(RejectReason::NonFiniteCurvature));
    assert_eq!(r.cg_stop, Some(hessfree::hf::cg::CgStop::NonFinite));
    assert_eq!(bits(s.theta()), bits(&theta));
    assert_eq!(s.lambda(), lambda * 1.5);
}

#[test]
fn nan_candidate_objectives_reject_step() {
    let mut s = faulty_session(|o| o.nan_loss = 0..1000);
    let (theta, lambda) = (s.theta().to_vec(), s.lambda());
    let r = s.step().unwrap();
    assert_eq!(r.reject_reason, Some(RejectReason::NonFiniteCandidate));
    assert_eq!(bits(s.theta()), bits(&theta));
    assert_eq!(s.lambda(), lambda * 1.5);
}

#[test]
fn persistent_nan_stops_the_run() {
    let mut s = faulty_session(|o| o.nan_grad = (0..100).collect());
    let mut cfg = s.config().clone();
    cfg.max_rejected_in_row = 3;
    s.set_config(cfg).unwrap();
    let summary = s.run(|_| Control::Continue).unwrap();
    assert_eq!(summary.termination, Termination::TooManyRejected);
    assert_eq!((summary.iterations, summary.rejected), (3, 3));
    assert_eq!(s.lambda(), 45.0 * 1.5 * 1.5 * 1.5);
}

/// An objective error propagates as `Err`, leaves the session as it was, and a
/// session that then continues matches one that never failed.
#[test]
fn objective_error_leaves_session_unchanged() {
    let mut clean = faulty_session(|_| {});
    let mut failing = faulty_session(|o| o.err_product = vec![3]);
    clean.step().unwrap();
    let e = failing.step().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Callback);
    assert_eq!(failing.iteration(), 0);
    assert_eq!(bits(failing.theta()), bits(&Rosenbrock::start(10)));
    assert_eq!(failing.lambda(), 45.0);
    failing.step().unwrap();
    assert_eq!(bits(failing.theta()), bits(clean.theta()));
    assert_eq!(failing.lambda(), clean.lambda());
}

#[test]
fn stop_handle_and_callback_stop_the_run() {
    let mut s = Session::new(
        Rosenbrock::new(10),
        &Rosenbrock::start(10),
        HfConfig::default(),
    )
    .unwrap();
    let handle = s.stop_handle();
    std::thread::spawn(move || handle.request_stop())
        .join()
        .unwrap();
    let summary = s.run(|_| Control::Continue).unwrap();
    assert_eq!(
        (summary.termination, summary.iterations),
        (Termination::StopRequested, 0)
    );
    // The request was consumed: the next run goes on until the callback stops it.
    let mut n = 0;
    let summary = s
        .run(|_| {
            n += 1;
            if n == 2 {
                Control::Stop
            } else {
                Control::Continue
            }
        })
        .unwrap();
    assert_eq!(
        (summary.termination, summary.iterations),
        (Termination::CallbackStop, 2)
    );
    // A stop requested from inside the callback ends the run after that step.
    let handle = s.stop_handle();
    let summary = s
        .run(|_| {
            handle.request_stop();
            Control::Continue
        })
        .unwrap();
    assert_eq!(
        (summary.termination, summary.iterations),
        (Termination::StopRequested, 1)
    );
}

#[test]
fn target_error_and_no_progress_stop_the_run() {
    let mut cfg = logistic_config();
    cfg.max_iters = 100;
    cfg.target_error = 1.0; // any error reaches it
    let mut s = Session::new(Logistic::new(200, 10, 3, true), &[0.0; 10], cfg).unwrap();
    let summary = s.run(|_| Control::Continue).unwrap();
    assert_eq!(
        (summary.termination, summary.iterations),
        (Termination::TargetError, 1)
    );

    let cfg = HfConfig {
        max_iters: 1000,
        no_progress_iters: 3,
        ..HfConfig::default()
    };
    let mut s = Session::new(Rosenbrock::new(10), &Rosenbrock::start(10), cfg).unwrap();
    let summary = s.run(|_| Control::Continue).unwrap();
    assert_eq!(
        summary.termination,
        Termination::NoProgress,
        "{}",
        summary.brief()
    );
}

#[test]
fn bad_inputs_are_errors() {
    let e = Session::new(Rosenbrock::new(10), &[0.0; 9], HfConfig::default())
        .err()
        .unwrap();
    assert_eq!(e.kind(), ErrorKind::ShapeMismatch);
    let mut start = Rosenbrock::start(10);
    start[3] = f32::NAN;
    let e = Session::new(Rosenbrock::new(10), &start, HfConfig::default())
        .err()
        .unwrap();
    assert_eq!(e.kind(), ErrorKind::NonFinite);
    let mut cfg = HfConfig::default();
    cfg.set_str("curvature", "empirical_fisher").unwrap();
    let e = Session::new(Rosenbrock::new(10), &Rosenbrock::start(10), cfg)
        .err()
        .unwrap();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    let cfg = HfConfig {
        rho_low: 0.9,
        ..HfConfig::default()
    };
    let e = Session::new(Rosenbrock::new(10), &Rosenbrock::start(10), cfg)
        .err()
        .unwrap();
    assert_eq!(e.kind(), ErrorKind::OutOfRange);
}

/// An objective that offers its own damped CG solve (as the CUDA backend
/// does), counting solves and the products asked of it directly.
struct OwnSolver<O> {
    inner: O,
    solves: usize,
    direct_products: usize,
}

impl<O: Objective> Objective for OwnSolver<O> {
    hf_common::delegate_to_inner!(
        num_params,
        num_examples,
        supports_curvature,
        loss,
        loss_and_gradient,
        set_curvature_chunk,
        chunk_loss,
        train_metrics,
        test_metrics,
    );
    fn curvature_product(&mut self, v: &[f32], out: &mut [f32]) -> hessfree::Result<()> {
        self.direct_products += 1;
        self.inner.curvature_product(v, out)
    }
    fn solve_damped(
        &mut self,
        system: &DampedSystem<'_>,
        x0: &[f32],
        opts: &CgOptions,
    ) -> hessfree::Result<Option<CgResult>> {
        self.solves += 1;
        let (inner, lambda) = (&mut self.inner, system.lambda);
        let damped = |v: &[f32], out: &mut [f32]| -> hessfree::Result<()> {
            inner.curvature_product(v, out)?;
            for (o, &vi) in out.iter_mut().zip(v) {
                *o = (*o as f64 + lambda * vi as f64) as f32;
            }
            Ok(())
        };
        let mut space = SerialSpace::new(damped, system.b, system.precond);
        cg::solve_in(&mut space, x0, opts).map(Some)
    }
}

/// The session runs CG through `Objective::solve_damped` when an objective
/// offers it (the GPU path), and only asks for the ρ product directly; a
/// space with its own summation order follows the host run closely.
#[test]
fn objective_solver_replaces_host_cg() {
    let host = {
        let mut s = Session::new(
            Logistic::new(200, 10, 3, true),
            &[0.0; 10],
            logistic_config(),
        )
        .unwrap();
        s.run(|_| Control::Continue).unwrap();
        s
    };
    let own = OwnSolver {
        inner: Logistic::new(200, 10, 3, true),
        solves: 0,
        direct_products: 0,
    };
    let mut s = Session::new(own, &[0.0; 10], logistic_config()).unwrap();
    let summary = s.run(|_| Control::Continue).unwrap();
    let iterations = summary.iterations as usize;
    assert_eq!(iterations, 12);
    assert_eq!(s.objective().solves, iterations);
    // One product per iteration for ρ; none for CG.
    assert_eq!(s.objective().direct_products, iterations);
    let (a, b) = (host.counters(), s.counters());
    assert_eq!(a.products, b.products, "same CG iterations and products");
    let (fa, fb) = (a.best_objective, b.best_objective);
    assert!(
        ((fa - fb) / fa).abs() < 1e-6,
        "host CG {fa} vs the objective's own solver {fb}"
    );
}

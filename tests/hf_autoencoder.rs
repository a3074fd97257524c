//! Issue 3's must-show, measured honestly: the issue's small deep autoencoder
//! (784-200-50-10 mirrored, logistic hidden and output units, linear code
//! layer, cross-entropy) on 2000 CURVES-like images, HF (reference defaults,
//! curvature chunk 500, 16 iterations) against SGD with momentum, at two
//! budgets.
//!
//! **The issue's measure, the same number of gradient evaluations.** HF
//! evaluates the full-batch gradient once per iteration: 16 passes of
//! gradients over the data. SGD with momentum is given the same 16 passes of
//! minibatch gradients (counted per example, the reading kindest to SGD) at
//! every learning rate of a sweep (0.0003 … 0.3, momentum 0.9 and 0.99): the
//! best ends at 30.18, on the plateau of the mean image (30.62), while HF
//! reaches 19.9. The test asserts that HF ends below 0.7× the best of them.
//!
//! **Total cost, passes over the data.** Charging HF also for its curvature
//! products, backtracking and line search (253.5 passes in all, counted
//! generously to SGD as below) tells a different story, and the test asserts
//! it too, so that the documentation stays honest:
//! - SGD with momentum 0.9 at learning rate 0.01 — the rate that was best on
//!   the narrower 784-50-25-10 net — is still stuck on the plateau (30.6),
//!   well above HF;
//! - at the tuned rate 0.003 it is NOT stuck: it ends *below* HF (10.9
//!   against 19.9).
//!
//! So per gradient evaluation HF is far ahead; per unit of work a tuned SGD
//! with momentum is ahead on this problem. The sweep ([`SWEEP_NOTES`],
//! `sgd_learning_rate_sweep`) shows the second is not a matter of the budget
//! either: after 1000 passes SGD at 0.01 is still at 30.6, while SGD at 0.003
//! is at 8.0 after 420 passes (HF: 14.7 after about 400 passes, 6.3 after
//! about 1900). Adam at HF's pass budget (`adam_at_hf_budget`) reaches 9.4 /
//! 4.1 / 2.2 at rates 0.0003 / 0.001 / 0.003. On the paper's deeper CURVES net
//! (`deep_curves_net_comparison`, 1000 images) HF is further behind per pass:
//! 27.8 after 30 iterations and 469.5 passes, SGD at 0.003: 11.4. (The
//! SWEEP_NOTES budgets were measured when HF was also charged a separate
//! metrics pass per iteration, about one pass more per iteration.)
//!
//! This agrees with Sutskever, Martens, Dahl and Hinton (ICML 2013): with
//! sparse initialisation and well-tuned momentum, first-order methods train
//! these autoencoders about as well as HF for the same work.
//!
//! The pass budget is counted generously to SGD. HF is charged, per
//! iteration: every full-batch evaluation (gradient, backtracking, line search
//! and the report's metrics pass) as one full pass, even the forward-only
//! ones; each curvature product as 2 passes over its chunk (an R-forward and a
//! backward pass); fixing the chunk and the two chunk losses for ρ as one
//! chunk pass each. SGD is charged only its minibatch gradients and gets at
//! least that many passes (its report passes are free). Counting by
//! floating-point work (a forward-only pass a third of a gradient, a product
//! 4/3 of one) would cut HF's budget by roughly a third and change no
//! conclusion.

use hessfree::data::curves;
use hessfree::firstorder::{FirstOrder, FirstOrderConfig, Method, Termination};
use hessfree::hf::{Control, HfConfig, IterationReport, Session};
use hessfree::net::{initial_params, Activation, Init, NetObjective, NetSpec};

/// One autoencoder problem: net, data and HF's budget.
#[derive(Clone, Copy)]
struct Problem {
    /// Encoder widths (the decoder mirrors them).
    encoder: &'static [usize],
    /// Training examples (the first of the CURVES-like stream, seed 2010).
    examples: usize,
    /// HF's curvature chunk.
    chunk: i64,
    /// HF iterations.
    hf_iters: i64,
}

/// The issue's example: 784-200-50-10 on 2000 images, chunk 500 (a quarter
/// of the set, HFDemo's CURVES ratio), enough HF iterations to leave the
/// plateau.
const ISSUE_NET: Problem = Problem {
    encoder: &[784, 200, 50, 10],
    examples: 2000,
    chunk: 500,
    hf_iters: 16,
};

/// The paper's CURVES net on 1000 images (see `deep_curves_net_comparison`).
const DEEP_NET: Problem = Problem {
    encoder: &[784, 400, 200, 100, 50, 25, 6],
    examples: 1000,
    chunk: 250,
    hf_iters: 30,
};

/// SGD's momentum.
const SGD_MOMENTUM: f64 = 0.9;
/// The (momentum, learning rate) pairs SGD gets at HF's gradient budget.
const GRADIENT_BUDGET_SWEEP: [(f64, f64); 10] = [
    (0.9, 0.0003),
    (0.9, 0.001),
    (0.9, 0.003),
    (0.9, 0.01),
    (0.9, 0.03),
    (0.9, 0.1),
    (0.9, 0.3),
    (0.99, 0.001),
    (0.99, 0.003),
    (0.99, 0.01),
];
/// The learning rate that leaves SGD with momentum stuck on [`ISSUE_NET`].
const SGD_STUCK_LEARNING_RATE: f64 = 0.01;
/// The best learning rate of [`SWEEP_NOTES`].
const SGD_TUNED_LEARNING_RATE: f64 = 0.003;
/// SGD's and Adam's minibatch size.
const SGD_BATCH: usize = 100;
/// The hand tuning of SGD with momentum on [`ISSUE_NET`] (batch 100,
/// shuffled batch order, same θ₀ and objective): training error after the
/// given passes (`sgd_learning_rate_sweep` reruns it at HF's budget).
#[allow(dead_code)]
const SWEEP_NOTES: &str = "momentum 0.9: lr 0.003 -> 10.55 (270 passes), 7.96 (420); \
    lr 0.01 -> 30.62 (270), 30.62 (1000); lr 0.03 -> 30.63 (420); lr 0.1 -> 30.69 (345); \
    lr 0.3 -> 31.05 (300); momentum 0.99: lr 0.003 -> 30.62 (345); \
    Adam lr 0.001: 17.5 (30), 9.26 (90)";

/// What one HF run cost and reached.
struct HfRun {
    /// Final training error.
    error: f64,
    /// Passes over the data, everything counted (see the module docs).
    passes: f64,
    /// Full-batch gradient evaluations, in passes over the data.
    gradient_passes: f64,
}

impl Problem {
    fn spec(&self) -> NetSpec {
        NetSpec::autoencoder(self.encoder, Activation::Logistic).unwrap()
    }

    fn config(&self) -> HfConfig {
        HfConfig {
            chunk_size: self.chunk,
            max_iters: self.hf_iters,
            seed: 5,
            // The documented numbers are CPU measurements.
            backend: hessfree::hf::BackendChoice::Cpu,
            ..HfConfig::default()
        }
    }

    fn objective(&self) -> NetObjective {
        let data = curves(self.examples, 2010).unwrap();
        NetObjective::from_config(self.spec(), data, None, &self.config())
            .unwrap()
            .0
    }

    fn theta0(&self) -> Vec<f32> {
        initial_params(&self.spec(), Init::default(), 17).unwrap()
    }

    /// Passes over the data one HF iteration cost (see the module docs).
    fn hf_passes(&self, r: &IterationReport) -> f64 {
        let chunk = r.chunk_len as f64 / self.examples as f64;
        r.evaluations as f64 + (2.0 * r.products as f64 + 3.0) * chunk
    }

    /// HF's final training error and the passes it spent.
    fn run_hf(&self) -> (f64, f64) {
        let run = self.run_hf_counted();
        (run.error, run.passes)
    }

    /// HF's run: final training error, passes spent, and full-batch gradient
    /// evaluations (one per iteration).
    fn run_hf_counted(&self) -> HfRun {
        let mut session = Session::new(self.objective(), &self.theta0(), self.config()).unwrap();
        let mut passes = 0.0;
        let mut gradients = 0;
        let summary = session
            .run(|r| {
                passes += self.hf_passes(r);
                gradients += 1;
                eprintln!("HF {}  (passes so far {passes:.2})", r.log_line());
                Control::Continue
            })
            .unwrap();
        eprintln!("{}", summary.brief());
        HfRun {
            error: summary.final_train_error.unwrap(),
            passes,
            gradient_passes: gradients as f64,
        }
    }

    /// SGD with momentum's final training error after `passes` passes.
    fn run_sgd(&self, learning_rate: f64, momentum: f64, passes: f64) -> f64 {
        let method = Method::Sgd {
            momentum,
            nesterov: false,
        };
        self.run_first_order(method, learning_rate, passes)
    }

    /// A first-order method's final training error after `passes` passes.
    fn run_first_order(&self, method: Method, learning_rate: f64, passes: f64) -> f64 {
        let config = FirstOrderConfig {
            method,
            learning_rate,
            batch_size: SGD_BATCH,
            max_epochs: 0,
            max_passes: passes,
            report_every: 50,
            seed: 5,
            ..FirstOrderConfig::sgd()
        };
        let mut first_order = FirstOrder::new(self.objective(), &self.theta0(), config).unwrap();
        let summary = first_order
            .run(|r| {
                eprintln!("first-order {}", r.log_line());
                Control::Continue
            })
            .unwrap();
        eprintln!("{method:?} lr {learning_rate}: {}", summary.brief());
        assert!(
            matches!(
                summary.termination,
                Termination::MaxPasses | Termination::NonFinite
            ),
            "{}",
            summary.brief()
        );
        summary.final_train_error.unwrap_or(f64::INFINITY)
    }

    /// Training error of the best constant output, the mean image: the plateau.
    fn mean_image_error(&self) -> f64 {
        let n = self.examples;
        let data = curves(n, 2010).unwrap();
        let d = data.input_dim();
        let mut mean = vec![0.0f64; d];
        for row in data.inputs().chunks_exact(d) {
            for (m, &x) in mean.iter_mut().zip(row) {
                *m += x as f64 / n as f64;
            }
        }
        let total: f64 = data
            .inputs()
            .chunks_exact(d)
            .map(|row| {
                row.iter()
                    .zip(&mean)
                    .map(|(&x, m)| (x as f64 - m).powi(2))
                    .sum::<f64>()
            })
            .sum();
        total / n as f64
    }
}

#[test]
fn hf_beats_sgd_per_gradient_evaluation_but_not_tuned_sgd_per_pass() {
    let problem = ISSUE_NET;
    let plateau = problem.mean_image_error();
    let hf = problem.run_hf_counted();
    let n = problem.examples;
    // The issue's measure: SGD gets HF's gradient evaluations, at every rate.
    let at_gradients: Vec<(f64, f64, f64)> = GRADIENT_BUDGET_SWEEP
        .iter()
        .map(|&(momentum, lr)| {
            let e = problem.run_sgd(lr, momentum, hf.gradient_passes);
            (momentum, lr, e)
        })
        .collect();
    let best = at_gradients
        .iter()
        .copied()
        .min_by(|a, b| a.2.total_cmp(&b.2))
        .unwrap();
    let sweep: Vec<String> = at_gradients
        .iter()
        .map(|(m, lr, e)| format!("m {m} lr {lr}: {e:.3}"))
        .collect();
    // Total cost: SGD gets all of HF's passes.
    let stuck = problem.run_sgd(SGD_STUCK_LEARNING_RATE, SGD_MOMENTUM, hf.passes);
    let tuned = problem.run_sgd(SGD_TUNED_LEARNING_RATE, SGD_MOMENTUM, hf.passes);
    let message = format!(
        "{n} CURVES-like images, mean-image error {plateau:.3}. \
         Same gradient evaluations ({:.0} passes of gradients): HF train error {:.3}, \
         SGD with momentum (batch {SGD_BATCH}) at best {:.3} (momentum {}, lr {}); all: {}. \
         Same total passes ({:.1}): SGD+momentum {SGD_MOMENTUM} {stuck:.3} at lr \
         {SGD_STUCK_LEARNING_RATE}, {tuned:.3} at lr {SGD_TUNED_LEARNING_RATE}",
        hf.gradient_passes,
        hf.error,
        best.2,
        best.0,
        best.1,
        sweep.join(", "),
        hf.passes,
    );
    eprintln!("{message}");
    assert!(
        hf.error < 0.7 * plateau,
        "HF did not leave the plateau: {message}"
    );
    assert!(
        hf.error < 0.7 * best.2,
        "HF is not well below SGD with momentum at the same gradient evaluations: {message}"
    );
    assert!(
        stuck > 0.95 * plateau && hf.error < 0.7 * stuck,
        "expected SGD at lr {SGD_STUCK_LEARNING_RATE} stuck on the plateau and HF well below it: {message}"
    );
    assert!(
        tuned < hf.error,
        "tuned SGD no longer ends below HF at equal passes: update the module docs and the README: {message}"
    );
}

#[test]
#[ignore = "learning-rate sweep for SGD (minutes); run with --ignored --nocapture"]
fn sgd_learning_rate_sweep() {
    let problem = ISSUE_NET;
    let (hf_error, passes) = problem.run_hf();
    eprintln!("HF: train error {hf_error:.3} after {passes:.1} passes");
    for momentum in [0.9, 0.99] {
        for lr in [0.001, 0.003, 0.01, 0.03, 0.1, 0.3] {
            let e = problem.run_sgd(lr, momentum, passes);
            eprintln!("SWEEP momentum {momentum} lr {lr}: train error {e:.3}");
        }
    }
}

#[test]
#[ignore = "Adam at HF's budget (minutes); run with --ignored --nocapture"]
fn adam_at_hf_budget() {
    let problem = ISSUE_NET;
    let (hf_error, passes) = problem.run_hf();
    let adam = FirstOrderConfig::adam().method;
    for lr in [0.0003, 0.001, 0.003] {
        let e = problem.run_first_order(adam, lr, passes);
        eprintln!("ADAM lr {lr}: train error {e:.3} after {passes:.1} passes (HF {hf_error:.3})");
    }
}

#[test]
#[ignore = "the paper's CURVES net on 1000 images (about 10 minutes); run with --ignored --nocapture"]
fn deep_curves_net_comparison() {
    let problem = DEEP_NET;
    let (hf_error, passes) = problem.run_hf();
    let tuned = problem.run_sgd(SGD_TUNED_LEARNING_RATE, SGD_MOMENTUM, passes);
    eprintln!(
        "DEEP after {passes:.1} passes: HF {hf_error:.3}, SGD+momentum lr {SGD_TUNED_LEARNING_RATE} {tuned:.3}, \
         mean image {:.3}",
        problem.mean_image_error()
    );
}

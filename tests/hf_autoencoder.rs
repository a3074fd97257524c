//! Issue 3's must-show, measured honestly: the small deep autoencoder
//! (784-200-50-10 mirrored, logistic hidden and output units, linear code
//! layer, cross-entropy) on 2000 CURVES-like images, HF (reference defaults,
//! curvature chunk 500) against SGD with momentum at an equal budget of passes
//! over the data.
//!
//! What this test asserts, all at HF's budget (16 iterations, ≈ 270 passes):
//! - HF leaves the "mean image" plateau: its training error ends below 0.7×
//!   that of the best constant output (measured: 19.9 against 30.6);
//! - SGD with momentum 0.9 at learning rate 0.01 — the rate that was best on
//!   the narrower 784-50-25-10 net — is left stuck on the plateau (30.6), so
//!   HF ends well below it (below 0.7× its error);
//! - SGD with momentum 0.9 at the tuned rate 0.003 is NOT stuck: it ends
//!   *below* HF (10.6 against 19.9). The test asserts this too, so that the
//!   finding stays true of the code and the documentation stays honest.
//!
//! So the issue's claim — "HF drives its training error well below what the
//! same number of gradient evaluations of SGD with momentum reaches" — holds
//! only against SGD at learning rates that stay stuck, not against a tuned
//! SGD. The sweep ([`SWEEP_NOTES`], `sgd_learning_rate_sweep`) shows it is
//! not a matter of the budget either: after 1000 passes SGD at 0.01 is still at
//! 30.6, while SGD at 0.003 is at 8.0 after 420 passes (HF: 14.7 after 413
//! passes, 6.3 after 1936 passes). Adam (lr 0.001) reaches 9.3 after 90
//! passes. This agrees with Sutskever, Martens, Dahl and Hinton (ICML 2013):
//! with sparse initialisation and well-tuned momentum, first-order methods
//! train these autoencoders about as well as HF.
//!
//! The budget is counted generously to SGD. HF is charged, per iteration:
//! every full-batch evaluation (gradient, backtracking, line search and the
//! report's metrics pass) as one full pass, even the forward-only ones; each
//! curvature product as 2 passes over its chunk (an R-forward and a backward
//! pass); fixing the chunk and the two chunk losses for ρ as one chunk pass
//! each. SGD is charged only its minibatch gradients and gets at least that
//! many passes (its report passes are free). Counting by floating-point work
//! (a forward-only pass a third of a gradient, a product 4/3 of one) would
//! cut HF's budget by roughly a third and change no conclusion.

use hessfree::data::curves;
use hessfree::firstorder::{FirstOrder, FirstOrderConfig, Method, Termination};
use hessfree::hf::{Control, HfConfig, IterationReport, Session};
use hessfree::net::{initial_params, Activation, Init, NetObjective, NetSpec};

/// Training examples.
const N: usize = 2000;
/// HF's curvature chunk (a quarter of the set, HFDemo's CURVES ratio).
const CHUNK: i64 = 500;
/// HF iterations: enough to leave the plateau.
const HF_ITERS: i64 = 16;
/// SGD's momentum.
const SGD_MOMENTUM: f64 = 0.9;
/// The learning rate that leaves SGD with momentum stuck on this net.
const SGD_STUCK_LEARNING_RATE: f64 = 0.01;
/// The best learning rate of [`SWEEP_NOTES`].
const SGD_TUNED_LEARNING_RATE: f64 = 0.003;
/// SGD's minibatch size.
const SGD_BATCH: usize = 100;
/// The hand tuning of SGD with momentum (batch 100, shuffled batch order,
/// same θ₀ and objective): training error after the given passes. HF (these
/// settings, more iterations): 19.9 after 270 passes, 14.7 after 413, 11.9
/// after 1000, 6.3 after 1936.
#[allow(dead_code)]
const SWEEP_NOTES: &str = "momentum 0.9: lr 0.001 -> see sweep, lr 0.003 -> 10.55 (270), \
    7.96 (420); lr 0.01 -> 30.62 (270), 30.62 (1000); lr 0.03 -> 30.63 (420); \
    lr 0.1 -> 30.69 (345); lr 0.3 -> 31.05 (300); momentum 0.99: lr 0.003 -> 30.62 (345); \
    Adam lr 0.001: 17.5 (30), 9.26 (90)";

fn spec() -> NetSpec {
    NetSpec::autoencoder(&[784, 200, 50, 10], Activation::Logistic).unwrap()
}

fn config() -> HfConfig {
    HfConfig {
        chunk_size: CHUNK,
        max_iters: HF_ITERS,
        seed: 5,
        // The documented numbers are CPU measurements.
        backend: hessfree::hf::BackendChoice::Cpu,
        ..HfConfig::default()
    }
}

fn objective() -> NetObjective {
    let data = curves(N, 2010).unwrap();
    NetObjective::from_config(spec(), data, None, &config())
        .unwrap()
        .0
}

fn theta0() -> Vec<f32> {
    initial_params(&spec(), Init::default(), 17).unwrap()
}

/// Passes over the data one HF iteration cost (see the module docs).
fn hf_passes(r: &IterationReport) -> f64 {
    let chunk = r.chunk_len as f64 / N as f64;
    r.evaluations as f64 + (2.0 * r.products as f64 + 3.0) * chunk
}

/// HF's final training error and the passes it spent.
fn run_hf() -> (f64, f64) {
    let mut session = Session::new(objective(), &theta0(), config()).unwrap();
    let mut passes = 0.0;
    let summary = session
        .run(|r| {
            passes += hf_passes(r);
            eprintln!("HF {}  (passes so far {passes:.2})", r.log_line());
            Control::Continue
        })
        .unwrap();
    eprintln!("{}", summary.brief());
    (summary.final_train_error.unwrap(), passes)
}

/// SGD with momentum's final training error after `passes` passes.
fn run_sgd(learning_rate: f64, momentum: f64, passes: f64) -> f64 {
    let config = FirstOrderConfig {
        method: Method::Sgd {
            momentum,
            nesterov: false,
        },
        learning_rate,
        batch_size: SGD_BATCH,
        max_epochs: 0,
        max_passes: passes,
        report_every: 50,
        seed: 5,
        ..FirstOrderConfig::sgd()
    };
    let mut sgd = FirstOrder::new(objective(), &theta0(), config).unwrap();
    let summary = sgd
        .run(|r| {
            eprintln!("SGD {}", r.log_line());
            Control::Continue
        })
        .unwrap();
    eprintln!(
        "lr {learning_rate} momentum {momentum}: {}",
        summary.brief()
    );
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
fn mean_image_error() -> f64 {
    let data = curves(N, 2010).unwrap();
    let d = data.input_dim();
    let mut mean = vec![0.0f64; d];
    for row in data.inputs().chunks_exact(d) {
        for (m, &x) in mean.iter_mut().zip(row) {
            *m += x as f64 / N as f64;
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
    total / N as f64
}

#[test]
fn hf_beats_stuck_sgd_but_not_tuned_sgd_at_equal_passes() {
    let plateau = mean_image_error();
    let (hf_error, passes) = run_hf();
    let stuck = run_sgd(SGD_STUCK_LEARNING_RATE, SGD_MOMENTUM, passes);
    let tuned = run_sgd(SGD_TUNED_LEARNING_RATE, SGD_MOMENTUM, passes);
    let message = format!(
        "after {passes:.1} passes over {N} CURVES-like images: HF train error {hf_error:.3}; \
         SGD+momentum {SGD_MOMENTUM} (batch {SGD_BATCH}) train error {stuck:.3} at lr \
         {SGD_STUCK_LEARNING_RATE}, {tuned:.3} at lr {SGD_TUNED_LEARNING_RATE}; \
         mean-image error {plateau:.3}"
    );
    eprintln!("{message}");
    assert!(
        hf_error < 0.7 * plateau,
        "HF did not leave the plateau: {message}"
    );
    assert!(
        stuck > 0.95 * plateau && hf_error < 0.7 * stuck,
        "expected SGD at lr {SGD_STUCK_LEARNING_RATE} stuck on the plateau and HF well below it: {message}"
    );
    assert!(
        tuned < hf_error,
        "tuned SGD no longer ends below HF: update the module docs and the README: {message}"
    );
}

#[test]
#[ignore = "learning-rate sweep for SGD (minutes); run with --ignored --nocapture"]
fn sgd_learning_rate_sweep() {
    let (hf_error, passes) = run_hf();
    eprintln!("HF: train error {hf_error:.3} after {passes:.1} passes");
    for momentum in [0.9, 0.99] {
        for lr in [0.001, 0.003, 0.01, 0.03, 0.1, 0.3] {
            let e = run_sgd(lr, momentum, passes);
            eprintln!("SWEEP momentum {momentum} lr {lr}: train error {e:.3}");
        }
    }
}

//! Issue 3's must-show, measured honestly: a small deep autoencoder
//! (784-50-25-10 mirrored, logistic hidden and output units, linear code
//! layer, cross-entropy) on 2000 CURVES-like images, HF against SGD with
//! momentum at an equal budget of passes over the data.
//!
//! What this test asserts: HF (defaults except chunk 500, 11 iterations,
//! initial λ = 1) leaves the "mean image" plateau — its training error ends
//! below 0.7× that of the best constant output — and it prints HF's and
//! tuned SGD's errors side by side.
//!
//! What it does NOT show (measured, see [`SWEEP_NOTES`]): that HF beats a
//! tuned SGD here. At HF's budget (250 passes), SGD with momentum 0.9 and
//! learning rate 0.01 also leaves the plateau and ends lower (15.1 against
//! HF's 20.3); every other learning rate tried stays on the plateau (≈ 30.6).
//! A deeper net (784-64-32-16-8) made it worse for HF (12 iterations, 278
//! passes: HF 25.3, SGD lr 0.01: 11.3, lr 0.003: 18.3).
//!
//! The budget is counted generously to SGD. HF is charged, per iteration:
//! every full-batch evaluation (gradient, backtracking, line search and the
//! report's metrics pass) as one full pass, even the forward-only ones; each
//! curvature product as 2 passes over its chunk (an R-forward and a backward
//! pass); fixing the chunk and the two chunk losses for ρ as one chunk pass
//! each. SGD is charged only its minibatch gradients and gets at least that
//! many passes (its report passes are free). Counting forward-only passes at
//! a third of a gradient pass would cut HF's budget by roughly a third.
//!
//! λ₀ = 1 instead of the reference code's 45: with 45 the same escape
//! happens later (training error 20.3 after 20 iterations and 383 passes
//! instead of 11 iterations and 250 passes), which would make the SGD run
//! half as long again. The widths are smaller than the example
//! (50-25 instead of 200-50) to keep the SGD run cheap; 784-100-50-10
//! behaves the same way (HF 15.9 after 20 iterations, 422 passes, λ₀ = 45).

use hessfree::data::curves;
use hessfree::firstorder::{FirstOrder, FirstOrderConfig, Method, Termination};
use hessfree::hf::{Control, HfConfig, IterationReport, Session};
use hessfree::net::{initial_params, Activation, Init, NetObjective, NetSpec};

/// Training examples.
const N: usize = 2000;
/// HF's curvature chunk.
const CHUNK: i64 = 500;
/// HF iterations.
const HF_ITERS: i64 = 11;
/// HF's initial damping (see the module docs).
const INITIAL_LAMBDA: f64 = 1.0;
/// SGD's momentum and learning rate: the best of [`SWEEP_NOTES`].
const SGD_MOMENTUM: f64 = 0.9;
/// See [`SGD_MOMENTUM`].
const SGD_LEARNING_RATE: f64 = 0.01;
/// SGD's minibatch size.
const SGD_BATCH: usize = 100;
/// The hand tuning of SGD with momentum (batch 100, shuffled batch order,
/// same θ₀ and objective), final training error after HF's 250.25 passes
/// (lr 0.03–1: after 200 passes).
#[allow(dead_code)]
const SWEEP_NOTES: &str = "momentum 0.9: lr 0.003 -> 30.62, lr 0.01 -> 15.14, \
    lr 0.03 -> 30.63 (30.62 at 200), lr 0.1 -> 30.76, lr 0.3 -> 30.85, lr 1 -> 31.00; \
    momentum 0.99: lr 0.01 -> 30.64, lr 0.03 -> 30.77";

fn spec() -> NetSpec {
    NetSpec::autoencoder(&[784, 50, 25, 10], Activation::Logistic).unwrap()
}

fn config() -> HfConfig {
    HfConfig {
        chunk_size: CHUNK,
        max_iters: HF_ITERS,
        initial_lambda: INITIAL_LAMBDA,
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
fn hf_leaves_the_plateau_and_is_compared_with_tuned_sgd_at_equal_passes() {
    let plateau = mean_image_error();
    let (hf_error, passes) = run_hf();
    let sgd_error = run_sgd(SGD_LEARNING_RATE, SGD_MOMENTUM, passes);
    let message = format!(
        "after {passes:.1} passes over {N} CURVES-like images: HF train error {hf_error:.3}, \
         SGD+momentum (lr {SGD_LEARNING_RATE}, momentum {SGD_MOMENTUM}, batch {SGD_BATCH}) \
         train error {sgd_error:.3}; mean-image error {plateau:.3}"
    );
    eprintln!("{message}");
    assert!(
        hf_error < 0.7 * plateau,
        "HF did not leave the plateau: {message}"
    );
    assert!(sgd_error.is_finite(), "{message}");
}

#[test]
#[ignore = "learning-rate sweep for SGD (minutes); run with --ignored --nocapture"]
fn sgd_learning_rate_sweep() {
    let (hf_error, passes) = run_hf();
    eprintln!("HF: train error {hf_error:.3} after {passes:.1} passes");
    for momentum in [0.9, 0.99] {
        for lr in [0.003, 0.01, 0.03, 0.1, 0.3, 1.0] {
            let e = run_sgd(lr, momentum, passes);
            eprintln!("SWEEP momentum {momentum} lr {lr}: train error {e:.3}");
        }
    }
}

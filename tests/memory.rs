//! Peak memory of training stays at "the data + one curvature chunk's
//! activations + one pass slice + the optimizer's vectors", never the
//! activations of every training example.
//!
//! One test only in this file, so nothing else runs in the process while the
//! peak resident set size (`VmHWM`, reset through `/proc/self/clear_refs`) is
//! measured. Linux only; elsewhere it prints `SKIPPED`.
//!
//! The network is chosen so the two answers are far apart: 20000 examples of
//! 50 values through a 2000-wide hidden layer have 20000 × 2050 × 4 B =
//! 164 MB of activations (×3 for what a Gauss-Newton cache keeps), while the
//! data are 4 MB, a 1000-example chunk's cache and a 1000-example pass slice
//! about 25 MB each, and the optimizer's vectors 26 MB.
//! A second phase trains 4000 examples passed over in one slice, where the
//! CPU backend keeps the last two passes' activations (2 × 34 MB) for the
//! next step's gradient: the estimate must still hold.

use hessfree::backend::memory::training_estimate;
use hessfree::data::Dataset;
use hessfree::hf::{HfConfig, Session};
use hessfree::net::{initial_params, Activation, Init, NetObjective, NetSpec};
use hessfree::rng::Rng;

/// A `kB` field of `/proc/self/status`, in bytes.
fn status_bytes(field: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Resets the peak RSS to the current RSS (Linux ≥ 4.0).
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

const MB: f64 = 1e6;

#[test]
fn training_peak_memory_is_one_chunk_not_the_whole_set() {
    // The whole set in slices of 1000: memory of one slice, not of the set.
    if !check_peak(20_000, 1000, 1, true) {
        return;
    }
    // A set passed over in one slice: the CPU backend then remembers the
    // last two passes' activations (for the next step's gradient and
    // curvature chunk), which must stay within the estimate too.
    check_peak(4000, 5000, 2, false);
}

/// Trains `iterations` HF steps on `n` examples with pass slices of
/// `eval_chunk` and checks the growth of the peak RSS against the estimate
/// (and, when `below_all_activations`, against the activations of all
/// examples). Returns false where the peak cannot be measured.
fn check_peak(n: usize, eval_chunk: i64, iterations: usize, below_all_activations: bool) -> bool {
    let (d, hidden) = (50usize, 2000usize);
    let spec = NetSpec::new(
        vec![d, hidden, d],
        vec![Activation::Logistic, Activation::Logistic],
    )
    .expect("spec");
    let theta = initial_params(&spec, Init::default(), 1).expect("init");
    let mut rng = Rng::new(3);
    let x: Vec<f32> = (0..n * d).map(|_| rng.uniform() as f32).collect();
    let data = Dataset::autoencoder(n, d, x).expect("data");
    let config = HfConfig {
        chunk_size: 1000,
        eval_chunk_size: eval_chunk,
        cg_max_iters: 10,
        max_iters: iterations as i64,
        // Host memory of the CPU backend is measured (a GPU run would keep
        // the activations on the device and add the CUDA context's memory).
        backend: hessfree::hf::BackendChoice::Cpu,
        ..HfConfig::default()
    };
    let widths: usize = spec.sizes()[1..].iter().sum();
    let all_activations = (n * widths * 4) as f64;
    let data_bytes = (n * d * 4) as f64;
    let estimate = training_estimate(&spec, &config, n) as f64 + data_bytes;

    if status_bytes("VmHWM:").is_none() || !reset_peak() {
        eprintln!("SKIPPED: no /proc/self/status VmHWM or clear_refs; peak memory not measured");
        return false;
    }
    let before = status_bytes("VmRSS:").expect("VmRSS") as f64;
    let (objective, _) =
        NetObjective::from_config(spec, data, None, &config).expect("network objective");
    let mut session = Session::new(objective, &theta, config).expect("session");
    for _ in 0..iterations {
        let report = session.step().expect("one HF iteration");
        assert!(report.objective.is_finite());
    }
    let peak = status_bytes("VmHWM:").expect("VmHWM") as f64;
    let grown = peak - before;
    eprintln!(
        "{n} examples: peak RSS grew by {:.1} MB while training {iterations} iteration(s) \
         (estimate {:.1} MB incl. {:.1} MB of data; all examples' activations would be \
         {:.1} MB per copy)",
        grown / MB,
        estimate / MB,
        data_bytes / MB,
        all_activations / MB
    );
    // The data set was created before `before`, so `grown` is the training's own memory.
    assert!(
        grown < 1.5 * estimate,
        "training used {:.1} MB, more than 1.5 × the estimate {:.1} MB",
        grown / MB,
        estimate / MB
    );
    if below_all_activations {
        assert!(
            grown < 0.6 * all_activations,
            "training used {:.1} MB: as much as the activations of all {n} examples ({:.1} MB)",
            grown / MB,
            all_activations / MB
        );
    }
    true
}

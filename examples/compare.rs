//! Benchmark driver for `benches/compare/run.sh`: trains a small CURVES-like
//! autoencoder with hessfree's HF, SGD with momentum or Adam until a fixed
//! training error, and exports the same data and initial parameters as
//! `.npy` files for the Python `hessianfree` package.
//!
//! ```text
//! cargo run --release --example compare -- export --out /tmp/cmp
//! cargo run --release --example compare -- train --method hf --target 20
//! cargo run --release --example compare -- train --method adam --lr 1e-3 --target 20
//! ```
//!
//! `train` prints one line `RESULT {json}` with the wall and CPU seconds, the
//! passes over the data and whether the target was reached. The error is the
//! paper's: mean per-example sum of squared reconstruction errors.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand, ValueEnum};
use hessfree::data::{curves, Dataset};
use hessfree::firstorder::{FirstOrder, FirstOrderConfig, Method as FoMethod};
use hessfree::hf::{BackendChoice, Control, HfConfig, Session, Termination};
use hessfree::net::{initial_params, Activation, Init, NetObjective, NetSpec, DEFAULT_WEIGHT_COST};

#[path = "../benches/support/op_problem.rs"]
mod op_problem;
use op_problem::OpProblem;

#[derive(Parser)]
#[command(about = "hessfree vs first-order baselines on a small CURVES-like autoencoder")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The problem: shared by every subcommand so that all methods see the same
/// data and the same initial parameters.
#[derive(clap::Args, Clone)]
struct Problem {
    /// Training images (the first N of the CURVES-like stream).
    #[arg(long, default_value_t = 2000)]
    train_size: usize,
    /// Encoder sizes from the input to the code; the decoder mirrors them.
    #[arg(long, default_value = "784,200,50,6", value_delimiter = ',')]
    encoder: Vec<usize>,
    /// Seed of the data stream.
    #[arg(long, default_value_t = 1)]
    data_seed: u64,
    /// Seed of the sparse initialisation.
    #[arg(long, default_value_t = 1)]
    init_seed: u64,
}

#[derive(Subcommand)]
enum Command {
    /// Write x.npy (N×784 float32) and theta0.npy (float32; per layer the
    /// fan_in×fan_out weights row-major, then the biases: the layout of
    /// `hessianfree.FFNet` too) into --out.
    Export {
        #[command(flatten)]
        problem: Problem,
        /// Output folder (created if missing).
        #[arg(long)]
        out: PathBuf,
    },
    /// Per-operation wall and CPU times (the operations of `benches/ops.rs`,
    /// which reports wall time only) on the paper's CURVES (chunk 5000) and
    /// MNIST (chunk 7500) autoencoders; prints `OPS {json}` lines.
    Ops {
        /// Timed repetitions after one warm-up.
        #[arg(long, default_value_t = 5)]
        reps: usize,
    },
    /// Train until --target (or a budget) and print `RESULT {json}`.
    Train {
        #[command(flatten)]
        problem: Problem,
        /// The optimizer.
        #[arg(long, value_enum)]
        method: Method,
        /// Target training error.
        #[arg(long)]
        target: f64,
        /// Learning rate (SGD, Adam).
        #[arg(long, default_value_t = 0.0)]
        lr: f64,
        /// Momentum (SGD).
        #[arg(long, default_value_t = 0.9)]
        momentum: f64,
        /// Minibatch size (SGD, Adam).
        #[arg(long, default_value_t = 100)]
        batch: usize,
        /// HF curvature chunk in examples (0 = the whole training set).
        #[arg(long, default_value_t = 0)]
        chunk: usize,
        /// Seed of the run (minibatch order, HF chunk order).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Give up after this many seconds of training.
        #[arg(long, default_value_t = 300.0)]
        max_seconds: f64,
        /// Give up after this many passes over the data (first-order) or HF
        /// iterations (HF).
        #[arg(long, default_value_t = 500.0)]
        max_budget: f64,
        /// Print every iteration/epoch.
        #[arg(long)]
        verbose: bool,
        /// Compute backend. The CPU by default, so that the CPU benchmark
        /// measures the CPU on a machine with a GPU too; `cuda` fails where
        /// the CUDA backend cannot start, `auto` falls back to the CPU.
        #[arg(long, value_enum, default_value = "cpu")]
        backend: BackendArg,
    },
}

/// Where `compare train` computes.
#[derive(Clone, Copy, ValueEnum)]
enum BackendArg {
    /// The CPU backend.
    Cpu,
    /// The CUDA backend (an error where it cannot start).
    Cuda,
    /// CUDA when it starts, else the CPU (the RESULT line says which).
    Auto,
}

impl From<BackendArg> for BackendChoice {
    fn from(b: BackendArg) -> Self {
        match b {
            BackendArg::Cpu => BackendChoice::Cpu,
            BackendArg::Cuda => BackendChoice::Cuda,
            BackendArg::Auto => BackendChoice::Auto,
        }
    }
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum Method {
    Hf,
    Sgd,
    Adam,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Export { problem, out } => export(&problem, &out),
        Command::Ops { reps } => ops(reps.max(1)),
        Command::Train {
            problem,
            method,
            target,
            lr,
            momentum,
            batch,
            chunk,
            seed,
            max_seconds,
            max_budget,
            verbose,
            backend,
        } => {
            let run = RunOptions {
                target,
                lr,
                momentum,
                batch,
                chunk,
                seed,
                max_seconds,
                max_budget,
                verbose,
                backend: backend.into(),
            };
            train(&problem, method, &run)
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

struct RunOptions {
    target: f64,
    lr: f64,
    momentum: f64,
    batch: usize,
    chunk: usize,
    seed: u64,
    max_seconds: f64,
    max_budget: f64,
    verbose: bool,
    backend: BackendChoice,
}

fn spec_of(problem: &Problem) -> Result<NetSpec, String> {
    NetSpec::autoencoder(&problem.encoder, Activation::Logistic).map_err(|e| e.to_string())
}

fn data_of(problem: &Problem) -> Result<Dataset, String> {
    curves(problem.train_size, problem.data_seed).map_err(|e| e.to_string())
}

fn export(problem: &Problem, out: &Path) -> Result<(), String> {
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create '{}': {e}", out.display()))?;
    let spec = spec_of(problem)?;
    let data = data_of(problem)?;
    let theta0 =
        initial_params(&spec, Init::default(), problem.init_seed).map_err(|e| e.to_string())?;
    write_npy(
        &out.join("x.npy"),
        data.inputs(),
        &[data.len(), data.input_dim()],
    )?;
    write_npy(&out.join("theta0.npy"), &theta0, &[theta0.len()])?;
    println!(
        "exported {} images and {} parameters ({}) to {}",
        data.len(),
        theta0.len(),
        spec.describe(),
        out.display()
    );
    Ok(())
}

/// A little-endian float32 `.npy` file (format version 1.0).
fn write_npy(path: &Path, values: &[f32], shape: &[usize]) -> Result<(), String> {
    let fail = |e: std::io::Error| format!("cannot write '{}': {e}", path.display());
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    let shape_text = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape_text}, }}");
    // Magic (6) + version (2) + length (2) + header + '\n' is a multiple of 64.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut w = BufWriter::new(File::create(path).map_err(fail)?);
    w.write_all(b"\x93NUMPY\x01\x00").map_err(fail)?;
    let len = u16::try_from(header.len()).map_err(|_| "npy header too long".to_string())?;
    w.write_all(&len.to_le_bytes()).map_err(fail)?;
    w.write_all(header.as_bytes()).map_err(fail)?;
    for v in values {
        w.write_all(&v.to_le_bytes()).map_err(fail)?;
    }
    w.flush().map_err(fail)
}

/// User + system CPU seconds of this process (all threads).
fn cpu_seconds() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a complete rusage into the pointer it is given.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) };
    if rc != 0 {
        return f64::NAN;
    }
    // SAFETY: rc == 0, so the struct was written.
    let u = unsafe { usage.assume_init() };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// Wall and CPU milliseconds of `reps` runs after one warm-up: (median
/// wall, min wall, median CPU).
fn time_op(reps: usize, mut f: impl FnMut()) -> (f64, f64, f64) {
    f();
    let mut walls = Vec::with_capacity(reps);
    let mut cpus = Vec::with_capacity(reps);
    for _ in 0..reps {
        let (w, c) = (Instant::now(), cpu_seconds());
        f();
        walls.push(w.elapsed().as_secs_f64() * 1e3);
        cpus.push((cpu_seconds() - c) * 1e3);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    let min = walls.iter().copied().fold(f64::INFINITY, f64::min);
    (median(&mut walls), min, median(&mut cpus))
}

/// The operations of `benches/ops.rs` (same nets, chunks, data and
/// parameters), timed with CPU time as well as wall time.
fn ops(reps: usize) -> Result<(), String> {
    for (name, encoder, n) in [
        ("curves", &[784, 400, 200, 100, 50, 25, 6][..], 5000),
        ("mnist", &[784, 1000, 500, 250, 30][..], 7500),
    ] {
        let problem = OpProblem::new(encoder, n)?;
        let [forward, gradient, gv] = problem.time_ops(|f| time_op(reps, f));
        for (op, ((wall, min, cpu), flop)) in
            [("forward", forward), ("gradient", gradient), ("gv", gv)]
        {
            println!(
                "OPS {{\"impl\": \"hessfree\", \"net\": \"{name}\", \"chunk\": {n}, \"op\": \"{op}\", \
                 \"wall_ms\": {wall:.3}, \"min_wall_ms\": {min:.3}, \"cpu_ms\": {cpu:.3}, \"gflops\": {:.3}}}",
                flop / wall / 1e6
            );
        }
    }
    Ok(())
}

/// What a training run measured.
struct Outcome {
    reached: bool,
    final_error: f64,
    passes: f64,
    iterations: u64,
    gradient_passes: f64,
    detail: String,
}

fn train(problem: &Problem, method: Method, run: &RunOptions) -> Result<(), String> {
    let spec = spec_of(problem)?;
    let data = data_of(problem)?;
    let n = data.len();
    let theta0 =
        initial_params(&spec, Init::default(), problem.init_seed).map_err(|e| e.to_string())?;
    let config = HfConfig {
        weight_cost: DEFAULT_WEIGHT_COST,
        chunk_size: run.chunk as i64,
        seed: run.seed as i64,
        backend: run.backend,
        ..HfConfig::default()
    };
    config.validate().map_err(|e| e.to_string())?;
    let (objective, backend_note) =
        NetObjective::from_config(spec, data, None, &config).map_err(|e| e.to_string())?;

    let (wall0, cpu0) = (Instant::now(), cpu_seconds());
    let outcome = match method {
        Method::Hf => train_hf(objective, &theta0, config, n, run)?,
        Method::Sgd | Method::Adam => train_first_order(objective, &theta0, method, run)?,
    };
    let (wall, cpu) = (wall0.elapsed().as_secs_f64(), cpu_seconds() - cpu0);
    println!(
        "RESULT {{\"method\": \"{}\", \"lr\": {}, \"momentum\": {}, \"batch\": {}, \"chunk\": {}, \"seed\": {}, \
         \"target\": {}, \"reached\": {}, \"final_error\": {:.6}, \"wall_s\": {:.3}, \"cpu_s\": {:.3}, \
         \"passes\": {:.3}, \"gradient_passes\": {:.3}, \"iterations\": {}, \"detail\": \"{}\", \"backend\": \"{}\"}}",
        match method {
            Method::Hf => "hessfree-hf",
            Method::Sgd => "hessfree-sgd",
            Method::Adam => "hessfree-adam",
        },
        run.lr,
        run.momentum,
        run.batch,
        if run.chunk == 0 { n } else { run.chunk.min(n) },
        run.seed,
        run.target,
        outcome.reached,
        outcome.final_error,
        wall,
        cpu,
        outcome.passes,
        outcome.gradient_passes,
        outcome.iterations,
        json_text(&outcome.detail),
        json_text(&backend_note)
    );
    Ok(())
}

/// `text` with the characters JSON does not allow raw inside a string escaped.
fn json_text(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '"' => "\\\"".to_string(),
            '\\' => "\\\\".to_string(),
            c if c.is_control() => format!("\\u{:04x}", c as u32),
            c => c.to_string(),
        })
        .collect()
}

/// HF at the reference defaults (λ₀ = 45, CG up to 250, preconditioning,
/// backtracking, line search). Passes = full-batch evaluations (gradient
/// and objective) + curvature products × chunk / N.
fn train_hf(
    objective: NetObjective,
    theta0: &[f32],
    mut config: HfConfig,
    n: usize,
    run: &RunOptions,
) -> Result<Outcome, String> {
    config.target_error = run.target;
    config.max_seconds = run.max_seconds;
    config.max_iters = run.max_budget.max(1.0) as i64;
    let mut session = Session::new(objective, theta0, config).map_err(|e| e.to_string())?;
    let mut passes = 0.0;
    let verbose = run.verbose;
    let summary = session
        .run(|r| {
            passes += r.evaluations as f64 + r.products as f64 * r.chunk_len as f64 / n as f64;
            if verbose {
                eprintln!("{}", r.log_line());
            }
            Control::Continue
        })
        .map_err(|e| e.to_string())?;
    let final_error = summary.final_train_error.unwrap_or(f64::NAN);
    Ok(Outcome {
        reached: summary.termination == Termination::TargetError,
        final_error,
        passes,
        iterations: summary.iterations,
        gradient_passes: summary.iterations as f64,
        detail: format!(
            "{} HF iterations, {} CG steps, {} products, {} evaluations; {}",
            summary.iterations,
            summary.cg_iterations_total,
            summary.products_total,
            summary.evaluations_total,
            summary.termination.text()
        ),
    })
}

/// SGD with momentum or Adam on minibatches; passes = gradient examples / N.
fn train_first_order(
    objective: NetObjective,
    theta0: &[f32],
    method: Method,
    run: &RunOptions,
) -> Result<Outcome, String> {
    let base = match method {
        Method::Adam => FirstOrderConfig::adam(),
        _ => FirstOrderConfig {
            method: FoMethod::Sgd {
                momentum: run.momentum,
                nesterov: false,
            },
            ..FirstOrderConfig::sgd()
        },
    };
    let config = FirstOrderConfig {
        learning_rate: if run.lr > 0.0 {
            run.lr
        } else {
            base.learning_rate
        },
        batch_size: run.batch,
        max_epochs: 0,
        max_passes: run.max_budget,
        max_seconds: run.max_seconds,
        target_error: Some(run.target),
        seed: run.seed,
        ..base
    };
    let mut opt = FirstOrder::new(objective, theta0, config).map_err(|e| e.to_string())?;
    let verbose = run.verbose;
    let summary = opt
        .run(|r| {
            if verbose {
                eprintln!("{}", r.log_line());
            }
            Control::Continue
        })
        .map_err(|e| e.to_string())?;
    Ok(Outcome {
        reached: summary.termination == hessfree::firstorder::Termination::TargetError,
        final_error: summary.final_train_error.unwrap_or(f64::NAN),
        passes: summary.passes,
        iterations: summary.steps,
        gradient_passes: summary.passes,
        detail: summary.brief().replace('"', "'"),
    })
}

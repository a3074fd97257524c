//! The main job: train one of the paper's deep autoencoders (CURVES, MNIST,
//! FACES) with Hessian-free optimization and compare with Table 2.
//!
//! ```text
//! cargo run --release --example train -- --preset curves
//! cargo run --release --example train -- --preset curves --full --checkpoint ckpt --log curves.csv --plot curves.png
//! cargo run --release --example train -- --help
//! ```

#[path = "train/args.rs"]
mod args;
#[path = "train/ckpt.rs"]
mod ckpt;
#[path = "train/history.rs"]
mod history;
#[path = "train/plot.rs"]
mod plot;
#[path = "train/progress.rs"]
mod progress;

use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use hessfree::data::Dataset;
use hessfree::hf::{Control, HfConfig, IterationReport, Objective, Session, Summary, Termination};
use hessfree::net::{initial_params, Init, NetObjective};
use hessfree::presets::Preset;

use args::{Args, Plan};
use ckpt::{CheckpointDir, RunIdentity};
use history::History;
use progress::IterationBar;

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Everything the run needs once the flags are resolved.
struct Setup {
    preset: Preset,
    plan: Plan,
    seed: u64,
    identity: RunIdentity,
    checkpoint: Option<CheckpointDir>,
}

fn run(args: &Args) -> Result<(), String> {
    let setup = resolve(args)?;
    let config = build_config(args, &setup)?;
    let (train, test) = load_data(args, &setup)?;
    let (train_n, test_n) = (train.len(), test.as_ref().map_or(0, Dataset::len));

    let spec = setup.preset.spec();
    let (objective, backend_note) =
        NetObjective::from_config(spec.clone(), train, test, &config).map_err(|e| e.to_string())?;
    let mut session = start_session(args, &setup, objective, config)?;
    if let Some(limit) = args.time_limit {
        let mut c = session.config().clone();
        // The session's clock accumulates across resumes; the limit is for this invocation.
        c.max_seconds = session.counters().seconds + limit;
        session
            .set_config(c)
            .map_err(|e| format!("--time-limit: {e}"))?;
    }
    let mut history = History::new(args.log.as_deref());
    if args.resume {
        history.load_previous(session.iteration())?;
    }

    if !args.quiet {
        println!(
            "hessfree {}: preset {}, autoencoder {} ({:?} output, {:?} loss, {} parameters)",
            env!("CARGO_PKG_VERSION"),
            setup.preset.name(),
            sizes_text(spec.sizes()),
            spec.output_activation(),
            spec.loss(),
            spec.num_params()
        );
        println!(
            "data: {train_n} training / {test_n} test examples; backend: {backend_note}; HF iterations {} of {}",
            session.iteration(),
            setup.plan.iters
        );
    }

    let summary = train_loop(args, &setup, &mut session, &mut history, &spec)?;

    if let Some(path) = &args.plot {
        let title = format!(
            "HF on {} ({} train / {} test)",
            setup.preset.name().to_uppercase(),
            train_n,
            test_n
        );
        plot::draw(
            path,
            &title,
            &history.points(),
            Some(setup.preset.paper_result()),
        )?;
        println!("plot written to {}", path.display());
    }
    if let Some(path) = &args.log {
        println!("log written to {}", path.display());
    }
    let summary = complete_summary(summary, &mut session)?;
    print_result(args, &setup, &summary, train_n, test_n);
    Ok(())
}

/// Resolves the plan and checks the checkpoint directory before any slow work.
fn resolve(args: &Args) -> Result<Setup, String> {
    let plan = args.plan();
    if plan.iters == 0 {
        return Err("--iters must be at least 1".into());
    }
    if plan.train_size == 0 {
        return Err("--train-size must be at least 1".into());
    }
    if args.checkpoint_every == 0 {
        return Err("--checkpoint-every must be at least 1".into());
    }
    if let Some(t) = args.time_limit {
        if !(t.is_finite() && t > 0.0) {
            return Err(format!(
                "--time-limit must be a positive number of seconds, got {t}"
            ));
        }
    }
    let seed = args.seed.unwrap_or(1);
    let identity = RunIdentity {
        preset: args.preset.name().to_string(),
        seed,
        train_size: plan.train_size,
        test_size: plan.test_size,
        faces_per_image: plan.faces_per_image.unwrap_or(0),
    };
    let checkpoint = args.checkpoint.as_deref().map(CheckpointDir::new);
    if let Some(dir) = &checkpoint {
        if args.resume {
            dir.check_resumable(&identity)?;
        } else {
            dir.check_fresh()?;
        }
    }
    Ok(Setup {
        preset: args.preset,
        plan,
        seed,
        identity,
        checkpoint,
    })
}

/// The preset's configuration (with a quick run's chunk; on resume, the saved
/// configuration), then every `--set`, then the flags.
fn build_config(args: &Args, setup: &Setup) -> Result<HfConfig, String> {
    let mut config = match (&setup.checkpoint, args.resume) {
        (Some(dir), true) => saved_config(dir.path())?,
        _ => {
            let mut config = setup.preset.config();
            if let Some(chunk) = setup.plan.chunk_size {
                config.chunk_size = chunk as i64;
            }
            config
        }
    };
    for assignment in &args.set {
        config
            .set_assignment(assignment)
            .map_err(|e| format!("--set {assignment}: {e}"))?;
    }
    config.max_iters = i64::try_from(setup.plan.iters).map_err(|_| "--iters is too large")?;
    if let Some(backend) = &args.backend {
        config
            .set_str("backend", backend)
            .map_err(|e| format!("--backend: {e}"))?;
    }
    if let Some(threads) = args.threads {
        config
            .set_i64("threads", threads as i64)
            .map_err(|e| format!("--threads: {e}"))?;
    }
    if let Some(seed) = args.seed {
        config.seed = seed as i64;
    }
    config.validate().map_err(|e| e.to_string())?;
    Ok(config)
}

/// The configuration stored in a session checkpoint.
fn saved_config(dir: &Path) -> Result<HfConfig, String> {
    let path = dir.join(ckpt::SESSION_FILE);
    let fail = |e: hessfree::Error| format!("--resume: cannot read '{}': {e}", path.display());
    let file = hessfree::checkpoint::Container::load(&path).map_err(fail)?;
    let text = file.require("config").map_err(fail)?;
    let text = std::str::from_utf8(text).map_err(|_| {
        format!(
            "--resume: '{}' has a config that is not UTF-8",
            path.display()
        )
    })?;
    HfConfig::from_text(text).map_err(fail)
}

/// Loads or generates the preset's data, then keeps the requested subsets.
fn load_data(args: &Args, setup: &Setup) -> Result<(Dataset, Option<Dataset>), String> {
    let preset = setup.preset;
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(hessfree::data::data_dir);
    if preset != Preset::Curves && !data_dir.is_dir() {
        return Err(format!(
            "data directory '{}' does not exist (pass --data-dir or set HESSFREE_DATA_DIR)",
            data_dir.display()
        ));
    }
    let what = match preset {
        Preset::Curves => "generating CURVES-like data".to_string(),
        Preset::Mnist => format!("reading MNIST from {}", data_dir.join("mnist").display()),
        Preset::Faces => format!(
            "generating FACES-like data from {}",
            data_dir.join("olivetti").display()
        ),
    };
    let (train, test) = progress::with_spinner(args.quiet, &what, || {
        preset.load_data(&data_dir, setup.seed, setup.plan.faces_per_image)
    })
    .map_err(|e| e.to_string())?;
    let train = first(train, setup.plan.train_size, "training", args.quiet)?;
    let test = match setup.plan.test_size {
        0 => None,
        n => Some(first(test, n, "test", args.quiet)?),
    };
    Ok((train, test))
}

/// The first `n` examples (all of them, with a note, when there are fewer).
fn first(data: Dataset, n: usize, which: &str, quiet: bool) -> Result<Dataset, String> {
    if n >= data.len() {
        if n > data.len() && !quiet {
            println!(
                "note: {n} {which} examples requested, {} available: using all",
                data.len()
            );
        }
        return Ok(data);
    }
    data.split_at(n)
        .map(|(head, _)| head)
        .map_err(|e| e.to_string())
}

fn start_session(
    args: &Args,
    setup: &Setup,
    objective: NetObjective,
    config: HfConfig,
) -> Result<Session<NetObjective>, String> {
    match (&setup.checkpoint, args.resume) {
        (Some(dir), true) => {
            let mut session = dir.resume(objective)?;
            session.set_config(config).map_err(|e| e.to_string())?;
            if !args.quiet {
                println!(
                    "resumed from {} at iteration {}",
                    dir.path().display(),
                    session.iteration()
                );
            }
            Ok(session)
        }
        _ => {
            let theta0 = initial_params(objective.spec(), Init::default(), setup.seed)
                .map_err(|e| e.to_string())?;
            Session::new(objective, &theta0, config).map_err(|e| e.to_string())
        }
    }
}

/// Runs the session to its end, checkpointing every `--checkpoint-every`
/// iterations and at the end; returns the summary over this invocation.
fn train_loop(
    args: &Args,
    setup: &Setup,
    session: &mut Session<NetObjective>,
    history: &mut History,
    spec: &hessfree::net::NetSpec,
) -> Result<Summary, String> {
    let bar = IterationBar::new(session.iteration(), setup.plan.iters as u64, args.quiet);
    progress::install_interrupt_handler(session.stop_handle(), bar.handle());
    let every = args.checkpoint_every as u64;
    let mut merged: Option<Summary> = None;
    let mut failure: Option<String> = None;
    loop {
        let summary = session
            .run(|r: &IterationReport| {
                bar.println(&r.log_line());
                bar.update(r.iteration, status(r));
                if let Err(e) = history.push(r) {
                    failure = Some(e);
                    return Control::Stop;
                }
                let checkpoint_due = setup.checkpoint.is_some() && r.iteration % every == 0;
                if checkpoint_due {
                    Control::Stop
                } else {
                    Control::Continue
                }
            })
            .map_err(|e| format!("HF iteration {} failed: {e}", session.iteration() + 1));
        let summary = match summary {
            Ok(s) => s,
            Err(e) => {
                bar.finish();
                return Err(e);
            }
        };
        if let Some(dir) = &setup.checkpoint {
            dir.save(session, spec, &setup.identity)?;
        }
        let paused_for_checkpoint =
            summary.termination == Termination::CallbackStop && failure.is_none();
        merged = Some(merge(merged, summary));
        if let Some(e) = failure.take() {
            bar.finish();
            return Err(e);
        }
        if !paused_for_checkpoint || progress::interrupted() {
            break;
        }
    }
    bar.finish();
    if let Some(dir) = &setup.checkpoint {
        println!(
            "checkpoint saved to {} (iteration {}; continue with --resume)",
            dir.path().display(),
            session.iteration()
        );
    }
    merged.ok_or_else(|| "the session did not run".to_string())
}

fn sizes_text(sizes: &[usize]) -> String {
    let text: Vec<String> = sizes.iter().map(usize::to_string).collect();
    text.join("-")
}

fn status(r: &IterationReport) -> String {
    let err = |e: Option<f64>| e.map_or("-".to_string(), |x| format!("{x:.4}"));
    format!(
        "train {} test {} λ {:.3e}",
        err(r.train_error),
        err(r.test_error),
        r.lambda
    )
}

/// Combines the summaries of consecutive `run` calls (split for checkpoints).
fn merge(previous: Option<Summary>, next: Summary) -> Summary {
    let Some(prev) = previous else {
        return next;
    };
    let mut out = next.clone();
    out.iterations += prev.iterations;
    out.rejected += prev.rejected;
    out.wall_seconds += prev.wall_seconds;
    if next.iterations == 0 {
        out.final_objective = prev.final_objective;
        out.final_train_error = prev.final_train_error;
        out.final_test_error = prev.final_test_error;
    }
    out
}

/// Fills in the final metrics when no iteration ran in this invocation
/// (e.g. resuming a finished session): they are evaluated at θ.
fn complete_summary(
    mut summary: Summary,
    session: &mut Session<NetObjective>,
) -> Result<Summary, String> {
    if summary.iterations > 0 {
        return Ok(summary);
    }
    let theta = session.theta().to_vec();
    let objective = session.objective_mut();
    let train = objective.train_metrics(&theta).map_err(|e| e.to_string())?;
    let test = objective.test_metrics(&theta).map_err(|e| e.to_string())?;
    summary.final_objective = train.objective;
    summary.final_train_error = train.error;
    summary.final_test_error = test.and_then(|t| t.error);
    Ok(summary)
}

fn print_result(args: &Args, setup: &Setup, s: &Summary, train_n: usize, test_n: usize) {
    let preset = setup.preset;
    let paper = preset.paper_result();
    let err = |e: Option<f64>| e.map_or("-".to_string(), |x| format!("{x:.4}"));
    println!();
    if !args.quiet {
        print!("{}", s.full());
        println!();
    }
    println!(
        "Result (Table 2 style; error = mean per-example sum of squared reconstruction errors)"
    );
    println!(
        "{:<8} {:>13} {:>6} {:>9} {:>12} {:>11} {:>11} {:>10}",
        "preset",
        "train/test",
        "iters",
        "CG steps",
        "train error",
        "test error",
        "objective",
        "wall (s)"
    );
    println!(
        "{:<8} {:>13} {:>6} {:>9} {:>12} {:>11} {:>11.6} {:>10.1}",
        preset.name(),
        format!("{train_n}/{test_n}"),
        s.iterations_total,
        s.cg_iterations_total,
        err(s.final_train_error),
        err(s.final_test_error),
        s.final_objective,
        s.total_seconds
    );
    let (full_train, full_test) = preset.sizes();
    println!(
        "{:<8} {:>13} {:>6} {:>9} {:>12} {:>11} {:>11} {:>10}",
        "paper",
        format!("{full_train}/{full_test}"),
        "",
        "",
        format!("{:.2}", paper.train_error),
        format!("{:.2}", paper.test_error),
        "",
        ""
    );
    println!("stopped: {}", s.termination.text());
    if !args.full {
        let (n, m) = preset.sizes();
        println!();
        println!(
            "This was the quick budget. Full reproduction ({} HF iterations on {n}/{m} examples; hours on a CPU, use a GPU build for speed):",
            preset.full_iterations()
        );
        println!(
            "  cargo run --release --example train -- --preset {} --full --checkpoint ckpt-{0} --log {0}.csv --plot {0}.png",
            preset.name()
        );
    }
}

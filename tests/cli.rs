//! The main job (`examples/train.rs`) from the outside: a tiny real run with
//! log, plot and checkpoint; resume; and the one-line errors for bad input.
//!
//! `cargo test` builds the examples before running tests; with a filter such
//! as `cargo test --test cli` cargo does not, and these tests print SKIPPED
//! unless `cargo build --example train` (same profile) ran first.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `target/<profile>/examples/train`, next to this test's `deps/` folder.
fn train_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let profile_dir = exe.parent()?.parent()?;
    let bin = profile_dir
        .join("examples")
        .join(format!("train{}", std::env::consts::EXE_SUFFIX));
    bin.is_file().then_some(bin)
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hessfree-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn train(bin: &Path, args: &[&str]) -> Output {
    Command::new(bin)
        .args(args)
        .env_remove("HESSFREE_DATA_DIR")
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

macro_rules! binary_or_skip {
    ($test:literal) => {
        match train_binary() {
            Some(bin) => bin,
            None => {
                eprintln!(
                    "SKIPPED: {}: the train example is not built (run `cargo test` without a filter)",
                    $test
                );
                return;
            }
        }
    };
}

/// A failing invocation: exit status 1, one `error:` line, no panic.
fn assert_one_line_error(out: &Output, needle: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one line, got: {err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    assert!(lines[0].contains(needle), "'{needle}' not in: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

const TINY: [&str; 8] = [
    "--preset",
    "curves",
    "--train-size",
    "200",
    "--test-size",
    "50",
    "--set",
    "chunk_size=100",
];

#[test]
fn tiny_run_writes_log_plot_checkpoint_and_resumes() {
    let bin = binary_or_skip!("tiny_run_writes_log_plot_checkpoint_and_resumes");
    let dir = scratch("run");
    let ckpt = dir.join("ckpt");
    let log = dir.join("log.csv");
    let png = dir.join("plot.png");
    let (ckpt_s, log_s, png_s) = (
        ckpt.to_str().unwrap(),
        log.to_str().unwrap(),
        png.to_str().unwrap(),
    );
    let mut args: Vec<&str> = TINY.to_vec();
    args.extend([
        "--iters",
        "3",
        "--checkpoint",
        ckpt_s,
        "--checkpoint-every",
        "2",
        "--log",
        log_s,
        "--plot",
        png_s,
        "--threads",
        "1",
    ]);
    let out = train(&bin, &args);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("iter 3:"), "{text}");
    let row: Vec<&str> = text
        .lines()
        .find(|l| l.starts_with("curves "))
        .unwrap_or_else(|| panic!("no result row in {text}"))
        .split_whitespace()
        .collect();
    assert_eq!(row[..3], ["curves", "200/50", "3"], "{text}");
    assert!(text.contains("--full"), "{text}");

    let csv = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(lines[0].starts_with("iteration,objective,train_error,test_objective,test_error,"));
    let columns = lines[0].split(',').count();
    assert_eq!(columns, 23);
    for (i, line) in lines[1..].iter().enumerate() {
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields.len(), columns, "{line}");
        assert_eq!(fields[0], (i + 1).to_string());
        let train_error: f64 = fields[2].parse().unwrap();
        assert!(train_error.is_finite() && train_error > 0.0, "{line}");
    }
    let first: f64 = lines[1].split(',').nth(2).unwrap().parse().unwrap();
    let last: f64 = lines[3].split(',').nth(2).unwrap().parse().unwrap();
    assert!(last < first, "train error {first} -> {last}");

    let png_bytes = std::fs::read(&png).unwrap();
    assert!(png_bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
    for f in ["session.hfs", "network.hfn", "run.txt"] {
        assert!(ckpt.join(f).is_file(), "{f} missing");
    }

    // A fresh run over the checkpoint is refused; a resume continues it.
    let out = train(&bin, &args);
    assert_one_line_error(&out, "already holds a checkpoint");
    let mut resume = args.clone();
    resume.push("--resume");
    let iters_at = resume.iter().position(|a| *a == "3").unwrap();
    resume[iters_at] = "4";
    let out = train(&bin, &resume);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert!(stdout(&out).contains("resumed from"), "{}", stdout(&out));
    assert!(stdout(&out).contains("iter 4:"));
    assert!(!stdout(&out).contains("iter 3:"));
    let csv = std::fs::read_to_string(&log).unwrap();
    assert_eq!(csv.lines().count(), 5, "{csv}");

    // The resumed run matches one that was never interrupted (timings aside).
    let straight_log = dir.join("straight.csv");
    let mut straight: Vec<&str> = TINY.to_vec();
    straight.extend(["--iters", "4", "--threads", "1", "--quiet"]);
    straight.extend(["--log", straight_log.to_str().unwrap()]);
    let out = train(&bin, &straight);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let straight_csv = std::fs::read_to_string(&straight_log).unwrap();
    let without_timings = |text: &str| -> Vec<String> {
        let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
        text.lines()
            .map(|line| {
                line.split(',')
                    .zip(&header)
                    .filter(|(_, h)| !h.ends_with("seconds"))
                    .map(|(f, _)| f)
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect()
    };
    assert_eq!(without_timings(&csv), without_timings(&straight_csv));

    // Resuming with another seed is a different run.
    let mut other = resume.clone();
    other.extend(["--seed", "7"]);
    let out = train(&bin, &other);
    assert_one_line_error(&out, "seed: checkpoint has 1, this run has 7");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_input_gives_one_line_errors() {
    let bin = binary_or_skip!("bad_input_gives_one_line_errors");
    let dir = scratch("errors");
    let mut args = TINY.to_vec();
    args.extend(["--set", "initial_lamda=3"]);
    assert_one_line_error(&train(&bin, &args), "did you mean 'initial_lambda'");
    let mut args = TINY.to_vec();
    args.extend(["--set", "cg_max_iters=-4"]);
    assert_one_line_error(&train(&bin, &args), "cg_max_iters");
    let mut args = TINY.to_vec();
    args.extend(["--set", "noequals"]);
    assert_one_line_error(&train(&bin, &args), "--set noequals");

    let missing = dir.join("no-such-dir");
    let out = train(
        &bin,
        &["--preset", "mnist", "--data-dir", missing.to_str().unwrap()],
    );
    assert_one_line_error(&out, "does not exist");

    let empty = dir.join("empty");
    let out = train(&bin, &["--checkpoint", empty.to_str().unwrap(), "--resume"]);
    assert_one_line_error(&out, "no checkpoint");

    // clap's own errors: usage on stderr, exit status 2, no panic.
    let out = train(&bin, &["--preset", "cifar"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("unknown preset 'cifar'"),
        "{}",
        stderr(&out)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The quick budget's curvature chunk is the paper's chunk fraction of the
/// examples used (CURVES 5000 of 20000: 1/4; MNIST 7500 of 60000: 1/8,
/// rounded up); `--set chunk_size` still overrides it, and `--full` keeps
/// the paper's chunk (not run here: it needs the full data).
#[test]
fn quick_runs_keep_the_papers_chunk_fraction() {
    let bin = binary_or_skip!("quick_runs_keep_the_papers_chunk_fraction");
    let dir = scratch("quick-chunk");
    let chunk_of = |args: &[&str], name: &str| -> String {
        let log = dir.join(name);
        let mut all = args.to_vec();
        all.extend(["--iters", "1", "--quiet", "--log", log.to_str().unwrap()]);
        let out = train(&bin, &all);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        let csv = std::fs::read_to_string(&log).unwrap();
        let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
        let column = header.iter().position(|&h| h == "chunk_len").unwrap();
        let row: Vec<&str> = csv.lines().nth(1).unwrap().split(',').collect();
        row[column].to_string()
    };
    let curves = [
        "--preset",
        "curves",
        "--train-size",
        "200",
        "--test-size",
        "20",
    ];
    assert_eq!(chunk_of(&curves, "c.csv"), "50");
    let mut set = curves.to_vec();
    set.extend(["--set", "chunk_size=30"]);
    assert_eq!(chunk_of(&set, "s.csv"), "30");
    let data = hessfree::data::data_dir();
    if !data.join("mnist").is_dir() {
        eprintln!("SKIPPED: MNIST part: no MNIST data in {}", data.display());
        return;
    }
    let data = data.to_str().unwrap();
    let mnist = [
        "--preset",
        "mnist",
        "--data-dir",
        data,
        "--train-size",
        "100",
        "--test-size",
        "20",
    ];
    assert_eq!(chunk_of(&mnist, "m.csv"), "13");
}

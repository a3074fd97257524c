//! Command-line flags of the main job, and how they resolve to a run plan.

use std::path::PathBuf;

use clap::Parser;
use hessfree::presets::Preset;

/// Iterations of the default (quick) budget, per preset: enough for the
/// error to fall well past the early plateau of the mean image, in about a
/// minute (CURVES, MNIST) or two (FACES) on a 2-core CPU (measured; see the
/// README's "Default budget").
pub fn default_iters(preset: Preset) -> usize {
    match preset {
        Preset::Curves => 80,
        Preset::Mnist => 40,
        Preset::Faces => 12,
    }
}

/// Training and test examples of the default (quick) budget, per preset.
pub fn default_sizes(preset: Preset) -> (usize, usize) {
    match preset {
        Preset::Curves => (2_000, 1_000),
        Preset::Mnist => (2_000, 1_000),
        Preset::Faces => (2_000, 1_000),
    }
}

/// The curvature chunk of a quick run on `train_size` examples: the paper's
/// chunk as the same fraction of the examples used (CURVES 1/4, MNIST 1/8,
/// FACES 1/20), rounded up. With the paper's chunk on a small subset the
/// curvature would be the whole subset, each iteration up to 20× dearer, and
/// the quick run would stop on the early plateau.
pub fn quick_chunk(preset: Preset, train_size: usize) -> usize {
    let (paper_train, _) = preset.sizes();
    (train_size * preset.chunk_size())
        .div_ceil(paper_train)
        .max(1)
}

/// FACES-like augmentation count of the default budget (the paper uses 414
/// per source image; fewer keeps the quick run's data generation short).
pub const DEFAULT_FACES_PER_IMAGE: usize = 10;

/// Train a deep autoencoder with Hessian-free optimization (Martens, ICML 2010).
///
/// Without `--full`, a quick budget runs (2000 training examples, the paper's
/// chunk fraction of them, tens of HF iterations: a minute or two on a laptop
/// CPU); `--full` is the paper's reproduction.
#[derive(Parser, Debug)]
#[command(name = "train", version, about, long_about = None)]
pub struct Args {
    /// The paper's experiment: curves, mnist or faces.
    #[arg(long, default_value = "curves", value_parser = parse_preset)]
    pub preset: Preset,

    /// Directory holding mnist/ and olivetti/ [default: $HESSFREE_DATA_DIR or ../shared/data].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Full reproduction: the paper's data sizes and iteration count.
    #[arg(long)]
    pub full: bool,

    /// Total HF iterations of the session (a resumed run continues up to this).
    #[arg(long, value_name = "N")]
    pub iters: Option<usize>,

    /// Stop after this many seconds of training in this invocation.
    #[arg(long, value_name = "SECONDS")]
    pub time_limit: Option<f64>,

    /// Compute backend: auto (CUDA if available, else CPU), cpu or cuda [default: auto].
    #[arg(long, value_parser = ["auto", "cpu", "cuda"])]
    pub backend: Option<String>,

    /// CPU threads [default: 0 = all cores].
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,

    /// Seed for data generation, initialisation and the session [default: 1].
    #[arg(long)]
    pub seed: Option<u64>,

    /// Use the first N training examples (default: the budget's size).
    #[arg(long, value_name = "N")]
    pub train_size: Option<usize>,

    /// Use the first N test examples (default: the budget's size).
    #[arg(long, value_name = "N")]
    pub test_size: Option<usize>,

    /// FACES only: augmented images per Olivetti source image (paper: 414).
    #[arg(long, value_name = "N")]
    pub faces_per_image: Option<usize>,

    /// Override an HF option, e.g. `--set initial_lambda=10` (repeatable;
    /// applied after the preset and before the other flags).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,

    /// Save the session and network to DIR (atomically).
    #[arg(long, value_name = "DIR")]
    pub checkpoint: Option<PathBuf>,

    /// Checkpoint every K iterations (and always at the end).
    #[arg(long, value_name = "K", default_value_t = 5)]
    pub checkpoint_every: usize,

    /// Continue the session saved in the --checkpoint directory.
    #[arg(long, requires = "checkpoint")]
    pub resume: bool,

    /// Write one CSV row per iteration (every report field) to this file.
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,

    /// Draw train and test error against training time (log scale) to this PNG.
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,

    /// No progress bar and no per-iteration lines; only the final result.
    #[arg(long, short)]
    pub quiet: bool,
}

fn parse_preset(text: &str) -> Result<Preset, String> {
    Preset::parse(text).map_err(|e| e.to_string())
}

/// What the flags resolve to.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// Total HF iterations of the session.
    pub iters: usize,
    /// Training examples used.
    pub train_size: usize,
    /// Test examples used.
    pub test_size: usize,
    /// FACES augmentation count (None for other presets).
    pub faces_per_image: Option<usize>,
    /// The curvature chunk of a quick run ([`quick_chunk`]); `None` with
    /// `--full` (the preset's own chunk).
    pub chunk_size: Option<usize>,
}

impl Args {
    /// The iteration count and data sizes this run uses.
    pub fn plan(&self) -> Plan {
        let p = self.preset;
        let (iters, (train, test)) = if self.full {
            (p.full_iterations(), p.sizes())
        } else {
            (default_iters(p), default_sizes(p))
        };
        let faces_per_image = (p == Preset::Faces).then(|| {
            self.faces_per_image.unwrap_or(if self.full {
                hessfree::data::FACES_PAPER_PER_IMAGE
            } else {
                DEFAULT_FACES_PER_IMAGE
            })
        });
        let train_size = self.train_size.unwrap_or(train);
        Plan {
            iters: self.iters.unwrap_or(iters),
            train_size,
            test_size: self.test_size.unwrap_or(test),
            faces_per_image,
            chunk_size: (!self.full).then(|| quick_chunk(p, train_size)),
        }
    }
}

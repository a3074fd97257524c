//! The checkpoint directory of the main job: the HF session, the network,
//! and a small description of the run that a resume must match.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use hessfree::checkpoint::write_atomic;
use hessfree::hf::{Objective, Session};
use hessfree::net::{NetSpec, Network};

/// The session file inside the checkpoint directory.
pub const SESSION_FILE: &str = "session.hfs";
/// The network file (architecture and parameters) inside the directory.
pub const NETWORK_FILE: &str = "network.hfn";
/// The run description inside the directory.
pub const RUN_FILE: &str = "run.txt";

/// What identifies a run: a resume with different values would train a
/// different problem, so it is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunIdentity {
    /// Preset name.
    pub preset: String,
    /// Data and initialisation seed.
    pub seed: u64,
    /// Training examples.
    pub train_size: usize,
    /// Test examples.
    pub test_size: usize,
    /// FACES augmentation count, or 0.
    pub faces_per_image: usize,
}

impl RunIdentity {
    fn fields(&self) -> [(&'static str, String); 5] {
        [
            ("preset", self.preset.clone()),
            ("seed", self.seed.to_string()),
            ("train_size", self.train_size.to_string()),
            ("test_size", self.test_size.to_string()),
            ("faces_per_image", self.faces_per_image.to_string()),
        ]
    }

    fn to_text(&self) -> String {
        let mut text = String::from("# hessfree train: run identity (checked by --resume)\n");
        for (k, v) in self.fields() {
            let _ = writeln!(text, "{k}={v}");
        }
        text
    }

    /// Lists every field whose value differs from the saved text, as
    /// `key: saved X, now Y`.
    fn differences(&self, saved: &str) -> Vec<String> {
        let lookup = |key: &str| {
            saved
                .lines()
                .filter_map(|l| l.split_once('='))
                .find(|(k, _)| k.trim() == key)
                .map(|(_, v)| v.trim().to_string())
        };
        self.fields()
            .into_iter()
            .filter_map(|(k, now)| match lookup(k) {
                Some(was) if was == now => None,
                Some(was) => Some(format!("{k}: checkpoint has {was}, this run has {now}")),
                None => Some(format!("{k}: missing from the checkpoint")),
            })
            .collect()
    }
}

/// A checkpoint directory.
pub struct CheckpointDir {
    dir: PathBuf,
}

impl CheckpointDir {
    /// The directory (created on first save).
    pub fn new(dir: &Path) -> Self {
        CheckpointDir {
            dir: dir.to_path_buf(),
        }
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Whether the directory holds a saved session.
    pub fn has_session(&self) -> bool {
        self.file(SESSION_FILE).is_file()
    }

    /// Refuses to start a fresh run over an existing checkpoint.
    pub fn check_fresh(&self) -> Result<(), String> {
        if self.has_session() {
            return Err(format!(
                "'{}' already holds a checkpoint; pass --resume to continue it, or remove the directory to start over",
                self.dir.display()
            ));
        }
        Ok(())
    }

    /// Checks that a resumable checkpoint exists and belongs to this run.
    pub fn check_resumable(&self, identity: &RunIdentity) -> Result<(), String> {
        if !self.has_session() {
            return Err(format!(
                "--resume: no checkpoint in '{}' (expected {}); run once without --resume to create it",
                self.dir.display(),
                self.file(SESSION_FILE).display()
            ));
        }
        let run_file = self.file(RUN_FILE);
        let saved = std::fs::read_to_string(&run_file)
            .map_err(|e| format!("--resume: cannot read '{}': {e}", run_file.display()))?;
        let diffs = identity.differences(&saved);
        if !diffs.is_empty() {
            return Err(format!(
                "--resume: the checkpoint in '{}' is for a different run ({}); use the same flags or another directory",
                self.dir.display(),
                diffs.join("; ")
            ));
        }
        Ok(())
    }

    /// Continues the saved session on `objective`.
    pub fn resume<O: Objective>(&self, objective: O) -> Result<Session<O>, String> {
        Session::resume(objective, &self.file(SESSION_FILE))
            .map_err(|e| format!("--resume: cannot continue the checkpoint: {e}"))
    }

    /// Saves the session, the network at the session's θ and the run
    /// identity, each atomically (a crash leaves the previous version intact).
    pub fn save<O: Objective>(
        &self,
        session: &Session<O>,
        spec: &NetSpec,
        identity: &RunIdentity,
    ) -> Result<(), String> {
        std::fs::create_dir_all(&self.dir).map_err(|e| {
            format!(
                "cannot create checkpoint directory '{}': {e}",
                self.dir.display()
            )
        })?;
        let fail = |what: &str, e: hessfree::Error| format!("cannot save the {what}: {e}");
        // The identity goes first: a session file never exists without it.
        write_atomic(&self.file(RUN_FILE), identity.to_text().as_bytes())
            .map_err(|e| fail("run description", e))?;
        session
            .save(&self.file(SESSION_FILE))
            .map_err(|e| fail("session", e))?;
        let network = Network::with_params(spec.clone(), session.theta().to_vec())
            .map_err(|e| fail("network", e))?;
        network
            .save(&self.file(NETWORK_FILE))
            .map_err(|e| fail("network", e))?;
        Ok(())
    }
}

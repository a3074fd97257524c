//! Atomic checkpoints under SIGKILL.
//!
//! A child process (this test binary re-run on the ignored test
//! `child_trains_and_checkpoints_forever`) trains a small autoencoder and
//! saves its session and network after every iteration, resuming from the
//! checkpoint on disk when one exists. The parent kills it with SIGKILL at
//! seeded random moments, many times; after every kill the checkpoint on
//! disk must load, resume and take one more step, the network file must
//! load, the iteration count on disk must never go backwards, and temporary
//! files left by killed writers must not pile up.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use hessfree::checkpoint::temp_prefix;
use hessfree::data::curves;
use hessfree::hf::{HfConfig, Session};
use hessfree::net::{initial_params, Activation, Init, NetObjective, NetSpec, Network};
use hessfree::rng::Rng;

/// Environment variable that turns the ignored child test into the child.
const CHILD_DIR_ENV: &str = "HESSFREE_KILL_TEST_DIR";
const SESSION_FILE: &str = "session.hfs";
const NETWORK_FILE: &str = "network.hfn";
const DATA_SEED: u64 = 11;
/// How many times the child is killed.
const KILLS: usize = 40;
/// The child stops by itself after this long, should the parent die first.
const CHILD_LIFETIME: Duration = Duration::from_secs(60);

fn spec() -> NetSpec {
    NetSpec::autoencoder(&[784, 24, 6], Activation::Logistic).unwrap()
}

fn config() -> HfConfig {
    HfConfig {
        chunk_size: 100,
        cg_max_iters: 20,
        threads: 1,
        backend: hessfree::hf::BackendChoice::Cpu,
        ..HfConfig::default()
    }
}

fn objective() -> NetObjective {
    let data = curves(200, DATA_SEED).unwrap();
    NetObjective::from_config(spec(), data, None, &config())
        .unwrap()
        .0
}

/// The child: resume (or start) and checkpoint after every iteration.
#[test]
#[ignore = "the child process of checkpoints_survive_sigkill; does nothing when run by hand"]
fn child_trains_and_checkpoints_forever() {
    let Some(dir) = std::env::var_os(CHILD_DIR_ENV) else {
        return;
    };
    let dir = PathBuf::from(dir);
    let session_path = dir.join(SESSION_FILE);
    let mut session = if session_path.exists() {
        Session::resume(objective(), &session_path).unwrap()
    } else {
        let theta = initial_params(&spec(), Init::default(), 3).unwrap();
        Session::new(objective(), &theta, config()).unwrap()
    };
    let started = std::time::Instant::now();
    while started.elapsed() < CHILD_LIFETIME {
        session.step().unwrap();
        session.save(&session_path).unwrap();
        let net = Network::with_params(spec(), session.theta().to_vec()).unwrap();
        net.save(&dir.join(NETWORK_FILE)).unwrap();
        // A second session write per iteration: more time spent writing,
        // more kills landing inside a write.
        session.save(&session_path).unwrap();
    }
}

fn spawn_child(dir: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "child_trains_and_checkpoints_forever",
            "--exact",
            "--ignored",
            "--test-threads=1",
            "--quiet",
        ])
        .env(CHILD_DIR_ENV, dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Kills the child when dropped, so a failing assertion leaves no orphan.
struct Killer(Child);

impl Drop for Killer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Temporary files of `file` in `dir` (left by killed writers).
fn temps_of(dir: &Path, file: &str) -> Vec<String> {
    let prefix = temp_prefix(file);
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&prefix))
        .collect()
}

/// The checkpoint on disk resumes and takes a step; returns its iteration.
fn check_checkpoint(dir: &Path, kill: usize) -> Option<u64> {
    let path = dir.join(SESSION_FILE);
    if !path.exists() {
        return None;
    }
    let mut s = Session::resume(objective(), &path)
        .unwrap_or_else(|e| panic!("kill {kill}: checkpoint does not resume: {e}"));
    let at = s.iteration();
    let r = s
        .step()
        .unwrap_or_else(|e| panic!("kill {kill}: resumed session cannot step: {e}"));
    assert_eq!(r.iteration, at + 1);
    assert!(s.theta().iter().all(|x| x.is_finite()), "kill {kill}");
    let net = Network::load(&dir.join(NETWORK_FILE))
        .unwrap_or_else(|e| panic!("kill {kill}: network file does not load: {e}"));
    assert_eq!(net.params().len(), s.theta().len());
    Some(at)
}

#[test]
fn checkpoints_survive_sigkill() {
    let dir = std::env::temp_dir().join(format!("hessfree-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut rng = Rng::new(20240601);
    let mut last_iteration = 0u64;
    let mut mid_write = 0usize;
    for kill in 0..KILLS {
        let child = Killer(spawn_child(&dir));
        // Spread over the child's life: start-up, first step, later steps
        // and writes. Seeded; the exact moments still depend on the machine.
        let delay_ms = rng.uniform_range(0.0, 700.0);
        std::thread::sleep(Duration::from_micros((delay_ms * 1000.0) as u64));
        drop(child); // SIGKILL (Child::kill), then reap
        let session_temps = temps_of(&dir, SESSION_FILE);
        let network_temps = temps_of(&dir, NETWORK_FILE);
        // A killed writer leaves at most its own temporary file: older ones
        // were removed by the next writer.
        assert!(session_temps.len() <= 1, "kill {kill}: {session_temps:?}");
        assert!(network_temps.len() <= 1, "kill {kill}: {network_temps:?}");
        mid_write += session_temps.len() + network_temps.len();
        if let Some(at) = check_checkpoint(&dir, kill) {
            assert!(
                at >= last_iteration,
                "kill {kill}: checkpoint went back from iteration {last_iteration} to {at}"
            );
            last_iteration = at;
        }
    }
    eprintln!(
        "{KILLS} kills; checkpoint reached iteration {last_iteration}; \
         {mid_write} kills left a temporary file (killed inside a write)"
    );
    assert!(last_iteration > 0, "the child never saved a checkpoint");
    // One more write by a live process clears what the last kill left.
    let s = Session::resume(objective(), &dir.join(SESSION_FILE)).unwrap();
    s.save(&dir.join(SESSION_FILE)).unwrap();
    let net = Network::load(&dir.join(NETWORK_FILE)).unwrap();
    net.save(&dir.join(NETWORK_FILE)).unwrap();
    assert_eq!(temps_of(&dir, SESSION_FILE), Vec::<String>::new());
    assert_eq!(temps_of(&dir, NETWORK_FILE), Vec::<String>::new());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn write_atomic_removes_temps_of_dead_writers_only() {
    let dir = std::env::temp_dir().join(format!("hessfree-temps-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // A process that has exited: its pid names a dead writer.
    let mut dead = Command::new("true").spawn().unwrap();
    let dead_pid = dead.id();
    dead.wait().unwrap();
    let prefix = temp_prefix("f");
    let stale = dir.join(format!("{prefix}{dead_pid}-0"));
    let live = dir.join(format!("{prefix}{}-999", std::process::id()));
    let other = dir.join(format!("{}{dead_pid}-0", temp_prefix("g")));
    for p in [&stale, &live, &other] {
        std::fs::write(p, b"partial").unwrap();
    }
    hessfree::checkpoint::write_atomic(&dir.join("f"), b"new").unwrap();
    assert_eq!(std::fs::read(dir.join("f")).unwrap(), b"new");
    assert!(!stale.exists(), "a dead writer's temp file must be removed");
    assert!(live.exists(), "a live writer's temp file must be kept");
    assert!(other.exists(), "another file's temp files are not touched");
    let _ = std::fs::remove_dir_all(&dir);
}

//! Sessions under concurrency, through the Rust API.
//!
//! (a) 8 threads each train their own `Session` (a small autoencoder on
//!     CURVES-like data, each thread its own data seed, init seed and chunk
//!     schedule seed) at the same time; every final θ is bit-for-bit the θ of
//!     the same run done sequentially.
//! (b) One session shared as `Arc<Mutex<Session>>`: a runner thread holds the
//!     lock inside `Session::run` while reader threads wait on the lock (for
//!     θ, λ, the iteration count) and stopper threads call
//!     `StopHandle::request_stop`, which needs no lock. The progress callback
//!     does not return until a stop request has returned, so a stop request
//!     that waited for the run would deadlock. No deadlock (a watchdog fails
//!     the test instead of hanging), the run stops at the iteration the stop
//!     came in, the readers see the state after the run, θ stays finite, and
//!     a later step works.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use hessfree::data::curves;
use hessfree::hf::{ChunkOrder, Control, HfConfig, Session, StopHandle, Summary, Termination};
use hessfree::net::{initial_params, Activation, Init, NetObjective, NetSpec};

/// Generous: the machine may be loaded. Only a deadlock comes near it.
const WATCHDOG: Duration = Duration::from_secs(600);

/// Runs `body` on its own thread and fails the test if it does not finish
/// within the watchdog time (a deadlocked thread is left behind; the test
/// process exits when the harness is done).
fn with_watchdog<T: Send + 'static>(what: &str, body: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let worker = thread::spawn(move || {
        let out = body();
        let _ = tx.send(());
        out
    });
    match rx.recv_timeout(WATCHDOG) {
        Ok(()) => worker.join().unwrap_or_else(|_| panic!("{what}: panicked")),
        Err(mpsc::RecvTimeoutError::Disconnected) => match worker.join() {
            Ok(out) => out,
            Err(e) => std::panic::resume_unwind(e),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what}: did not finish within {WATCHDOG:?} (deadlock?)")
        }
    }
}

/// Option `threads` of every session: 0 (all cores) unless
/// `HESSFREE_TEST_KERNEL_THREADS` says otherwise. With 1 the library starts
/// no worker threads of its own, so a ThreadSanitizer build sees only the
/// test's threads (docs/reliability.md).
fn kernel_threads() -> i64 {
    std::env::var("HESSFREE_TEST_KERNEL_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn session(id: u64, n: usize, hidden: &[usize], config: &HfConfig) -> Session<NetObjective> {
    let data = curves(n, 100 + id).expect("curves data");
    let mut sizes = vec![784];
    sizes.extend_from_slice(hidden);
    let spec = NetSpec::autoencoder(&sizes, Activation::Logistic).expect("spec");
    let theta = initial_params(&spec, Init::default(), 1 + id).expect("init");
    let (objective, _) =
        NetObjective::from_config(spec, data, None, config).expect("network objective");
    Session::new(objective, &theta, config.clone()).expect("session")
}

fn train(id: u64) -> (Vec<u32>, u64) {
    let config = HfConfig {
        max_iters: 3,
        chunk_size: 40,
        cg_max_iters: 20,
        seed: 7 + id as i64,
        chunk_order: ChunkOrder::Random,
        threads: kernel_threads(),
        // The subject is the CPU kernels' threads; pinned so that a `cuda`
        // build on a GPU machine tests the same thing.
        backend: hessfree::hf::BackendChoice::Cpu,
        ..HfConfig::default()
    };
    let mut s = session(id, 120, &[16, 4], &config);
    let summary = s.run(|_| Control::Continue).expect("run");
    let bits = s.theta().iter().map(|x| x.to_bits()).collect();
    (bits, summary.iterations_total)
}

#[test]
fn independent_sessions_on_eight_threads_match_sequential_runs() {
    const THREADS: u64 = 8;
    let sequential: Vec<_> = (0..THREADS).map(train).collect();
    let concurrent: Vec<_> = with_watchdog("8 concurrent sessions", || {
        let handles: Vec<_> = (0..THREADS)
            .map(|id| thread::spawn(move || train(id)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("training thread panicked"))
            .collect()
    });
    for (id, (seq, par)) in sequential.iter().zip(&concurrent).enumerate() {
        assert_eq!(seq.1, 3, "run {id}: iterations");
        assert_eq!(par.1, seq.1, "run {id}: iterations");
        assert!(
            seq.0 == par.0,
            "run {id}: concurrent θ differs from the sequential run"
        );
    }
    // Distinct seeds give distinct runs, so a mix-up between threads would show.
    assert!(sequential[0].0 != sequential[1].0);
}

const STOP_AT: usize = 3;
const READERS: usize = 4;
const STOPPERS: usize = 2;
const STOP_CALLS: usize = 200;

/// What the threads of the shared-session test tell each other.
#[derive(Default)]
struct Flags {
    /// Progress callbacks so far.
    seen: AtomicUsize,
    /// Readers about to wait for the session's lock.
    readers_going: AtomicUsize,
    /// Set by the callback of iteration `STOP_AT`: the stoppers may go.
    stop_now: AtomicUsize,
    /// `request_stop` calls that have returned.
    stops_returned: AtomicUsize,
}

fn wait_until(cond: impl Fn() -> bool) {
    while !cond() {
        thread::sleep(Duration::from_millis(1));
    }
}

type Shared = Arc<Mutex<Session<NetObjective>>>;

/// Holds the lock for a whole `run`; the callback lets the readers queue on
/// the lock at iteration 1 and, at iteration `STOP_AT`, does not return
/// before a stop request has returned.
fn spawn_runner(shared: Shared, flags: Arc<Flags>) -> thread::JoinHandle<Summary> {
    thread::spawn(move || {
        let mut session = shared.lock().expect("session lock");
        session
            .run(|_| {
                let k = flags.seen.fetch_add(1, Ordering::SeqCst) + 1;
                if k == 1 {
                    wait_until(|| flags.readers_going.load(Ordering::SeqCst) == READERS);
                    thread::sleep(Duration::from_millis(20));
                }
                if k == STOP_AT {
                    flags.stop_now.store(1, Ordering::SeqCst);
                    wait_until(|| flags.stops_returned.load(Ordering::SeqCst) > 0);
                }
                Control::Continue
            })
            .expect("run")
    })
}

/// What a reader saw: the iteration count, the progress callbacks done when
/// it got the lock, and whether θ and λ were finite.
type Read = (u64, usize, bool);

fn spawn_reader(shared: Shared, flags: Arc<Flags>) -> thread::JoinHandle<Read> {
    thread::spawn(move || {
        wait_until(|| flags.seen.load(Ordering::SeqCst) >= 1);
        flags.readers_going.fetch_add(1, Ordering::SeqCst);
        let session = shared.lock().expect("session lock");
        let callbacks_done = flags.seen.load(Ordering::SeqCst);
        let finite = session.theta().iter().all(|x| x.is_finite()) && session.lambda().is_finite();
        (session.iteration(), callbacks_done, finite)
    })
}

fn spawn_stopper(stop: StopHandle, flags: Arc<Flags>) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        wait_until(|| flags.stop_now.load(Ordering::SeqCst) == 1);
        for _ in 0..STOP_CALLS {
            stop.request_stop(); // needs no lock: never waits for the run
            flags.stops_returned.fetch_add(1, Ordering::SeqCst);
        }
    })
}

#[test]
fn shared_session_reports_and_stops_without_deadlock() {
    let config = HfConfig {
        max_iters: 1000, // only the stop request ends the run
        cg_max_iters: 10,
        threads: kernel_threads(),
        backend: hessfree::hf::BackendChoice::Cpu,
        ..HfConfig::default()
    };
    let session = session(5, 100, &[16], &config);
    let stop = session.stop_handle();
    let shared: Shared = Arc::new(Mutex::new(session));
    let flags = Arc::new(Flags::default());

    let (summary, reads) = with_watchdog("shared session", {
        let (shared, flags, stop) = (shared.clone(), flags.clone(), stop.clone());
        move || {
            let runner = spawn_runner(shared.clone(), flags.clone());
            let readers: Vec<_> = (0..READERS)
                .map(|_| spawn_reader(shared.clone(), flags.clone()))
                .collect();
            let stoppers: Vec<_> = (0..STOPPERS)
                .map(|_| spawn_stopper(stop.clone(), flags.clone()))
                .collect();
            let summary = runner.join().expect("runner panicked");
            for s in stoppers {
                s.join().expect("stopper panicked");
            }
            let reads: Vec<Read> = readers
                .into_iter()
                .map(|r| r.join().expect("reader panicked"))
                .collect();
            (summary, reads)
        }
    });

    assert_eq!(summary.termination, Termination::StopRequested);
    assert_eq!(summary.iterations, STOP_AT as u64);
    assert_eq!(flags.seen.load(Ordering::SeqCst), STOP_AT);
    assert_eq!(
        flags.stops_returned.load(Ordering::SeqCst),
        STOP_CALLS * STOPPERS
    );
    for (i, (iteration, callbacks_done, finite)) in reads.iter().enumerate() {
        assert_eq!(*iteration, STOP_AT as u64, "reader {i}");
        assert_eq!(*callbacks_done, STOP_AT, "reader {i} got the lock mid-run");
        assert!(finite, "reader {i}: θ or λ not finite");
    }
    // A later step works; a request made between runs stops the next run
    // before its first iteration.
    let mut session = shared.lock().expect("session lock");
    let report = session.step().expect("step after the shared run");
    assert_eq!(report.iteration, STOP_AT as u64 + 1);
    assert!(report.objective.is_finite() && session.theta().iter().all(|x| x.is_finite()));
    stop.request_stop();
    let again = session.run(|_| Control::Continue).expect("run");
    assert_eq!(again.iterations, 0);
    assert_eq!(again.termination, Termination::StopRequested);
    assert_eq!(session.iteration(), STOP_AT as u64 + 1);
}

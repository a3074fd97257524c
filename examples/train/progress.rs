//! Progress display (an indicatif bar over HF iterations, spinners for long
//! passes) and Ctrl-C handling that asks the session to stop cleanly.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hessfree::hf::StopHandle;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Runs `work` under a spinner showing `message` (nothing when `quiet`),
/// then leaves a line saying how long it took.
pub fn with_spinner<T, E>(
    quiet: bool,
    message: &str,
    work: impl FnOnce() -> Result<T, E>,
) -> Result<T, E> {
    let spinner = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new_spinner()
    };
    spinner.set_style(
        ProgressStyle::with_template("{spinner:.green} {msg} [{elapsed}]")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    spinner.set_message(message.to_string());
    spinner.enable_steady_tick(Duration::from_millis(120));
    let started = Instant::now();
    let result = work();
    spinner.finish_and_clear();
    if !quiet && result.is_ok() {
        println!(
            "{message}: done in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    result
}

/// The bar over HF iterations, with the per-iteration log printed above it.
pub struct IterationBar {
    bar: ProgressBar,
    quiet: bool,
}

impl IterationBar {
    /// A bar from iteration `start` to `total` (hidden when `quiet`; indicatif
    /// also hides it when stderr is not a terminal, and the log lines still
    /// go to stdout).
    pub fn new(start: u64, total: u64, quiet: bool) -> Self {
        let bar = if quiet {
            ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden())
        } else {
            ProgressBar::new(total)
        };
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner:.green} [{elapsed_precise}] {bar:28.cyan/blue} iter {pos}/{len} {msg} (ETA {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_position(start);
        bar.reset_eta();
        bar.set_message("computing the first iteration");
        bar.enable_steady_tick(Duration::from_millis(250));
        IterationBar { bar, quiet }
    }

    /// Prints a line above the bar (to stdout), unless quiet.
    pub fn println(&self, line: &str) {
        if !self.quiet {
            self.bar.suspend(|| println!("{line}"));
        }
    }

    /// Moves the bar to `iteration` with a status message.
    pub fn update(&self, iteration: u64, message: String) {
        self.bar.set_position(iteration);
        self.bar.set_message(message);
    }

    /// A clone of the underlying bar (for the Ctrl-C watcher).
    pub fn handle(&self) -> ProgressBar {
        self.bar.clone()
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Whether Ctrl-C was pressed.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

#[cfg(unix)]
extern "C" fn on_interrupt(_signal: libc::c_int) {
    // Only async-signal-safe work here: set a flag, or leave at once on the
    // second Ctrl-C.
    if INTERRUPTED.swap(true, Ordering::SeqCst) {
        // SAFETY: _exit is async-signal-safe and takes no pointers.
        unsafe { libc::_exit(130) };
    }
}

/// Makes Ctrl-C (and SIGTERM) ask the session to stop after the current
/// iteration, so the run still ends with its summary and a final checkpoint.
/// A second Ctrl-C exits at once.
pub fn install_interrupt_handler(stop: StopHandle, bar: ProgressBar) {
    #[cfg(unix)]
    {
        let handler = on_interrupt as extern "C" fn(libc::c_int) as libc::sighandler_t;
        // SAFETY: the handler only touches an atomic and calls _exit.
        unsafe {
            libc::signal(libc::SIGINT, handler);
            libc::signal(libc::SIGTERM, handler);
        }
    }
    // The handler cannot call into the session; a watcher thread relays it.
    std::thread::spawn(move || loop {
        if interrupted() {
            stop.request_stop();
            bar.suspend(|| {
                eprintln!(
                    "interrupted: stopping after the current iteration (press Ctrl-C again to quit at once)"
                )
            });
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    });
}

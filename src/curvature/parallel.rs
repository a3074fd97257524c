//! Row-block parallelism for the batch kernels.
//!
//! Every batch operation here is split into contiguous blocks of rows (examples),
//! one per thread, and each thread runs the whole fused sequence for its
//! block: the GEMM into its rows, then the elementwise work on the same rows
//! while they are still in cache. Each output element is computed by exactly
//! one thread in the same order whatever the thread count, so results are
//! bit-identical for 1, 2 or 64 threads.
//!
//! The blocks run on a persistent pool of worker threads (see [`run_all`]):
//! an HF iteration on a small problem makes thousands of parallel calls of a
//! millisecond or less each, and spawning a thread per call (as
//! `std::thread::scope` does) cost more CPU than many of the calls' work.
//!
//! The GEMM (the library's own f32 kernel, or matrixmultiply) runs
//! single-threaded inside each block. For matrixmultiply, ndarray is
//! built without its `matrixmultiply-threading` feature. (With it,
//! matrixmultiply started one thread per physical core inside *every* block
//! unless `MATMUL_NUM_THREADS` was set, oversubscribing the cores and spinning
//! in `sched_yield`.)

use std::any::Any;
use std::collections::VecDeque;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::sync::Arc;

use ndarray::{s, Array1, Array2, ArrayView2, ArrayViewMut2, Axis};
use parking_lot::{Condvar, Mutex};

use super::real::Real;

static THREADS: AtomicUsize = AtomicUsize::new(0);

/// The available parallelism, looked up once (0 = not yet). Asking the
/// standard library on every call read the cgroup quota files each time:
/// a few system calls per batch operation, 7 % of a small run's CPU time.
static AUTO_THREADS: AtomicUsize = AtomicUsize::new(0);

/// Rows below which a block is not worth a thread of its own.
const MIN_ROWS_PER_THREAD: usize = 64;

/// Sets the number of threads the CPU kernels use (0 = one per available core).
/// Process-wide; results do not depend on it.
pub fn set_threads(n: usize) {
    THREADS.store(n, Ordering::Relaxed);
}

/// The number of threads the CPU kernels use. With the automatic setting,
/// the available parallelism is looked up on the first call and kept.
pub fn threads() -> usize {
    match THREADS.load(Ordering::Relaxed) {
        0 => match AUTO_THREADS.load(Ordering::Relaxed) {
            0 => {
                let n = std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(1);
                AUTO_THREADS.store(n, Ordering::Relaxed);
                n
            }
            n => n,
        },
        n => n,
    }
}

/// Block boundaries are multiples of this many rows. The library's own f32
/// GEMM gives the same bits for any split; matrixmultiply (f64, and f32 on
/// CPUs without AVX2/FMA) treats
/// edge tiles (and the scaling by alpha there) differently from full ones;
/// boundaries on a multiple of its register tile keep every tile of a block
/// a tile of the whole matrix, so every element's arithmetic is identical
/// whatever the split. Its f32/f64 tiles are 4, 8 or 16 rows or columns
/// (AVX-512: 16×16; it may swap the roles of rows and columns), so 16. It
/// was 64 until the split of a 200-row weight gradient was measured at
/// 128/72 rows (64 % of the work on one of two threads; now 112/88).
const ROW_ALIGN: usize = 16;

/// Splits `units` into `k` contiguous `(first, count)` runs whose counts
/// differ by at most one.
fn split_evenly(units: usize, k: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..k).scan(0, move |first, i| {
        let count = units / k + usize::from(i < units % k);
        let run = (*first, count);
        *first += count;
        Some(run)
    })
}

/// Splits `rows` into at most `threads()` contiguous blocks of near-equal
/// size, each at least `min_rows` long, with boundaries on multiples of [`ROW_ALIGN`].
fn plan(rows: usize, min_rows: usize) -> Vec<(usize, usize)> {
    let units = rows.div_ceil(ROW_ALIGN);
    let k = threads().min(rows / min_rows.max(1)).min(units).max(1);
    split_evenly(units, k)
        .map(|(first, count)| {
            let start = first * ROW_ALIGN;
            (start, (count * ROW_ALIGN).min(rows - start))
        })
        .filter(|&(_, len)| len > 0)
        .collect()
}

/// Splits `units` (indivisible pieces of work, e.g. summation blocks) into
/// at most `threads()` contiguous `(first, count)` runs of near-equal size,
/// each at least `min_units` long (one run when there are too few).
pub(crate) fn split_units(units: usize, min_units: usize) -> Vec<(usize, usize)> {
    let k = threads().min(units / min_units.max(1)).max(1);
    split_evenly(units, k).collect()
}

/// Runs `f(start, part)` on contiguous parts of `out` in parallel, each a
/// whole number of `unit`-element units (the last part may end short) and
/// at least `min_units` units long; `start` is the part's first index.
pub(crate) fn for_each_part_mut<T, F>(out: &mut [T], unit: usize, min_units: usize, f: F)
where
    T: Send,
    F: Fn(usize, &mut [T]) + Sync,
{
    let plan = split_units(out.len().div_ceil(unit.max(1)), min_units);
    if plan.len() <= 1 {
        return f(0, out);
    }
    let f = &f;
    let mut jobs = Vec::with_capacity(plan.len());
    let mut rest = out;
    for &(first, count) in &plan {
        let len = (count * unit).min(rest.len());
        let (part, tail) = rest.split_at_mut(len);
        rest = tail;
        jobs.push(move || f(first * unit, part));
    }
    run_all(jobs);
}

fn blocks(rows: usize) -> Vec<(usize, usize)> {
    plan(rows, MIN_ROWS_PER_THREAD)
}

/// Runs `f(first_row, block)` on row blocks of `out` in parallel.
pub(crate) fn for_row_blocks<T, F>(out: &mut Array2<T>, f: F)
where
    T: Send,
    F: Fn(usize, ArrayViewMut2<'_, T>) + Sync,
{
    let plan = blocks(out.nrows());
    if plan.len() == 1 {
        f(0, out.view_mut());
        return;
    }
    let f = &f;
    let mut jobs = Vec::with_capacity(plan.len());
    let mut rest = out.view_mut();
    for &(start, len) in &plan {
        let (block, tail) = rest.split_at(Axis(0), len);
        rest = tail;
        jobs.push(move || f(start, block));
    }
    run_all(jobs);
}

/// A job with its borrows' lifetime erased (see [`run_all`]).
type Job = Box<dyn FnOnce() + Send + 'static>;

/// The persistent worker threads and their queue of jobs.
struct Pool {
    /// The process that started the workers: a forked child has none of
    /// them (and may have inherited a locked queue), so it makes its own pool.
    pid: u32,
    queue: Mutex<VecDeque<Job>>,
    /// The queue's length, readable without the lock (for spinning workers).
    queued: AtomicUsize,
    job_ready: Condvar,
    /// Workers started so far (never shrinks; idle ones sleep on `job_ready`).
    workers: Mutex<usize>,
}

/// The pool of the current process; pools of a parent process are leaked.
static POOL: AtomicPtr<Pool> = AtomicPtr::new(std::ptr::null_mut());
static POOL_CREATION: Mutex<()> = Mutex::new(());

fn pool() -> &'static Pool {
    let pid = std::process::id();
    let current = POOL.load(Ordering::Acquire);
    // SAFETY: POOL only ever holds null or a leaked, never freed `Pool`.
    if let Some(p) = unsafe { current.as_ref() } {
        if p.pid == pid {
            return p;
        }
    }
    let _guard = POOL_CREATION.lock();
    let current = POOL.load(Ordering::Acquire);
    // SAFETY: as above.
    if let Some(p) = unsafe { current.as_ref() } {
        if p.pid == pid {
            return p;
        }
    }
    let fresh: &'static Pool = Box::leak(Box::new(Pool {
        pid,
        queue: Mutex::new(VecDeque::new()),
        queued: AtomicUsize::new(0),
        job_ready: Condvar::new(),
        workers: Mutex::new(0),
    }));
    POOL.store(fresh as *const Pool as *mut Pool, Ordering::Release);
    fresh
}

impl Pool {
    /// Starts workers until there are `n`. A failure to start one is not an
    /// error: the calling thread runs whatever no worker takes.
    fn ensure_workers(&'static self, n: usize) {
        let mut workers = self.workers.lock();
        while *workers < n {
            let spawned = std::thread::Builder::new()
                .name("hessfree-worker".into())
                .spawn(move || self.work());
            if spawned.is_err() {
                break;
            }
            *workers += 1;
        }
    }

    fn work(&self) {
        loop {
            spin_until(|| self.queued.load(Ordering::Acquire) > 0);
            let job = {
                let mut queue = self.queue.lock();
                loop {
                    if let Some(job) = self.pop(&mut queue) {
                        break job;
                    }
                    self.job_ready.wait(&mut queue);
                }
            };
            job();
        }
    }

    fn pop(&self, queue: &mut VecDeque<Job>) -> Option<Job> {
        let job = queue.pop_front()?;
        self.queued.fetch_sub(1, Ordering::Release);
        Some(job)
    }
}

/// How long an idle worker, or a caller waiting for its jobs, keeps polling
/// before it sleeps. A batch operation makes a parallel call every few
/// microseconds to milliseconds (one or more per layer); sleeping and being
/// woken through the kernel at each cost about a tenth of a small run's time
/// (measured: futex wake and wait at 8 % of all samples, 784-200-50-6
/// autoencoder, chunk 250). Polling this long catches those gaps and wastes
/// at most this much CPU time when the work really is finished; OpenMP
/// runtimes poll for longer (200 ms by default in LLVM's).
const SPIN: std::time::Duration = std::time::Duration::from_micros(50);

/// Polls `ready` for up to [`SPIN`]; true if it became true.
fn spin_until(ready: impl Fn() -> bool) -> bool {
    let start = std::time::Instant::now();
    loop {
        for _ in 0..64 {
            if ready() {
                return true;
            }
            std::hint::spin_loop();
        }
        if start.elapsed() >= SPIN {
            return ready();
        }
    }
}

/// Completion state of one [`run_all`] call.
struct Batch {
    /// Jobs handed to the pool that have not finished yet (readable without
    /// the lock, for the polling caller; changed only under `lock`).
    pending: AtomicUsize,
    lock: Mutex<()>,
    finished: Condvar,
    /// The first panic of a pooled job, re-raised on the calling thread.
    panic: Mutex<Option<Box<dyn Any + Send>>>,
}

impl Batch {
    fn finish(&self, panic: Option<Box<dyn Any + Send>>) {
        if let Some(p) = panic {
            self.panic.lock().get_or_insert(p);
        }
        // Decrement under the lock, so that a waiter that has seen a
        // non-zero count under the lock is already waiting when notified.
        let _guard = self.lock.lock();
        if self.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.finished.notify_all();
        }
    }

    fn is_done(&self) -> bool {
        self.pending.load(Ordering::Acquire) == 0
    }

    fn wait(&self) {
        if spin_until(|| self.is_done()) {
            return;
        }
        let mut guard = self.lock.lock();
        while !self.is_done() {
            self.finished.wait(&mut guard);
        }
    }
}

/// Runs `jobs` in parallel: all but the last are queued for the pool's
/// workers, the last runs on the calling thread, which already holds a core
/// (and would otherwise only wait). The calling thread then runs any queued
/// job no worker has taken yet (so a busy machine, a failed worker start or a
/// forked process cannot stall it) and waits for the rest. A job's panic is
/// propagated once every job has finished. Which thread runs a job never
/// changes what it computes.
pub(crate) fn run_all<J: FnOnce() + Send>(mut jobs: Vec<J>) {
    let Some(last) = jobs.pop() else {
        return;
    };
    if jobs.is_empty() {
        return last();
    }
    let pool = pool();
    pool.ensure_workers(jobs.len());
    let batch = Arc::new(Batch {
        pending: AtomicUsize::new(jobs.len()),
        lock: Mutex::new(()),
        finished: Condvar::new(),
        panic: Mutex::new(None),
    });
    {
        let mut queue = pool.queue.lock();
        for job in jobs {
            let batch = Arc::clone(&batch);
            let job: Box<dyn FnOnce() + Send + '_> = Box::new(move || {
                let outcome = catch_unwind(AssertUnwindSafe(job));
                batch.finish(outcome.err());
            });
            // SAFETY: only the lifetime is changed. Every queued job has
            // finished (and dropped what it borrows) before `batch.wait()`
            // below returns, and nothing in this function can unwind past
            // that wait: the caller's own job and the jobs it helps with run
            // under `catch_unwind`.
            let job: Job =
                unsafe { std::mem::transmute::<Box<dyn FnOnce() + Send + '_>, Job>(job) };
            queue.push_back(job);
            pool.queued.fetch_add(1, Ordering::Release);
            pool.job_ready.notify_one();
        }
    }
    let own = catch_unwind(AssertUnwindSafe(last));
    while !batch.is_done() {
        // Help with whatever is queued (this call's jobs or another caller's:
        // each reports to its own batch and catches its own panic).
        let job = pool.pop(&mut pool.queue.lock());
        match job {
            Some(job) => job(),
            None => break,
        }
    }
    batch.wait();
    if let Err(p) = own {
        resume_unwind(p);
    }
    let panic = batch.panic.lock().take();
    if let Some(p) = panic {
        resume_unwind(p);
    }
}

/// Maps row blocks `[start, start+len)` of a batch of `rows` to values in parallel,
/// returned in block order (so reductions over them are deterministic).
pub(crate) fn map_row_blocks<R, F>(rows: usize, f: F) -> Vec<R>
where
    R: Send,
    F: Fn(usize, usize) -> R + Sync,
{
    let plan = blocks(rows);
    if plan.len() == 1 {
        return vec![f(0, rows)];
    }
    let mut slots: Vec<Option<R>> = plan.iter().map(|_| None).collect();
    let f = &f;
    let jobs: Vec<_> = slots
        .iter_mut()
        .zip(&plan)
        .map(|(slot, &(start, len))| move || *slot = Some(f(start, len)))
        .collect();
    run_all(jobs);
    slots.into_iter().flatten().collect()
}

/// `c = alpha·aᵀ·b + beta·c` with `a`: N×p, `b`: N×q, `c`: p×q, split over the
/// rows of `c` (columns of `a`), for the weight-gradient GEMMs whose inner
/// dimension is the batch.
pub(crate) fn gemm_tn<T: Real>(
    alpha: T,
    a: &ArrayView2<T>,
    b: &ArrayView2<T>,
    beta: T,
    c: &mut ArrayViewMut2<T>,
) {
    let plan = plan(c.nrows(), 16);
    if plan.len() == 1 {
        T::gemm(alpha, &a.t(), b, beta, c);
        return;
    }
    let mut jobs = Vec::with_capacity(plan.len());
    let mut rest = c.view_mut();
    for &(start, len) in &plan {
        let (mut block, tail) = rest.split_at(Axis(0), len);
        rest = tail;
        let a_cols = a.slice(s![.., start..start + len]);
        jobs.push(move || T::gemm(alpha, &a_cols.t(), b, beta, &mut block));
    }
    run_all(jobs);
}

/// Column sums of `d` (for bias gradients), split over column blocks. Every
/// column is summed over the rows in order by one thread, so the result does
/// not depend on the thread count.
pub(crate) fn column_sums<T: Real>(d: &ArrayView2<T>) -> Array1<T> {
    let mut out = vec![T::zero(); d.ncols()];
    let plan = plan(d.ncols(), 64);
    let sum_into = |c0: usize, acc: &mut [T]| {
        for row in d.rows() {
            let row = row.slice_move(s![c0..c0 + acc.len()]);
            match row.as_slice() {
                Some(r) => acc.iter_mut().zip(r).for_each(|(a, &v)| *a = *a + v),
                None => acc.iter_mut().zip(&row).for_each(|(a, &v)| *a = *a + v),
            }
        }
    };
    if plan.len() == 1 {
        sum_into(0, &mut out);
        return Array1::from(out);
    }
    let sum_into = &sum_into;
    let mut jobs = Vec::with_capacity(plan.len());
    let mut rest = &mut out[..];
    for &(start, len) in &plan {
        let (block, tail) = rest.split_at_mut(len);
        rest = tail;
        jobs.push(move || sum_into(start, block));
    }
    run_all(jobs);
    Array1::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooled_jobs_all_run_and_panics_propagate() {
        let hits: Vec<AtomicUsize> = (0..5).map(|_| AtomicUsize::new(0)).collect();
        for _ in 0..200 {
            let jobs: Vec<_> = hits
                .iter()
                .map(|h| move || _ = h.fetch_add(1, Ordering::Relaxed))
                .collect();
            run_all(jobs);
        }
        assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 200));

        let done = AtomicUsize::new(0);
        let jobs: Vec<Box<dyn FnOnce() + Send + '_>> = vec![
            Box::new(|| panic!("worker job fails")),
            Box::new(|| _ = done.fetch_add(1, Ordering::Relaxed)),
            Box::new(|| _ = done.fetch_add(1, Ordering::Relaxed)),
        ];
        let caught = catch_unwind(AssertUnwindSafe(|| run_all(jobs)));
        assert!(caught.is_err(), "the job's panic reaches the caller");
        assert_eq!(done.load(Ordering::Relaxed), 2, "the other jobs still ran");
        // The pool keeps working after a panic.
        assert_eq!((0..4).map(|i| i * 10).collect::<Vec<_>>(), {
            let mut slots = [0usize; 4];
            let jobs: Vec<_> = slots
                .iter_mut()
                .enumerate()
                .map(|(i, s)| move || *s = i * 10)
                .collect();
            run_all(jobs);
            slots.to_vec()
        });
    }

    #[test]
    fn nested_parallel_calls_complete() {
        let total = AtomicUsize::new(0);
        let outer: Vec<_> = (0..4)
            .map(|_| {
                let total = &total;
                move || {
                    let inner: Vec<_> = (0..4)
                        .map(|_| move || _ = total.fetch_add(1, Ordering::Relaxed))
                        .collect();
                    run_all(inner);
                }
            })
            .collect();
        run_all(outer);
        assert_eq!(total.load(Ordering::Relaxed), 16);
    }

    #[test]
    fn parts_cover_every_element_once_at_their_own_index() {
        for threads in [1, 2, 3, 7] {
            set_threads(threads);
            for len in [0, 1, 63, 64, 65, 640, 1000] {
                let mut v = vec![usize::MAX; len];
                for_each_part_mut(&mut v, 64, 2, |start, part| {
                    assert!(start % 64 == 0, "a part starts on a unit boundary");
                    for (i, x) in part.iter_mut().enumerate() {
                        assert_eq!(*x, usize::MAX, "element written twice");
                        *x = start + i;
                    }
                });
                assert!(
                    v.iter().enumerate().all(|(i, &x)| x == i),
                    "{threads} threads, {len}"
                );
            }
        }
        set_threads(0);
    }

    #[test]
    fn gemm_splits_give_the_same_bits_as_one_block() {
        let fill = |r: usize, c: usize, s: f32| {
            Array2::from_shape_fn((r, c), |(i, j)| ((i * 31 + j * 17) as f32 * s).sin() * 0.3)
        };
        for &(n, p, q) in &[
            (250, 200, 784),
            (250, 784, 200),
            (1000, 50, 6),
            (37, 200, 50),
            (130, 30, 250),
        ] {
            let (a, b) = (fill(n, p, 0.37), fill(n, q, 0.11));
            let w = fill(p, q, 0.23);
            let alpha = 1.0 / n as f32;
            let run = |threads: usize| {
                set_threads(threads);
                let mut c = Array2::<f32>::zeros((p, q));
                gemm_tn(alpha, &a.view(), &b.view(), 0.0, &mut c.view_mut());
                let mut z = Array2::<f32>::zeros((n, q));
                for_row_blocks(&mut z, |r0, mut zb| {
                    let rows = s![r0..r0 + zb.nrows(), ..];
                    f32::gemm(alpha, &a.slice(rows), &w.view(), 0.0, &mut zb);
                });
                (c, z)
            };
            let one = run(1);
            for threads in [2, 3, 5] {
                let (c, z) = run(threads);
                let same = |x: &Array2<f32>, y: &Array2<f32>| {
                    x.iter().zip(y).all(|(u, v)| u.to_bits() == v.to_bits())
                };
                assert!(same(&c, &one.0), "gemm_tn {n}x{p}x{q}, {threads} threads");
                assert!(
                    same(&z, &one.1),
                    "row blocks {n}x{p}x{q}, {threads} threads"
                );
            }
        }
        set_threads(0);
    }
}

//! Row-block parallelism for the batch kernels.
//!
//! Every batch operation here is split into contiguous blocks of rows (examples),
//! one per thread, and each thread runs the whole fused sequence for its
//! block: the GEMM into its rows, then the elementwise work on the same rows
//! while they are still in cache. Each output element is computed by exactly
//! one thread in the same order whatever the thread count, so results are
//! bit-identical for 1, 2 or 64 threads.
//!
//! matrixmultiply itself runs single-threaded inside each block: ndarray is
//! built without its `matrixmultiply-threading` feature. (With it,
//! matrixmultiply started one thread per physical core inside *every* block
//! unless `MATMUL_NUM_THREADS` was set, oversubscribing the cores and spinning
//! in `sched_yield`.)

use std::sync::atomic::{AtomicUsize, Ordering};

use ndarray::linalg::general_mat_mul;
use ndarray::{s, Array1, Array2, ArrayView2, ArrayViewMut2, Axis};

use super::real::Real;

static THREADS: AtomicUsize = AtomicUsize::new(0);

/// Rows below which a block is not worth a thread of its own.
const MIN_ROWS_PER_THREAD: usize = 64;

/// Sets the number of threads the CPU kernels use (0 = one per available core).
/// Process-wide; results do not depend on it.
pub fn set_threads(n: usize) {
    THREADS.store(n, Ordering::Relaxed);
}

/// The number of threads the CPU kernels use.
pub fn threads() -> usize {
    match THREADS.load(Ordering::Relaxed) {
        0 => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        n => n,
    }
}

/// Block boundaries are multiples of this many rows. matrixmultiply treats
/// edge tiles (and the scaling by alpha there) differently from full ones;
/// boundaries on a multiple of its block sizes keep every element's
/// arithmetic identical whatever the split.
const ROW_ALIGN: usize = 64;

/// Splits `rows` into at most `threads()` contiguous blocks of near-equal
/// size, each at least `min_rows` long, with boundaries on multiples of [`ROW_ALIGN`].
fn plan(rows: usize, min_rows: usize) -> Vec<(usize, usize)> {
    let units = rows.div_ceil(ROW_ALIGN);
    let k = threads().min(rows / min_rows.max(1)).min(units).max(1);
    let mut out = Vec::with_capacity(k);
    let mut start = 0;
    for i in 0..k {
        let units_here = units / k + usize::from(i < units % k);
        let len = (units_here * ROW_ALIGN).min(rows - start);
        out.push((start, len));
        start += len;
    }
    out.retain(|&(_, len)| len > 0);
    out
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

/// Runs `jobs` in parallel: all but the last on scoped threads, the last on
/// the calling thread, which already holds a core (and would otherwise only
/// wait); a job's panic is propagated.
fn run_all<J: FnOnce() + Send>(mut jobs: Vec<J>) {
    let last = jobs.pop();
    std::thread::scope(|scope| {
        for job in jobs {
            scope.spawn(job);
        }
        if let Some(job) = last {
            job();
        }
    });
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
    let Some((&(last_start, last_len), head)) = plan.split_last() else {
        return Vec::new();
    };
    std::thread::scope(|scope| {
        let f = &f;
        let handles: Vec<_> = head
            .iter()
            .map(|&(start, len)| scope.spawn(move || f(start, len)))
            .collect();
        // The calling thread takes the last block instead of only waiting.
        let last = f(last_start, last_len);
        let mut out: Vec<R> = handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect();
        out.push(last);
        out
    })
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
        general_mat_mul(alpha, &a.t(), b, beta, c);
        return;
    }
    let mut jobs = Vec::with_capacity(plan.len());
    let mut rest = c.view_mut();
    for &(start, len) in &plan {
        let (mut block, tail) = rest.split_at(Axis(0), len);
        rest = tail;
        let a_cols = a.slice(s![.., start..start + len]);
        jobs.push(move || general_mat_mul(alpha, &a_cols.t(), b, beta, &mut block));
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

//! The parameter-length vector work of CG and the HF step: dot products and
//! the fused CG update, with f64 sums over `f32` vectors.
//!
//! Why not a plain `iter().sum()`: an f64 addition chain in index order is
//! bound by the adder's latency (about 4 cycles per element), and on small
//! networks that made CG's vector work a sixth of a run's time, all of it on
//! one thread while the curvature products use every core. Here every sum
//! runs over [`BLOCK`]-element blocks in index order, and inside a block over
//! [`LANES`] interleaved partial sums (element `i` goes to lane `i % LANES`)
//! that are combined pairwise at the block's end. That order is fixed by the
//! vector length alone, so results are bit-identical across machines, SIMD
//! widths and thread counts; it is also more accurate than one long chain.
//!
//! Each loop is compiled twice, for the baseline target and for AVX2 (picked
//! at run time). Both give identical bits: Rust never fuses `a*b + c` into an
//! FMA on its own, and every other operation is correctly rounded. The
//! blocks are shared among the kernel threads
//! ([`crate::curvature::parallel`]); each block's sum is kept apart and the
//! block sums are added in order, so the thread count changes nothing.

use crate::curvature::parallel::{for_each_part_mut, run_all, split_units};

/// Elements per summation block.
pub(crate) const BLOCK: usize = 4096;

/// Interleaved partial sums per block: enough independent addition chains
/// to hide the f64 adder's latency with 256-bit vectors.
pub(crate) const LANES: usize = 8;

/// Blocks below which a share of the work is not worth a kernel thread
/// (32 768 elements: about 50 µs of the CG update). With the pool's workers
/// polling between calls, two threads halve the CG update at 335 490
/// parameters (0.58 → 0.30 ms on the 2-core development VM).
const MIN_BLOCKS_PER_JOB: usize = 8;

/// Adds the lanes pairwise: `((l0+l1)+(l2+l3)) + ((l4+l5)+(l6+l7))`.
#[inline(always)]
fn combine(l: [f64; LANES]) -> f64 {
    ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]))
}

/// `Σ a[i]·b[i]` (in f64) over one block.
#[inline(always)]
fn dot_block(a: &[f32], b: &[f32]) -> f64 {
    let mut acc = [0f64; LANES];
    let whole = a.len() - a.len() % LANES;
    for (x, y) in a[..whole]
        .chunks_exact(LANES)
        .zip(b[..whole].chunks_exact(LANES))
    {
        for j in 0..LANES {
            acc[j] += x[j] as f64 * y[j] as f64;
        }
    }
    for (j, (&x, &y)) in a[whole..].iter().zip(&b[whole..]).enumerate() {
        acc[j] += x as f64 * y as f64;
    }
    combine(acc)
}

/// Writes each block's sum into `sums`.
#[inline(always)]
fn dot_blocks(a: &[f32], b: &[f32], sums: &mut [f64]) {
    for ((a, b), s) in a.chunks(BLOCK).zip(b.chunks(BLOCK)).zip(sums) {
        *s = dot_block(a, b);
    }
}

/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn dot_blocks_avx2(a: &[f32], b: &[f32], sums: &mut [f64]) {
    dot_blocks(a, b, sums)
}

fn dot_blocks_dispatch(a: &[f32], b: &[f32], sums: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 support was just checked.
        return unsafe { dot_blocks_avx2(a, b, sums) };
    }
    dot_blocks(a, b, sums)
}

/// `Σ a[i]·b[i]` with every product and sum in f64, in the blocked order of
/// this module, on the kernel threads. Uses the shorter length if they differ.
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len().min(b.len());
    let mut sums = vec![0f64; n.div_ceil(BLOCK)];
    // One unit of `sums` per block: each part sums its own blocks.
    for_each_part_mut(&mut sums, 1, MIN_BLOCKS_PER_JOB, |first, mine| {
        let range = first * BLOCK..((first + mine.len()) * BLOCK).min(n);
        dot_blocks_dispatch(&a[range.clone()], &b[range], mine)
    });
    sums.iter().fold(0f64, |total, &s| total + s)
}

/// Runs `f(start, part)` on contiguous parts of `out` (whole blocks, each
/// starting at element `start`) on the kernel threads: for elementwise work
/// on parameter-length vectors, which has no sums and so no order to keep.
pub(crate) fn for_each_block_mut<F>(out: &mut [f32], f: F)
where
    F: Fn(usize, &mut [f32]) + Sync,
{
    for_each_part_mut(out, BLOCK, MIN_BLOCKS_PER_JOB, f)
}

/// `φ(x) = ½ Σ x[i]·(r[i] − b[i])` in f64, in the blocked order; the same
/// sum [`cg_update`] forms for its φ.
pub(crate) fn phi(x: &[f32], r: &[f32], b: &[f32]) -> f64 {
    let n = x.len().min(r.len()).min(b.len());
    let mut total = 0f64;
    for start in (0..n).step_by(BLOCK) {
        let end = (start + BLOCK).min(n);
        let mut acc = [0f64; LANES];
        for (k, i) in (start..end).enumerate() {
            acc[k % LANES] += x[i] as f64 * (r[i] as f64 - b[i] as f64);
        }
        total += combine(acc);
    }
    0.5 * total
}

/// The vectors one CG update reads and writes.
pub(crate) struct CgVectors<'a> {
    /// Search direction.
    pub p: &'a [f32],
    /// The operator applied to `p`.
    pub ap: &'a [f32],
    /// Right-hand side.
    pub b: &'a [f32],
    /// Diagonal preconditioner, if any.
    pub m: Option<&'a [f32]>,
    /// Iterate, updated in place.
    pub x: &'a mut [f32],
    /// Residual `A x − b`, updated in place.
    pub r: &'a mut [f32],
    /// Preconditioned residual `r / M`, overwritten.
    pub y: &'a mut [f32],
}

/// The elementwise part of the CG update over one block: `x += α·p`,
/// `r += α·Ap` (in f64, rounded to f32), `y = r / M` (or `y = r`).
#[inline(always)]
fn update_block_vectors(
    alpha: f64,
    (p, ap, m): (&[f32], &[f32], Option<&[f32]>),
    x: &mut [f32],
    r: &mut [f32],
    y: &mut [f32],
) {
    for (xi, &pi) in x.iter_mut().zip(p) {
        *xi = (*xi as f64 + alpha * pi as f64) as f32;
    }
    for (ri, &api) in r.iter_mut().zip(ap) {
        *ri = (*ri as f64 + alpha * api as f64) as f32;
    }
    match m {
        Some(m) => {
            for ((yi, &ri), &mi) in y.iter_mut().zip(&*r).zip(m) {
                *yi = ri / mi;
            }
        }
        None => y.copy_from_slice(r),
    }
}

/// `(Σ r[i]·y[i], Σ x[i]·(r[i] − b[i]))` over one block, in the lane order.
/// Kept apart from the elementwise loops, which the compiler vectorises
/// only without reductions in them; the block is still in cache.
#[inline(always)]
fn update_block_sums(x: &[f32], r: &[f32], y: &[f32], b: &[f32]) -> (f64, f64) {
    let mut ry = [0f64; LANES];
    let mut ph = [0f64; LANES];
    let whole = x.len() - x.len() % LANES;
    let lanes = x[..whole]
        .chunks_exact(LANES)
        .zip(r[..whole].chunks_exact(LANES))
        .zip(
            y[..whole]
                .chunks_exact(LANES)
                .zip(b[..whole].chunks_exact(LANES)),
        );
    for ((xc, rc), (yc, bc)) in lanes {
        for j in 0..LANES {
            ry[j] += rc[j] as f64 * yc[j] as f64;
            ph[j] += xc[j] as f64 * (rc[j] as f64 - bc[j] as f64);
        }
    }
    for (j, i) in (whole..x.len()).enumerate() {
        ry[j] += r[i] as f64 * y[i] as f64;
        ph[j] += x[i] as f64 * (r[i] as f64 - b[i] as f64);
    }
    (combine(ry), combine(ph))
}

/// The update over whole blocks of `v`, each block's two sums into `sums`.
#[inline(always)]
fn update_blocks(alpha: f64, v: &mut CgVectors<'_>, sums: &mut [(f64, f64)]) {
    let CgVectors {
        p,
        ap,
        b,
        m,
        x,
        r,
        y,
    } = v;
    let n = x.len();
    for (start, s) in (0..n).step_by(BLOCK).zip(sums) {
        let block = start..(start + BLOCK).min(n);
        let (xb, rb, yb) = (
            &mut x[block.clone()],
            &mut r[block.clone()],
            &mut y[block.clone()],
        );
        let inputs = (
            &p[block.clone()],
            &ap[block.clone()],
            m.map(|m| &m[block.clone()]),
        );
        update_block_vectors(alpha, inputs, xb, rb, yb);
        *s = update_block_sums(xb, rb, yb, &b[block]);
    }
}

/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn update_blocks_avx2(alpha: f64, v: &mut CgVectors<'_>, sums: &mut [(f64, f64)]) {
    update_blocks(alpha, v, sums)
}

fn update_blocks_dispatch(alpha: f64, v: &mut CgVectors<'_>, sums: &mut [(f64, f64)]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 support was just checked.
        return unsafe { update_blocks_avx2(alpha, v, sums) };
    }
    update_blocks(alpha, v, sums)
}

/// One CG update in a single sweep: `x += α·p`, `r += α·Ap`, `y = r / M`
/// (each in f64, rounded to f32); returns `(rᵀy, φ(x))` with the sums in the
/// blocked order, so `rᵀy` equals [`dot`]`(r, y)` and `φ` equals [`phi`]
/// of the updated vectors bit for bit. Runs on the kernel threads.
///
/// # Panics
/// If the vectors' lengths differ (an internal error: CG checks them).
pub(crate) fn cg_update(alpha: f64, v: &mut CgVectors<'_>) -> (f64, f64) {
    let n = v.x.len();
    assert!(
        [v.p.len(), v.ap.len(), v.b.len(), v.r.len(), v.y.len()]
            .iter()
            .chain(v.m.map(<[f32]>::len).as_ref())
            .all(|&len| len == n),
        "CG vectors of different lengths"
    );
    let mut sums = vec![(0f64, 0f64); n.div_ceil(BLOCK)];
    let plan = split_units(sums.len(), MIN_BLOCKS_PER_JOB);
    let mut jobs = Vec::with_capacity(plan.len());
    let (mut x, mut r, mut y, mut rest) = (&mut *v.x, &mut *v.r, &mut *v.y, &mut sums[..]);
    for &(first, count) in &plan {
        let range = first * BLOCK..((first + count) * BLOCK).min(n);
        let len = range.len();
        let (mine, tail) = rest.split_at_mut(count);
        rest = tail;
        let (xj, xt) = x.split_at_mut(len);
        let (rj, rt) = r.split_at_mut(len);
        let (yj, yt) = y.split_at_mut(len);
        (x, r, y) = (xt, rt, yt);
        let mut part = CgVectors {
            p: &v.p[range.clone()],
            ap: &v.ap[range.clone()],
            b: &v.b[range.clone()],
            m: v.m.map(|m| &m[range]),
            x: xj,
            r: rj,
            y: yj,
        };
        jobs.push(move || update_blocks_dispatch(alpha, &mut part, mine));
    }
    run_all(jobs);
    let (ry, phi) = sums
        .iter()
        .fold((0f64, 0f64), |(ry, phi), &(r, p)| (ry + r, phi + p));
    (ry, 0.5 * phi)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reproducible vector with values of mixed sign and magnitude.
    fn wavy(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| {
                let t = (i as f32 + 1.0) * (0.618 + seed as f32 * 0.1);
                t.sin() * (1.0 + (i % 7) as f32) * 1e-2
            })
            .collect()
    }

    /// The documented order written out element by element.
    fn reference_sum(terms: &[f64]) -> f64 {
        let mut total = 0f64;
        for block in terms.chunks(BLOCK) {
            let mut acc = [0f64; LANES];
            for (i, &t) in block.iter().enumerate() {
                acc[i % LANES] += t;
            }
            total += combine(acc);
        }
        total
    }

    #[test]
    fn dot_follows_the_documented_order_at_every_length() {
        for n in [0, 1, 7, 8, 9, 4095, 4096, 4097, 3 * BLOCK + 5] {
            let (a, b) = (wavy(n, 1), wavy(n, 2));
            let terms: Vec<f64> = a
                .iter()
                .zip(&b)
                .map(|(&x, &y)| x as f64 * y as f64)
                .collect();
            assert_eq!(
                dot(&a, &b).to_bits(),
                reference_sum(&terms).to_bits(),
                "n = {n}"
            );
            let mut sums = vec![0f64; n.div_ceil(BLOCK)];
            dot_blocks(&a, &b, &mut sums);
            let baseline = sums.iter().fold(0f64, |t, &s| t + s);
            assert_eq!(
                baseline.to_bits(),
                dot(&a, &b).to_bits(),
                "baseline = dispatched, n = {n}"
            );
            let plain: f64 = terms.iter().sum();
            assert!(
                (dot(&a, &b) - plain).abs() <= 1e-12 * terms.iter().map(|t| t.abs()).sum::<f64>()
            );
        }
    }

    #[test]
    fn cg_update_matches_its_parts_with_and_without_preconditioner() {
        let n = 2 * BLOCK + 13;
        for with_m in [false, true] {
            let (p, ap, b) = (wavy(n, 3), wavy(n, 4), wavy(n, 5));
            let m: Vec<f32> = wavy(n, 6).iter().map(|v| 1.0 + v.abs()).collect();
            let (mut x, mut r, mut y) = (wavy(n, 7), wavy(n, 8), vec![0f32; n]);
            let (x0, r0) = (x.clone(), r.clone());
            let alpha = 0.37;
            let mut v = CgVectors {
                p: &p,
                ap: &ap,
                b: &b,
                m: with_m.then_some(&m[..]),
                x: &mut x,
                r: &mut r,
                y: &mut y,
            };
            let (ry, ph) = cg_update(alpha, &mut v);
            let (mut x2, mut r2, mut y2) = (x0.clone(), r0.clone(), vec![0f32; n]);
            let mut sums = vec![(0f64, 0f64); n.div_ceil(BLOCK)];
            update_blocks(
                alpha,
                &mut CgVectors {
                    p: &p,
                    ap: &ap,
                    b: &b,
                    m: with_m.then_some(&m[..]),
                    x: &mut x2,
                    r: &mut r2,
                    y: &mut y2,
                },
                &mut sums,
            );
            let (ry2, ph2) = sums
                .iter()
                .fold((0f64, 0f64), |(a, b), &(r, p)| (a + r, b + p));
            let ph2 = 0.5 * ph2;
            assert_eq!((ry.to_bits(), ph.to_bits()), (ry2.to_bits(), ph2.to_bits()));
            for i in 0..n {
                assert_eq!(x[i], (x0[i] as f64 + alpha * p[i] as f64) as f32);
                assert_eq!(r[i], (r0[i] as f64 + alpha * ap[i] as f64) as f32);
                assert_eq!(y[i], if with_m { r[i] / m[i] } else { r[i] });
            }
            assert_eq!(ry.to_bits(), dot(&r, &y).to_bits());
            assert_eq!(ph.to_bits(), phi(&x, &r, &b).to_bits());
        }
    }

    #[test]
    fn thread_count_changes_no_bit() {
        let n = 3 * MIN_BLOCKS_PER_JOB * BLOCK + 17;
        let (p, ap, b) = (wavy(n, 1), wavy(n, 2), wavy(n, 3));
        let m: Vec<f32> = wavy(n, 4).iter().map(|v| 1.0 + v.abs()).collect();
        let run = |threads: usize| {
            crate::curvature::parallel::set_threads(threads);
            let (mut x, mut r, mut y) = (wavy(n, 5), wavy(n, 6), vec![0f32; n]);
            let sums = cg_update(
                -0.3,
                &mut CgVectors {
                    p: &p,
                    ap: &ap,
                    b: &b,
                    m: Some(&m),
                    x: &mut x,
                    r: &mut r,
                    y: &mut y,
                },
            );
            (
                dot(&p, &ap).to_bits(),
                sums.0.to_bits(),
                sums.1.to_bits(),
                x,
                r,
                y,
            )
        };
        let one = run(1);
        for threads in [2, 3, 5] {
            assert!(run(threads) == one, "{threads} threads differ from one");
        }
        crate::curvature::parallel::set_threads(0);
    }
}

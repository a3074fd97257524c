//! Single-precision GEMM with a 6×16 AVX2/FMA register kernel.
//!
//! `c = alpha·a·b + beta·c` on strided `f32` views, in the classic
//! Goto/BLIS arrangement: `b` is packed in panels of [`NR`] columns and
//! [`KC`] rows (a panel stays in L1 while the kernel runs over it), `a` in
//! blocks of [`MC`] rows × [`KC`] (a block stays in L2), and a kernel
//! computes a [`MR`]×[`NR`] tile of `c` in twelve vector registers (a
//! 6×8 form of it computes a last panel of 8 or fewer columns).
//!
//! Why not matrixmultiply, which ndarray uses: its `f32` FMA kernel is 8×8
//! with in-register permutes, its blocks are 64 rows of `a` deep 256, and
//! its edge blocks (784 = 3·256 + 16) cost a pass over `c` for little work.
//! On this project's 2-core Zen 3 VM (one thread, 100 GFLOP/s FMA peak),
//! at the MNIST autoencoder's full-chunk shapes (`cargo bench --bench ops
//! -- gemm`, 2026-11-28): matrixmultiply 72–85 GFLOP/s, this kernel 83–92,
//! numpy's OpenBLAS 88–94. The GEMMs are most of the time of every large
//! pass, so this is most of the per-operation difference to the
//! OpenBLAS-backed `hessianfree` package. At the small blocks of a
//! 250-example chunk both reach about 83–90 GFLOP/s.
//!
//! **Determinism.** Every element of `c` is one fused multiply-add chain
//! over `k` in order, restarted at each depth-block boundary (the blocks
//! depend on `k` alone) and added to `c` with the same two rounded operations, whatever tile, block or thread
//! computes it. Splitting `c` into row or column blocks (as
//! [`super::parallel`] does) therefore never changes a bit.
//!
//! Machines without AVX2 and FMA (and other architectures) use
//! matrixmultiply through ndarray, as does everyone with
//! `HESSFREE_GEMM=matrixmultiply` (read once), for comparisons.

use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayView1, ArrayView2, ArrayViewMut2};

/// Rows of `c` in one kernel tile (one broadcast of `a` each).
const MR: usize = 6;
/// Columns of `c` in one kernel tile (two 8-lane vectors).
const NR: usize = 16;
/// Largest depth of one packed block: `KC`×`NR` floats of `b` (20 KiB) and
/// `KC`×`MR` of `a` (7.5 KiB) stay in L1.
const KC: usize = 320;
/// Rows of `a` in one packed block: `MC`×`KC` floats (144 KiB) stay in L2.
const MC: usize = 144;
/// Columns of `b` in one packed block (a multiple of [`NR`]).
const NC: usize = 4096;

/// `c = alpha·a·b + beta·c` in `f32` on one thread: the GEMM of every CPU
/// pass (the kernels split `c` into row blocks over threads themselves).
/// With `beta = 0`, `c` is not read (it may hold NaN). Any strides (e.g.
/// transposed views) are accepted. Panics if the shapes do not agree, as
/// ndarray's `general_mat_mul`.
pub fn sgemm(
    alpha: f32,
    a: &ArrayView2<f32>,
    b: &ArrayView2<f32>,
    beta: f32,
    c: &mut ArrayViewMut2<f32>,
) {
    check_shapes(a, b, c);
    if !kernel_available() {
        return general_mat_mul(alpha, a, b, beta, c);
    }
    if a.ncols() == 0 || alpha == 0.0 {
        return scale(beta, c);
    }
    run(alpha, a, b, Start::Scaled(beta), c);
}

/// `c = a·b + 1·biasᵀ` (every row of `c` starts from `bias`) in `f32` on one
/// thread; `c` is not read. The same bits as filling each row of `c` with
/// `bias` and calling [`sgemm`] with `beta = 1`, without that extra pass
/// over `c` (the kernel adds the bias where it first writes each tile).
/// Panics if the shapes do not agree.
pub fn sgemm_bias(
    a: &ArrayView2<f32>,
    b: &ArrayView2<f32>,
    bias: &ArrayView1<f32>,
    c: &mut ArrayViewMut2<f32>,
) {
    check_shapes(a, b, c);
    assert_eq!(bias.len(), c.ncols(), "gemm bias length");
    match bias.as_slice() {
        Some(values) if kernel_available() && a.ncols() > 0 => {
            run(1.0, a, b, Start::Bias(values.as_ptr()), c)
        }
        _ => {
            c.rows_mut().into_iter().for_each(|mut r| r.assign(bias));
            sgemm(1.0, a, b, 1.0, c)
        }
    }
}

fn check_shapes(a: &ArrayView2<f32>, b: &ArrayView2<f32>, c: &ArrayViewMut2<f32>) {
    assert!(
        a.ncols() == b.nrows() && c.dim() == (a.nrows(), b.ncols()),
        "gemm shapes: a {:?}, b {:?}, c {:?}",
        a.dim(),
        b.dim(),
        c.dim()
    );
}

/// What the first depth block adds its product to.
#[derive(Clone, Copy)]
enum Start {
    /// `beta·c` (`c` unread when `beta` is 0).
    Scaled(f32),
    /// The row vector at this pointer (one value per column of `c`).
    Bias(*const f32),
}

/// The kernel path of [`sgemm`] and [`sgemm_bias`], for checked shapes and
/// a depth of at least one.
fn run(
    alpha: f32,
    a: &ArrayView2<f32>,
    b: &ArrayView2<f32>,
    start: Start,
    c: &mut ArrayViewMut2<f32>,
) {
    let (m, k, n) = (a.nrows(), a.ncols(), b.ncols());
    if m == 0 || n == 0 {
        return;
    }
    let a = Strided::of(a.as_ptr(), a.strides());
    let b = Strided::of(b.as_ptr(), b.strides());
    let (rsc, csc) = (c.strides()[0], c.strides()[1]);
    let c_ptr = c.as_mut_ptr();
    PACKS.with(|packs| {
        let mut packs = packs.borrow_mut();
        let Packs { a: pa, b: pb } = &mut *packs;
        // SAFETY: the views' pointers and strides address m×k, k×n and m×n
        // elements (ndarray's invariant), a bias n values; `c` is borrowed
        // mutably, so no other reference sees it while it is written; the
        // kernel runs only where `kernel_available` found AVX2 and FMA.
        unsafe { blocked((m, k, n), alpha, a, b, start, (c_ptr, rsc, csc), pa, pb) }
    });
}

/// `c = beta·c` (0 when `beta` is 0, whatever `c` held).
fn scale(beta: f32, c: &mut ArrayViewMut2<f32>) {
    if beta == 0.0 {
        c.fill(0.0);
    } else if beta != 1.0 {
        c.mapv_inplace(|v| beta * v);
    }
}

/// True where the AVX2/FMA kernel can run and has not been switched off.
fn kernel_available() -> bool {
    static USABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *USABLE.get_or_init(|| {
        let forced_off =
            std::env::var("HESSFREE_GEMM").is_ok_and(|v| v.eq_ignore_ascii_case("matrixmultiply"));
        !forced_off && cpu_has_kernel_features()
    })
}

#[cfg(target_arch = "x86_64")]
fn cpu_has_kernel_features() -> bool {
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
}

#[cfg(not(target_arch = "x86_64"))]
fn cpu_has_kernel_features() -> bool {
    false
}

/// Which GEMM [`sgemm`] uses on this machine, for benchmark reports.
pub fn sgemm_name() -> &'static str {
    if kernel_available() {
        "hessfree 6x16 AVX2/FMA"
    } else {
        "matrixmultiply"
    }
}

/// A read-only matrix as a pointer and element strides.
#[derive(Clone, Copy)]
struct Strided {
    ptr: *const f32,
    row: isize,
    col: isize,
}

impl Strided {
    fn of(ptr: *const f32, strides: &[isize]) -> Self {
        Strided {
            ptr,
            row: strides[0],
            col: strides[1],
        }
    }

    /// Pointer to element (i, j).
    ///
    /// # Safety
    /// (i, j) must lie inside the matrix.
    #[inline(always)]
    unsafe fn at(self, i: usize, j: usize) -> *const f32 {
        self.ptr
            .offset(i as isize * self.row + j as isize * self.col)
    }
}

/// Per-thread packing buffers, reused across calls (a batch pass makes
/// thousands of calls; allocating the blocks each time showed up as page
/// faults).
struct Packs {
    a: Vec<f32>,
    b: Vec<f32>,
}

thread_local! {
    static PACKS: std::cell::RefCell<Packs> =
        const { std::cell::RefCell::new(Packs { a: Vec::new(), b: Vec::new() }) };
}

/// The blocked loops: columns of `b` in blocks of [`NC`], depth in blocks of
/// [`KC`], rows of `a` in blocks of [`MC`], then kernel tiles.
///
/// # Safety
/// `a`, `b` and `c` must address m×k, k×n and m×n elements; `c` must not
/// overlap `a` or `b`; the CPU must have AVX2 and FMA.
#[allow(clippy::too_many_arguments)]
#[cfg_attr(target_arch = "x86_64", target_feature(enable = "avx2,fma"))]
unsafe fn blocked(
    (m, k, n): (usize, usize, usize),
    alpha: f32,
    a: Strided,
    b: Strided,
    start: Start,
    (c, rsc, csc): (*mut f32, isize, isize),
    pack_a: &mut Vec<f32>,
    pack_b: &mut Vec<f32>,
) {
    for j0 in (0..n).step_by(NC) {
        let nc = NC.min(n - j0);
        let panels_b = nc.div_ceil(NR);
        let depth = depth_block(k);
        for p0 in (0..k).step_by(depth) {
            let kc = depth.min(k - p0);
            // The first depth block starts from beta·c or the bias; later
            // ones add to c.
            let (beta_here, bias) = match start {
                Start::Scaled(beta) if p0 == 0 => (beta, std::ptr::null()),
                Start::Bias(bias) if p0 == 0 => (1.0, bias.add(j0)),
                _ => (1.0, std::ptr::null()),
            };
            let pb = aligned(pack_b, panels_b * kc * NR);
            pack_b_block(b, p0, kc, j0, nc, pb);
            for i0 in (0..m).step_by(MC) {
                let mc = MC.min(m - i0);
                let panels_a = mc.div_ceil(MR);
                let pa = aligned(pack_a, panels_a * kc * MR);
                pack_a_block(a, i0, mc, p0, kc, pa);
                for q in 0..panels_b {
                    let cols = NR.min(nc - q * NR);
                    let bp = pb.as_ptr().add(q * kc * NR);
                    for r in 0..panels_a {
                        let rows = MR.min(mc - r * MR);
                        let ap = pa.as_ptr().add(r * kc * MR);
                        let tile =
                            c.offset((i0 + r * MR) as isize * rsc + (j0 + q * NR) as isize * csc);
                        let bias = if bias.is_null() {
                            bias
                        } else {
                            bias.add(q * NR)
                        };
                        if rows == MR && cols == NR && csc == 1 {
                            kernel::<2>(kc, ap, bp, alpha, (beta_here, bias), tile, rsc);
                        } else if rows == MR && cols == NR / 2 && csc == 1 {
                            kernel::<1>(kc, ap, bp, alpha, (beta_here, bias), tile, rsc);
                        } else {
                            let start = (beta_here, bias);
                            edge_tile(kc, ap, bp, alpha, start, (tile, rsc, csc), rows, cols);
                        }
                    }
                }
            }
        }
    }
}

/// The depth of the blocks `k` is cut into: at most [`KC`], as even as
/// possible (784 = 3 × 262 rather than 3 × 256 + 16, whose last block would
/// cost a pass over `c` for little work). It depends on `k` alone, so how
/// `c` is split never changes the summation order.
fn depth_block(k: usize) -> usize {
    k.div_ceil(k.div_ceil(KC)).max(1)
}

/// A `len`-element slice of `buf` that starts on a cache line (a packed
/// `b` row of 16 floats is then one line, and its two vector loads never
/// straddle two).
fn aligned(buf: &mut Vec<f32>, len: usize) -> &mut [f32] {
    const LINE_FLOATS: usize = 16;
    // Grow only: shrinking and regrowing would zero the regrown part on
    // every call that follows a smaller one.
    if buf.len() < len + LINE_FLOATS {
        buf.resize(len + LINE_FLOATS, 0.0);
    }
    let skip = buf.as_ptr().align_offset(LINE_FLOATS * 4).min(LINE_FLOATS);
    &mut buf[skip..skip + len]
}

/// A tile that is partial or not row-contiguous: through a full-size
/// buffer, with the same kernel (its 8-column form when `cols` ≤ 8), so its
/// elements get the same bits as in a full tile.
///
/// # Safety
/// As [`blocked`]; `tile` must address `rows`×`cols` elements.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
unsafe fn edge_tile(
    kc: usize,
    ap: *const f32,
    bp: *const f32,
    alpha: f32,
    (beta, bias): (f32, *const f32),
    (tile, rsc, csc): (*mut f32, isize, isize),
    rows: usize,
    cols: usize,
) {
    let mut buf = [0f32; MR * NR];
    let at = |i: usize, j: usize| tile.offset(i as isize * rsc + j as isize * csc);
    let mut beta = beta;
    if !bias.is_null() {
        // A bias row in the buffer with beta = 1: fma(alpha, sum, 1·bias),
        // the full tile's fma(alpha, sum, bias).
        for i in 0..rows {
            for j in 0..cols {
                buf[i * NR + j] = *bias.add(j);
            }
        }
        beta = 1.0;
    } else if beta != 0.0 {
        for i in 0..rows {
            for j in 0..cols {
                buf[i * NR + j] = *at(i, j);
            }
        }
    }
    let start = (beta, std::ptr::null());
    if cols <= NR / 2 {
        kernel::<1>(kc, ap, bp, alpha, start, buf.as_mut_ptr(), NR as isize);
    } else {
        kernel::<2>(kc, ap, bp, alpha, start, buf.as_mut_ptr(), NR as isize);
    }
    for i in 0..rows {
        for j in 0..cols {
            *at(i, j) = buf[i * NR + j];
        }
    }
}

/// Packs rows `i0..i0+mc`, depth `p0..p0+kc` of `a` as [`MR`]-row panels,
/// each `kc` groups of `MR` values (rows past `mc` are zero).
///
/// # Safety
/// The block must lie inside `a`; `out` holds `mc.div_ceil(MR)·kc·MR`
/// values; the CPU has AVX2.
unsafe fn pack_a_block(a: Strided, i0: usize, mc: usize, p0: usize, kc: usize, out: &mut [f32]) {
    for (r, panel) in out.chunks_exact_mut(kc * MR).enumerate() {
        let rows = MR.min(mc - r * MR);
        let first = a.at(i0 + r * MR, p0);
        if rows < MR {
            panel.fill(0.0);
        }
        if rows == MR && a.col == 1 {
            pack_rows_transposed(first, a.row, kc, panel);
        } else if a.row == 1 {
            // Column-contiguous a (a transposed view): each depth step's
            // values are adjacent.
            for p in 0..kc {
                let src = first.offset(p as isize * a.col);
                if rows == MR {
                    let group: &[f32; MR] = &*(src as *const [f32; MR]);
                    panel[p * MR..(p + 1) * MR].copy_from_slice(group);
                } else {
                    for i in 0..rows {
                        *panel.get_unchecked_mut(p * MR + i) = *src.add(i);
                    }
                }
            }
        } else {
            for i in 0..rows {
                let src = first.offset(i as isize * a.row);
                for p in 0..kc {
                    *panel.get_unchecked_mut(p * MR + i) = *src.offset(p as isize * a.col);
                }
            }
        }
    }
}

/// Packs [`MR`] row-contiguous rows of `kc` values (row `i` at
/// `first + i·row_stride`) into `kc` groups of `MR`: eight depth steps at a
/// time by an 8×8 register transpose instead of one scalar store per value.
///
/// # Safety
/// The rows must be readable; `panel` holds `kc·MR` values; the CPU has AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn pack_rows_transposed(first: *const f32, row_stride: isize, kc: usize, panel: &mut [f32]) {
    use std::arch::x86_64::*;
    let rows: [*const f32; MR] = std::array::from_fn(|i| first.offset(i as isize * row_stride));
    let out = panel.as_mut_ptr();
    let full = kc / 8 * 8;
    for p in (0..full).step_by(8) {
        let zero = _mm256_setzero_ps();
        let mut block = [zero; 8];
        for (v, row) in block.iter_mut().zip(rows) {
            *v = _mm256_loadu_ps(row.add(p));
        }
        let cols = transpose8(block);
        // Each column holds MR useful values then two zeros; overlapping
        // 8-wide stores write them in order, the last one is cut to MR.
        let dst = out.add(p * MR);
        for (q, col) in cols.iter().enumerate().take(7) {
            _mm256_storeu_ps(dst.add(q * MR), *col);
        }
        let last = dst.add(7 * MR);
        _mm_storeu_ps(last, _mm256_castps256_ps128(cols[7]));
        _mm_storel_epi64(
            last.add(4) as *mut __m128i,
            _mm_castps_si128(_mm256_extractf128_ps::<1>(cols[7])),
        );
    }
    for p in full..kc {
        for (i, row) in rows.iter().enumerate() {
            *out.add(p * MR + i) = *row.add(p);
        }
    }
}

/// The transpose of an 8×8 block held as eight row vectors.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn transpose8(r: [std::arch::x86_64::__m256; 8]) -> [std::arch::x86_64::__m256; 8] {
    use std::arch::x86_64::*;
    let t0 = _mm256_unpacklo_ps(r[0], r[1]);
    let t1 = _mm256_unpackhi_ps(r[0], r[1]);
    let t2 = _mm256_unpacklo_ps(r[2], r[3]);
    let t3 = _mm256_unpackhi_ps(r[2], r[3]);
    let t4 = _mm256_unpacklo_ps(r[4], r[5]);
    let t5 = _mm256_unpackhi_ps(r[4], r[5]);
    let t6 = _mm256_unpacklo_ps(r[6], r[7]);
    let t7 = _mm256_unpackhi_ps(r[6], r[7]);
    let s0 = _mm256_shuffle_ps::<0x44>(t0, t2);
    let s1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
    let s2 = _mm256_shuffle_ps::<0x44>(t1, t3);
    let s3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
    let s4 = _mm256_shuffle_ps::<0x44>(t4, t6);
    let s5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
    let s6 = _mm256_shuffle_ps::<0x44>(t5, t7);
    let s7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
    [
        _mm256_permute2f128_ps::<0x20>(s0, s4),
        _mm256_permute2f128_ps::<0x20>(s1, s5),
        _mm256_permute2f128_ps::<0x20>(s2, s6),
        _mm256_permute2f128_ps::<0x20>(s3, s7),
        _mm256_permute2f128_ps::<0x31>(s0, s4),
        _mm256_permute2f128_ps::<0x31>(s1, s5),
        _mm256_permute2f128_ps::<0x31>(s2, s6),
        _mm256_permute2f128_ps::<0x31>(s3, s7),
    ]
}

/// Packs depth `p0..p0+kc`, columns `j0..j0+nc` of `b` as [`NR`]-column
/// panels, each `kc` rows of `NR` values (columns past `nc` are zero).
///
/// # Safety
/// The block must lie inside `b`; `out` holds `nc.div_ceil(NR)·kc·NR`
/// values; the CPU has AVX2.
unsafe fn pack_b_block(b: Strided, p0: usize, kc: usize, j0: usize, nc: usize, out: &mut [f32]) {
    for (q, panel) in out.chunks_exact_mut(kc * NR).enumerate() {
        let cols = NR.min(nc - q * NR);
        let first = b.at(p0, j0 + q * NR);
        if cols < NR {
            panel.fill(0.0);
        }
        if b.col == 1 {
            for p in 0..kc {
                let src = first.offset(p as isize * b.row);
                if cols == NR {
                    let row: &[f32; NR] = &*(src as *const [f32; NR]);
                    panel[p * NR..(p + 1) * NR].copy_from_slice(row);
                } else {
                    let row = std::slice::from_raw_parts(src, cols);
                    panel[p * NR..p * NR + cols].copy_from_slice(row);
                }
            }
        } else if b.row == 1 && cols == NR {
            pack_columns_transposed(first, b.col, kc, panel);
        } else {
            for j in 0..cols {
                let src = first.offset(j as isize * b.col);
                for p in 0..kc {
                    *panel.get_unchecked_mut(p * NR + j) = *src.offset(p as isize * b.row);
                }
            }
        }
    }
}

/// Packs [`NR`] column-contiguous columns of `kc` values (column `j` at
/// `first + j·col_stride`, e.g. the columns of a transposed weight matrix)
/// into `kc` rows of `NR`, by 8×8 register transposes.
///
/// # Safety
/// The columns must be readable; `panel` holds `kc·NR` values; the CPU has AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn pack_columns_transposed(
    first: *const f32,
    col_stride: isize,
    kc: usize,
    panel: &mut [f32],
) {
    use std::arch::x86_64::*;
    let cols: [*const f32; NR] = std::array::from_fn(|j| first.offset(j as isize * col_stride));
    let out = panel.as_mut_ptr();
    let full = kc / 8 * 8;
    for p in (0..full).step_by(8) {
        for half in 0..NR / 8 {
            let block: [__m256; 8] =
                std::array::from_fn(|j| _mm256_loadu_ps(cols[half * 8 + j].add(p)));
            for (q, row) in transpose8(block).iter().enumerate() {
                _mm256_storeu_ps(out.add((p + q) * NR + half * 8), *row);
            }
        }
    }
    for p in full..kc {
        for (j, col) in cols.iter().enumerate() {
            *out.add(p * NR + j) = *col.add(p);
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn pack_rows_transposed(_: *const f32, _: isize, _: usize, _: &mut [f32]) {
    unreachable!("the kernel is only selected on x86-64 with AVX2 and FMA")
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn pack_columns_transposed(_: *const f32, _: isize, _: usize, _: &mut [f32]) {
    unreachable!("the kernel is only selected on x86-64 with AVX2 and FMA")
}

/// One 6×(8·`V`) tile: `c = alpha·(a_panel·b_panel) + beta·c` over `kc`
/// steps, or `+ bias` on every row when `bias` is not null. `V = 2` is the
/// full 6×16 tile; `V = 1` computes only the first 8 columns of a panel,
/// for the last panel of a `b` whose width leaves 8 or fewer columns there
/// (the small nets' 50-, 6- and 200-unit layers), at half the cost. Every
/// element is the same FMA chain either way, so the bits do not depend on
/// which one computed it.
///
/// # Safety
/// `ap` holds `kc·MR` and `bp` `kc·NR` values; a non-null `bias` `8·V`
/// values; `c` addresses a 6×(8·`V`) tile with
/// row stride `rsc` and unit column stride; the CPU has AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn kernel<const V: usize>(
    kc: usize,
    ap: *const f32,
    bp: *const f32,
    alpha: f32,
    (beta, bias): (f32, *const f32),
    c: *mut f32,
    rsc: isize,
) {
    use std::arch::x86_64::*;
    // The tile of c is read and written only after the loop; fetching it
    // now hides the miss (c is often too large for any cache).
    for i in 0..MR {
        let row = c.offset(i as isize * rsc);
        _mm_prefetch::<_MM_HINT_T0>(row as *const i8);
        _mm_prefetch::<_MM_HINT_T0>(row.add(8 * V - 1) as *const i8);
    }
    let mut acc = [[_mm256_setzero_ps(); V]; MR];
    // One step of depth: `V` vectors of b, six broadcasts of a, `6·V`
    // independent FMA chains (twelve cover the FMA latency on both pipes).
    let step = |acc: &mut [[__m256; V]; MR], ap: *const f32, bp: *const f32| {
        let b: [__m256; V] = std::array::from_fn(|h| _mm256_loadu_ps(bp.add(8 * h)));
        for (i, row) in acc.iter_mut().enumerate() {
            let ai = _mm256_broadcast_ss(&*ap.add(i));
            for (sum, &bh) in row.iter_mut().zip(&b) {
                *sum = _mm256_fmadd_ps(ai, bh, *sum);
            }
        }
    };
    let (mut ap, mut bp) = (ap, bp);
    for _ in 0..kc / 4 {
        _mm_prefetch::<_MM_HINT_T0>(ap.add(8 * MR) as *const i8);
        step(&mut acc, ap, bp);
        step(&mut acc, ap.add(MR), bp.add(NR));
        step(&mut acc, ap.add(2 * MR), bp.add(2 * NR));
        step(&mut acc, ap.add(3 * MR), bp.add(3 * NR));
        ap = ap.add(4 * MR);
        bp = bp.add(4 * NR);
    }
    for _ in 0..kc % 4 {
        step(&mut acc, ap, bp);
        ap = ap.add(MR);
        bp = bp.add(NR);
    }
    let alpha = _mm256_set1_ps(alpha);
    let beta_v = _mm256_set1_ps(beta);
    for (i, row) in acc.iter().enumerate() {
        let ci = c.offset(i as isize * rsc);
        for (h, &sum) in row.iter().enumerate() {
            let cp = ci.add(8 * h);
            let out = if !bias.is_null() {
                _mm256_fmadd_ps(alpha, sum, _mm256_loadu_ps(bias.add(8 * h)))
            } else if beta == 0.0 {
                _mm256_mul_ps(alpha, sum)
            } else {
                _mm256_fmadd_ps(alpha, sum, _mm256_mul_ps(beta_v, _mm256_loadu_ps(cp)))
            };
            _mm256_storeu_ps(cp, out);
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn kernel<const V: usize>(
    _: usize,
    _: *const f32,
    _: *const f32,
    _: f32,
    _: (f32, *const f32),
    _: *mut f32,
    _: isize,
) {
    unreachable!("the kernel is only selected on x86-64 with AVX2 and FMA")
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{s, Array2};

    fn fill(r: usize, c: usize, seed: f32) -> Array2<f32> {
        Array2::from_shape_fn((r, c), |(i, j)| {
            ((i * 31 + j * 17) as f32 * seed).sin() * 0.5
        })
    }

    /// The product in f64, the reference the kernel must round to within
    /// f32 accumulation error.
    fn reference(
        alpha: f32,
        a: &Array2<f32>,
        b: &Array2<f32>,
        beta: f32,
        c: &Array2<f32>,
    ) -> Array2<f64> {
        let a64 = a.mapv(f64::from);
        let b64 = b.mapv(f64::from);
        let ab = a64.dot(&b64);
        if beta == 0.0 {
            ab * f64::from(alpha)
        } else {
            ab * f64::from(alpha) + c.mapv(f64::from) * f64::from(beta)
        }
    }

    /// Whether two matrices hold the same bits, element by element.
    fn same_bits(x: &Array2<f32>, y: &Array2<f32>) -> bool {
        x.iter().zip(y).all(|(u, v)| u.to_bits() == v.to_bits())
    }

    fn assert_close(got: &Array2<f32>, want: &Array2<f64>, k: usize, what: &str) {
        let tol = 1e-6 * (k as f64 + 1.0);
        for ((ij, &g), &w) in got.indexed_iter().zip(want) {
            assert!(
                (f64::from(g) - w).abs() <= tol * (1.0 + w.abs()),
                "{what}: element {ij:?} is {g}, expected {w}"
            );
        }
    }

    #[test]
    fn matches_the_f64_product_on_edges_strides_and_scalars() {
        let shapes = [
            (1, 1, 1),
            (6, 256, 16),
            (7, 257, 17),
            (5, 3, 15),
            (250, 784, 200),
            (145, 600, 33),
            (13, 1000, 4100),
        ];
        for &(m, k, n) in &shapes {
            let a = fill(m, k, 0.37);
            let b = fill(k, n, 0.11);
            let c0 = fill(m, n, 0.23);
            let at = a.t().to_owned(); // k×m, so at.t() is a column-major view of a
            let bt = b.t().to_owned();
            for &(alpha, beta) in &[(1.0f32, 0.0f32), (1.0, 1.0), (0.25, -0.5), (-2.0, 1.0)] {
                let want = reference(alpha, &a, &b, beta, &c0);
                for (transposed_a, transposed_b) in
                    [(false, false), (true, false), (false, true), (true, true)]
                {
                    let av = if transposed_a { at.t() } else { a.view() };
                    let bv = if transposed_b { bt.t() } else { b.view() };
                    let mut c = c0.clone();
                    sgemm(alpha, &av, &bv, beta, &mut c.view_mut());
                    let what = format!(
                        "{m}x{k}x{n} α={alpha} β={beta} aᵀ={transposed_a} bᵀ={transposed_b}"
                    );
                    assert_close(&c, &want, k, &what);
                }
                // c stored column-major (unit row stride).
                let mut ct = c0.t().to_owned();
                sgemm(
                    alpha,
                    &a.view(),
                    &b.view(),
                    beta,
                    &mut ct.view_mut().reversed_axes(),
                );
                assert_close(&ct.t().to_owned(), &want, k, "column-major c");
            }
        }
    }

    #[test]
    fn bias_start_gives_the_bits_of_a_filled_c_and_beta_one() {
        for &(m, k, n) in &[
            (1, 1, 1),
            (7, 257, 17),
            (250, 784, 200),
            (13, 700, 4100),
            (5, 0, 3),
        ] {
            let (a, b) = (fill(m, k, 0.37), fill(k, n, 0.11));
            let bias = fill(1, n, 0.9).row(0).to_owned();
            let mut filled = Array2::from_shape_fn((m, n), |(_, j)| bias[j]);
            sgemm(1.0, &a.view(), &b.view(), 1.0, &mut filled.view_mut());
            let mut started = Array2::from_elem((m, n), f32::NAN);
            sgemm_bias(&a.view(), &b.view(), &bias.view(), &mut started.view_mut());
            assert!(same_bits(&started, &filled), "{m}x{k}x{n}");
            // A bias that is not contiguous takes the fill-then-GEMM path.
            let wide = Array2::from_shape_fn((n, 2), |(j, _)| bias[j]);
            let mut strided = Array2::from_elem((m, n), f32::NAN);
            sgemm_bias(
                &a.view(),
                &b.view(),
                &wide.column(0),
                &mut strided.view_mut(),
            );
            assert!(same_bits(&strided, &filled));
        }
    }

    #[test]
    fn reversed_and_broadcast_views_are_read_where_they_point() {
        // Negative strides (reversed axes) and a zero stride (a broadcast
        // row) must be followed, not assumed away.
        let (m, k, n) = (23, 300, 37);
        let (a, b) = (fill(m, k, 0.37), fill(k, n, 0.11));
        let a_rev = a.slice(s![..;-1, ..;-1]).to_owned();
        let b_rev = b.slice(s![..;-1, ..]).to_owned();
        // a_rev reversed back is a, b_rev reversed back is b (as views).
        let av = a_rev.slice(s![..;-1, ..;-1]);
        let bv = b_rev.slice(s![..;-1, ..]);
        let want = reference(1.0, &a, &b, 0.0, &Array2::zeros((m, n)));
        let mut c = Array2::from_elem((m, n), f32::NAN);
        sgemm(1.0, &av, &bv, 0.0, &mut c.view_mut());
        assert_close(&c, &want, k, "reversed views");
        let mut c_rev = Array2::from_elem((m, n), f32::NAN);
        sgemm(
            1.0,
            &a.view(),
            &b.view(),
            0.0,
            &mut c_rev.slice_mut(s![..;-1, ..;-1]),
        );
        assert_close(
            &c_rev.slice(s![..;-1, ..;-1]).to_owned(),
            &want,
            k,
            "reversed c",
        );

        let row = fill(1, n, 0.5);
        let broadcast = row.broadcast((k, n)).expect("broadcast");
        let want = reference(1.0, &a, &broadcast.to_owned(), 0.0, &Array2::zeros((m, n)));
        let mut c = Array2::zeros((m, n));
        sgemm(1.0, &a.view(), &broadcast, 0.0, &mut c.view_mut());
        assert_close(&c, &want, k, "broadcast b");
    }

    #[test]
    fn beta_zero_ignores_nan_in_c_and_empty_depth_scales_c() {
        let (a, b) = (fill(9, 20, 0.3), fill(20, 19, 0.7));
        let mut c = Array2::from_elem((9, 19), f32::NAN);
        sgemm(1.0, &a.view(), &b.view(), 0.0, &mut c.view_mut());
        assert!(c.iter().all(|v| v.is_finite()));

        let empty_a = Array2::<f32>::zeros((4, 0));
        let empty_b = Array2::<f32>::zeros((0, 3));
        let mut c = Array2::from_elem((4, 3), 2.0f32);
        sgemm(
            1.0,
            &empty_a.view(),
            &empty_b.view(),
            0.5,
            &mut c.view_mut(),
        );
        assert!(c.iter().all(|&v| v == 1.0));
        sgemm(
            1.0,
            &empty_a.view(),
            &empty_b.view(),
            0.0,
            &mut c.view_mut(),
        );
        assert!(c.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn any_split_of_c_gives_the_same_bits() {
        // Rows split at offsets that are not multiples of the tile, columns
        // likewise: every element must come out bit-identical.
        let (m, k, n) = (131, 700, 75);
        let (a, b) = (fill(m, k, 0.37), fill(k, n, 0.11));
        let c0 = fill(m, n, 0.5);
        let mut whole = c0.clone();
        sgemm(0.3, &a.view(), &b.view(), 0.7, &mut whole.view_mut());
        for &(r, q) in &[(1, 1), (5, 9), (64, 17), (100, 40)] {
            let mut parts = c0.clone();
            for (rows, cols) in [(0..r, 0..q), (0..r, q..n), (r..m, 0..q), (r..m, q..n)] {
                let av = a.slice(s![rows.clone(), ..]);
                let bv = b.slice(s![.., cols.clone()]);
                sgemm(0.3, &av, &bv, 0.7, &mut parts.slice_mut(s![rows, cols]));
            }
            assert!(same_bits(&parts, &whole), "split at row {r}, column {q}");
        }
    }
}

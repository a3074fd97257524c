//! Preconditioned linear conjugate gradient with Martens' stopping rule
//! (section 4.4), following HFDemo's `conjgrad_1.m`.
//!
//! Solves `A x = b` for symmetric positive definite `A` by minimising
//! `φ(x) = ½ xᵀA x − bᵀx`. Vectors are `f32`; every scalar that decides
//! something (α, β, φ, dot products) is accumulated in `f64`, in the fixed
//! blocked order of `src/hf/vector.rs`.

use super::vector::{cg_update, dot, for_each_block_mut, phi, CgVectors};
use crate::error::Result;

/// A symmetric linear operator `out = A·v`.
pub trait LinearOperator {
    /// Writes `A·v` into `out` (both of the solver's dimension).
    fn apply(&mut self, v: &[f32], out: &mut [f32]) -> Result<()>;
}

impl<F: FnMut(&[f32], &mut [f32]) -> Result<()>> LinearOperator for F {
    fn apply(&mut self, v: &[f32], out: &mut [f32]) -> Result<()> {
        self(v, out)
    }
}

/// Why a CG run stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CgStop {
    /// Martens' relative-progress rule fired.
    RelativeProgress,
    /// The iteration limit was reached.
    MaxIterations,
    /// `pᵀA p ≤ 0`: the operator is not positive definite along a direction.
    NegativeCurvature,
    /// A scalar (α, β, φ, `pᵀAp`) was NaN or infinite.
    NonFinite,
    /// The residual vanished: the iterate solves the system exactly.
    Converged,
}

impl CgStop {
    /// A short name, e.g. `"progress"`.
    pub fn name(self) -> &'static str {
        match self {
            CgStop::RelativeProgress => "progress",
            CgStop::MaxIterations => "max-iters",
            CgStop::NegativeCurvature => "negative-curvature",
            CgStop::NonFinite => "non-finite",
            CgStop::Converged => "converged",
        }
    }
}

/// Options of one CG run.
#[derive(Clone, Debug, PartialEq)]
pub struct CgOptions {
    /// Most iterations (operator products).
    pub max_iters: usize,
    /// Fewest iterations before the relative-progress rule may stop the run.
    pub min_iters: usize,
    /// Tolerance ε of the relative-progress rule.
    pub epsilon: f64,
    /// Smallest look-back window.
    pub window_min: usize,
    /// Look-back window as a fraction of the iteration count.
    pub window_fraction: f64,
    /// Iteration numbers (ascending) whose iterates are kept, e.g. from
    /// [`iterate_grid`]. The final iterate is always kept.
    pub keep: Vec<usize>,
}

impl Default for CgOptions {
    /// HFDemo's settings: 250 / 1 iterations, ε = 5e-4, k = max(10, ⌈0.1 i⌉),
    /// iterates kept at ⌈5·1.3^j⌉.
    fn default() -> Self {
        CgOptions {
            max_iters: 250,
            min_iters: 1,
            epsilon: 5e-4,
            window_min: 10,
            window_fraction: 0.1,
            keep: iterate_grid(5.0, 1.3, 250),
        }
    }
}

/// The outcome of a CG run.
#[derive(Clone, Debug, PartialEq)]
pub struct CgResult {
    /// The kept iterates as (iteration number, x), ascending; the last entry
    /// is the final iterate. Iteration 0 is the starting point.
    pub iterates: Vec<(usize, Vec<f32>)>,
    /// Iterations done (each one operator product on a search direction).
    pub iterations: usize,
    /// Operator products used, including the one for the initial residual.
    pub products: usize,
    /// `φ(x_i)` for i = 0..=iterations.
    pub phi: Vec<f64>,
    /// Why the run stopped.
    pub stop: CgStop,
}

impl CgResult {
    /// The final iterate.
    pub fn final_iterate(&self) -> &[f32] {
        self.iterates
            .last()
            .map(|(_, x)| x.as_slice())
            .unwrap_or(&[])
    }
}

/// The look-back window `k = max(window_min, ⌈window_fraction·i⌉)`.
///
/// The ceiling is of the exact product: `0.1·110` is 11, although the f64
/// product is 11.000000000000002 (whose ceiling MATLAB takes to be 12).
pub fn progress_window(i: usize, window_min: usize, window_fraction: f64) -> usize {
    let prod = window_fraction * i as f64;
    let nearest = prod.round();
    // Within a few ulps of an integer: the exact product is that integer.
    let ceil = if (prod - nearest).abs() <= 8.0 * f64::EPSILON * nearest.abs().max(1.0) {
        nearest
    } else {
        prod.ceil()
    };
    window_min.max(ceil as usize)
}

/// Martens' relative-progress rule at iteration `i`, given `phi[0..=i]`:
/// with `k` from [`progress_window`], stop when `i > k`, `φ_i < 0` and
/// `(φ_i − φ_{i−k}) / φ_i < k·ε`.
pub fn relative_progress_stop(
    i: usize,
    phi: &[f64],
    window_min: usize,
    window_fraction: f64,
    epsilon: f64,
) -> bool {
    let k = progress_window(i, window_min, window_fraction);
    if i <= k || i >= phi.len() {
        return false;
    }
    let (now, before) = (phi[i], phi[i - k]);
    now < 0.0 && (now - before) / now < k as f64 * epsilon
}

/// The iterations `⌈first·base^j⌉`, j = 0, 1, …, that are ≤ `max`, without
/// repeats. `first` and `base` are read as the short decimals they print as
/// (1.3 = 13/10) and the ceiling is that of the exact rational: the f64 value
/// decides unless it lies within 1e-6 of an integer, where a big-integer
/// comparison does. With (5, 1.3) this gives 5, 7, 9, 11, 15, 19, 25, 32,
/// 41, 54, 69, 90, 117, 152, 197, … A `base` ≤ 1 or a non-finite input
/// gives an empty grid (only the final iterate is then kept).
pub fn iterate_grid(first: f64, base: f64, max: usize) -> Vec<usize> {
    let mut out = Vec::new();
    if !(first.is_finite() && base.is_finite() && first > 0.0 && base > 1.0) {
        return out;
    }
    // Exact numerator and denominator when both are short decimals.
    let mut exact = match (decimal_ratio(first), decimal_ratio(base)) {
        (Some((fnum, fden)), Some((bnum, bden))) => {
            Some(((BigUint::from(fnum), BigUint::from(fden)), (bnum, bden)))
        }
        _ => None,
    };
    let mut value = first;
    while value <= max as f64 {
        let nearest = value.round();
        let ceil = match &exact {
            Some(((num, den), _)) if (value - nearest).abs() <= 1e-6 * value.max(1.0) => {
                // Exactly: ceil(num/den) is `nearest` iff num ≤ nearest·den.
                if num.cmp(&den.times(nearest as u64)) == std::cmp::Ordering::Greater {
                    nearest + 1.0
                } else {
                    nearest
                }
            }
            _ => value.ceil(),
        };
        if ceil > max as f64 {
            break;
        }
        let v = ceil as usize;
        if out.last() != Some(&v) {
            out.push(v);
        }
        if let Some(((num, den), (bnum, bden))) = &mut exact {
            num.mul_small(*bnum);
            den.mul_small(*bden);
        }
        value *= base;
    }
    out
}

/// `x` as `num / 10^d` with d ≤ 9 when `x` is the f64 nearest such a decimal.
fn decimal_ratio(x: f64) -> Option<(u64, u64)> {
    if !(0.0..1e9).contains(&x) {
        return None;
    }
    let mut den: u64 = 1;
    for _ in 0..=9 {
        let rounded = (x * den as f64).round();
        if rounded / den as f64 == x {
            return Some((rounded as u64, den));
        }
        den *= 10;
    }
    None
}

/// A minimal unsigned big integer (little-endian u64 limbs) for the grid.
#[derive(Clone, Debug)]
struct BigUint {
    limbs: Vec<u64>,
}

impl BigUint {
    fn from(v: u64) -> Self {
        BigUint { limbs: vec![v] }
    }

    fn mul_small(&mut self, m: u64) {
        let mut carry: u128 = 0;
        for limb in &mut self.limbs {
            let v = *limb as u128 * m as u128 + carry;
            *limb = v as u64;
            carry = v >> 64;
        }
        if carry != 0 {
            self.limbs.push(carry as u64);
        }
    }

    fn times(&self, m: u64) -> BigUint {
        let mut c = self.clone();
        c.mul_small(m);
        c
    }

    fn cmp(&self, other: &BigUint) -> std::cmp::Ordering {
        let n = self.limbs.len().max(other.limbs.len());
        for i in (0..n).rev() {
            let a = self.limbs.get(i).copied().unwrap_or(0);
            let b = other.limbs.get(i).copied().unwrap_or(0);
            if a != b {
                return a.cmp(&b);
            }
        }
        std::cmp::Ordering::Equal
    }
}

/// `y = r / M` elementwise (or a copy without a preconditioner).
fn precondition(r: &[f32], m: Option<&[f32]>, y: &mut [f32]) {
    match m {
        Some(m) => {
            for ((yi, &ri), &mi) in y.iter_mut().zip(r).zip(m) {
                *yi = ri / mi;
            }
        }
        None => y.copy_from_slice(r),
    }
}

/// A damped curvature system `(C + λI) x = b`: C an objective's curvature
/// on its current chunk, solved by CG with an optional diagonal
/// preconditioner `M` (`y = r / M`).
#[derive(Clone, Copy, Debug)]
pub struct DampedSystem<'a> {
    /// The damping λ added to the curvature.
    pub lambda: f64,
    /// The right-hand side (−gradient in an HF step).
    pub b: &'a [f32],
    /// The diagonal preconditioner, if any (same length as `b`).
    pub precond: Option<&'a [f32]>,
}

/// The vectors CG updates, in the storage of a [`CgSpace`].
pub struct CgState<V> {
    /// The iterate.
    pub x: V,
    /// The residual `A x − b`.
    pub r: V,
    /// The preconditioned residual `r / M`.
    pub y: V,
    /// The search direction.
    pub p: V,
    /// `A p`.
    pub ap: V,
}

/// One linear system `A x = b` with diagonal preconditioner `M`, together
/// with where its vectors live and how CG's vector work is done on them:
/// host memory ([`solve`]'s space) or a GPU (the CUDA backend's space).
///
/// [`solve_in`] runs the same CG loop on any space and only ever asks it for
/// scalars (`pᵀAp`, `rᵀy`, φ); vectors cross between host and space only as
/// the starting point and the kept iterates. Every sum is in f64, in an
/// order the space fixes, so a space is deterministic on its own.
pub trait CgSpace {
    /// A vector of the system's dimension in this space.
    type Vector;
    /// The system's dimension.
    fn len(&self) -> usize;
    /// Whether the system has dimension 0.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// A vector in the space holding `x` (of length [`CgSpace::len`]).
    fn upload(&mut self, x: &[f32]) -> Result<Self::Vector>;
    /// A vector of zeros.
    fn zeros(&mut self) -> Result<Self::Vector>;
    /// A host copy of `x`.
    fn download(&mut self, x: &Self::Vector) -> Result<Vec<f32>>;
    /// `x` moved to the host (no copy where it already lives there).
    fn take_to_host(&mut self, x: Self::Vector) -> Result<Vec<f32>> {
        self.download(&x)
    }
    /// `r = A x`: the product a non-zero starting point needs.
    fn residual_product(&mut self, s: &mut CgState<Self::Vector>) -> Result<()>;
    /// From `r = A x` (or zero): `r −= b`, `y = r / M`, `p = −y`; returns
    /// `(rᵀy, φ(x))` with `φ(x) = ½ xᵀ(r − b)`.
    fn start(&mut self, s: &mut CgState<Self::Vector>) -> Result<(f64, f64)>;
    /// `Ap = A p`; returns `pᵀAp`.
    fn curvature_along_direction(&mut self, s: &mut CgState<Self::Vector>) -> Result<f64>;
    /// `x += α p`, `r += α Ap`, `y = r / M`; returns `(rᵀy, φ(x))`.
    fn update(&mut self, alpha: f64, s: &mut CgState<Self::Vector>) -> Result<(f64, f64)>;
    /// `p = −y + β p`.
    fn next_direction(&mut self, beta: f64, s: &mut CgState<Self::Vector>) -> Result<()>;
}

/// The host space: `Vec<f32>` vectors, the blocked f64 sums of
/// [`super::vector`] on the kernel threads, and any [`LinearOperator`].
struct HostSpace<'a, A: ?Sized> {
    op: &'a mut A,
    b: &'a [f32],
    m: Option<&'a [f32]>,
}

impl<A: LinearOperator + ?Sized> CgSpace for HostSpace<'_, A> {
    type Vector = Vec<f32>;

    fn len(&self) -> usize {
        self.b.len()
    }

    fn upload(&mut self, x: &[f32]) -> Result<Vec<f32>> {
        Ok(x.to_vec())
    }

    fn zeros(&mut self) -> Result<Vec<f32>> {
        Ok(vec![0f32; self.b.len()])
    }

    fn download(&mut self, x: &Vec<f32>) -> Result<Vec<f32>> {
        Ok(x.clone())
    }

    fn take_to_host(&mut self, x: Vec<f32>) -> Result<Vec<f32>> {
        Ok(x)
    }

    fn residual_product(&mut self, s: &mut CgState<Vec<f32>>) -> Result<()> {
        self.op.apply(&s.x, &mut s.r)
    }

    fn start(&mut self, s: &mut CgState<Vec<f32>>) -> Result<(f64, f64)> {
        for (ri, &bi) in s.r.iter_mut().zip(self.b) {
            *ri -= bi;
        }
        precondition(&s.r, self.m, &mut s.y);
        for (pi, &yi) in s.p.iter_mut().zip(&s.y) {
            *pi = -yi;
        }
        Ok((dot(&s.r, &s.y), phi(&s.x, &s.r, self.b)))
    }

    fn curvature_along_direction(&mut self, s: &mut CgState<Vec<f32>>) -> Result<f64> {
        self.op.apply(&s.p, &mut s.ap)?;
        Ok(dot(&s.p, &s.ap))
    }

    fn update(&mut self, alpha: f64, s: &mut CgState<Vec<f32>>) -> Result<(f64, f64)> {
        Ok(cg_update(
            alpha,
            &mut CgVectors {
                p: &s.p,
                ap: &s.ap,
                b: self.b,
                m: self.m,
                x: &mut s.x,
                r: &mut s.r,
                y: &mut s.y,
            },
        ))
    }

    fn next_direction(&mut self, beta: f64, s: &mut CgState<Vec<f32>>) -> Result<()> {
        let y = &s.y;
        for_each_block_mut(&mut s.p, |start, part| {
            for (pi, &yi) in part.iter_mut().zip(&y[start..]) {
                *pi = (-(yi as f64) + beta * *pi as f64) as f32;
            }
        });
        Ok(())
    }
}

/// Runs preconditioned CG on `A x = b` from `x0`, with diagonal
/// preconditioner `m` (solving `M y = r` as `y = r / m`), under `opts`, on
/// host vectors; see [`solve_in`] for the algorithm.
/// Errors only when the operator fails or lengths disagree.
pub fn solve<A: LinearOperator + ?Sized>(
    a: &mut A,
    b: &[f32],
    x0: &[f32],
    m: Option<&[f32]>,
    opts: &CgOptions,
) -> Result<CgResult> {
    let n = b.len();
    if m.is_some_and(|m| m.len() != n) {
        return Err(crate::Error::shape(format!(
            "CG: b has length {n}, preconditioner {}",
            m.map_or(n, <[f32]>::len)
        )));
    }
    solve_in(&mut HostSpace { op: a, b, m }, x0, opts)
}

/// Runs preconditioned CG on the system held by `space` from `x0`, under
/// `opts`.
///
/// Follows `conjgrad_1.m`: residual `r = A x − b`, `φ_i` tracked from the
/// iterates, iterates kept at `opts.keep` plus the final one (downloaded to
/// the host as they are reached), stop on the relative-progress rule (once
/// `i ≥ min_iters`), on `pᵀAp ≤ 0`, on a non-finite scalar, or at
/// `max_iters`. A zero `x0` costs no product. Errors only when the space
/// fails (an operator or device error) or `x0` has the wrong length.
pub fn solve_in<S: CgSpace + ?Sized>(
    space: &mut S,
    x0: &[f32],
    opts: &CgOptions,
) -> Result<CgResult> {
    let n = space.len();
    if x0.len() != n {
        return Err(crate::Error::shape(format!(
            "CG: the system has dimension {n}, x0 length {}",
            x0.len()
        )));
    }
    let mut s = CgState {
        x: space.upload(x0)?,
        r: space.zeros()?,
        y: space.zeros()?,
        p: space.zeros()?,
        ap: space.zeros()?,
    };
    let mut products = 0;
    if x0.iter().any(|&v| v != 0.0) {
        space.residual_product(&mut s)?;
        products += 1;
    }
    let (mut ry, phi0) = space.start(&mut s)?;
    let mut phi = vec![phi0];
    let mut iterates = Vec::new();
    let mut keep = opts.keep.iter().peekable();
    let mut stop = CgStop::MaxIterations;
    let mut i = 0;
    if !ry.is_finite() || !phi0.is_finite() {
        stop = CgStop::NonFinite;
    }
    while stop == CgStop::MaxIterations && i < opts.max_iters {
        if ry == 0.0 {
            stop = CgStop::Converged;
            break;
        }
        let pap = space.curvature_along_direction(&mut s)?;
        products += 1;
        if !pap.is_finite() {
            stop = CgStop::NonFinite;
            break;
        }
        if pap <= 0.0 {
            stop = CgStop::NegativeCurvature;
            break;
        }
        let alpha = ry / pap;
        i += 1;
        let (ry_new, phi_i) = space.update(alpha, &mut s)?;
        let beta = ry_new / ry;
        ry = ry_new;
        space.next_direction(beta, &mut s)?;
        phi.push(phi_i);
        while keep.next_if(|&&k| k < i).is_some() {}
        if keep.next_if(|&&k| k == i).is_some() {
            iterates.push((i, space.download(&s.x)?));
        }
        if !(phi_i.is_finite() && alpha.is_finite() && beta.is_finite()) {
            stop = CgStop::NonFinite;
        } else if i >= opts.min_iters
            && relative_progress_stop(i, &phi, opts.window_min, opts.window_fraction, opts.epsilon)
        {
            stop = CgStop::RelativeProgress;
        }
    }
    if iterates.last().map(|(k, _)| *k) != Some(i) {
        iterates.push((i, space.take_to_host(s.x)?));
    }
    Ok(CgResult {
        iterates,
        iterations: i,
        products,
        phi,
        stop,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// FNV-1a over the bits of every kept iterate and every φ.
    fn fingerprint(result: &CgResult) -> u64 {
        let mut h = 0xcbf2_9ce4_8422_2325u64;
        let mut eat = |word: u64| {
            for byte in word.to_le_bytes() {
                h = (h ^ byte as u64).wrapping_mul(0x100_0000_01b3);
            }
        };
        for (k, x) in &result.iterates {
            eat(*k as u64);
            x.iter().for_each(|v| eat(v.to_bits() as u64));
        }
        result.phi.iter().for_each(|v| eat(v.to_bits()));
        eat(result.products as u64);
        h
    }

    /// The solver's bits on a fixed problem, pinned: the CG loop is shared by
    /// the host and device vector spaces, and the host path must keep
    /// computing exactly what it did (checkpoints, thread-count tests and
    /// published trajectories rely on it). A deliberate change of summation
    /// order or update formula changes this constant; say so in the commit.
    #[test]
    fn host_solver_bits_are_pinned() {
        let n = 3 * super::super::vector::BLOCK + 123;
        let diag: Vec<f32> = (0..n)
            .map(|i| 0.5 + ((i * 37) % 101) as f32 / 7.0)
            .collect();
        let u: Vec<f32> = (0..n)
            .map(|i| ((i * 13) % 17) as f32 / 17.0 - 0.5)
            .collect();
        // A = diag + u uᵀ: symmetric positive definite, not diagonal.
        let mut op = |v: &[f32], out: &mut [f32]| -> Result<()> {
            let s = dot(&u, v) as f32;
            for i in 0..n {
                out[i] = diag[i] * v[i] + s * u[i];
            }
            Ok(())
        };
        let b: Vec<f32> = (0..n).map(|i| ((i * 7) % 23) as f32 / 11.0 - 1.0).collect();
        let x0: Vec<f32> = (0..n).map(|i| ((i * 5) % 19) as f32 / 190.0).collect();
        let m: Vec<f32> = diag.iter().map(|d| d.sqrt()).collect();
        let opts = CgOptions {
            max_iters: 40,
            ..CgOptions::default()
        };
        let with_m = solve(&mut op, &b, &x0, Some(&m), &opts).unwrap();
        let without = solve(&mut op, &b, &vec![0.0; n], None, &opts).unwrap();
        assert_eq!(
            (fingerprint(&with_m), with_m.iterations, with_m.stop),
            (13250317766955928958, 15, CgStop::RelativeProgress)
        );
        assert_eq!(
            (fingerprint(&without), without.iterations, without.stop),
            (8748176510948031953, 20, CgStop::RelativeProgress)
        );
    }

    /// A host space that counts what crosses between it and the CG loop.
    struct Counting<'a, A: ?Sized> {
        inner: HostSpace<'a, A>,
        uploads: usize,
        downloads: usize,
    }

    impl<A: LinearOperator + ?Sized> CgSpace for Counting<'_, A> {
        type Vector = Vec<f32>;
        fn len(&self) -> usize {
            self.inner.len()
        }
        fn upload(&mut self, x: &[f32]) -> Result<Vec<f32>> {
            self.uploads += 1;
            self.inner.upload(x)
        }
        fn zeros(&mut self) -> Result<Vec<f32>> {
            self.inner.zeros()
        }
        fn download(&mut self, x: &Vec<f32>) -> Result<Vec<f32>> {
            self.downloads += 1;
            self.inner.download(x)
        }
        fn residual_product(&mut self, s: &mut CgState<Vec<f32>>) -> Result<()> {
            self.inner.residual_product(s)
        }
        fn start(&mut self, s: &mut CgState<Vec<f32>>) -> Result<(f64, f64)> {
            self.inner.start(s)
        }
        fn curvature_along_direction(&mut self, s: &mut CgState<Vec<f32>>) -> Result<f64> {
            self.inner.curvature_along_direction(s)
        }
        fn update(&mut self, alpha: f64, s: &mut CgState<Vec<f32>>) -> Result<(f64, f64)> {
            self.inner.update(alpha, s)
        }
        fn next_direction(&mut self, beta: f64, s: &mut CgState<Vec<f32>>) -> Result<()> {
            self.inner.next_direction(beta, s)
        }
    }

    /// On a device space only scalars may cross per iteration: the loop
    /// uploads the starting point once and downloads only the kept iterates,
    /// whatever the iteration count; and it computes what `solve` does.
    #[test]
    fn only_the_start_and_kept_iterates_cross() {
        let n = 500;
        let diag: Vec<f32> = (0..n).map(|i| 1.0 + (i % 50) as f32).collect();
        let mut op = |v: &[f32], out: &mut [f32]| -> Result<()> {
            out.iter_mut()
                .zip(v)
                .zip(&diag)
                .for_each(|((o, &v), &d)| *o = d * v);
            Ok(())
        };
        let b = vec![1.0f32; n];
        let x0 = vec![0.01f32; n];
        let opts = CgOptions {
            epsilon: 0.0,
            max_iters: 30,
            ..CgOptions::default()
        };
        let direct = solve(&mut op, &b, &x0, None, &opts).unwrap();
        let mut space = Counting {
            inner: HostSpace {
                op: &mut op,
                b: &b,
                m: None,
            },
            uploads: 0,
            downloads: 0,
        };
        let counted = solve_in(&mut space, &x0, &opts).unwrap();
        assert_eq!(counted, direct);
        assert_eq!(counted.iterations, 30);
        // Kept: 5, 7, 9, 12, 16, 21, 28 and the final 30; nothing else.
        assert_eq!((space.uploads, space.downloads), (1, 8));
        assert_eq!(counted.iterates.len(), 8);
    }

    #[test]
    fn window_uses_exact_ceiling() {
        assert_eq!(progress_window(110, 10, 0.1), 11);
        assert_eq!(progress_window(111, 10, 0.1), 12);
        assert_eq!(progress_window(30, 10, 0.1), 10);
        assert_eq!(progress_window(250, 10, 0.1), 25);
    }

    #[test]
    fn decimal_ratio_reads_short_decimals() {
        assert_eq!(decimal_ratio(1.3), Some((13, 10)));
        assert_eq!(decimal_ratio(5.0), Some((5, 1)));
        assert_eq!(decimal_ratio(1.05), Some((105, 100)));
    }
}

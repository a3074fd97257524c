//! Vectorisable logistic (`f32`) and softplus (f64, for the loss) functions.
//!
//! The forward pass evaluates one logistic per hidden unit and example (about
//! 32 million per 7500-example MNIST chunk); libm's scalar `expf` made that a
//! large part of the non-GEMM time. This version uses no calls and no
//! branches, so the compiler turns the loop into SIMD code; it is compiled
//! twice, for the baseline target and for AVX2 (picked at run time), and both
//! give bit-identical results because Rust never contracts `a*b + c` into an
//! FMA on its own. `f64` keeps libm's `exp` (the derivative checks run in f64).

/// log2(e).
const LOG2E: f32 = std::f32::consts::LOG2_E;
/// ln 2 split in a part exact in a few bits and the rest (Cody–Waite), so that
/// `x − n·ln 2` is computed without cancellation error.
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
/// 1.5·2²³: adding it rounds a float of magnitude < 2²² to an integer and
/// leaves that integer in the low mantissa bits.
const ROUNDER: f32 = 12_582_912.0;
/// The exponent argument is clamped to this range, so that 2ⁿ stays a normal
/// float: `exp(−87) ≈ 1.6e−38`, `exp(88) ≈ 1.7e38`.
const EXP_MIN: f32 = -87.0;
const EXP_MAX: f32 = 88.0;

/// `e^x` for `x` in [`EXP_MIN`, `EXP_MAX`] (values outside are clamped; NaN
/// stays NaN), with a relative error of about 1 ulp (Cephes' `expf`
/// polynomial on |r| ≤ ln2/2).
#[inline(always)]
fn exp_clamped(x: f32) -> f32 {
    // Comparisons written so that NaN passes through unchanged.
    let x = if x < EXP_MIN { EXP_MIN } else { x };
    let x = if x > EXP_MAX { EXP_MAX } else { x };
    let k = x * LOG2E + ROUNDER;
    let n = k - ROUNDER; // round(x·log2 e)
    let r = x - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_1e-4_f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let e_r = p * r * r + r + 1.0;
    // 2ⁿ from the integer left in k's mantissa by the rounding trick.
    let n_int = k.to_bits().wrapping_sub(ROUNDER.to_bits());
    let scale = f32::from_bits(n_int.wrapping_add(127) << 23);
    e_r * scale
}

/// The logistic `1 / (1 + e^(−z))` of one value.
#[inline(always)]
fn logistic1(z: f32) -> f32 {
    1.0 / (1.0 + exp_clamped(-z))
}

#[inline(always)]
fn logistic_loop(xs: &mut [f32]) {
    for v in xs.iter_mut() {
        *v = logistic1(*v);
    }
}

/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn logistic_avx2(xs: &mut [f32]) {
    logistic_loop(xs)
}

/// Replaces every value `z` of `xs` by its logistic `1 / (1 + e^(−z))`.
///
/// Relative error within a few ulp of the correctly rounded value for
/// z ≥ −87; below that the result is a tiny number ≤ 6e−39 instead of the
/// (subnormal or zero) exact one. NaN stays NaN.
pub(crate) fn logistic_f32(xs: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 support was just checked.
        unsafe { logistic_avx2(xs) };
        return;
    }
    logistic_loop(xs)
}

/// `softplus(z) = log(1 + e^z)` in f64, accurate to a few f64 ulp, with no
/// calls or branches (so loops over it vectorise). The output-layer loss
/// evaluates one per output unit and example on every pass; libm's `exp` and
/// `log1p` made that about a tenth of a forward pass.
#[inline(always)]
pub(crate) fn softplus_f64(z: f64) -> f64 {
    // softplus(z) = max(z, 0) + log1p(e^(−|z|)), with e^(−|z|) in (0, 1].
    let e = exp_neg_f64(z.abs());
    // log1p(e) = 2·atanh(s): s = e / (2 + e) for e ≤ √2 − 1, else
    // log1p(e) = ln 2 + 2·atanh(s) with s = (e − 1) / (e + 3); |s| ≤ 0.1716.
    let big = e > std::f64::consts::SQRT_2 - 1.0;
    let (num, den, offset) = if big {
        (e - 1.0, e + 3.0, std::f64::consts::LN_2)
    } else {
        (e, e + 2.0, 0.0)
    };
    let s = num / den;
    let s2 = s * s;
    // atanh(s)/s = Σ s^(2k)/(2k+1); the terms past k = 11 are below 1e-18.
    let mut p = 1.0 / 23.0;
    for c in [21.0, 19.0, 17.0, 15.0, 13.0, 11.0, 9.0, 7.0, 5.0, 3.0] {
        p = p * s2 + 1.0 / c;
    }
    p = p * s2 + 1.0;
    let log1p_e = offset + 2.0 * s * p;
    let pos = if z > 0.0 { z } else { 0.0 };
    // NaN in, NaN out (`z > 0.0` is false for NaN, but `e` is NaN).
    pos + log1p_e
}

/// `e^(−x)` for `x ≥ 0` in f64 (clamped at `e^(−708)`, a normal number;
/// smaller values do not change a softplus).
#[inline(always)]
fn exp_neg_f64(x: f64) -> f64 {
    const LN2_HI: f64 = 6.931_471_803_691_238e-1; // 0x3FE62E42FEE00000: n·LN2_HI is exact
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    const ROUNDER: f64 = 6_755_399_441_055_744.0; // 1.5·2⁵²
    let x = -x;
    let x = if x < -708.0 { -708.0 } else { x };
    let k = x * std::f64::consts::LOG2_E + ROUNDER;
    let n = k - ROUNDER;
    let r = x - n * LN2_HI - n * LN2_LO; // |r| ≤ ln2/2
                                         // Taylor series of e^r to degree 13: the remainder is below 4e-18.
    let mut p = 1.0 / 6_227_020_800.0; // 1/13!
    for f in [
        479_001_600.0, // 12!
        39_916_800.0,
        3_628_800.0,
        362_880.0,
        40_320.0,
        5_040.0,
        720.0,
        120.0,
        24.0,
        6.0,
        2.0,
        1.0,
        1.0,
    ] {
        p = p * r + 1.0 / f;
    }
    let n_int = k.to_bits().wrapping_sub(ROUNDER.to_bits());
    let scale = f64::from_bits(n_int.wrapping_add(1023) << 52);
    p * scale
}

#[inline(always)]
fn softplus_loop(z: &[f32], out: &mut [f64]) {
    for (o, &z) in out.iter_mut().zip(z) {
        *o = softplus_f64(z as f64);
    }
}

/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn softplus_avx2(z: &[f32], out: &mut [f64]) {
    softplus_loop(z, out)
}

/// `out[i] = softplus(z[i])` in f64 (see [`softplus_f64`]), for as many
/// elements as the shorter slice has.
pub(crate) fn softplus_f32_to_f64(z: &[f32], out: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 support was just checked.
        unsafe { softplus_avx2(z, out) };
        return;
    }
    softplus_loop(z, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(z: f32) -> f64 {
        1.0 / (1.0 + (-(z as f64)).exp())
    }

    /// Distance in units of the last place of the f32 nearest `want`.
    fn ulps(got: f32, want: f64) -> f64 {
        let w = want as f32;
        let ulp = (f32::from_bits(w.to_bits() + 1) - w) as f64;
        (got as f64 - want).abs() / ulp
    }

    fn grid() -> Vec<f32> {
        (-200_000..=200_000).map(|i| i as f32 * 1e-3).collect()
    }

    #[test]
    fn logistic_is_accurate_to_a_few_ulp() {
        let zs = grid();
        let mut ys = zs.clone();
        logistic_f32(&mut ys);
        let worst = zs
            .iter()
            .zip(&ys)
            .filter(|(&z, _)| z >= -87.0)
            .map(|(&z, &y)| ulps(y, exact(z)))
            .fold(0.0, f64::max);
        assert!(worst <= 4.0, "worst error {worst} ulp");
    }

    #[test]
    fn logistic_handles_extremes_and_nan() {
        let mut v = [
            f32::INFINITY,
            f32::NEG_INFINITY,
            1e30,
            -1e30,
            -100.0,
            0.0,
            f32::NAN,
        ];
        logistic_f32(&mut v);
        assert_eq!(v[0], 1.0);
        assert!(v[1] >= 0.0 && v[1] < 1e-38);
        assert_eq!(v[2], 1.0);
        assert!(v[3] >= 0.0 && v[3] < 1e-38);
        assert!(v[4] >= 0.0 && v[4] < 1e-38);
        assert_eq!(v[5], 0.5);
        assert!(v[6].is_nan());
    }

    #[test]
    fn vector_and_portable_paths_agree_bit_for_bit() {
        let zs = grid();
        let mut fast = zs.clone();
        logistic_f32(&mut fast);
        let mut portable = zs;
        logistic_loop(&mut portable);
        assert!(fast
            .iter()
            .zip(&portable)
            .all(|(a, b)| a.to_bits() == b.to_bits()));
    }

    fn softplus_libm(z: f64) -> f64 {
        z.max(0.0) + (-z.abs()).exp().ln_1p()
    }

    #[test]
    fn softplus_matches_libm_to_a_few_ulp() {
        let mut zs: Vec<f32> = grid();
        zs.extend([
            0.0, -0.0, 1e-30, -1e-30, 700.0, -700.0, 750.0, -750.0, 3e38, -3e38,
        ]);
        let mut out = vec![0.0; zs.len()];
        softplus_f32_to_f64(&zs, &mut out);
        for (&z, &got) in zs.iter().zip(&out) {
            let want = softplus_libm(z as f64);
            let err = (got - want).abs() / (want.abs() * f64::EPSILON).max(f64::MIN_POSITIVE);
            assert!(err <= 4.0, "softplus({z}) = {got}, libm {want}: {err} ulp");
        }
    }

    #[test]
    fn softplus_propagates_nan_and_handles_infinities() {
        let zs = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY];
        let mut out = [0.0; 3];
        softplus_f32_to_f64(&zs, &mut out);
        assert!(out[0].is_nan());
        assert_eq!(out[1], f64::INFINITY);
        assert!(out[2] >= 0.0 && out[2] < 1e-300);
    }

    #[test]
    fn softplus_vector_and_portable_paths_agree_bit_for_bit() {
        let zs = grid();
        let (mut fast, mut portable) = (vec![0.0; zs.len()], vec![0.0; zs.len()]);
        softplus_f32_to_f64(&zs, &mut fast);
        softplus_loop(&zs, &mut portable);
        assert!(fast
            .iter()
            .zip(&portable)
            .all(|(a, b)| a.to_bits() == b.to_bits()));
    }
}

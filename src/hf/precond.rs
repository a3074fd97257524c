//! The diagonal preconditioner of section 4.7:
//! `M = (diag(empirical Fisher) + regulariser + λ)^α`, elementwise.

use crate::error::{Error, Result};

/// Builds `M_i = (stat_i + λ)^exponent` into `out`.
///
/// `stat` is the objective's preconditioner statistic (mean per-example
/// squared gradient plus the regulariser's diagonal, e.g. `wc`), so with
/// the default exponent this is the reference's `(sqgrad + λ + wc)^0.75`.
/// An entry whose base is zero (a parameter no example touches, with no
/// weight cost and λ = 0) would divide by zero: it gets the mean of the
/// positive entries (1 if there are none), i.e. it is left unscaled relative
/// to the rest. A negative or non-finite statistic is an error naming the
/// index (the session treats it as a non-finite step).
pub fn build_preconditioner(
    stat: &[f32],
    lambda: f64,
    exponent: f64,
    out: &mut [f32],
) -> Result<()> {
    if stat.len() != out.len() {
        return Err(Error::shape(format!(
            "preconditioner statistic has length {}, expected {}",
            stat.len(),
            out.len()
        )));
    }
    let mut sum = 0.0f64;
    let mut count = 0usize;
    for (i, (o, &s)) in out.iter_mut().zip(stat).enumerate() {
        if !(s.is_finite() && s >= 0.0) {
            return Err(Error::non_finite(format!(
                "preconditioner statistic entry {i} is {s} (must be finite and >= 0)"
            )));
        }
        let m = power(s as f64 + lambda, exponent);
        *o = m as f32;
        if *o > 0.0 && o.is_finite() {
            sum += m;
            count += 1;
        }
    }
    if count < out.len() {
        let fill = if count > 0 {
            (sum / count as f64) as f32
        } else {
            1.0
        };
        for o in out.iter_mut() {
            if !(*o > 0.0 && o.is_finite()) {
                *o = fill;
            }
        }
    }
    Ok(())
}

/// `x^e` for `x ≥ 0`, by square roots for the default `e = 3/4` (and 1/2):
/// libm's general `pow` on every parameter was 1 % of a small run's time,
/// all of it serial. `√x·√√x` is within about 2 f64 ulp of the exact power,
/// far below the f32 the preconditioner is stored in.
fn power(x: f64, e: f64) -> f64 {
    if e == 0.75 {
        let root = x.sqrt();
        root * root.sqrt()
    } else if e == 0.5 {
        x.sqrt()
    } else {
        x.powf(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_formula_and_fills_zeros() {
        let stat = [0.0f32, 3.0, 12.0];
        let mut m = [0f32; 3];
        build_preconditioner(&stat, 1.0, 0.5, &mut m).unwrap();
        assert_eq!(m, [1.0, 2.0, 13f32.sqrt()]);
        build_preconditioner(&stat, 0.0, 1.0, &mut m).unwrap();
        assert_eq!(m, [7.5, 3.0, 12.0]);
        assert!(build_preconditioner(&[f32::NAN, 1.0, 1.0], 1.0, 1.0, &mut m).is_err());
    }

    #[test]
    fn square_root_power_agrees_with_pow() {
        for &x in &[
            0.0,
            1e-30,
            3e-7,
            0.5,
            1.0,
            2.0,
            45.0,
            1e6,
            3.7e30,
            f64::INFINITY,
        ] {
            let (fast, pow) = (power(x, 0.75), x.powf(0.75));
            assert!(
                fast == pow || ((fast - pow) / pow).abs() < 1e-15,
                "{x}: {fast} vs {pow}"
            );
        }
        assert!(power(f64::NAN, 0.75).is_nan());
        assert_eq!(power(2.0, 0.3), 2f64.powf(0.3));
    }
}

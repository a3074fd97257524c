//! The Armijo backtracking line search HFDemo runs on the full training
//! objective after CG-iterate backtracking.

use crate::error::Result;

/// The line search's constants (keys `ls_c`, `ls_shrink`, `ls_max_shrinks`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ArmijoRule {
    /// Sufficient-decrease constant c.
    pub c: f64,
    /// Factor the rate is multiplied by on each shrink.
    pub shrink: f64,
    /// Most shrinks before giving up.
    pub max_shrinks: usize,
}

impl Default for ArmijoRule {
    /// HFDemo: c = 1e-2, ×0.8, at most 60 shrinks.
    fn default() -> Self {
        ArmijoRule {
            c: 1e-2,
            shrink: 0.8,
            max_shrinks: 60,
        }
    }
}

/// The outcome of a line search.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LineSearchResult {
    /// Whether a rate was accepted.
    pub accepted: bool,
    /// The accepted rate (0 when rejected).
    pub rate: f64,
    /// Shrinks made: the accepted rate is `shrink^shrinks`.
    pub shrinks: usize,
    /// The objective at the accepted rate (`f0` when rejected).
    pub objective: f64,
    /// Objective evaluations made by the search.
    pub evaluations: usize,
}

/// Armijo search along a direction p: accept the first rate
/// `t = shrink^k`, k = 0, 1, …, `max_shrinks`, with
/// `f(t) ≤ f0 + c·t·min(slope, 0)`, where `slope = gᵀp`.
///
/// `f_at_one`, when known (from backtracking), saves the first evaluation.
/// A NaN or infinite `f(t)` fails the test. Using `min(slope, 0)` means a
/// direction that is not a descent direction is accepted only if it does
/// not increase the objective (HFDemo would accept a small increase there).
pub fn armijo<F: FnMut(f64) -> Result<f64>>(
    rule: &ArmijoRule,
    f0: f64,
    slope: f64,
    f_at_one: Option<f64>,
    mut eval: F,
) -> Result<LineSearchResult> {
    let slope = slope.min(0.0);
    let mut rate = 1.0f64;
    let mut evaluations = 0;
    for k in 0..=rule.max_shrinks {
        if k > 0 {
            rate *= rule.shrink;
        }
        let f = match (k, f_at_one) {
            (0, Some(f)) => f,
            _ => {
                evaluations += 1;
                eval(rate)?
            }
        };
        if f <= f0 + rule.c * rate * slope {
            return Ok(LineSearchResult {
                accepted: true,
                rate,
                shrinks: k,
                objective: f,
                evaluations,
            });
        }
    }
    Ok(LineSearchResult {
        accepted: false,
        rate: 0.0,
        shrinks: rule.max_shrinks,
        objective: f0,
        evaluations,
    })
}

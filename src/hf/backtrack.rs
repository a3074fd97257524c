//! CG-iterate backtracking (section 4.6): among the stored CG iterates, walk
//! back from the last while the previous one gives a lower full objective.

use crate::error::Result;

/// The iterate chosen by [`backtrack`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BacktrackResult {
    /// Position of the chosen iterate in the list passed in.
    pub position: usize,
    /// Its CG iteration number.
    pub iteration: usize,
    /// The objective there (may be non-finite if every candidate was).
    pub objective: f64,
    /// Objective evaluations made.
    pub evaluations: usize,
}

/// Evaluates the last stored iterate, then steps back while the previous one
/// is strictly better, evaluating lazily (as HFDemo). Non-finite values count
/// as +∞, and a non-finite current iterate is always stepped back from, so
/// blown-up late iterates are walked past.
/// `iterates` must not be empty.
pub fn backtrack<F: FnMut(&[f32]) -> Result<f64>>(
    iterates: &[(usize, Vec<f32>)],
    mut eval: F,
) -> Result<BacktrackResult> {
    let Some(last) = iterates.len().checked_sub(1) else {
        return Err(crate::Error::invalid("backtrack: no CG iterates"));
    };
    let key = |f: f64| if f.is_finite() { f } else { f64::INFINITY };
    let mut position = last;
    let mut objective = eval(&iterates[last].1)?;
    let mut evaluations = 1;
    while position > 0 {
        let candidate = eval(&iterates[position - 1].1)?;
        evaluations += 1;
        // A non-finite current value is always stepped back from.
        if !objective.is_finite() || key(candidate) < key(objective) {
            position -= 1;
            objective = candidate;
        } else {
            break;
        }
    }
    Ok(BacktrackResult {
        position,
        iteration: iterates[position].0,
        objective,
        evaluations,
    })
}

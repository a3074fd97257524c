//! The damping rule, the Armijo line search and CG-iterate backtracking on
//! cases with known answers.

use hessfree::hf::backtrack::backtrack;
use hessfree::hf::damping::DampingRule;
use hessfree::hf::line_search::{armijo, ArmijoRule};
use hessfree::Result;

#[test]
fn damping_rule_cases() {
    let rule = DampingRule::default();
    assert_eq!(rule.update(45.0, 0.1), 45.0 * 1.5);
    assert_eq!(rule.update(45.0, 0.5), 45.0);
    assert_eq!(rule.update(45.0, 0.9), 45.0 * (2.0 / 3.0));
    assert_eq!(rule.update(45.0, f64::NAN), 45.0 * 1.5);
    assert_eq!(rule.update(45.0, f64::NEG_INFINITY), 45.0 * 1.5);
    // The thresholds themselves leave λ unchanged (strict inequalities).
    assert_eq!(rule.update(45.0, 0.25), 45.0);
    assert_eq!(rule.update(45.0, 0.75), 45.0);
    assert_eq!(rule.penalise(2.0), 3.0);
    let bounded = DampingRule {
        min: 40.0,
        max: 50.0,
        ..rule
    };
    assert_eq!(bounded.update(45.0, 0.9), 40.0);
    assert_eq!(bounded.update(45.0, 0.1), 50.0);
    assert_eq!(bounded.penalise(45.0), 50.0);
}

/// f(x) = x² at x = 1, p = −1 (the Newton step): rate 1 is accepted.
#[test]
fn line_search_accepts_rate_one_on_a_quadratic() {
    let f = |t: f64| -> Result<f64> { Ok((1.0 - t).powi(2)) };
    let r = armijo(&ArmijoRule::default(), 1.0, -2.0, None, f).unwrap();
    assert!(r.accepted);
    assert_eq!((r.rate, r.shrinks, r.evaluations), (1.0, 0, 1));
    assert_eq!(r.objective, 0.0);
    // With the rate-1 value supplied, no evaluation is needed.
    let r = armijo(&ArmijoRule::default(), 1.0, -2.0, Some(0.0), f).unwrap();
    assert_eq!((r.accepted, r.evaluations), (true, 0));
}

/// f(x) = x² at x = 1, p = −10 (overshoot): f(1 − 10t) ≤ 1 − 0.2t iff
/// t ≤ 0.198, so the first accepted rate is 0.8^8 = 0.16777… (0.8^7 = 0.2097).
#[test]
fn line_search_needs_eight_shrinks() {
    let mut calls = 0;
    let r = armijo(&ArmijoRule::default(), 1.0, -20.0, None, |t| {
        calls += 1;
        Ok((1.0 - 10.0 * t).powi(2))
    })
    .unwrap();
    assert!(r.accepted);
    assert_eq!(r.shrinks, 8);
    assert_eq!(r.rate, (0..8).fold(1.0, |t, _| t * 0.8));
    assert_eq!((r.evaluations, calls), (9, 9));
}

/// A flat objective never gives the promised decrease: rejected after 60 shrinks.
#[test]
fn line_search_rejects_after_sixty_shrinks() {
    let mut calls = 0;
    let r = armijo(&ArmijoRule::default(), 1.0, -2.0, None, |_| {
        calls += 1;
        Ok(1.0)
    })
    .unwrap();
    assert!(!r.accepted);
    assert_eq!((r.rate, r.shrinks, r.objective), (0.0, 60, 1.0));
    assert_eq!(calls, 61); // rates 0.8^0 … 0.8^60
}

#[test]
fn line_search_treats_nan_as_failure_and_shrinks_past_it() {
    let r = armijo(&ArmijoRule::default(), 1.0, -2.0, None, |t| {
        Ok(if t > 0.7 { f64::NAN } else { (1.0 - t).powi(2) })
    })
    .unwrap();
    assert!(r.accepted);
    assert_eq!(r.shrinks, 2); // 1 and 0.8 are NaN, 0.64 passes
}

#[test]
fn line_search_does_not_accept_an_increase_along_an_ascent_direction() {
    // gᵀp > 0: only rates that do not increase f would be accepted.
    let r = armijo(&ArmijoRule::default(), 1.0, 2.0, None, |t| {
        Ok((1.0 + t).powi(2))
    })
    .unwrap();
    assert!(!r.accepted);
}

type Stored = Vec<(usize, Vec<f32>)>;

fn stored(values: &[f64]) -> (Stored, impl Fn(&[f32]) -> f64 + '_) {
    // Iterate j holds the single number j; its objective is values[j].
    let iterates = (0..values.len())
        .map(|j| (5 + 2 * j, vec![j as f32]))
        .collect();
    (iterates, move |p: &[f32]| values[p[0] as usize])
}

#[test]
fn backtracking_walks_back_while_better() {
    let values = [5.0, 3.0, 4.0, 6.0];
    let (its, f) = stored(&values);
    let mut seen = Vec::new();
    let r = backtrack(&its, |p| {
        seen.push(p[0] as usize);
        Ok(f(p))
    })
    .unwrap();
    assert_eq!(
        (r.position, r.iteration, r.objective, r.evaluations),
        (1, 7, 3.0, 4)
    );
    assert_eq!(seen, vec![3, 2, 1, 0]);
}

#[test]
fn backtracking_is_lazy_when_the_last_is_best() {
    let values = [3.0, 2.0, 1.0];
    let (its, f) = stored(&values);
    let r = backtrack(&its, |p| Ok(f(p))).unwrap();
    assert_eq!((r.position, r.objective, r.evaluations), (2, 1.0, 2));
}

#[test]
fn backtracking_steps_back_from_non_finite_iterates() {
    let values = [2.0, 1.0, f64::NAN, f64::INFINITY];
    let (its, f) = stored(&values);
    let r = backtrack(&its, |p| Ok(f(p))).unwrap();
    assert_eq!((r.position, r.objective), (1, 1.0));
    let all_nan = [f64::NAN, f64::NAN];
    let (its, f) = stored(&all_nan);
    let r = backtrack(&its, |p| Ok(f(p))).unwrap();
    assert!(r.objective.is_nan());
    assert!(backtrack(&[], |_| Ok(0.0)).is_err());
}

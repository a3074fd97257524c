//! The Levenberg-Marquardt damping rule of section 4.1.

/// The damping rule's constants (see the `rho_low`, `rho_high`,
/// `lambda_increase`, `lambda_decrease`, `lambda_min`, `lambda_max` keys).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DampingRule {
    /// ρ below this (or NaN) increases λ.
    pub rho_low: f64,
    /// ρ above this decreases λ.
    pub rho_high: f64,
    /// Factor applied on an increase.
    pub increase: f64,
    /// Factor applied on a decrease.
    pub decrease: f64,
    /// Lower bound on the new λ.
    pub min: f64,
    /// Upper bound on the new λ.
    pub max: f64,
}

impl Default for DampingRule {
    /// The paper's rule: ×3/2 below ¼, ×2/3 above ¾, no bounds.
    fn default() -> Self {
        DampingRule {
            rho_low: 0.25,
            rho_high: 0.75,
            increase: 1.5,
            decrease: 2.0 / 3.0,
            min: 0.0,
            max: f64::INFINITY,
        }
    }
}

impl DampingRule {
    /// The new λ after a step with reduction ratio `rho`: increased when
    /// `rho < rho_low` or `rho` is NaN, decreased when `rho > rho_high`,
    /// otherwise unchanged; then clamped to `[min, max]`.
    pub fn update(&self, lambda: f64, rho: f64) -> f64 {
        let new = if rho.is_nan() || rho < self.rho_low {
            lambda * self.increase
        } else if rho > self.rho_high {
            lambda * self.decrease
        } else {
            lambda
        };
        self.clamp(new)
    }

    /// λ after a rejected (non-finite) step: always increased, then clamped.
    pub fn penalise(&self, lambda: f64) -> f64 {
        self.clamp(lambda * self.increase)
    }

    /// Clamps to `[min, max]` and to the largest finite f64: λ = ∞ would
    /// make every later step NaN and the session's checkpoint unloadable.
    fn clamp(&self, lambda: f64) -> f64 {
        lambda.max(self.min).min(self.max).min(f64::MAX)
    }
}

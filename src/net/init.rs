//! Parameter initialisation (paper section 5): sparse by default, dense as an option.

use super::spec::NetSpec;
use crate::error::{Error, Result};
use crate::rng::Rng;

/// Number of non-zero incoming weights per unit in the paper's sparse scheme.
pub const SPARSE_NONZEROS: usize = 15;

/// How to draw initial parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// Each unit gets exactly `nonzeros` distinct non-zero incoming weights
    /// (all of them when the fan-in is smaller), drawn `N(0,1)·scale`; the
    /// rest are zero. Biases are 0 (0.5 for tanh units). The paper's default
    /// is `nonzeros = 15, scale = 1`.
    Sparse {
        /// Non-zero incoming weights per unit.
        nonzeros: usize,
        /// Standard deviation of the non-zero weights.
        scale: f64,
    },
    /// Every weight `N(0,1)·scale/√fan_in`; biases as for sparse.
    Dense {
        /// Multiplier of the `1/√fan_in` standard deviation.
        scale: f64,
    },
}

impl Default for Init {
    fn default() -> Self {
        Init::Sparse {
            nonzeros: SPARSE_NONZEROS,
            scale: 1.0,
        }
    }
}

/// Draws a parameter vector for `spec`; the same seed gives the same vector.
pub fn initial_params(spec: &NetSpec, init: Init, seed: u64) -> Result<Vec<f32>> {
    let scale = match init {
        Init::Sparse { scale, .. } | Init::Dense { scale } => scale,
    };
    if !scale.is_finite() || scale < 0.0 {
        return Err(Error::out_of_range(format!(
            "initialisation scale must be finite and ≥ 0, got {scale}"
        )));
    }
    if let Init::Sparse { nonzeros: 0, .. } = init {
        return Err(Error::out_of_range(
            "sparse initialisation needs at least 1 non-zero weight per unit",
        ));
    }
    let mut theta = vec![0.0f32; spec.num_params()];
    let mut rng = Rng::new(seed);
    for (slot, act) in spec.slots().iter().zip(spec.activations()) {
        let w = &mut theta[slot.weights..slot.biases];
        match init {
            Init::Sparse { nonzeros, scale } => {
                let k = nonzeros.min(slot.fan_in);
                for j in 0..slot.fan_out {
                    for i in rng.sample_distinct(slot.fan_in, k) {
                        w[i * slot.fan_out + j] = (rng.normal() * scale) as f32;
                    }
                }
            }
            Init::Dense { scale } => {
                let sd = scale / (slot.fan_in as f64).sqrt();
                for x in w.iter_mut() {
                    *x = (rng.normal() * sd) as f32;
                }
            }
        }
        theta[slot.biases..slot.end()].fill(act.initial_bias() as f32);
    }
    Ok(theta)
}

//! A network and its data as an [`Objective`] for the HF optimizer.

use std::collections::VecDeque;

use crate::backend::memory::check_host_fits;
use crate::backend::{create_backend_with, Backend, BackendOptions, PassResult, Split, WeightCost};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::firstorder::MinibatchObjective;
use crate::hf::cg::{CgOptions, CgResult, DampedSystem};
use crate::hf::vector::for_each_block_mut;
use crate::hf::{Chunk, CurvatureKind, HfConfig, Metrics, Objective};

use super::spec::NetSpec;

/// Weight cost of the reference code (`½·wc·‖θ‖²` with `wc = 2e-5`).
pub const DEFAULT_WEIGHT_COST: f64 = 2e-5;

/// A network's training objective: the mean per-example loss over the
/// training set plus the weight cost `½·wc·Σ mask_i θ_i²`, computed by a
/// [`Backend`]. The mask is 1 on weights and, by default, on biases too (as
/// in the reference code).
pub struct NetObjective {
    backend: Box<dyn Backend>,
    weight_cost: f64,
    mask: Vec<f32>,
    /// The training-set passes of the last [`RECENT_PASSES`] `loss` calls,
    /// with their θ, newest last (see [`Objective::known_train_metrics`]).
    recent: VecDeque<(Vec<f32>, PassResult)>,
}

/// How many `loss` passes [`NetObjective`] remembers. The θ an HF step
/// accepts is the last one backtracking or the line search evaluated, or
/// (when backtracking stopped at a worse candidate) the one before it.
const RECENT_PASSES: usize = 2;

/// Whether two parameter vectors are identical bit for bit (NaN included).
fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

impl NetObjective {
    /// The objective of the backend's network and data with weight cost
    /// `weight_cost` (≥ 0), applied to biases when `include_biases`.
    pub fn new(backend: Box<dyn Backend>, weight_cost: f64, include_biases: bool) -> Result<Self> {
        if !weight_cost.is_finite() || weight_cost < 0.0 {
            return Err(Error::out_of_range(format!(
                "weight_cost must be finite and ≥ 0, got {weight_cost}"
            )));
        }
        let mask = backend.spec().weight_cost_mask(include_biases);
        Ok(NetObjective {
            backend,
            weight_cost,
            mask,
            recent: VecDeque::with_capacity(RECENT_PASSES),
        })
    }

    /// The objective of `spec` on `train` (and `test`, for reports) as a
    /// session's `config` asks: its backend (`auto` falls back to the CPU),
    /// thread count, full-pass slice size and weight cost. Returns the
    /// objective and a note saying which backend was chosen and why. Fails
    /// with `ResourceLimit` when the host memory the chosen backend needs
    /// ([`crate::backend::memory::host_estimate`]) exceeds what is available.
    pub fn from_config(
        spec: NetSpec,
        train: Dataset,
        test: Option<Dataset>,
        config: &HfConfig,
    ) -> Result<(Self, String)> {
        config.validate()?;
        crate::curvature::set_threads(usize::try_from(config.threads).unwrap_or(0));
        let eval_chunk = usize::try_from(config.eval_chunk_size).unwrap_or(0);
        // Chunks grow up to the whole training set when chunk_growth > 1.
        let n = train.len();
        let largest_chunk = match usize::try_from(config.chunk_size) {
            Ok(k) if k > 0 && config.chunk_growth <= 1.0 => k.min(n),
            _ => n,
        };
        let options = BackendOptions {
            eval_chunk,
            tf32: config.tf32,
            curvature: Some((largest_chunk, config.curvature)),
        };
        let describe = spec.describe();
        let chosen = create_backend_with(config.backend, spec, train, test, options)?;
        // Host memory depends on the backend `auto` resolved to: the CPU
        // backend's passes and chunk live there, the CUDA backend's on the
        // device (checked there). Creating a CPU backend allocates nothing
        // beyond the data, so checking afterwards still refuses a run
        // before its working memory is allocated.
        check_host_fits(
            chosen.kind,
            chosen.backend.spec(),
            config,
            n,
            &format!("training {describe} on the {} backend", chosen.kind.label()),
        )?;
        let objective = NetObjective::new(
            chosen.backend,
            config.weight_cost,
            config.weight_cost_biases,
        )?;
        Ok((objective, chosen.note))
    }

    /// The network architecture.
    pub fn spec(&self) -> &NetSpec {
        self.backend.spec()
    }

    /// The backend doing the work.
    pub fn backend_mut(&mut self) -> &mut dyn Backend {
        // Whatever the caller does with it, remembered passes are not trusted.
        self.recent.clear();
        self.backend.as_mut()
    }

    /// Remembers a training-set pass at `theta` (reusing the oldest entry's buffer).
    fn remember(&mut self, theta: &[f32], pass: PassResult) {
        let mut buffer = if self.recent.len() >= RECENT_PASSES {
            self.recent.pop_front().map(|(b, _)| b).unwrap_or_default()
        } else {
            Vec::new()
        };
        buffer.clear();
        buffer.extend_from_slice(theta);
        self.recent.push_back((buffer, pass));
    }

    /// The backend's name.
    pub fn backend_name(&self) -> String {
        self.backend.name()
    }

    /// `½·wc·Σ mask_i θ_i²`.
    fn weight_penalty(&self, theta: &[f32]) -> f64 {
        let sum: f64 = theta
            .iter()
            .zip(&self.mask)
            .map(|(&t, &m)| (m * t) as f64 * t as f64)
            .sum();
        0.5 * self.weight_cost * sum
    }

    /// `out += wc·mask ⊙ x`.
    fn add_weight_cost(&self, x: &[f32], out: &mut [f32]) {
        let wc = self.weight_cost as f32;
        let mask = &self.mask;
        for_each_block_mut(out, |start, part| {
            for ((o, &xi), &m) in part.iter_mut().zip(&x[start..]).zip(&mask[start..]) {
                *o += wc * m * xi;
            }
        });
    }

    fn metrics(&mut self, theta: &[f32], split: Split) -> Result<Metrics> {
        let pass = self.backend.evaluate(theta, split, None, None)?;
        Ok(Metrics {
            objective: pass.loss + self.weight_penalty(theta),
            error: Some(pass.error),
        })
    }
}

impl Objective for NetObjective {
    fn num_params(&self) -> usize {
        self.spec().num_params()
    }

    fn num_examples(&self) -> usize {
        self.backend.num_examples(Split::Train)
    }

    fn supports_curvature(&self, _kind: CurvatureKind) -> bool {
        true
    }

    fn loss(&mut self, theta: &[f32]) -> Result<f64> {
        let pass = self.backend.evaluate(theta, Split::Train, None, None)?;
        self.remember(theta, pass);
        Ok(pass.loss + self.weight_penalty(theta))
    }

    fn loss_and_gradient(
        &mut self,
        theta: &[f32],
        grad: &mut [f32],
        mut precond_stat: Option<&mut [f32]>,
    ) -> Result<f64> {
        let pass =
            self.backend
                .evaluate(theta, Split::Train, Some(grad), precond_stat.as_deref_mut())?;
        self.add_weight_cost(theta, grad);
        if let Some(stat) = precond_stat {
            let wc = self.weight_cost as f32;
            for (s, &m) in stat.iter_mut().zip(&self.mask) {
                *s += wc * m;
            }
        }
        Ok(pass.loss + self.weight_penalty(theta))
    }

    fn set_curvature_chunk(
        &mut self,
        theta: &[f32],
        chunk: Chunk,
        kind: CurvatureKind,
    ) -> Result<()> {
        self.backend.set_chunk(theta, chunk, kind)
    }

    fn curvature_product(&mut self, v: &[f32], out: &mut [f32]) -> Result<()> {
        self.backend.curvature_product(v, out)?;
        self.add_weight_cost(v, out);
        Ok(())
    }

    fn chunk_loss(&mut self, theta: &[f32]) -> Result<f64> {
        Ok(self.backend.chunk_loss(theta)? + self.weight_penalty(theta))
    }

    fn solve_damped(
        &mut self,
        system: &DampedSystem<'_>,
        x0: &[f32],
        opts: &CgOptions,
    ) -> Result<Option<CgResult>> {
        // The same f32 coefficient `add_weight_cost` uses on the host path.
        let weight_cost = WeightCost {
            coefficient: self.weight_cost as f32,
            mask: &self.mask,
        };
        self.backend.solve_damped(system, weight_cost, x0, opts)
    }

    fn train_metrics(&mut self, theta: &[f32]) -> Result<Metrics> {
        self.metrics(theta, Split::Train)
    }

    fn test_metrics(&mut self, theta: &[f32]) -> Result<Option<Metrics>> {
        if self.backend.num_examples(Split::Test) == 0 {
            return Ok(None);
        }
        self.metrics(theta, Split::Test).map(Some)
    }

    fn known_train_metrics(&mut self, theta: &[f32]) -> Option<Metrics> {
        let pass = self
            .recent
            .iter()
            .rev()
            .find(|(seen, _)| same_bits(seen, theta))
            .map(|&(_, pass)| pass)?;
        // The same sum as `metrics` forms from a fresh pass.
        Some(Metrics {
            objective: pass.loss + self.weight_penalty(theta),
            error: Some(pass.error),
        })
    }
}

impl MinibatchObjective for NetObjective {
    fn minibatch_loss_and_gradient(
        &mut self,
        theta: &[f32],
        start: usize,
        len: usize,
        grad: &mut [f32],
    ) -> Result<f64> {
        let pass = self
            .backend
            .evaluate_range(theta, Split::Train, start, len, Some(grad))?;
        self.add_weight_cost(theta, grad);
        Ok(pass.loss + self.weight_penalty(theta))
    }
}

//! The CPU backend: ndarray with matrixmultiply's threaded GEMMs.

use std::collections::VecDeque;

use ndarray::{s, Array2, ArrayView2};

use super::{check_param_len, check_pass_buffers, Backend, PassResult, Split};
use crate::curvature::{
    accumulate_gradient, batch_loss, curvature_product, forward, output_delta, Activations,
    BatchLoss, ChunkCache,
};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::hf::{Chunk, CurvatureKind};
use crate::net::NetSpec;

/// Examples per slice of a full pass when none is configured: bounds the
/// activation memory of a pass to about `DEFAULT_EVAL_CHUNK × Σ layer widths` floats.
pub const DEFAULT_EVAL_CHUNK: usize = 5000;

/// How many full training passes a [`CpuBackend`] remembers. An HF step
/// accepts the θ that backtracking or the line search evaluated last, or
/// (when backtracking stopped at a worse candidate) the one before it; the
/// next step's gradient and curvature chunk are then taken at that θ.
pub(crate) const REMEMBERED_PASSES: usize = 2;

/// The most activation storage (bytes) one remembered pass may hold; larger
/// training sets are not remembered.
const REMEMBER_LIMIT_BYTES: usize = 64 << 20;

/// A full training pass done in one slice, kept with its θ so that a later
/// gradient, statistic or curvature chunk at the same θ (bit for bit) skips
/// the forward pass and the loss. Rows' activations do not depend on the
/// rows around them or on the thread count, so the reuse changes no result.
struct RememberedPass {
    theta: Vec<f32>,
    acts: Activations<f32>,
    result: PassResult,
}

/// The activation floats of one remembered training pass of `spec` over `n`
/// examples with pass slices of `eval_chunk` (0 = [`DEFAULT_EVAL_CHUNK`]), or
/// `None` when passes are not remembered: the set is passed over in more
/// than one slice, or its activations exceed [`REMEMBER_LIMIT_BYTES`].
/// Beyond the pass slice itself, up to `REMEMBERED_PASSES − 1` more such
/// sets of activations are kept.
pub(crate) fn remembered_pass_floats(spec: &NetSpec, n: usize, eval_chunk: usize) -> Option<usize> {
    let eval_chunk = if eval_chunk == 0 {
        DEFAULT_EVAL_CHUNK
    } else {
        eval_chunk
    };
    let widths: usize = spec.sizes()[1..].iter().sum();
    // Every layer's outputs plus the output pre-activations.
    let per_row = widths.saturating_add(spec.output_dim());
    let floats = n.saturating_mul(per_row);
    (n > 0 && n <= eval_chunk && floats.saturating_mul(4) <= REMEMBER_LIMIT_BYTES).then_some(floats)
}

/// Whether two parameter vectors are identical bit for bit (NaN included).
fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

/// The curvature chunk currently cached, with the θ it was built at.
struct CurvatureState {
    chunk: Chunk,
    theta: Vec<f32>,
    cache: ChunkCache<f32>,
}

/// Runs a network on the CPU over data sets it holds.
pub struct CpuBackend {
    spec: NetSpec,
    train: Dataset,
    test: Option<Dataset>,
    eval_chunk: usize,
    curvature: Option<CurvatureState>,
    /// Recent full training passes, newest last (empty when the training
    /// set is not passed over in one slice of bounded size).
    recent: VecDeque<RememberedPass>,
}

/// Checks that a data set fits the network's input and output widths.
pub(crate) fn check_data_fits(spec: &NetSpec, data: &Dataset, what: &str) -> Result<()> {
    if data.input_dim() != spec.input_dim() || data.target_dim() != spec.output_dim() {
        return Err(Error::shape(format!(
            "{what} data is {}→{} wide but the network maps {}→{}",
            data.input_dim(),
            data.target_dim(),
            spec.input_dim(),
            spec.output_dim()
        )));
    }
    Ok(())
}

/// One pass over `data` in slices of `eval_chunk` examples: mean loss and
/// error, and optionally the mean gradient and mean squared per-example
/// gradient (buffers are overwritten). Memory is bounded by one slice's
/// activations, whatever the size of the data set.
pub(crate) fn evaluate_dataset(
    spec: &NetSpec,
    theta: &[f32],
    data: &Dataset,
    eval_chunk: usize,
    grad: Option<&mut [f32]>,
    stat: Option<&mut [f32]>,
) -> Result<PassResult> {
    evaluate_rows(spec, theta, data, 0, data.len(), eval_chunk, grad, stat)
}

/// [`evaluate_dataset`] restricted to the examples `start..start+len` of
/// `data` (means are over those examples); used for minibatch gradients.
#[allow(clippy::too_many_arguments)]
pub(crate) fn evaluate_rows(
    spec: &NetSpec,
    theta: &[f32],
    data: &Dataset,
    start: usize,
    len: usize,
    eval_chunk: usize,
    mut grad: Option<&mut [f32]>,
    mut stat: Option<&mut [f32]>,
) -> Result<PassResult> {
    check_pass_buffers(spec, theta, grad.as_deref(), stat.as_deref())?;
    check_data_fits(spec, data, "the")?;
    let end = check_row_range(start, len, data.len())?;
    let n = len;
    let eval_chunk = if eval_chunk == 0 {
        DEFAULT_EVAL_CHUNK
    } else {
        eval_chunk
    };
    let scale = 1.0 / n as f32;
    grad.iter_mut().for_each(|g| g.fill(0.0));
    stat.iter_mut().for_each(|s| s.fill(0.0));
    let mut sums = BatchLoss::default();
    let mut start = start;
    while start < end {
        let len = eval_chunk.min(end - start);
        let x = data.input_rows(start, len);
        let t = data.target_rows(start, len);
        let acts = forward(spec, theta, x);
        sums += batch_loss(spec.loss(), &acts.output_z, acts.output(), &t);
        if let Some(g) = grad.as_deref_mut() {
            let delta = output_delta(spec.loss(), acts.output(), &t);
            accumulate_gradient(spec, theta, x, &acts, delta, scale, g, stat.as_deref_mut());
        }
        acts.recycle();
        start += len;
    }
    Ok(PassResult {
        loss: sums.loss_sum / n as f64,
        error: sums.sq_error_sum / n as f64,
        examples: n,
    })
}

/// Checks that `start..start+len` is a non-empty range inside `0..n`; returns
/// its end. Shared by every backend so that they refuse a range alike.
pub(crate) fn check_row_range(start: usize, len: usize, n: usize) -> Result<usize> {
    match start.checked_add(len) {
        Some(end) if len > 0 && end <= n => Ok(end),
        _ => Err(Error::out_of_range(format!(
            "example range {start}..{start}+{len} is empty or lies outside the {n} examples"
        ))),
    }
}

impl CpuBackend {
    /// A backend for `spec` over `train` (and optionally `test`), running full
    /// passes in slices of `eval_chunk` examples (0 = [`DEFAULT_EVAL_CHUNK`]).
    pub fn new(
        spec: NetSpec,
        train: Dataset,
        test: Option<Dataset>,
        eval_chunk: usize,
    ) -> Result<Self> {
        check_data_fits(&spec, &train, "training")?;
        if let Some(test) = &test {
            check_data_fits(&spec, test, "test")?;
        }
        Ok(CpuBackend {
            spec,
            train,
            test,
            eval_chunk: if eval_chunk == 0 {
                DEFAULT_EVAL_CHUNK
            } else {
                eval_chunk
            },
            curvature: None,
            recent: VecDeque::with_capacity(REMEMBERED_PASSES),
        })
    }

    /// Whether full training passes are remembered (see [`remembered_pass_floats`]).
    fn remembers_passes(&self) -> bool {
        remembered_pass_floats(&self.spec, self.train.len(), self.eval_chunk).is_some()
    }

    /// [`Backend::evaluate`] on the training set in one slice, reusing the
    /// forward pass of a remembered pass at the same θ and remembering this one.
    fn evaluate_train_remembered(
        &mut self,
        theta: &[f32],
        mut grad: Option<&mut [f32]>,
        mut stat: Option<&mut [f32]>,
    ) -> Result<PassResult> {
        check_pass_buffers(&self.spec, theta, grad.as_deref(), stat.as_deref())?;
        let n = self.train.len();
        let known = self.recent.iter().position(|r| same_bits(&r.theta, theta));
        let entry = match known.and_then(|i| self.recent.remove(i)) {
            Some(entry) => entry,
            None => {
                // Drop the oldest pass before the new one is computed, so at
                // most REMEMBERED_PASSES are alive at once.
                let oldest = if self.recent.len() >= REMEMBERED_PASSES {
                    self.recent.pop_front()
                } else {
                    None
                };
                let mut theta_buffer = oldest.map_or_else(Vec::new, |r| {
                    r.acts.recycle();
                    r.theta
                });
                theta_buffer.clear();
                theta_buffer.extend_from_slice(theta);
                let x = self.train.input_rows(0, n);
                let t = self.train.target_rows(0, n);
                let acts = forward(&self.spec, theta, x);
                let sums = batch_loss(self.spec.loss(), &acts.output_z, acts.output(), &t);
                RememberedPass {
                    theta: theta_buffer,
                    acts,
                    result: PassResult {
                        loss: sums.loss_sum / n as f64,
                        error: sums.sq_error_sum / n as f64,
                        examples: n,
                    },
                }
            }
        };
        // The same work, in the same order, as `evaluate_rows` in one slice.
        grad.iter_mut().for_each(|g| g.fill(0.0));
        stat.iter_mut().for_each(|s| s.fill(0.0));
        if let Some(g) = grad {
            let x = self.train.input_rows(0, n);
            let t = self.train.target_rows(0, n);
            let delta = output_delta(self.spec.loss(), entry.acts.output(), &t);
            let scale = 1.0 / n as f32;
            accumulate_gradient(&self.spec, theta, x, &entry.acts, delta, scale, g, stat);
        }
        let result = entry.result;
        self.recent.push_back(entry);
        Ok(result)
    }

    fn split(&self, split: Split) -> Result<&Dataset> {
        match split {
            Split::Train => Ok(&self.train),
            Split::Test => self
                .test
                .as_ref()
                .ok_or_else(|| Error::invalid("no test set was given")),
        }
    }

    fn check_len(&self, what: &str, len: usize) -> Result<()> {
        check_param_len(what, len, self.spec.num_params())
    }
}

impl Backend for CpuBackend {
    fn name(&self) -> String {
        "cpu".to_string()
    }

    fn spec(&self) -> &NetSpec {
        &self.spec
    }

    fn num_examples(&self, split: Split) -> usize {
        self.split(split).map(|d| d.len()).unwrap_or(0)
    }

    fn evaluate(
        &mut self,
        theta: &[f32],
        split: Split,
        grad: Option<&mut [f32]>,
        stat: Option<&mut [f32]>,
    ) -> Result<PassResult> {
        self.check_len("theta", theta.len())?;
        if split == Split::Train && self.remembers_passes() {
            return self.evaluate_train_remembered(theta, grad, stat);
        }
        let data = self.split(split)?;
        evaluate_dataset(&self.spec, theta, data, self.eval_chunk, grad, stat)
    }

    fn evaluate_range(
        &mut self,
        theta: &[f32],
        split: Split,
        start: usize,
        len: usize,
        grad: Option<&mut [f32]>,
    ) -> Result<PassResult> {
        self.check_len("theta", theta.len())?;
        let data = self.split(split)?;
        evaluate_rows(
            &self.spec,
            theta,
            data,
            start,
            len,
            self.eval_chunk,
            grad,
            None,
        )
    }

    fn set_chunk(&mut self, theta: &[f32], chunk: Chunk, kind: CurvatureKind) -> Result<()> {
        self.check_len("theta", theta.len())?;
        let n = self.train.len();
        if chunk.len == 0
            || chunk
                .start
                .checked_add(chunk.len)
                .map_or(true, |end| end > n)
        {
            return Err(Error::out_of_range(format!(
                "curvature chunk {}..{}+{} lies outside the {n} training examples",
                chunk.start, chunk.start, chunk.len
            )));
        }
        // The cache refers to the training set's rows rather than copying
        // them, and keeps an autoencoder's targets only once (as the inputs).
        let (x, t) = self.train.shared_rows(chunk.start, chunk.len)?;
        // Free the old cache before building the new one (its memory is
        // reused for the new one's outputs).
        if let Some(old) = self.curvature.take() {
            old.cache.recycle();
        }
        let rows = s![chunk.start..chunk.start + chunk.len, ..];
        let known = self
            .recent
            .iter()
            .rev()
            .find(|r| same_bits(&r.theta, theta))
            .map(|r| Activations {
                layers: r
                    .acts
                    .layers
                    .iter()
                    .map(|a| a.slice(rows).to_owned())
                    .collect(),
                output_z: r.acts.output_z.slice(rows).to_owned(),
            });
        let cache = ChunkCache::over_shared_rows(&self.spec, theta, x, t, known, kind);
        self.curvature = Some(CurvatureState {
            chunk,
            theta: theta.to_vec(),
            cache,
        });
        Ok(())
    }

    fn curvature_product(&mut self, v: &[f32], out: &mut [f32]) -> Result<()> {
        self.check_len("v", v.len())?;
        self.check_len("output buffer", out.len())?;
        let state = self
            .curvature
            .as_ref()
            .ok_or_else(|| Error::invalid("curvature product requested before a chunk was set"))?;
        curvature_product(&self.spec, &state.theta, &state.cache, v, out);
        Ok(())
    }

    fn chunk_loss(&mut self, theta: &[f32]) -> Result<f64> {
        self.check_len("theta", theta.len())?;
        let state = self
            .curvature
            .as_ref()
            .ok_or_else(|| Error::invalid("chunk loss requested before a chunk was set"))?;
        let same_theta = state.theta.len() == theta.len()
            && state
                .theta
                .iter()
                .zip(theta)
                .all(|(a, b)| a.to_bits() == b.to_bits());
        let rows = s![state.chunk.start..state.chunk.start + state.chunk.len, ..];
        let known = self
            .recent
            .iter()
            .rev()
            .find(|r| same_bits(&r.theta, theta));
        let sums = if same_theta {
            // The cache holds the forward pass at exactly this θ (ρ's f(θ)).
            state.cache.loss(&self.spec)
        } else if let Some(known) = known {
            // ρ's f(θ + p): backtracking has just passed over the whole
            // training set there. Per-example losses added in row order, as
            // a fresh pass over the chunk adds them.
            batch_loss(
                self.spec.loss(),
                &known.acts.output_z.slice(rows).to_owned(),
                &known.acts.output().slice(rows).to_owned(),
                &state.cache.targets(),
            )
        } else {
            let x = state.cache.inputs();
            let t = state.cache.targets();
            let acts = forward(&self.spec, theta, x);
            let sums = batch_loss(self.spec.loss(), &acts.output_z, acts.output(), &t);
            acts.recycle();
            sums
        };
        Ok(sums.loss_sum / state.chunk.len as f64)
    }

    fn predict(&mut self, theta: &[f32], x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        self.check_len("theta", theta.len())?;
        if x.ncols() != self.spec.input_dim() {
            return Err(Error::shape(format!(
                "inputs are {} wide, the network takes {}",
                x.ncols(),
                self.spec.input_dim()
            )));
        }
        let mut acts = forward(&self.spec, theta, x);
        Ok(acts.layers.pop().unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::curvature::curvature_product as product;
    use crate::net::{initial_params, Activation, Init};
    use crate::rng::Rng;

    const KINDS: [CurvatureKind; 3] = [
        CurvatureKind::GaussNewton,
        CurvatureKind::EmpiricalFisher,
        CurvatureKind::Hessian,
    ];

    /// A 40-example set: an autoencoder of 6 values, or 6 values → 3 class
    /// probabilities; with the network fitting it.
    fn problem(autoencoder: bool) -> (NetSpec, Dataset) {
        let (n, d) = (40, 6);
        let mut rng = Rng::new(5);
        let x: Vec<f32> = (0..n * d).map(|_| rng.uniform() as f32).collect();
        if autoencoder {
            let spec = NetSpec::new(
                vec![d, 5, d],
                vec![Activation::Logistic, Activation::Logistic],
            )
            .expect("spec");
            (spec, Dataset::autoencoder(n, d, x).expect("data"))
        } else {
            let t: Vec<f32> = (0..n * 3)
                .map(|i| if i % 3 == (i / 3) % 2 { 1.0 } else { 0.0 })
                .collect();
            let spec = NetSpec::new(vec![d, 5, 3], vec![Activation::Tanh, Activation::Softmax])
                .expect("spec");
            (spec, Dataset::new(n, d, x, 3, t).expect("data"))
        }
    }

    #[test]
    fn chunk_cache_refers_to_the_training_rows() {
        for autoencoder in [true, false] {
            let (spec, data) = problem(autoencoder);
            let theta = initial_params(&spec, Init::default(), 1).expect("init");
            let mut backend = CpuBackend::new(spec, data, None, 0).expect("backend");
            let chunk = Chunk { start: 7, len: 20 };
            backend
                .set_chunk(&theta, chunk, CurvatureKind::GaussNewton)
                .expect("chunk");
            let cache = &backend.curvature.as_ref().expect("a cached chunk").cache;
            let (x, t) = (
                backend.train.input_rows(7, 20),
                backend.train.target_rows(7, 20),
            );
            // The same memory, not a copy of it.
            assert_eq!(cache.inputs().as_ptr(), x.as_ptr());
            assert_eq!(cache.targets().as_ptr(), t.as_ptr());
            assert_eq!(cache.inputs().dim(), x.dim());
            assert_eq!(cache.targets().dim(), t.dim());
        }
    }

    /// Products and the chunk loss on the shared rows have the same bits as
    /// on a cache of copies, with the chunk's forward pass run afresh or
    /// taken from a remembered full pass.
    #[test]
    fn shared_rows_give_the_same_bits_as_copies() {
        for autoencoder in [true, false] {
            let (spec, data) = problem(autoencoder);
            let theta = initial_params(&spec, Init::default(), 2).expect("init");
            let v: Vec<f32> = (0..theta.len()).map(|i| (i as f32 * 0.37).sin()).collect();
            let chunk = Chunk { start: 5, len: 30 };
            for kind in KINDS {
                let x = data.input_rows(5, 30).to_owned();
                let t = data.target_rows(5, 30).to_owned();
                let copied = ChunkCache::new(&spec, &theta, x, t, kind);
                let mut want = vec![0.0f32; theta.len()];
                product(&spec, &theta, &copied, &v, &mut want);
                let want_loss = copied.loss(&spec).loss_sum / 30.0;
                for remembered in [false, true] {
                    let mut backend =
                        CpuBackend::new(spec.clone(), data.clone(), None, 0).expect("backend");
                    if remembered {
                        backend
                            .evaluate(&theta, Split::Train, None, None)
                            .expect("pass");
                    }
                    backend.set_chunk(&theta, chunk, kind).expect("chunk");
                    let mut got = vec![0.0f32; theta.len()];
                    backend.curvature_product(&v, &mut got).expect("product");
                    let bits = |p: &[f32]| p.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&got), bits(&want), "{kind:?}, remembered {remembered}");
                    let loss = backend.chunk_loss(&theta).expect("loss");
                    assert_eq!(loss.to_bits(), want_loss.to_bits());
                }
            }
        }
    }
}

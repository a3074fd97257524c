//! The per-operation benchmark problem and its three timed operations,
//! included with `#[path]` by `benches/ops.rs` and `examples/compare.rs`
//! (`compare ops`), so that both time the same nets, data, parameters and
//! operations and their tables can be set side by side
//! (`benches/compare/report.py`).

use hessfree::curvature::{
    accumulate_gradient, curvature_product, forward, output_delta, ChunkCache,
};
use hessfree::hf::CurvatureKind;
use hessfree::net::{initial_params, Activation, Init, NetSpec};
use hessfree::rng::Rng;
use ndarray::Array2;

/// A logistic autoencoder at its sparse initialisation (seed 1), a chunk of
/// uniform random inputs and a random direction for G·v (both seed 2).
pub struct OpProblem {
    pub spec: NetSpec,
    pub theta: Vec<f32>,
    pub x: Array2<f32>,
    pub v: Vec<f32>,
}

impl OpProblem {
    /// The autoencoder with `encoder` sizes (the decoder mirrors them) on a
    /// chunk of `n` examples.
    pub fn new(encoder: &[usize], n: usize) -> Result<Self, String> {
        let spec =
            NetSpec::autoencoder(encoder, Activation::Logistic).map_err(|e| e.to_string())?;
        let theta = initial_params(&spec, Init::default(), 1).map_err(|e| e.to_string())?;
        let mut rng = Rng::new(2);
        let x = Array2::from_shape_fn((n, spec.input_dim()), |_| rng.uniform() as f32);
        let v: Vec<f32> = (0..spec.num_params())
            .map(|_| rng.normal() as f32 * 0.01)
            .collect();
        Ok(OpProblem { spec, theta, x, v })
    }

    /// The Gauss-Newton cache of the chunk (its activations), as the
    /// curvature products of a session use it.
    pub fn cache(&self) -> ChunkCache<f32> {
        ChunkCache::new(
            &self.spec,
            &self.theta,
            self.x.clone(),
            self.x.clone(),
            CurvatureKind::GaussNewton,
        )
    }

    /// Forward, gradient (forward + backward) and G·v on cached activations,
    /// in that order, each as (what `time` measured of it, its FLOPs). The
    /// cache is built only after the first two are timed, as a session does.
    pub fn time_ops<T>(&self, mut time: impl FnMut(&mut dyn FnMut()) -> T) -> [(T, f64); 3] {
        let (spec, theta, x) = (&self.spec, &self.theta, &self.x);
        let n = x.nrows();
        let fwd_flop = 2.0 * n as f64 * spec.macs_per_example() as f64;
        // Each pass hands its activations back for the next one's outputs,
        // as the library's own passes do (`Activations::recycle`).
        let t_fwd = time(&mut || {
            std::hint::black_box(forward(spec, theta, x.view())).recycle();
        });
        let mut grad = vec![0.0f32; spec.num_params()];
        let t_grad = time(&mut || {
            let acts = forward(spec, theta, x.view());
            let d = output_delta(spec.loss(), acts.output(), &x.view());
            grad.fill(0.0);
            accumulate_gradient(
                spec,
                theta,
                x.view(),
                &acts,
                d,
                1.0 / n as f32,
                &mut grad,
                None,
            );
            acts.recycle();
        });
        let cache = self.cache();
        let mut out = vec![0.0f32; spec.num_params()];
        let t_gv = time(&mut || curvature_product(spec, theta, &cache, &self.v, &mut out));
        [
            (t_fwd, fwd_flop),
            (t_grad, 3.0 * fwd_flop),
            (t_gv, 4.0 * fwd_flop),
        ]
    }
}

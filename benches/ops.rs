//! Per-operation CPU benchmark: forward, gradient and G·v on the paper's
//! autoencoders at their curvature chunk sizes, each beside the time of the
//! same GEMMs alone, measured in the same run.
//!
//! Run: `cargo bench --bench ops` (optionally `-- mnist` or `-- curves`).
//! Threads: matrixmultiply reads `MATRIXMULTIPLY_THREADS` (default here: all cores).

use std::time::Instant;

use hessfree::curvature::{
    accumulate_gradient, curvature_product, forward, output_delta, ChunkCache,
};
use hessfree::hf::CurvatureKind;
use hessfree::net::{initial_params, Activation, Init, NetSpec};
use hessfree::rng::Rng;
use ndarray::linalg::general_mat_mul;
use ndarray::Array2;

/// Median wall time in milliseconds of `reps` runs after one warm-up.
fn time_ms(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut times: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(|a, b| a.total_cmp(b));
    times[times.len() / 2]
}

/// Preallocated operands for the GEMMs of each operation.
struct Gemms {
    acts: Vec<Array2<f32>>, // acts[0] = input, acts[l] = layer l output
    weights: Vec<Array2<f32>>,
    grads: Vec<Array2<f32>>,
    deltas: Vec<Array2<f32>>, // per layer output width
    back: Vec<Array2<f32>>,   // per layer input width
}

impl Gemms {
    fn new(spec: &NetSpec, n: usize) -> Self {
        let sizes = spec.sizes();
        let mut rng = Rng::new(5);
        let mut rand = |r: usize, c: usize| Array2::from_shape_fn((r, c), |_| rng.uniform() as f32);
        Gemms {
            acts: sizes.iter().map(|&d| rand(n, d)).collect(),
            weights: sizes.windows(2).map(|w| rand(w[0], w[1])).collect(),
            grads: sizes.windows(2).map(|w| rand(w[0], w[1])).collect(),
            deltas: sizes[1..].iter().map(|&d| rand(n, d)).collect(),
            back: sizes[..sizes.len() - 1]
                .iter()
                .map(|&d| rand(n, d))
                .collect(),
        }
    }
    /// z_l = a_{l−1}·W_l for every layer.
    fn forward(&mut self) {
        for l in 0..self.weights.len() {
            let (lo, hi) = self.acts.split_at_mut(l + 1);
            general_mat_mul(1.0, &lo[l], &self.weights[l], 0.0, &mut hi[0]);
        }
    }
    /// gW_l = a_{l−1}ᵀ·d_l for every layer and d_{l−1} = d_l·W_lᵀ for l > 1.
    fn backward(&mut self) {
        for l in (0..self.weights.len()).rev() {
            general_mat_mul(
                1.0,
                &self.acts[l].t(),
                &self.deltas[l],
                0.0,
                &mut self.grads[l],
            );
            if l > 0 {
                general_mat_mul(
                    1.0,
                    &self.deltas[l],
                    &self.weights[l].t(),
                    0.0,
                    &mut self.back[l],
                );
            }
        }
    }
    /// The R-forward pass: r_l = a_{l−1}·V_l (+ r_{l−1}·W_l for l > 1).
    fn r_forward(&mut self) {
        for l in 0..self.weights.len() {
            general_mat_mul(1.0, &self.acts[l], &self.grads[l], 0.0, &mut self.deltas[l]);
            if l > 0 {
                general_mat_mul(
                    1.0,
                    &self.back[l],
                    &self.weights[l],
                    1.0,
                    &mut self.deltas[l],
                );
            }
        }
    }
}

fn bench(name: &str, encoder: &[usize], n: usize) {
    let spec = NetSpec::autoencoder(encoder, Activation::Logistic).unwrap();
    let theta = initial_params(&spec, Init::default(), 1).unwrap();
    let mut rng = Rng::new(2);
    let x = Array2::from_shape_fn((n, spec.input_dim()), |_| rng.uniform() as f32);
    let v: Vec<f32> = (0..spec.num_params())
        .map(|_| rng.normal() as f32 * 0.01)
        .collect();
    let fwd_flop = 2.0 * n as f64 * spec.macs_per_example() as f64;
    let reps = 5;

    let t_fwd = time_ms(reps, || {
        std::hint::black_box(forward(&spec, &theta, x.view()));
    });
    let mut grad = vec![0.0f32; spec.num_params()];
    let t_grad = time_ms(reps, || {
        let acts = forward(&spec, &theta, x.view());
        let d = output_delta(spec.loss(), acts.output(), &x.view());
        grad.fill(0.0);
        accumulate_gradient(
            &spec,
            &theta,
            x.view(),
            &acts,
            d,
            1.0 / n as f32,
            &mut grad,
            None,
        );
    });
    let cache = ChunkCache::new(
        &spec,
        &theta,
        x.clone(),
        x.clone(),
        CurvatureKind::GaussNewton,
    );
    let mut out = vec![0.0f32; spec.num_params()];
    let t_gv = time_ms(reps, || {
        curvature_product(&spec, &theta, &cache, &v, &mut out)
    });

    let mut g = Gemms::new(&spec, n);
    let g_fwd = time_ms(reps, || g.forward());
    let g_grad = time_ms(reps, || {
        g.forward();
        g.backward()
    });
    let g_gv = time_ms(reps, || {
        g.r_forward();
        g.backward()
    });

    println!(
        "\n## {name} autoencoder {}, chunk {n}, {} parameters",
        spec.describe(),
        spec.num_params()
    );
    println!("| operation | time (ms) | GEMMs alone (ms) | ratio | GFLOP/s (effective) |");
    println!("|---|---|---|---|---|");
    for (op, t, tg, flop) in [
        ("forward", t_fwd, g_fwd, fwd_flop),
        (
            "gradient (forward + backward)",
            t_grad,
            g_grad,
            3.0 * fwd_flop,
        ),
        ("G·v (cached activations)", t_gv, g_gv, 4.0 * fwd_flop),
    ] {
        println!(
            "| {op} | {t:.1} | {tg:.1} | {:.2} | {:.1} |",
            t / tg,
            flop / t / 1e6
        );
    }
}

fn main() {
    let which: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let want = |n: &str| which.is_empty() || which.iter().any(|w| w == n);
    println!(
        "hessfree CPU per-operation benchmark ({} threads via MATRIXMULTIPLY_THREADS={})",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        std::env::var("MATRIXMULTIPLY_THREADS").unwrap_or_else(|_| "unset".into())
    );
    if want("curves") {
        bench("CURVES", &[784, 400, 200, 100, 50, 25, 6], 5000);
    }
    if want("mnist") {
        bench("MNIST", &[784, 1000, 500, 250, 30], 7500);
    }
}

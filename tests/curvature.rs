//! Derivative checks of the network kernels in f64 on small networks, for
//! every activation and every loss.

use hessfree::curvature::{
    batch_gradient, curvature_product, fd_gradient_check, fd_hessian_vector, forward, ChunkCache,
};
use hessfree::hf::CurvatureKind;
use hessfree::net::{initial_params, Activation, Init, Loss, NetSpec};
use hessfree::rng::Rng;
use ndarray::Array2;

/// The small networks every check runs on: each hidden activation with each
/// output (and so each loss).
fn small_nets() -> Vec<NetSpec> {
    let mut nets = Vec::new();
    for hidden in [
        Activation::Logistic,
        Activation::Tanh,
        Activation::Relu,
        Activation::Linear,
    ] {
        for output in [
            Activation::Logistic,
            Activation::Linear,
            Activation::Softmax,
        ] {
            nets.push(
                NetSpec::new(
                    vec![4, 5, 3, 4],
                    vec![hidden, Activation::Tanh.max_if(hidden), output],
                )
                .unwrap(),
            );
        }
    }
    nets
}

/// Picks the second hidden activation so that every kind appears in both positions.
trait MaxIf {
    fn max_if(self, other: Activation) -> Activation;
}
impl MaxIf for Activation {
    fn max_if(self, other: Activation) -> Activation {
        if other == Activation::Tanh {
            Activation::Logistic
        } else {
            self
        }
    }
}

fn random_matrix(rng: &mut Rng, n: usize, d: usize, lo: f64, hi: f64) -> Array2<f64> {
    Array2::from_shape_fn((n, d), |_| rng.uniform_range(lo, hi))
}

/// Random inputs and valid targets for the net's loss.
fn problem(spec: &NetSpec, n: usize, seed: u64) -> (Vec<f64>, Array2<f64>, Array2<f64>) {
    let mut rng = Rng::new(seed);
    let theta: Vec<f64> = initial_params(spec, Init::Dense { scale: 1.5 }, seed)
        .unwrap()
        .iter()
        .map(|&w| w as f64 + 0.1 * rng.normal())
        .collect();
    let x = random_matrix(&mut rng, n, spec.input_dim(), -1.0, 1.0);
    let mut t = random_matrix(&mut rng, n, spec.output_dim(), 0.05, 0.95);
    if spec.loss() == Loss::SoftmaxCrossEntropy {
        for mut row in t.rows_mut() {
            let s = row.sum();
            row.mapv_inplace(|v| v / s);
        }
    }
    (theta, x, t)
}

fn random_vec(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    (0..n).map(|_| rng.normal()).collect()
}

fn rel_err(a: &[f64], b: &[f64]) -> f64 {
    let diff: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).powi(2))
        .sum::<f64>()
        .sqrt();
    let scale: f64 = b.iter().map(|y| y * y).sum::<f64>().sqrt().max(1e-12);
    diff / scale
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn product(
    spec: &NetSpec,
    theta: &[f64],
    x: &Array2<f64>,
    t: &Array2<f64>,
    kind: CurvatureKind,
    v: &[f64],
) -> Vec<f64> {
    let cache = ChunkCache::new(spec, theta, x.clone(), t.clone(), kind);
    let mut out = vec![0.0; v.len()];
    curvature_product(spec, theta, &cache, v, &mut out);
    out
}

#[test]
fn gradient_matches_central_differences() {
    for spec in small_nets() {
        let (theta, x, t) = problem(&spec, 7, 1);
        let (_, g) = batch_gradient(&spec, &theta, x.view(), t.view());
        let fd = fd_gradient_check(&spec, &theta, x.view(), t.view(), 1e-5);
        let e = rel_err(&g, &fd);
        assert!(
            e < 1e-6,
            "{}: gradient relative error {e:e}",
            spec.describe()
        );
    }
}

/// The Jacobian of the output pre-activations of example `n` with respect
/// to θ, by central differences (independent of the R-op code).
fn output_jacobian(spec: &NetSpec, theta: &[f64], x: &Array2<f64>, n: usize) -> Array2<f64> {
    let row = x.slice(ndarray::s![n..n + 1, ..]).to_owned();
    let h = 1e-6;
    let mut j = Array2::zeros((spec.output_dim(), theta.len()));
    let mut th = theta.to_vec();
    for i in 0..theta.len() {
        let orig = th[i];
        th[i] = orig + h;
        let up = forward(spec, &th, row.view()).output_z;
        th[i] = orig - h;
        let down = forward(spec, &th, row.view()).output_z;
        th[i] = orig;
        for k in 0..spec.output_dim() {
            j[[k, i]] = (up[[0, k]] - down[[0, k]]) / (2.0 * h);
        }
    }
    j
}

/// The Hessian of the loss with respect to the output pre-activations, from
/// its closed form for each matched loss.
fn loss_hessian(loss: Loss, y: &[f64], t: &[f64]) -> Array2<f64> {
    let d = y.len();
    let mut h = Array2::zeros((d, d));
    match loss {
        Loss::CrossEntropy => (0..d).for_each(|i| h[[i, i]] = y[i] * (1.0 - y[i])),
        Loss::SquaredError => (0..d).for_each(|i| h[[i, i]] = 2.0),
        Loss::SoftmaxCrossEntropy => {
            let s: f64 = t.iter().sum();
            for i in 0..d {
                for k in 0..d {
                    h[[i, k]] = s * (if i == k { y[i] } else { 0.0 } - y[i] * y[k]);
                }
            }
        }
    }
    h
}

#[test]
fn gauss_newton_product_equals_explicit_jt_hl_j() {
    for spec in small_nets() {
        let (theta, x, t) = problem(&spec, 5, 2);
        let p = theta.len();
        let y = forward(&spec, &theta, x.view()).output().clone();
        let mut g = Array2::<f64>::zeros((p, p));
        for n in 0..x.nrows() {
            let j = output_jacobian(&spec, &theta, &x, n);
            let hl = loss_hessian(
                spec.loss(),
                y.row(n).as_slice().unwrap(),
                t.row(n).as_slice().unwrap(),
            );
            g = g + j.t().dot(&hl).dot(&j);
        }
        g /= x.nrows() as f64;
        let v = random_vec(p, 3);
        let explicit = g.dot(&ndarray::Array1::from(v.clone())).to_vec();
        let gv = product(&spec, &theta, &x, &t, CurvatureKind::GaussNewton, &v);
        let e = rel_err(&gv, &explicit);
        assert!(e < 1e-7, "{}: G·v relative error {e:e}", spec.describe());
    }
}

#[test]
fn hessian_product_equals_finite_differences_of_gradient() {
    for spec in small_nets() {
        let (theta, x, t) = problem(&spec, 6, 4);
        let v = random_vec(theta.len(), 5);
        let hv = product(&spec, &theta, &x, &t, CurvatureKind::Hessian, &v);
        let fd = fd_hessian_vector(&spec, &theta, x.view(), t.view(), &v, 1e-5);
        let e = rel_err(&hv, &fd);
        assert!(e < 1e-6, "{}: H·v relative error {e:e}", spec.describe());
    }
}

#[test]
fn fisher_product_equals_explicit_empirical_fisher() {
    for spec in small_nets() {
        let (theta, x, t) = problem(&spec, 6, 6);
        let p = theta.len();
        let mut f = Array2::<f64>::zeros((p, p));
        for n in 0..x.nrows() {
            let xr = x.slice(ndarray::s![n..n + 1, ..]);
            let tr = t.slice(ndarray::s![n..n + 1, ..]);
            let (_, g) = batch_gradient(&spec, &theta, xr, tr);
            let g = ndarray::Array1::from(g);
            f += &g
                .view()
                .insert_axis(ndarray::Axis(1))
                .dot(&g.view().insert_axis(ndarray::Axis(0)));
        }
        f /= x.nrows() as f64;
        let v = random_vec(p, 7);
        let explicit = f.dot(&ndarray::Array1::from(v.clone())).to_vec();
        let fv = product(&spec, &theta, &x, &t, CurvatureKind::EmpiricalFisher, &v);
        let e = rel_err(&fv, &explicit);
        assert!(e < 1e-10, "{}: F·v relative error {e:e}", spec.describe());
    }
}

#[test]
fn gauss_newton_is_symmetric_and_positive_semidefinite() {
    for spec in small_nets() {
        let (theta, x, t) = problem(&spec, 8, 8);
        for trial in 0..5 {
            let u = random_vec(theta.len(), 100 + trial);
            let v = random_vec(theta.len(), 200 + trial);
            let gu = product(&spec, &theta, &x, &t, CurvatureKind::GaussNewton, &u);
            let gv = product(&spec, &theta, &x, &t, CurvatureKind::GaussNewton, &v);
            let (ugv, vgu) = (dot(&u, &gv), dot(&v, &gu));
            assert!(
                (ugv - vgu).abs() <= 1e-10 * (1.0 + ugv.abs()),
                "{}: uᵀGv {ugv} ≠ vᵀGu {vgu}",
                spec.describe()
            );
            let vgv = dot(&v, &gv);
            assert!(vgv >= -1e-12, "{}: vᵀGv = {vgv} < 0", spec.describe());
        }
    }
}

#[test]
fn gauss_newton_equals_hessian_at_zero_residual() {
    for spec in small_nets() {
        let (theta, x, _) = problem(&spec, 6, 9);
        // Targets equal to the outputs make ∂ℓ/∂z vanish for every matched loss.
        let t = forward(&spec, &theta, x.view()).output().clone();
        let v = random_vec(theta.len(), 10);
        let gv = product(&spec, &theta, &x, &t, CurvatureKind::GaussNewton, &v);
        let hv = product(&spec, &theta, &x, &t, CurvatureKind::Hessian, &v);
        let e = rel_err(&hv, &gv);
        assert!(
            e < 1e-12,
            "{}: G·v and H·v differ by {e:e} at zero residual",
            spec.describe()
        );
        // …and differ away from it, so the comparison above is not vacuous.
        let (_, _, t_far) = problem(&spec, 6, 9);
        let gv = product(&spec, &theta, &x, &t_far, CurvatureKind::GaussNewton, &v);
        let hv = product(&spec, &theta, &x, &t_far, CurvatureKind::Hessian, &v);
        let nonlinear = spec.activations()[..2]
            .iter()
            .any(|&a| a != Activation::Linear && a != Activation::Relu);
        if nonlinear {
            assert!(
                rel_err(&hv, &gv) > 1e-6,
                "{}: H = G away from zero residual?",
                spec.describe()
            );
        }
    }
}

#[test]
fn chunked_gradient_equals_unchunked() {
    use hessfree::curvature::{accumulate_gradient, output_delta};
    for spec in small_nets() {
        let (theta, x, t) = problem(&spec, 10, 11);
        let (_, whole) = batch_gradient(&spec, &theta, x.view(), t.view());
        let mut chunked = vec![0.0; theta.len()];
        for (start, len) in [(0, 3), (3, 3), (6, 4)] {
            let xc = x.slice(ndarray::s![start..start + len, ..]);
            let tc = t.slice(ndarray::s![start..start + len, ..]);
            let acts = forward(&spec, &theta, xc);
            let delta = output_delta(spec.loss(), acts.output(), &tc);
            accumulate_gradient(
                &spec,
                &theta,
                xc,
                &acts,
                delta,
                1.0 / 10.0,
                &mut chunked,
                None,
            );
        }
        let e = rel_err(&chunked, &whole);
        assert!(
            e < 1e-14,
            "{}: chunked gradient differs by {e:e}",
            spec.describe()
        );
    }
}

#[test]
fn squared_gradient_statistic_equals_mean_of_per_example_squares() {
    use hessfree::curvature::{accumulate_gradient, output_delta};
    for spec in small_nets() {
        let (theta, x, t) = problem(&spec, 6, 12);
        let mut expected = vec![0.0; theta.len()];
        for n in 0..x.nrows() {
            let (_, g) = batch_gradient(
                &spec,
                &theta,
                x.slice(ndarray::s![n..n + 1, ..]),
                t.slice(ndarray::s![n..n + 1, ..]),
            );
            for (e, gi) in expected.iter_mut().zip(g) {
                *e += gi * gi / x.nrows() as f64;
            }
        }
        let acts = forward(&spec, &theta, x.view());
        let delta = output_delta(spec.loss(), acts.output(), &t.view());
        let mut grad = vec![0.0; theta.len()];
        let mut stat = vec![0.0; theta.len()];
        accumulate_gradient(
            &spec,
            &theta,
            x.view(),
            &acts,
            delta,
            1.0 / 6.0,
            &mut grad,
            Some(&mut stat),
        );
        let e = rel_err(&stat, &expected);
        assert!(
            e < 1e-12,
            "{}: squared-gradient statistic off by {e:e}",
            spec.describe()
        );
    }
}

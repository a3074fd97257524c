//! First-order baselines (SGD with momentum, Nesterov, Adam): they reach the
//! known minimum of a least-squares problem, are bit-identical per seed, stop
//! cleanly at NaN/Inf, and the network objective's minibatch gradients are
//! consistent with its full-batch gradient.

use hessfree::data::curves;
use hessfree::firstorder::{
    FirstOrder, FirstOrderConfig, Method, MinibatchObjective, NonFiniteWhat, Termination,
};
use hessfree::hf::{Chunk, Control, CurvatureKind, HfConfig, Objective};
use hessfree::net::{initial_params, Activation, Init, NetObjective, NetSpec};
use hessfree::rng::Rng;
use hessfree::{Error, Result};

/// Linear least squares `f(θ) = (1/2N)·Σ (x_iᵀθ − y_i)²` in f64 arithmetic,
/// with columns of very different scales (so the problem is ill-conditioned).
/// Optionally returns NaN from the `nan_at`-th minibatch call (1-based).
struct LeastSquares {
    n: usize,
    d: usize,
    x: Vec<f64>,
    y: Vec<f64>,
    minibatch_calls: u64,
    nan_at: Option<u64>,
    chunk: Option<Chunk>,
}

impl LeastSquares {
    fn new(n: usize, d: usize, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let scales: Vec<f64> = (0..d).map(|j| 1.0 / (1.0 + j as f64)).collect();
        let w_true: Vec<f64> = (0..d).map(|j| 1.0 - 0.5 * j as f64).collect();
        let mut x = Vec::with_capacity(n * d);
        let mut y = Vec::with_capacity(n);
        for _ in 0..n {
            let row: Vec<f64> = scales.iter().map(|s| s * rng.normal()).collect();
            let clean: f64 = row.iter().zip(&w_true).map(|(a, b)| a * b).sum();
            y.push(clean + 0.1 * rng.normal());
            x.extend(row);
        }
        LeastSquares {
            n,
            d,
            x,
            y,
            minibatch_calls: 0,
            nan_at: None,
            chunk: None,
        }
    }

    fn residual(&self, theta: &[f32], i: usize) -> f64 {
        let row = &self.x[i * self.d..(i + 1) * self.d];
        row.iter().zip(theta).map(|(a, &t)| a * t as f64).sum::<f64>() - self.y[i]
    }

    fn loss_on(&self, theta: &[f32], start: usize, len: usize) -> f64 {
        (start..start + len)
            .map(|i| 0.5 * self.residual(theta, i).powi(2))
            .sum::<f64>()
            / len as f64
    }

    fn gradient_on(&self, theta: &[f32], start: usize, len: usize, grad: &mut [f32]) {
        let mut g = vec![0.0f64; self.d];
        for i in start..start + len {
            let r = self.residual(theta, i);
            for (gj, xj) in g.iter_mut().zip(&self.x[i * self.d..(i + 1) * self.d]) {
                *gj += r * xj;
            }
        }
        for (out, gj) in grad.iter_mut().zip(g) {
            *out = (gj / len as f64) as f32;
        }
    }

    /// The exact minimiser, from the normal equations XᵀXθ = Xᵀy
    /// (Gaussian elimination with partial pivoting, f64).
    fn minimiser(&self) -> Vec<f64> {
        let d = self.d;
        let mut a = vec![vec![0.0f64; d + 1]; d];
        for i in 0..self.n {
            let row = &self.x[i * d..(i + 1) * d];
            for j in 0..d {
                for k in 0..d {
                    a[j][k] += row[j] * row[k];
                }
                a[j][d] += row[j] * self.y[i];
            }
        }
        for col in 0..d {
            let pivot = (col..d)
                .max_by(|&p, &q| a[p][col].abs().total_cmp(&a[q][col].abs()))
                .unwrap();
            a.swap(col, pivot);
            for r in 0..d {
                if r != col {
                    let factor = a[r][col] / a[col][col];
                    for k in col..=d {
                        a[r][k] -= factor * a[col][k];
                    }
                }
            }
        }
        (0..d).map(|j| a[j][d] / a[j][j]).collect()
    }

    fn min_loss(&self) -> f64 {
        let w: Vec<f32> = self.minimiser().iter().map(|&v| v as f32).collect();
        self.loss_on(&w, 0, self.n)
    }
}

impl Objective for LeastSquares {
    fn num_params(&self) -> usize {
        self.d
    }
    fn num_examples(&self) -> usize {
        self.n
    }
    fn supports_curvature(&self, kind: CurvatureKind) -> bool {
        kind == CurvatureKind::GaussNewton
    }
    fn loss(&mut self, theta: &[f32]) -> Result<f64> {
        Ok(self.loss_on(theta, 0, self.n))
    }
    fn loss_and_gradient(
        &mut self,
        theta: &[f32],
        grad: &mut [f32],
        _precond_stat: Option<&mut [f32]>,
    ) -> Result<f64> {
        self.gradient_on(theta, 0, self.n, grad);
        Ok(self.loss_on(theta, 0, self.n))
    }
    fn set_curvature_chunk(
        &mut self,
        _theta: &[f32],
        chunk: Chunk,
        _kind: CurvatureKind,
    ) -> Result<()> {
        self.chunk = Some(chunk);
        Ok(())
    }
    fn curvature_product(&mut self, v: &[f32], out: &mut [f32]) -> Result<()> {
        let c = self.chunk.ok_or_else(|| Error::invalid("no chunk set"))?;
        let mut acc = vec![0.0f64; self.d];
        for i in c.start..c.start + c.len {
            let row = &self.x[i * self.d..(i + 1) * self.d];
            let xv: f64 = row.iter().zip(v).map(|(a, &b)| a * b as f64).sum();
            for (o, a) in acc.iter_mut().zip(row) {
                *o += xv * a;
            }
        }
        for (o, a) in out.iter_mut().zip(acc) {
            *o = (a / c.len as f64) as f32;
        }
        Ok(())
    }
    fn chunk_loss(&mut self, theta: &[f32]) -> Result<f64> {
        let c = self.chunk.ok_or_else(|| Error::invalid("no chunk set"))?;
        Ok(self.loss_on(theta, c.start, c.len))
    }
}

impl MinibatchObjective for LeastSquares {
    fn minibatch_loss_and_gradient(
        &mut self,
        theta: &[f32],
        start: usize,
        len: usize,
        grad: &mut [f32],
    ) -> Result<f64> {
        self.minibatch_calls += 1;
        if self.nan_at == Some(self.minibatch_calls) {
            grad.fill(f32::NAN);
            return Ok(f64::NAN);
        }
        self.gradient_on(theta, start, len, grad);
        Ok(self.loss_on(theta, start, len))
    }
}

const N: usize = 200;
const D: usize = 4;

fn run(config: FirstOrderConfig, problem: LeastSquares) -> (Vec<f32>, f64, Vec<f64>) {
    let mut opt = FirstOrder::new(problem, &[0.0; D], config).unwrap();
    let mut objectives = Vec::new();
    let summary = opt
        .run(|r| {
            objectives.push(r.objective);
            Control::Continue
        })
        .unwrap();
    eprintln!("{}", summary.brief());
    assert!(summary.non_finite.is_none(), "{}", summary.brief());
    (opt.theta().to_vec(), summary.final_objective, objectives)
}

#[test]
fn full_batch_momentum_reaches_the_least_squares_minimum() {
    let problem = LeastSquares::new(N, D, 1);
    let w = problem.minimiser();
    let f_min = problem.min_loss();
    let config = FirstOrderConfig {
        learning_rate: 0.5,
        batch_size: N,
        max_epochs: 600,
        ..FirstOrderConfig::sgd()
    };
    let (theta, f, _) = run(config, problem);
    eprintln!("momentum: f = {f:.12}, minimum {f_min:.12}, theta {theta:?}, w {w:?}");
    assert!(f - f_min < 1e-9, "f = {f}, minimum {f_min}");
    for (t, w) in theta.iter().zip(&w) {
        assert!((*t as f64 - w).abs() < 1e-3, "theta {theta:?} vs {w:?}");
    }
}

#[test]
fn minibatch_sgd_nesterov_and_adam_get_close_to_the_minimum() {
    let start_excess = {
        let mut p = LeastSquares::new(N, D, 1);
        p.loss(&[0.0; D]).unwrap() - p.min_loss()
    };
    let f_min = LeastSquares::new(N, D, 1).min_loss();
    let configs = [
        FirstOrderConfig {
            learning_rate: 0.05,
            batch_size: 20,
            max_epochs: 300,
            ..FirstOrderConfig::sgd()
        },
        FirstOrderConfig {
            learning_rate: 0.05,
            batch_size: 20,
            max_epochs: 300,
            ..FirstOrderConfig::nesterov()
        },
        FirstOrderConfig {
            learning_rate: 0.01,
            batch_size: 20,
            max_epochs: 300,
            ..FirstOrderConfig::adam()
        },
    ];
    for config in configs {
        let (_, f, objectives) = run(config, LeastSquares::new(N, D, 1));
        let excess = f - f_min;
        eprintln!(
            "{}: excess {excess:.3e} (start {start_excess:.3e})",
            config.method.name()
        );
        assert!(
            excess < 1e-4 * start_excess,
            "{}: f = {f}, minimum {f_min}, start excess {start_excess}",
            config.method.name()
        );
        // Progress from the first epoch on.
        assert!(objectives[0] - f_min < start_excess, "{objectives:?}");
    }
}

#[test]
fn same_seed_is_bit_identical_and_the_seed_matters() {
    for base in [FirstOrderConfig::nesterov(), FirstOrderConfig::adam()] {
        let config = |seed| FirstOrderConfig {
            learning_rate: 0.02,
            batch_size: 30,
            max_epochs: 5,
            seed,
            ..base
        };
        let (a, fa, ta) = run(config(7), LeastSquares::new(N, D, 2));
        let (b, fb, tb) = run(config(7), LeastSquares::new(N, D, 2));
        let (c, _, _) = run(config(8), LeastSquares::new(N, D, 2));
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a), bits(&b));
        assert_eq!(fa.to_bits(), fb.to_bits());
        assert_eq!(ta, tb);
        assert_ne!(bits(&a), bits(&c), "a different seed should reorder batches");
    }
}

#[test]
fn nan_gradient_stops_cleanly_with_the_last_finite_parameters() {
    let config = FirstOrderConfig {
        learning_rate: 0.05,
        batch_size: 20,
        max_epochs: 10,
        ..FirstOrderConfig::sgd()
    };
    // 10 minibatches per epoch: call 25 is the 5th step of epoch 3.
    let mut problem = LeastSquares::new(N, D, 3);
    problem.nan_at = Some(25);
    let mut opt = FirstOrder::new(problem, &[0.0; D], config).unwrap();
    let mut reports = Vec::new();
    let summary = opt
        .run(|r| {
            reports.push(*r);
            Control::Continue
        })
        .unwrap();
    eprintln!("{}", summary.brief());
    assert_eq!(summary.termination, Termination::NonFinite);
    let at = summary.non_finite.expect("the summary says where");
    assert_eq!((at.epoch, at.step, at.what), (3, 25, NonFiniteWhat::Gradient));
    assert_eq!(at.len, 20);
    assert!(summary.brief().contains("NaN/Inf"), "{}", summary.brief());
    assert_eq!(summary.steps, 24);
    assert_eq!(reports.len(), 3);
    assert_eq!(reports[2].non_finite, Some(at));
    assert!(summary.final_objective.is_finite());
    // θ is exactly that of a clean run stopped after the same 24 steps.
    let clean_config = FirstOrderConfig {
        max_passes: 2.4,
        ..config
    };
    let mut clean = FirstOrder::new(LeastSquares::new(N, D, 3), &[0.0; D], clean_config).unwrap();
    let clean_summary = clean.run(|_| Control::Continue).unwrap();
    assert_eq!(clean_summary.termination, Termination::MaxPasses);
    assert_eq!(clean_summary.steps, 24);
    assert_eq!(opt.theta(), clean.theta());
}

#[test]
fn divergence_stops_at_the_overflowing_update() {
    for base in [FirstOrderConfig::sgd(), FirstOrderConfig::nesterov()] {
        let config = FirstOrderConfig {
            learning_rate: 1e30,
            batch_size: 50,
            max_epochs: 20,
            ..base
        };
        let mut opt = FirstOrder::new(LeastSquares::new(N, D, 4), &[0.0; D], config).unwrap();
        let summary = opt.run(|_| Control::Continue).unwrap();
        eprintln!("{}", summary.brief());
        assert_eq!(summary.termination, Termination::NonFinite);
        let at = summary.non_finite.unwrap();
        assert_ne!(at.what, NonFiniteWhat::Gradient, "{}", at.text());
        assert!(opt.theta().iter().all(|t| t.is_finite()));
        assert!(summary.epochs < 20);
    }
}

#[test]
fn bad_arguments_are_errors() {
    let problem = LeastSquares::new(N, D, 5);
    let err = FirstOrder::new(problem, &[0.0; D + 1], FirstOrderConfig::sgd())
        .err()
        .unwrap();
    assert!(err.to_string().contains("theta0"), "{err}");
    let problem = LeastSquares::new(N, D, 5);
    let config = FirstOrderConfig {
        method: Method::Adam {
            beta1: 0.9,
            beta2: 1.5,
            epsilon: 1e-8,
        },
        ..FirstOrderConfig::adam()
    };
    let err = FirstOrder::new(problem, &[0.0; D], config).err().unwrap();
    assert!(err.to_string().contains("beta2"), "{err}");
}

fn tiny_net_objective() -> (NetObjective, Vec<f32>) {
    let data = curves(120, 11).unwrap();
    let spec = NetSpec::autoencoder(&[784, 20, 5], Activation::Logistic).unwrap();
    let theta = initial_params(&spec, Init::default(), 3).unwrap();
    let config = HfConfig {
        eval_chunk_size: 50, // several slices per pass and per large minibatch
        ..HfConfig::default()
    };
    let (objective, _) = NetObjective::from_config(spec, data, None, &config).unwrap();
    (objective, theta)
}

#[test]
fn net_minibatch_gradients_average_to_the_full_gradient() {
    let (mut objective, theta) = tiny_net_objective();
    let p = theta.len();
    let mut full = vec![0f32; p];
    let f = objective.loss_and_gradient(&theta, &mut full, None).unwrap();
    // The whole range is the full objective.
    let mut whole = vec![0f32; p];
    let fw = objective
        .minibatch_loss_and_gradient(&theta, 0, 120, &mut whole)
        .unwrap();
    assert!((f - fw).abs() <= 1e-12 * f.abs(), "{f} vs {fw}");
    assert_eq!(full, whole);
    // Uneven minibatches, weighted by size, average to it too.
    let mut avg = vec![0f64; p];
    let mut avg_loss = 0.0;
    for (start, len) in [(0, 70), (70, 37), (107, 13)] {
        let mut g = vec![0f32; p];
        let l = objective
            .minibatch_loss_and_gradient(&theta, start, len, &mut g)
            .unwrap();
        avg_loss += l * len as f64 / 120.0;
        for (a, gi) in avg.iter_mut().zip(&g) {
            *a += *gi as f64 * len as f64 / 120.0;
        }
    }
    assert!((avg_loss - f).abs() < 1e-5 * f.abs(), "{avg_loss} vs {f}");
    let scale = full.iter().fold(0f32, |m, g| m.max(g.abs())) as f64;
    for (i, (a, g)) in avg.iter().zip(&full).enumerate() {
        assert!(
            (a - *g as f64).abs() <= 1e-4 * scale,
            "entry {i}: {a} vs {g}"
        );
    }
    // Empty and out-of-range minibatches are errors that name the range.
    let mut g = vec![0f32; p];
    for (start, len) in [(0, 0), (100, 21), (usize::MAX, 2)] {
        let err = objective
            .minibatch_loss_and_gradient(&theta, start, len, &mut g)
            .unwrap_err();
        assert!(err.to_string().contains("example range"), "{err}");
    }
}

#[test]
fn adam_and_sgd_train_a_tiny_net() {
    for (config, name) in [
        (
            FirstOrderConfig {
                learning_rate: 3e-3,
                batch_size: 20,
                max_epochs: 15,
                ..FirstOrderConfig::adam()
            },
            "adam",
        ),
        (
            FirstOrderConfig {
                learning_rate: 0.05,
                batch_size: 20,
                max_epochs: 15,
                ..FirstOrderConfig::sgd()
            },
            "sgd",
        ),
    ] {
        let (mut objective, theta) = tiny_net_objective();
        let start = objective.train_metrics(&theta).unwrap().error.unwrap();
        let mut opt = FirstOrder::new(objective, &theta, config).unwrap();
        let summary = opt.run(|_| Control::Continue).unwrap();
        eprintln!("{name}: start error {start:.3}; {}", summary.brief());
        assert_eq!(summary.termination, Termination::MaxEpochs);
        assert!((summary.passes - 15.0).abs() < 1e-12);
        let end = summary.final_train_error.unwrap();
        assert!(end < 0.8 * start, "{name}: train error {start} -> {end}");
    }
}

//! Linear CG: exact solutions of small SPD systems, Martens' stopping rule on
//! hand-computed φ sequences, the exact backtracking grid, preconditioning,
//! and the same CG loop over a vector space with another summation order.

mod hf_common;

use hessfree::hf::cg::{
    self, iterate_grid, progress_window, relative_progress_stop, CgOptions, CgResult, CgStop,
};
use hessfree::rng::Rng;
use hessfree::Result;
use hf_common::SerialSpace;

/// A dense symmetric matrix as a CG operator (products in f64, stored f32).
struct Dense {
    n: usize,
    a: Vec<f64>,
    products: usize,
}

impl Dense {
    /// A = QᵀQ/n + shift·I with Q standard normal: SPD, modest condition number.
    fn random_spd(n: usize, shift: f64, seed: u64) -> Dense {
        let mut rng = Rng::new(seed);
        let q: Vec<f64> = (0..n * n).map(|_| rng.normal()).collect();
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                let s: f64 = (0..n).map(|k| q[k * n + i] * q[k * n + j]).sum();
                a[i * n + j] = s / n as f64 + if i == j { shift } else { 0.0 };
            }
        }
        Dense { n, a, products: 0 }
    }

    fn apply_f64(&self, v: &[f64]) -> Vec<f64> {
        (0..self.n)
            .map(|i| (0..self.n).map(|j| self.a[i * self.n + j] * v[j]).sum())
            .collect()
    }

    /// The exact solution by Gaussian elimination with partial pivoting, in f64.
    fn solve_exact(&self, b: &[f32]) -> Vec<f64> {
        let n = self.n;
        let mut m = self.a.clone();
        let mut x: Vec<f64> = b.iter().map(|&v| v as f64).collect();
        for c in 0..n {
            let p = (c..n)
                .max_by(|&i, &j| m[i * n + c].abs().total_cmp(&m[j * n + c].abs()))
                .unwrap();
            for k in 0..n {
                m.swap(c * n + k, p * n + k);
            }
            x.swap(c, p);
            for r in c + 1..n {
                let f = m[r * n + c] / m[c * n + c];
                for k in c..n {
                    m[r * n + k] -= f * m[c * n + k];
                }
                x[r] -= f * x[c];
            }
        }
        for c in (0..n).rev() {
            let s: f64 = (c + 1..n).map(|k| m[c * n + k] * x[k]).sum();
            x[c] = (x[c] - s) / m[c * n + c];
        }
        x
    }
}

impl cg::LinearOperator for Dense {
    fn apply(&mut self, v: &[f32], out: &mut [f32]) -> Result<()> {
        self.products += 1;
        let v64: Vec<f64> = v.iter().map(|&x| x as f64).collect();
        for (o, r) in out.iter_mut().zip(self.apply_f64(&v64)) {
            *o = r as f32;
        }
        Ok(())
    }
}

fn exact_opts(n: usize) -> CgOptions {
    CgOptions {
        max_iters: n,
        min_iters: n,
        epsilon: 0.0,
        keep: Vec::new(),
        ..CgOptions::default()
    }
}

fn max_rel_err(x: &[f32], exact: &[f64]) -> f64 {
    let scale = exact.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    x.iter()
        .zip(exact)
        .map(|(&a, b)| (a as f64 - b).abs())
        .fold(0.0, f64::max)
        / scale
}

#[test]
fn cg_solves_small_spd_systems_within_n_steps() {
    for (n, seed) in [(2usize, 1u64), (5, 2), (8, 3), (12, 4)] {
        let mut a = Dense::random_spd(n, 0.5, seed);
        let mut rng = Rng::new(seed + 100);
        let b: Vec<f32> = (0..n).map(|_| rng.normal() as f32).collect();
        let exact = a.solve_exact(&b);
        // From zero (no product for the initial residual) and from a warm start.
        for x0 in [vec![0.0f32; n], (0..n).map(|i| i as f32 * 0.1).collect()] {
            a.products = 0;
            let res = cg::solve(&mut a, &b, &x0, None, &exact_opts(n)).unwrap();
            assert!(res.iterations <= n, "n={n}: {} iterations", res.iterations);
            let err = max_rel_err(res.final_iterate(), &exact);
            // f32 vectors with f64 scalars: relative error well below 1e-4.
            assert!(err < 1e-4, "n={n}: relative error {err:e} ({:?})", res.stop);
            let warm = usize::from(x0.iter().any(|&v| v != 0.0));
            assert_eq!(res.products, res.iterations + warm);
            assert_eq!(a.products, res.products);
            // φ decreases monotonically (up to f32 round-off at convergence).
            for w in res.phi.windows(2) {
                assert!(
                    w[1] <= w[0] + 1e-6 * w[0].abs().max(1.0),
                    "phi rose: {:?}",
                    res.phi
                );
            }
        }
    }
}

#[test]
fn cg_with_preconditioner_also_solves_exactly() {
    let n = 8;
    let mut a = Dense::random_spd(n, 0.5, 9);
    let b: Vec<f32> = (0..n).map(|i| (i as f32 - 3.5) * 0.3).collect();
    let exact = a.solve_exact(&b);
    let m: Vec<f32> = (0..n).map(|i| a.a[i * n + i] as f32).collect();
    let res = cg::solve(&mut a, &b, &vec![0.0; n], Some(&m), &exact_opts(n)).unwrap();
    let err = max_rel_err(res.final_iterate(), &exact);
    assert!(err < 1e-4, "relative error {err:e}");
}

#[test]
fn phi_matches_its_definition() {
    let n = 6;
    let mut a = Dense::random_spd(n, 1.0, 5);
    let b: Vec<f32> = (0..n).map(|i| 1.0 - i as f32 * 0.2).collect();
    let x0: Vec<f32> = vec![0.3; n];
    let opts = CgOptions {
        keep: (1..=n).collect(),
        ..exact_opts(n)
    };
    let res = cg::solve(&mut a, &b, &x0, None, &opts).unwrap();
    for (i, x) in &res.iterates {
        let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
        let ax = a.apply_f64(&x64);
        let phi: f64 = 0.5 * x64.iter().zip(&ax).map(|(p, q)| p * q).sum::<f64>()
            - x64.iter().zip(&b).map(|(p, &q)| p * q as f64).sum::<f64>();
        let tracked = res.phi[*i];
        assert!(
            (phi - tracked).abs() < 1e-5 * phi.abs().max(1.0),
            "i={i}: phi {phi} tracked {tracked}"
        );
    }
}

/// φ_i = −1 + 0.7^i. With k = 10 and ε = 5e-4 the rule needs
/// 0.7^(i−10)·(1 − 0.7^10)/(1 − 0.7^i) < 5e-3: false at i = 24
/// (0.7^14·0.97175 = 6.59e-3), true at i = 25 (0.7^15·0.97175 = 4.61e-3).
#[test]
fn stopping_rule_fires_where_hand_computation_says() {
    let phi: Vec<f64> = (0..40).map(|i| -1.0 + 0.7f64.powi(i)).collect();
    let first = (1..40).find(|&i| relative_progress_stop(i, &phi, 10, 0.1, 5e-4));
    assert_eq!(first, Some(25));
    // Never while φ ≥ 0, never before i > k.
    let positive: Vec<f64> = (0..40).map(|i| 1.0 + 0.7f64.powi(i)).collect();
    assert!((1..40).all(|i| !relative_progress_stop(i, &positive, 10, 0.1, 5e-4)));
    let flat = vec![-1.0; 40];
    assert!(!relative_progress_stop(10, &flat, 10, 0.1, 5e-4));
    assert!(relative_progress_stop(11, &flat, 10, 0.1, 5e-4));
}

/// Past i = 100 the window grows: at i = 150, k = 15, and the rule compares
/// φ_150 with φ_135 against 15·ε.
#[test]
fn stopping_rule_uses_growing_window() {
    assert_eq!(progress_window(100, 10, 0.1), 10);
    assert_eq!(progress_window(101, 10, 0.1), 11);
    assert_eq!(progress_window(110, 10, 0.1), 11);
    assert_eq!(progress_window(150, 10, 0.1), 15);
    // Linear φ_i = −i: (φ_i − φ_{i−k})/φ_i = k/i; stop when k/i < k·ε, i.e. i > 1/ε.
    let phi: Vec<f64> = (0..3000).map(|i| -(i as f64)).collect();
    let first = (1..3000).find(|&i| relative_progress_stop(i, &phi, 10, 0.1, 5e-4));
    assert_eq!(first, Some(2001));
    // A sequence where only a k=15 window (not k=10) sees enough progress.
    let mut phi = vec![-1.0f64; 151];
    phi[135] = -0.9; // φ_150 − φ_135 = −0.1 → ratio 0.1 ≥ 15·5e-4: no stop.
    assert!(!relative_progress_stop(150, &phi, 10, 0.1, 5e-4));
    phi[135] = -1.0;
    phi[140] = -0.9; // only inside a k=10 window: the k=15 rule sees no progress.
    assert!(relative_progress_stop(150, &phi, 10, 0.1, 5e-4));
}

#[test]
fn solver_stops_at_the_rules_first_firing() {
    // An ill-conditioned diagonal system so CG runs many iterations.
    let n = 200;
    let diag: Vec<f64> = (0..n)
        .map(|i| 1.0 + 1e3 * (i as f64 / n as f64).powi(3))
        .collect();
    let mut op = |v: &[f32], out: &mut [f32]| -> Result<()> {
        for ((o, &x), d) in out.iter_mut().zip(v).zip(&diag) {
            *o = (x as f64 * d) as f32;
        }
        Ok(())
    };
    let b = vec![1.0f32; n];
    let opts = CgOptions {
        max_iters: 250,
        ..CgOptions::default()
    };
    let res = cg::solve(&mut op, &b, &vec![0.0; n], None, &opts).unwrap();
    assert_eq!(res.stop, CgStop::RelativeProgress);
    let first = (1..=res.iterations).find(|&i| relative_progress_stop(i, &res.phi, 10, 0.1, 5e-4));
    assert_eq!(first, Some(res.iterations));
}

#[test]
fn backtracking_grid_is_exact() {
    assert_eq!(
        iterate_grid(5.0, 1.3, 200),
        vec![5, 7, 9, 11, 15, 19, 25, 32, 41, 54, 69, 90, 117, 152, 197]
    );
    assert_eq!(iterate_grid(5.0, 1.3, 250).last(), Some(&197));
    // Against exact integer arithmetic: ceil(5·13^j / 10^j), j ≤ 33 (u128).
    let mut expected = Vec::new();
    for j in 0..=33u32 {
        let num = 5u128 * 13u128.pow(j);
        let den = 10u128.pow(j);
        let v = num.div_ceil(den) as usize;
        if expected.last() != Some(&v) {
            expected.push(v);
        }
    }
    let max = *expected.last().unwrap();
    assert_eq!(iterate_grid(5.0, 1.3, max), expected);
    // Another base: ceil(2·1.5^j) = 2, 3, 5, 7, 11, 16, 23, 35, 52.
    assert_eq!(
        iterate_grid(2.0, 1.5, 60),
        vec![2, 3, 5, 7, 11, 16, 23, 35, 52]
    );
}

#[test]
fn solver_keeps_grid_iterates_and_the_final_one() {
    let n = 200;
    let diag: Vec<f64> = (0..n)
        .map(|i| 1.0 + 1e4 * (i as f64 / n as f64).powi(4))
        .collect();
    let mut op = |v: &[f32], out: &mut [f32]| -> Result<()> {
        for ((o, &x), d) in out.iter_mut().zip(v).zip(&diag) {
            *o = (x as f64 * d) as f32;
        }
        Ok(())
    };
    let b: Vec<f32> = (0..n).map(|i| ((i * 7919) % 13) as f32 - 6.0).collect();
    let opts = CgOptions {
        max_iters: 40,
        epsilon: 0.0,
        ..CgOptions::default()
    };
    let res = cg::solve(&mut op, &b, &vec![0.0; n], None, &opts).unwrap();
    assert_eq!(res.stop, CgStop::MaxIterations);
    let idx: Vec<usize> = res.iterates.iter().map(|(i, _)| *i).collect();
    assert_eq!(idx, vec![5, 7, 9, 11, 15, 19, 25, 32, 40]);
    // Each kept iterate equals the final iterate of a run stopped there.
    for (i, x) in &res.iterates {
        let short = CgOptions {
            max_iters: *i,
            keep: Vec::new(),
            ..opts.clone()
        };
        let r = cg::solve(&mut op, &b, &vec![0.0; n], None, &short).unwrap();
        assert_eq!(r.final_iterate(), &x[..], "iterate {i}");
    }
}

#[test]
fn negative_curvature_is_detected() {
    // diag(1, −1): the second direction has negative curvature.
    let mut op = |v: &[f32], out: &mut [f32]| -> Result<()> {
        out[0] = v[0];
        out[1] = -v[1];
        Ok(())
    };
    let res = cg::solve(
        &mut op,
        &[1.0, 1.0],
        &[0.0, 0.0],
        None,
        &CgOptions::default(),
    )
    .unwrap();
    assert_eq!(res.stop, CgStop::NegativeCurvature);
    assert_eq!(res.iterations, 0);
    assert_eq!(res.final_iterate(), &[0.0, 0.0]);
}

#[test]
fn non_finite_products_are_reported() {
    let mut op = |v: &[f32], out: &mut [f32]| -> Result<()> {
        out.copy_from_slice(v);
        out[1] = f32::NAN;
        Ok(())
    };
    let res = cg::solve(
        &mut op,
        &[1.0, 1.0],
        &[0.0, 0.0],
        None,
        &CgOptions::default(),
    )
    .unwrap();
    assert_eq!(res.stop, CgStop::NonFinite);
}

#[test]
fn mismatched_lengths_are_errors() {
    let mut op = |v: &[f32], out: &mut [f32]| -> Result<()> {
        out.copy_from_slice(v);
        Ok(())
    };
    let e = cg::solve(&mut op, &[1.0, 1.0], &[0.0], None, &CgOptions::default()).unwrap_err();
    assert_eq!(e.kind(), hessfree::ErrorKind::ShapeMismatch);
}

/// A diagonally dominant system with diagonal spanning 1..1e4 and small
/// symmetric off-diagonal coupling: the diagonal preconditioner must change
/// the iterates and cut the iterations the progress rule needs.
#[test]
fn preconditioning_changes_iterates_and_cuts_iterations() {
    let n = 100;
    let mut rng = Rng::new(42);
    let mut a = vec![0.0f64; n * n];
    for i in 0..n {
        a[i * n + i] = 10f64.powf(4.0 * i as f64 / (n - 1) as f64);
    }
    for i in 0..n {
        for j in 0..i {
            let v = 0.01 * rng.normal() * (a[i * n + i] * a[j * n + j]).sqrt() / n as f64;
            a[i * n + j] = v;
            a[j * n + i] = v;
        }
    }
    let mut op = Dense { n, a, products: 0 };
    let b: Vec<f32> = (0..n).map(|_| rng.normal() as f32).collect();
    let m: Vec<f32> = (0..n).map(|i| op.a[i * n + i] as f32).collect();
    let opts = CgOptions::default();
    let plain = cg::solve(&mut op, &b, &vec![0.0; n], None, &opts).unwrap();
    let pre = cg::solve(&mut op, &b, &vec![0.0; n], Some(&m), &opts).unwrap();
    assert_ne!(
        plain.iterates[0].1, pre.iterates[0].1,
        "preconditioner had no effect"
    );
    assert!(
        pre.iterations * 2 < plain.iterations,
        "preconditioned {} iterations ({:?}) vs plain {} ({:?})",
        pre.iterations,
        pre.stop,
        plain.iterations,
        plain.stop
    );
    // And the preconditioned answer is at least as good in φ.
    assert!(pre.phi.last().unwrap() <= plain.phi.last().unwrap());
    eprintln!(
        "preconditioned: {} iterations, phi {:e}; plain: {} iterations, phi {:e}",
        pre.iterations,
        pre.phi.last().unwrap(),
        plain.iterations,
        plain.phi.last().unwrap()
    );
}

/// Solves with the library's host space and with [`SerialSpace`] (serial
/// sums, as a device space has its own order) and checks that the loop takes
/// the same path: same stop, iterations, products and kept iterates, φ and
/// the iterates equal up to rounding.
/// An operator `out = A·v` as a closure.
type Operator<'a> = dyn FnMut(&[f32], &mut [f32]) -> Result<()> + 'a;

fn same_path_in_both_spaces(
    op: &mut Operator<'_>,
    b: &[f32],
    x0: &[f32],
    m: Option<&[f32]>,
    opts: &CgOptions,
) -> CgResult {
    let mut host_op = |v: &[f32], out: &mut [f32]| op(v, out);
    let host = cg::solve(&mut host_op, b, x0, m, opts).unwrap();
    let mut space = SerialSpace::new(|v: &[f32], out: &mut [f32]| op(v, out), b, m);
    let serial = cg::solve_in(&mut space, x0, opts).unwrap();
    assert_eq!(
        (serial.stop, serial.iterations, serial.products),
        (host.stop, host.iterations, host.products)
    );
    let kept = |r: &CgResult| r.iterates.iter().map(|(k, _)| *k).collect::<Vec<_>>();
    assert_eq!(kept(&serial), kept(&host));
    for (i, (s, h)) in serial.phi.iter().zip(&host.phi).enumerate() {
        let scale = h.abs().max(1e-12);
        assert!((s - h).abs() / scale < 1e-5, "φ_{i}: {s} vs {h}");
    }
    for ((k, xs), (_, xh)) in serial.iterates.iter().zip(&host.iterates) {
        let scale = xh.iter().fold(1e-12f32, |m, v| m.max(v.abs()));
        let diff = xs
            .iter()
            .zip(xh)
            .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(diff / scale < 1e-4, "iterate {k}: max difference {diff}");
    }
    host
}

#[test]
fn the_cg_loop_takes_the_same_path_in_another_vector_space() {
    let n = 40;
    let mut a = Dense::random_spd(n, 0.05, 9);
    let mut rng = Rng::new(10);
    let b: Vec<f32> = (0..n).map(|_| rng.normal() as f32).collect();
    let m: Vec<f32> = (0..n).map(|_| 0.5 + rng.uniform() as f32).collect();
    let warm: Vec<f32> = (0..n).map(|_| 0.1 * rng.normal() as f32).collect();
    let mut dense = |v: &[f32], out: &mut [f32]| cg::LinearOperator::apply(&mut a, v, out);
    // Martens' stopping rule, with and without preconditioner and warm start.
    let progress = same_path_in_both_spaces(&mut dense, &b, &warm, Some(&m), &CgOptions::default());
    assert_eq!(progress.stop, CgStop::RelativeProgress);
    let cold = same_path_in_both_spaces(&mut dense, &b, &vec![0.0; n], None, &CgOptions::default());
    assert_eq!(cold.stop, CgStop::RelativeProgress);
    // The iteration cap.
    let capped = CgOptions {
        max_iters: 7,
        ..CgOptions::default()
    };
    let r = same_path_in_both_spaces(&mut dense, &b, &warm, Some(&m), &capped);
    assert_eq!((r.stop, r.iterations), (CgStop::MaxIterations, 7));
    // A zero right-hand side from zero: converged before any product.
    let r = same_path_in_both_spaces(&mut dense, &vec![0.0; n], &vec![0.0; n], None, &capped);
    assert_eq!((r.stop, r.products), (CgStop::Converged, 0));
    // Negative curvature after a few steps: diag(1, 2, …, −1).
    let mut indefinite = |v: &[f32], out: &mut [f32]| -> Result<()> {
        let last = v.len() - 1;
        for (i, (o, &x)) in out.iter_mut().zip(v).enumerate() {
            *o = if i == last { -x } else { (i + 1) as f32 * x };
        }
        Ok(())
    };
    let ones = [1.0f32; 6];
    let r = same_path_in_both_spaces(&mut indefinite, &ones, &[0.0; 6], None, &capped);
    assert_eq!(r.stop, CgStop::NegativeCurvature);
}

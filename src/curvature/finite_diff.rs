//! Finite-difference derivatives, for checking the analytic ones.

use ndarray::ArrayView2;

use super::backward::{accumulate_gradient, output_delta};
use super::forward::{batch_loss, forward};
use super::real::Real;
use crate::net::NetSpec;

/// Mean loss and its gradient over one batch (no weight cost).
pub fn batch_gradient<T: Real>(
    spec: &NetSpec,
    theta: &[T],
    x: ArrayView2<T>,
    t: ArrayView2<T>,
) -> (f64, Vec<T>) {
    let acts = forward(spec, theta, x.view());
    let n = x.nrows() as f64;
    let loss = batch_loss(spec.loss(), &acts.output_z, acts.output(), &t).loss_sum / n;
    let delta = output_delta(spec.loss(), acts.output(), &t);
    let mut grad = vec![T::zero(); theta.len()];
    accumulate_gradient(
        spec,
        theta,
        x,
        &acts,
        delta,
        T::one() / T::of(n),
        &mut grad,
        None,
    );
    (loss, grad)
}

/// The gradient of the mean batch loss by central differences with step `h`
/// (2·P forward passes: for checks on small networks only).
pub fn fd_gradient_check<T: Real>(
    spec: &NetSpec,
    theta: &[T],
    x: ArrayView2<T>,
    t: ArrayView2<T>,
    h: f64,
) -> Vec<f64> {
    let n = x.nrows() as f64;
    let loss_at = |th: &[T]| {
        let acts = forward(spec, th, x.view());
        batch_loss(spec.loss(), &acts.output_z, acts.output(), &t).loss_sum / n
    };
    let mut th = theta.to_vec();
    (0..theta.len())
        .map(|i| {
            let orig = th[i];
            th[i] = orig + T::of(h);
            let up = loss_at(&th);
            th[i] = orig - T::of(h);
            let down = loss_at(&th);
            th[i] = orig;
            (up - down) / (2.0 * h)
        })
        .collect()
}

/// `H·v` of the mean batch loss by central differences of the gradient:
/// `(∇f(θ + h·v) − ∇f(θ − h·v)) / 2h`. Use `f64` for meaningful accuracy.
pub fn fd_hessian_vector<T: Real>(
    spec: &NetSpec,
    theta: &[T],
    x: ArrayView2<T>,
    t: ArrayView2<T>,
    v: &[T],
    h: f64,
) -> Vec<f64> {
    let shifted = |sign: f64| -> Vec<T> {
        theta
            .iter()
            .zip(v)
            .map(|(&a, &b)| a + T::of(sign * h) * b)
            .collect()
    };
    let (_, g_up) = batch_gradient(spec, &shifted(1.0), x.view(), t.view());
    let (_, g_down) = batch_gradient(spec, &shifted(-1.0), x.view(), t.view());
    g_up.iter()
        .zip(&g_down)
        .map(|(&u, &d)| (u.f64() - d.f64()) / (2.0 * h))
        .collect()
}

//! Backpropagation: gradients and the per-example squared-gradient statistic.

use ndarray::{s, Array2, ArrayView2, Zip};

use super::forward::{fused_product, mul_derivative, par_rows, weights, weights_mut, Activations};
use super::parallel::{column_sums, gemm_tn};
use super::real::Real;
use crate::net::{Loss, NetSpec};

/// `∂ℓ_n/∂z` at the output units for every example (not divided by N).
///
/// For each matched loss this is the simple form: `y − t` (logistic with
/// cross-entropy), `2(y − t)` (linear with the un-halved squared error) and
/// `s·y − t` with `s = Σ_d t` (softmax with cross-entropy).
pub fn output_delta<T: Real>(loss: Loss, y: &Array2<T>, t: &ArrayView2<T>) -> Array2<T> {
    // One pass into a (possibly reused) buffer: copying `y` first cost a
    // second pass and, for a large batch, fresh pages.
    let mut d = T::batch_output(y.nrows(), y.ncols());
    par_rows(&mut d, |r0, d| {
        let rows = s![r0..r0 + d.nrows(), ..];
        let (y, t) = (y.slice(rows), t.slice(rows));
        match loss {
            Loss::CrossEntropy => Zip::from(d)
                .and(&y)
                .and(&t)
                .for_each(|d, &y, &t| *d = y - t),
            Loss::SquaredError => {
                let two = T::one() + T::one();
                Zip::from(d)
                    .and(&y)
                    .and(&t)
                    .for_each(|d, &y, &t| *d = two * (y - t))
            }
            Loss::SoftmaxCrossEntropy => {
                for ((mut dr, yr), tr) in d.rows_mut().into_iter().zip(y.rows()).zip(t.rows()) {
                    let s = tr.sum();
                    Zip::from(&mut dr)
                        .and(&yr)
                        .and(&tr)
                        .for_each(|d, &y, &t| *d = s * y - t);
                }
            }
        }
    });
    d
}

/// The activations feeding weight layer `l` (the input batch for `l = 0`).
pub(crate) fn layer_input<'a, T: Real>(
    x: &'a ArrayView2<'_, T>,
    acts: &'a Activations<T>,
    l: usize,
) -> ArrayView2<'a, T> {
    if l == 0 {
        x.view()
    } else {
        acts.layers[l - 1].view()
    }
}

/// `(d·W_lᵀ (+ extra)) ⊙ f'(a_{l−1})`: moves per-example deltas from layer
/// `l`'s pre-activations to layer `l−1`'s, fused per row block.
pub(crate) fn delta_to_previous_layer<T: Real>(
    spec: &NetSpec,
    theta: &[T],
    acts: &Activations<T>,
    l: usize,
    d: &Array2<T>,
    extra: Option<(&ArrayView2<T>, &ArrayView2<T>)>,
) -> Array2<T> {
    let w = weights(theta, &spec.slot(l));
    let act = spec.activations()[l - 1];
    let a = &acts.layers[l - 1];
    fused_product(&d.view(), &w.t(), None, extra, |r0, block| {
        mul_derivative(act, &a.slice(s![r0..r0 + block.nrows(), ..]), block)
    })
}

/// Per-example deltas `∂ℓ_n/∂z_l` of every layer, from the output's.
pub(crate) fn all_deltas<T: Real>(
    spec: &NetSpec,
    theta: &[T],
    acts: &Activations<T>,
    output_delta: Array2<T>,
) -> Vec<Array2<T>> {
    let n_layers = spec.num_layers();
    let mut deltas = vec![output_delta];
    for l in (1..n_layers).rev() {
        let prev = delta_to_previous_layer(spec, theta, acts, l, &deltas[deltas.len() - 1], None);
        deltas.push(prev);
    }
    deltas.reverse();
    deltas
}

/// Elementwise square, in parallel row blocks.
fn squared<T: Real>(m: &ArrayView2<T>) -> Array2<T> {
    let mut out = m.to_owned();
    par_rows(&mut out, |_, b| b.mapv_inplace(|v| v * v));
    out
}

/// Adds `scale · Σ_n ∇ℓ_n` to `grad`, and, when `stat` is given,
/// `scale · Σ_n (∇ℓ_n)²` (elementwise) to `stat`, for the batch whose
/// inputs are `x`, activations `acts` and output deltas `delta` (from
/// [`output_delta`]). Pass `scale = 1/N_total` to accumulate means over a
/// data set split into batches.
///
/// The squared per-example gradients are never materialised: for a weight
/// `w_ij` of a layer, `Σ_n (a_ni d_nj)² = ((A⊙A)ᵀ(D⊙D))_ij`, one GEMM per layer.
#[allow(clippy::too_many_arguments)]
pub fn accumulate_gradient<T: Real>(
    spec: &NetSpec,
    theta: &[T],
    x: ArrayView2<T>,
    acts: &Activations<T>,
    delta: Array2<T>,
    scale: T,
    grad: &mut [T],
    mut stat: Option<&mut [T]>,
) {
    assert_eq!(grad.len(), spec.num_params(), "gradient length");
    let mut d = delta;
    for l in (0..spec.num_layers()).rev() {
        let slot = spec.slot(l);
        let a = layer_input(&x, acts, l);
        gemm_tn(
            scale,
            &a,
            &d.view(),
            T::one(),
            &mut weights_mut(grad, &slot),
        );
        add_scaled(
            &mut grad[slot.biases..slot.end()],
            &column_sums(&d.view()),
            scale,
        );
        if let Some(stat) = stat.as_deref_mut() {
            let d2 = squared(&d.view());
            gemm_tn(
                scale,
                &squared(&a).view(),
                &d2.view(),
                T::one(),
                &mut weights_mut(stat, &slot),
            );
            add_scaled(
                &mut stat[slot.biases..slot.end()],
                &column_sums(&d2.view()),
                scale,
            );
        }
        if l > 0 {
            let previous = delta_to_previous_layer(spec, theta, acts, l, &d, None);
            T::recycle(std::mem::replace(&mut d, previous));
        }
    }
    T::recycle(d);
}

/// `dst += scale · src`.
pub(crate) fn add_scaled<T: Real>(dst: &mut [T], src: &ndarray::Array1<T>, scale: T) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = *d + scale * s;
    }
}

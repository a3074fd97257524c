//! The forward pass and the matched losses.

use ndarray::{s, Array2, ArrayView1, ArrayView2, ArrayViewMut2, Zip};

use super::parallel::{for_row_blocks, map_row_blocks};
use super::real::Real;
use crate::net::{Activation, LayerSlot, Loss, NetSpec};

/// The activations of one forward pass over a batch.
pub struct Activations<T> {
    /// `layers[l]` holds the outputs of weight layer `l` (N × fan_out); the
    /// last entry is the network output `y`.
    pub layers: Vec<Array2<T>>,
    /// The output layer's pre-activations `z` (needed for stable losses).
    pub output_z: Array2<T>,
}

impl<T: Real> Activations<T> {
    /// The network outputs.
    pub fn output(&self) -> &Array2<T> {
        &self.layers[self.layers.len() - 1]
    }

    /// Hands the activations' memory back for reuse by the next pass's layer
    /// outputs (`f32`: buffers of 1 MiB or more go to a pool bounded at
    /// 256 MiB, see [`crate::curvature::release_pooled_buffers`]; `f64`:
    /// freed). Dropping the activations instead is always correct; the next
    /// pass then gets fresh pages from the system, which costs 6–9 % of a
    /// large pass.
    pub fn recycle(self) {
        self.layers.into_iter().for_each(T::recycle);
        T::recycle(self.output_z);
    }
}

/// Weight matrix of a layer as a `fan_in × fan_out` view into θ.
pub(crate) fn weights<'a, T>(theta: &'a [T], s: &LayerSlot) -> ArrayView2<'a, T> {
    ArrayView2::from_shape((s.fan_in, s.fan_out), &theta[s.weights..s.biases])
        .expect("slot lies inside theta (checked by callers)")
}

/// Mutable weight matrix of a layer.
pub(crate) fn weights_mut<'a, T>(theta: &'a mut [T], s: &LayerSlot) -> ArrayViewMut2<'a, T> {
    ArrayViewMut2::from_shape((s.fan_in, s.fan_out), &mut theta[s.weights..s.biases])
        .expect("slot lies inside theta (checked by callers)")
}

/// Bias vector of a layer.
pub(crate) fn biases<'a, T>(theta: &'a [T], s: &LayerSlot) -> ArrayView1<'a, T> {
    ArrayView1::from(&theta[s.biases..s.end()])
}

/// `a·W + 1·bᵀ` for a batch `a` (see [`fused_product`]).
pub(crate) fn affine<T: Real>(
    a: &ArrayView2<T>,
    w: &ArrayView2<T>,
    b: &ArrayView1<T>,
) -> Array2<T> {
    fused_product(a, w, Some(b), None, |_, _| {})
}

/// `z = a·w (+ 1·bᵀ) (+ a2·w2)`, then `post(first_row, rows)` on each row
/// block, computed in parallel row blocks so the elementwise work runs on
/// rows still in cache right after their GEMM.
pub(crate) fn fused_product<T, F>(
    a: &ArrayView2<T>,
    w: &ArrayView2<T>,
    b: Option<&ArrayView1<T>>,
    extra: Option<(&ArrayView2<T>, &ArrayView2<T>)>,
    post: F,
) -> Array2<T>
where
    T: Real,
    F: Fn(usize, &mut ArrayViewMut2<'_, T>) + Sync,
{
    // Every element is written by the GEMM below before it is read.
    let mut z = T::batch_output(a.nrows(), w.ncols());
    for_row_blocks(&mut z, |r0, mut zb| {
        let rows = s![r0..r0 + zb.nrows(), ..];
        match b {
            Some(b) => T::gemm_bias(&a.slice(rows), w, b, &mut zb),
            None => T::gemm(T::one(), &a.slice(rows), w, T::zero(), &mut zb),
        }
        if let Some((a2, w2)) = extra {
            T::gemm(T::one(), &a2.slice(rows), w2, T::one(), &mut zb);
        }
        post(r0, &mut zb);
    });
    z
}

/// Applies a function to row blocks of `m` in parallel.
pub(crate) fn par_rows<T, F>(m: &mut Array2<T>, f: F)
where
    T: Real,
    F: Fn(usize, &mut ArrayViewMut2<'_, T>) + Sync,
{
    for_row_blocks(m, |r0, mut b| f(r0, &mut b));
}

/// Applies a hidden or output non-linearity in place.
pub(crate) fn activate<T: Real>(act: Activation, z: &mut ArrayViewMut2<'_, T>) {
    match act {
        Activation::Logistic => for_each_row_slice(z, T::logistic_in_place),
        Activation::Tanh => z.mapv_inplace(|v| v.tanh()),
        Activation::Linear => {}
        Activation::Relu => z.mapv_inplace(|v| if v > T::zero() { v } else { T::zero() }),
        Activation::Softmax => {
            for mut row in z.rows_mut() {
                let m = row.fold(T::neg_infinity(), |m, &v| m.max(v));
                row.mapv_inplace(|v| (v - m).exp());
                let s = row.sum();
                row.mapv_inplace(|v| v / s);
            }
        }
    }
}

/// Calls `f` on the contiguous storage of `m` (one call), or on each row.
fn for_each_row_slice<T: Real>(m: &mut ArrayViewMut2<'_, T>, f: impl Fn(&mut [T])) {
    if let Some(all) = m.as_slice_mut() {
        return f(all);
    }
    for mut row in m.rows_mut() {
        match row.as_slice_mut() {
            Some(r) => f(r),
            None => {
                let mut owned = row.to_vec();
                f(&mut owned);
                row.assign(&ndarray::ArrayView1::from(&owned[..]));
            }
        }
    }
}

/// The derivative `f'(z)` written in terms of the unit's output `a = f(z)`.
#[inline]
pub(crate) fn derivative_from_output<T: Real>(act: Activation, a: T) -> T {
    match act {
        Activation::Logistic => a * (T::one() - a),
        Activation::Tanh => T::one() - a * a,
        Activation::Linear => T::one(),
        Activation::Relu => {
            if a > T::zero() {
                T::one()
            } else {
                T::zero()
            }
        }
        // Softmax never appears in a hidden layer (NetSpec rejects it).
        Activation::Softmax => T::one(),
    }
}

/// The second derivative `f''(z)` in terms of the output `a = f(z)`.
#[inline]
pub(crate) fn second_derivative_from_output<T: Real>(act: Activation, a: T) -> T {
    let two = T::one() + T::one();
    match act {
        Activation::Logistic => a * (T::one() - a) * (T::one() - two * a),
        Activation::Tanh => -two * a * (T::one() - a * a),
        _ => T::zero(),
    }
}

/// `d ⊙= f'(a)` elementwise (`a` the unit outputs for the same rows).
pub(crate) fn mul_derivative<T: Real>(
    act: Activation,
    a: &ArrayView2<T>,
    d: &mut ArrayViewMut2<'_, T>,
) {
    if act == Activation::Linear {
        return;
    }
    Zip::from(d)
        .and(a)
        .for_each(|d, &a| *d = *d * derivative_from_output(act, a));
}

/// Runs the network on the rows of `x`, keeping every layer's activations.
pub fn forward<T: Real>(spec: &NetSpec, theta: &[T], x: ArrayView2<T>) -> Activations<T> {
    assert_eq!(theta.len(), spec.num_params(), "theta length");
    assert_eq!(x.ncols(), spec.input_dim(), "input width");
    let n_layers = spec.num_layers();
    let mut layers: Vec<Array2<T>> = Vec::with_capacity(n_layers);
    let mut output_z = Array2::zeros((0, 0));
    for (l, (slot, &act)) in spec.slots().iter().zip(spec.activations()).enumerate() {
        let input = if l == 0 {
            x.view()
        } else {
            layers[l - 1].view()
        };
        let (w, b) = (weights(theta, slot), biases(theta, slot));
        if l + 1 < n_layers {
            layers.push(fused_product(&input, &w, Some(&b), None, |_, z| {
                activate(act, z)
            }));
        } else {
            // The output pre-activations are kept for numerically stable losses.
            output_z = affine(&input, &w, &b);
            let mut y = T::batch_output(output_z.nrows(), output_z.ncols());
            par_rows(&mut y, |r0, y| {
                y.assign(&output_z.slice(s![r0..r0 + y.nrows(), ..]));
                activate(act, y)
            });
            layers.push(y);
        }
    }
    Activations { layers, output_z }
}

/// Sums over a batch of the per-example loss and reconstruction error.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BatchLoss {
    /// Σ over examples of the per-example loss (not yet divided by N).
    pub loss_sum: f64,
    /// Σ over examples of `Σ_d (y − t)²`, the paper's Table 2 error.
    pub sq_error_sum: f64,
}

impl std::ops::AddAssign for BatchLoss {
    fn add_assign(&mut self, o: Self) {
        self.loss_sum += o.loss_sum;
        self.sq_error_sum += o.sq_error_sum;
    }
}

/// Per-example losses (summed) from the output pre-activations `z`, outputs
/// `y` and targets `t`, in f64. Each example's loss is summed over its units,
/// then the examples are added in order, so the result does not depend on the
/// thread count.
pub fn batch_loss<T: Real>(
    loss: Loss,
    z: &Array2<T>,
    y: &Array2<T>,
    t: &ArrayView2<T>,
) -> BatchLoss {
    let parts = map_row_blocks(z.nrows(), |r0, len| {
        let rows = s![r0..r0 + len, ..];
        rows_loss(loss, &z.slice(rows), &y.slice(rows), &t.slice(rows))
    });
    let mut out = BatchLoss::default();
    for example in parts.iter().flatten() {
        out += *example;
    }
    out
}

/// One row's cross-entropy `Σ softplus(z) − t·z` and squared error
/// `Σ (y − t)²`, summed in order in f64. On slices, so that both sums stay
/// in registers (through ndarray's row iterators they were kept on the
/// stack: a store and reload per element, 9 % of a small HF run).
#[inline]
fn cross_entropy_sums<T: Real>(softplus: &[f64], z: &[T], y: &[T], t: &[T]) -> (f64, f64) {
    let (mut l, mut e) = (0.0f64, 0.0f64);
    for (((&sp, &z), &y), &t) in softplus.iter().zip(z).zip(y).zip(t) {
        let (z, t) = (z.f64(), t.f64());
        l += sp - t * z;
        e += (y.f64() - t).powi(2);
    }
    (l, e)
}

/// The loss and squared error of each example (row).
fn rows_loss<T: Real>(
    loss: Loss,
    z: &ArrayView2<T>,
    y: &ArrayView2<T>,
    t: &ArrayView2<T>,
) -> Vec<BatchLoss> {
    let mut softplus = vec![0.0f64; z.ncols()];
    let mut z_row = Vec::new();
    let mut out = Vec::with_capacity(z.nrows());
    for ((zr, yr), tr) in z.rows().into_iter().zip(y.rows()).zip(t.rows()) {
        let mut l = 0.0f64;
        let mut e = 0.0f64;
        match loss {
            Loss::CrossEntropy => {
                let zs = match zr.as_slice() {
                    Some(zs) => zs,
                    None => {
                        z_row.clear();
                        z_row.extend(zr.iter().copied());
                        &z_row[..]
                    }
                };
                T::softplus_into(zs, &mut softplus);
                (l, e) = match (yr.as_slice(), tr.as_slice()) {
                    (Some(ys), Some(ts)) => cross_entropy_sums(&softplus, zs, ys, ts),
                    _ => {
                        let (ys, ts) = (yr.to_vec(), tr.to_vec());
                        cross_entropy_sums(&softplus, zs, &ys, &ts)
                    }
                };
            }
            Loss::SquaredError => {
                for (&y, &t) in yr.iter().zip(tr) {
                    let d = y.f64() - t.f64();
                    l += d * d;
                    e += d * d;
                }
            }
            Loss::SoftmaxCrossEntropy => {
                let m = zr.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v.f64()));
                let lse = m + zr.iter().map(|&v| (v.f64() - m).exp()).sum::<f64>().ln();
                for ((&z, &y), &t) in zr.iter().zip(yr).zip(tr) {
                    let t = t.f64();
                    l += t * (lse - z.f64());
                    e += (y.f64() - t).powi(2);
                }
            }
        }
        out.push(BatchLoss {
            loss_sum: l,
            sq_error_sum: e,
        });
    }
    out
}

//! Curvature-vector products on a fixed chunk with cached activations:
//! Gauss-Newton `G·v` (Schraudolph's R-op), exact Hessian `H·v`
//! (Pearlmutter) and empirical Fisher `F·v`.

use std::sync::Arc;

use ndarray::{s, Array1, Array2, ArrayView2, ArrayViewMut2, Zip};

use super::backward::{add_scaled, all_deltas, delta_to_previous_layer, layer_input, output_delta};
use super::forward::{
    affine, batch_loss, biases, forward, fused_product, mul_derivative, par_rows,
    second_derivative_from_output, weights, weights_mut, Activations, BatchLoss,
};
use super::parallel::{column_sums, gemm_tn};
use super::real::Real;
use crate::hf::CurvatureKind;
use crate::net::{Loss, NetSpec};

/// Rows `start..start+len` of a row-major matrix `cols` wide whose storage
/// a cache shares with its owner (a data set) instead of copying it: a
/// curvature chunk of the MNIST preset is 7500 × 784 floats (23.5 MB) per
/// copy, and an autoencoder's targets are the same rows again.
#[derive(Clone, Debug)]
pub(crate) struct SharedRows<T> {
    data: Arc<Vec<T>>,
    start: usize,
    len: usize,
    cols: usize,
}

impl<T> SharedRows<T> {
    /// The rows `start..start+len` of `data` read as a matrix `cols` wide,
    /// or `None` when they do not all lie inside `data`.
    pub(crate) fn new(data: Arc<Vec<T>>, start: usize, len: usize, cols: usize) -> Option<Self> {
        let end = start.checked_add(len)?.checked_mul(cols)?;
        (end <= data.len()).then_some(SharedRows {
            data,
            start,
            len,
            cols,
        })
    }

    /// The rows as an `len × cols` view (the layout an owned copy would
    /// have, so every kernel computes the same bits on it).
    fn view(&self) -> ArrayView2<'_, T> {
        let first = self.start * self.cols;
        let values = &self.data[first..first + self.len * self.cols];
        ArrayView2::from_shape((self.len, self.cols), values)
            .expect("the row range was checked in SharedRows::new")
    }
}

/// A chunk's inputs or targets: a matrix of the cache's own, or rows shared
/// with the data set they come from.
enum Rows<T> {
    Owned(Array2<T>),
    Shared(SharedRows<T>),
}

impl<T> Rows<T> {
    fn view(&self) -> ArrayView2<'_, T> {
        match self {
            Rows::Owned(m) => m.view(),
            Rows::Shared(r) => r.view(),
        }
    }
}

/// What curvature products on one chunk need, computed once per CG run:
/// the chunk's inputs and targets, its activations at θ and, for the
/// Hessian and the empirical Fisher, its per-example backpropagated deltas.
pub struct ChunkCache<T> {
    x: Rows<T>,
    /// The targets; `None` when they are the inputs (an autoencoder chunk
    /// over shared rows), which are then not stored twice.
    t: Option<Rows<T>>,
    acts: Activations<T>,
    kind: CurvatureKind,
    /// `deltas[l] = ∂ℓ_n/∂z_l` per example (Hessian and Fisher only).
    deltas: Vec<Array2<T>>,
    /// `pre_deltas[l] = deltas[l+1]·W_{l+1}ᵀ = ∂ℓ_n/∂a_l` for hidden layers (Hessian only).
    pre_deltas: Vec<Array2<T>>,
}

impl<T: Real> ChunkCache<T> {
    /// Hands the cache's batch arrays back for the next pass's outputs.
    pub(crate) fn recycle(self) {
        self.acts.recycle();
        self.deltas
            .into_iter()
            .chain(self.pre_deltas)
            .for_each(T::recycle);
    }

    /// Runs the forward pass (and, for `Hessian`/`EmpiricalFisher`, the
    /// backward pass) on the chunk `x`, `t` at θ, keeping what products need.
    pub fn new(
        spec: &NetSpec,
        theta: &[T],
        x: Array2<T>,
        t: Array2<T>,
        kind: CurvatureKind,
    ) -> Self {
        Self::build(
            spec,
            theta,
            Rows::Owned(x),
            Some(Rows::Owned(t)),
            None,
            kind,
        )
    }

    /// [`ChunkCache::new`] on rows shared with a data set rather than
    /// copies; `t = None` means the targets are the inputs. With `acts`,
    /// the chunk's forward pass at θ is already known (for example as rows
    /// of a full pass at the same θ: a row's activations do not depend on
    /// the rows around it) and is not run again.
    pub(crate) fn over_shared_rows(
        spec: &NetSpec,
        theta: &[T],
        x: SharedRows<T>,
        t: Option<SharedRows<T>>,
        acts: Option<Activations<T>>,
        kind: CurvatureKind,
    ) -> Self {
        let t = t.map(Rows::Shared);
        Self::build(spec, theta, Rows::Shared(x), t, acts, kind)
    }

    fn build(
        spec: &NetSpec,
        theta: &[T],
        x: Rows<T>,
        t: Option<Rows<T>>,
        acts: Option<Activations<T>>,
        kind: CurvatureKind,
    ) -> Self {
        let (xv, tv) = (x.view(), t.as_ref().map_or(x.view(), Rows::view));
        assert_eq!(
            xv.nrows(),
            tv.nrows(),
            "inputs and targets have different row counts"
        );
        assert_eq!(tv.ncols(), spec.output_dim(), "target width");
        let acts = acts.unwrap_or_else(|| forward(spec, theta, xv));
        assert_eq!(acts.output().nrows(), xv.nrows(), "activation rows");
        let mut cache = ChunkCache {
            x,
            t,
            acts,
            kind,
            deltas: Vec::new(),
            pre_deltas: Vec::new(),
        };
        if kind != CurvatureKind::GaussNewton {
            let d_out = output_delta(spec.loss(), cache.acts.output(), &cache.targets());
            cache.deltas = all_deltas(spec, theta, &cache.acts, d_out);
        }
        if kind == CurvatureKind::Hessian {
            cache.pre_deltas = (0..spec.num_layers() - 1)
                .map(|l| cache.deltas[l + 1].dot(&weights(theta, &spec.slot(l + 1)).t()))
                .collect();
        }
        cache
    }

    /// Number of examples in the chunk.
    pub fn len(&self) -> usize {
        self.acts.output().nrows()
    }
    /// True for an empty chunk (never constructed by the library).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The curvature kind the cache was built for.
    pub fn kind(&self) -> CurvatureKind {
        self.kind
    }
    /// The chunk's inputs.
    pub fn inputs(&self) -> ArrayView2<'_, T> {
        self.x.view()
    }
    /// The chunk's targets.
    pub fn targets(&self) -> ArrayView2<'_, T> {
        self.t.as_ref().unwrap_or(&self.x).view()
    }
    /// Summed loss and error of the chunk at the cached θ.
    pub fn loss(&self, spec: &NetSpec) -> BatchLoss {
        batch_loss(
            spec.loss(),
            &self.acts.output_z,
            self.acts.output(),
            &self.targets(),
        )
    }
}

/// `R{∂ℓ/∂z}` at the output: the loss Hessian with respect to the output
/// pre-activations applied to `rz`, per example (rows of `y`, `t` match `rz`).
fn loss_hessian_times<T: Real>(
    loss: Loss,
    y: &ArrayView2<T>,
    t: &ArrayView2<T>,
    rz: &mut ArrayViewMut2<'_, T>,
) {
    match loss {
        Loss::CrossEntropy => {
            Zip::from(rz)
                .and(y)
                .for_each(|r, &y| *r = *r * y * (T::one() - y));
        }
        Loss::SquaredError => {
            let two = T::one() + T::one();
            rz.mapv_inplace(|r| two * r);
        }
        Loss::SoftmaxCrossEntropy => {
            for ((mut r, yr), tr) in rz.rows_mut().into_iter().zip(y.rows()).zip(t.rows()) {
                let s = tr.sum();
                let yr_dot = r
                    .iter()
                    .zip(yr)
                    .fold(T::zero(), |acc, (&r, &y)| acc + r * y);
                Zip::from(&mut r)
                    .and(&yr)
                    .for_each(|r, &y| *r = s * y * (*r - yr_dot));
            }
        }
    }
}

/// `out = C·v` for the chunk, `C` the curvature the cache was built for,
/// as a **mean over the chunk's examples** (no weight cost, no damping).
pub fn curvature_product<T: Real>(
    spec: &NetSpec,
    theta: &[T],
    cache: &ChunkCache<T>,
    v: &[T],
    out: &mut [T],
) {
    assert_eq!(v.len(), spec.num_params(), "v length");
    assert_eq!(out.len(), spec.num_params(), "out length");
    match cache.kind {
        CurvatureKind::GaussNewton | CurvatureKind::Hessian => {
            gauss_newton_or_hessian(spec, theta, cache, v, out)
        }
        CurvatureKind::EmpiricalFisher => empirical_fisher(spec, cache, v, out),
    }
}

/// The R-forward pass followed by the (R-)backward pass. With the Gauss-Newton
/// kind the backward pass ignores second derivatives of the hidden units and
/// terms in the residual; with the Hessian kind it keeps them (Pearlmutter).
/// Each layer is one or two GEMMs with the elementwise work fused per row block.
fn gauss_newton_or_hessian<T: Real>(
    spec: &NetSpec,
    theta: &[T],
    cache: &ChunkCache<T>,
    v: &[T],
    out: &mut [T],
) {
    let hessian = cache.kind == CurvatureKind::Hessian;
    let n_layers = spec.num_layers();
    let x = cache.inputs();
    let acts = &cache.acts;
    let (y, t) = (acts.output().view(), cache.targets());

    // R-forward: r_z_l = a_{l−1}·V_l + 1·v_bᵀ + R{a_{l−1}}·W_l, R{a_l} = f'(z_l) ⊙ r_z_l.
    let mut r_acts: Vec<Array2<T>> = Vec::with_capacity(n_layers);
    let mut r_pre: Vec<Array2<T>> = Vec::new();
    let mut rd = Array2::zeros((0, 0));
    for l in 0..n_layers {
        let slot = spec.slot(l);
        let (vw, vb, w) = (weights(v, &slot), biases(v, &slot), weights(theta, &slot));
        let a_in = layer_input(&x, acts, l);
        let prev_r = if l > 0 {
            Some(r_acts[l - 1].view())
        } else {
            None
        };
        let extra = prev_r.as_ref().map(|r| (r, &w));
        if l + 1 == n_layers {
            // Output: R{∂ℓ/∂z_L} = H_L · r_z_L, fused into the same row blocks.
            rd = fused_product(&a_in, &vw, Some(&vb), extra, |r0, block| {
                let rows = s![r0..r0 + block.nrows(), ..];
                loss_hessian_times(spec.loss(), &y.slice(rows), &t.slice(rows), block)
            });
        } else {
            let act = spec.activations()[l];
            let a_out = &acts.layers[l];
            if hessian {
                let rz = fused_product(&a_in, &vw, Some(&vb), extra, |_, _| {});
                let mut ra = rz.clone();
                par_rows(&mut ra, |r0, block| {
                    mul_derivative(act, &a_out.slice(s![r0..r0 + block.nrows(), ..]), block)
                });
                r_pre.push(rz);
                r_acts.push(ra);
            } else {
                let ra = fused_product(&a_in, &vw, Some(&vb), extra, |r0, block| {
                    mul_derivative(act, &a_out.slice(s![r0..r0 + block.nrows(), ..]), block)
                });
                if l > 0 {
                    // Only the previous layer's R{a} is needed without the Hessian terms.
                    T::recycle(std::mem::replace(&mut r_acts[l - 1], Array2::zeros((0, 0))));
                }
                r_acts.push(ra);
            }
        }
    }

    let scale = T::one() / T::of(cache.len() as f64);
    for l in (0..n_layers).rev() {
        let slot = spec.slot(l);
        let a = layer_input(&x, acts, l);
        gemm_tn(
            scale,
            &a,
            &rd.view(),
            T::zero(),
            &mut weights_mut(out, &slot),
        );
        out[slot.biases..slot.end()].fill(T::zero());
        add_scaled(
            &mut out[slot.biases..slot.end()],
            &column_sums(&rd.view()),
            scale,
        );
        if hessian && l > 0 {
            gemm_tn(
                scale,
                &r_acts[l - 1].view(),
                &cache.deltas[l].view(),
                T::one(),
                &mut weights_mut(out, &slot),
            );
        }
        if l > 0 {
            let previous_rd = if hessian {
                let vw_t = weights(v, &slot).reversed_axes();
                let d_l = cache.deltas[l].view();
                let mut prev =
                    delta_to_previous_layer(spec, theta, acts, l, &rd, Some((&d_l, &vw_t)));
                let act = spec.activations()[l - 1];
                let (e, a_prev, rz) =
                    (&cache.pre_deltas[l - 1], &acts.layers[l - 1], &r_pre[l - 1]);
                par_rows(&mut prev, |r0, block| {
                    let rows = s![r0..r0 + block.nrows(), ..];
                    Zip::from(block)
                        .and(e.slice(rows))
                        .and(a_prev.slice(rows))
                        .and(rz.slice(rows))
                        .for_each(|p, &e, &a, &rz| {
                            *p = *p + e * second_derivative_from_output(act, a) * rz
                        });
                });
                prev
            } else {
                delta_to_previous_layer(spec, theta, acts, l, &rd, None)
            };
            T::recycle(std::mem::replace(&mut rd, previous_rd));
        }
    }
    T::recycle(rd);
    r_acts.into_iter().chain(r_pre).for_each(T::recycle);
}

/// `F·v = mean_n g_n (g_nᵀ v)` without forming per-example gradients:
/// `g_nᵀv = Σ_l Σ_j (a_{l−1}V_l + v_b)_nj · d_l,nj`, then one weighted
/// backward accumulation per layer.
fn empirical_fisher<T: Real>(spec: &NetSpec, cache: &ChunkCache<T>, v: &[T], out: &mut [T]) {
    let x = cache.inputs();
    let acts = &cache.acts;
    let n = cache.len();
    let mut s = Array1::<T>::zeros(n);
    for l in 0..spec.num_layers() {
        let slot = spec.slot(l);
        let u = affine(
            &layer_input(&x, acts, l),
            &weights(v, &slot),
            &biases(v, &slot),
        );
        for (i, (ur, dr)) in u.rows().into_iter().zip(cache.deltas[l].rows()).enumerate() {
            s[i] = s[i]
                + ur.iter()
                    .zip(dr)
                    .fold(T::zero(), |acc, (&u, &d)| acc + u * d);
        }
    }
    let scale = T::one() / T::of(n as f64);
    for l in 0..spec.num_layers() {
        let slot = spec.slot(l);
        let mut weighted = cache.deltas[l].clone();
        for (mut row, &si) in weighted.rows_mut().into_iter().zip(&s) {
            row.mapv_inplace(|d| d * si);
        }
        let a = layer_input(&x, acts, l);
        gemm_tn(
            scale,
            &a,
            &weighted.view(),
            T::zero(),
            &mut weights_mut(out, &slot),
        );
        out[slot.biases..slot.end()].fill(T::zero());
        add_scaled(
            &mut out[slot.biases..slot.end()],
            &column_sums(&weighted.view()),
            scale,
        );
    }
}

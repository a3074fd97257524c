//! The network's passes on the GPU: forward, losses, backpropagation and the
//! curvature products, each enqueued as a few cuBLAS GEMMs and fused kernels
//! per layer on buffers the backend owns.

use super::device::{DevBuf, Gpu, Op, M};
use crate::error::{Error, ErrorKind, Result};
use crate::hf::{Chunk, CurvatureKind};
use crate::net::{Activation, Loss};

/// Leading dimension of an activation with `rows` units plus the ones row,
/// padded to 4 floats so that every column starts 16-byte aligned.
pub(super) fn ld_aug(rows: usize) -> usize {
    (rows + 1).next_multiple_of(4)
}

/// Leading dimension of a plain `rows`-row matrix, padded to 4 floats.
pub(super) fn ld_pad(rows: usize) -> usize {
    rows.next_multiple_of(4)
}

/// The loss code the kernels use.
pub(super) fn loss_code(loss: Loss) -> u32 {
    match loss {
        Loss::CrossEntropy => 0,
        Loss::SquaredError => 1,
        Loss::SoftmaxCrossEntropy => 2,
    }
}

/// One weight layer's shape, place in θ and activation.
#[derive(Clone, Copy, Debug)]
pub(super) struct Layer {
    pub(super) fan_in: usize,
    pub(super) fan_out: usize,
    pub(super) weights: usize,
    pub(super) biases: usize,
    pub(super) act: Activation,
}

/// Activations, deltas and loss scratch for passes over up to `cap` examples.
pub(super) struct Workspace {
    pub(super) cap: usize,
    /// Outputs of the hidden layers, augmented with the ones row.
    pub(super) hidden: Vec<DevBuf<f32>>,
    /// Output pre-activations (bias included) and outputs, `s_L × cap`.
    pub(super) z_out: DevBuf<f32>,
    pub(super) y: DevBuf<f32>,
    /// `deltas[l] = ∂ℓ/∂z_l` per example.
    pub(super) deltas: Vec<DevBuf<f32>>,
    /// Per-example losses then errors (2·cap).
    pub(super) per_ex: DevBuf<f64>,
    /// Squared activations and deltas for the statistic (when asked for).
    pub(super) squares: Option<(DevBuf<f32>, DevBuf<f32>)>,
}

/// What curvature products need beyond a workspace.
pub(super) struct Scratch {
    /// `R{z_l}` (Gauss-Newton: `R{a_l}` in place), and the Fisher's temporaries.
    pub(super) rz: Vec<DevBuf<f32>>,
    /// `R{a_l}` of hidden layers (Hessian only).
    pub(super) ra: Vec<DevBuf<f32>>,
    /// `δ_{l+1}·W_{l+1}ᵀ` before the derivative (Hessian only).
    pub(super) pre: Vec<DevBuf<f32>>,
    /// Ping-pong buffers of the backward pass.
    pub(super) back: Vec<DevBuf<f32>>,
    /// Per-example `g_nᵀv` (empirical Fisher only).
    pub(super) s: Option<DevBuf<f32>>,
}

/// The cached curvature chunk.
pub(super) struct CurvatureState {
    pub(super) chunk: Chunk,
    pub(super) kind: CurvatureKind,
    pub(super) theta: DevBuf<f32>,
    pub(super) ws: Workspace,
    pub(super) scratch: Scratch,
}

/// The network's passes, enqueued on the GPU.
pub(super) struct Pass<'a> {
    pub(super) gpu: &'a Gpu,
    pub(super) layers: &'a [Layer],
    pub(super) loss: Loss,
}

impl Pass<'_> {
    fn last(&self) -> usize {
        self.layers.len() - 1
    }

    /// The (augmented) input of layer `l`.
    fn input(&self, ws: &Workspace, x: M, l: usize) -> M {
        if l == 0 {
            x
        } else {
            self.hidden(ws, l - 1)
        }
    }

    /// The output of hidden layer `l` (augmented).
    fn hidden(&self, ws: &Workspace, l: usize) -> M {
        M {
            ptr: ws.hidden[l].ptr(),
            ld: ld_aug(self.layers[l].fan_out),
        }
    }

    /// The per-example deltas of layer `l`.
    fn delta(&self, ws: &Workspace, l: usize) -> M {
        M {
            ptr: ws.deltas[l].ptr(),
            ld: ld_pad(self.layers[l].fan_out),
        }
    }

    /// A per-layer scratch matrix with layer `l`'s output rows.
    fn per_layer(&self, bufs: &[DevBuf<f32>], l: usize) -> M {
        M {
            ptr: bufs[l].ptr(),
            ld: ld_pad(self.layers[l].fan_out),
        }
    }

    fn output(&self, buf: &DevBuf<f32>) -> M {
        M {
            ptr: buf.ptr(),
            ld: self.layers[self.last()].fan_out,
        }
    }

    /// Layer `l`'s weights `W` (column-major `fan_out × fan_in`) in `params`;
    /// with the ones row, the same address read as `fan_out × (fan_in+1)` is `[W | b]`.
    fn weights(&self, params: &DevBuf<f32>, l: usize) -> M {
        let g = &self.layers[l];
        M {
            ptr: params.at(g.weights),
            ld: g.fan_out,
        }
    }

    /// `out = [V_l | v_b] · [a_{l−1}; 1]` over `n` examples: the direction
    /// `v`'s layer-`l` weights applied to that layer's input (with its ones
    /// row), the first term of both R{z_l} and the Fisher's per-example `Jv`.
    fn direction_times_input(
        &self,
        v: &DevBuf<f32>,
        l: usize,
        input: M,
        out: M,
        n: usize,
    ) -> Result<()> {
        let g = &self.layers[l];
        let vw = self.weights(v, l);
        self.gpu.gemm(
            Op::N,
            Op::N,
            (g.fan_out, n, g.fan_in + 1),
            1.0,
            vw,
            input,
            0.0,
            out,
        )
    }

    /// Forward pass over `n` examples from `x` at θ: hidden activations, output
    /// pre-activations and outputs into `ws`.
    pub(super) fn forward(
        &self,
        theta: &DevBuf<f32>,
        x: M,
        ws: &Workspace,
        n: usize,
    ) -> Result<()> {
        for (l, g) in self.layers.iter().enumerate() {
            let inp = self.input(ws, x, l);
            let w = self.weights(theta, l);
            let bias = theta.at(g.biases);
            let dims = (g.fan_out, n, g.fan_in);
            if l < self.last() {
                let out = self.hidden(ws, l);
                self.gpu.gemm(Op::N, Op::N, dims, 1.0, w, inp, 0.0, out)?;
                self.gpu
                    .bias_act(out, bias, None, out, g.fan_out, n, g.act.code())?;
            } else {
                let (z, y) = (self.output(&ws.z_out), self.output(&ws.y));
                self.gpu.gemm(Op::N, Op::N, dims, 1.0, w, inp, 0.0, z)?;
                if g.act == Activation::Softmax {
                    self.gpu.softmax_cols(z, bias, z, y, g.fan_out, n)?;
                } else {
                    self.gpu
                        .bias_act(z, bias, Some(z), y, g.fan_out, n, g.act.code())?;
                }
            }
        }
        Ok(())
    }

    /// Per-example losses of the last forward pass summed into `sums_at`
    /// (loss, error); with `delta`, the output deltas into `ws.deltas`.
    pub(super) fn losses(
        &self,
        ws: &Workspace,
        t: M,
        n: usize,
        delta: bool,
        sums_at: u64,
    ) -> Result<()> {
        let last = self.last();
        let (z, y) = (self.output(&ws.z_out), self.output(&ws.y));
        let d = delta.then(|| self.delta(ws, last));
        let rows = self.layers[last].fan_out;
        let per_ex = ws.per_ex.ptr();
        self.gpu
            .loss_cols(z, y, t, rows, n, loss_code(self.loss), per_ex, d)?;
        self.gpu.sum_losses(per_ex, n, sums_at)
    }

    /// Backpropagates the output deltas of the last pass, adding
    /// `scale·Σ_n ∇ℓ_n` to `grad` and, with `stat`, `scale·Σ_n (∇ℓ_n)²`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn backward_gradient(
        &self,
        theta: &DevBuf<f32>,
        x: M,
        ws: &Workspace,
        n: usize,
        scale: f32,
        grad: &DevBuf<f32>,
        stat: Option<&DevBuf<f32>>,
    ) -> Result<()> {
        for l in (0..self.layers.len()).rev() {
            let g = self.layers[l];
            let (inp, d) = (self.input(ws, x, l), self.delta(ws, l));
            let dims = (g.fan_out, g.fan_in + 1, n);
            let gw = self.weights(grad, l);
            self.gpu.gemm(Op::N, Op::T, dims, scale, d, inp, 1.0, gw)?;
            if let (Some(stat), Some((sq_a, sq_d))) = (stat, ws.squares.as_ref()) {
                let max_in = self.layers.iter().map(|g| g.fan_in).max().unwrap_or(1);
                let max_out = self.layers.iter().map(|g| g.fan_out).max().unwrap_or(1);
                let sa = M {
                    ptr: sq_a.ptr(),
                    ld: ld_aug(max_in),
                };
                let sd = M {
                    ptr: sq_d.ptr(),
                    ld: ld_pad(max_out),
                };
                self.gpu.square(sd, d, g.fan_out, n)?;
                self.gpu.square(sa, inp, g.fan_in + 1, n)?;
                let sw = self.weights(stat, l);
                self.gpu.gemm(Op::N, Op::T, dims, scale, sd, sa, 1.0, sw)?;
            }
            if l > 0 {
                self.delta_to_previous(theta, ws, l, None, n)?;
            }
        }
        Ok(())
    }

    /// `δ_{l−1} = (W_lᵀ δ_l) ⊙ f'(a_{l−1})`; with `pre`, the product before
    /// the derivative is kept there (the Hessian's cached term).
    fn delta_to_previous(
        &self,
        theta: &DevBuf<f32>,
        ws: &Workspace,
        l: usize,
        pre: Option<M>,
        n: usize,
    ) -> Result<()> {
        let g = self.layers[l];
        let prev = self.delta(ws, l - 1);
        let target = pre.unwrap_or(prev);
        let dims = (g.fan_in, n, g.fan_out);
        let w = self.weights(theta, l);
        self.gpu
            .gemm(Op::T, Op::N, dims, 1.0, w, self.delta(ws, l), 0.0, target)?;
        let act = self.layers[l - 1].act.code();
        self.gpu
            .deriv_mul(prev, target, self.hidden(ws, l - 1), g.fan_in, n, act)
    }

    /// All per-example deltas of a chunk (Hessian and Fisher caches).
    pub(super) fn chunk_deltas(
        &self,
        theta: &DevBuf<f32>,
        ws: &Workspace,
        scratch: &Scratch,
        t: M,
        n: usize,
        sums_at: u64,
    ) -> Result<()> {
        self.losses(ws, t, n, true, sums_at)?;
        for l in (1..self.layers.len()).rev() {
            let pre = (!scratch.pre.is_empty()).then(|| self.per_layer(&scratch.pre, l - 1));
            self.delta_to_previous(theta, ws, l, pre, n)?;
        }
        Ok(())
    }

    /// Gauss-Newton (Schraudolph's R-op) or, with `hessian`, exact Hessian
    /// (Pearlmutter) product `out = C·v` on the cached chunk.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn gn_or_hessian(
        &self,
        state: &CurvatureState,
        v: &DevBuf<f32>,
        out: &DevBuf<f32>,
        x: M,
        t: M,
        n: usize,
        hessian: bool,
    ) -> Result<()> {
        let (ws, sc, theta) = (&state.ws, &state.scratch, &state.theta);
        let last = self.last();
        let ra = |l: usize| {
            if hessian {
                self.per_layer(&sc.ra, l)
            } else {
                self.per_layer(&sc.rz, l)
            }
        };
        // R-forward: R{z_l} = [V|v_b]·[a_{l−1}; 1] + W_l·R{a_{l−1}}.
        for (l, g) in self.layers.iter().enumerate() {
            let (inp, rz) = (self.input(ws, x, l), self.per_layer(&sc.rz, l));
            self.direction_times_input(v, l, inp, rz, n)?;
            if l > 0 {
                let w = self.weights(theta, l);
                self.gpu.gemm(
                    Op::N,
                    Op::N,
                    (g.fan_out, n, g.fan_in),
                    1.0,
                    w,
                    ra(l - 1),
                    1.0,
                    rz,
                )?;
            }
            if l < last {
                let a = self.hidden(ws, l);
                self.gpu
                    .deriv_mul(ra(l), rz, a, g.fan_out, n, g.act.code())?;
            } else {
                // R{∂ℓ/∂z_L} = H_L · R{z_L}, in place.
                let y = self.output(&ws.y);
                if self.loss == Loss::SoftmaxCrossEntropy {
                    self.gpu.loss_hess_softmax(rz, y, t, g.fan_out, n)?;
                } else {
                    self.gpu
                        .loss_hess_elem(rz, y, g.fan_out, n, loss_code(self.loss))?;
                }
            }
        }
        // Backward: out_l = mean_n R{δ_l}·[a_{l−1}; 1]ᵀ (+ δ_l·R{a_{l−1}}ᵀ).
        let scale = 1.0 / n as f32;
        let mut rd = self.per_layer(&sc.rz, last);
        for l in (0..self.layers.len()).rev() {
            let g = self.layers[l];
            let inp = self.input(ws, x, l);
            let ow = self.weights(out, l);
            self.gpu.gemm(
                Op::N,
                Op::T,
                (g.fan_out, g.fan_in + 1, n),
                scale,
                rd,
                inp,
                0.0,
                ow,
            )?;
            if l == 0 {
                break;
            }
            let d_l = self.delta(ws, l);
            if hessian {
                self.gpu.gemm(
                    Op::N,
                    Op::T,
                    (g.fan_out, g.fan_in, n),
                    scale,
                    d_l,
                    ra(l - 1),
                    1.0,
                    ow,
                )?;
            }
            let p = M {
                ptr: sc.back[(last - l) % 2].ptr(),
                ld: ld_pad(g.fan_in),
            };
            let dims = (g.fan_in, n, g.fan_out);
            let w = self.weights(theta, l);
            self.gpu.gemm(Op::T, Op::N, dims, 1.0, w, rd, 0.0, p)?;
            let (a, act) = (self.hidden(ws, l - 1), self.layers[l - 1].act.code());
            if hessian {
                let vw = self.weights(v, l);
                self.gpu.gemm(Op::T, Op::N, dims, 1.0, vw, d_l, 1.0, p)?;
                let (e, rz) = (
                    self.per_layer(&sc.pre, l - 1),
                    self.per_layer(&sc.rz, l - 1),
                );
                self.gpu.hess_back(p, e, a, rz, g.fan_in, n, act)?;
            } else {
                self.gpu.deriv_mul(p, p, a, g.fan_in, n, act)?;
            }
            rd = p;
        }
        Ok(())
    }

    /// Empirical Fisher product `out = mean_n g_n (g_nᵀ v)`.
    pub(super) fn fisher(
        &self,
        state: &CurvatureState,
        v: &DevBuf<f32>,
        out: &DevBuf<f32>,
        x: M,
        n: usize,
    ) -> Result<()> {
        let (ws, sc) = (&state.ws, &state.scratch);
        let s = sc.s.as_ref().ok_or_else(|| {
            Error::new(ErrorKind::Internal, "the Fisher scratch was not allocated")
        })?;
        self.gpu.zero(s.ptr(), n)?;
        for (l, g) in self.layers.iter().enumerate() {
            let (inp, u) = (self.input(ws, x, l), self.per_layer(&sc.rz, l));
            self.direction_times_input(v, l, inp, u, n)?;
            self.gpu
                .col_dot_acc(u, self.delta(ws, l), g.fan_out, n, s.ptr())?;
        }
        let scale = 1.0 / n as f32;
        for (l, g) in self.layers.iter().enumerate() {
            let (inp, wd) = (self.input(ws, x, l), self.per_layer(&sc.rz, l));
            self.gpu
                .scale_cols(wd, self.delta(ws, l), s.ptr(), g.fan_out, n)?;
            let ow = self.weights(out, l);
            self.gpu.gemm(
                Op::N,
                Op::T,
                (g.fan_out, g.fan_in + 1, n),
                scale,
                wd,
                inp,
                0.0,
                ow,
            )?;
        }
        Ok(())
    }
}

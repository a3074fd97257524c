//! CG on the device: the host's CG loop ([`crate::hf::cg::solve_in`]) over
//! vectors that stay in GPU memory.
//!
//! Per CG iteration the host launches the curvature product, one fused
//! kernel for the weight cost, the damping and the `pᵀAp` partial sums, the
//! update kernel (with the `rᵀy` and φ partial sums) and the direction
//! kernel, and reads back three f64 scalars in two waits. The right-hand
//! side, the preconditioner, the weight-cost mask and the starting point go
//! up once per solve; the kept iterates (at most 16 with the default grid)
//! come down as they are reached, for backtracking on the host.
//!
//! The element-wise arithmetic is the host solver's, bit for bit (see
//! `kernels/cg.cu`); sums are formed per block and added in block order, so
//! a device solve is deterministic but differs from the host's in the last
//! bits of its scalars.

use super::device::{cg_blocks, DevBuf};
use super::CudaBackend;
use crate::backend::WeightCost;
use crate::error::Result;
use crate::hf::cg::{CgSpace, CgState, DampedSystem};

/// Parameter-sized device vectors of one solve: x, r, y, p, Ap, b, the
/// preconditioner and the weight-cost mask.
pub(super) const CG_DEVICE_VECTORS: usize = 8;

/// Device bytes of one solve over `n` parameters (its vectors and the
/// partial sums of two quantities per block).
pub(super) fn cg_device_bytes(n: usize) -> u128 {
    4 * (CG_DEVICE_VECTORS * n) as u128 + 8 * (2 * cg_blocks(n) + 2) as u128
}

/// The damped system `(C + wc·diag(mask) + λI) x = b` of one solve, with C
/// the backend's cached curvature chunk; vectors in device memory.
pub(super) struct DeviceSpace<'a> {
    backend: &'a mut CudaBackend,
    n: usize,
    lambda: f64,
    weight_cost: f32,
    mask: DevBuf<f32>,
    b: DevBuf<f32>,
    precond: Option<DevBuf<f32>>,
    /// Per-block partial sums, two quantities.
    partial: DevBuf<f64>,
    /// The finished sums.
    sums: DevBuf<f64>,
}

impl<'a> DeviceSpace<'a> {
    /// Uploads `system`'s right-hand side and preconditioner and the weight
    /// cost's mask (lengths checked by the caller).
    pub(super) fn new(
        backend: &'a mut CudaBackend,
        system: &DampedSystem<'_>,
        weight_cost: WeightCost<'_>,
    ) -> Result<Self> {
        let n = system.b.len();
        let b = backend.device_copy(system.b)?;
        let mask = backend.device_copy(weight_cost.mask)?;
        let precond = system.precond.map(|m| backend.device_copy(m)).transpose()?;
        let partial = backend.gpu.alloc::<f64>(2 * cg_blocks(n))?;
        let sums = backend.gpu.alloc::<f64>(2)?;
        Ok(DeviceSpace {
            backend,
            n,
            lambda: system.lambda,
            weight_cost: weight_cost.coefficient,
            mask,
            b,
            precond,
            partial,
            sums,
        })
    }

    fn precond_ptr(&self) -> u64 {
        self.precond.as_ref().map_or(0, DevBuf::ptr)
    }

    /// Enqueues `out = (C + wc·diag(mask) + λI)·v`, leaving the partial sums
    /// of `vᵀout` behind.
    fn damped_product(&mut self, v: &DevBuf<f32>, out: &DevBuf<f32>) -> Result<()> {
        self.backend.enqueue_product_into(v, out)?;
        self.backend.gpu.cg_damp(
            out.ptr(),
            v.ptr(),
            self.mask.ptr(),
            self.weight_cost,
            self.lambda,
            self.n,
            self.partial.ptr(),
        )
    }

    /// Finishes the first `count` partial sums the last kernel left.
    fn finish(&self, count: usize) -> Result<Vec<f64>> {
        self.backend
            .gpu
            .cg_finish(self.partial.ptr(), self.n, count, self.sums.ptr())
    }

    /// The `(rᵀy, φ)` of the partial sums a start or update kernel left.
    fn residual_sums(&self) -> Result<(f64, f64)> {
        let sums = self.finish(2)?;
        Ok((sums[0], 0.5 * sums[1]))
    }
}

impl CgSpace for DeviceSpace<'_> {
    type Vector = DevBuf<f32>;

    fn len(&self) -> usize {
        self.n
    }

    fn upload(&mut self, x: &[f32]) -> Result<DevBuf<f32>> {
        self.backend.device_copy(x)
    }

    fn zeros(&mut self) -> Result<DevBuf<f32>> {
        self.backend.gpu.alloc(self.n)
    }

    fn download(&mut self, x: &DevBuf<f32>) -> Result<Vec<f32>> {
        let mut host = vec![0f32; self.n];
        self.backend.gpu.download(x.ptr(), &mut host)?;
        Ok(host)
    }

    fn residual_product(&mut self, s: &mut CgState<DevBuf<f32>>) -> Result<()> {
        self.damped_product(&s.x, &s.r)
    }

    fn start(&mut self, s: &mut CgState<DevBuf<f32>>) -> Result<(f64, f64)> {
        let m = self.precond_ptr();
        self.backend.gpu.cg_start(
            (s.r.ptr(), s.y.ptr(), s.p.ptr()),
            s.x.ptr(),
            self.b.ptr(),
            m,
            self.n,
            self.partial.ptr(),
        )?;
        self.residual_sums()
    }

    fn curvature_along_direction(&mut self, s: &mut CgState<DevBuf<f32>>) -> Result<f64> {
        self.damped_product(&s.p, &s.ap)?;
        Ok(self.finish(1)?[0])
    }

    fn update(&mut self, alpha: f64, s: &mut CgState<DevBuf<f32>>) -> Result<(f64, f64)> {
        let m = self.precond_ptr();
        self.backend.gpu.cg_update(
            (s.x.ptr(), s.r.ptr(), s.y.ptr()),
            (s.p.ptr(), s.ap.ptr()),
            self.b.ptr(),
            m,
            alpha,
            self.n,
            self.partial.ptr(),
        )?;
        self.residual_sums()
    }

    fn next_direction(&mut self, beta: f64, s: &mut CgState<DevBuf<f32>>) -> Result<()> {
        self.backend
            .gpu
            .cg_direction(s.p.ptr(), s.y.ptr(), beta, self.n)
    }
}

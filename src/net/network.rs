//! A network: its architecture and one parameter vector, with save and load.

use std::path::Path;

use ndarray::{Array2, ArrayView2};

use super::activation::Activation;
use super::init::{initial_params, Init};
use super::spec::NetSpec;
use crate::backend::{check_data_fits, evaluate_dataset};
use crate::checkpoint::{decode, ByteReader, ByteWriter, Container};
use crate::curvature::{curvature_product, fd_hessian_vector, forward, ChunkCache};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::hf::CurvatureKind;

/// The kind tag of network files.
pub const NETWORK_FILE_KIND: &str = "hf-network";

/// A feed-forward network with its parameters θ (layout: [`NetSpec`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    spec: NetSpec,
    params: Vec<f32>,
}

/// Loss, error and gradient of a network on a data set.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    /// Mean per-example loss (no weight cost).
    pub loss: f64,
    /// Mean per-example sum of squared errors (Table 2's error).
    pub error: f64,
}

impl Network {
    /// A network with freshly initialised parameters.
    pub fn new(spec: NetSpec, init: Init, seed: u64) -> Result<Self> {
        let params = initial_params(&spec, init, seed)?;
        Ok(Network { spec, params })
    }

    /// A network with the given parameters (length and finiteness checked).
    pub fn with_params(spec: NetSpec, params: Vec<f32>) -> Result<Self> {
        check_params(&spec, &params)?;
        Ok(Network { spec, params })
    }

    /// The architecture.
    pub fn spec(&self) -> &NetSpec {
        &self.spec
    }
    /// The parameter vector θ.
    pub fn params(&self) -> &[f32] {
        &self.params
    }
    /// Replaces θ (length and finiteness checked; on error θ is unchanged).
    pub fn set_params(&mut self, params: &[f32]) -> Result<()> {
        check_params(&self.spec, params)?;
        self.params.copy_from_slice(params);
        Ok(())
    }

    /// Outputs for the rows of `x` (N × input_dim), N × output_dim.
    pub fn predict(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        self.check_inputs(x.ncols())?;
        let mut acts = forward(&self.spec, &self.params, x);
        Ok(acts.layers.pop().unwrap_or_default())
    }

    /// Mean loss and error on `data`; with `grad`, writes the mean gradient
    /// (no weight cost). Runs in slices of `eval_chunk` examples (0 = default)
    /// so memory stays bounded.
    pub fn evaluate(
        &self,
        data: &Dataset,
        grad: Option<&mut [f32]>,
        eval_chunk: usize,
    ) -> Result<Evaluation> {
        let pass = evaluate_dataset(&self.spec, &self.params, data, eval_chunk, grad, None)?;
        Ok(Evaluation {
            loss: pass.loss,
            error: pass.error,
        })
    }

    /// `out = C·v` on all of `data` (mean over its examples, no weight cost),
    /// `C` the Gauss-Newton matrix, Hessian or empirical Fisher.
    pub fn curvature_product(
        &self,
        data: &Dataset,
        kind: CurvatureKind,
        v: &[f32],
        out: &mut [f32],
    ) -> Result<()> {
        check_data_fits(&self.spec, data, "the")?;
        self.check_vector("v", v.len())?;
        self.check_vector("output buffer", out.len())?;
        if let Some(i) = v.iter().position(|x| !x.is_finite()) {
            return Err(Error::non_finite(format!(
                "v[{i}] = {} is not finite",
                v[i]
            )));
        }
        // The cache refers to the set's rows instead of copying them (and
        // keeps an autoencoder's targets only once, as the inputs).
        let (x, t) = data.shared_rows(0, data.len())?;
        let cache = ChunkCache::over_shared_rows(&self.spec, &self.params, x, t, None, kind);
        curvature_product(&self.spec, &self.params, &cache, v, out);
        Ok(())
    }

    /// `H·v` by central differences of the gradient with step `h` (computed
    /// in f64; for checks).
    pub fn hessian_product_fd(
        &self,
        data: &Dataset,
        v: &[f32],
        h: f64,
        out: &mut [f32],
    ) -> Result<()> {
        check_data_fits(&self.spec, data, "the")?;
        self.check_vector("v", v.len())?;
        self.check_vector("output buffer", out.len())?;
        if !(h.is_finite() && h > 0.0) {
            return Err(Error::out_of_range(format!(
                "finite-difference step must be > 0, got {h}"
            )));
        }
        let to64 = |m: ArrayView2<f32>| m.mapv(f64::from);
        let theta: Vec<f64> = self.params.iter().map(|&p| p as f64).collect();
        let v64: Vec<f64> = v.iter().map(|&p| p as f64).collect();
        let x = to64(data.input_rows(0, data.len()));
        let t = to64(data.target_rows(0, data.len()));
        let hv = fd_hessian_vector(&self.spec, &theta, x.view(), t.view(), &v64, h);
        for (o, h) in out.iter_mut().zip(hv) {
            *o = h as f32;
        }
        Ok(())
    }

    /// Serialises the network (architecture and θ) as a checksummed container.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut arch = ByteWriter::new();
        arch.u32(self.spec.sizes().len() as u32);
        for &s in self.spec.sizes() {
            arch.u64(s as u64);
        }
        for a in self.spec.activations() {
            arch.u32(a.code());
        }
        let mut params = ByteWriter::new();
        params.f32s(&self.params);
        let mut c = Container::new(NETWORK_FILE_KIND);
        c.add("architecture", arch.into_bytes());
        c.add("params", params.into_bytes());
        c.encode()
    }

    /// Parses bytes written by [`Network::to_bytes`]; never panics on bad input.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let c = decode(bytes)?;
        c.expect_kind(NETWORK_FILE_KIND)?;
        let mut r = ByteReader::new(c.require("architecture")?);
        let n_sizes = r.u32()? as usize;
        if !(2..=1024).contains(&n_sizes) {
            return Err(Error::format(format!(
                "network file lists {n_sizes} layers"
            )));
        }
        let mut sizes = Vec::with_capacity(n_sizes);
        for _ in 0..n_sizes {
            sizes.push(
                usize::try_from(r.u64()?).map_err(|_| Error::format("layer size overflows"))?,
            );
        }
        let mut acts = Vec::with_capacity(n_sizes - 1);
        for _ in 1..n_sizes {
            let code = r.u32()?;
            acts.push(
                Activation::from_code(code)
                    .ok_or_else(|| Error::format(format!("unknown activation code {code}")))?,
            );
        }
        r.finish()?;
        let spec = NetSpec::new(sizes, acts)
            .map_err(|e| Error::format(format!("bad architecture: {e}")))?;
        let mut r = ByteReader::new(c.require("params")?);
        let params = r.f32s()?;
        r.finish()?;
        Network::with_params(spec, params).map_err(|e| Error::format(e.message().to_string()))
    }

    /// Writes the network to `path` atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::checkpoint::write_atomic(path, &self.to_bytes())
    }

    /// Reads a network written by [`Network::save`].
    pub fn load(path: &Path) -> Result<Self> {
        let bytes =
            std::fs::read(path).map_err(|e| Error::io(path, "cannot read network file", e))?;
        Network::from_bytes(&bytes).map_err(|e| e.context(path.display()))
    }

    fn check_inputs(&self, width: usize) -> Result<()> {
        if width != self.spec.input_dim() {
            return Err(Error::shape(format!(
                "inputs are {width} wide, the network takes {}",
                self.spec.input_dim()
            )));
        }
        Ok(())
    }

    fn check_vector(&self, what: &str, len: usize) -> Result<()> {
        if len != self.params.len() {
            return Err(Error::shape(format!(
                "{what} has {len} entries, the network has {} parameters",
                self.params.len()
            )));
        }
        Ok(())
    }
}

fn check_params(spec: &NetSpec, params: &[f32]) -> Result<()> {
    if params.len() != spec.num_params() {
        return Err(Error::shape(format!(
            "parameter vector has {} entries, the network {} has {}",
            params.len(),
            spec.describe(),
            spec.num_params()
        )));
    }
    if let Some(i) = params.iter().position(|p| !p.is_finite()) {
        return Err(Error::non_finite(format!(
            "parameter {i} = {} is not finite",
            params[i]
        )));
    }
    Ok(())
}

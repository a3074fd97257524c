//! The in-memory data set: inputs and targets as N×D row-major `f32`
//! matrices (one example per row; the same bytes as a D×N column-major
//! MATLAB or Julia array, so hosts never transpose).

use std::sync::Arc;

use ndarray::ArrayView2;

use crate::curvature::SharedRows;
use crate::error::{Error, Result};
use crate::rng::Rng;

/// A set of examples. For autoencoders the targets share the inputs' storage.
#[derive(Clone, Debug)]
pub struct Dataset {
    n: usize,
    input_dim: usize,
    target_dim: usize,
    inputs: Arc<Vec<f32>>,
    targets: Arc<Vec<f32>>,
}

fn checked_len(n: usize, d: usize, what: &str) -> Result<usize> {
    n.checked_mul(d)
        .ok_or_else(|| Error::invalid(format!("{what}: {n} × {d} overflows")))
}

/// Checks that `values` is a finite `n × dim` matrix with n, dim ≥ 1.
fn check_matrix(n: usize, dim: usize, values: &[f32], what: &str) -> Result<()> {
    if n == 0 || dim == 0 {
        return Err(Error::invalid(format!(
            "{what}: need at least one example and one dimension (got {n} × {dim})"
        )));
    }
    let want = checked_len(n, dim, what)?;
    if values.len() != want {
        return Err(Error::shape(format!(
            "{what} have {} values, expected {n} × {dim} = {want}",
            values.len()
        )));
    }
    check_finite(values, dim, what)
}

fn check_finite(values: &[f32], dim: usize, what: &str) -> Result<()> {
    match values.iter().position(|x| !x.is_finite()) {
        None => Ok(()),
        Some(i) => Err(Error::non_finite(format!(
            "{what}: value {} at example {}, component {} is not finite",
            values[i],
            i / dim.max(1),
            i % dim.max(1)
        ))),
    }
}

impl Dataset {
    /// A supervised data set; `inputs` is `n × input_dim`, `targets` is
    /// `n × target_dim`, both row-major. Sizes and finiteness are checked.
    pub fn new(
        n: usize,
        input_dim: usize,
        inputs: Vec<f32>,
        target_dim: usize,
        targets: Vec<f32>,
    ) -> Result<Self> {
        check_matrix(n, input_dim, &inputs, "inputs")?;
        check_matrix(n, target_dim, &targets, "targets")?;
        Ok(Dataset {
            n,
            input_dim,
            target_dim,
            inputs: Arc::new(inputs),
            targets: Arc::new(targets),
        })
    }

    /// An autoencoder data set: the targets are the inputs (shared, not copied).
    pub fn autoencoder(n: usize, dim: usize, inputs: Vec<f32>) -> Result<Self> {
        check_matrix(n, dim, &inputs, "inputs")?;
        let inputs = Arc::new(inputs);
        Ok(Dataset {
            n,
            input_dim: dim,
            target_dim: dim,
            targets: inputs.clone(),
            inputs,
        })
    }

    /// Number of examples N.
    pub fn len(&self) -> usize {
        self.n
    }
    /// Always false: a data set has at least one example.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }
    /// Input dimension.
    pub fn input_dim(&self) -> usize {
        self.input_dim
    }
    /// Target dimension.
    pub fn target_dim(&self) -> usize {
        self.target_dim
    }
    /// True when the targets are the inputs (an autoencoder set).
    pub fn is_autoencoder(&self) -> bool {
        Arc::ptr_eq(&self.inputs, &self.targets)
    }
    /// All inputs, row-major.
    pub fn inputs(&self) -> &[f32] {
        &self.inputs
    }
    /// All targets, row-major.
    pub fn targets(&self) -> &[f32] {
        &self.targets
    }
    /// Inputs of examples `start..start+len` as an `len × input_dim` view.
    pub fn input_rows(&self, start: usize, len: usize) -> ArrayView2<'_, f32> {
        rows(&self.inputs, self.input_dim, start, len)
    }
    /// Targets of examples `start..start+len` as an `len × target_dim` view.
    pub fn target_rows(&self, start: usize, len: usize) -> ArrayView2<'_, f32> {
        rows(&self.targets, self.target_dim, start, len)
    }

    /// Inputs and targets of examples `start..start+len` sharing this
    /// set's storage, for a cache that outlives a borrow of the set; the
    /// targets are `None` when they are the inputs (an autoencoder set), so
    /// that a user keeps them once. `OutOfRange` when the examples are not
    /// all in the set.
    pub(crate) fn shared_rows(
        &self,
        start: usize,
        len: usize,
    ) -> Result<(SharedRows<f32>, Option<SharedRows<f32>>)> {
        let outside = || {
            Error::out_of_range(format!(
                "examples {start}..{start}+{len} lie outside the {} examples",
                self.n
            ))
        };
        let x = SharedRows::new(Arc::clone(&self.inputs), start, len, self.input_dim);
        let x = x.ok_or_else(outside)?;
        if self.is_autoencoder() {
            return Ok((x, None));
        }
        let t = SharedRows::new(Arc::clone(&self.targets), start, len, self.target_dim);
        Ok((x, Some(t.ok_or_else(outside)?)))
    }

    /// A new data set holding the examples at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Result<Self> {
        if let Some(&bad) = indices.iter().find(|&&i| i >= self.n) {
            return Err(Error::out_of_range(format!(
                "example index {bad} out of range 0..{}",
                self.n
            )));
        }
        let gather = |src: &[f32], d: usize| -> Vec<f32> {
            let mut out = Vec::with_capacity(indices.len() * d);
            for &i in indices {
                out.extend_from_slice(&src[i * d..(i + 1) * d]);
            }
            out
        };
        let inputs = Arc::new(gather(&self.inputs, self.input_dim));
        let targets = if self.is_autoencoder() {
            inputs.clone()
        } else {
            Arc::new(gather(&self.targets, self.target_dim))
        };
        if indices.is_empty() {
            return Err(Error::invalid("selection of zero examples"));
        }
        Ok(Dataset {
            n: indices.len(),
            input_dim: self.input_dim,
            target_dim: self.target_dim,
            inputs,
            targets,
        })
    }

    /// Splits into the first `n_first` examples and the rest.
    pub fn split_at(&self, n_first: usize) -> Result<(Self, Self)> {
        if n_first == 0 || n_first >= self.n {
            return Err(Error::out_of_range(format!(
                "split point {n_first} must lie in 1..{}",
                self.n
            )));
        }
        let first: Vec<usize> = (0..n_first).collect();
        let rest: Vec<usize> = (n_first..self.n).collect();
        Ok((self.select(&first)?, self.select(&rest)?))
    }

    /// A copy with the examples in a seeded random order.
    pub fn shuffled(&self, seed: u64) -> Result<Self> {
        let mut order: Vec<usize> = (0..self.n).collect();
        Rng::new(seed).shuffle(&mut order);
        self.select(&order)
    }

    /// Per-column mean and standard deviation of the inputs (in f64, over all
    /// examples); a constant column gets standard deviation 1.
    pub fn input_column_stats(&self) -> (Vec<f64>, Vec<f64>) {
        let d = self.input_dim;
        let n = self.n as f64;
        let mut mean = vec![0.0f64; d];
        for row in self.inputs.chunks_exact(d) {
            for (m, &x) in mean.iter_mut().zip(row) {
                *m += x as f64;
            }
        }
        mean.iter_mut().for_each(|m| *m /= n);
        let mut var = vec![0.0f64; d];
        for row in self.inputs.chunks_exact(d) {
            for ((v, &x), &m) in var.iter_mut().zip(row).zip(&mean) {
                *v += (x as f64 - m).powi(2);
            }
        }
        let std = var
            .iter()
            .map(|&v| {
                let s = (v / n).sqrt();
                if s > 1e-12 {
                    s
                } else {
                    1.0
                }
            })
            .collect();
        (mean, std)
    }

    /// An autoencoder set whose inputs (and targets) are `(x − mean)/std`
    /// per column, with statistics usually taken from the training set.
    pub fn standardized(&self, mean: &[f64], std: &[f64]) -> Result<Self> {
        if mean.len() != self.input_dim || std.len() != self.input_dim {
            return Err(Error::shape(format!(
                "standardisation needs {} means and deviations, got {} and {}",
                self.input_dim,
                mean.len(),
                std.len()
            )));
        }
        let values: Vec<f32> = self
            .inputs
            .chunks_exact(self.input_dim)
            .flat_map(|row| {
                row.iter()
                    .zip(mean)
                    .zip(std)
                    .map(|((&x, &m), &s)| ((x as f64 - m) / s) as f32)
            })
            .collect();
        Dataset::autoencoder(self.n, self.input_dim, values)
    }

    /// Rescales inputs (and targets, if separate) affinely so that their
    /// overall minimum is 0 and maximum 1. A constant set becomes all zeros.
    pub fn scaled_to_unit(&self) -> Self {
        let scale = |v: &[f32]| -> Vec<f32> {
            let (lo, hi) = v
                .iter()
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &x| {
                    (lo.min(x), hi.max(x))
                });
            let span = hi - lo;
            if span > 0.0 {
                v.iter().map(|&x| (x - lo) / span).collect()
            } else {
                vec![0.0; v.len()]
            }
        };
        let inputs = Arc::new(scale(&self.inputs));
        let targets = if self.is_autoencoder() {
            inputs.clone()
        } else {
            Arc::new(scale(&self.targets))
        };
        Dataset {
            inputs,
            targets,
            ..self.clone()
        }
    }
}

fn rows(values: &[f32], dim: usize, start: usize, len: usize) -> ArrayView2<'_, f32> {
    let slice = &values[start * dim..(start + len) * dim];
    ArrayView2::from_shape((len, dim), slice).expect("row range checked by caller")
}

//! Up-front memory checks, so that an impossible request fails with a clear
//! error instead of the process being killed by the operating system.

use crate::error::{Error, ErrorKind, Result};
use crate::hf::{CurvatureKind, HfConfig};
use crate::net::NetSpec;

/// Memory the operating system reports as available to new allocations, in
/// bytes (`MemAvailable` of `/proc/meminfo`); `None` where unknown.
pub fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// Bytes of `f32` storage for `count` values, saturating.
fn floats(count: u128) -> u128 {
    count.saturating_mul(4)
}

/// An estimate of the peak working memory of training `spec` with `config`
/// on the CPU backend, beyond the data sets themselves: one slice of a full
/// pass (and the remembered recent passes, when the whole set is one
/// slice), the cached curvature chunk with a product's temporaries, and the
/// optimizer's parameter-sized vectors (θ, gradient, statistic,
/// preconditioner, previous direction, CG vectors and the kept CG iterates).
pub fn training_estimate(spec: &NetSpec, config: &HfConfig, num_examples: usize) -> u128 {
    let widths: u128 = spec.sizes()[1..].iter().map(|&s| s as u128).sum();
    let io = (spec.input_dim() + spec.output_dim()) as u128;
    let n = num_examples.max(1) as u128;
    let chunk = match config.chunk_size {
        k if k <= 0 => n,
        k => (k as u128).min(n),
    };
    let eval = match config.eval_chunk_size {
        k if k <= 0 => super::DEFAULT_EVAL_CHUNK as u128,
        k => k as u128,
    }
    .min(n);
    // Activations and deltas of a pass slice, plus GEMM temporaries.
    let pass = eval * (3 * widths + 2 * io);
    // Cached activations with the output pre-activations (and deltas) of the
    // chunk, plus one product's temporaries. The chunk's inputs and targets
    // are rows of the training set that the cache shares, not copies.
    let output = spec.output_dim() as u128;
    let per_example = match config.curvature {
        CurvatureKind::GaussNewton => 3 * widths + output,
        CurvatureKind::EmpiricalFisher => 4 * widths + output,
        CurvatureKind::Hessian => 6 * widths + output,
    };
    let curvature = chunk * per_example;
    // Activations of recent full passes the CPU backend keeps for reuse,
    // beyond the pass slice counted above.
    let eval_setting = usize::try_from(config.eval_chunk_size).unwrap_or(0);
    let remembered = super::remembered_pass_floats(spec, num_examples, eval_setting)
        .map_or(0, |f| f as u128 * (super::REMEMBERED_PASSES as u128 - 1));
    let kept_iterates = 20u128; // ceil(5·1.3^j) up to 250 gives 15, plus the final one
    let vectors = spec.num_params() as u128 * (12 + kept_iterates);
    floats(pass.max(curvature) + curvature.min(pass) / 4 + remembered + vectors)
}

/// Fails with `ErrorKind::ResourceLimit` when `bytes` exceed the available
/// memory (when that is known).
pub fn check_fits(bytes: u128, what: &str) -> Result<()> {
    let Some(available) = available_memory() else {
        return Ok(());
    };
    if bytes > available as u128 {
        return Err(Error::new(
            ErrorKind::ResourceLimit,
            format!(
                "{what} needs about {:.1} GiB but only {:.1} GiB of memory is available; \
                 use a smaller chunk_size / eval_chunk_size or a smaller network",
                bytes as f64 / (1u64 << 30) as f64,
                available as f64 / (1u64 << 30) as f64
            ),
        ));
    }
    Ok(())
}

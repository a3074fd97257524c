//! Up-front memory checks, so that an impossible request fails with a clear
//! error instead of the process being killed by the operating system.

use super::BackendKind;
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
    let vectors = optimizer_vector_floats(spec);
    floats(pass.max(curvature) + curvature.min(pass) / 4 + remembered + vectors)
}

/// Floats of the optimizer's parameter-sized vectors, which stay in host
/// memory whichever backend runs the passes: θ, gradient, statistic,
/// preconditioner, previous direction, CG vectors and the kept CG iterates.
fn optimizer_vector_floats(spec: &NetSpec) -> u128 {
    let kept_iterates = 20u128; // ceil(5·1.3^j) up to 250 gives 15, plus the final one
    spec.num_params() as u128 * (12 + kept_iterates)
}

/// Parameter-sized host buffers of the CUDA backend itself: the page-locked
/// staging buffer of its transfers, and the gradient a pass asked for the
/// statistic alone downloads.
const CUDA_HOST_VECTORS: u128 = 2;

/// An estimate of the peak host memory of training `spec` with `config`
/// on the backend `kind`, beyond the data sets themselves (which are in
/// memory already when it is checked).
///
/// On the CPU backend this is [`training_estimate`]. The CUDA backend
/// uploads the data sets and keeps the passes' activations and the
/// curvature chunk in device memory (checked against the device by its own
/// estimate), so the host holds only the optimizer's parameter-sized
/// vectors and the backend's transfer buffers: nothing that grows with
/// the chunk, the pass slice or the number of examples.
pub fn host_estimate(
    kind: BackendKind,
    spec: &NetSpec,
    config: &HfConfig,
    num_examples: usize,
) -> u128 {
    match kind {
        BackendKind::Cpu => training_estimate(spec, config, num_examples),
        BackendKind::Cuda => {
            floats(optimizer_vector_floats(spec) + spec.num_params() as u128 * CUDA_HOST_VECTORS)
        }
    }
}

/// Fails with `ErrorKind::ResourceLimit` when [`host_estimate`] exceeds the
/// available memory (when that is known); `what` names the run in the message.
pub fn check_host_fits(
    kind: BackendKind,
    spec: &NetSpec,
    config: &HfConfig,
    num_examples: usize,
    what: &str,
) -> Result<()> {
    check_fits(host_estimate(kind, spec, config, num_examples), what)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::Activation;

    fn autoencoder(sizes: &[usize]) -> NetSpec {
        let acts = vec![Activation::Logistic; sizes.len() - 1];
        NetSpec::new(sizes.to_vec(), acts).expect("spec")
    }

    #[test]
    fn cuda_host_estimate_is_the_optimizer_vectors_only() {
        // The MNIST preset's network and chunk.
        let spec = autoencoder(&[784, 1000, 500, 250, 30, 250, 500, 1000, 784]);
        let p = spec.num_params() as u128;
        let config = HfConfig {
            chunk_size: 7500,
            ..HfConfig::default()
        };
        let cuda = host_estimate(BackendKind::Cuda, &spec, &config, 60_000);
        assert_eq!(cuda, 4 * p * (12 + 20 + CUDA_HOST_VECTORS));
        // Nothing that lives on the device: not the chunk, the pass slice,
        // the curvature kind or the number of examples.
        let other = HfConfig {
            chunk_size: 100,
            eval_chunk_size: 100,
            curvature: CurvatureKind::Hessian,
            ..HfConfig::default()
        };
        assert_eq!(host_estimate(BackendKind::Cuda, &spec, &other, 1000), cuda);
        // The CPU backend holds the chunk's and a pass slice's activations too.
        let cpu = host_estimate(BackendKind::Cpu, &spec, &config, 60_000);
        assert_eq!(cpu, training_estimate(&spec, &config, 60_000));
        let chunk_activations = 4 * 7500 * spec.sizes()[1..].iter().sum::<usize>() as u128;
        assert!(cpu > cuda + chunk_activations, "cpu {cpu}, cuda {cuda}");
    }

    #[test]
    fn a_chunk_too_big_for_the_host_is_refused_on_the_cpu_backend_only() {
        let Some(available) = available_memory() else {
            eprintln!("SKIPPED: the available memory is unknown here");
            return;
        };
        // Two billion examples in one chunk through a 2000-wide layer: tens
        // of terabytes of activations on the CPU, a 2 MB optimizer on the host
        // with the CUDA backend.
        let spec = autoencoder(&[2, 2000, 2]);
        let n = 2_000_000_000usize;
        let config = HfConfig {
            chunk_size: n as i64,
            ..HfConfig::default()
        };
        assert!(host_estimate(BackendKind::Cpu, &spec, &config, n) > available as u128);
        let e = check_host_fits(BackendKind::Cpu, &spec, &config, n, "training")
            .expect_err("the CPU backend cannot hold this chunk");
        assert_eq!(e.kind(), ErrorKind::ResourceLimit, "{e}");
        check_host_fits(BackendKind::Cuda, &spec, &config, n, "training")
            .expect("the host holds only parameter-sized vectors");
    }
}

//! The CUDA backend against the CPU backend (built only with `--features cuda`).
//!
//! Where no CUDA device is usable each GPU test prints a loud
//! `SKIPPED: no CUDA device (<reason>)` line and returns; the kernel
//! compilation test needs only the NVRTC library.
//!
//! Tolerances (FP32, different summation orders): relative error in the
//! 2-norm of 1e-4 on the small nets, 1e-3 on the MNIST-sized autoencoder;
//! losses 1e-5 relative. TF32 is only checked loosely (2e-2) and its measured
//! error is printed.

use hessfree::backend::cuda::{compile_kernels, device_estimate, CudaBackend, CudaOptions};
use hessfree::backend::{
    create_backend, create_backend_with, cuda_status, Backend, BackendOptions, CpuBackend, Split,
    WeightCost,
};
use hessfree::data::{curves, Dataset};
use hessfree::hf::cg::{self, CgOptions, CgResult, DampedSystem};
use hessfree::hf::{BackendChoice, Chunk, CurvatureKind, HfConfig, Session};
use hessfree::net::{initial_params, Activation, Init, NetObjective, NetSpec};
use hessfree::rng::Rng;
use hessfree::ErrorKind;

/// The device's name, or `None` after printing why the test is skipped.
fn device() -> Option<String> {
    match cuda_status() {
        Ok(name) => {
            eprintln!("CUDA device: {name}");
            Some(name)
        }
        Err(reason) => {
            eprintln!("SKIPPED: no CUDA device ({reason})");
            None
        }
    }
}

/// `‖a − b‖ / max(‖b‖, tiny)` in f64.
fn rel_err(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len());
    let (mut num, mut den) = (0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        num += (x as f64 - y as f64).powi(2);
        den += (y as f64).powi(2);
    }
    num.sqrt() / den.sqrt().max(1e-30)
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-30)
}

fn gaussian(n: usize, scale: f64, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    (0..n).map(|_| (scale * rng.normal()) as f32).collect()
}

/// θ: the sparse initialisation plus dense noise (so every weight matters).
fn theta_for(spec: &NetSpec, seed: u64) -> Vec<f32> {
    let mut theta = initial_params(spec, Init::default(), seed).unwrap();
    for (t, n) in theta
        .iter_mut()
        .zip(gaussian(spec.num_params(), 0.05, seed + 1))
    {
        *t += n;
    }
    theta
}

/// A supervised data set with inputs in [0, 1] and targets fit for `spec`'s loss.
fn data_for(spec: &NetSpec, n: usize, seed: u64) -> Dataset {
    let mut rng = Rng::new(seed);
    let (d, k) = (spec.input_dim(), spec.output_dim());
    let x: Vec<f32> = (0..n * d).map(|_| rng.uniform() as f32).collect();
    let t: Vec<f32> = match spec.output_activation() {
        Activation::Logistic => (0..n * k).map(|_| rng.uniform() as f32).collect(),
        Activation::Softmax => (0..n)
            .flat_map(|_| {
                let hot = rng.below(k as u64) as usize;
                (0..k).map(move |j| if j == hot { 1.0 } else { 0.0 })
            })
            .collect(),
        _ => (0..n * k).map(|_| rng.normal() as f32).collect(),
    };
    Dataset::new(n, d, x, k, t).unwrap()
}

fn gpu_backend(spec: &NetSpec, train: &Dataset, test: Option<&Dataset>, tf32: bool) -> CudaBackend {
    let options = CudaOptions {
        device: 0,
        tf32,
        eval_chunk: 128,
        curvature: None,
        host_cg: false,
    };
    CudaBackend::new(spec, train, test, options).unwrap()
}

/// Compares every operation of the two backends on one net and data set.
fn compare_backends(spec: &NetSpec, data: &Dataset, tol: f64, tf32: bool) {
    let p = spec.num_params();
    let theta = theta_for(spec, 7);
    let (train, test) = data.split_at(data.len() * 3 / 4).unwrap();
    let mut cpu = CpuBackend::new(spec.clone(), train.clone(), Some(test.clone()), 128).unwrap();
    let mut gpu = gpu_backend(spec, &train, Some(&test), tf32);
    let what = format!("{} ({})", spec.describe(), gpu.name());

    for split in [Split::Train, Split::Test] {
        let (mut g_c, mut s_c) = (vec![0.0; p], vec![0.0; p]);
        let (mut g_g, mut s_g) = (vec![0.0; p], vec![0.0; p]);
        let rc = cpu
            .evaluate(&theta, split, Some(&mut g_c), Some(&mut s_c))
            .unwrap();
        let rg = gpu
            .evaluate(&theta, split, Some(&mut g_g), Some(&mut s_g))
            .unwrap();
        let loss_tol = if tf32 { tol } else { 1e-5 };
        eprintln!(
            "{what} {split:?}: loss {} vs {}, error {} vs {}, grad {:.2e}, stat {:.2e}",
            rg.loss,
            rc.loss,
            rg.error,
            rc.error,
            rel_err(&g_g, &g_c),
            rel_err(&s_g, &s_c)
        );
        assert_eq!(rg.examples, rc.examples);
        assert!(
            rel(rg.loss, rc.loss) < loss_tol,
            "{what}: loss {} vs {}",
            rg.loss,
            rc.loss
        );
        assert!(rel(rg.error, rc.error) < loss_tol, "{what}: error");
        assert!(rel_err(&g_g, &g_c) < tol, "{what}: gradient");
        assert!(rel_err(&s_g, &s_c) < tol, "{what}: statistic");
        let plain = gpu.evaluate(&theta, split, None, None).unwrap();
        assert!(
            rel(plain.loss, rc.loss) < loss_tol,
            "{what}: loss without gradient"
        );
    }

    // Minibatch passes (first-order methods): a range spanning several
    // pass slices, and one inside a slice.
    for (start, len) in [(train.len() / 7, train.len() / 2), (3, 17)] {
        let (mut g_c, mut g_g) = (vec![0.0; p], vec![0.0; p]);
        let rc = cpu
            .evaluate_range(&theta, Split::Train, start, len, Some(&mut g_c))
            .unwrap();
        let rg = gpu
            .evaluate_range(&theta, Split::Train, start, len, Some(&mut g_g))
            .unwrap();
        let loss_tol = if tf32 { tol } else { 1e-5 };
        let e = rel_err(&g_g, &g_c);
        eprintln!(
            "{what} range {start}+{len}: loss {} vs {}, grad {e:.2e}",
            rg.loss, rc.loss
        );
        assert_eq!(rg.examples, len);
        assert!(rel(rg.loss, rc.loss) < loss_tol, "{what}: range loss");
        assert!(rel(rg.error, rc.error) < loss_tol, "{what}: range error");
        assert!(e < tol, "{what}: range gradient {e}");
    }
    for (start, len) in [(0, 0), (train.len() - 1, 2), (usize::MAX, 2)] {
        let e = gpu
            .evaluate_range(&theta, Split::Train, start, len, None)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::OutOfRange, "{e}");
    }

    let chunk = Chunk {
        start: train.len() / 5,
        len: train.len() / 2,
    };
    for kind in [
        CurvatureKind::GaussNewton,
        CurvatureKind::Hessian,
        CurvatureKind::EmpiricalFisher,
    ] {
        cpu.set_chunk(&theta, chunk, kind).unwrap();
        gpu.set_chunk(&theta, chunk, kind).unwrap();
        for seed in 0..2 {
            let v = gaussian(p, 1.0, 100 + seed);
            let (mut oc, mut og) = (vec![0.0; p], vec![0.0; p]);
            cpu.curvature_product(&v, &mut oc).unwrap();
            gpu.curvature_product(&v, &mut og).unwrap();
            let e = rel_err(&og, &oc);
            eprintln!("{what} {kind:?} product: relative error {e:.2e}");
            assert!(e < tol, "{what}: {kind:?} product error {e}");
        }
        let moved: Vec<f32> = theta.iter().map(|t| t * 0.9).collect();
        let (lc, lg) = (
            cpu.chunk_loss(&moved).unwrap(),
            gpu.chunk_loss(&moved).unwrap(),
        );
        let loss_tol = if tf32 { tol } else { 1e-5 };
        assert!(rel(lg, lc) < loss_tol, "{what}: chunk loss {lg} vs {lc}");
    }

    let x = test.input_rows(0, test.len().min(50));
    let (yc, yg) = (
        cpu.predict(&theta, x).unwrap(),
        gpu.predict(&theta, x).unwrap(),
    );
    assert_eq!(yc.dim(), yg.dim());
    let e = rel_err(yg.as_slice().unwrap(), yc.as_slice().unwrap());
    assert!(e < tol, "{what}: predictions {e}");
}

#[test]
fn kernels_compile_with_nvrtc() {
    match compile_kernels((9, 0)) {
        Ok((bytes, cubin)) => {
            let what = if cubin { "sm_90 machine code" } else { "PTX" };
            eprintln!("NVRTC compiled the kernels: {bytes} bytes of {what}");
            assert!(bytes > 1000);
        }
        Err(e)
            if e.kind() == ErrorKind::BackendUnavailable && e.message().contains("not found") =>
        {
            eprintln!("SKIPPED: no NVRTC library ({})", e.message());
        }
        Err(e) => panic!("kernel compilation failed: {e}"),
    }
}

#[test]
fn small_nets_match_cpu() {
    if device().is_none() {
        return;
    }
    use Activation::*;
    let nets = [
        (vec![12, 9, 5, 12], vec![Tanh, Linear, Logistic]),
        (vec![7, 10, 6, 3], vec![Relu, Logistic, Linear]),
        (vec![8, 11, 4], vec![Logistic, Softmax]),
        (vec![5, 3], vec![Linear]),
    ];
    for (sizes, acts) in nets {
        let spec = NetSpec::new(sizes, acts).unwrap();
        let data = data_for(&spec, 400, 3);
        compare_backends(&spec, &data, 1e-4, false);
    }
}

#[test]
fn mnist_sized_autoencoder_matches_cpu() {
    if device().is_none() {
        return;
    }
    let spec = NetSpec::autoencoder(&[784, 1000, 500, 250, 30], Activation::Logistic).unwrap();
    let data = curves(800, 5).unwrap();
    compare_backends(&spec, &data, 1e-3, false);
}

#[test]
fn tf32_stays_close_to_fp32() {
    if device().is_none() {
        return;
    }
    let spec = NetSpec::autoencoder(&[784, 400, 200, 30], Activation::Logistic).unwrap();
    let data = curves(600, 9).unwrap();
    compare_backends(&spec, &data, 2e-2, true);
}

#[test]
fn short_hf_run_follows_the_cpu_trajectory() {
    if device().is_none() {
        return;
    }
    let data = curves(1000, 1).unwrap();
    let (train, test) = data.split_at(800).unwrap();
    let spec = NetSpec::autoencoder(&[784, 100, 30, 6], Activation::Logistic).unwrap();
    let theta = initial_params(&spec, Init::default(), 1).unwrap();
    let config = HfConfig {
        chunk_size: 400,
        ..HfConfig::default()
    };
    let run = |backend: Box<dyn Backend>| -> Vec<f64> {
        let objective = NetObjective::new(backend, config.weight_cost, true).unwrap();
        let mut session = Session::new(objective, &theta, config.clone()).unwrap();
        (0..5)
            .map(|_| {
                let r = session.step().unwrap();
                eprintln!("{}", r.log_line());
                r.train_error.unwrap()
            })
            .collect()
    };
    let cpu = CpuBackend::new(spec.clone(), train.clone(), Some(test.clone()), 0).unwrap();
    let gpu = gpu_backend(&spec, &train, Some(&test), false);
    let (tc, tg) = (run(Box::new(cpu)), run(Box::new(gpu)));
    eprintln!("train error, cpu: {tc:?}\ntrain error, gpu: {tg:?}");
    for (i, (c, g)) in tc.iter().zip(&tg).enumerate() {
        assert!(rel(*g, *c) < 1e-2, "iteration {}: {g} vs {c}", i + 1);
    }
    assert!(tg[4] < 0.8 * tg[0], "the GPU run did not train: {tg:?}");
}

/// A damped system on a cached GPU chunk: b, a preconditioner, a start and
/// the weight-cost mask, for the device-CG tests.
struct CgProblem {
    b: Vec<f32>,
    m: Vec<f32>,
    x0: Vec<f32>,
    mask: Vec<f32>,
}

fn cg_problem(spec: &NetSpec) -> CgProblem {
    let p = spec.num_params();
    CgProblem {
        b: gaussian(p, 1.0, 21),
        m: gaussian(p, 1.0, 22).iter().map(|v| 1.0 + v.abs()).collect(),
        x0: gaussian(p, 0.01, 23),
        mask: spec.weight_cost_mask(true),
    }
}

const CG_LAMBDA: f64 = 0.5;
const CG_WEIGHT_COST: f32 = 2e-5;

fn device_solve(gpu: &mut CudaBackend, pr: &CgProblem, opts: &CgOptions) -> Option<CgResult> {
    let system = DampedSystem {
        lambda: CG_LAMBDA,
        b: &pr.b,
        precond: Some(&pr.m),
    };
    let wc = WeightCost {
        coefficient: CG_WEIGHT_COST,
        mask: &pr.mask,
    };
    gpu.solve_damped(&system, wc, &pr.x0, opts).unwrap()
}

/// CG with its vectors on the GPU against the host CG loop over the same
/// GPU products (the path before the device CG): the same stop, φ within
/// 1e-6 relative at every iteration and the same kept iterates within 1e-4.
/// Only the sums' order differs. Two device solves agree bit for bit.
#[test]
fn device_cg_matches_host_cg() {
    if device().is_none() {
        return;
    }
    let spec = NetSpec::autoencoder(&[784, 200, 50, 6], Activation::Logistic).unwrap();
    let data = curves(500, 4).unwrap();
    let mut gpu = gpu_backend(&spec, &data, None, false);
    let theta = theta_for(&spec, 5);
    gpu.set_chunk(
        &theta,
        Chunk { start: 0, len: 500 },
        CurvatureKind::GaussNewton,
    )
    .unwrap();
    let pr = cg_problem(&spec);
    let opts = CgOptions {
        max_iters: 40,
        ..CgOptions::default()
    };
    let on_device = device_solve(&mut gpu, &pr, &opts).expect("the CUDA backend offers CG");
    let again = device_solve(&mut gpu, &pr, &opts).unwrap();
    assert_eq!(on_device, again, "two device solves differ");

    let mask = pr.mask.clone();
    let mut damped = |v: &[f32], out: &mut [f32]| -> hessfree::Result<()> {
        gpu.curvature_product(v, out)?;
        for ((o, &vi), &m) in out.iter_mut().zip(v).zip(&mask) {
            *o += CG_WEIGHT_COST * m * vi;
        }
        for (o, &vi) in out.iter_mut().zip(v) {
            *o = (*o as f64 + CG_LAMBDA * vi as f64) as f32;
        }
        Ok(())
    };
    let host = cg::solve(&mut damped, &pr.b, &pr.x0, Some(&pr.m), &opts).unwrap();
    eprintln!(
        "device CG: {} iterations ({}), host CG: {} ({}); final φ {} vs {}",
        on_device.iterations,
        on_device.stop.name(),
        host.iterations,
        host.stop.name(),
        on_device.phi.last().unwrap(),
        host.phi.last().unwrap()
    );
    assert_eq!(on_device.stop, host.stop);
    assert_eq!(on_device.iterations, host.iterations);
    assert_eq!(on_device.products, host.products);
    for (i, (d, h)) in on_device.phi.iter().zip(&host.phi).enumerate() {
        assert!(rel(*d, *h) < 1e-6, "φ_{i}: device {d} vs host {h}");
    }
    assert_eq!(on_device.iterates.len(), host.iterates.len());
    for ((kd, xd), (kh, xh)) in on_device.iterates.iter().zip(&host.iterates) {
        assert_eq!(kd, kh);
        let e = rel_err(xd, xh);
        assert!(e < 1e-4, "iterate {kd}: relative difference {e:.2e}");
    }

    // Asked to leave CG to the host, the backend declines.
    let mut host_cg = CudaBackend::new(
        &spec,
        &data,
        None,
        CudaOptions {
            host_cg: true,
            ..CudaOptions::default()
        },
    )
    .unwrap();
    host_cg
        .set_chunk(
            &theta,
            Chunk { start: 0, len: 500 },
            CurvatureKind::GaussNewton,
        )
        .unwrap();
    assert!(device_solve(&mut host_cg, &pr, &opts).is_none());
}

#[test]
fn cuda_choice_uses_the_device() {
    let Some(name) = device() else {
        return;
    };
    let spec = NetSpec::new(vec![4, 3, 4], vec![Activation::Tanh, Activation::Logistic]).unwrap();
    let data = data_for(&spec, 20, 1);
    for choice in [BackendChoice::Cuda, BackendChoice::Auto] {
        let chosen = create_backend(choice, spec.clone(), data.clone(), None, 0).unwrap();
        assert!(chosen.note.starts_with("cuda"), "{}", chosen.note);
        assert!(chosen.note.contains(&name), "{}", chosen.note);
    }
}

#[test]
fn misuse_is_reported_not_panicked() {
    if device().is_none() {
        return;
    }
    let spec = NetSpec::new(vec![4, 3, 4], vec![Activation::Tanh, Activation::Logistic]).unwrap();
    let data = data_for(&spec, 20, 1);
    let mut gpu = gpu_backend(&spec, &data, None, false);
    let p = spec.num_params();
    let theta = theta_for(&spec, 1);
    let mut out = vec![0.0; p];
    let e = gpu.curvature_product(&vec![0.0; p], &mut out).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    let e = gpu.chunk_loss(&theta).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    let bad = Chunk { start: 15, len: 10 };
    let e = gpu
        .set_chunk(&theta, bad, CurvatureKind::GaussNewton)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OutOfRange, "{e}");
    let e = gpu
        .evaluate(&theta[1..], Split::Train, None, None)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ShapeMismatch, "{e}");
    let e = gpu.evaluate(&theta, Split::Test, None, None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    assert_eq!(gpu.num_examples(Split::Test), 0);
    let ok = Chunk { start: 5, len: 10 };
    gpu.set_chunk(&theta, ok, CurvatureKind::GaussNewton)
        .unwrap();
    let e = gpu
        .curvature_product(&vec![0.0; p + 1], &mut out)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ShapeMismatch, "{e}");
}

/// The 2-20000-20000-2 net over 2 million examples of the CPU's
/// `impossible_chunk` test: its curvature chunk needs terabytes.
fn impossible() -> (NetSpec, Dataset) {
    use Activation::*;
    let spec = NetSpec::new(vec![2, 20000, 20000, 2], vec![Logistic, Logistic, Linear]).unwrap();
    let n = 2_000_000;
    let data = Dataset::new(n, 2, vec![0.5; 2 * n], 2, vec![0.5; 2 * n]).unwrap();
    (spec, data)
}

#[test]
fn device_estimate_counts_data_vectors_and_chunk() {
    // Needs no device: the estimate is arithmetic on the shapes.
    let spec = NetSpec::autoencoder(&[784, 1000, 500, 250, 30], Activation::Logistic).unwrap();
    let data = curves(2000, 1).unwrap();
    let p = spec.num_params() as u128;
    let options = |curvature| CudaOptions {
        eval_chunk: 1000,
        curvature,
        ..CudaOptions::default()
    };
    let bare = device_estimate(&spec, &data, None, &options(None));
    // At least the data (788 floats per example with the ones row and
    // padding), five parameter-sized vectors and the device CG's eight.
    assert!(bare >= 4 * (788 * 2000 + 13 * p), "{bare}");
    // With CG on the host the eight CG vectors are not needed.
    let host_cg = device_estimate(
        &spec,
        &data,
        None,
        &CudaOptions {
            host_cg: true,
            ..options(None)
        },
    );
    assert!(
        bare - host_cg >= 4 * 8 * p && bare - host_cg < 4 * 9 * p,
        "{bare} vs {host_cg}"
    );
    let gn = device_estimate(
        &spec,
        &data,
        None,
        &options(Some((1000, CurvatureKind::GaussNewton))),
    );
    let gn2 = device_estimate(
        &spec,
        &data,
        None,
        &options(Some((2000, CurvatureKind::GaussNewton))),
    );
    let hess = device_estimate(
        &spec,
        &data,
        None,
        &options(Some((2000, CurvatureKind::Hessian))),
    );
    // A chunk adds its θ and, per example, at least the cached activations.
    let widths: u128 = spec.sizes()[1..].iter().map(|&s| s as u128).sum();
    assert!(gn >= bare + 4 * (p + 1000 * widths), "{gn} vs {bare}");
    assert!(gn2 > gn && hess > gn2, "{gn} {gn2} {hess}");
    // A chunk is capped at the training set.
    let capped = device_estimate(
        &spec,
        &data,
        None,
        &options(Some((10_000, CurvatureKind::GaussNewton))),
    );
    assert_eq!(capped, gn2);
    let with_test = device_estimate(&spec, &data, Some(&data), &options(None));
    assert!(with_test >= bare + 4 * 788 * 2000, "{with_test} vs {bare}");
    let (spec, data) = impossible();
    let huge = device_estimate(
        &spec,
        &data,
        None,
        &options(Some((2_000_000, CurvatureKind::GaussNewton))),
    );
    assert!(huge > 1u128 << 40, "{huge}");
}

#[test]
fn too_big_for_the_device_fails_up_front_or_falls_back() {
    if device().is_none() {
        return;
    }
    let (spec, data) = impossible();
    let options = CudaOptions {
        curvature: Some((data.len(), CurvatureKind::GaussNewton)),
        ..CudaOptions::default()
    };
    let e = CudaBackend::new(&spec, &data, None, options)
        .err()
        .expect("must be refused");
    eprintln!("{e}");
    assert_eq!(e.kind(), ErrorKind::ResourceLimit, "{e}");
    assert!(
        e.message().contains("GiB of GPU memory") && e.message().contains("free"),
        "{e}"
    );
    let options = BackendOptions {
        curvature: Some((data.len(), CurvatureKind::GaussNewton)),
        ..BackendOptions::default()
    };
    let e = create_backend_with(
        BackendChoice::Cuda,
        spec.clone(),
        data.clone(),
        None,
        options,
    )
    .err()
    .expect("cuda must be refused");
    assert_eq!(e.kind(), ErrorKind::ResourceLimit, "{e}");
    let chosen = create_backend_with(BackendChoice::Auto, spec, data, None, options).unwrap();
    assert!(
        chosen
            .note
            .starts_with("cpu (auto: not enough GPU memory: "),
        "{}",
        chosen.note
    );
    assert_eq!(chosen.backend.name(), "cpu");
}

#[test]
fn device_estimate_covers_a_chunk_allocation() {
    if device().is_none() {
        return;
    }
    let spec = NetSpec::autoencoder(&[784, 1000, 500, 250, 30], Activation::Logistic).unwrap();
    let data = curves(4000, 2).unwrap();
    let theta = theta_for(&spec, 3);
    let options = CudaOptions {
        eval_chunk: 1000,
        ..CudaOptions::default()
    };
    let mut gpu = CudaBackend::new(&spec, &data, None, options).unwrap();
    for kind in [CurvatureKind::GaussNewton, CurvatureKind::Hessian] {
        let chunk = Chunk {
            start: 0,
            len: 4000,
        };
        let with = |c| {
            device_estimate(
                &spec,
                &data,
                None,
                &CudaOptions {
                    curvature: c,
                    ..options
                },
            )
        };
        let estimate = with(Some((4000, kind))) - with(None);
        let (free0, _) = gpu.device_memory().unwrap();
        gpu.set_chunk(&theta, chunk, kind).unwrap();
        let (free1, _) = gpu.device_memory().unwrap();
        // The old chunk (if any) was freed first: compare with what was free then.
        let used = free0.saturating_sub(free1) as f64;
        eprintln!(
            "{kind:?} chunk of 4000: free memory fell by {:.1} MiB, estimate {:.1} MiB",
            used / (1 << 20) as f64,
            estimate as f64 / (1 << 20) as f64
        );
        assert!(
            used <= 1.5 * estimate as f64 + (64 << 20) as f64,
            "{used} vs {estimate}"
        );
    }
}

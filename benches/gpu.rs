//! GPU benchmark of the CUDA backend: G·v (with the chunk's activations
//! cached, as CG uses it), H·v, F·v, forward and gradient passes on the
//! paper's MNIST (chunk 7500) and CURVES (chunk 5000) autoencoders, FP32 and
//! TF32. Each product is timed twice: on the device alone (v already
//! uploaded, result left there) and through the host API the optimizer uses
//! (upload v, product, download C·v: 2·P floats over the bus).
//!
//! Run (on a machine with a GPU): `cargo bench --features cuda --bench gpu`
//! (optionally `-- mnist` or `-- curves`). Prints one line per measurement:
//! `case precision operation median_ms min_ms reps`.
//!
//! The data are CURVES-like images for both shapes (timings do not depend on
//! pixel values). Each case first times, on the CPU, the host vector work of
//! one CG iteration on vectors of its size (`host CG work per iteration`:
//! what CG costs besides the product when it runs on the host, with
//! `HESSFREE_CUDA_HOST_CG=1`), then on the GPU a whole CG iteration with the
//! vectors on the device (`device CG per iteration`, product included).

use std::time::Instant;

use hessfree::backend::cuda::{CudaBackend, CudaOptions};
use hessfree::backend::{Backend, Split, WeightCost};
use hessfree::data::curves;
use hessfree::hf::cg::{self, CgOptions, DampedSystem};
use hessfree::hf::{Chunk, CurvatureKind};
use hessfree::net::{initial_params, Activation, Init, NetSpec};
use hessfree::rng::Rng;

/// Median and minimum wall time in milliseconds of `reps` runs after `warm` warm-ups.
fn time_ms(warm: usize, reps: usize, mut f: impl FnMut()) -> (f64, f64) {
    for _ in 0..warm {
        f();
    }
    let mut times: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(|a, b| a.total_cmp(b));
    (times[times.len() / 2], times[0])
}

fn report(case: &str, precision: &str, op: &str, (median, min): (f64, f64), reps: usize) {
    println!("{case:<7} {precision:<5} {op:<28} {median:>9.3} {min:>9.3} {reps:>5}");
}

/// Host time per CG iteration of the vector work the optimizer does around
/// each curvature product (updates, preconditioning, dot products, φ, kept
/// iterates, plus one pass for a diagonal operator standing in for the
/// damping term): what a device-resident CG would save besides the bus
/// traffic. Runs on the CPU only.
fn host_cg_work(case: &str, p: usize) {
    let mut rng = Rng::new(5);
    let diag: Vec<f32> = (0..p).map(|_| 0.5 + rng.uniform() as f32).collect();
    let b: Vec<f32> = (0..p).map(|_| rng.normal() as f32).collect();
    let m: Vec<f32> = (0..p).map(|_| 0.5 + rng.uniform() as f32).collect();
    let x0 = vec![0.0f32; p];
    let iters = 30;
    let opts = CgOptions {
        max_iters: iters,
        min_iters: iters,
        ..CgOptions::default()
    };
    let mut op = |v: &[f32], out: &mut [f32]| -> hessfree::Result<()> {
        for ((o, &vi), &d) in out.iter_mut().zip(v).zip(&diag) {
            *o = d * vi;
        }
        Ok(())
    };
    let mut done = 0;
    let (median, min) = time_ms(1, 3, || {
        let r = cg::solve(&mut op, &b, &x0, Some(&m), &opts).expect("CG");
        done = r.iterations.max(1);
    });
    let per = |t: f64| t / done as f64;
    report(
        case,
        "host",
        "host CG work per iteration",
        (per(median), per(min)),
        3,
    );
}

/// Wall time per iteration of a 30-iteration CG solve with its vectors on
/// the GPU (`CudaBackend::solve_damped`): one damped G·v, the vector
/// kernels and three scalars read back. Compare with `G·v device`: the
/// difference is CG's own cost per iteration. Includes the per-solve
/// uploads (b, preconditioner, mask, start) and the 8 kept iterates'
/// downloads, spread over the 30 iterations.
fn device_cg_iteration(gpu: &mut CudaBackend, case: &str, precision: &str, v: &[f32]) {
    let p = v.len();
    let mask = gpu.spec().weight_cost_mask(true);
    let precond: Vec<f32> = v.iter().map(|x| 1.0 + x.abs()).collect();
    let system = DampedSystem {
        lambda: 1.0,
        b: v,
        precond: Some(&precond),
    };
    let iters = 30;
    let opts = CgOptions {
        max_iters: iters,
        min_iters: iters,
        ..CgOptions::default()
    };
    let x0 = vec![0.0f32; p];
    let mut done = iters;
    let t = time_ms(1, 3, || {
        let wc = WeightCost {
            coefficient: 2e-5,
            mask: &mask,
        };
        let r = gpu
            .solve_damped(&system, wc, &x0, &opts)
            .expect("device CG")
            .expect("the CUDA backend offers CG");
        done = r.iterations.max(1);
    });
    let per = |t: f64| t / done as f64;
    report(
        case,
        precision,
        "device CG per iteration",
        (per(t.0), per(t.1)),
        3,
    );
}

fn bench_case(case: &str, encoder: &[usize], chunk: usize) {
    let spec = NetSpec::autoencoder(encoder, Activation::Logistic).expect("valid preset");
    let data = curves(chunk, 1).expect("CURVES-like data");
    let p = spec.num_params();
    host_cg_work(case, p);
    let theta = initial_params(&spec, Init::default(), 1).expect("initial parameters");
    let mut rng = Rng::new(2);
    let v: Vec<f32> = (0..p).map(|_| rng.normal() as f32).collect();
    let mut out = vec![0.0f32; p];
    for tf32 in [false, true] {
        let precision = if tf32 { "tf32" } else { "fp32" };
        let options = CudaOptions {
            device: 0,
            tf32,
            eval_chunk: chunk,
            curvature: Some((chunk, CurvatureKind::Hessian)),
            host_cg: false,
        };
        let mut gpu = match CudaBackend::new(&spec, &data, None, options) {
            Ok(g) => g,
            Err(e) => {
                println!("SKIPPED: no CUDA device ({e})");
                return;
            }
        };
        if !tf32 {
            println!(
                "# {case}: {} on {}, P = {p}, chunk = {chunk}",
                spec.describe(),
                gpu.name()
            );
        }
        let all = Chunk {
            start: 0,
            len: chunk,
        };
        for (kind, label) in [
            (CurvatureKind::GaussNewton, "G·v"),
            (CurvatureKind::Hessian, "H·v"),
            (CurvatureKind::EmpiricalFisher, "F·v"),
        ] {
            let t = time_ms(1, 5, || {
                gpu.set_chunk(&theta, all, kind).expect("set_chunk")
            });
            report(case, precision, &format!("set_chunk {label}"), t, 5);
            gpu.upload_vector(&v).expect("upload");
            let reps = 50;
            let t = time_ms(5, reps, || gpu.product_on_device().expect("product"));
            report(case, precision, &format!("{label} device"), t, reps);
            let t = time_ms(5, reps, || {
                gpu.curvature_product(&v, &mut out).expect("product")
            });
            report(case, precision, &format!("{label} host API"), t, reps);
            if kind == CurvatureKind::GaussNewton {
                device_cg_iteration(&mut gpu, case, precision, &v);
            }
        }
        let t = time_ms(3, 20, || {
            gpu.evaluate(&theta, Split::Train, None, None)
                .expect("forward");
        });
        report(case, precision, "forward + loss", t, 20);
        let mut grad = vec![0.0f32; p];
        let t = time_ms(3, 20, || {
            gpu.evaluate(&theta, Split::Train, Some(&mut grad), None)
                .expect("gradient");
        });
        report(case, precision, "gradient (incl. download)", t, 20);
        let mut stat = vec![0.0f32; p];
        let t = time_ms(3, 10, || {
            gpu.evaluate(&theta, Split::Train, Some(&mut grad), Some(&mut stat))
                .expect("gradient and statistic");
        });
        report(case, precision, "gradient + statistic", t, 10);
        let t = time_ms(3, 20, || {
            gpu.chunk_loss(&theta).expect("chunk loss");
        });
        report(case, precision, "chunk loss", t, 20);
    }
}

fn main() {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wanted = |name: &str| filter.is_empty() || filter.iter().any(|f| f == name);
    println!("case    prec  operation                    median_ms    min_ms  reps");
    if wanted("mnist") {
        bench_case("mnist", &[784, 1000, 500, 250, 30], 7500);
    }
    if wanted("curves") {
        bench_case("curves", &[784, 400, 200, 100, 50, 25, 6], 5000);
    }
}

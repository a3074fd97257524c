//! Per-operation CPU benchmark: forward, gradient and G·v on the paper's
//! autoencoders at their curvature chunk sizes, each beside the time of the
//! same GEMMs alone (split into row blocks over the same threads as the
//! kernels), measured in the same run; then the throughput of the individual
//! GEMM shapes.
//!
//! Run: `cargo bench --bench ops` (optionally `-- mnist`, `-- curves`, `-- small`
//! (the time-to-target net of `benches/compare` at its 250-example chunk), `-- gemm`;
//! `-- profile` runs only the library operations, for a sampling profiler).
//! Threads: `HESSFREE_THREADS` (default: one per core). Wall times are medians;
//! the CPU column is the process CPU time of the same runs, which is what to
//! compare when other work shares the machine (check `uptime`).

use std::time::Instant;

use hessfree::curvature::{
    accumulate_gradient, batch_loss, curvature_product, forward, output_delta, set_threads, sgemm,
    sgemm_name, threads,
};
use hessfree::net::NetSpec;
use hessfree::rng::Rng;
use ndarray::linalg::general_mat_mul;
use ndarray::{s, Array2, ArrayView2, ArrayViewMut2, Axis};

#[path = "support/op_problem.rs"]
mod op_problem;
use op_problem::OpProblem;

/// Process CPU time in milliseconds (all threads).
fn cpu_ms() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write into.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 * 1e3 + ts.tv_nsec as f64 * 1e-6
}

/// Median wall and CPU time of a repeated operation, in milliseconds.
#[derive(Clone, Copy)]
struct Timing {
    wall: f64,
    cpu: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Medians of `reps` runs after one warm-up.
fn time_ms(reps: usize, mut f: impl FnMut()) -> Timing {
    f();
    let (walls, cpus) = (0..reps)
        .map(|_| {
            let (t, c) = (Instant::now(), cpu_ms());
            f();
            (t.elapsed().as_secs_f64() * 1e3, cpu_ms() - c)
        })
        .unzip();
    Timing {
        wall: median(walls),
        cpu: median(cpus),
    }
}

/// Splits `rows` into at most `k` contiguous blocks on multiples of 64 rows
/// (the library's kernels now split on multiples of 16; at the full-chunk
/// sizes timed here the two splits differ by under 1 % of the rows).
fn row_blocks(rows: usize, k: usize) -> Vec<(usize, usize)> {
    let units = rows.div_ceil(64);
    let k = k.min(units).max(1);
    let mut out = Vec::new();
    let mut start = 0;
    for i in 0..k {
        let len = ((units / k + usize::from(i < units % k)) * 64).min(rows - start);
        if len > 0 {
            out.push((start, len));
        }
        start += len;
    }
    out
}

/// A single-threaded `c = alpha·a·b + beta·c`.
type GemmFn = fn(f32, &ArrayView2<f32>, &ArrayView2<f32>, f32, &mut ArrayViewMut2<f32>);

/// The library's GEMM (see `sgemm_name`).
const LIBRARY: GemmFn = |alpha, a, b, beta, c| sgemm(alpha, a, b, beta, c);
/// matrixmultiply through ndarray, which the library used before its own kernel.
const MATRIXMULTIPLY: GemmFn = |alpha, a, b, beta, c| general_mat_mul(alpha, a, b, beta, c);

/// `c = a·b + beta·c` with the rows of `c` split over `k` threads, each a
/// single-threaded call of the library's GEMM (the library's scheme).
fn par_gemm(k: usize, a: &ArrayView2<f32>, b: &ArrayView2<f32>, beta: f32, c: &mut Array2<f32>) {
    par_gemm_with(LIBRARY, k, a, b, beta, c)
}

/// [`par_gemm`] with a given single-threaded GEMM.
fn par_gemm_with(
    gemm: GemmFn,
    k: usize,
    a: &ArrayView2<f32>,
    b: &ArrayView2<f32>,
    beta: f32,
    c: &mut Array2<f32>,
) {
    let plan = row_blocks(c.nrows(), k);
    std::thread::scope(|scope| {
        let mut rest: ArrayViewMut2<f32> = c.view_mut();
        for &(start, len) in &plan {
            let (mut block, tail) = rest.split_at(Axis(0), len);
            rest = tail;
            let a_rows = a.slice(s![start..start + len, ..]);
            scope.spawn(move || gemm(1.0, &a_rows, b, beta, &mut block));
        }
    });
}

/// Preallocated operands for the GEMMs of each operation.
///
/// The values must stay finite and normal however often the operations are
/// repeated (inf, NaN and subnormal arithmetic would distort the timing):
/// activations and deltas are uniform in [0, 1) and every weight-like
/// matrix (fan_in × fan_out) uniform in [0, 2/fan_in), so a layer maps
/// values of mean m to values of mean ≈ m and the forward chain neither
/// grows nor dies out. The R-forward reads its own direction `vs` and
/// writes its own outputs, so no output is fed back into a later product.
struct Gemms {
    acts: Vec<Array2<f32>>, // acts[0] = input, acts[l] = layer l output
    weights: Vec<Array2<f32>>,
    grads: Vec<Array2<f32>>,
    vs: Vec<Array2<f32>>,     // the direction V of the R-forward, per layer
    deltas: Vec<Array2<f32>>, // per layer output width
    r_out: Vec<Array2<f32>>,  // R-forward outputs, per layer output width
    back: Vec<Array2<f32>>,   // per layer input width
    threads: usize,
}

fn random(rng: &mut Rng, r: usize, c: usize) -> Array2<f32> {
    Array2::from_shape_fn((r, c), |_| rng.uniform() as f32)
}

/// A fan_in × fan_out matrix uniform in [0, 2/fan_in) (see [`Gemms`]).
fn random_weights(rng: &mut Rng, fan_in: usize, fan_out: usize) -> Array2<f32> {
    let scale = 2.0 / fan_in as f64;
    Array2::from_shape_fn((fan_in, fan_out), |_| (rng.uniform() * scale) as f32)
}

impl Gemms {
    fn new(spec: &NetSpec, n: usize) -> Self {
        let sizes = spec.sizes();
        let mut rng = Rng::new(5);
        let rng = &mut rng;
        Gemms {
            acts: sizes.iter().map(|&d| random(rng, n, d)).collect(),
            weights: sizes
                .windows(2)
                .map(|w| random_weights(rng, w[0], w[1]))
                .collect(),
            grads: sizes.windows(2).map(|w| random(rng, w[0], w[1])).collect(),
            vs: sizes
                .windows(2)
                .map(|w| random_weights(rng, w[0], w[1]))
                .collect(),
            deltas: sizes[1..].iter().map(|&d| random(rng, n, d)).collect(),
            r_out: sizes[1..].iter().map(|&d| random(rng, n, d)).collect(),
            back: sizes[..sizes.len() - 1]
                .iter()
                .map(|&d| random(rng, n, d))
                .collect(),
            threads: threads(),
        }
    }
    /// z_l = a_{l−1}·W_l for every layer.
    fn forward(&mut self) {
        for l in 0..self.weights.len() {
            let (lo, hi) = self.acts.split_at_mut(l + 1);
            par_gemm(
                self.threads,
                &lo[l].view(),
                &self.weights[l].view(),
                0.0,
                &mut hi[0],
            );
        }
    }
    /// gW_l = a_{l−1}ᵀ·d_l for every layer and d_{l−1} = d_l·W_lᵀ for l > 1.
    fn backward(&mut self) {
        for l in (0..self.weights.len()).rev() {
            let (at, d) = (self.acts[l].t(), self.deltas[l].view());
            par_gemm(self.threads, &at, &d, 0.0, &mut self.grads[l]);
            if l > 0 {
                let wt = self.weights[l].t();
                par_gemm(
                    self.threads,
                    &self.deltas[l].view(),
                    &wt,
                    0.0,
                    &mut self.back[l],
                );
            }
        }
    }
    /// The R-forward pass: r_l = a_{l−1}·V_l (+ r_{l−1}·W_l for l > 1),
    /// with the `back` matrices standing in for r_{l−1}.
    fn r_forward(&mut self) {
        for l in 0..self.weights.len() {
            let (a, v) = (self.acts[l].view(), self.vs[l].view());
            par_gemm(self.threads, &a, &v, 0.0, &mut self.r_out[l]);
            if l > 0 {
                let (r, w) = (self.back[l].view(), self.weights[l].view());
                par_gemm(self.threads, &r, &w, 1.0, &mut self.r_out[l]);
            }
        }
    }
    /// Panics unless every operand and output is finite (see [`Gemms`]).
    fn check_finite(&self, what: &str) {
        let all = [
            &self.acts,
            &self.weights,
            &self.grads,
            &self.vs,
            &self.deltas,
            &self.r_out,
            &self.back,
        ];
        for (i, group) in all.iter().enumerate() {
            for (l, m) in group.iter().enumerate() {
                assert!(
                    m.iter().all(|v| v.is_finite()),
                    "GEMMs alone ({what}): operand group {i}, layer {l} is not finite"
                );
            }
        }
    }
}

/// One GEMM shape `c (m×n) = op(a)·b` with inner dimension `k`; `transposed`
/// means `a` is stored k×m and used as `aᵀ` (the weight-gradient GEMMs).
struct Shape {
    m: usize,
    k: usize,
    n: usize,
    transposed: bool,
}

impl Shape {
    fn name(&self) -> String {
        let (m, k, n) = (self.m, self.k, self.n);
        if self.transposed {
            format!("({k}×{m})ᵀ · {k}×{n}")
        } else {
            format!("{m}×{k} · {k}×{n}")
        }
    }
    fn flop(&self) -> f64 {
        2.0 * (self.m * self.k * self.n) as f64
    }
    /// Median timing of the library's GEMM with `threads` row blocks.
    fn time(&self, threads: usize, reps: usize) -> Timing {
        self.time_with(LIBRARY, threads, reps)
    }
    /// Median timing of `gemm` with `threads` row blocks.
    fn time_with(&self, gemm: GemmFn, threads: usize, reps: usize) -> Timing {
        let mut rng = Rng::new(9);
        let a = if self.transposed {
            random(&mut rng, self.k, self.m)
        } else {
            random(&mut rng, self.m, self.k)
        };
        let b = random(&mut rng, self.k, self.n);
        let mut c = Array2::zeros((self.m, self.n));
        let a = if self.transposed { a.t() } else { a.view() };
        time_ms(reps, || {
            par_gemm_with(gemm, threads, &a, &b.view(), 0.0, &mut c)
        })
    }
}

fn gflops(flop: f64, ms: f64) -> f64 {
    flop / ms / 1e6
}

/// The network's heaviest forward GEMM (the layer with the most weights).
fn heaviest(spec: &NetSpec, n: usize) -> Shape {
    let (k, m) = spec
        .sizes()
        .windows(2)
        .map(|w| (w[0], w[1]))
        .max_by_key(|&(a, b)| a * b)
        .unwrap_or((0, 0));
    Shape {
        m: n,
        k,
        n: m,
        transposed: false,
    }
}

fn gemm_table(n: usize) {
    let shapes = [
        (n, 784, 1000, false),
        (n, 1000, 784, false),
        (n, 1000, 500, false),
        (n, 500, 250, false),
        (n, 250, 30, false),
        (n, 30, 250, false),
        (784, n, 1000, true),
        (1000, n, 784, true),
        (1000, n, 500, true),
        (250, n, 30, true),
    ];
    let t = threads();
    println!(
        "\n## GEMM shapes, MNIST autoencoder, chunk {n}: the library's GEMM ({}) \
         against matrixmultiply",
        sgemm_name()
    );
    println!(
        "| shape | matrixmultiply, 1 thread (ms) | GFLOP/s | library, 1 thread (ms) | GFLOP/s | \
         library, {t} threads (ms) | GFLOP/s | GFLOP/s per CPU-second |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (m, k, nn, transposed) in shapes {
        let shape = Shape {
            m,
            k,
            n: nn,
            transposed,
        };
        let reference = shape.time_with(MATRIXMULTIPLY, 1, 5);
        let (one, many) = (shape.time(1, 5), shape.time(t, 5));
        let f = shape.flop();
        println!(
            "| {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
            shape.name(),
            reference.wall,
            gflops(f, reference.wall),
            one.wall,
            gflops(f, one.wall),
            many.wall,
            gflops(f, many.wall),
            gflops(f, many.cpu),
        );
    }
}

fn bench(name: &str, encoder: &[usize], n: usize) {
    let problem = OpProblem::new(encoder, n).unwrap();
    let spec = &problem.spec;
    // Milliseconds-long operations need more runs for a stable median.
    let reps = if n <= 1000 { 101 } else { 5 };
    let [(t_fwd, fwd_flop), (t_grad, grad_flop), (t_gv, gv_flop)] =
        problem.time_ops(|f| time_ms(reps, f));

    println!(
        "\n## {name} autoencoder {}, chunk {n}, {} parameters, {} threads",
        spec.describe(),
        spec.num_params(),
        threads()
    );
    if n <= 1000 {
        // The GEMMs-alone harness starts its threads per call, which costs
        // more than a GEMM this small: only the library's own times mean
        // anything here.
        println!("| operation | time (ms) | GFLOP/s (effective) | CPU time (ms) |");
        println!("|---|---|---|---|");
        for (op, t, flop) in [
            ("forward", t_fwd, fwd_flop),
            ("gradient (forward + backward)", t_grad, grad_flop),
            ("G·v (cached activations)", t_gv, gv_flop),
        ] {
            println!(
                "| {op} | {:.2} | {:.1} | {:.2} |",
                t.wall,
                gflops(flop, t.wall),
                t.cpu
            );
        }
        return;
    }
    let mut g = Gemms::new(spec, n);
    let g_fwd = time_ms(reps, || g.forward());
    let g_grad = time_ms(reps, || {
        g.forward();
        g.backward()
    });
    let g_gv = time_ms(reps, || {
        g.r_forward();
        g.backward()
    });
    g.check_finite(name);

    println!(
        "| operation | time (ms) | GEMMs alone (ms) | ratio | GFLOP/s (effective) \
         | CPU time (ms) | GEMMs alone CPU (ms) | CPU ratio |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (op, t, tg, flop) in [
        ("forward", t_fwd, g_fwd, fwd_flop),
        ("gradient (forward + backward)", t_grad, g_grad, grad_flop),
        ("G·v (cached activations)", t_gv, g_gv, gv_flop),
    ] {
        println!(
            "| {op} | {:.1} | {:.1} | {:.2} | {:.1} | {:.1} | {:.1} | {:.2} |",
            t.wall,
            tg.wall,
            t.wall / tg.wall,
            gflops(flop, t.wall),
            t.cpu,
            tg.cpu,
            t.cpu / tg.cpu
        );
    }
    let h = heaviest(spec, n);
    let ht = h.time(threads(), reps);
    println!(
        "\nHeaviest GEMM {}: {:.1} GFLOP/s on {} threads ({:.1} GFLOP/s per CPU-second).",
        h.name(),
        gflops(h.flop(), ht.wall),
        threads(),
        gflops(h.flop(), ht.cpu)
    );
}

fn main() {
    let which: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if let Some(t) = std::env::var("HESSFREE_THREADS")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        set_threads(t);
    }
    let want = |n: &str| which.is_empty() || which.iter().any(|w| w == n);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "hessfree CPU per-operation benchmark: {} threads, load average {}",
        threads(),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    if want("curves") {
        bench("CURVES", &[784, 400, 200, 100, 50, 25, 6], 5000);
    }
    if want("mnist") {
        bench("MNIST", &[784, 1000, 500, 250, 30], 7500);
    }
    if want("small") {
        // The time-to-target problem of benches/compare: its curvature chunk.
        bench("Small CURVES-like", &[784, 200, 50, 6], 250);
    }
    if want("gemm") {
        gemm_table(7500);
    }
    if which.iter().any(|w| w == "profile") {
        profile(&[784, 1000, 500, 250, 30], 7500);
    }
}

/// Only the library's operations, repeated, for a sampling profiler
/// (`-- profile`; not part of the default run).
fn profile(encoder: &[usize], n: usize) {
    let problem = OpProblem::new(encoder, n).unwrap();
    let cache = problem.cache();
    let OpProblem { spec, theta, x, v } = problem;
    let mut grad = vec![0.0f32; spec.num_params()];
    let acts = forward(&spec, &theta, x.view());
    let z64 = acts.output_z.mapv(f64::from);
    let y64 = acts.output().mapv(f64::from);
    let t64 = x.mapv(f64::from);
    for (op, t) in [
        (
            "forward",
            time_ms(4, || {
                std::hint::black_box(forward(&spec, &theta, x.view()));
            }),
        ),
        (
            "gradient",
            time_ms(4, || {
                let acts = forward(&spec, &theta, x.view());
                let d = output_delta(spec.loss(), acts.output(), &x.view());
                accumulate_gradient(&spec, &theta, x.view(), &acts, d, 1.0, &mut grad, None);
            }),
        ),
        (
            "G·v",
            time_ms(4, || {
                curvature_product(&spec, &theta, &cache, &v, &mut grad)
            }),
        ),
        (
            "chunk loss (output layer, f64)",
            time_ms(4, || {
                std::hint::black_box(cache.loss(&spec));
            }),
        ),
        (
            "same loss from f64 copies (libm exp and log1p)",
            time_ms(4, || {
                std::hint::black_box(batch_loss(spec.loss(), &z64, &y64, &t64.view()));
            }),
        ),
    ] {
        println!("{op}: {:.1} ms wall, {:.1} ms CPU", t.wall, t.cpu);
    }
}

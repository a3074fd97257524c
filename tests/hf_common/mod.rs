//! Test objectives shared by the `hf_*` integration tests: the extended
//! Rosenbrock function, a chunked logistic regression, a wrapper that
//! injects NaN results or errors at chosen calls, and a CG space with its own
//! summation order.
#![allow(dead_code)]

use hessfree::hf::cg::{CgSpace, CgState};
use hessfree::hf::{Chunk, CurvatureKind, Metrics, Objective};
use hessfree::rng::Rng;
use hessfree::{Error, Result};

/// Extended Rosenbrock as least squares: r_{2i-1} = 10(x_{2i} − x_{2i−1}²),
/// r_{2i} = 1 − x_{2i−1}; f = Σ r². One "example"; GN = 2JᵀJ, Hessian exact.
pub struct Rosenbrock {
    pub n: usize,
    theta: Vec<f64>,
    kind: CurvatureKind,
}

impl Rosenbrock {
    pub fn new(n: usize) -> Self {
        Rosenbrock {
            n,
            theta: vec![0.0; n],
            kind: CurvatureKind::GaussNewton,
        }
    }

    /// The standard start (−1.2, 1, −1.2, 1, …).
    pub fn start(n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| if i % 2 == 0 { -1.2 } else { 1.0 })
            .collect()
    }

    fn value(theta: &[f32]) -> f64 {
        theta
            .chunks_exact(2)
            .map(|c| {
                let (x, y) = (c[0] as f64, c[1] as f64);
                let r1 = 10.0 * (y - x * x);
                let r2 = 1.0 - x;
                r1 * r1 + r2 * r2
            })
            .sum()
    }
}

impl Objective for Rosenbrock {
    fn num_params(&self) -> usize {
        self.n
    }
    fn num_examples(&self) -> usize {
        1
    }
    fn supports_curvature(&self, kind: CurvatureKind) -> bool {
        kind != CurvatureKind::EmpiricalFisher
    }
    fn loss(&mut self, theta: &[f32]) -> Result<f64> {
        Ok(Self::value(theta))
    }
    fn loss_and_gradient(
        &mut self,
        theta: &[f32],
        grad: &mut [f32],
        precond_stat: Option<&mut [f32]>,
    ) -> Result<f64> {
        for (g, c) in grad.chunks_exact_mut(2).zip(theta.chunks_exact(2)) {
            let (x, y) = (c[0] as f64, c[1] as f64);
            let r1 = 10.0 * (y - x * x);
            let r2 = 1.0 - x;
            // ∇(r1² + r2²) = 2 r1 ∇r1 + 2 r2 ∇r2, ∇r1 = (−20x, 10), ∇r2 = (−1, 0).
            g[0] = (2.0 * r1 * (-20.0 * x) - 2.0 * r2) as f32;
            g[1] = (2.0 * r1 * 10.0) as f32;
        }
        if let Some(stat) = precond_stat {
            for (s, g) in stat.iter_mut().zip(grad.iter()) {
                *s = g * g;
            }
        }
        Ok(Self::value(theta))
    }
    fn set_curvature_chunk(
        &mut self,
        theta: &[f32],
        _chunk: Chunk,
        kind: CurvatureKind,
    ) -> Result<()> {
        self.theta = theta.iter().map(|&v| v as f64).collect();
        self.kind = kind;
        Ok(())
    }
    fn curvature_product(&mut self, v: &[f32], out: &mut [f32]) -> Result<()> {
        for ((o, c), t) in out
            .chunks_exact_mut(2)
            .zip(v.chunks_exact(2))
            .zip(self.theta.chunks_exact(2))
        {
            let (x, y) = (t[0], t[1]);
            let (vx, vy) = (c[0] as f64, c[1] as f64);
            // J rows: ∇r1 = (−20x, 10), ∇r2 = (−1, 0).
            let j1v = -20.0 * x * vx + 10.0 * vy;
            let j2v = -vx;
            let mut gx = 2.0 * (-20.0 * x * j1v - j2v);
            let gy = 2.0 * (10.0 * j1v);
            if self.kind == CurvatureKind::Hessian {
                // + 2 r1 ∇²r1, ∇²r1 = [[−20, 0], [0, 0]].
                let r1 = 10.0 * (y - x * x);
                gx += 2.0 * r1 * (-20.0) * vx;
            }
            o[0] = gx as f32;
            o[1] = gy as f32;
        }
        Ok(())
    }
    fn chunk_loss(&mut self, theta: &[f32]) -> Result<f64> {
        Ok(Self::value(theta))
    }
}

/// Logistic regression with cross-entropy on N synthetic examples, mean over
/// examples plus ½·wc·‖θ‖²; Gauss-Newton on chunks; an error metric (the
/// mean squared error of the probabilities) and a test set.
pub struct Logistic {
    x: Vec<f64>,
    y: Vec<f64>,
    n: usize,
    d: usize,
    wc: f64,
    test: Option<Box<Logistic>>,
    chunk: Chunk,
    theta: Vec<f64>,
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

impl Logistic {
    pub fn new(n: usize, d: usize, seed: u64, with_test: bool) -> Self {
        let mut rng = Rng::new(seed);
        let truth: Vec<f64> = (0..d).map(|_| 2.0 * rng.normal()).collect();
        let make = |rng: &mut Rng, n: usize| {
            let mut x = Vec::with_capacity(n * d);
            let mut y = Vec::with_capacity(n);
            for _ in 0..n {
                let row: Vec<f64> = (0..d).map(|_| rng.normal()).collect();
                let z: f64 = row.iter().zip(&truth).map(|(a, b)| a * b).sum();
                // Noisy labels keep the optimum finite.
                y.push(if rng.uniform() < sigmoid(z) { 1.0 } else { 0.0 });
                x.extend(row);
            }
            (x, y)
        };
        let (x, y) = make(&mut rng, n);
        let test = with_test.then(|| {
            let (tx, ty) = make(&mut rng, n / 2);
            Box::new(Logistic::from_parts(tx, ty, n / 2, d, 1e-3, None))
        });
        Logistic::from_parts(x, y, n, d, 1e-3, test)
    }

    fn from_parts(
        x: Vec<f64>,
        y: Vec<f64>,
        n: usize,
        d: usize,
        wc: f64,
        test: Option<Box<Logistic>>,
    ) -> Self {
        Logistic {
            x,
            y,
            n,
            d,
            wc,
            test,
            chunk: Chunk { start: 0, len: n },
            theta: vec![0.0; d],
        }
    }

    fn loss_on(&self, theta: &[f32], start: usize, len: usize) -> f64 {
        let mut total = 0.0;
        for i in start..start + len {
            let z = self.z(theta.iter().map(|&t| t as f64), i);
            // Stable cross-entropy: log(1 + e^z) − y z.
            let softplus = if z > 0.0 {
                z + (-z).exp().ln_1p()
            } else {
                z.exp().ln_1p()
            };
            total += softplus - self.y[i] * z;
        }
        total / len as f64 + self.reg(theta)
    }

    fn reg(&self, theta: &[f32]) -> f64 {
        0.5 * self.wc * theta.iter().map(|&t| (t as f64).powi(2)).sum::<f64>()
    }

    fn z(&self, theta: impl Iterator<Item = f64>, i: usize) -> f64 {
        theta
            .zip(&self.x[i * self.d..(i + 1) * self.d])
            .map(|(t, x)| t * x)
            .sum()
    }

    fn error(&self, theta: &[f32]) -> f64 {
        (0..self.n)
            .map(|i| {
                let p = sigmoid(self.z(theta.iter().map(|&t| t as f64), i));
                (p - self.y[i]).powi(2)
            })
            .sum::<f64>()
            / self.n as f64
    }
}

impl Objective for Logistic {
    fn num_params(&self) -> usize {
        self.d
    }
    fn num_examples(&self) -> usize {
        self.n
    }
    fn supports_curvature(&self, kind: CurvatureKind) -> bool {
        kind == CurvatureKind::GaussNewton
    }
    fn loss(&mut self, theta: &[f32]) -> Result<f64> {
        Ok(self.loss_on(theta, 0, self.n))
    }
    fn loss_and_gradient(
        &mut self,
        theta: &[f32],
        grad: &mut [f32],
        stat: Option<&mut [f32]>,
    ) -> Result<f64> {
        let mut g = vec![0.0f64; self.d];
        let mut sq = vec![0.0f64; self.d];
        for i in 0..self.n {
            let r = sigmoid(self.z(theta.iter().map(|&t| t as f64), i)) - self.y[i];
            for (j, x) in self.x[i * self.d..(i + 1) * self.d].iter().enumerate() {
                g[j] += r * x;
                sq[j] += (r * x).powi(2);
            }
        }
        for j in 0..self.d {
            grad[j] = (g[j] / self.n as f64 + self.wc * theta[j] as f64) as f32;
        }
        if let Some(stat) = stat {
            for j in 0..self.d {
                stat[j] = (sq[j] / self.n as f64 + self.wc) as f32;
            }
        }
        Ok(self.loss_on(theta, 0, self.n))
    }
    fn set_curvature_chunk(
        &mut self,
        theta: &[f32],
        chunk: Chunk,
        _kind: CurvatureKind,
    ) -> Result<()> {
        if chunk.len == 0 || chunk.start + chunk.len > self.n {
            return Err(Error::invalid(format!(
                "bad chunk {chunk:?} for {} examples",
                self.n
            )));
        }
        self.chunk = chunk;
        self.theta = theta.iter().map(|&t| t as f64).collect();
        Ok(())
    }
    fn curvature_product(&mut self, v: &[f32], out: &mut [f32]) -> Result<()> {
        let mut acc = vec![0.0f64; self.d];
        let Chunk { start, len } = self.chunk;
        for i in start..start + len {
            let p = sigmoid(self.z(self.theta.iter().copied(), i));
            let row = &self.x[i * self.d..(i + 1) * self.d];
            let jv: f64 = row.iter().zip(v).map(|(x, &vi)| x * vi as f64).sum();
            for (a, x) in acc.iter_mut().zip(row) {
                *a += p * (1.0 - p) * jv * x;
            }
        }
        for j in 0..self.d {
            out[j] = (acc[j] / len as f64 + self.wc * v[j] as f64) as f32;
        }
        Ok(())
    }
    fn chunk_loss(&mut self, theta: &[f32]) -> Result<f64> {
        Ok(self.loss_on(theta, self.chunk.start, self.chunk.len))
    }
    fn train_metrics(&mut self, theta: &[f32]) -> Result<Metrics> {
        Ok(Metrics {
            objective: self.loss(theta)?,
            error: Some(self.error(theta)),
        })
    }
    fn test_metrics(&mut self, theta: &[f32]) -> Result<Option<Metrics>> {
        match &mut self.test {
            Some(t) => Ok(Some(t.train_metrics(theta)?)),
            None => Ok(None),
        }
    }
}

/// Inside `impl Objective for Wrapper<O>` (a wrapper with an `inner`
/// objective): the named methods, each passing straight through to
/// `self.inner`, so that a test wrapper spells out only what it changes.
/// Methods not named keep the trait's defaults.
macro_rules! delegate_to_inner {
    ($($method:ident),* $(,)?) => {
        $($crate::hf_common::delegate_to_inner!(@ $method);)*
    };
    (@ num_params) => {
        fn num_params(&self) -> usize {
            self.inner.num_params()
        }
    };
    (@ num_examples) => {
        fn num_examples(&self) -> usize {
            self.inner.num_examples()
        }
    };
    (@ supports_curvature) => {
        fn supports_curvature(&self, kind: hessfree::hf::CurvatureKind) -> bool {
            self.inner.supports_curvature(kind)
        }
    };
    (@ loss) => {
        fn loss(&mut self, theta: &[f32]) -> hessfree::Result<f64> {
            self.inner.loss(theta)
        }
    };
    (@ loss_and_gradient) => {
        fn loss_and_gradient(
            &mut self,
            theta: &[f32],
            grad: &mut [f32],
            stat: Option<&mut [f32]>,
        ) -> hessfree::Result<f64> {
            self.inner.loss_and_gradient(theta, grad, stat)
        }
    };
    (@ set_curvature_chunk) => {
        fn set_curvature_chunk(
            &mut self,
            theta: &[f32],
            chunk: hessfree::hf::Chunk,
            kind: hessfree::hf::CurvatureKind,
        ) -> hessfree::Result<()> {
            self.inner.set_curvature_chunk(theta, chunk, kind)
        }
    };
    (@ curvature_product) => {
        fn curvature_product(&mut self, v: &[f32], out: &mut [f32]) -> hessfree::Result<()> {
            self.inner.curvature_product(v, out)
        }
    };
    (@ chunk_loss) => {
        fn chunk_loss(&mut self, theta: &[f32]) -> hessfree::Result<f64> {
            self.inner.chunk_loss(theta)
        }
    };
    (@ train_metrics) => {
        fn train_metrics(&mut self, theta: &[f32]) -> hessfree::Result<hessfree::hf::Metrics> {
            self.inner.train_metrics(theta)
        }
    };
    (@ test_metrics) => {
        fn test_metrics(
            &mut self,
            theta: &[f32],
        ) -> hessfree::Result<Option<hessfree::hf::Metrics>> {
            self.inner.test_metrics(theta)
        }
    };
}
pub(crate) use delegate_to_inner;

/// Wraps an objective and, at chosen call numbers (0-based, per method),
/// returns NaN values or an error instead.
pub struct Faulty<O> {
    pub inner: O,
    pub grad_calls: usize,
    pub loss_calls: usize,
    pub product_calls: usize,
    /// loss_and_gradient calls that return NaN (value and gradient).
    pub nan_grad: Vec<usize>,
    /// loss calls that return NaN.
    pub nan_loss: std::ops::Range<usize>,
    /// curvature_product calls that return NaN.
    pub nan_product: Vec<usize>,
    /// curvature_product calls that return an error.
    pub err_product: Vec<usize>,
}

impl<O> Faulty<O> {
    pub fn new(inner: O) -> Self {
        Faulty {
            inner,
            grad_calls: 0,
            loss_calls: 0,
            product_calls: 0,
            nan_grad: Vec::new(),
            nan_loss: 0..0,
            nan_product: Vec::new(),
            err_product: Vec::new(),
        }
    }
}

impl<O: Objective> Objective for Faulty<O> {
    delegate_to_inner!(
        num_params,
        num_examples,
        supports_curvature,
        set_curvature_chunk,
        chunk_loss,
        train_metrics,
        test_metrics,
    );
    fn loss(&mut self, theta: &[f32]) -> Result<f64> {
        let call = self.loss_calls;
        self.loss_calls += 1;
        let v = self.inner.loss(theta)?;
        Ok(if self.nan_loss.contains(&call) {
            f64::NAN
        } else {
            v
        })
    }
    fn loss_and_gradient(
        &mut self,
        theta: &[f32],
        grad: &mut [f32],
        stat: Option<&mut [f32]>,
    ) -> Result<f64> {
        let call = self.grad_calls;
        self.grad_calls += 1;
        let v = self.inner.loss_and_gradient(theta, grad, stat)?;
        if self.nan_grad.contains(&call) {
            grad.iter_mut().for_each(|g| *g = f32::NAN);
            return Ok(f64::NAN);
        }
        Ok(v)
    }
    fn curvature_product(&mut self, v: &[f32], out: &mut [f32]) -> Result<()> {
        let call = self.product_calls;
        self.product_calls += 1;
        if self.err_product.contains(&call) {
            return Err(Error::new(
                hessfree::ErrorKind::Callback,
                format!("injected failure at product {call}"),
            ));
        }
        self.inner.curvature_product(v, out)?;
        if self.nan_product.contains(&call) {
            out[0] = f32::NAN;
        }
        Ok(())
    }
}

/// A CG space of the tests' own: plain `Vec<f32>` vectors with serial f64
/// sums (a different summation order from the library's host space, as a
/// GPU's is), over any operator `out = A·v`.
pub struct SerialSpace<'a, A> {
    op: A,
    b: &'a [f32],
    m: Option<&'a [f32]>,
}

impl<'a, A: FnMut(&[f32], &mut [f32]) -> Result<()>> SerialSpace<'a, A> {
    /// The system `op(x) = b` with preconditioner `m` (`y = r / m`).
    pub fn new(op: A, b: &'a [f32], m: Option<&'a [f32]>) -> Self {
        SerialSpace { op, b, m }
    }

    /// `y = r / m`; returns `(rᵀy, φ(x))`.
    fn precondition(&self, s: &mut CgState<Vec<f32>>) -> (f64, f64) {
        for (i, y) in s.y.iter_mut().enumerate() {
            *y = self.m.map_or(s.r[i], |m| s.r[i] / m[i]);
        }
        let rb: Vec<f32> = s.r.iter().zip(self.b).map(|(&r, &b)| r - b).collect();
        (serial_dot(&s.r, &s.y), 0.5 * serial_dot(&s.x, &rb))
    }
}

fn serial_dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum()
}

impl<A: FnMut(&[f32], &mut [f32]) -> Result<()>> CgSpace for SerialSpace<'_, A> {
    type Vector = Vec<f32>;
    fn len(&self) -> usize {
        self.b.len()
    }
    fn upload(&mut self, x: &[f32]) -> Result<Vec<f32>> {
        Ok(x.to_vec())
    }
    fn zeros(&mut self) -> Result<Vec<f32>> {
        Ok(vec![0.0; self.b.len()])
    }
    fn download(&mut self, x: &Vec<f32>) -> Result<Vec<f32>> {
        Ok(x.clone())
    }
    fn residual_product(&mut self, s: &mut CgState<Vec<f32>>) -> Result<()> {
        (self.op)(&s.x, &mut s.r)
    }
    fn start(&mut self, s: &mut CgState<Vec<f32>>) -> Result<(f64, f64)> {
        for (r, &b) in s.r.iter_mut().zip(self.b) {
            *r -= b;
        }
        let sums = self.precondition(s);
        for (p, &y) in s.p.iter_mut().zip(&s.y) {
            *p = -y;
        }
        Ok(sums)
    }
    fn curvature_along_direction(&mut self, s: &mut CgState<Vec<f32>>) -> Result<f64> {
        (self.op)(&s.p, &mut s.ap)?;
        Ok(serial_dot(&s.p, &s.ap))
    }
    fn update(&mut self, alpha: f64, s: &mut CgState<Vec<f32>>) -> Result<(f64, f64)> {
        for i in 0..s.x.len() {
            s.x[i] = (s.x[i] as f64 + alpha * s.p[i] as f64) as f32;
            s.r[i] = (s.r[i] as f64 + alpha * s.ap[i] as f64) as f32;
        }
        Ok(self.precondition(s))
    }
    fn next_direction(&mut self, beta: f64, s: &mut CgState<Vec<f32>>) -> Result<()> {
        for (p, &y) in s.p.iter_mut().zip(&s.y) {
            *p = (-(y as f64) + beta * *p as f64) as f32;
        }
        Ok(())
    }
}

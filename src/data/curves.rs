//! A CURVES-like data set, regenerated.
//!
//! The paper's CURVES file (Hinton & Salakhutdinov's `digs3pts_1.mat`) is not
//! available, so we generate images by the recipe in
//! `shared/data/README.md`. The results are comparable in kind to the
//! paper's, not digit for digit. Each 28×28 image is made as follows
//! (pixel `(row, col)` has its centre at coordinates `y = row`, `x = col`):
//!
//! 1. Three points `(x_k, y_k)`: the `x_k` are drawn uniformly (real-valued)
//!    in [2, 26] and sorted, redrawn until consecutive ones differ by at least
//!    2; the `y_k` are uniform in [2, 26].
//! 2. The curve is the *natural cubic spline* `y = S(x)` through the three
//!    points (zero second derivative at both ends), for `x ∈ [x_0, x_2]`.
//!    It may overshoot the [2, 26] box; ink falling off the image is dropped.
//! 3. Ink: 60 points evenly spaced in *arc length* along the curve (the arc
//!    length is measured on a 256-segment polyline of the spline), each
//!    depositing [`CURVES_INK_PER_POINT`] spread bilinearly over its 4
//!    nearest pixel centres.
//! 4. A separable Gaussian blur with σ = [`CURVES_BLUR_SIGMA`] px (5 taps,
//!    normalised; zero outside the image), then clipping at 1.
//!
//! Values lie in [0, 1]. The generator is deterministic per seed and fast
//! (single-threaded, no allocation per image).

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::rng::Rng;

/// Side length of a CURVES image in pixels.
pub const CURVES_SIDE: usize = 28;
/// Dimension of a flattened CURVES image (28 × 28).
pub const CURVES_DIM: usize = CURVES_SIDE * CURVES_SIDE;
/// Number of training images in the paper's CURVES set.
pub const CURVES_TRAIN: usize = 20_000;
/// Number of test images in the paper's CURVES set.
pub const CURVES_TEST: usize = 10_000;
/// Number of ink points placed along each curve.
pub const CURVES_INK_POINTS: usize = 60;
/// Ink each point deposits before blurring (then values are clipped at 1).
pub const CURVES_INK_PER_POINT: f64 = 1.0;
/// Standard deviation of the Gaussian blur, in pixels.
pub const CURVES_BLUR_SIGMA: f64 = 0.8;

/// Control points lie in [LO, HI] in both coordinates.
const LO: f64 = 2.0;
const HI: f64 = 26.0;
/// Minimum horizontal gap between consecutive control points.
const MIN_GAP: f64 = 2.0;
/// Segments of the polyline used to measure arc length.
const ARC_SEGMENTS: usize = 256;
/// Blur kernel half-width (taps = 2·RADIUS + 1); 2.5σ at σ = 0.8.
const RADIUS: usize = 2;

/// A natural cubic spline through three points with increasing x.
struct Spline3 {
    x: [f64; 3],
    y: [f64; 3],
    /// Second derivative at the middle knot (zero at the ends).
    m1: f64,
}

impl Spline3 {
    fn new(x: [f64; 3], y: [f64; 3]) -> Self {
        let (h0, h1) = (x[1] - x[0], x[2] - x[1]);
        // The one interior equation of the natural spline, with M0 = M2 = 0:
        // 2(h0 + h1) M1 = 6 [(y2 - y1)/h1 - (y1 - y0)/h0].
        let m1 = 3.0 * ((y[2] - y[1]) / h1 - (y[1] - y[0]) / h0) / (h0 + h1);
        Spline3 { x, y, m1 }
    }

    fn eval(&self, t: f64) -> f64 {
        let (i, m_lo, m_hi) = if t <= self.x[1] {
            (0, 0.0, self.m1)
        } else {
            (1, self.m1, 0.0)
        };
        let (xa, xb, ya, yb) = (self.x[i], self.x[i + 1], self.y[i], self.y[i + 1]);
        let h = xb - xa;
        let (a, b) = (xb - t, t - xa);
        m_lo * a * a * a / (6.0 * h)
            + m_hi * b * b * b / (6.0 * h)
            + (ya / h - m_lo * h / 6.0) * a
            + (yb / h - m_hi * h / 6.0) * b
    }
}

/// Draws three x coordinates in [LO, HI], sorted, with gaps of at least MIN_GAP.
fn draw_xs(rng: &mut Rng) -> [f64; 3] {
    loop {
        let mut x = [0.0; 3];
        for v in &mut x {
            *v = rng.uniform_range(LO, HI);
        }
        x.sort_by(f64::total_cmp);
        if x[1] - x[0] >= MIN_GAP && x[2] - x[1] >= MIN_GAP {
            return x;
        }
    }
}

/// Adds `ink` at real-valued pixel coordinates `(x, y)`, spread bilinearly
/// over the 4 nearest pixel centres; parts falling off the image are dropped.
fn deposit(img: &mut [f64; CURVES_DIM], x: f64, y: f64, ink: f64) {
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    for (dy, wy) in [(0, 1.0 - fy), (1, fy)] {
        for (dx, wx) in [(0, 1.0 - fx), (1, fx)] {
            let (r, c) = (y0 as i64 + dy, x0 as i64 + dx);
            if (0..CURVES_SIDE as i64).contains(&r) && (0..CURVES_SIDE as i64).contains(&c) {
                img[r as usize * CURVES_SIDE + c as usize] += ink * wx * wy;
            }
        }
    }
}

/// The normalised Gaussian blur kernel.
fn blur_kernel() -> [f64; 2 * RADIUS + 1] {
    let mut k = [0.0; 2 * RADIUS + 1];
    for (i, v) in k.iter_mut().enumerate() {
        let d = i as f64 - RADIUS as f64;
        *v = (-d * d / (2.0 * CURVES_BLUR_SIGMA * CURVES_BLUR_SIGMA)).exp();
    }
    let sum: f64 = k.iter().sum();
    k.iter_mut().for_each(|v| *v /= sum);
    k
}

/// One 1-D blur pass along rows (`stride` 1) or columns (`stride` 28).
fn blur_pass(
    src: &[f64; CURVES_DIM],
    dst: &mut [f64; CURVES_DIM],
    k: &[f64; 2 * RADIUS + 1],
    along_rows: bool,
) {
    let n = CURVES_SIDE as i64;
    for r in 0..n {
        for c in 0..n {
            let mut acc = 0.0;
            for (t, &w) in k.iter().enumerate() {
                let off = t as i64 - RADIUS as i64;
                let (rr, cc) = if along_rows {
                    (r, c + off)
                } else {
                    (r + off, c)
                };
                if (0..n).contains(&rr) && (0..n).contains(&cc) {
                    acc += w * src[(rr * n + cc) as usize];
                }
            }
            dst[(r * n + c) as usize] = acc;
        }
    }
}

/// Scratch buffers reused across images.
struct Canvas {
    ink: [f64; CURVES_DIM],
    tmp: [f64; CURVES_DIM],
    kernel: [f64; 2 * RADIUS + 1],
    /// Polyline points and cumulative arc length, for even spacing.
    px: [f64; ARC_SEGMENTS + 1],
    py: [f64; ARC_SEGMENTS + 1],
    arc: [f64; ARC_SEGMENTS + 1],
}

impl Canvas {
    fn new() -> Self {
        Canvas {
            ink: [0.0; CURVES_DIM],
            tmp: [0.0; CURVES_DIM],
            kernel: blur_kernel(),
            px: [0.0; ARC_SEGMENTS + 1],
            py: [0.0; ARC_SEGMENTS + 1],
            arc: [0.0; ARC_SEGMENTS + 1],
        }
    }

    /// Samples the spline densely and accumulates arc length.
    fn trace(&mut self, s: &Spline3) {
        let (a, b) = (s.x[0], s.x[2]);
        for i in 0..=ARC_SEGMENTS {
            let t = a + (b - a) * i as f64 / ARC_SEGMENTS as f64;
            self.px[i] = t;
            self.py[i] = s.eval(t);
            self.arc[i] = if i == 0 {
                0.0
            } else {
                let (dx, dy) = (t - self.px[i - 1], self.py[i] - self.py[i - 1]);
                self.arc[i - 1] + dx.hypot(dy)
            };
        }
    }

    /// Deposits the ink points, evenly spaced in arc length along the traced
    /// polyline (first and last at the curve's ends).
    fn ink_points(&mut self) {
        let total = self.arc[ARC_SEGMENTS];
        let mut seg = 0;
        for k in 0..CURVES_INK_POINTS {
            let target = total * k as f64 / (CURVES_INK_POINTS - 1) as f64;
            while seg + 1 < ARC_SEGMENTS && self.arc[seg + 1] < target {
                seg += 1;
            }
            let len = self.arc[seg + 1] - self.arc[seg];
            let f = if len > 0.0 {
                ((target - self.arc[seg]) / len).clamp(0.0, 1.0)
            } else {
                0.0
            };
            let x = self.px[seg] + f * (self.px[seg + 1] - self.px[seg]);
            let y = self.py[seg] + f * (self.py[seg + 1] - self.py[seg]);
            deposit(&mut self.ink, x, y, CURVES_INK_PER_POINT);
        }
    }

    /// Draws one image into `out` (784 values in [0, 1]).
    fn draw(&mut self, rng: &mut Rng, out: &mut [f32]) {
        let x = draw_xs(rng);
        let mut y = [0.0; 3];
        for v in &mut y {
            *v = rng.uniform_range(LO, HI);
        }
        self.ink = [0.0; CURVES_DIM];
        self.trace(&Spline3::new(x, y));
        self.ink_points();
        blur_pass(&self.ink, &mut self.tmp, &self.kernel, true);
        blur_pass(&self.tmp, &mut self.ink, &self.kernel, false);
        for (o, &v) in out.iter_mut().zip(self.ink.iter()) {
            *o = v.clamp(0.0, 1.0) as f32;
        }
    }
}

/// Generates `n` CURVES-like images (an autoencoder data set: targets =
/// inputs; 784-dim rows, values in [0, 1]) from the stream seeded by `seed`.
/// The same `(n, seed)` always gives the same bytes, and the first `m` images
/// of `curves(n, seed)` are those of `curves(m, seed)`.
pub fn curves(n: usize, seed: u64) -> Result<Dataset> {
    if n == 0 {
        return Err(Error::invalid("curves: need at least one image (n = 0)"));
    }
    let len = n
        .checked_mul(CURVES_DIM)
        .ok_or_else(|| Error::invalid(format!("curves: n = {n} images overflow")))?;
    let mut values = Vec::new();
    values.try_reserve_exact(len).map_err(|_| {
        Error::new(
            crate::error::ErrorKind::ResourceLimit,
            format!("curves: cannot allocate {n} images of {CURVES_DIM} values"),
        )
    })?;
    values.resize(len, 0.0f32);
    let mut rng = Rng::new(seed);
    let mut canvas = Canvas::new();
    for img in values.chunks_exact_mut(CURVES_DIM) {
        canvas.draw(&mut rng, img);
    }
    Dataset::autoencoder(n, CURVES_DIM, values)
}

/// The paper-sized CURVES-like split: 20000 training and 10000 test images,
/// from two independent streams whose seeds are derived from `seed`.
pub fn curves_train_test(seed: u64) -> Result<(Dataset, Dataset)> {
    let mut seeder = Rng::new(seed);
    let (train_seed, test_seed) = (seeder.next_u64(), seeder.next_u64());
    Ok((
        curves(CURVES_TRAIN, train_seed)?,
        curves(CURVES_TEST, test_seed)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spline_interpolates_and_is_natural() {
        let s = Spline3::new([2.0, 10.0, 20.0], [5.0, 20.0, 8.0]);
        for k in 0..3 {
            assert!((s.eval(s.x[k]) - s.y[k]).abs() < 1e-12);
        }
        // Continuous first derivative at the middle knot.
        let e = 1e-6;
        let left = (s.eval(10.0) - s.eval(10.0 - e)) / e;
        let right = (s.eval(10.0 + e) - s.eval(10.0)) / e;
        assert!((left - right).abs() < 1e-4, "{left} vs {right}");
        // Collinear points give a straight line.
        let line = Spline3::new([2.0, 6.0, 12.0], [3.0, 5.0, 8.0]);
        assert!(line.m1.abs() < 1e-12);
        assert!((line.eval(9.0) - 6.5).abs() < 1e-12);
    }

    #[test]
    fn control_points_follow_the_recipe() {
        let mut rng = Rng::new(5);
        for _ in 0..1000 {
            let x = draw_xs(&mut rng);
            assert!(x.iter().all(|&v| (LO..=HI).contains(&v)));
            assert!(x[1] - x[0] >= MIN_GAP && x[2] - x[1] >= MIN_GAP);
        }
    }

    #[test]
    fn deposit_conserves_ink_inside_the_image() {
        let mut img = [0.0; CURVES_DIM];
        deposit(&mut img, 10.3, 7.6, 1.0);
        assert!((img.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!((img[7 * CURVES_SIDE + 10] - 0.7 * 0.4).abs() < 1e-12);
        let k = blur_kernel();
        assert!((k.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn prefix_property_holds() {
        let a = curves(5, 9).unwrap();
        let b = curves(2, 9).unwrap();
        assert_eq!(&a.inputs()[..2 * CURVES_DIM], b.inputs());
    }
}

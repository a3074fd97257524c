//! A FACES-like data set, generated from the Olivetti faces.
//!
//! The paper's FACES set (Hinton & Salakhutdinov, 2006) was made from the 400
//! Olivetti images (40 people × 10 poses, 64×64) by random rotation, scaling,
//! translation, cropping and subsampling to 25×25. We regenerate it by the
//! recipe in `shared/data/README.md`; results are comparable in kind, not
//! image for image. For each output image:
//!
//! - the source is upright: the stored row is `reshape(64, 64)` then
//!   transposed, i.e. upright pixel `(r, c)` is stored at `c·64 + r`;
//! - angle θ uniform in [−90°, 90°], scale `s` uniform in [1.4, 1.8],
//!   translation `(tx, ty)` uniform in ±[`FACES_MAX_SHIFT`] output pixels;
//! - "scale `s`" magnifies the 64×64 face `s` times and keeps a 64×64 window,
//!   so the 25×25 output covers a `64/s`-pixel square of the source
//!   (35.6 to 45.7 px), centred on the image centre plus the translation,
//!   rotated by θ;
//! - each output pixel centre is mapped into the source and sampled
//!   bilinearly; coordinates beyond the source are clamped to its border
//!   (rotated window corners would otherwise show black triangles);
//! - intensities are the source bytes /255, so values lie in [0, 1].
//!
//! People 0–24 (source rows 0–249) give the training set, 25–29 are unused,
//! 30–39 (rows 300–399) give the test set. Examples are ordered
//! variant-major (`index = variant · sources + source`), so every contiguous
//! block of 250 training (100 test) examples holds each source image once:
//! the optimizer's contiguous curvature chunks see all training people.

use std::path::Path;

use super::npy::{read_npy, NpyArray, NpyData};
use crate::data::Dataset;
use crate::error::{Error, ErrorKind, Result};
use crate::rng::Rng;

/// Side length of a FACES image in pixels.
pub const FACES_SIDE: usize = 25;
/// Dimension of a flattened FACES image (25 × 25).
pub const FACES_DIM: usize = FACES_SIDE * FACES_SIDE;
/// Variants generated per source image in the paper.
pub const FACES_PAPER_PER_IMAGE: usize = 414;
/// Training images in the paper (250 sources × 414).
pub const FACES_PAPER_TRAIN: usize = 103_500;
/// Test images in the paper (100 sources × 414).
pub const FACES_PAPER_TEST: usize = 41_400;
/// People whose images form the training set.
pub const FACES_TRAIN_PEOPLE: std::ops::Range<usize> = 0..25;
/// People whose images form the test set (25–29 are unused).
pub const FACES_TEST_PEOPLE: std::ops::Range<usize> = 30..40;
/// Largest random translation, in output pixels, along each axis.
pub const FACES_MAX_SHIFT: f64 = 2.0;
/// Range of the random rotation, in degrees.
pub const FACES_ROTATION_DEG: (f64, f64) = (-90.0, 90.0);
/// Range of the random scale factor.
pub const FACES_SCALE: (f64, f64) = (1.4, 1.8);

/// Side of an Olivetti source image.
const SRC_SIDE: usize = 64;
/// Poses (images) per person.
const POSES: usize = 10;
/// People in the Olivetti set.
const PEOPLE: usize = 40;

/// The 400 upright source images, 64×64 each, in [0, 1].
struct Sources {
    pixels: Vec<f32>,
}

impl Sources {
    /// Transposes each stored image to upright and scales to [0, 1].
    fn from_olivetti(arr: &NpyArray) -> Result<Self> {
        let bytes = match &arr.data {
            NpyData::U8(b) => b,
            _ => {
                return Err(Error::unsupported(format!(
                    "Olivetti array has element type '{}'; expected unsigned bytes '|u1'",
                    arr.descr()
                )))
            }
        };
        let want = [PEOPLE * POSES, SRC_SIDE * SRC_SIDE];
        if arr.shape != want {
            return Err(Error::shape(format!(
                "Olivetti array has shape {:?}; expected {want:?} (40 people × 10 poses, 64×64)",
                arr.shape
            )));
        }
        let mut pixels = vec![0.0f32; bytes.len()];
        for (dst, src) in pixels
            .chunks_exact_mut(SRC_SIDE * SRC_SIDE)
            .zip(bytes.chunks_exact(SRC_SIDE * SRC_SIDE))
        {
            for r in 0..SRC_SIDE {
                for c in 0..SRC_SIDE {
                    dst[r * SRC_SIDE + c] = f32::from(src[c * SRC_SIDE + r]) / 255.0;
                }
            }
        }
        Ok(Sources { pixels })
    }

    fn image(&self, index: usize) -> &[f32] {
        &self.pixels[index * SRC_SIDE * SRC_SIDE..(index + 1) * SRC_SIDE * SRC_SIDE]
    }
}

/// Bilinear sample of an upright 64×64 image at real coordinates, clamped
/// to the border.
fn sample(img: &[f32], x: f64, y: f64) -> f64 {
    let max = (SRC_SIDE - 1) as f64;
    let (x, y) = (x.clamp(0.0, max), y.clamp(0.0, max));
    let (x0, y0) = (x.floor() as usize, y.floor() as usize);
    let (x1, y1) = ((x0 + 1).min(SRC_SIDE - 1), (y0 + 1).min(SRC_SIDE - 1));
    let (fx, fy) = (x - x0 as f64, y - y0 as f64);
    let at = |r: usize, c: usize| f64::from(img[r * SRC_SIDE + c]);
    (1.0 - fy) * ((1.0 - fx) * at(y0, x0) + fx * at(y0, x1))
        + fy * ((1.0 - fx) * at(y1, x0) + fx * at(y1, x1))
}

/// A random similarity transform from output to source coordinates.
struct Warp {
    cos: f64,
    sin: f64,
    /// Source pixels per output pixel.
    step: f64,
    tx: f64,
    ty: f64,
}

impl Warp {
    fn draw(rng: &mut Rng) -> Self {
        let theta = rng
            .uniform_range(FACES_ROTATION_DEG.0, FACES_ROTATION_DEG.1)
            .to_radians();
        let scale = rng.uniform_range(FACES_SCALE.0, FACES_SCALE.1);
        let tx = rng.uniform_range(-FACES_MAX_SHIFT, FACES_MAX_SHIFT);
        let ty = rng.uniform_range(-FACES_MAX_SHIFT, FACES_MAX_SHIFT);
        Warp {
            cos: theta.cos(),
            sin: theta.sin(),
            step: SRC_SIDE as f64 / (scale * FACES_SIDE as f64),
            tx,
            ty,
        }
    }

    /// Renders the 25×25 output of `img` into `out`.
    fn render(&self, img: &[f32], out: &mut [f32]) {
        let centre_out = (FACES_SIDE - 1) as f64 / 2.0;
        let centre_src = (SRC_SIDE - 1) as f64 / 2.0;
        for (v, row) in out.chunks_exact_mut(FACES_SIDE).enumerate() {
            for (u, o) in row.iter_mut().enumerate() {
                let du = (u as f64 - centre_out - self.tx) * self.step;
                let dv = (v as f64 - centre_out - self.ty) * self.step;
                let x = centre_src + self.cos * du - self.sin * dv;
                let y = centre_src + self.sin * du + self.cos * dv;
                *o = sample(img, x, y) as f32;
            }
        }
    }
}

/// Allocates `n_images × FACES_DIM` values, failing cleanly when too large.
fn allocate(n_images: usize) -> Result<Vec<f32>> {
    let len = n_images.checked_mul(FACES_DIM).ok_or_else(|| {
        Error::invalid(format!("faces: {n_images} images of {FACES_DIM} overflow"))
    })?;
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| {
        Error::new(
            ErrorKind::ResourceLimit,
            format!("faces: cannot allocate {n_images} images of {FACES_DIM} values"),
        )
    })?;
    v.resize(len, 0.0);
    Ok(v)
}

/// Generates `per_image` variants of each source in `rows`, variant-major.
fn generate(
    src: &Sources,
    rows: std::ops::Range<usize>,
    per_image: usize,
    seed: u64,
) -> Result<Dataset> {
    let n_src = rows.len();
    let n = n_src
        .checked_mul(per_image)
        .ok_or_else(|| Error::invalid(format!("faces: per_image = {per_image} overflows")))?;
    let mut values = allocate(n)?;
    let mut rng = Rng::new(seed);
    for (k, out) in values.chunks_exact_mut(FACES_DIM).enumerate() {
        let source = rows.start + k % n_src;
        Warp::draw(&mut rng).render(src.image(source), out);
    }
    Dataset::autoencoder(n, FACES_DIM, values)
}

/// Generates the FACES-like (train, test) sets from an Olivetti array already
/// in memory (shape 400×4096, unsigned bytes, as in the `.npy` file).
/// `per_image` variants are made of each source image (the paper: 414).
/// Train and test use independent random streams derived from `seed`.
pub fn faces_from_olivetti(
    olivetti: &NpyArray,
    per_image: usize,
    seed: u64,
) -> Result<(Dataset, Dataset)> {
    if per_image == 0 {
        return Err(Error::invalid("faces: per_image must be at least 1"));
    }
    let src = Sources::from_olivetti(olivetti)?;
    let mut seeder = Rng::new(seed);
    let (train_seed, test_seed) = (seeder.next_u64(), seeder.next_u64());
    let rows = |people: std::ops::Range<usize>| people.start * POSES..people.end * POSES;
    let train = generate(&src, rows(FACES_TRAIN_PEOPLE), per_image, train_seed)?;
    let test = generate(&src, rows(FACES_TEST_PEOPLE), per_image, test_seed)?;
    Ok((train, test))
}

/// Generates the FACES-like (train, test) sets from the Olivetti `.npy` file
/// (`olivetti_faces_uint8_400x4096.npy`): 250·`per_image` training images
/// from people 0–24 and 100·`per_image` test images from people 30–39, each
/// 625-dimensional (25×25) with values in [0, 1]; autoencoder sets (targets
/// = inputs). Use [`FACES_PAPER_PER_IMAGE`] for the paper's sizes.
/// Deterministic per `seed`.
pub fn faces(olivetti_npy: &Path, per_image: usize, seed: u64) -> Result<(Dataset, Dataset)> {
    let arr = read_npy(olivetti_npy)?;
    faces_from_olivetti(&arr, per_image, seed).map_err(|e| e.context(olivetti_npy.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bilinear_sample_is_exact_on_pixels_and_clamps() {
        let img: Vec<f32> = (0..SRC_SIDE * SRC_SIDE).map(|i| i as f32).collect();
        assert_eq!(sample(&img, 3.0, 2.0), (2 * 64 + 3) as f64);
        assert!((sample(&img, 3.5, 2.0) - (2 * 64) as f64 - 3.5).abs() < 1e-9);
        assert_eq!(sample(&img, -5.0, 100.0), (63 * 64) as f64);
    }

    #[test]
    fn identity_like_warp_samples_the_centre() {
        // No rotation, step 1: the output is the central 25×25 of the source.
        let img: Vec<f32> = (0..SRC_SIDE * SRC_SIDE).map(|i| i as f32).collect();
        let w = Warp {
            cos: 1.0,
            sin: 0.0,
            step: 1.0,
            tx: 0.0,
            ty: 0.0,
        };
        let mut out = vec![0.0; FACES_DIM];
        w.render(&img, &mut out);
        // Output (0, 0) maps to source (31.5 - 12, 31.5 - 12) = (19.5, 19.5).
        let want = 19.5 * 64.0 + 19.5;
        assert!((f64::from(out[0]) - want).abs() < 1e-3, "{}", out[0]);
    }

    #[test]
    fn overflowing_and_unallocatable_sizes_have_distinct_kinds() {
        let arr = NpyArray {
            shape: vec![400, 4096],
            data: NpyData::U8(vec![0; 400 * 4096]),
        };
        // 250 · per_image · 625 overflows usize: the caller's arithmetic error.
        let e = faces_from_olivetti(&arr, usize::MAX, 1).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{}", e.message());
        assert!(e.message().contains("overflow"), "{}", e.message());
        // Fits usize (about 7·10^17 bytes) but no machine has that much memory.
        let e = faces_from_olivetti(&arr, 1 << 40, 1).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ResourceLimit, "{}", e.message());
    }

    #[test]
    fn sources_are_transposed_upright() {
        let mut bytes = vec![0u8; 400 * 4096];
        bytes[5 * 64 + 2] = 255; // stored (row 5, col 2) of image 0
        let arr = NpyArray {
            shape: vec![400, 4096],
            data: NpyData::U8(bytes),
        };
        let s = Sources::from_olivetti(&arr).unwrap();
        assert_eq!(s.image(0)[2 * 64 + 5], 1.0); // upright (row 2, col 5)
        let bad = NpyArray {
            shape: vec![40, 4096],
            data: NpyData::U8(vec![0; 40 * 4096]),
        };
        assert!(Sources::from_olivetti(&bad)
            .err()
            .unwrap()
            .message()
            .contains("shape"));
    }
}

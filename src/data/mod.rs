//! Data sets: the generic in-memory [`Dataset`], the MNIST IDX reader, the
//! NumPy `.npy` reader, and the CURVES-like and FACES-like generators.
//!
//! Every loader takes its path explicitly. [`data_dir`], [`mnist_dir`] and
//! [`olivetti_file`] only resolve the default locations used by the examples
//! and tests.

mod curves;
mod dataset;
mod faces;
mod idx;
mod npy;

use std::path::PathBuf;

pub use curves::{
    curves, curves_train_test, CURVES_BLUR_SIGMA, CURVES_DIM, CURVES_INK_PER_POINT,
    CURVES_INK_POINTS, CURVES_SIDE, CURVES_TEST, CURVES_TRAIN,
};
pub use dataset::Dataset;
pub use faces::{
    faces, faces_from_olivetti, FACES_DIM, FACES_MAX_SHIFT, FACES_PAPER_PER_IMAGE,
    FACES_PAPER_TEST, FACES_PAPER_TRAIN, FACES_ROTATION_DEG, FACES_SCALE, FACES_SIDE,
    FACES_TEST_PEOPLE, FACES_TRAIN_PEOPLE,
};
pub use idx::{
    load_mnist, parse_idx, parse_idx_maybe_gzip, read_idx, IdxArray, Mnist, IDX_MAGIC_IMAGES,
    IDX_MAGIC_LABELS, IDX_TYPE_U8, MNIST_DIM, MNIST_SIDE,
};
pub use npy::{parse_npy, read_npy, NpyArray, NpyData};

/// Environment variable that overrides the default data directory.
pub const DATA_DIR_ENV: &str = "HESSFREE_DATA_DIR";

/// The data directory for examples and tests: `$HESSFREE_DATA_DIR` if set
/// (and non-empty), else `<crate root>/../shared/data`. Library functions
/// never use it implicitly; they take paths from the caller.
pub fn data_dir() -> PathBuf {
    match std::env::var_os(DATA_DIR_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data"),
    }
}

/// The default MNIST directory: `data_dir()/mnist`.
pub fn mnist_dir() -> PathBuf {
    data_dir().join("mnist")
}

/// The default Olivetti file: `data_dir()/olivetti/olivetti_faces_uint8_400x4096.npy`.
pub fn olivetti_file() -> PathBuf {
    data_dir()
        .join("olivetti")
        .join("olivetti_faces_uint8_400x4096.npy")
}

//! Data sets: the generic in-memory [`Dataset`], the MNIST IDX reader, and the
//! CURVES-like and FACES-like generators.

mod dataset;

pub use dataset::Dataset;

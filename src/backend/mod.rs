//! Compute backends: the CPU (ndarray) and, behind the `cuda` feature, CUDA.

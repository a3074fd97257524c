//! Forward and gradient passes and curvature-vector products on the CPU.

//! The Hessian-free optimizer. It works on any [`Objective`] and never names a
//! network type.
//!
//! - [`config`]: every option, with string keys for the C ABI and the CLI.
//! - [`cg`]: preconditioned linear CG with Martens' stopping rule.
//! - [`precond`], [`damping`], [`backtrack`], [`line_search`]: one rule each.
//! - [`session`]: the state of a run, one HF iteration, save and resume.
//! - [`report`]: per-iteration reports and the final summary.

pub mod backtrack;
pub mod cg;
pub mod config;
pub mod damping;
pub mod line_search;
mod objective;
pub mod precond;
pub mod report;
pub mod session;
pub(crate) mod vector;

pub use config::{BackendChoice, ChunkOrder, ConfigValue, HfConfig, KeyRange, KeySpec, KeyType};
pub use objective::{Chunk, CurvatureKind, Metrics, Objective};
pub use report::{IterationReport, RejectReason, Summary, Termination};
pub use session::{Control, Counters, Session, StopHandle};

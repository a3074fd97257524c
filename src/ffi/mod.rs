//! The C ABI: handles, status codes, last-error messages; one file per object.
//!
//! Conventions (they are repeated in `include/hessfree.h`):
//! - Every function returns an [`hf_status`]; `HF_OK` is 0. Details of an
//!   error are in the calling thread's last error message
//!   ([`error::hf_last_error_message`]), which names the function, the
//!   argument, and the index or shape at fault.
//! - Arguments: object first, then inputs, then outputs. Every array pointer
//!   is followed by its length in elements. Out-parameters are written only
//!   on success. A NULL array with length 0 is an empty array.
//! - Handles are opaque and validated: NULL, freed, forged and wrong-kind
//!   handles are reported, never dereferenced; `*_free(NULL)` and a second
//!   free are harmless.
//! - No panic crosses the boundary ([`guard::guard`]).
//!
//! Adding an exported function: write it in the object's file as
//! `#[no_mangle] pub (unsafe) extern "C" fn hf_<object>_<verb>(...) -> hf_status`
//! whose whole body is `guard("hf_<object>_<verb>", || { ... })`, converting
//! arguments with [`args`] and handles with [`handle`]. `build.rs` regenerates
//! the header from the doc comments in this folder.

// Declaration order is the header's order: basics first, then one file per object.
pub mod args;
pub mod data;
pub mod error;
pub mod guard;
pub mod handle;
pub mod status;
pub mod version;
// The objects built on the basics.
pub mod config;
pub mod host_objective;
pub mod net;
pub mod session;

pub use error::{FfiError, FfiResult};
pub use handle::{hf_config, hf_data, hf_net, hf_session};
pub use status::hf_status;

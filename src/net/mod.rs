//! Feed-forward networks: layer specs, activations, matched losses, the flat
//! parameter layout and initialisation.

mod activation;
mod init;
mod spec;

pub use activation::{Activation, Loss};
pub use init::{initial_params, Init, SPARSE_NONZEROS};
pub use spec::{LayerSlot, NetSpec, MAX_PARAMS};
mod objective;

pub use objective::{NetObjective, DEFAULT_WEIGHT_COST};
mod network;

pub use network::{Evaluation, Network, NETWORK_FILE_KIND};

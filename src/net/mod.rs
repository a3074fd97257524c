//! Feed-forward networks: layer specs, activations, losses, parameter layout, initialisation.

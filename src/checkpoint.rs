//! Versioned, checksummed save and load of networks and sessions.

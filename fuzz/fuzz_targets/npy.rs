//! Fuzz target: see `hessfree_fuzz::npy`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hessfree_fuzz::npy(data));

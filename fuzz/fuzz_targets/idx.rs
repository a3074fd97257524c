//! Fuzz target: see `hessfree_fuzz::idx`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hessfree_fuzz::idx(data));

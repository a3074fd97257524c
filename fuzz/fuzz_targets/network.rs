//! Fuzz target: see `hessfree_fuzz::network`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hessfree_fuzz::network(data));

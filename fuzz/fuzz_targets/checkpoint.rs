//! Fuzz target: see `hessfree_fuzz::checkpoint`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hessfree_fuzz::checkpoint(data));

//! Fuzz target: see `hessfree_fuzz::config`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hessfree_fuzz::config(data));

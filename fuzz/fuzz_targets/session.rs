//! Fuzz target: see `hessfree_fuzz::session`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hessfree_fuzz::session(data));

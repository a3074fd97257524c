//! Fuzz harnesses for every hessfree parser that reads bytes or text.
//!
//! Each function takes arbitrary bytes, runs one parser, and checks the
//! invariants a correct parser keeps: it returns `Ok` or `Err` (a panic is a
//! finding), and what it accepts survives a write/read round trip. The
//! libFuzzer targets in `fuzz_targets/` call these functions, and
//! `tests/fuzz_regressions.rs` includes this file by path so that every
//! committed crash input and seed is replayed by the normal `cargo test`.
//!
//! Checkpoint-based files carry a CRC-32, so almost every mutation would be
//! stopped at the checksum. [`reseal`] repairs the length field and the CRC
//! of a mutated container, so the fuzzer also reaches the section parsers
//! behind the checksum. Both the raw and the resealed input are tried.

use hessfree::checkpoint::{self, crc32, MAGIC};
use hessfree::hf::{Chunk, CurvatureKind, HfConfig, Objective, Session};
use hessfree::net::Network;
use hessfree::Result;

/// Offset of the total-length field in a container header.
const LENGTH_AT: usize = 12;
/// Magic, version and length: the bytes before the kind tag.
const HEADER_LEN: usize = 20;

/// `bytes` with the container's length field and trailing CRC recomputed, so
/// a mutated body passes the integrity checks. `None` when `bytes` is too
/// short to be a container or does not start with the magic.
pub fn reseal(bytes: &[u8]) -> Option<Vec<u8>> {
    if bytes.len() < HEADER_LEN + 4 || bytes[..MAGIC.len()] != MAGIC {
        return None;
    }
    let mut out = bytes.to_vec();
    let total = out.len() as u64;
    out[LENGTH_AT..LENGTH_AT + 8].copy_from_slice(&total.to_le_bytes());
    let body = out.len() - 4;
    let crc = crc32(&out[..body]);
    out[body..].copy_from_slice(&crc.to_le_bytes());
    Some(out)
}

/// The input as given and, when it looks like a container, resealed.
fn variants(data: &[u8]) -> Vec<Vec<u8>> {
    let mut v = vec![data.to_vec()];
    v.extend(reseal(data));
    v
}

/// IDX reader (plain or gzip): accepted arrays are self-consistent.
pub fn idx(data: &[u8]) {
    if let Ok(a) = hessfree::data::parse_idx_maybe_gzip(data) {
        let count = a.dims.iter().product::<usize>();
        assert_eq!(count, a.data.len(), "IDX dims disagree with data length");
    }
}

/// `.npy` reader: accepted arrays have as many elements as their shape says.
pub fn npy(data: &[u8]) {
    if let Ok(a) = hessfree::data::parse_npy(data) {
        let count = a.shape.iter().product::<usize>();
        assert_eq!(count, a.to_f32().len(), ".npy shape disagrees with data");
    }
}

/// Checkpoint container: what decodes re-encodes to the same bytes.
pub fn checkpoint(data: &[u8]) {
    for bytes in variants(data) {
        if let Ok(c) = checkpoint::decode(&bytes) {
            let again = c.encode();
            assert_eq!(again, bytes, "container does not re-encode to its bytes");
        }
    }
}

/// Network file: what loads is finite, fits its spec and round-trips.
pub fn network(data: &[u8]) {
    for bytes in variants(data) {
        if let Ok(net) = Network::from_bytes(&bytes) {
            assert_eq!(net.params().len(), net.spec().num_params());
            assert!(net.params().iter().all(|p| p.is_finite()));
            let again = Network::from_bytes(&net.to_bytes()).expect("re-read network");
            assert_eq!(again.to_bytes(), net.to_bytes(), "network round trip differs");
        }
    }
}

/// Number of parameters of the session fuzz objective.
pub const SESSION_PARAMS: usize = 3;

/// A tiny separable quadratic `Σ (i+1)/2·(θ_i − 1)²` over 4 "examples", so
/// that a resumed session can take a real (cheap) step.
#[derive(Clone, Debug, Default)]
pub struct Quadratic;

impl Quadratic {
    fn value(theta: &[f32]) -> f64 {
        theta
            .iter()
            .enumerate()
            .map(|(i, &t)| 0.5 * (i + 1) as f64 * (t as f64 - 1.0).powi(2))
            .sum()
    }
}

impl Objective for Quadratic {
    fn num_params(&self) -> usize {
        SESSION_PARAMS
    }
    fn num_examples(&self) -> usize {
        4
    }
    fn supports_curvature(&self, _kind: CurvatureKind) -> bool {
        true
    }
    fn loss(&mut self, theta: &[f32]) -> Result<f64> {
        Ok(Self::value(theta))
    }
    fn loss_and_gradient(
        &mut self,
        theta: &[f32],
        grad: &mut [f32],
        stat: Option<&mut [f32]>,
    ) -> Result<f64> {
        for (i, (g, &t)) in grad.iter_mut().zip(theta).enumerate() {
            *g = ((i + 1) as f64 * (t as f64 - 1.0)) as f32;
        }
        if let Some(stat) = stat {
            for (s, &g) in stat.iter_mut().zip(grad.iter()) {
                *s = g * g;
            }
        }
        Ok(Self::value(theta))
    }
    fn set_curvature_chunk(&mut self, _: &[f32], _: Chunk, _: CurvatureKind) -> Result<()> {
        Ok(())
    }
    fn curvature_product(&mut self, v: &[f32], out: &mut [f32]) -> Result<()> {
        for (i, (o, &x)) in out.iter_mut().zip(v).enumerate() {
            *o = (i + 1) as f32 * x;
        }
        Ok(())
    }
    fn chunk_loss(&mut self, theta: &[f32]) -> Result<f64> {
        Ok(Self::value(theta))
    }
}

/// Session checkpoint: what resumes re-saves identically and can take a
/// step (when its configuration keeps the step cheap).
pub fn session(data: &[u8]) {
    for bytes in variants(data) {
        let Ok(mut s) = Session::from_bytes(Quadratic, &bytes) else {
            continue;
        };
        let saved = s.to_bytes();
        let again = Session::from_bytes(Quadratic, &saved).expect("re-read session");
        assert_eq!(again.to_bytes(), saved, "session round trip differs");
        let c = s.config();
        if c.cg_max_iters <= 64 && c.ls_max_shrinks <= 64 {
            // Errors are fine (e.g. an unsupported setting); panics are not.
            let _ = s.step();
        }
    }
}

/// Configuration text: `from_text`, and `set_assignment` on every line;
/// an accepted configuration prints and re-parses to the same text.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(cfg) = HfConfig::from_text(text) {
        let printed = cfg.to_text();
        let again = HfConfig::from_text(&printed).expect("re-read printed config");
        assert_eq!(again.to_text(), printed, "config text round trip differs");
    }
    let mut cfg = HfConfig::default();
    for line in text.lines() {
        let _ = cfg.set_assignment(line);
    }
    let _ = cfg.validate();
}

//! Damaged files on disk, end to end through `Network::load` and
//! `Session::resume`: truncation, flipped bits, a future format version, the
//! wrong kind of file, and files that pass the checksum but hold garbage
//! (re-sealed after editing). Each is an error of the right kind whose
//! message names the file; none panics or yields garbage parameters.
//! (`tests/hf_checkpoint.rs` covers the container and session bytes.)

use std::path::{Path, PathBuf};

use hessfree::checkpoint::{ByteReader, ByteWriter, Container, FORMAT_VERSION};
use hessfree::hf::{Chunk, CurvatureKind, HfConfig, Objective, Session};
use hessfree::net::{initial_params, Activation, Init, NetSpec, Network};
use hessfree::{ErrorKind, Result};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hessfree-corrupt-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn network() -> Network {
    let spec = NetSpec::autoencoder(&[6, 4, 2], Activation::Logistic).unwrap();
    let theta = initial_params(&spec, Init::default(), 1).unwrap();
    Network::with_params(spec, theta).unwrap()
}

/// A separable quadratic with `n` parameters (cheap, exact curvature).
struct Quad(usize);

impl Objective for Quad {
    fn num_params(&self) -> usize {
        self.0
    }
    fn num_examples(&self) -> usize {
        1
    }
    fn supports_curvature(&self, _: CurvatureKind) -> bool {
        true
    }
    fn loss(&mut self, t: &[f32]) -> Result<f64> {
        Ok(t.iter().map(|&x| 0.5 * (x as f64 - 1.0).powi(2)).sum())
    }
    fn loss_and_gradient(
        &mut self,
        t: &[f32],
        g: &mut [f32],
        s: Option<&mut [f32]>,
    ) -> Result<f64> {
        for (g, &x) in g.iter_mut().zip(t) {
            *g = x - 1.0;
        }
        if let Some(s) = s {
            s.fill(1.0);
        }
        self.loss(t)
    }
    fn set_curvature_chunk(&mut self, _: &[f32], _: Chunk, _: CurvatureKind) -> Result<()> {
        Ok(())
    }
    fn curvature_product(&mut self, v: &[f32], out: &mut [f32]) -> Result<()> {
        out.copy_from_slice(v);
        Ok(())
    }
    fn chunk_loss(&mut self, t: &[f32]) -> Result<f64> {
        self.loss(t)
    }
}

fn session_bytes() -> Vec<u8> {
    let mut s = Session::new(Quad(4), &[0.0, 2.0, -1.0, 3.0], HfConfig::default()).unwrap();
    s.step().unwrap();
    s.to_bytes()
}

/// Writes `bytes` to `dir/name` and loads it as a network and as a session;
/// returns both errors (panics if either loads).
fn load_both(dir: &Path, name: &str, bytes: &[u8]) -> (hessfree::Error, hessfree::Error) {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let Err(net) = Network::load(&path) else {
        panic!("network must be rejected");
    };
    let Err(ses) = Session::resume(Quad(4), &path) else {
        panic!("session must be rejected");
    };
    for e in [&net, &ses] {
        assert!(
            e.message().contains(name),
            "message must name the file: {e}"
        );
    }
    (net, ses)
}

#[test]
fn truncated_files_are_rejected_naming_the_file() {
    let dir = temp_dir("trunc");
    for good in [network().to_bytes(), session_bytes()] {
        for cut in [0, 7, 8, 20, good.len() / 3, good.len() - 4, good.len() - 1] {
            let (net, ses) = load_both(&dir, "cut.bin", &good[..cut]);
            assert_eq!(net.kind(), ErrorKind::Format, "cut {cut}: {net}");
            assert_eq!(ses.kind(), ErrorKind::Format, "cut {cut}: {ses}");
            if cut >= 20 {
                assert!(net.message().contains("truncated"), "{net}");
            }
        }
    }
}

#[test]
fn flipped_bits_are_checksum_errors() {
    let dir = temp_dir("flip");
    let net_bytes = network().to_bytes();
    let ses_bytes = session_bytes();
    for good in [&net_bytes, &ses_bytes] {
        for pos in (20..good.len()).step_by(11) {
            let mut b = good.clone();
            b[pos] ^= 0x10;
            let path = dir.join("flip.bin");
            std::fs::write(&path, &b).unwrap();
            let e = if good == &net_bytes {
                Network::load(&path).err().unwrap()
            } else {
                Session::resume(Quad(4), &path).err().unwrap()
            };
            assert_eq!(e.kind(), ErrorKind::Checksum, "byte {pos}: {e}");
            assert!(e.message().contains("checksum"), "{e}");
        }
    }
}

#[test]
fn future_version_is_a_version_error() {
    let dir = temp_dir("version");
    for good in [network().to_bytes(), session_bytes()] {
        let mut b = good.clone();
        b[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
        let (net, ses) = load_both(&dir, "future.bin", &b);
        for e in [net, ses] {
            assert_eq!(e.kind(), ErrorKind::Version, "{e}");
            assert!(e.message().contains("upgrade"), "{e}");
        }
    }
}

#[test]
fn a_file_of_the_other_kind_is_rejected() {
    let dir = temp_dir("kind");
    let net_path = dir.join("net.hfn");
    let ses_path = dir.join("session.hfs");
    network().save(&net_path).unwrap();
    std::fs::write(&ses_path, session_bytes()).unwrap();
    let e = Session::resume(Quad(4), &net_path).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::Format);
    assert!(e.message().contains("expected a 'hf-session'"), "{e}");
    let e = Network::load(&ses_path).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::Format);
    assert!(e.message().contains("hf-session"), "{e}");
    // A session of another model size.
    let e = Session::resume(Quad(5), &ses_path).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::ShapeMismatch, "{e}");
}

/// Rebuilds a network file with edited sections (and a valid checksum).
fn network_with(edit: impl FnOnce(&mut Container)) -> Vec<u8> {
    let mut c = hessfree::checkpoint::decode(&network().to_bytes()).unwrap();
    edit(&mut c);
    c.encode()
}

fn params_section(values: &[f32]) -> Vec<u8> {
    let mut w = ByteWriter::new();
    w.f32s(values);
    w.into_bytes()
}

#[test]
fn sealed_but_garbage_network_files_are_rejected() {
    let n = network().params().len();
    let mut nan = network().params().to_vec();
    nan[3] = f32::NAN;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "NaN parameter",
            network_with(|c| c.add("params", params_section(&nan))),
        ),
        (
            "too few parameters",
            network_with(|c| c.add("params", params_section(&vec![0.0; n - 1]))),
        ),
        (
            "no params section",
            network_with(|c| c.sections.retain(|s| s.name != "params")),
        ),
        ("zero-width layer", {
            network_with(|c| {
                let mut w = ByteWriter::new();
                w.u32(3);
                for s in [6u64, 0, 6] {
                    w.u64(s);
                }
                w.u32(0);
                w.u32(0);
                c.add("architecture", w.into_bytes());
            })
        }),
        ("2^40-wide layer", {
            network_with(|c| {
                let arch = c.get("architecture").unwrap().to_vec();
                let mut r = ByteReader::new(&arch);
                let count = r.u32().unwrap();
                let mut w = ByteWriter::new();
                w.u32(count);
                for i in 0..count {
                    let s = r.u64().unwrap();
                    w.u64(if i == 1 { 1 << 40 } else { s });
                }
                w.bytes(r.take(r.remaining() as u64).unwrap());
                c.add("architecture", w.into_bytes());
            })
        }),
        ("unknown activation code", {
            network_with(|c| {
                let mut arch = c.get("architecture").unwrap().to_vec();
                let last = arch.len() - 4;
                arch[last..].copy_from_slice(&999u32.to_le_bytes());
                c.add("architecture", arch);
            })
        }),
    ];
    for (what, bytes) in cases {
        let e = Network::from_bytes(&bytes)
            .err()
            .unwrap_or_else(|| panic!("{what} accepted"));
        assert!(
            matches!(e.kind(), ErrorKind::Format | ErrorKind::ResourceLimit),
            "{what}: {e}"
        );
        eprintln!("{what}: {e}");
    }
}

/// Rebuilds a session file with one section replaced.
fn session_with(name: &str, data: Vec<u8>) -> Vec<u8> {
    let mut c = hessfree::checkpoint::decode(&session_bytes()).unwrap();
    c.add(name, data);
    c.encode()
}

#[test]
fn sealed_but_garbage_session_files_are_rejected() {
    let state = hessfree::checkpoint::decode(&session_bytes())
        .unwrap()
        .get("state")
        .unwrap()
        .to_vec();
    let with_lambda = |lambda: f64| {
        let mut s = state.clone();
        s[16..24].copy_from_slice(&lambda.to_le_bytes());
        s
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "NaN theta",
            session_with("theta", params_section(&[0.0, f32::NAN, 0.0, 0.0])),
        ),
        (
            "infinite theta",
            session_with("theta", params_section(&[f32::INFINITY, 0.0, 0.0, 0.0])),
        ),
        (
            "NaN warm start",
            session_with("p_prev", params_section(&[0.0, 0.0, f32::NAN, 0.0])),
        ),
        (
            "short theta",
            session_with("theta", params_section(&[0.0; 3])),
        ),
        ("negative lambda", session_with("state", with_lambda(-1.0))),
        ("NaN lambda", session_with("state", with_lambda(f64::NAN))),
        (
            "state cut short",
            session_with("state", state[..state.len() - 8].to_vec()),
        ),
        (
            "bad config",
            session_with("config", b"initial_lambda=-3\n".to_vec()),
        ),
        ("config not UTF-8", session_with("config", vec![0xff, 0xfe])),
    ];
    for (what, bytes) in cases {
        let e = Session::from_bytes(Quad(4), &bytes)
            .err()
            .unwrap_or_else(|| panic!("{what} accepted"));
        eprintln!("{what}: {e}");
        assert_ne!(
            e.kind(),
            ErrorKind::Checksum,
            "{what}: the edit must be sealed"
        );
    }
}

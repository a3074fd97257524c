//! The checkpoint container and session files: corruption (truncation, a
//! flipped bit, a future version, wrong kind) is rejected with the right
//! error kind, arbitrary bytes never panic, and config text round-trips.

mod hf_common;

use hessfree::checkpoint::{self, Container, FORMAT_VERSION};
use hessfree::hf::{Control, HfConfig, Session};
use hessfree::rng::Rng;
use hessfree::ErrorKind;
use hf_common::Rosenbrock;

fn session_bytes() -> Vec<u8> {
    let cfg = HfConfig {
        max_iters: 3,
        ..HfConfig::default()
    };
    let mut s = Session::new(Rosenbrock::new(10), &Rosenbrock::start(10), cfg).unwrap();
    s.run(|_| Control::Continue).unwrap();
    s.to_bytes()
}

fn resume_kind(bytes: &[u8]) -> Option<ErrorKind> {
    Session::from_bytes(Rosenbrock::new(10), bytes)
        .err()
        .map(|e| e.kind())
}

#[test]
fn intact_session_bytes_resume() {
    let bytes = session_bytes();
    let s = Session::from_bytes(Rosenbrock::new(10), &bytes).unwrap();
    assert_eq!(s.iteration(), 3);
    assert_eq!(s.to_bytes(), bytes, "re-encoding is byte-identical");
}

#[test]
fn truncated_files_are_format_errors() {
    let bytes = session_bytes();
    for cut in [0, 4, 8, 12, 19, 20, 40, bytes.len() / 2, bytes.len() - 1] {
        assert_eq!(
            resume_kind(&bytes[..cut]),
            Some(ErrorKind::Format),
            "cut at {cut}"
        );
    }
}

#[test]
fn flipped_bits_are_checksum_errors() {
    let bytes = session_bytes();
    // Every bit after the fixed header (magic, version, length): payload and CRC.
    for pos in (20..bytes.len()).step_by(7) {
        for bit in [0, 3, 7] {
            let mut b = bytes.clone();
            b[pos] ^= 1 << bit;
            assert_eq!(
                resume_kind(&b),
                Some(ErrorKind::Checksum),
                "byte {pos} bit {bit}"
            );
        }
    }
}

#[test]
fn future_version_is_a_version_error_naming_both() {
    let mut bytes = session_bytes();
    bytes[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    let e = Session::from_bytes(Rosenbrock::new(10), &bytes)
        .err()
        .unwrap();
    assert_eq!(e.kind(), ErrorKind::Version);
    let msg = e.message();
    assert!(
        msg.contains(&(FORMAT_VERSION + 1).to_string())
            && msg.contains(&FORMAT_VERSION.to_string()),
        "{msg}"
    );
}

#[test]
fn other_kinds_and_bad_magic_are_format_errors() {
    let mut c = Container::new("net");
    c.add("layers", vec![1, 2, 3]);
    assert_eq!(resume_kind(&c.encode()), Some(ErrorKind::Format));
    let mut bytes = session_bytes();
    bytes[0] = b'X';
    assert_eq!(resume_kind(&bytes), Some(ErrorKind::Format));
    // A session file whose config names an unknown key (written by hand).
    let mut c = Container::new("hf-session");
    c.add("config", b"no_such_key=1\n".to_vec());
    assert_eq!(resume_kind(&c.encode()), Some(ErrorKind::UnknownKey));
}

#[test]
fn random_and_mutated_bytes_never_panic() {
    let good = session_bytes();
    let mut rng = Rng::new(99);
    for _ in 0..2000 {
        let mut b = good.clone();
        for _ in 0..1 + rng.below(4) {
            let i = rng.below(b.len() as u64) as usize;
            b[i] = rng.next_u64() as u8;
        }
        let _ = checkpoint::decode(&b);
        let _ = Session::from_bytes(Rosenbrock::new(10), &b);
    }
    for len in 0..200 {
        let b: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        assert!(checkpoint::decode(&b).is_err());
    }
    // A header that claims a huge section must not allocate it.
    let mut c = Container::new("x");
    c.add("s", vec![0; 16]);
    let mut b = c.encode();
    let len_at = b.len() - 4 - 16 - 8;
    b[len_at..len_at + 8].copy_from_slice(&u64::MAX.to_le_bytes());
    // Re-seal with a valid checksum so the section parser itself is exercised.
    let body = b.len() - 4;
    let crc = checkpoint::crc32(&b[..body]);
    b[body..].copy_from_slice(&crc.to_le_bytes());
    let e = checkpoint::decode(&b).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Format);
    assert!(e.message().contains("truncated data"), "{}", e.message());
}

#[test]
fn write_atomic_replaces_and_leaves_no_temporaries() {
    let dir = std::env::temp_dir().join(format!("hessfree-ckpt-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s.hfs");
    checkpoint::write_atomic(&path, b"old").unwrap();
    checkpoint::write_atomic(&path, &session_bytes()).unwrap();
    assert!(Session::resume(Rosenbrock::new(10), &path).is_ok());
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    let e = Session::resume(Rosenbrock::new(10), &dir.join("missing.hfs"))
        .err()
        .unwrap();
    assert_eq!(e.kind(), ErrorKind::Io);
    assert!(e.message().contains("missing.hfs"), "{}", e.message());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn config_text_round_trips_every_key() {
    let mut cfg = HfConfig::default();
    cfg.set_f64("initial_lambda", 1.0 / 3.0).unwrap();
    cfg.set_f64("target_objective", 1e-300).unwrap();
    cfg.set_str("backend", "cpu").unwrap();
    cfg.set_bool("tf32", true).unwrap();
    let text = cfg.to_text();
    assert_eq!(text.lines().count(), HfConfig::keys().len());
    let back = HfConfig::from_text(&text).unwrap();
    assert_eq!(back.to_text(), text);
    assert_eq!(back.initial_lambda.to_bits(), (1.0f64 / 3.0).to_bits());
    let e = HfConfig::from_text("cg_max_iters=0\n").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OutOfRange);
    assert!(
        e.message().contains("[1, 1000000]") && e.message().contains("line 1"),
        "{}",
        e.message()
    );
    let e = HfConfig::from_text("chunk_size=5000\ncg_max_iter=10").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnknownKey);
    assert!(
        e.message().contains("'cg_max_iters'") && e.message().contains("line 2"),
        "{}",
        e.message()
    );
}

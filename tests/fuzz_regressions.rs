//! Replays the fuzzers' seed corpora and every crash input they ever found
//! through the same harnesses the fuzz targets run (`fuzz/src/lib.rs`), so a
//! fixed parser bug stays fixed under the normal `cargo test`.
//!
//! Inputs live in `fuzz/corpus/<target>/seed-*` (valid files written by the
//! library itself; regenerate with
//! `cargo test --test fuzz_regressions -- --ignored write_seed_corpus`) and
//! `fuzz/regressions/<target>/*` (crash inputs found by libFuzzer, renamed).

#[path = "../fuzz/src/lib.rs"]
mod harness;

use std::path::{Path, PathBuf};

use hessfree::checkpoint::Container;
use hessfree::hf::{HfConfig, Session};
use hessfree::net::{initial_params, Activation, Init, NetSpec, Network};

type Harness = fn(&[u8]);

const TARGETS: [(&str, Harness); 6] = [
    ("idx", harness::idx),
    ("npy", harness::npy),
    ("checkpoint", harness::checkpoint),
    ("network", harness::network),
    ("session", harness::session),
    ("config", harness::config),
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The files directly inside `dir` (none if it does not exist), sorted.
fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    out.retain(|p| p.is_file());
    out.sort();
    out
}

/// Runs every file in `fuzz/<kind>/<target>/` (only `seed-*` files for the
/// corpus) through the target's harness; returns how many ran.
fn replay(kind: &str, only_seeds: bool) -> usize {
    let mut ran = 0;
    for (target, run) in TARGETS {
        for path in files_in(&fuzz_dir().join(kind).join(target)) {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if only_seeds && !name.starts_with("seed-") {
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            eprintln!("{kind}/{target}/{name}: {} bytes", bytes.len());
            run(&bytes);
            ran += 1;
        }
    }
    ran
}

#[test]
fn crash_inputs_found_by_fuzzing_stay_fixed() {
    let n = replay("regressions", false);
    eprintln!("{n} regression inputs replayed");
}

#[test]
fn seed_corpus_is_present_and_passes() {
    let n = replay("corpus", true);
    assert!(n >= 12, "expected the committed seed corpus, found {n} seeds");
}

#[test]
fn seeds_are_accepted_by_their_parsers() {
    // A seed that does not parse would steer the fuzzer only through error
    // paths; check that each is a valid file of its kind.
    let dir = fuzz_dir().join("corpus");
    for path in files_in(&dir.join("idx")) {
        hessfree::data::parse_idx_maybe_gzip(&std::fs::read(&path).unwrap()).unwrap();
    }
    for path in files_in(&dir.join("npy")) {
        hessfree::data::parse_npy(&std::fs::read(&path).unwrap()).unwrap();
    }
    for path in files_in(&dir.join("network")) {
        Network::from_bytes(&std::fs::read(&path).unwrap()).unwrap();
    }
    for path in files_in(&dir.join("session")) {
        Session::from_bytes(harness::Quadratic, &std::fs::read(&path).unwrap()).unwrap();
    }
}

#[test]
fn reseal_repairs_length_and_checksum() {
    let mut c = Container::new("test");
    c.add("a", vec![1, 2, 3]);
    let good = c.encode();
    let mut bad = good.clone();
    let body = bad.len() - 5;
    bad[body] ^= 0xff; // last data byte
    assert!(hessfree::checkpoint::decode(&bad).is_err());
    let fixed = harness::reseal(&bad).unwrap();
    let d = hessfree::checkpoint::decode(&fixed).unwrap();
    assert_eq!(d.get("a"), Some(&[1u8, 2, 3 ^ 0xff][..]));
    assert!(harness::reseal(b"HESSFREE").is_none());
}

// ---- seed corpus generation -------------------------------------------

fn idx_bytes(dims: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut b = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        b.extend_from_slice(&d.to_be_bytes());
    }
    b.extend_from_slice(payload);
    b
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn npy_bytes(major: u8, dict: &str, payload: &[u8]) -> Vec<u8> {
    let mut b = b"\x93NUMPY".to_vec();
    b.extend_from_slice(&[major, 0]);
    let mut h = dict.as_bytes().to_vec();
    h.push(b'\n');
    if major == 1 {
        b.extend_from_slice(&(h.len() as u16).to_le_bytes());
    } else {
        b.extend_from_slice(&(h.len() as u32).to_le_bytes());
    }
    b.extend_from_slice(&h);
    b.extend_from_slice(payload);
    b
}

fn tiny_network() -> Network {
    let spec = NetSpec::autoencoder(&[4, 3, 2], Activation::Logistic).unwrap();
    let theta = initial_params(&spec, Init::default(), 7).unwrap();
    Network::with_params(spec, theta).unwrap()
}

fn tiny_session_bytes(steps: usize) -> Vec<u8> {
    let config = HfConfig {
        cg_max_iters: 8,
        ls_max_shrinks: 8,
        ..HfConfig::default()
    };
    let mut s = Session::new(harness::Quadratic, &[0.0, 2.0, -1.0], config).unwrap();
    for _ in 0..steps {
        s.step().unwrap();
    }
    s.to_bytes()
}

/// The seed corpus: small valid files of each kind, written by the library.
fn seeds() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let images = idx_bytes(&[2, 2, 3], &[0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255]);
    let labels = idx_bytes(&[3], &[7, 0, 9]);
    let u8_dict = "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3), }";
    let f4_dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
    let f8_dict = "{\"descr\": \"<f8\", \"fortran_order\": False, \"shape\": (1, 1)}";
    let f4: Vec<u8> = [1.5f32, -2.0].iter().flat_map(|x| x.to_le_bytes()).collect();
    let mut container = Container::new("test");
    container.add("a", vec![1, 2, 3]);
    container.add("b", Vec::new());
    let mut cfg = HfConfig::default();
    cfg.set_assignment("chunk_order=random").unwrap();
    cfg.set_assignment("lambda_max=inf").unwrap();
    vec![
        ("idx", "seed-images", images.clone()),
        ("idx", "seed-labels", labels),
        ("idx", "seed-images-gz", gzip(&images)),
        ("npy", "seed-u1-v1", npy_bytes(1, u8_dict, &[1, 2, 3, 4, 5, 6])),
        ("npy", "seed-f4-v1", npy_bytes(1, f4_dict, &f4)),
        ("npy", "seed-f8-v2", npy_bytes(2, f8_dict, &0.25f64.to_le_bytes())),
        ("checkpoint", "seed-container", container.encode()),
        ("checkpoint", "seed-network", tiny_network().to_bytes()),
        ("network", "seed-network", tiny_network().to_bytes()),
        ("session", "seed-session-0", tiny_session_bytes(0)),
        ("session", "seed-session-2", tiny_session_bytes(2)),
        ("config", "seed-default", HfConfig::default().to_text().into_bytes()),
        ("config", "seed-custom", format!("# comment\n\n{}", cfg.to_text()).into_bytes()),
        (
            "config",
            "seed-assignments",
            b"initial_lambda = 1e-3\nbackend=cpu\nline_search=off\nmax_iters=5\n".to_vec(),
        ),
    ]
}

#[test]
#[ignore = "writes the seed corpus into fuzz/corpus; run by hand"]
fn write_seed_corpus() {
    for (target, name, bytes) in seeds() {
        let dir = fuzz_dir().join("corpus").join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

//! Integration tests of the data module: the IDX reader on the real MNIST
//! files and on corrupt copies, the .npy reader, and the CURVES-like and
//! FACES-like generators.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use hessfree::data::{
    curves, curves_train_test, faces, faces_from_olivetti, load_mnist, mnist_dir, olivetti_file,
    parse_idx, read_idx, read_npy, Dataset, NpyArray, NpyData, CURVES_DIM, CURVES_TEST,
    CURVES_TRAIN, FACES_DIM, MNIST_DIM,
};
use hessfree::ErrorKind;

/// A fresh, empty temp directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "hessfree-test-data-{}-{n}-{tag}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The MNIST directory, or `None` (after a loud SKIPPED line) when absent.
fn mnist_or_skip(test: &str) -> Option<PathBuf> {
    let dir = mnist_dir();
    if dir.join("train-images-idx3-ubyte.gz").is_file() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED: {test}: MNIST not found in {} (set HESSFREE_DATA_DIR)",
            dir.display()
        );
        None
    }
}

fn olivetti_or_skip(test: &str) -> Option<PathBuf> {
    let file = olivetti_file();
    if file.is_file() {
        Some(file)
    } else {
        eprintln!(
            "SKIPPED: {test}: Olivetti file {} not found (set HESSFREE_DATA_DIR)",
            file.display()
        );
        None
    }
}

fn gunzip(path: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(fs::File::open(path).unwrap())
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn histogram(labels: &[u8]) -> [usize; 10] {
    let mut h = [0; 10];
    for &l in labels {
        h[usize::from(l)] += 1;
    }
    h
}

fn assert_in_unit_range(set: &Dataset, what: &str) {
    let bad = set
        .inputs()
        .iter()
        .position(|x| !(0.0..=1.0).contains(x) || x.is_nan());
    assert_eq!(bad, None, "{what}: value out of [0, 1] or NaN");
}

const MNIST_FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

#[test]
fn mnist_real_files_have_known_counts_and_histograms() {
    let Some(dir) = mnist_or_skip("mnist_real_files_have_known_counts_and_histograms") else {
        return;
    };
    let raw = read_idx(&dir.join("train-images-idx3-ubyte.gz")).unwrap();
    assert_eq!(raw.dims, vec![60000, 28, 28]);
    assert_eq!(raw.data.len(), 60000 * 784);

    let m = load_mnist(&dir).unwrap();
    assert_eq!((m.train.len(), m.test.len()), (60000, 10000));
    assert_eq!(m.train.input_dim(), MNIST_DIM);
    assert!(m.train.is_autoencoder() && m.test.is_autoencoder());
    assert_eq!((m.train_labels.len(), m.test_labels.len()), (60000, 10000));
    let train_hist = histogram(&m.train_labels);
    assert_eq!(train_hist[0], 5923);
    assert_eq!(
        train_hist,
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    );
    assert_eq!(
        histogram(&m.test_labels),
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );
    assert_in_unit_range(&m.train, "MNIST train");
    assert_in_unit_range(&m.test, "MNIST test");
    // Pixel scaling is b/255: the raw bytes map one to one.
    let i = raw.data.iter().position(|&b| b == 255).unwrap();
    assert_eq!(m.train.inputs()[i], 1.0);
    assert_eq!(m.train.inputs()[0], f32::from(raw.data[0]) / 255.0);
    let max = m.train.inputs().iter().cloned().fold(0.0f32, f32::max);
    assert_eq!(max, 1.0);
}

#[test]
fn mnist_plain_and_gzip_read_identically() {
    let Some(dir) = mnist_or_skip("mnist_plain_and_gzip_read_identically") else {
        return;
    };
    let tmp = TempDir::new("plain");
    for name in MNIST_FILES {
        fs::write(tmp.path(name), gunzip(&dir.join(format!("{name}.gz")))).unwrap();
    }
    let gz = load_mnist(&dir).unwrap();
    let plain = load_mnist(&tmp.0).unwrap();
    assert_eq!(gz.train.inputs(), plain.train.inputs());
    assert_eq!(gz.test.inputs(), plain.test.inputs());
    assert_eq!(gz.train_labels, plain.train_labels);
    assert_eq!(gz.test_labels, plain.test_labels);

    // Gzip is detected by content: a plain file named .gz and a gzip file
    // without the suffix both read correctly.
    let labels = tmp.path("t10k-labels-idx1-ubyte");
    let renamed = tmp.path("plain-named.gz");
    fs::copy(&labels, &renamed).unwrap();
    let gz_unnamed = tmp.path("gzip-unnamed");
    fs::copy(dir.join("t10k-labels-idx1-ubyte.gz"), &gz_unnamed).unwrap();
    assert_eq!(read_idx(&renamed).unwrap(), read_idx(&labels).unwrap());
    assert_eq!(read_idx(&gz_unnamed).unwrap(), read_idx(&labels).unwrap());
}

/// Writes `bytes` as `name` in `tmp`, reads it, and checks that the error
/// names the file and contains `want`.
fn expect_idx_error(tmp: &TempDir, name: &str, bytes: &[u8], want: &str) {
    let path = tmp.path(name);
    fs::write(&path, bytes).unwrap();
    let err = read_idx(&path).expect_err(name);
    let msg = err.to_string();
    assert!(
        msg.contains(name),
        "{name}: message does not name the file: {msg}"
    );
    assert!(msg.contains(want), "{name}: expected {want:?} in: {msg}");
}

fn set_dims(bytes: &[u8], dims: &[u32]) -> Vec<u8> {
    let mut b = bytes.to_vec();
    for (k, d) in dims.iter().enumerate() {
        b[4 + 4 * k..8 + 4 * k].copy_from_slice(&d.to_be_bytes());
    }
    b
}

#[test]
fn corrupt_idx_files_give_clear_errors() {
    let Some(dir) = mnist_or_skip("corrupt_idx_files_give_clear_errors") else {
        return;
    };
    let tmp = TempDir::new("corrupt");
    let images = gunzip(&dir.join("t10k-images-idx3-ubyte.gz"));
    let labels = gunzip(&dir.join("t10k-labels-idx1-ubyte.gz"));
    assert_eq!(parse_idx(&images).unwrap().dims, vec![10000, 28, 28]);

    let mut bad_magic = labels.clone();
    bad_magic[0] = 0x1f; // not gzip either: second byte is 0
    expect_idx_error(&tmp, "bad-magic", &bad_magic, "bad magic number");
    let mut f32_type = labels.clone();
    f32_type[2] = 0x0D;
    expect_idx_error(&tmp, "f32-type", &f32_type, "0x0D (f32) is not supported");
    let mut odd_type = labels.clone();
    odd_type[2] = 0x07;
    expect_idx_error(&tmp, "odd-type", &odd_type, "unknown IDX element type 0x07");
    expect_idx_error(&tmp, "short-header", &images[..10], "truncated header");
    expect_idx_error(
        &tmp,
        "t10k-images-truncated",
        &images[..images.len() - 1000],
        "truncated: header says 10000×28×28 = 7840000 data bytes, file has 7839000",
    );
    let mut trailing = labels.clone();
    trailing.extend_from_slice(b"junk");
    expect_idx_error(&tmp, "trailing", &trailing, "4 trailing bytes");
    let huge = set_dims(&images, &[u32::MAX, 28, 28]);
    expect_idx_error(
        &tmp,
        "huge-dims",
        &huge,
        "truncated: header says 4294967295×28×28",
    );
    let overflow = set_dims(&images, &[u32::MAX, u32::MAX, u32::MAX]);
    expect_idx_error(&tmp, "overflow-dims", &overflow, "overflow");
    expect_idx_error(&tmp, "empty", &[], "empty file");

    // The same checks behind gzip, plus broken gzip streams.
    expect_idx_error(&tmp, "huge.gz", &gzip(&huge), "truncated: header says");
    expect_idx_error(&tmp, "trailing.gz", &gzip(&trailing), "trailing bytes");
    let good_gz = fs::read(dir.join("t10k-labels-idx1-ubyte.gz")).unwrap();
    expect_idx_error(
        &tmp,
        "cut.gz",
        &good_gz[..good_gz.len() / 2],
        "truncated or corrupt gzip stream",
    );
    let mut flipped = good_gz.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x55;
    expect_idx_error(&tmp, "flipped.gz", &flipped, "gzip stream");
    let mut junk_after = good_gz.clone();
    junk_after.extend_from_slice(b"not gzip");
    expect_idx_error(&tmp, "junk-after.gz", &junk_after, "gzip stream");

    let missing = tmp.path("no-such-file");
    let err = read_idx(&missing).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    assert!(err.to_string().contains("no-such-file"), "{err}");
}

#[test]
fn load_mnist_reports_missing_and_mismatched_files() {
    let Some(dir) = mnist_or_skip("load_mnist_reports_missing_and_mismatched_files") else {
        return;
    };
    let tmp = TempDir::new("mismatch");
    let err = load_mnist(&tmp.0).unwrap_err();
    assert!(
        err.to_string().contains("train-images-idx3-ubyte.gz"),
        "{err}"
    );
    // Test images with training labels: the counts disagree.
    fs::copy(
        dir.join("t10k-images-idx3-ubyte.gz"),
        tmp.path("train-images-idx3-ubyte.gz"),
    )
    .unwrap();
    fs::copy(
        dir.join("train-labels-idx1-ubyte.gz"),
        tmp.path("train-labels-idx1-ubyte"),
    )
    .unwrap();
    let err = load_mnist(&tmp.0).unwrap_err();
    assert!(
        err.to_string().contains("holds 10000 images") && err.to_string().contains("60000 labels"),
        "{err}"
    );
    // Labels where images are expected: wrong shape, named.
    fs::copy(
        dir.join("train-labels-idx1-ubyte.gz"),
        tmp.path("train-images-idx3-ubyte.gz"),
    )
    .unwrap();
    let err = load_mnist(&tmp.0).unwrap_err();
    assert!(
        err.to_string().contains("train-images-idx3-ubyte.gz")
            && err.to_string().contains("N×28×28"),
        "{err}"
    );
}

/// A `.npy` file with the given version, header dictionary and payload.
fn npy(major: u8, dict: &str, payload: &[u8]) -> Vec<u8> {
    let mut b = b"\x93NUMPY".to_vec();
    b.extend_from_slice(&[major, 0]);
    let mut header = dict.as_bytes().to_vec();
    while (b.len() + header.len() + if major == 1 { 3 } else { 5 }) % 64 != 0 {
        header.push(b' ');
    }
    header.push(b'\n');
    if major == 1 {
        b.extend_from_slice(&(header.len() as u16).to_le_bytes());
    } else {
        b.extend_from_slice(&(header.len() as u32).to_le_bytes());
    }
    b.extend_from_slice(&header);
    b.extend_from_slice(payload);
    b
}

#[test]
fn npy_reader_reads_good_files_and_rejects_bad_ones() {
    let tmp = TempDir::new("npy");
    let f4: Vec<u8> = [0.5f32, 1.0, -3.0, 4.25, 5.0, 6.0]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    let good = tmp.path("good.npy");
    fs::write(
        &good,
        npy(
            3,
            "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }",
            &f4,
        ),
    )
    .unwrap();
    let a = read_npy(&good).unwrap();
    assert_eq!(a.shape, vec![3, 2]);
    assert_eq!(a.data, NpyData::F32(vec![0.5, 1.0, -3.0, 4.25, 5.0, 6.0]));

    let d = |descr: &str, fortran: &str, shape: &str| {
        format!("{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}")
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "big-endian.npy",
            npy(1, &d(">f4", "False", "(3, 2)"), &f4),
            "big-endian",
        ),
        (
            "int.npy",
            npy(1, &d("<i4", "False", "(3, 2)"), &f4),
            "'<i4' is not supported",
        ),
        (
            "fortran.npy",
            npy(1, &d("<f4", "True", "(3, 2)"), &f4),
            "Fortran",
        ),
        (
            "rank3.npy",
            npy(1, &d("<f4", "False", "(1, 3, 2)"), &f4),
            "only 1-D and 2-D",
        ),
        (
            "short.npy",
            npy(1, &d("<f4", "False", "(3, 3)"), &f4),
            "truncated",
        ),
        (
            "long.npy",
            npy(1, &d("<f4", "False", "(5,)"), &f4),
            "trailing bytes",
        ),
        (
            "huge.npy",
            npy(2, &d("<f8", "False", "(4000000000, 4000000000)"), &f4),
            "overflows",
        ),
        (
            "lying-huge.npy",
            npy(1, &d("|u1", "False", "(4000000000,)"), &f4),
            "truncated",
        ),
        (
            "no-shape.npy",
            npy(1, "{'descr': '<f4', 'fortran_order': False}", &f4),
            "'shape'",
        ),
        (
            "garbled.npy",
            npy(1, "{'descr': '<f4' 'shape'}", &f4),
            "malformed header",
        ),
        (
            "bad-magic.npy",
            b"\x93NUMPX\x01\x00\x00\x00".to_vec(),
            "bad magic",
        ),
        (
            "version9.npy",
            npy(9, &d("<f4", "False", "(3, 2)"), &f4),
            "version 9.0",
        ),
        ("empty.npy", Vec::new(), "empty file"),
        (
            "cut-preamble.npy",
            b"\x93NUMPY\x02\x00\x10".to_vec(),
            "truncated header",
        ),
    ];
    for (name, bytes, want) in cases {
        let path = tmp.path(name);
        fs::write(&path, bytes).unwrap();
        let msg = read_npy(&path).expect_err(name).to_string();
        assert!(msg.contains(name), "{name}: file not named: {msg}");
        assert!(msg.contains(want), "{name}: expected {want:?} in: {msg}");
    }
    let err = read_npy(&tmp.path("absent.npy")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    assert!(err.to_string().contains("absent.npy"));
}

#[test]
fn olivetti_file_reads_as_400_by_4096_bytes() {
    let Some(file) = olivetti_or_skip("olivetti_file_reads_as_400_by_4096_bytes") else {
        return;
    };
    let a = read_npy(&file).unwrap();
    assert_eq!(a.shape, vec![400, 4096]);
    assert!(matches!(a.data, NpyData::U8(ref v) if v.len() == 400 * 4096));
}

#[test]
fn curves_are_deterministic_in_range_and_inked() {
    let a = curves(300, 7).unwrap();
    let b = curves(300, 7).unwrap();
    let c = curves(300, 8).unwrap();
    assert_eq!(
        (a.len(), a.input_dim(), a.target_dim()),
        (300, CURVES_DIM, CURVES_DIM)
    );
    assert!(a.is_autoencoder());
    assert_eq!(
        a.inputs(),
        b.inputs(),
        "same seed must give identical images"
    );
    assert_ne!(a.inputs(), c.inputs(), "different seeds must differ");
    assert_in_unit_range(&a, "CURVES");
    for (i, img) in a.inputs().chunks_exact(CURVES_DIM).enumerate() {
        let max = img.iter().cloned().fold(0.0f32, f32::max);
        let inked = img.iter().filter(|&&v| v > 0.1).count();
        assert!(max > 0.3, "image {i} has almost no ink (max {max})");
        assert!(
            (10..CURVES_DIM / 3).contains(&inked),
            "image {i}: {inked} inked pixels, not a thin stroke"
        );
    }
    assert!(curves(0, 1).is_err());
}

#[test]
fn curves_train_test_has_paper_sizes_and_independent_streams() {
    let (train, test) = curves_train_test(3).unwrap();
    assert_eq!((train.len(), test.len()), (CURVES_TRAIN, CURVES_TEST));
    assert_eq!((train.len(), test.len()), (20000, 10000));
    assert_ne!(
        &train.inputs()[..CURVES_DIM * 100],
        &test.inputs()[..CURVES_DIM * 100]
    );
    assert_in_unit_range(&train, "CURVES train");
    assert_in_unit_range(&test, "CURVES test");
    let (again, _) = curves_train_test(3).unwrap();
    assert_eq!(train.inputs(), again.inputs());
}

#[test]
fn faces_are_deterministic_in_range_with_the_paper_split_sizes() {
    let Some(file) = olivetti_or_skip("faces_are_deterministic_in_range") else {
        return;
    };
    let (train, test) = faces(&file, 2, 11).unwrap();
    assert_eq!((train.len(), test.len()), (250 * 2, 100 * 2));
    assert_eq!(
        (train.input_dim(), test.input_dim()),
        (FACES_DIM, FACES_DIM)
    );
    assert_eq!(FACES_DIM, 625);
    assert!(train.is_autoencoder() && test.is_autoencoder());
    assert_in_unit_range(&train, "FACES train");
    assert_in_unit_range(&test, "FACES test");
    let (train2, test2) = faces(&file, 2, 11).unwrap();
    assert_eq!(train.inputs(), train2.inputs());
    assert_eq!(test.inputs(), test2.inputs());
    let (train3, _) = faces(&file, 2, 12).unwrap();
    assert_ne!(train.inputs(), train3.inputs());
    // Images are not blank: real face content with contrast.
    for (i, img) in train.inputs().chunks_exact(FACES_DIM).enumerate().take(50) {
        let (lo, hi) = img
            .iter()
            .fold((1.0f32, 0.0f32), |(l, h), &v| (l.min(v), h.max(v)));
        assert!(hi - lo > 0.2, "face {i} has no contrast ({lo}..{hi})");
    }
    assert!(faces(&file, 0, 1).is_err());
    let err = faces(Path::new("/nonexistent/olivetti.npy"), 2, 1).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/olivetti.npy"));
}

#[test]
fn faces_use_people_0_to_24_for_training_and_30_to_39_for_testing() {
    // Synthetic source: every image of person p is the constant p/255, so
    // each generated image is constant and tells which person it came from.
    let bytes: Vec<u8> = (0..400).flat_map(|i| vec![(i / 10) as u8; 4096]).collect();
    let arr = NpyArray {
        shape: vec![400, 4096],
        data: NpyData::U8(bytes),
    };
    let per = 3;
    let (train, test) = faces_from_olivetti(&arr, per, 5).unwrap();
    let people = |set: &Dataset| -> Vec<usize> {
        let mut count = vec![0; 40];
        for img in set.inputs().chunks_exact(FACES_DIM) {
            let p = (img[0] * 255.0).round() as usize;
            assert!(img.iter().all(|&v| (v * 255.0 - p as f32).abs() < 1e-3));
            count[p] += 1;
        }
        count
    };
    let train_count = people(&train);
    let test_count = people(&test);
    for p in 0..40 {
        let (want_train, want_test) = match p {
            0..=24 => (10 * per, 0),
            30..=39 => (0, 10 * per),
            _ => (0, 0),
        };
        assert_eq!(train_count[p], want_train, "person {p} in training set");
        assert_eq!(test_count[p], want_test, "person {p} in test set");
    }
    // Variant-major order: the first 250 training images cover all 250 sources.
    let first: Vec<usize> = train
        .inputs()
        .chunks_exact(FACES_DIM)
        .take(250)
        .map(|img| (img[0] * 255.0).round() as usize)
        .collect();
    assert!((0..25).all(|p| first.iter().filter(|&&q| q == p).count() == 10));

    let wrong = NpyArray {
        shape: vec![400, 4096],
        data: NpyData::F32(vec![0.0; 400 * 4096]),
    };
    assert!(faces_from_olivetti(&wrong, 1, 0).is_err());
}

/// Times the paper-sized generators; run on demand with
/// `cargo test --release --test data -- --ignored --nocapture`.
/// Prints timings only (no test asserts on wall time).
#[test]
#[ignore]
fn paper_sized_generation_timing() {
    let t = std::time::Instant::now();
    let (train, test) = curves_train_test(1).unwrap();
    eprintln!(
        "curves_train_test: {} + {} images in {:.3} s",
        train.len(),
        test.len(),
        t.elapsed().as_secs_f64()
    );
    let Some(file) = olivetti_or_skip("paper_sized_generation_timing") else {
        return;
    };
    let t = std::time::Instant::now();
    let (train, test) = faces(&file, hessfree::data::FACES_PAPER_PER_IMAGE, 1).unwrap();
    eprintln!(
        "faces (per_image 414): {} + {} images in {:.3} s",
        train.len(),
        test.len(),
        t.elapsed().as_secs_f64()
    );
    assert_eq!(
        (train.len(), test.len()),
        (
            hessfree::data::FACES_PAPER_TRAIN,
            hessfree::data::FACES_PAPER_TEST
        )
    );
}

//! Backend selection where CUDA cannot be used (built without the `cuda`
//! feature, or with it on a machine without a usable device): asking for
//! `cuda` fails with `BackendUnavailable` and the reason, `auto` falls back to
//! the CPU and says why. On a machine with a device this reports itself
//! skipped (tests/cuda.rs covers that case).

use hessfree::backend::{create_backend, cuda_status, BackendChoice};
use hessfree::data::Dataset;
use hessfree::net::{Activation, NetSpec};
use hessfree::ErrorKind;

fn tiny() -> (NetSpec, Dataset) {
    let spec = NetSpec::new(vec![3, 2, 3], vec![Activation::Tanh, Activation::Logistic]).unwrap();
    let x: Vec<f32> = (0..12).map(|i| (i % 5) as f32 / 5.0).collect();
    (spec, Dataset::autoencoder(4, 3, x).unwrap())
}

#[test]
fn cuda_unavailable_is_reported_and_auto_falls_back() {
    let reason = match cuda_status() {
        Ok(device) => {
            eprintln!("SKIPPED: a CUDA device is usable here ({device}); see tests/cuda.rs");
            return;
        }
        Err(reason) => reason,
    };
    assert!(!reason.is_empty());
    if !cfg!(feature = "cuda") {
        assert!(reason.contains("`cuda` feature"), "{reason}");
    }
    let (spec, data) = tiny();

    let err = create_backend(BackendChoice::Cuda, spec.clone(), data.clone(), None, 0)
        .err()
        .expect("cuda must be refused here");
    assert_eq!(err.kind(), ErrorKind::BackendUnavailable, "{err}");
    assert!(
        err.message().starts_with("the CUDA backend is unavailable: ") && err.message().len() > 40,
        "{err}"
    );

    let chosen = create_backend(BackendChoice::Auto, spec.clone(), data.clone(), None, 0).unwrap();
    assert!(chosen.note.starts_with("cpu (auto: CUDA unavailable: "), "{}", chosen.note);
    assert_eq!(chosen.backend.name(), "cpu");

    let chosen = create_backend(BackendChoice::Cpu, spec, data, None, 0).unwrap();
    assert_eq!(chosen.note, "cpu");
}

#[test]
fn shape_errors_are_not_reported_as_missing_cuda() {
    let (spec, _) = tiny();
    let wrong = Dataset::autoencoder(2, 4, vec![0.5; 8]).unwrap();
    for choice in [BackendChoice::Cuda, BackendChoice::Auto, BackendChoice::Cpu] {
        let err = create_backend(choice, spec.clone(), wrong.clone(), None, 0)
            .err()
            .expect("a 4-wide data set does not fit a 3-wide net");
        assert_eq!(err.kind(), ErrorKind::ShapeMismatch, "{choice:?}: {err}");
    }
}

//! End-to-end: HF trains a small autoencoder on CURVES-like data through the
//! network objective.

use hessfree::data::curves;
use hessfree::hf::{HfConfig, Session};
use hessfree::net::{initial_params, Activation, Init, NetObjective, NetSpec};

#[test]
fn hf_reduces_autoencoder_error() {
    let data = curves(1000, 1).unwrap();
    let (train, test) = data.split_at(800).unwrap();
    let spec = NetSpec::autoencoder(&[784, 100, 30, 6], Activation::Logistic).unwrap();
    let theta = initial_params(&spec, Init::default(), 1).unwrap();
    let config = HfConfig {
        chunk_size: 400,
        ..HfConfig::default()
    };
    let (objective, note) = NetObjective::from_config(spec, train, Some(test), &config).unwrap();
    // `auto` picks the GPU where the `cuda` feature and a device are there:
    // the note must name the backend the objective really runs on.
    let name = objective.backend_name();
    assert!(note.starts_with(&name), "note {note:?}, backend {name:?}");
    match hessfree::backend::cuda_status() {
        Ok(device) => assert!(
            name.starts_with("cuda") && name.contains(&device),
            "{name} on {device}"
        ),
        Err(_) => assert_eq!(name, "cpu", "{note}"),
    }
    let mut session = Session::new(objective, &theta, config).unwrap();
    let mut first = None;
    let mut last = None;
    for _ in 0..8 {
        let r = session.step().unwrap();
        eprintln!("{}", r.log_line());
        first.get_or_insert(r.train_error);
        last = Some(r.train_error);
    }
    let (first, last) = (first.unwrap().unwrap(), last.unwrap().unwrap());
    assert!(last < 0.7 * first, "train error {first} -> {last}");
}

#[test]
fn impossible_chunk_fails_up_front_with_resource_limit() {
    use hessfree::data::Dataset;
    use hessfree::ErrorKind;
    // A 20000-wide net over a chunk of 2 million examples needs terabytes of
    // activations: refused before anything is allocated.
    let spec = NetSpec::new(
        vec![2, 20000, 20000, 2],
        vec![
            Activation::Logistic,
            Activation::Logistic,
            Activation::Linear,
        ],
    )
    .unwrap();
    let n = 2_000_000;
    let train = Dataset::new(n, 2, vec![0.5; 2 * n], 2, vec![0.5; 2 * n]).unwrap();
    let config = HfConfig {
        chunk_size: n as i64,
        ..HfConfig::default()
    };
    let err = NetObjective::from_config(spec, train, None, &config)
        .err()
        .expect("must be refused");
    assert_eq!(err.kind(), ErrorKind::ResourceLimit, "{err}");
    assert!(err.message().contains("GiB"), "{err}");
}

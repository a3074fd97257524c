//! Network specs and initialisation.

use hessfree::net::{initial_params, Activation, Init, NetSpec};

#[test]
fn sparse_init_gives_exactly_15_distinct_nonzeros_per_unit() {
    let spec =
        NetSpec::autoencoder(&[784, 400, 200, 100, 50, 25, 6], Activation::Logistic).unwrap();
    let theta = initial_params(&spec, Init::default(), 42).unwrap();
    for (l, slot) in spec.slots().iter().enumerate() {
        for j in 0..slot.fan_out {
            let nonzero = (0..slot.fan_in)
                .filter(|&i| theta[slot.weights + i * slot.fan_out + j] != 0.0)
                .count();
            assert_eq!(nonzero, 15.min(slot.fan_in), "layer {l} unit {j}");
        }
        assert!(
            theta[slot.biases..slot.end()].iter().all(|&b| b == 0.0),
            "biases of layer {l}"
        );
    }
    // N(0,1) weights: the non-zeros have roughly unit variance.
    let nz: Vec<f64> = theta
        .iter()
        .filter(|&&w| w != 0.0)
        .map(|&w| w as f64)
        .collect();
    let var = nz.iter().map(|w| w * w).sum::<f64>() / nz.len() as f64;
    assert!(
        (var - 1.0).abs() < 0.05,
        "variance of non-zero weights {var}"
    );
}

#[test]
fn sparse_init_is_deterministic_per_seed() {
    let spec = NetSpec::autoencoder(&[50, 30, 5], Activation::Linear).unwrap();
    let a = initial_params(&spec, Init::default(), 7).unwrap();
    let b = initial_params(&spec, Init::default(), 7).unwrap();
    let c = initial_params(&spec, Init::default(), 8).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn tanh_units_start_with_bias_half_and_small_fan_in_is_dense() {
    let spec = NetSpec::new(vec![10, 6, 3], vec![Activation::Tanh, Activation::Logistic]).unwrap();
    let theta = initial_params(&spec, Init::default(), 1).unwrap();
    let s0 = spec.slot(0);
    assert!(theta[s0.biases..s0.end()].iter().all(|&b| b == 0.5));
    let s1 = spec.slot(1);
    assert!(theta[s1.biases..s1.end()].iter().all(|&b| b == 0.0));
    // fan-in 10 < 15: every incoming weight is non-zero.
    assert!(theta[s0.weights..s0.biases].iter().all(|&w| w != 0.0));
}

#[test]
fn dense_init_has_scaled_variance() {
    let spec = NetSpec::new(
        vec![400, 300, 2],
        vec![Activation::Logistic, Activation::Linear],
    )
    .unwrap();
    let theta = initial_params(&spec, Init::Dense { scale: 1.0 }, 3).unwrap();
    let s = spec.slot(0);
    let w = &theta[s.weights..s.biases];
    let var = w.iter().map(|&x| (x as f64).powi(2)).sum::<f64>() / w.len() as f64;
    assert!(
        (var * 400.0 - 1.0).abs() < 0.05,
        "fan-in-scaled variance {}",
        var * 400.0
    );
}

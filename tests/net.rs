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

/// The report's metrics at a θ that `loss` just evaluated come from that pass,
/// bit for bit, with no new pass; other θ (and older ones) are not "known".
#[test]
fn recent_loss_passes_give_the_report_metrics() {
    use hessfree::hf::{HfConfig, Objective};
    use hessfree::net::NetObjective;
    let spec = NetSpec::autoencoder(&[784, 20, 4], Activation::Logistic).unwrap();
    let data = hessfree::data::curves(300, 1).unwrap();
    let (mut objective, _) =
        NetObjective::from_config(spec.clone(), data, None, &HfConfig::default()).unwrap();
    let thetas: Vec<Vec<f32>> = (0..4)
        .map(|seed| initial_params(&spec, Init::default(), seed).unwrap())
        .collect();
    assert_eq!(objective.known_train_metrics(&thetas[0]), None);
    for theta in &thetas[..3] {
        objective.loss(theta).unwrap();
    }
    // The last two passes are remembered, the one before is not.
    assert_eq!(objective.known_train_metrics(&thetas[0]), None);
    assert_eq!(objective.known_train_metrics(&thetas[3]), None);
    for theta in &thetas[1..3] {
        let known = objective.known_train_metrics(theta).unwrap();
        let fresh = objective.train_metrics(theta).unwrap();
        assert_eq!(known.objective.to_bits(), fresh.objective.to_bits());
        assert_eq!(known.error.map(f64::to_bits), fresh.error.map(f64::to_bits));
    }
    // A θ differing in one bit is not the same θ.
    let mut nudged = thetas[2].clone();
    nudged[0] = f32::from_bits(nudged[0].to_bits() ^ 1);
    assert_eq!(objective.known_train_metrics(&nudged), None);
    // Access to the backend forgets everything.
    objective.backend_mut();
    assert_eq!(objective.known_train_metrics(&thetas[2]), None);
}

/// The chunk loss at the chunk's own θ (read from the cached forward pass)
/// equals a fresh forward pass over the chunk's rows, bit for bit.
#[test]
fn chunk_loss_at_the_cached_theta_equals_a_fresh_pass() {
    use hessfree::backend::{Backend, CpuBackend};
    use hessfree::curvature::{batch_loss, forward};
    use hessfree::hf::{Chunk, CurvatureKind};
    let spec = NetSpec::autoencoder(&[784, 20, 4], Activation::Logistic).unwrap();
    let data = hessfree::data::curves(300, 2).unwrap();
    let theta = initial_params(&spec, Init::default(), 5).unwrap();
    let (start, len) = (37, 150);
    let fresh = {
        let acts = forward(&spec, &theta, data.input_rows(start, len));
        let t = data.target_rows(start, len);
        batch_loss(spec.loss(), &acts.output_z, acts.output(), &t).loss_sum / len as f64
    };
    let mut backend = CpuBackend::new(spec, data, None, 0).unwrap();
    backend
        .set_chunk(&theta, Chunk { start, len }, CurvatureKind::GaussNewton)
        .unwrap();
    assert_eq!(
        backend.chunk_loss(&theta).unwrap().to_bits(),
        fresh.to_bits()
    );
    // Elsewhere it is a new pass, and a different value.
    let other = initial_params(backend.spec(), Init::default(), 6).unwrap();
    assert_ne!(backend.chunk_loss(&other).unwrap(), fresh);
}

/// A gradient, statistic, curvature chunk or chunk loss at a θ whose
/// training pass the CPU backend remembers (one of its last two) reuses that forward pass and
/// gives the same bits as a backend that never saw θ; a θ one bit away is
/// not mistaken for it.
#[test]
fn remembered_training_passes_change_no_result() {
    use hessfree::backend::{Backend, CpuBackend, Split};
    use hessfree::hf::{Chunk, CurvatureKind};
    let spec = NetSpec::autoencoder(&[784, 20, 4], Activation::Logistic).unwrap();
    let data = hessfree::data::curves(300, 2).unwrap();
    let p = spec.num_params();
    let thetas: Vec<Vec<f32>> = (5..8)
        .map(|seed| initial_params(&spec, Init::default(), seed).unwrap())
        .collect();
    let mut nudged = thetas[0].clone();
    nudged[3] = f32::from_bits(nudged[3].to_bits() ^ 1);
    let v: Vec<f32> = (0..p).map(|i| ((i % 13) as f32 - 6.0) * 0.01).collect();
    let chunk = Chunk {
        start: 37,
        len: 150,
    };
    // Everything at θ from a backend: (loss bits, gradient, statistic, G·v, H·v).
    let run = |backend: &mut CpuBackend, theta: &[f32]| {
        let (mut g, mut s) = (vec![0f32; p], vec![0f32; p]);
        let pass = backend
            .evaluate(theta, Split::Train, Some(&mut g), Some(&mut s))
            .unwrap();
        let mut products = Vec::new();
        for kind in [CurvatureKind::GaussNewton, CurvatureKind::Hessian] {
            backend.set_chunk(theta, chunk, kind).unwrap();
            let mut out = vec![0f32; p];
            backend.curvature_product(&v, &mut out).unwrap();
            products.push(out);
        }
        // ρ's chunk loss at another θ (remembered by `backend` below).
        let other = backend.chunk_loss(&thetas[1]).unwrap();
        let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        (
            (pass.loss.to_bits(), pass.error.to_bits(), other.to_bits()),
            bits(&g),
            bits(&s),
            bits(&products[0]),
            bits(&products[1]),
        )
    };
    for target in [&thetas[0], &nudged] {
        // A backend that has seen no θ before computes everything afresh.
        let mut fresh = CpuBackend::new(spec.clone(), data.clone(), None, 0).unwrap();
        let want = run(&mut fresh, target);
        let mut backend = CpuBackend::new(spec.clone(), data.clone(), None, 0).unwrap();
        // θ0 is the older of the two remembered passes when the gradient comes.
        for theta in [&thetas[2], &thetas[0], &thetas[1]] {
            backend.evaluate(theta, Split::Train, None, None).unwrap();
        }
        assert!(run(&mut backend, target) == want, "after other passes");
        // And again at once (the gradient pass itself is remembered).
        assert!(run(&mut backend, target) == want, "after the same pass");
    }
}

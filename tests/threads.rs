//! The CPU kernels give bit-identical results whatever the thread count.

use hessfree::curvature::{
    accumulate_gradient, curvature_product, forward, output_delta, set_threads, ChunkCache,
};
use hessfree::hf::CurvatureKind;
use hessfree::net::{initial_params, Activation, Init, NetSpec};
use hessfree::rng::Rng;
use ndarray::Array2;

/// Gradient, statistic and the three curvature products, all in f32.
fn everything(spec: &NetSpec, theta: &[f32], x: &Array2<f32>, v: &[f32]) -> Vec<Vec<f32>> {
    let acts = forward(spec, theta, x.view());
    let delta = output_delta(spec.loss(), acts.output(), &x.view());
    let mut grad = vec![0.0; theta.len()];
    let mut stat = vec![0.0; theta.len()];
    accumulate_gradient(
        spec,
        theta,
        x.view(),
        &acts,
        delta,
        1e-3,
        &mut grad,
        Some(&mut stat),
    );
    let mut out = vec![acts.output().iter().copied().collect(), grad, stat];
    for kind in [
        CurvatureKind::GaussNewton,
        CurvatureKind::Hessian,
        CurvatureKind::EmpiricalFisher,
    ] {
        let cache = ChunkCache::new(spec, theta, x.clone(), x.clone(), kind);
        let mut p = vec![0.0; theta.len()];
        curvature_product(spec, theta, &cache, v, &mut p);
        out.push(p);
    }
    out
}

#[test]
fn results_do_not_depend_on_thread_count() {
    let spec = NetSpec::autoencoder(&[60, 40, 20, 5], Activation::Logistic).unwrap();
    let theta = initial_params(&spec, Init::default(), 3).unwrap();
    let mut rng = Rng::new(4);
    let x = Array2::from_shape_fn((1000, 60), |_| rng.uniform() as f32);
    let v: Vec<f32> = (0..theta.len()).map(|_| rng.normal() as f32).collect();
    set_threads(1);
    let one = everything(&spec, &theta, &x, &v);
    for threads in [2, 3, 7] {
        set_threads(threads);
        let many = everything(&spec, &theta, &x, &v);
        for (i, (a, b)) in one.iter().zip(&many).enumerate() {
            assert!(a == b, "result {i} differs between 1 and {threads} threads");
        }
    }
    set_threads(0);
}

#![allow(clippy::unwrap_used, clippy::expect_used)]

use oncolens_explain::{IgMethod, grad_cam, integrated_gradients};
use oncolens_nn::batch::Sample;
use oncolens_nn::{
    Device, FusionKind, ImageEncoderConfig, ModalitySet, ModelConfig, MultimodalModel,
};

const SIDE: usize = 8;

fn setup() -> (MultimodalModel, ModelConfig, Sample, Device) {
    let device = Device::flex();
    let config = ModelConfig {
        modalities: ModalitySet {
            image: true,
            clinical: true,
            text: false,
            omics: false,
        },
        fusion: FusionKind::GatedAttention,
        embed_dim: 8,
        image: ImageEncoderConfig {
            in_channels: 1,
            stem_channels: 4,
            norm: oncolens_nn::ImageNorm::Batch, // running statistics at inference
            stem_stride: 1,
            block_channels: vec![8],
            lesion_features: 0,
        },
        clinical_features: 2,
        text_vocab: 0,
        text_token_dim: 4,
        omics_genes: 0,
        hidden: 8,
        dropout: 0.0,
        tabular: Default::default(),
        pattern_fusion: false,
    };
    let model = {
        let _rng = oncolens_nn::rng::SeededRng::acquire(&device, 5);
        MultimodalModel::new(&config, &device).unwrap()
    };
    // A bright cube in one corner, zeros (the baseline) elsewhere.
    let image = (0..SIDE.pow(3))
        .map(|i| {
            let (z, y, x) = (i / 64, (i / 8) % 8, i % 8);
            if z < 4 && y < 4 && x < 4 { 4.0 } else { 0.0 }
        })
        .collect();
    let sample = Sample {
        image: Some(image),
        clinical: Some(vec![0.3, -1.0, 0.0, 0.0]),
        ..Sample::default()
    };
    (model, config, sample, device)
}

#[test]
fn integrated_gradients_are_complete_and_zero_where_input_equals_baseline() {
    let (model, config, sample, device) = setup();
    let ig = integrated_gradients(
        &model,
        &config,
        &sample,
        SIDE,
        0.0,
        64,
        IgMethod::GaussLegendre,
        &device,
    )
    .unwrap();
    assert_eq!(ig.values.len(), SIDE.pow(3));
    let image = sample.image.as_ref().unwrap();
    for (a, x) in ig.values.iter().zip(image) {
        if *x == 0.0 {
            assert_eq!(*a, 0.0);
        }
    }
    // Completeness: attributions sum to f(x) - f(baseline), up to the quadrature error.
    let total: f64 = ig.values.iter().map(|v| f64::from(*v)).sum();
    let delta = ig.convergence_delta.unwrap();
    let diff = total - delta;
    assert!(
        diff.abs() > 1e-4,
        "the test needs a model whose output moves: {diff}"
    );
    assert!(
        delta.abs() <= 1e-6 + 0.03 * diff.abs(),
        "delta {delta} for a difference of {diff}"
    );
    // The trapezoid rule converges to the same integral.
    let tr = integrated_gradients(
        &model,
        &config,
        &sample,
        SIDE,
        0.0,
        64,
        IgMethod::RiemannTrapezoid,
        &device,
    )
    .unwrap();
    let total_tr: f64 = tr.values.iter().map(|v| f64::from(*v)).sum();
    assert!(
        (total - total_tr).abs() < 0.05 * total.abs().max(1e-3),
        "{total} vs {total_tr}"
    );
}

#[test]
fn grad_cam_is_non_negative_on_the_input_grid_and_needs_an_image() {
    let (model, config, sample, device) = setup();
    for after in [None, Some(0), Some(1)] {
        let cam = grad_cam(&model, &config, &sample, SIDE, after, &device).unwrap();
        assert_eq!(cam.values.len(), SIDE.pow(3));
        assert!(cam.values.iter().all(|v| *v >= 0.0 && v.is_finite()));
    }
    assert!(grad_cam(&model, &config, &sample, SIDE, Some(5), &device).is_err());
    let no_image = Sample {
        image: None,
        ..sample
    };
    let err = grad_cam(&model, &config, &no_image, SIDE, None, &device)
        .unwrap_err()
        .to_string();
    assert!(err.contains("no image"), "{err}");
}

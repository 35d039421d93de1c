//! Properties of every attribution method and of the faithfulness checks on tiny models.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::Tensor;
use oncolens_explain::{
    Method, MethodOptions, attribute, deletion_insertion, grad_cam, grad_cam_pp, input_x_gradient,
    randomization_check, saliency, smoothgrad,
};
use oncolens_nn::batch::Sample;
use oncolens_nn::{
    Device, FusionKind, ImageEncoderConfig, ImageNorm, ModalitySet, ModelConfig, MultimodalModel,
};

const SIDE: usize = 8;

/// Scales weight matrices and kernels: a fresh network's logit is mostly biases.
struct Gain(f32);

impl ModuleMapper for Gain {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let g = self.0;
        if D >= 2 { param.map(|t| t * g) } else { param }
    }
}

fn config(channels: usize) -> ModelConfig {
    ModelConfig {
        modalities: ModalitySet::only(0),
        fusion: FusionKind::GatedAttention,
        embed_dim: 8,
        image: ImageEncoderConfig {
            in_channels: channels,
            stem_channels: 4,
            norm: ImageNorm::None,
            stem_stride: 1,
            block_channels: vec![8, 8],
            lesion_features: 0,
        },
        clinical_features: 0,
        text_vocab: 0,
        text_token_dim: 4,
        omics_genes: 0,
        hidden: 8,
        dropout: 0.0,
        tabular: Default::default(),
        pattern_fusion: false,
    }
}

fn in_cube(i: usize) -> bool {
    let (z, y, x) = (i / (SIDE * SIDE), (i / SIDE) % SIDE, i % SIDE);
    z < 4 && y < 4 && x < 4
}

/// A bright, textured cube in one corner and zeros (every method's baseline) elsewhere: only the
/// cube can move the model's output away from its value on the blank image.
fn sample(channels: usize) -> Sample {
    let mut image: Vec<f32> = (0..SIDE.pow(3))
        .map(|i| {
            if in_cube(i) {
                2.0 + 0.5 * ((i % 7) as f32 / 7.0)
            } else {
                0.0
            }
        })
        .collect();
    if channels == 2 {
        image.extend((0..SIDE.pow(3)).map(|i| if in_cube(i) { 1.0 } else { 0.0 }));
    }
    Sample {
        image: Some(image),
        ..Sample::default()
    }
}

fn model(channels: usize, seed: u64) -> (MultimodalModel, ModelConfig, Device) {
    let device = Device::flex();
    let config = config(channels);
    let model = {
        let _rng = oncolens_nn::rng::SeededRng::acquire(&device, seed);
        MultimodalModel::new(&config, &device).unwrap()
    }
    .map(&mut Gain(3.0));
    (model, config, device)
}

fn small_options() -> MethodOptions {
    MethodOptions {
        ig_steps: 16,
        smoothgrad_samples: 4,
        occlusion_window: 2,
        occlusion_stride: 2,
        rise_masks: 32,
        rise_cell: 2,
        batch_size: 8,
        ..MethodOptions::default()
    }
}

fn logit(model: &MultimodalModel, config: &ModelConfig, s: &Sample, device: &Device) -> f64 {
    let b = oncolens_nn::Batch::collate(&[s], config, SIDE, device).unwrap();
    let v: Vec<f32> = model
        .forward(&b)
        .logits
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    f64::from(v[0])
}

#[test]
fn every_method_gives_a_finite_map_on_the_crop_for_one_and_two_channels() {
    for channels in [1, 2] {
        let (model, config, device) = model(channels, 3);
        let s = sample(channels);
        let f = logit(&model, &config, &s, &device);
        for method in Method::ALL {
            let a = attribute(method, &small_options(), &model, &config, &s, SIDE, &device)
                .unwrap_or_else(|e| panic!("{method}: {e}"));
            assert_eq!(a.method, method.name());
            assert_eq!(a.values.len(), SIDE.pow(3), "{method}");
            assert!(a.values.iter().all(|v| v.is_finite()), "{method}");
            assert!(a.values.iter().any(|v| *v != 0.0), "{method}: all zero");
            assert!(
                (a.logit - f).abs() < 1e-5,
                "{method}: logit {} vs {f}",
                a.logit
            );
            if matches!(
                method,
                Method::Saliency | Method::SmoothGrad | Method::GradCam | Method::GradCamPp
            ) {
                assert!(a.values.iter().all(|v| *v >= 0.0), "{method}");
            }
        }
        let blank = Sample::default();
        for method in Method::ALL {
            let err = attribute(
                method,
                &small_options(),
                &model,
                &config,
                &blank,
                SIDE,
                &device,
            )
            .unwrap_err()
            .to_string();
            assert!(err.contains("no image"), "{method}: {err}");
        }
    }
}

#[test]
fn gradients_agree_with_finite_differences_and_input_x_gradient() {
    let (model, config, device) = model(1, 3);
    let s = sample(1);
    let sal = saliency(&model, &config, &s, SIDE, &device).unwrap();
    let ixg = input_x_gradient(&model, &config, &s, SIDE, &device).unwrap();
    let x = s.image.as_ref().unwrap();
    for ((a, g), x) in ixg.values.iter().zip(&sal.values).zip(x) {
        assert!((a.abs() - g * x.abs()).abs() <= 1e-6 * (1.0 + a.abs()));
    }
    // The largest gradient against a central difference (the model is piecewise linear).
    let (v, g) =
        sal.values.iter().enumerate().fold(
            (0, 0f32),
            |best, (i, g)| if *g > best.1 { (i, *g) } else { best },
        );
    let h = 1e-3f32;
    let shifted = |d: f32| {
        let mut t = s.clone();
        t.image.as_mut().unwrap()[v] += d;
        logit(&model, &config, &t, &device)
    };
    let fd = (shifted(h) - shifted(-h)) / (2.0 * f64::from(h));
    assert!(
        (fd.abs() - f64::from(g)).abs() < 0.02 * f64::from(g),
        "finite difference {fd} vs |gradient| {g}"
    );
}

#[test]
fn smoothgrad_is_seeded_and_is_saliency_without_noise() {
    let (model, config, device) = model(1, 3);
    let s = sample(1);
    let sal = saliency(&model, &config, &s, SIDE, &device).unwrap();
    let quiet = smoothgrad(&model, &config, &s, SIDE, 3, 0.0, 1, 2, &device).unwrap();
    for (a, b) in quiet.values.iter().zip(&sal.values) {
        assert!((a - b).abs() <= 1e-6 * b.abs().max(1e-3));
    }
    let a = smoothgrad(&model, &config, &s, SIDE, 6, 0.15, 9, 4, &device).unwrap();
    let b = smoothgrad(&model, &config, &s, SIDE, 6, 0.15, 9, 3, &device).unwrap();
    let c = smoothgrad(&model, &config, &s, SIDE, 6, 0.15, 10, 4, &device).unwrap();
    for (x, y) in a.values.iter().zip(&b.values) {
        assert!(
            (x - y).abs() <= 1e-6 * x.abs().max(1e-3),
            "batching changed the map"
        );
    }
    assert_ne!(a.values, c.values);
    assert_ne!(a.values, sal.values);
}

#[test]
fn integrated_gradients_by_default_are_complete() {
    let (model, config, device) = model(1, 3);
    let s = sample(1);
    let options = MethodOptions::default();
    let ig = attribute(
        Method::IntegratedGradients,
        &options,
        &model,
        &config,
        &s,
        SIDE,
        &device,
    )
    .unwrap();
    let total: f64 = ig.values.iter().map(|v| f64::from(*v)).sum();
    let delta = ig.convergence_delta.unwrap();
    let moved = total - delta; // f(x) - f(baseline)
    assert!(moved.abs() > 1e-2, "{moved}");
    // A ReLU network is only piecewise smooth along the path: 50 points leave under 1 %.
    assert!(delta.abs() < 1e-2 * moved.abs(), "delta {delta} of {moved}");
    for (a, x) in ig.values.iter().zip(s.image.as_ref().unwrap()) {
        if *x == 0.0 {
            assert_eq!(*a, 0.0);
        }
    }
}

#[test]
fn grad_cam_pp_is_non_negative_at_every_block_and_checks_the_block() {
    let (model, config, device) = model(1, 3);
    let s = sample(1);
    for after in [None, Some(0), Some(1), Some(2)] {
        let pp = grad_cam_pp(&model, &config, &s, SIDE, after, &device).unwrap();
        let cam = grad_cam(&model, &config, &s, SIDE, after, &device).unwrap();
        assert_eq!(pp.values.len(), SIDE.pow(3));
        assert!(pp.values.iter().all(|v| *v >= 0.0 && v.is_finite()));
        assert_eq!(pp.logit, cam.logit);
    }
    assert!(grad_cam_pp(&model, &config, &s, SIDE, Some(3), &device).is_err());
}

#[test]
fn occlusion_is_zero_where_no_window_reaches_the_signal_and_exact_on_tiles() {
    let (model, config, device) = model(1, 3);
    let s = sample(1);
    // Disjoint 2^3 tiles: each tile's value is f(x) - f(x with that tile at the baseline).
    let occ =
        oncolens_explain::occlusion(&model, &config, &s, SIDE, 2, 2, 0.0, 5, &device).unwrap();
    let scale = occ.logit.abs().max(1.0);
    for (i, v) in occ.values.iter().enumerate() {
        if !in_cube(i) {
            // Occluding zeros with zeros changes nothing.
            assert!(f64::from(v.abs()) <= 1e-6 * scale, "voxel {i}: {v}");
        }
    }
    let mut t = s.clone();
    for i in 0..SIDE.pow(3) {
        let (z, y, x) = (i / 64, (i / 8) % 8, i % 8);
        if z < 2 && y < 2 && x < 2 {
            t.image.as_mut().unwrap()[i] = 0.0;
        }
    }
    let expect = occ.logit - logit(&model, &config, &t, &device);
    assert!(expect.abs() > 1e-4, "{expect}");
    assert!((f64::from(occ.values[0]) - expect).abs() < 1e-5 * scale);
    // Overlapping windows (3^3, stride 1): voxels no window containing a cube voxel covers are 0.
    let occ =
        oncolens_explain::occlusion(&model, &config, &s, SIDE, 3, 1, 0.0, 64, &device).unwrap();
    for (i, v) in occ.values.iter().enumerate() {
        let (z, y, x) = (i / 64, (i / 8) % 8, i % 8);
        if z >= 6 || y >= 6 || x >= 6 {
            assert!(f64::from(v.abs()) <= 1e-6 * scale, "voxel {i}: {v}");
        }
    }
    assert!(oncolens_explain::occlusion(&model, &config, &s, SIDE, 9, 1, 0.0, 4, &device).is_err());
}

#[test]
fn deletion_and_insertion_rank_the_true_region_above_a_random_ranking() {
    let (model, config, device) = model(1, 3);
    let s = sample(1);
    let mut blank = s.clone();
    blank.image = Some(vec![0.0; SIDE.pow(3)]);
    let up = logit(&model, &config, &s, &device) - logit(&model, &config, &blank, &device);
    assert!(up.abs() > 0.05, "the cube must move the output: {up}");
    // The truth: the cube, signed by its effect on the output.
    let sign = up.signum() as f32;
    let truth: Vec<f32> = (0..SIDE.pow(3))
        .map(|i| if in_cube(i) { sign } else { 0.0 })
        .collect();
    // A fixed pseudo-random ranking.
    let random: Vec<f32> = (0..SIDE.pow(3))
        .map(|i| ((i * 7919 + 13) % 512) as f32)
        .collect();
    let t = deletion_insertion(&model, &config, &s, SIDE, &truth, 16, 0.0, &device).unwrap();
    let r = deletion_insertion(&model, &config, &s, SIDE, &random, 16, 0.0, &device).unwrap();
    assert_eq!(t.deletion_curve.len(), 17);
    // Both curves start and end at p(x) and p(baseline).
    assert!((t.deletion_curve[0] - r.deletion_curve[0]).abs() < 1e-9);
    assert!((t.deletion_curve[16] - t.insertion_curve[0]).abs() < 1e-9);
    assert!((t.insertion_curve[16] - t.deletion_curve[0]).abs() < 1e-9);
    assert!(
        t.deletion_auc < r.deletion_auc - 1e-3,
        "deletion {} vs random {}",
        t.deletion_auc,
        r.deletion_auc
    );
    assert!(
        t.insertion_auc > r.insertion_auc + 1e-3,
        "insertion {} vs random {}",
        t.insertion_auc,
        r.insertion_auc
    );
    // Integrated Gradients is about as faithful as the truth here.
    let ig = attribute(
        Method::IntegratedGradients,
        &small_options(),
        &model,
        &config,
        &s,
        SIDE,
        &device,
    )
    .unwrap();
    let i = deletion_insertion(&model, &config, &s, SIDE, &ig.values, 16, 0.0, &device).unwrap();
    assert!(i.deletion_auc < r.deletion_auc && i.insertion_auc > r.insertion_auc);
    assert!(deletion_insertion(&model, &config, &s, SIDE, &truth[1..], 16, 0.0, &device).is_err());
}

#[test]
fn randomisation_check_separates_model_dependent_maps_from_an_edge_detector() {
    let (model, config, device) = model(1, 3);
    let s = sample(1);
    let opts = MethodOptions {
        cam_block: Some(1),
        ..small_options()
    };
    for method in [Method::Saliency, Method::GradCam] {
        let check = randomization_check(&model, &config, 99, &device, |m| {
            attribute(method, &opts, m, &config, &s, SIDE, &device)
        })
        .unwrap();
        assert!(
            check.rank_correlation < 0.8,
            "{method}: rank correlation {}",
            check.rank_correlation
        );
        assert_ne!(check.trained.values, check.randomized.values);
    }
    // A map that ignores the model (the input itself) fails the check.
    let edge = oncolens_explain::randomization_rank_corr(&model, &config, 99, &device, |m| {
        let mut a = saliency(m, &config, &s, SIDE, &device)?;
        a.values = s.image.clone().unwrap();
        Ok(a)
    })
    .unwrap();
    assert!((edge - 1.0).abs() < 1e-12, "{edge}");
}

#[test]
fn rise_highlights_the_region_that_moves_the_output() {
    let (model, config, device) = model(1, 3);
    let s = sample(1);
    let mut blank = s.clone();
    blank.image = Some(vec![0.0; SIDE.pow(3)]);
    let up = logit(&model, &config, &s, &device) - logit(&model, &config, &blank, &device);
    let opts = MethodOptions {
        rise_masks: 2000,
        rise_cell: 2,
        batch_size: 100,
        ..MethodOptions::default()
    };
    let r = attribute(Method::Rise, &opts, &model, &config, &s, SIDE, &device).unwrap();
    let (mut inside, mut far) = (Vec::new(), Vec::new());
    for (i, v) in r.values.iter().enumerate() {
        let (z, y, x) = (i / 64, (i / 8) % 8, i % 8);
        if in_cube(i) {
            inside.push(f64::from(*v));
        } else if z >= 5 && y >= 5 && x >= 5 {
            far.push(f64::from(*v));
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (mi, mf) = (mean(&inside), mean(&far));
    // Keeping the cube pushes the probability the way the cube does.
    assert!(
        (mi - mf) * up > 0.0 && (mi - mf).abs() > 2e-3,
        "inside {mi}, far {mf}, cube effect {up}"
    );
    // Reproducible.
    let again = attribute(Method::Rise, &opts, &model, &config, &s, SIDE, &device).unwrap();
    assert_eq!(r.values, again.values);
}

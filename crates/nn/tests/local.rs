//! The local evaluator (incremental occlusion) gives the same feature maps as full forward
//! passes of the changed images.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use burn::tensor::{Tensor, TensorData};
use oncolens_nn::Device;
use oncolens_nn::config::{ImageEncoderConfig, ImageNorm};
use oncolens_nn::image::ImageEncoder;
use oncolens_nn::local::{BoxPatch, LocalEvaluator};

fn image(channels: usize, side: usize) -> Vec<f32> {
    (0..channels * side.pow(3))
        .map(|i| ((i * 7919) % 113) as f32 / 50.0 - 1.0)
        .collect()
}

fn tensor(data: Vec<f32>, k: usize, channels: usize, side: usize, device: &Device) -> Tensor<5> {
    Tensor::from_data(
        TensorData::new(data, [k, channels, side, side, side]),
        device,
    )
}

/// The reference image with each patch written in (all channels).
fn patched(base: &[f32], channels: usize, side: usize, p: &BoxPatch) -> Vec<f32> {
    let mut out = base.to_vec();
    let [pd, ph, pw] = p.dims;
    for c in 0..channels {
        for z in 0..pd {
            for y in 0..ph {
                for x in 0..pw {
                    let dst = ((c * side + p.lo[0] + z) * side + p.lo[1] + y) * side + p.lo[2] + x;
                    out[dst] = p.values[((c * pd + z) * ph + y) * pw + x];
                }
            }
        }
    }
    out
}

fn check(config: &ImageEncoderConfig, side: usize, patches: &[BoxPatch]) {
    let device = Device::flex();
    device.seed(3);
    let enc = ImageEncoder::new(config, 8, &device);
    let c = config.in_channels;
    let base = image(c, side);
    let eval = LocalEvaluator::new(&enc, tensor(base.clone(), 1, c, side, &device))
        .unwrap()
        .expect("a pointwise normalisation allows local evaluation");
    let blocks = eval.blocks_applied();
    assert_eq!(blocks, usize::from(!config.block_channels.is_empty()));
    let local: Vec<f32> = eval
        .features(patches)
        .unwrap()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let full_in: Vec<f32> = patches
        .iter()
        .flat_map(|p| patched(&base, c, side, p))
        .collect();
    let full = enc.features_after(tensor(full_in, patches.len(), c, side, &device), blocks);
    let full: Vec<f32> = full.into_data().try_to_vec::<f32>().unwrap();
    assert_eq!(local.len(), full.len());
    let peak = full.iter().fold(0f32, |m, v| m.max(v.abs()));
    for (i, (a, b)) in local.iter().zip(&full).enumerate() {
        assert!(
            (a - b).abs() <= 1e-5 * peak.max(1.0),
            "value {i}: local {a} vs full {b}"
        );
    }
    // The patches changed the maps: the comparison is not between two copies of the reference.
    let reference: Vec<f32> = enc
        .features_after(tensor(base, 1, c, side, &device), blocks)
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let per = reference.len();
    for (j, chunk) in full.chunks(per).enumerate() {
        let moved = chunk
            .iter()
            .zip(&reference)
            .any(|(a, b)| (a - b).abs() > 1e-4);
        assert!(moved, "patch {j} changed nothing");
    }
}

fn patch(lo: [usize; 3], dims: [usize; 3], channels: usize, value: f32) -> BoxPatch {
    BoxPatch {
        lo,
        dims,
        values: vec![value; channels * dims.iter().product::<usize>()],
    }
}

#[test]
fn patches_anywhere_give_the_full_forward_pass() {
    let config = ImageEncoderConfig {
        in_channels: 2,
        stem_channels: 4,
        stem_stride: 2,
        block_channels: vec![8, 8],
        ..ImageEncoderConfig::default()
    };
    // Corners, edges, odd and even starts, different sizes in one batch.
    let patches = [
        patch([0, 0, 0], [4, 4, 4], 2, 0.0),
        patch([12, 12, 12], [4, 4, 4], 2, 2.5),
        patch([5, 0, 9], [3, 4, 2], 2, -3.0),
        patch([7, 7, 7], [1, 1, 1], 2, 4.0),
        patch([0, 15, 3], [16, 1, 5], 2, 1.0),
    ];
    check(&config, 16, &patches);
}

#[test]
fn stride_one_stems_batch_norm_and_stem_only_encoders_work_too() {
    let strided = ImageEncoderConfig {
        in_channels: 1,
        stem_channels: 4,
        stem_stride: 1,
        norm: ImageNorm::Batch,
        block_channels: vec![8],
        ..ImageEncoderConfig::default()
    };
    let patches = [
        patch([2, 3, 4], [2, 2, 2], 1, 0.0),
        patch([9, 9, 9], [3, 3, 3], 1, 5.0),
    ];
    check(&strided, 12, &patches);
    let stem_only = ImageEncoderConfig {
        block_channels: vec![],
        ..strided
    };
    check(&stem_only, 12, &patches);
}

#[test]
fn per_sample_normalisation_and_autodiff_devices_get_no_evaluator() {
    let device = Device::flex();
    let group = ImageEncoderConfig {
        stem_channels: 4,
        norm: ImageNorm::Group,
        block_channels: vec![8],
        ..ImageEncoderConfig::default()
    };
    let enc = ImageEncoder::new(&group, 8, &device);
    let x = tensor(image(1, 8), 1, 1, 8, &device);
    assert!(LocalEvaluator::new(&enc, x).unwrap().is_none());
    let ad = device.autodiff();
    let plain = ImageEncoder::new(&ImageEncoderConfig::default(), 8, &ad);
    let x = tensor(image(1, 8), 1, 1, 8, &ad);
    assert!(LocalEvaluator::new(&plain, x).unwrap().is_none());
}

#[test]
fn patches_outside_the_image_are_refused() {
    let device = Device::flex();
    let enc = ImageEncoder::new(&ImageEncoderConfig::default(), 8, &device);
    let eval = LocalEvaluator::new(&enc, tensor(image(1, 8), 1, 1, 8, &device))
        .unwrap()
        .unwrap();
    assert!(
        eval.features(&[patch([6, 0, 0], [4, 1, 1], 1, 0.0)])
            .is_err()
    );
    assert!(
        eval.features(&[patch([0, 0, 0], [2, 2, 2], 2, 0.0)])
            .is_err()
    );
}

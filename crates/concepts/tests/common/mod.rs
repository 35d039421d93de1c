//! A tiny image model trained in-test to respond to bright blobs, and its data.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use oncolens_nn::batch::Sample;
use oncolens_nn::fusion::weighted_bce_with_logits;
use oncolens_nn::{
    Batch, Device, FusionKind, ImageEncoderConfig, ImageNorm, ModalitySet, ModelConfig,
    MultimodalModel,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

pub const SIDE: usize = 8;

pub fn config() -> ModelConfig {
    ModelConfig {
        modalities: ModalitySet::only(0),
        // Concatenation has a ReLU hidden layer in its head, so the logit is not linear in the
        // last feature map and gradients differ between inputs.
        fusion: FusionKind::Concat,
        embed_dim: 4,
        image: ImageEncoderConfig {
            in_channels: 1,
            stem_channels: 4,
            norm: ImageNorm::None,
            stem_stride: 1,
            block_channels: vec![8],
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

/// Noise volume: N(0, 0.25) per voxel, in [-1, 1].
pub fn noise(rng: &mut ChaCha8Rng) -> Vec<f32> {
    (0..SIDE.pow(3))
        .map(|_| {
            let z: f32 = rng.sample(StandardNormal);
            (0.25 * z).clamp(-1.0, 1.0)
        })
        .collect()
}

/// Noise plus a bright Gaussian blob (amplitude 1, sd 1.2 voxels) at a random centre.
pub fn blob(rng: &mut ChaCha8Rng) -> Vec<f32> {
    let mut v = noise(rng);
    let c: [f32; 3] = std::array::from_fn(|_| rng.random_range(2.0..5.0));
    for z in 0..SIDE {
        for y in 0..SIDE {
            for x in 0..SIDE {
                let d2 = (z as f32 - c[0]).powi(2)
                    + (y as f32 - c[1]).powi(2)
                    + (x as f32 - c[2]).powi(2);
                let i = (z * SIDE + y) * SIDE + x;
                v[i] = (v[i] + (-d2 / (2.0 * 1.44)).exp()).clamp(-1.0, 1.0);
            }
        }
    }
    v
}

pub fn sample(image: Vec<f32>, label: u8) -> Sample {
    Sample {
        image: Some(image),
        lesion_features: None,
        label: Some(label),
        ..Sample::default()
    }
}

/// `n` blob samples (label 1) and `n` noise samples (label 0) from `seed`.
pub fn data(n: usize, seed: u64) -> (Vec<Sample>, Vec<Sample>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let blobs = (0..n).map(|_| sample(blob(&mut rng), 1)).collect();
    let noises = (0..n).map(|_| sample(noise(&mut rng), 0)).collect();
    (blobs, noises)
}

/// The model trained (full batch, Adam) to tell blobs from noise; returned on the plain
/// (inference) device.
pub fn trained_model() -> (MultimodalModel, ModelConfig, Device) {
    static MODEL: std::sync::OnceLock<MultimodalModel> = std::sync::OnceLock::new();
    let model = MODEL.get_or_init(train).clone();
    (model, config(), Device::flex())
}

fn train() -> MultimodalModel {
    let t = std::time::Instant::now();
    let device = Device::flex();
    let ad = device.clone().autodiff();
    let _rng = oncolens_nn::rng::SeededRng::acquire(&ad, 11);
    let cfg = config();
    let (blobs, noises) = data(24, 1);
    let all: Vec<&Sample> = blobs.iter().chain(&noises).collect();
    let batch = Batch::collate(&all, &cfg, SIDE, &ad).unwrap();
    let labels = batch.labels.clone().unwrap();
    let mut model = MultimodalModel::new(&cfg, &ad).unwrap();
    let mut optim = AdamConfig::new().init();
    for _ in 0..60 {
        let out = model.forward(&batch);
        let loss = weighted_bce_with_logits(out.logits, labels.clone(), 1.0);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(2e-2, model, grads);
    }
    let model = model.valid();
    eprintln!("model trained in {:.1?}", t.elapsed());
    model
}

/// Logits of `samples` under `model`.
pub fn logits(
    model: &MultimodalModel,
    cfg: &ModelConfig,
    samples: &[Sample],
    device: &Device,
) -> Vec<f32> {
    let refs: Vec<&Sample> = samples.iter().collect();
    let batch = Batch::collate(&refs, cfg, SIDE, device).unwrap();
    model
        .forward(&batch)
        .logits
        .into_data()
        .try_to_vec::<f32>()
        .unwrap()
}

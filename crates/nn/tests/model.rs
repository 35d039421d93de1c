#![allow(clippy::unwrap_used, clippy::expect_used)]

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use oncolens_nn::batch::Sample;
use oncolens_nn::fusion::weighted_bce_with_logits;
use oncolens_nn::store::{load_weights, save_weights};
use oncolens_nn::{
    Batch, Device, FusionKind, ImageEncoderConfig, ModalitySet, ModelConfig, MultimodalModel,
};

const SIDE: usize = 8;

fn config(fusion: FusionKind, modalities: ModalitySet) -> ModelConfig {
    ModelConfig {
        modalities,
        fusion,
        embed_dim: 8,
        image: ImageEncoderConfig {
            in_channels: 1,
            stem_channels: 4,
            norm: oncolens_nn::ImageNorm::Batch,
            stem_stride: 1,
            block_channels: vec![8],
            lesion_features: 2,
        },
        clinical_features: 3,
        text_vocab: 10,
        text_token_dim: 4,
        omics_genes: 5,
        hidden: 8,
        dropout: 0.1,
        tabular: Default::default(),
        pattern_fusion: false,
    }
}

/// Samples whose label is carried by every modality (so any encoder can learn it).
fn samples(n: usize) -> Vec<Sample> {
    (0..n)
        .map(|i| {
            let y = (i % 2) as u8;
            let s = if y == 1 { 1.0 } else { -1.0 };
            Sample {
                image: (i % 5 != 0).then(|| {
                    (0..SIDE.pow(3))
                        .map(|k| if k % 7 == 0 { s } else { 0.1 * s })
                        .collect()
                }),
                clinical: (i % 3 != 0).then(|| vec![s, 0.5, -0.2, 0.0, 0.0, 1.0]),
                tokens: (i % 4 != 0).then(|| vec![2 + y as u32 * 3, 4, 9]),
                omics: Some(vec![s * 0.8, 0.1, -0.1, s, 0.0]),
                lesion_features: (i % 3 != 1).then(|| vec![s, 0.3]),
                label: Some(y),
            }
        })
        .collect()
}

#[test]
fn forward_handles_missing_modalities_in_both_fusions() {
    let device = Device::flex();
    let data = samples(6);
    let refs: Vec<&Sample> = data.iter().collect();
    for fusion in [
        FusionKind::Concat,
        FusionKind::GatedAttention,
        FusionKind::Additive,
    ] {
        let cfg = config(fusion, ModalitySet::ALL);
        let model = MultimodalModel::new(&cfg, &device).unwrap();
        let batch = Batch::collate(&refs, &cfg, SIDE, &device).unwrap();
        let out = model.forward(&batch);
        let logits: Vec<f32> = out.logits.to_data().try_to_vec::<f32>().unwrap();
        assert_eq!(logits.len(), 6);
        assert!(logits.iter().all(|v| v.is_finite()));
        if let Some(g) = out.gates {
            let g: Vec<f32> = g.to_data().try_to_vec::<f32>().unwrap();
            for (k, s) in data.iter().enumerate() {
                let present = s.present();
                let row = &g[4 * k..4 * k + 4];
                let sum: f32 = row.iter().sum();
                assert!((sum - 1.0).abs() < 1e-5, "weights sum to 1: {row:?}");
                for m in 0..4 {
                    if !present[m] {
                        assert!(row[m] < 1e-6, "absent modality {m} has weight {}", row[m]);
                    }
                }
            }
        }
    }
}

/// Lesion radiomics are part of the image modality: they move the image logit when the image is
/// there and count for nothing without it.
#[test]
fn lesion_features_enter_with_the_image_only() {
    let device = Device::flex();
    let cfg = config(FusionKind::Additive, ModalitySet::only(0));
    let model = MultimodalModel::new(&cfg, &device).unwrap().valid();
    let logit = |s: &Sample| -> f32 {
        let batch = Batch::collate(&[s], &cfg, SIDE, &device).unwrap();
        model
            .forward(&batch)
            .logits
            .into_data()
            .try_to_vec::<f32>()
            .unwrap()[0]
    };
    let mut s = samples(2).remove(1);
    assert!(s.image.is_some());
    s.lesion_features = Some(vec![0.0, 0.0]);
    let base = logit(&s);
    s.lesion_features = Some(vec![2.0, -1.0]);
    assert!((logit(&s) - base).abs() > 1e-6, "lesion features ignored");
    // Missing features with an image are the training mean (0 after standardisation).
    s.lesion_features = None;
    assert!((logit(&s) - base).abs() < 1e-6);
    s.image = None;
    let no_image = logit(&s);
    s.lesion_features = Some(vec![2.0, -1.0]);
    assert!(
        (logit(&s) - no_image).abs() < 1e-6,
        "features counted without the image"
    );
    // The wrong width is a clear error naming them.
    s.image = samples(2).remove(1).image;
    s.lesion_features = Some(vec![1.0; 3]);
    let err = Batch::collate(&[&s], &cfg, SIDE, &device)
        .unwrap_err()
        .to_string();
    assert!(err.contains("lesion features"), "{err}");
}

#[test]
fn wrong_input_width_is_a_clear_error() {
    let device = Device::flex();
    let cfg = config(FusionKind::Concat, ModalitySet::ALL);
    let mut s = samples(1).remove(0);
    s.clinical = Some(vec![0.0; 4]);
    let err = Batch::collate(&[&s], &cfg, SIDE, &device)
        .unwrap_err()
        .to_string();
    assert!(err.contains("clinical") && err.contains('6'), "{err}");
    s.clinical = None;
    s.tokens = Some(vec![42]);
    let err = Batch::collate(&[&s], &cfg, SIDE, &device)
        .unwrap_err()
        .to_string();
    assert!(err.contains("vocabulary"), "{err}");
}

#[test]
fn training_lowers_the_loss_for_every_single_modality_model() {
    let device = Device::flex().autodiff();
    let _rng = oncolens_nn::rng::SeededRng::acquire(&device, 3);
    let data = samples(16);
    let refs: Vec<&Sample> = data.iter().collect();
    for m in 0..4 {
        let cfg = config(FusionKind::Concat, ModalitySet::only(m));
        let mut model = MultimodalModel::new(&cfg, &device).unwrap();
        let mut optim = AdamConfig::new().init();
        let batch = Batch::collate(&refs, &cfg, SIDE, &device).unwrap();
        let labels = batch.labels.clone().unwrap();
        let loss0: f32 = weighted_bce_with_logits(
            model.valid().forward(&batch.clone()).logits,
            labels.clone(),
            1.0,
        )
        .into_scalar();
        for _ in 0..60 {
            let out = model.forward(&batch);
            let loss = weighted_bce_with_logits(out.logits, labels.clone(), 1.0);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(1e-2, model, grads);
        }
        let loss1: f32 =
            weighted_bce_with_logits(model.forward(&batch).logits, labels.clone(), 1.0)
                .into_scalar();
        assert!(loss1 < 0.8 * loss0, "modality {m}: {loss0} -> {loss1}");
    }
}

#[test]
fn weights_round_trip_through_safetensors() {
    let device = Device::flex();
    let cfg = config(FusionKind::GatedAttention, ModalitySet::ALL);
    let model = MultimodalModel::new(&cfg, &device).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.safetensors");
    save_weights(&model, &path).unwrap();
    let fresh = MultimodalModel::new(&cfg, &device).unwrap();
    let loaded = load_weights(fresh, &path).unwrap();
    let data = samples(4);
    let refs: Vec<&Sample> = data.iter().collect();
    let batch = Batch::collate(&refs, &cfg, SIDE, &device).unwrap();
    let a: Vec<f32> = model
        .forward(&batch)
        .logits
        .to_data()
        .try_to_vec::<f32>()
        .unwrap();
    let b: Vec<f32> = loaded
        .forward(&batch)
        .logits
        .to_data()
        .try_to_vec::<f32>()
        .unwrap();
    assert_eq!(a, b);
    // A model of another shape refuses these weights with a message naming the file.
    let other =
        MultimodalModel::new(&config(FusionKind::Concat, ModalitySet::ALL), &device).unwrap();
    let err = load_weights(other, &path).unwrap_err().to_string();
    assert!(err.contains("w.safetensors"), "{err}");
    let _ = Module::num_params(&loaded);
}

#[test]
fn same_seed_same_initial_weights() {
    let cfg = config(FusionKind::GatedAttention, ModalitySet::ALL);
    let make = || {
        let device = Device::flex();
        let _rng = oncolens_nn::rng::SeededRng::acquire(&device, 11);
        let m = MultimodalModel::new(&cfg, &device).unwrap();
        let data = samples(3);
        let refs: Vec<&Sample> = data.iter().collect();
        let batch = Batch::collate(&refs, &cfg, SIDE, &device).unwrap();
        m.forward(&batch)
            .logits
            .to_data()
            .try_to_vec::<f32>()
            .unwrap()
    };
    assert_eq!(make(), make());
}

/// The late-fusion model assembled from single-modality additive models gives exactly
/// `bias + sum_m w_m * (logit_m - centre_m)` over the modalities each patient has.
#[test]
fn assembled_late_fusion_is_the_weighted_sum_of_member_logits() {
    let device = Device::flex();
    let _rng = oncolens_nn::rng::SeededRng::acquire(&device, 11);
    let data = samples(10);
    let refs: Vec<&Sample> = data.iter().collect();
    let members: Vec<MultimodalModel> = (0..4)
        .map(|m| {
            let cfg = config(FusionKind::Additive, ModalitySet::only(m));
            MultimodalModel::new(&cfg, &device).unwrap().valid()
        })
        .collect();
    let member_logits: Vec<Vec<f32>> = (0..4)
        .map(|m| {
            let cfg = config(FusionKind::Additive, ModalitySet::only(m));
            let batch = Batch::collate(&refs, &cfg, SIDE, &device).unwrap();
            members[m]
                .forward(&batch)
                .logits
                .into_data()
                .try_to_vec::<f32>()
                .unwrap()
        })
        .collect();
    let weights = [0.7, 0.0, 1.3, 0.4];
    let centres = [0.5, -2.0, 0.0, 1.5];
    let bias = -0.25;
    let cfg = config(FusionKind::Additive, ModalitySet::ALL);
    let parts: [Option<&MultimodalModel>; 4] = std::array::from_fn(|m| Some(&members[m]));
    let fused = MultimodalModel::assemble_late_fusion(&cfg, parts, weights, centres, bias, &device)
        .unwrap()
        .valid();
    let batch = Batch::collate(&refs, &cfg, SIDE, &device).unwrap();
    let got: Vec<f32> = fused
        .forward(&batch)
        .logits
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    for (i, s) in data.iter().enumerate() {
        let present = s.present();
        let want: f64 = bias
            + (0..4)
                .filter(|&m| present[m])
                .map(|m| weights[m] * (f64::from(member_logits[m][i]) - centres[m]))
                .sum::<f64>();
        assert!(
            (f64::from(got[i]) - want).abs() < 1e-4,
            "patient {i}: {} vs {want}",
            got[i]
        );
    }
    // Pattern fusion: each patient gets the weights and bias of the modalities it has, also
    // after a save and load.
    let mut pattern_cfg = cfg.clone();
    pattern_cfg.pattern_fusion = true;
    let mut patterned =
        MultimodalModel::assemble_late_fusion(&pattern_cfg, parts, weights, centres, bias, &device)
            .unwrap();
    let table: [[f64; 5]; 16] = std::array::from_fn(|p| {
        let p = p as f64;
        [0.1 * p, 1.0 - 0.05 * p, 0.3, 0.02 * p, -0.5 + 0.1 * p]
    });
    patterned.set_pattern_weights(&table, &device).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("patterned.safetensors");
    save_weights(&patterned, &path).unwrap();
    let loaded = load_weights(MultimodalModel::new(&pattern_cfg, &device).unwrap(), &path)
        .unwrap()
        .valid();
    let got: Vec<f32> = loaded
        .forward(&batch)
        .logits
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let mut patterns_seen = std::collections::BTreeSet::new();
    for (i, s) in data.iter().enumerate() {
        let present = s.present();
        let p: usize = (0..4).filter(|&m| present[m]).map(|m| 1 << m).sum();
        patterns_seen.insert(p);
        let want: f64 = table[p][4]
            + (0..4)
                .filter(|&m| present[m])
                .map(|m| table[p][m] * (f64::from(member_logits[m][i]) - centres[m]))
                .sum::<f64>();
        assert!(
            (f64::from(got[i]) - want).abs() < 1e-4,
            "patient {i} (pattern {p}): {} vs {want}",
            got[i]
        );
    }
    assert!(patterns_seen.len() > 1, "{patterns_seen:?}");
    // A freshly built pattern model (as the randomisation check builds) starts from the plain
    // sum of its modality logits, so it depends on its inputs.
    let fresh: Vec<f32> = MultimodalModel::new(&pattern_cfg, &device)
        .unwrap()
        .valid()
        .forward(&batch)
        .logits
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let spread = fresh.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b))
        - fresh.iter().fold(f32::INFINITY, |a, &b| a.min(b));
    assert!(spread > 1e-4, "{fresh:?}");
    // Without pattern fusion in the configuration there is no table to set.
    let mut plain =
        MultimodalModel::assemble_late_fusion(&cfg, parts, weights, centres, bias, &device)
            .unwrap();
    assert!(plain.set_pattern_weights(&table, &device).is_err());
    // A member of the wrong kind is refused.
    let concat =
        MultimodalModel::new(&config(FusionKind::Concat, ModalitySet::only(0)), &device).unwrap();
    let mut bad = parts;
    bad[0] = Some(&concat);
    assert!(
        MultimodalModel::assemble_late_fusion(&cfg, bad, weights, centres, bias, &device).is_err()
    );
}

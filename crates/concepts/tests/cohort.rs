//! Concept sets from a cohort's ground truth, and the image-channel handling of a model whose
//! input has the lesion mask as a second channel.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use oncolens_concepts::actmax::{ActmaxOptions, ActmaxTarget, activation_maximisation};
use oncolens_concepts::cohort::{
    ConceptSampling, build_concept, build_random_sets, read_ground_truth, top_quantile_flags,
};
use oncolens_concepts::features::{TargetClass, activations, logit_gradients};
use oncolens_nn::batch::Sample;
use oncolens_nn::{Device, FusionKind, ImageEncoderConfig, ImageNorm, ModalitySet, ModelConfig};

#[test]
fn ground_truth_concepts_and_random_sets() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ground_truth.csv");
    let mut text = String::from(
        "case_id,site,malignant,diameter_mm,irregularity,heterogeneity,enhancement_hu,age_years\n",
    );
    for i in 0..40 {
        text.push_str(&format!(
            "case_{i:04},site_a,{},{},{},{},70,60\n",
            i % 2,
            20 + i,
            f64::from(i) / 40.0,
            f64::from(39 - i) / 40.0
        ));
    }
    std::fs::write(&path, text).unwrap();
    let rows = read_ground_truth(&path).unwrap();
    assert_eq!(rows.len(), 40);
    assert_eq!(rows[3].case_id, "case_0003");
    assert_eq!(rows[3].malignant, Some(1));
    assert_eq!(rows[3].diameter_mm, 23.0);
    let irregular = top_quantile_flags(
        &rows.iter().map(|r| r.irregularity).collect::<Vec<_>>(),
        0.25,
    );
    assert_eq!(irregular.iter().filter(|f| **f).count(), 10);
    assert!(irregular[30..].iter().all(|f| *f));

    // Case 35 has no image: never drawn.
    let samples: Vec<Sample> = (0..40)
        .map(|i| Sample {
            image: (i != 35).then(|| vec![i as f32; 8]),
            ..Sample::default()
        })
        .collect();
    let sampling = ConceptSampling {
        concept_size: 6,
        random_sets: 4,
        random_size: 5,
        seed: 3,
    };
    let (concept, idx) =
        build_concept("irregular margin", &irregular, &samples, &sampling).unwrap();
    assert_eq!(concept.examples.len(), 6);
    assert!(idx.iter().all(|&i| i >= 30 && i != 35));
    let again = build_concept("irregular margin", &irregular, &samples, &sampling).unwrap();
    assert_eq!(again.1, idx, "seeded");
    let exclude: Vec<bool> = (0..40).map(|i| idx.contains(&i)).collect();
    let randoms = build_random_sets(&exclude, &samples, &sampling).unwrap();
    assert_eq!(randoms.sets.len(), 4);
    for set in &randoms.indices {
        assert_eq!(set.len(), 5);
        assert!(set.iter().all(|i| !exclude[*i] && *i != 35));
        let mut unique = set.clone();
        unique.dedup();
        assert_eq!(unique.len(), 5, "without replacement within a set");
    }
    assert_ne!(randoms.indices[0], randoms.indices[1]);
    // Too few flagged cases.
    let none = vec![false; 40];
    assert!(build_concept("nothing", &none, &samples, &sampling).is_err());
}

#[test]
fn two_channel_models_keep_the_mask_fixed() {
    let device = Device::flex();
    let side = 8;
    let cfg = ModelConfig {
        modalities: ModalitySet {
            image: true,
            clinical: true,
            text: false,
            omics: false,
        },
        fusion: FusionKind::Concat,
        embed_dim: 4,
        image: ImageEncoderConfig {
            in_channels: 2,
            stem_channels: 4,
            norm: ImageNorm::None,
            stem_stride: 1,
            block_channels: vec![8],
            lesion_features: 0,
        },
        clinical_features: 1,
        text_vocab: 0,
        text_token_dim: 4,
        omics_genes: 0,
        hidden: 8,
        dropout: 0.0,
        tabular: Default::default(),
        pattern_fusion: false,
    };
    let model = oncolens_nn::MultimodalModel::new(&cfg, &device).unwrap();
    let n = side * side * side;
    let mut image: Vec<f32> = (0..n).map(|i| ((i * 7) % 13) as f32 / 13.0 - 0.5).collect();
    image.extend((0..n).map(|i| if i % 3 == 0 { 1.0 } else { 0.0 }));
    let sample = Sample {
        image: Some(image),
        clinical: Some(vec![0.5, 0.0]),
        ..Sample::default()
    };
    let maps = activations(
        &model,
        &cfg,
        std::slice::from_ref(&sample),
        side,
        None,
        &device,
    )
    .unwrap();
    assert_eq!(maps.dims, [8, 4, 4, 4]);
    let (grads, logits) = logit_gradients(
        &model,
        &cfg,
        std::slice::from_ref(&sample),
        side,
        Some(0),
        TargetClass::Positive,
        &device,
    )
    .unwrap();
    assert_eq!(grads.dims, [4, 8, 8, 8]);
    assert_eq!(logits.len(), 1);
    assert!(grads.values[0].iter().any(|g| *g != 0.0));
    let r = activation_maximisation(
        &model,
        &cfg,
        &sample,
        side,
        ActmaxTarget::Logit(TargetClass::Positive),
        &ActmaxOptions {
            steps: 5,
            ..ActmaxOptions::default()
        },
        &device,
    )
    .unwrap();
    assert_eq!(r.volume.len(), n, "the scan channel only");
    // A sample without an image is an error for TCAV's inputs.
    let no_image = Sample::default();
    assert!(activations(&model, &cfg, &[sample, no_image], side, None, &device).is_err());
}

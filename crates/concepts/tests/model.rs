//! TCAV and activation maximisation on a tiny 3D CNN trained in-test to tell volumes with a
//! bright blob (label 1) from noise (label 0).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{SIDE, data, logits, trained_model};
use oncolens_concepts::actmax::{
    ActmaxOptions, ActmaxStart, ActmaxTarget, activation_maximisation, total_variation,
};
use oncolens_concepts::features::{ActivationPooling, TargetClass, activations};
use oncolens_concepts::tcav::{Concept, TcavOptions, tcav};

#[test]
fn tcav_of_the_concept_the_model_learned_is_near_one_and_an_unrelated_one_is_not_significant() {
    let (model, cfg, device) = trained_model();
    let (blob_concept, _) = data(20, 100);
    let (inputs, noise_concept) = data(20, 200);
    // Sanity: the model learned the task.
    let (held_blobs, held_noise) = data(20, 300);
    let lb = logits(&model, &cfg, &held_blobs, &device);
    let ln = logits(&model, &cfg, &held_noise, &device);
    let right = lb.iter().filter(|v| **v > 0.0).count() + ln.iter().filter(|v| **v < 0.0).count();
    assert!(
        right >= 36,
        "trained model gets {right}/40 held-out volumes right"
    );
    let randoms: Vec<Vec<_>> = (0..10).map(|k| data(20, 400 + k).1).collect();
    let concepts = [
        Concept {
            name: "bright blob".into(),
            examples: blob_concept,
        },
        // Drawn from the random sets' own distribution: no concept at all.
        Concept {
            name: "more noise".into(),
            examples: noise_concept,
        },
    ];
    for (pooling, after_block) in [
        (ActivationPooling::Flatten, None),
        (ActivationPooling::SpatialMean, None),
        (ActivationPooling::Flatten, Some(0)),
    ] {
        let options = TcavOptions {
            pooling,
            after_block,
            ..TcavOptions::default()
        };
        let report = tcav(
            &model, &cfg, SIDE, &concepts, &randoms, &inputs, &options, &device,
        )
        .unwrap();
        let [blob, noise] = [&report.results[0], &report.results[1]];
        let tag = format!("{pooling:?} after {after_block:?}");
        assert!(blob.score > 0.9, "{tag}: {blob:?}");
        assert!(blob.cav_accuracy > 0.9, "{tag}: {blob:?}");
        // Significant at 0.05 / 2 concepts (Bonferroni). After the last block the logit is
        // close to linear in the map, so random CAVs score 0 or 1 and the null is wide.
        assert!(blob.significant, "{tag}: {blob:?}");
        assert!(
            !noise.significant && noise.p_value > 0.05,
            "{tag}: {noise:?}"
        );
        assert!(noise.cav_accuracy < 0.8, "{tag}: {noise:?}");
        assert_eq!(report.input_logits.len(), 20);
    }
    // The negative class sees the blob concept pulling the other way.
    let options = TcavOptions {
        class: TargetClass::Negative,
        ..TcavOptions::default()
    };
    let report = tcav(
        &model,
        &cfg,
        SIDE,
        &concepts[..1],
        &randoms,
        &inputs,
        &options,
        &device,
    )
    .unwrap();
    assert!(report.results[0].score < 0.1, "{:?}", report.results[0]);
}

#[test]
fn activations_have_the_layer_shape() {
    let (model, cfg, device) = trained_model();
    let (blobs, _) = data(3, 5);
    let after_stem = activations(&model, &cfg, &blobs, SIDE, Some(0), &device).unwrap();
    assert_eq!(after_stem.dims, [4, 8, 8, 8]);
    let last = activations(&model, &cfg, &blobs, SIDE, None, &device).unwrap();
    assert_eq!(last.dims, [8, 4, 4, 4]);
    assert_eq!(last.values.len(), 3);
    assert!(activations(&model, &cfg, &blobs, SIDE, Some(2), &device).is_err());
}

fn quick() -> ActmaxOptions {
    ActmaxOptions {
        steps: 40,
        ..ActmaxOptions::default()
    }
}

#[test]
fn activation_maximisation_raises_the_logit_and_a_channel() {
    let (model, cfg, device) = trained_model();
    let (_, noise) = data(1, 9);
    let r = activation_maximisation(
        &model,
        &cfg,
        &noise[0],
        SIDE,
        ActmaxTarget::Logit(TargetClass::Positive),
        &quick(),
        &device,
    )
    .unwrap();
    assert_eq!(r.objective.len(), 40);
    assert!(
        r.final_objective > r.initial_objective + 1.0,
        "{} -> {}",
        r.initial_objective,
        r.final_objective
    );
    // Monotone-ish: the last quarter of the trace is above the first quarter.
    let q = r.objective.len() / 4;
    let first: f64 = r.objective[..q].iter().sum::<f64>() / q as f64;
    let last: f64 = r.objective[r.objective.len() - q..].iter().sum::<f64>() / q as f64;
    assert!(last > first, "{first} -> {last}");

    // The most active channel after the block, from a patient's (here: a noise volume's) crop.
    let opts = ActmaxOptions {
        start: ActmaxStart::Context,
        ..quick()
    };
    let start = activations(&model, &cfg, &noise, SIDE, Some(1), &device).unwrap();
    let voxels = 64;
    let channel = (0..8)
        .max_by(|&a, &b| {
            let m = |c: usize| {
                start.values[0][c * voxels..(c + 1) * voxels]
                    .iter()
                    .sum::<f32>()
            };
            m(a).total_cmp(&m(b))
        })
        .unwrap();
    let target = ActmaxTarget::Channel {
        after_block: 1,
        channel,
        centre_only: false,
    };
    let r = activation_maximisation(&model, &cfg, &noise[0], SIDE, target, &opts, &device).unwrap();
    assert!(
        r.final_activation > 1.5 * r.initial_activation.max(1e-3),
        "channel {channel}: {} -> {}",
        r.initial_activation,
        r.final_activation
    );
    assert!(r.final_objective > r.initial_objective);
}

#[test]
fn activation_maximisation_respects_the_clamp() {
    let (model, cfg, device) = trained_model();
    let (_, noise) = data(1, 9);
    let target = ActmaxTarget::Logit(TargetClass::Positive);
    let opts = ActmaxOptions {
        clamp: (-0.5, 0.3),
        ..quick()
    };
    let a = activation_maximisation(&model, &cfg, &noise[0], SIDE, target, &opts, &device).unwrap();
    assert!(a.volume.iter().all(|v| (-0.5..=0.3).contains(v)));
    // The logit wants bright voxels: the ascent pushes voxels to the upper bound.
    assert!(a.volume.contains(&0.3));
}

#[test]
fn seeded_activation_maximisation_is_reproducible() {
    let (model, cfg, device) = trained_model();
    let (_, noise) = data(1, 9);
    let target = ActmaxTarget::Logit(TargetClass::Positive);
    // Few steps: far from the saturated optimum, so different seeds still differ.
    let opts = ActmaxOptions {
        steps: 10,
        ..ActmaxOptions::default()
    };
    let a = activation_maximisation(&model, &cfg, &noise[0], SIDE, target, &opts, &device).unwrap();
    let b = activation_maximisation(&model, &cfg, &noise[0], SIDE, target, &opts, &device).unwrap();
    assert_eq!(a.volume, b.volume);
    assert_eq!(a.objective, b.objective);
    let other = ActmaxOptions { seed: 1, ..opts };
    let c =
        activation_maximisation(&model, &cfg, &noise[0], SIDE, target, &other, &device).unwrap();
    assert_ne!(a.volume, c.volume);
}

/// The stem channel whose mean activation on `sample` is highest.
fn most_active_stem_channel(
    model: &oncolens_nn::MultimodalModel,
    cfg: &oncolens_nn::ModelConfig,
    sample: &oncolens_nn::batch::Sample,
    device: &oncolens_nn::Device,
) -> usize {
    let maps = activations(
        model,
        cfg,
        std::slice::from_ref(sample),
        SIDE,
        Some(0),
        device,
    )
    .unwrap();
    let voxels = SIDE.pow(3);
    (0..maps.dims[0])
        .max_by(|&a, &b| {
            let m = |c: usize| {
                maps.values[0][c * voxels..(c + 1) * voxels]
                    .iter()
                    .sum::<f32>()
            };
            m(a).total_cmp(&m(b))
        })
        .unwrap()
}

#[test]
fn total_variation_penalty_smooths_the_result() {
    let (model, cfg, device) = trained_model();
    let (_, noise) = data(1, 9);
    // A stem channel: a single 3x3x3 filter, whose maximising input is a high-frequency
    // pattern (each voxel pushed towards the sign of a filter weight).
    let channel = most_active_stem_channel(&model, &cfg, &noise[0], &device);
    let target = ActmaxTarget::Channel {
        after_block: 0,
        channel,
        centre_only: false,
    };
    let base = ActmaxOptions {
        jitter: 0,
        blur_every: 0,
        ..quick()
    };
    let none = ActmaxOptions {
        tv: 0.0,
        ..base.clone()
    };
    let strong = ActmaxOptions { tv: 2.0, ..base };
    let a = activation_maximisation(&model, &cfg, &noise[0], SIDE, target, &none, &device).unwrap();
    let b =
        activation_maximisation(&model, &cfg, &noise[0], SIDE, target, &strong, &device).unwrap();
    let (ta, tb) = (
        total_variation(&a.volume, SIDE),
        total_variation(&b.volume, SIDE),
    );
    assert!(tb < 0.7 * ta, "TV with penalty {tb}, without {ta}");
    assert!(b.final_activation > b.initial_activation);
}

//! The learning half of `oncolens demo`: train the fused model and each single-modality model
//! on the sample cohort, evaluate them on held-out patients overall and per site, run
//! leave-one-site-out, explain held-out cases, and collect everything for `metrics.json` and
//! `report.html`.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use oncolens_core::{LabelMap, Volume};
use oncolens_explain::{IgMethod, ImageAttribution, grad_cam, integrated_gradients};
use oncolens_nn::{FusionKind, ModalitySet};
use oncolens_train::cases::{ImageInput, PreparedCase};
use oncolens_train::evaluate::{Predictions, per_site, report_json};
use oncolens_train::split::{Split, holdout, leave_one_site_out};
use oncolens_train::{TrainConfig, TrainedModel, model_dir};

use crate::learn::{predict, train_one, write_predictions};
use crate::progress;

/// Settings of the learning stage.
#[derive(Debug, Clone)]
pub struct LearnOptions {
    pub config: TrainConfig,
    /// Held-out cases explained (heatmaps and share in lesion); the first three are drawn.
    pub explain_cases: usize,
    /// Integration steps of Integrated Gradients.
    pub ig_steps: usize,
    /// Also train a concatenation-fusion model for comparison.
    pub concat: bool,
    /// Run leave-one-site-out.
    pub loso: bool,
}

/// One model's held-out results.
pub struct ModelResult {
    pub name: &'static str,
    pub model: TrainedModel,
    pub test: Predictions,
    pub report: serde_json::Value,
}

/// An explained case, for the report.
pub struct Explained {
    pub case_id: String,
    pub site: String,
    pub label: Option<u8>,
    pub probability: f64,
    pub image: Volume<f32>,
    pub lesion: LabelMap,
    pub heatmaps: Vec<(&'static str, Volume<f32>, f64)>,
    pub centre_voxel: [usize; 3],
    pub ig_delta: Option<f64>,
}

/// Everything the demo learned.
pub struct LearnOutcome {
    pub cases: Vec<PreparedCase>,
    pub split: Split,
    pub models: Vec<ModelResult>,
    pub loso: BTreeMap<String, serde_json::Value>,
    pub explained: Vec<Explained>,
    pub metrics: serde_json::Value,
}

const SINGLE: [(&str, usize); 4] = [("image", 0), ("clinical", 1), ("text", 2), ("omics", 3)];

fn explain_case(
    fused: &TrainedModel,
    case: &PreparedCase,
    opts: &LearnOptions,
    device: &oncolens_nn::Device,
) -> Result<Option<Explained>> {
    let Some(crop) = &case.crop else {
        return Ok(None);
    };
    let entry = oncolens_io::case_entry(&case.dir)?;
    let full = oncolens_io::load_case(&entry, None)?;
    let (Some(image), Some(lesion)) = (full.image, full.lesion_mask) else {
        return Ok(None);
    };
    let sample = fused.preprocessor.sample(case);
    let side = fused.preprocessor.image_input.side();
    let ig: ImageAttribution = integrated_gradients(
        &fused.model,
        &fused.config,
        &sample,
        side,
        oncolens_train::Preprocessor::WINDOW_BOTTOM,
        opts.ig_steps,
        IgMethod::GaussLegendre,
        device,
    )?;
    // After the first block (8^3 for the default crop): the last block (2^3) is too coarse to
    // localise a lesion.
    let cam = grad_cam(&fused.model, &fused.config, &sample, side, Some(1), device)?;
    let mut heatmaps = Vec::new();
    for a in [&ig, &cam] {
        let on_image = oncolens_explain::to_image_grid(a, &crop.grid, image.geometry())?;
        let (share, _) = oncolens_explain::positive_share_in_mask(&on_image, &lesion)?;
        heatmaps.push((a.method, on_image, share));
    }
    let probability = oncolens_metrics::apply_temperature(&[ig.logit], fused.temperature)?[0];
    Ok(Some(Explained {
        case_id: case.id.clone(),
        site: case.site.clone(),
        label: case.label,
        probability,
        centre_voxel: oncolens_report::overlay::mask_centre(&lesion)
            .unwrap_or_else(|| lesion.geometry().size.map(|v| v / 2)),
        image,
        lesion,
        heatmaps,
        ig_delta: ig.convergence_delta,
    }))
}

/// Runs the learning stage on a cohort folder and writes models, predictions and heatmaps under
/// `out`.
pub fn run(cohort_dir: &Path, out: &Path, opts: &LearnOptions) -> Result<LearnOutcome> {
    let device = oncolens_nn::default_device();
    let cfg = &opts.config;
    let cases = crate::learn::prepare(cohort_dir, &cfg.image_input, 1)?;
    let split = holdout(&cases, 0.25, 0.2, cfg.seed);
    let models_dir = out.join("models");

    let mut plan: Vec<(&'static str, ModalitySet, FusionKind)> =
        vec![("fused", ModalitySet::ALL, FusionKind::GatedAttention)];
    if opts.concat {
        plan.push(("fused_concat", ModalitySet::ALL, FusionKind::Concat));
    }
    for (name, m) in SINGLE {
        plan.push((name, ModalitySet::only(m), FusionKind::Concat));
    }
    let mut models = Vec::new();
    let mut skipped = serde_json::Map::new();
    for (name, modalities, fusion) in plan {
        let c = TrainConfig {
            fusion,
            modality_dropout: if modalities.count() > 1 {
                cfg.modality_dropout
            } else {
                0.0
            },
            ..cfg.clone()
        };
        let label: &'static str = match name {
            "fused" => "training fused",
            "fused_concat" => "training concat",
            "image" => "training image",
            "clinical" => "training clinical",
            "text" => "training text",
            _ => "training omics",
        };
        let model = match train_one(&cases, &split, modalities, &c, &device, label) {
            Ok(m) => m,
            // A single-modality model the cohort cannot support (no patient has the modality)
            // is reported, not fatal; the fused model must train.
            Err(e) if name != "fused" => {
                eprintln!("  {name:<13} not trained: {e:#}");
                skipped.insert(
                    name.to_owned(),
                    serde_json::json!({"auc": null, "undefined": format!("{e:#}")}),
                );
                continue;
            }
            Err(e) => return Err(e),
        };
        let test = predict(&model, &cases, &split.test, &device)?;
        let report = report_json(&test, model.threshold, cfg.seed);
        let dir = models_dir.join(name);
        model_dir::save_model(
            &dir,
            &model,
            serde_json::json!({"cohort": cohort_dir, "role": name, "train_config": c}),
        )?;
        write_predictions(&dir.join("predictions.csv"), &test, model.threshold)?;
        eprintln!(
            "  {name:<13} test AUC {:.3}  (best epoch {}, validation AUC {})",
            report["auc"].as_f64().unwrap_or(f64::NAN),
            model.best_epoch,
            model
                .best_val_auc
                .map(|v| format!("{v:.3}"))
                .unwrap_or_else(|| "n/a".into())
        );
        models.push(ModelResult {
            name,
            model,
            test,
            report,
        });
    }

    let mut loso = BTreeMap::new();
    if opts.loso {
        for (site, s) in leave_one_site_out(&cases, 0.2, cfg.seed) {
            let trained = train_one(
                &cases,
                &s,
                ModalitySet::ALL,
                cfg,
                &device,
                "leave-one-site-out",
            );
            let m = match trained {
                Ok(m) => m,
                Err(e) => {
                    eprintln!("  site {site} held out: not trained: {e:#}");
                    loso.insert(
                        site,
                        serde_json::json!({"auc": null, "undefined": format!("{e:#}")}),
                    );
                    continue;
                }
            };
            let p = predict(&m, &cases, &s.test, &device)?;
            let r = report_json(&p, m.threshold, cfg.seed);
            eprintln!(
                "  site {site} held out: AUC {:.3} on {} patients",
                r["auc"].as_f64().unwrap_or(f64::NAN),
                s.test.len()
            );
            loso.insert(site, r);
        }
    }

    // Explanations of the fused model on held-out cases with an image and a lesion mask.
    let fused = &models[0].model;
    let candidates: Vec<&PreparedCase> = split
        .test
        .iter()
        .map(|&i| &cases[i])
        .filter(|c| c.image.is_some())
        .take(opts.explain_cases)
        .collect();
    let bar = progress::bar(candidates.len() as u64, "explaining");
    let mut explained = Vec::new();
    for case in candidates {
        if let Some(e) = explain_case(fused, case, opts, &device)
            .with_context(|| format!("explaining case {}", case.id))?
        {
            explained.push(e);
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let heat_dir = out.join("explanations");
    for e in explained.iter().take(3) {
        let dir = heat_dir.join(&e.case_id);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        for (method, vol, _) in &e.heatmaps {
            let path = dir.join(format!("{method}.nii.gz"));
            oncolens_nifti::write_volume(&path, vol)
                .with_context(|| format!("writing {}", path.display()))?;
        }
    }
    let mut attribution = serde_json::Map::new();
    for method in ["integrated-gradients", "grad-cam"] {
        let shares: Vec<f64> = explained
            .iter()
            .flat_map(|e| e.heatmaps.iter().filter(|h| h.0 == method).map(|h| h.2))
            .collect();
        if !shares.is_empty() {
            attribution.insert(
                method.to_owned(),
                serde_json::json!(shares.iter().sum::<f64>() / shares.len() as f64),
            );
        }
    }
    let lesion_fraction: Vec<f64> = explained
        .iter()
        .map(|e| {
            let lesion = e.lesion.data().iter().filter(|l| **l != 0).count() as f64;
            let fov = fused.preprocessor.image_input;
            let crop_mm3 = match fov {
                ImageInput::LesionCrop(c) => c.fov_mm().powi(3),
                ImageInput::Whole { .. } => f64::NAN,
            };
            lesion * e.lesion.geometry().voxel_volume_mm3() / crop_mm3
        })
        .collect();

    // Mean gate weight per modality over held-out patients.
    let test_refs: Vec<&PreparedCase> = split.test.iter().map(|&i| &cases[i]).collect();
    let gates = fused.gates(&test_refs, &device)?.map(|g| {
        oncolens_nn::MODALITIES
            .iter()
            .enumerate()
            .map(|(k, name)| {
                let v = g.iter().map(|r| r[k]).sum::<f64>() / g.len().max(1) as f64;
                ((*name).to_owned(), v)
            })
            .collect::<BTreeMap<String, f64>>()
    });

    let mut test = serde_json::Map::new();
    for m in &models {
        test.insert(m.name.to_owned(), m.report.clone());
    }
    test.extend(skipped);
    let metrics = serde_json::json!({
        "cohort": cohort_dir,
        "split": {"train": split.train.len(), "val": split.val.len(), "test": split.test.len()},
        "test": test,
        "per_site": per_site(&models[0].test, models[0].model.threshold, cfg.seed),
        "leave_one_site_out": loso,
        "attribution_in_lesion": attribution,
        "attribution_in_lesion_uniform_baseline": mean(&lesion_fraction),
        "explained_cases": explained.iter().map(|e| serde_json::json!({
            "case_id": e.case_id,
            "probability": e.probability,
            "label": e.label,
            "share_in_lesion": e.heatmaps.iter().map(|h| (h.0, h.2)).collect::<BTreeMap<_, _>>(),
            "ig_convergence_delta": e.ig_delta,
        })).collect::<Vec<_>>(),
        "modality_attention": gates,
        "train_config": cfg,
    });
    Ok(LearnOutcome {
        cases,
        split,
        models,
        loso,
        explained,
        metrics,
    })
}

fn mean(v: &[f64]) -> Option<f64> {
    let v: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

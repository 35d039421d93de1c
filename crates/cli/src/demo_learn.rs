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

use crate::learn::{LateFusion, predict, train_late_fusion, train_one, write_predictions};
use crate::progress;

/// Settings of the learning stage.
#[derive(Debug, Clone)]
pub struct LearnOptions {
    pub config: TrainConfig,
    /// Held-out cases explained (heatmaps and share in lesion); the first three are drawn.
    pub explain_cases: usize,
    /// Integration steps of Integrated Gradients.
    pub ig_steps: usize,
    /// Also train the gated-attention network end to end, for comparison with late fusion.
    pub end_to_end: bool,
    /// Run leave-one-site-out.
    pub loso: bool,
    /// Simulated patients of the reference that reads the rendered CT; 0 skips it.
    pub reading_reference_patients: usize,
    /// The cohort's generator settings (its sites' scanner grids render that reference's CT).
    pub cohort_config: oncolens_synth::SynthConfig,
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
    /// Faithfulness of each heatmap, in `heatmaps` order.
    pub faithfulness: Vec<Faith>,
    pub centre_voxel: [usize; 3],
    pub ig_delta: Option<f64>,
    /// The image's radiomic path: (feature, raw value, exact Shapley value of the logit).
    pub lesion_features: Vec<(&'static str, f64, f64)>,
}

/// Faithfulness of one explanation: deletion and insertion AUC, and the rank correlation with
/// the same method on a weight-randomised model.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Faith {
    pub deletion_auc: f64,
    pub insertion_auc: f64,
    pub randomization_rank_corr: f64,
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

/// Column sums of per-patient `|φ|` rows.
fn column_totals(rows: &[[f64; 4]]) -> [f64; 4] {
    rows.iter().fold([0.0; 4], |mut t, r| {
        t.iter_mut().zip(r).for_each(|(a, b)| *a += b);
        t
    })
}

/// Shares of the totals of `|φ|`, in [`oncolens_nn::MODALITIES`] order.
fn shares(total: [f64; 4]) -> BTreeMap<&'static str, f64> {
    let sum: f64 = total.iter().sum();
    oncolens_nn::MODALITIES
        .iter()
        .zip(total)
        .map(|(n, t)| (*n, if sum > 0.0 { t / sum } else { 0.0 }))
        .collect()
}

/// Each counted patient's `|φ_m|`, `φ` the exact modality Shapley values of the patient's fused
/// logit, a coalition scored as the model scores a patient who has only those modalities (its
/// weights for that pattern; see [`oncolens_train::stack::PatternFit`]). Computed from the
/// standardised member logits and the fit, which is what the assembled model applies (tested
/// in oncolens-nn). With `complete_only`, only patients with all four modalities count: the
/// population the generator's reference shares ([`oncolens_synth::oracle`]) describe. Rows, not
/// totals, so that folds can be pooled and patients resampled before the shares
/// `Σ|φ_m| / Σ|φ|` are taken ([`shares`] of [`column_totals`]).
fn modality_abs_rows(
    late: &LateFusion,
    cases: &[&PreparedCase],
    complete_only: bool,
    device: &oncolens_nn::Device,
) -> Result<Vec<[f64; 4]>> {
    let prep = &late.fused.preprocessor;
    let present: Vec<[bool; 4]> = cases.iter().map(|c| prep.sample(c).present()).collect();
    let counted: Vec<bool> = present
        .iter()
        .map(|p| !complete_only || p.iter().all(|&x| x))
        .collect();
    // Standardised member logits `(logit - centre) / scale`, as the stacker sees them.
    let mut z = vec![[0.0f64; 4]; cases.len()];
    let mut has = vec![0usize; cases.len()];
    for (name, member) in &late.members {
        let Some(m) = oncolens_nn::MODALITIES.iter().position(|n| n == name) else {
            continue;
        };
        let (centre, scale) = (late.fit.member_centres[m], late.fit.member_scales[m]);
        for (i, logit) in member.logits(cases, device)?.into_iter().enumerate() {
            if present[i][m] {
                z[i][m] = (logit - centre) / scale;
                has[i] |= 1 << m;
            }
        }
    }
    let mut rows = Vec::new();
    for i in (0..cases.len()).filter(|&i| counted[i]) {
        // A coalition is scored as the model scores a patient with those modalities only.
        let phi = oncolens_shapley::shapley_from_value_fn(4, |coalition| {
            let bits: usize = (0..4).filter(|&m| coalition[m]).map(|m| 1 << m).sum();
            late.fit.fused_logit(&z[i], bits & has[i])
        })?;
        rows.push(std::array::from_fn(|m| phi.values[m].abs()));
    }
    Ok(rows)
}

/// Bootstrap resamples behind the share intervals.
const SHARE_RESAMPLES: usize = 2000;

/// The uncertainty of complete-case shares over the patients they were measured on
/// (`rows`: each patient's `|φ|`): a 95% percentile interval per share and, for each two
/// modalities next to each other in the `reference` order, the interval of the model's share
/// difference (higher in the reference minus lower) and how often a resample puts them in
/// the reference's order. It is the spread over the patients explained, with the model held
/// fixed; a model trained on other patients of the same cohort would add its own spread.
fn share_uncertainty(
    rows: &[[f64; 4]],
    reference: &[&'static str],
    reference_shares: Option<&BTreeMap<&str, f64>>,
    seed: u64,
) -> serde_json::Value {
    let table: Vec<Vec<f64>> = rows.iter().map(|r| r.to_vec()).collect();
    let Ok(b) = oncolens_metrics::bootstrap_share_intervals(&table, SHARE_RESAMPLES, 0.95, seed)
    else {
        return serde_json::Value::Null;
    };
    let index = |name: &str| oncolens_nn::MODALITIES.iter().position(|m| *m == name);
    let ci: BTreeMap<&str, [f64; 2]> = oncolens_nn::MODALITIES
        .iter()
        .zip(&b.share_ci)
        .map(|(m, (lo, hi))| (*m, [*lo, *hi]))
        .collect();
    let pairs: Vec<serde_json::Value> = reference
        .windows(2)
        .filter_map(|w| {
            let (a, c) = (index(w[0])?, index(w[1])?);
            let (lo, hi) = b.difference_ci[a][c];
            let reference_difference =
                reference_shares.and_then(|r| Some(r.get(w[0])? - r.get(w[1])?));
            Some(serde_json::json!({
                "higher": w[0],
                "lower": w[1],
                "model_difference": b.shares[a] - b.shares[c],
                "ci95": [lo, hi],
                "reference_difference": reference_difference,
                "resamples_in_reference_order": b.order_frequency[a][c],
            }))
        })
        .collect();
    serde_json::json!({
        "resamples": SHARE_RESAMPLES,
        "share_ci95": ci,
        "reference_neighbours": pairs,
    })
}

/// A model's ranking of the modalities by `shares`, and Spearman's rank correlation with
/// `reference` (modality names from the largest share to the smallest).
fn ranking_against(
    shares: &BTreeMap<&'static str, f64>,
    reference: &[&'static str],
) -> (Vec<&'static str>, f64) {
    let mut names: Vec<&'static str> = shares.keys().copied().collect();
    names.sort_by(|a, b| shares[b].total_cmp(&shares[a]));
    let position = |order: &[&str], name: &str| order.iter().position(|n| *n == name);
    let n = reference.len() as f64;
    let d2: f64 = reference
        .iter()
        .filter_map(|name| {
            let a = position(&names, name)?;
            let b = position(reference, name)?;
            Some((a as f64 - b as f64).powi(2))
        })
        .sum();
    (names, 1.0 - 6.0 * d2 / (n * (n * n - 1.0)))
}

/// Simulated patients behind the generator's reference shares (stable to about 0.005).
const ORACLE_PATIENTS: usize = 40_000;

/// A ranking written in metrics.json (modality names, largest share first) read back.
fn ranking_from_json(v: &serde_json::Value) -> Vec<&'static str> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| {
                    oncolens_nn::MODALITIES
                        .iter()
                        .copied()
                        .find(|m| Some(*m) == v.as_str())
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Shares written in metrics.json (`{modality: share}`) read back.
fn shares_from_json(v: &serde_json::Value) -> BTreeMap<&'static str, f64> {
    oncolens_nn::MODALITIES
        .iter()
        .filter_map(|m| Some((*m, v.get(*m)?.as_f64()?)))
        .collect()
}

/// Shares of a reference by modality name, and its ranking.
fn reference_shares(
    oracle: &oncolens_synth::oracle::OracleShares,
) -> (BTreeMap<&'static str, f64>, Vec<&'static str>) {
    (
        oracle
            .modalities
            .iter()
            .copied()
            .zip(oracle.share)
            .collect(),
        oracle.ranking(),
    )
}

/// The second reference: the Bayes-optimal classifier whose image is the lesion's rendered CT
/// read through the four lesion features the model's radiomic path takes
/// ([`oncolens_synth::oracle::modality_shares_reading_ct`]), and the model's shares against it.
/// `patients` simulated (each lesion rendered and measured, a few ms per patient; 6000 give
/// shares stable to about 0.01); `null` for 0.
fn reading_reference_check(
    complete_rows: &[[f64; 4]],
    patients: usize,
    config: &oncolens_synth::SynthConfig,
    seed: u64,
) -> serde_json::Value {
    if patients == 0 {
        return serde_json::Value::Null;
    }
    let oracle =
        oncolens_synth::oracle::modality_shares_reading_ct(patients, seed, config, &|ct, mask| {
            oncolens_train::cases::lesion_radiomics(ct, mask)
        });
    let (reference, rank) = reference_shares(&oracle);
    let model = shares(column_totals(complete_rows));
    let (model_rank, spearman) = ranking_against(&model, &rank);
    serde_json::json!({
        "shares": reference,
        "ranking": rank,
        "patients": oracle.patients,
        "r2_alone": oracle.modalities.iter().copied().zip(oracle.r2_alone).collect::<BTreeMap<_, _>>(),
        "mean_abs_shapley": oracle.modalities.iter().copied().zip(oracle.mean_abs_shapley).collect::<BTreeMap<_, _>>(),
        "model_ranking_agrees": model_rank == rank,
        "spearman": spearman,
        "model_uncertainty": share_uncertainty(complete_rows, &rank, Some(&reference), seed),
    })
}

/// The model's modality shares (complete cases) next to the generator's own
/// ([`oncolens_synth::oracle`]: the same explanation applied to the Bayes-optimal classifier),
/// both rankings, whether they agree, and Spearman's rank correlation of the shares.
fn modality_ranking_check(
    complete_rows: &[[f64; 4]],
    patients: usize,
    reading: (usize, &oncolens_synth::SynthConfig),
    seed: u64,
) -> serde_json::Value {
    let model = &shares(column_totals(complete_rows));
    let oracle = oncolens_synth::oracle::modality_shares(patients, seed);
    let (generator, generator_rank) = reference_shares(&oracle);
    let (model_rank, spearman) = ranking_against(model, &generator_rank);
    serde_json::json!({
        "model_complete_cases": model,
        "generator": generator,
        "generator_r2_alone": oracle.modalities.iter().copied().zip(oracle.r2_alone).collect::<BTreeMap<_, _>>(),
        "generator_logit_scale": oracle.modalities.iter().copied().zip(oracle.share_expected_logit).collect::<BTreeMap<_, _>>(),
        "generator_patients": oracle.patients,
        "model_ranking": model_rank,
        "generator_ranking": generator_rank,
        "rankings_agree": model_rank == generator_rank,
        "spearman": spearman,
        "model_complete_cases_patients": complete_rows.len(),
        // Mean |φ| in log-odds units: whether a share moved because its own modality's
        // attributions are off or because another's are.
        "model_complete_cases_mean_abs_shapley": oncolens_nn::MODALITIES
            .iter()
            .zip(column_totals(complete_rows))
            .map(|(m, t)| (*m, t / complete_rows.len().max(1) as f64))
            .collect::<BTreeMap<_, _>>(),
        "generator_mean_abs_shapley": oracle.modalities.iter().copied().zip(oracle.mean_abs_shapley).collect::<BTreeMap<_, _>>(),
        "model_complete_cases_uncertainty":
            share_uncertainty(complete_rows, &generator_rank, Some(&generator), seed),
        "generator_reading_ct": reading_reference_check(complete_rows, reading.0, reading.1, seed),
    })
}

/// AUC of the fused model minus that of each single-modality member on the same patients,
/// with a paired bootstrap 95% interval (patients resampled once for both models), so "the
/// fused model beats modality m" is a statement with its uncertainty, not two overlapping
/// intervals. `{}` when there is no fused model or no single-modality member.
fn fused_versus_members<'a>(
    predictions: impl Iterator<Item = (&'a str, &'a Predictions)>,
    seed: u64,
) -> serde_json::Value {
    let all: Vec<(&str, &Predictions)> = predictions.collect();
    let Some((_, fused)) = all.iter().find(|(n, _)| *n == "fused") else {
        return serde_json::json!({});
    };
    let mut out = serde_json::Map::new();
    for (name, p) in &all {
        if !oncolens_nn::MODALITIES.contains(name) || p.case_ids != fused.case_ids {
            continue;
        }
        let auc = |s: &[f64]| oncolens_metrics::roc_auc(s, &fused.labels).ok();
        let value = match (auc(&fused.logits), auc(&p.logits)) {
            (Some(a), Some(b)) => {
                let ci = oncolens_metrics::bootstrap_auc_difference_ci(
                    &fused.logits,
                    &p.logits,
                    &fused.labels,
                    2000,
                    0.95,
                    seed,
                )
                .ok();
                serde_json::json!({
                    "auc_difference": a - b,
                    "ci95": ci.map(|(lo, hi)| [lo, hi]),
                    "patients": fused.labels.len(),
                })
            }
            _ => serde_json::json!({"auc_difference": null, "undefined": "one class only"}),
        };
        out.insert((*name).to_owned(), value);
    }
    serde_json::Value::Object(out)
}

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
    let baseline = oncolens_train::Preprocessor::WINDOW_BOTTOM;
    let mut heatmaps = Vec::new();
    let mut faithfulness = Vec::new();
    for a in [&ig, &cam] {
        let on_image = oncolens_explain::to_image_grid(a, &crop.grid, image.geometry())?;
        let (share, _) = oncolens_explain::positive_share_in_mask(&on_image, &lesion)?;
        heatmaps.push((a.method, on_image, share));
        let f = oncolens_explain::deletion_insertion(
            &fused.model,
            &fused.config,
            &sample,
            side,
            &a.values,
            20,
            baseline,
            device,
        )?;
        let is_ig = a.method == "integrated-gradients";
        let rank = oncolens_explain::randomization_rank_corr(
            &fused.model,
            &fused.config,
            17,
            device,
            |m| {
                if is_ig {
                    integrated_gradients(
                        m,
                        &fused.config,
                        &sample,
                        side,
                        baseline,
                        opts.ig_steps,
                        IgMethod::GaussLegendre,
                        device,
                    )
                } else {
                    grad_cam(m, &fused.config, &sample, side, Some(1), device)
                }
            },
        )?;
        faithfulness.push(Faith {
            deletion_auc: f.deletion_auc,
            insertion_auc: f.insertion_auc,
            randomization_rank_corr: rank,
        });
    }
    let probability = oncolens_metrics::apply_temperature(&[ig.logit], fused.temperature)?[0];
    let lesion_features = match (
        crate::explain::lesion_feature_shapley(fused, &sample, device)?,
        &case.lesion_radiomics,
    ) {
        (Some(phi), Some(raw)) => oncolens_train::cases::LESION_FEATURES
            .iter()
            .zip(raw)
            .zip(phi)
            .map(|((name, v), p)| (*name, *v, p))
            .collect(),
        _ => Vec::new(),
    };
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
        faithfulness,
        ig_delta: ig.convergence_delta,
        lesion_features,
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

    let mut models = Vec::new();
    let mut skipped = serde_json::Map::new();
    // The fused model: one model per modality, each stopped at its own best epoch, stacked on
    // the validation patients (see oncolens_train::stack for why not end to end).
    let late = train_late_fusion(&cases, &split, ModalitySet::ALL, cfg, &device, "training")?;
    for (name, why) in &late.skipped {
        eprintln!("  {name:<13} not trained: {why}");
        skipped.insert(
            (*name).to_owned(),
            serde_json::json!({"auc": null, "undefined": why}),
        );
    }
    let test_refs: Vec<&PreparedCase> = split.test.iter().map(|&i| &cases[i]).collect();
    let contributions = shares(column_totals(&modality_abs_rows(
        &late, &test_refs, false, &device,
    )?));
    let complete_rows = modality_abs_rows(&late, &test_refs, true, &device)?;
    let complete = shares(column_totals(&complete_rows));
    let ranking = modality_ranking_check(
        &complete_rows,
        ORACLE_PATIENTS,
        (opts.reading_reference_patients, &opts.cohort_config),
        cfg.seed,
    );
    let fit = late.fit.clone();
    let out_of_fold_auc: BTreeMap<&str, f64> = late.out_of_fold_auc.iter().copied().collect();
    let mut trained: Vec<(&'static str, TrainedModel, TrainConfig)> = vec![(
        "fused",
        late.fused,
        TrainConfig {
            fusion: FusionKind::Additive,
            ..cfg.clone()
        },
    )];
    for (name, m) in late.members {
        trained.push((name, m, cfg.clone()));
    }
    if opts.end_to_end {
        let c = TrainConfig {
            fusion: FusionKind::GatedAttention,
            ..cfg.clone()
        };
        let m = train_one(
            &cases,
            &split,
            ModalitySet::ALL,
            &c,
            &device,
            "training end to end",
        )?;
        trained.push(("fused_end_to_end", m, c));
    }
    for (name, model, c) in trained {
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
            "  {name:<16} test AUC {:.3}  (validation AUC {})",
            report["auc"].as_f64().unwrap_or(f64::NAN),
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

    // Leave one site out, with the same late fusion; the held-out sites' predictions pooled
    // give every patient an out-of-site prediction from each model, a comparison on the whole
    // cohort rather than on one test split.
    let mut loso = BTreeMap::new();
    let mut pooled: BTreeMap<&'static str, Predictions> = BTreeMap::new();
    // Modality |φ| of every complete patient, each from the model that never saw its site.
    let mut out_of_site_rows: Vec<[f64; 4]> = Vec::new();
    if opts.loso {
        for (site, s) in leave_one_site_out(&cases, 0.2, cfg.seed) {
            let l = match train_late_fusion(
                &cases,
                &s,
                ModalitySet::ALL,
                cfg,
                &device,
                "leave-one-site-out",
            ) {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("  site {site} held out: not trained: {e:#}");
                    loso.insert(
                        site,
                        serde_json::json!({"auc": null, "undefined": format!("{e:#}")}),
                    );
                    continue;
                }
            };
            let held_out: Vec<&PreparedCase> = s.test.iter().map(|&i| &cases[i]).collect();
            out_of_site_rows.extend(modality_abs_rows(&l, &held_out, true, &device)?);
            let p = predict(&l.fused, &cases, &s.test, &device)?;
            let r = report_json(&p, l.fused.threshold, cfg.seed);
            eprintln!(
                "  site {site} held out: AUC {:.3} on {} patients",
                r["auc"].as_f64().unwrap_or(f64::NAN),
                s.test.len()
            );
            pooled.entry("fused").or_default().extend(p);
            for (name, m) in &l.members {
                let p = predict(m, &cases, &s.test, &device)?;
                pooled.entry(name).or_default().extend(p);
            }
            loso.insert(site, r);
        }
    }
    // The same ranking check on every complete patient of the cohort (out of site): about
    // four times the test split's complete cases, so the shares are estimated more tightly.
    let mut ranking = ranking;
    if !out_of_site_rows.is_empty()
        && let Some(obj) = ranking.as_object_mut()
    {
        let reference = ranking_from_json(&obj["generator_ranking"]);
        let pooled_shares = shares(column_totals(&out_of_site_rows));
        let (rank, rho) = ranking_against(&pooled_shares, &reference);
        let generator = shares_from_json(&obj["generator"]);
        let uncertainty =
            share_uncertainty(&out_of_site_rows, &reference, Some(&generator), cfg.seed);
        let reading = obj["generator_reading_ct"].clone();
        let reading_rank = ranking_from_json(&reading["ranking"]);
        let reading_shares = shares_from_json(&reading["shares"]);
        let (_, reading_rho) = ranking_against(&pooled_shares, &reading_rank);
        let reading_check = if reading.is_null() {
            serde_json::Value::Null
        } else {
            serde_json::json!({
                "rankings_agree": rank == reading_rank,
                "spearman": reading_rho,
                "uncertainty": share_uncertainty(
                    &out_of_site_rows,
                    &reading_rank,
                    Some(&reading_shares),
                    cfg.seed,
                ),
            })
        };
        obj.insert(
            "model_out_of_site_complete_cases".into(),
            serde_json::json!({
                "shares": pooled_shares,
                "patients": out_of_site_rows.len(),
                "ranking": rank,
                "rankings_agree": rank == reference,
                "spearman": rho,
                "uncertainty": uncertainty,
                "against_reading_ct": reading_check,
            }),
        );
    }
    let loso_pooled: BTreeMap<&str, serde_json::Value> = pooled
        .iter()
        .map(|(name, p)| (*name, report_json(p, 0.5, cfg.seed)))
        .collect();

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
    let mut faith_summary = serde_json::Map::new();
    for (k, method) in ["integrated-gradients", "grad-cam"].iter().enumerate() {
        let fs: Vec<Faith> = explained
            .iter()
            .filter_map(|e| e.faithfulness.get(k).copied())
            .collect();
        if !fs.is_empty() {
            let avg = |f: &dyn Fn(&Faith) -> f64| fs.iter().map(f).sum::<f64>() / fs.len() as f64;
            faith_summary.insert(
                (*method).to_owned(),
                serde_json::json!({
                    "deletion_auc": avg(&|f| f.deletion_auc),
                    "insertion_auc": avg(&|f| f.insertion_auc),
                    "randomization_rank_corr": avg(&|f| f.randomization_rank_corr),
                    "cases": fs.len(),
                }),
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

    // Mean |Shapley value| of each lesion radiomic feature over the explained cases: which one
    // the image's radiomic path leans on.
    let mut lesion_mean_abs: BTreeMap<&str, f64> = BTreeMap::new();
    let with_features: Vec<&Explained> = explained
        .iter()
        .filter(|e| !e.lesion_features.is_empty())
        .collect();
    for e in &with_features {
        for (name, _, phi) in &e.lesion_features {
            *lesion_mean_abs.entry(name).or_default() += phi.abs() / with_features.len() as f64;
        }
    }

    let fused_vs_single = serde_json::json!({
        "test": fused_versus_members(models.iter().map(|m| (m.name, &m.test)), cfg.seed),
        "leave_one_site_out_pooled": fused_versus_members(pooled.iter().map(|(n, p)| (*n, p)), cfg.seed),
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
        "leave_one_site_out_pooled": loso_pooled,
        "fused_vs_single": fused_vs_single,
        "late_fusion": {
            "weights": oncolens_nn::MODALITIES.iter().zip(fit.weights).map(|(n, w)| (*n, w)).collect::<BTreeMap<_, _>>(),
            "bias": fit.bias,
            "l2": fit.l2,
            "fitted_on_patients": fit.fitted_on,
            "patterns": fit.patterns.iter().map(|f| serde_json::json!({
                "modalities": f.modalities.join("+"),
                "weights": f.modalities.iter().map(|n| {
                    let m = oncolens_nn::MODALITIES.iter().position(|k| k == n).unwrap_or(0);
                    (n.clone(), f.weights[m])
                }).collect::<BTreeMap<_, _>>(),
                "bias": f.bias,
                "fitted_on_patients": f.fitted_on,
            })).collect::<Vec<_>>(),
            "member_out_of_fold_auc": out_of_fold_auc,
            "member_centres": oncolens_nn::MODALITIES.iter().zip(fit.member_centres).map(|(n, t)| (*n, t)).collect::<BTreeMap<_, _>>(),
            "member_scales": oncolens_nn::MODALITIES.iter().zip(fit.member_scales).map(|(n, t)| (*n, t)).collect::<BTreeMap<_, _>>(),
            "fitted_on": if cfg.stack_folds >= 2 && fit.fitted_on > split.val.len() {
                format!("out-of-fold member logits of the training and validation patients ({} cross-fitting folds)", cfg.stack_folds)
            } else {
                "member logits on the validation patients".to_owned()
            },
        },
        "attribution_in_lesion": attribution,
        "faithfulness": faith_summary,
        "attribution_in_lesion_uniform_baseline": mean(&lesion_fraction),
        "explained_cases": explained.iter().map(|e| serde_json::json!({
            "case_id": e.case_id,
            "probability": e.probability,
            "label": e.label,
            "share_in_lesion": e.heatmaps.iter().map(|h| (h.0, h.2)).collect::<BTreeMap<_, _>>(),
            "ig_convergence_delta": e.ig_delta,
            "faithfulness": e.heatmaps.iter().zip(&e.faithfulness).map(|(h, f)| (h.0, *f)).collect::<BTreeMap<_, _>>(),
            "lesion_features": e.lesion_features.iter().map(|(n, v, p)| (*n, serde_json::json!({"value": v, "shapley_logit": p}))).collect::<BTreeMap<_, _>>(),
        })).collect::<Vec<_>>(),
        "modality_contribution": contributions,
        "lesion_feature_mean_abs_shapley": lesion_mean_abs,
        "modality_contribution_complete_cases": complete,
        "modality_ranking": ranking,
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

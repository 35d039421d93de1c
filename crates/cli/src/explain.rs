//! `oncolens explain`: one case, one attribution method, with its faithfulness measured and
//! each modality's Shapley share of the prediction.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use oncolens_explain::{Method, MethodOptions, attribute};
use oncolens_nn::batch::Sample;
use oncolens_nn::{Batch, MODALITIES};
use oncolens_report::overlay::{Colormap, OverlayOptions, render_three_views};
use oncolens_train::cases::LESION_FEATURES;
use oncolens_train::model_dir;
use serde_json::json;

#[derive(clap::Args)]
pub struct ExplainArgs {
    /// A model folder (from `train`, `demo` or `federate`).
    #[arg(long)]
    pub model: PathBuf,
    /// A case folder of a cohort.
    #[arg(long)]
    pub case: PathBuf,
    /// saliency, smoothgrad, integrated-gradients, grad-cam, grad-cam-pp, occlusion, rise
    /// (or input-x-gradient).
    #[arg(long, default_value = "integrated-gradients")]
    pub method: String,
    /// Output folder: explanation.json, heatmap.nii.gz (on the case's image grid),
    /// heatmap.png, explanation.html.
    #[arg(long)]
    pub out: PathBuf,
    /// Integrated Gradients path points.
    #[arg(long, default_value_t = 50)]
    pub ig_steps: usize,
    /// Steps of the deletion and insertion curves.
    #[arg(long, default_value_t = 20)]
    pub faithfulness_steps: usize,
    /// Seed of SmoothGrad noise, RISE masks and the randomised model.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// The logit of `sample` with only the modalities in `keep` (the model's missing-modality
/// path); `None` when the model cannot predict from that coalition.
fn coalition_logit(
    model: &oncolens_train::TrainedModel,
    sample: &Sample,
    keep: [bool; 4],
    device: &oncolens_nn::Device,
) -> Option<f64> {
    if !keep.iter().any(|k| *k) {
        return None;
    }
    let s = sample.with_only(keep);
    let side = model.preprocessor.image_input.side();
    let batch = Batch::collate(&[&s], &model.config, side, device).ok()?;
    let v: Vec<f32> = model
        .model
        .forward(&batch)
        .logits
        .into_data()
        .try_to_vec::<f32>()
        .ok()?;
    v.first().map(|x| f64::from(*x)).filter(|x| x.is_finite())
}

/// Exact Shapley values of the logit over the lesion's radiomic features (a feature left out is
/// set to its training mean, 0 after standardisation), in [`LESION_FEATURES`] order; `None` when
/// the model or the case has none. The voxel heatmap explains the convolutional path of the image
/// encoder; these explain its radiomic path, so the two together cover the image's evidence.
/// Table rows (feature, value for a reader, Shapley value) of the lesion features; the log
/// volume is shown as millilitres.
pub(crate) fn lesion_feature_rows(features: &[(&str, f64, f64)]) -> Vec<Vec<String>> {
    features
        .iter()
        .map(|(name, v, phi)| {
            let shown = if *name == "log_morph_volume" {
                format!("{:.1} ml", v.exp() / 1000.0)
            } else {
                format!("{v:.3}")
            };
            vec![(*name).to_owned(), shown, format!("{phi:+.3}")]
        })
        .collect()
}

pub(crate) fn lesion_feature_shapley(
    model: &oncolens_train::TrainedModel,
    sample: &Sample,
    device: &oncolens_nn::Device,
) -> Result<Option<Vec<f64>>> {
    let Some(features) = sample.lesion_features.as_ref() else {
        return Ok(None);
    };
    if model.config.image.lesion_features != features.len() || sample.image.is_none() {
        return Ok(None);
    }
    let side = model.preprocessor.image_input.side();
    let phi = oncolens_shapley::shapley_from_value_fn(features.len(), |coalition| {
        let mut s = sample.clone();
        s.lesion_features = Some(
            features
                .iter()
                .zip(coalition)
                .map(|(v, keep)| if *keep { *v } else { 0.0 })
                .collect(),
        );
        Batch::collate(&[&s], &model.config, side, device)
            .ok()
            .and_then(|b| {
                model
                    .model
                    .forward(&b)
                    .logits
                    .into_data()
                    .try_to_vec::<f32>()
                    .ok()
            })
            .and_then(|v| v.first().map(|x| f64::from(*x)))
            .unwrap_or(f64::NAN)
    })?;
    Ok(Some(phi.values))
}

pub fn run(args: &ExplainArgs) -> Result<()> {
    let method: Method = args
        .method
        .parse()
        .map_err(|e| anyhow::anyhow!("--method {}: {e}", args.method))?;
    let device = oncolens_nn::default_device();
    let model = model_dir::load_model(&args.model, &device)
        .with_context(|| format!("loading model {}", args.model.display()))?;
    let entry = oncolens_io::case_entry(&args.case)
        .with_context(|| format!("{}: not a case folder", args.case.display()))?;
    let table = match oncolens_io::omics_table_for_case(&args.case) {
        Some(p) => Some(oncolens_records::omics::read_expression_table(&p)?),
        None => None,
    };
    let case =
        oncolens_train::prepare_case(&entry, table.as_ref(), &model.preprocessor.image_input)
            .with_context(|| format!("reading case {}", args.case.display()))?;
    let sample = model.preprocessor.sample(&case);
    if model.config.modalities.image && sample.image.is_none() {
        bail!("{}: the case has no image to explain", args.case.display());
    }
    if !model.config.modalities.image {
        bail!(
            "{}: the model has no image input; use `explain-global` or the modality shares",
            args.model.display()
        );
    }
    let side = model.preprocessor.image_input.side();
    let baseline = oncolens_train::Preprocessor::WINDOW_BOTTOM;
    let options = MethodOptions {
        baseline,
        ig_steps: args.ig_steps.max(1),
        seed: args.seed,
        ..MethodOptions::default()
    };
    eprintln!("{method} on {} ...", case.id);
    let attribution = attribute(
        method,
        &options,
        &model.model,
        &model.config,
        &sample,
        side,
        &device,
    )?;
    let logit = attribution.logit;
    let probability = oncolens_metrics::apply_temperature(&[logit], model.temperature)?[0];

    eprintln!("faithfulness: deletion/insertion and the randomised-model check ...");
    let f = oncolens_explain::deletion_insertion(
        &model.model,
        &model.config,
        &sample,
        side,
        &attribution.values,
        args.faithfulness_steps.max(2),
        baseline,
        &device,
    )?;
    let rank_corr = oncolens_explain::randomization_rank_corr(
        &model.model,
        &model.config,
        args.seed.wrapping_add(1),
        &device,
        |m| attribute(method, &options, m, &model.config, &sample, side, &device),
    )?;

    // Modality shares: exact Shapley values of the logit over the modalities the case has,
    // a modality "absent" through the model's own missing-modality path. The empty coalition
    // (no input at all) is the logit 0, "no information".
    let present = sample.present();
    let usable: Vec<usize> = (0..4)
        .filter(|&m| present[m] && model.config.modalities.as_array()[m])
        .collect();
    let phi = oncolens_shapley::shapley_from_value_fn(usable.len(), |coalition| {
        let mut keep = [false; 4];
        for (k, &m) in usable.iter().enumerate() {
            keep[m] = coalition[k];
        }
        coalition_logit(&model, &sample, keep, &device).unwrap_or(0.0)
    })?;
    let shares = oncolens_shapley::shares(&phi.values);
    let mut modality_shares = serde_json::Map::new();
    let mut modality_shapley = serde_json::Map::new();
    for (k, &m) in usable.iter().enumerate() {
        modality_shares.insert(MODALITIES[m].into(), json!(shares[k]));
        modality_shapley.insert(MODALITIES[m].into(), json!(phi.values[k]));
    }

    let lesion_phi = lesion_feature_shapley(&model, &sample, &device)?;
    let lesion_rows: Vec<serde_json::Value> = match (&lesion_phi, &case.lesion_radiomics) {
        (Some(phi), Some(raw)) => LESION_FEATURES
            .iter()
            .zip(phi)
            .zip(raw)
            .zip(sample.lesion_features.iter().flatten())
            .map(|(((name, p), v), z)| {
                json!({"feature": name, "value": v, "standardised": z, "shapley_logit": p})
            })
            .collect(),
        _ => Vec::new(),
    };

    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let mut files = vec!["explanation.json".to_owned()];
    let mut share_in_lesion = None;
    let full = oncolens_io::load_case(&entry, None)
        .with_context(|| format!("reading case {}", args.case.display()))?;
    let mut html = oncolens_report::Report::new(format!("Explanation of {}", case.id));
    if let (Some(crop), Some(image)) = (&case.crop, &full.image) {
        let on_image = oncolens_explain::to_image_grid(&attribution, &crop.grid, image.geometry())?;
        let path = args.out.join("heatmap.nii.gz");
        oncolens_nifti::write_volume(&path, &on_image)
            .with_context(|| format!("writing {}", path.display()))?;
        files.push("heatmap.nii.gz".into());
        let centre = full
            .lesion_mask
            .as_ref()
            .and_then(oncolens_report::overlay::mask_centre)
            .unwrap_or_else(|| image.geometry().size.map(|v| v / 2));
        if let Some(lesion) = &full.lesion_mask {
            share_in_lesion = Some(oncolens_explain::positive_share_in_mask(&on_image, lesion)?.0);
        }
        let opts = OverlayOptions {
            window_center_hu: 50.0,
            window_width_hu: 400.0,
            heatmap: Some(&on_image),
            heat_alpha: 0.55,
            heat_colormap: match method {
                Method::IntegratedGradients | Method::InputXGradient | Method::Occlusion => {
                    Colormap::Diverging
                }
                _ => Colormap::Inferno,
            },
            contour: full.lesion_mask.as_ref(),
            ..OverlayOptions::default()
        };
        let picture = render_three_views(image, centre, &opts)?;
        let png = oncolens_report::overlay::to_png(&picture)?;
        oncolens_core::fs::write_atomic(&args.out.join("heatmap.png"), &png)
            .context("writing heatmap.png")?;
        files.push("heatmap.png".into());
        html.section(format!("{method} heatmap")).image(
            format!(
                "{}: axial | coronal | sagittal through the lesion, lesion contour drawn; \
                     predicted probability of malignancy {probability:.2}",
                case.id
            ),
            &picture,
        );
    }
    let faith = json!({
        "deletion_auc": f.deletion_auc,
        "insertion_auc": f.insertion_auc,
        "randomization_rank_corr": rank_corr,
        "deletion_curve": f.deletion_curve,
        "insertion_curve": f.insertion_curve,
        "steps": args.faithfulness_steps.max(2),
    });
    let out = json!({
        "case_id": case.id,
        "method": method.name(),
        "prediction": {
            "probability_malignant": probability,
            "logit": logit,
            "threshold": model.threshold,
            "predicted_malignant": probability >= model.threshold,
        },
        "faithfulness": faith,
        "modality_shares": modality_shares,
        "modality_shapley_logit": modality_shapley,
        "lesion_features": lesion_rows,
        "convergence_delta": attribution.convergence_delta,
        "share_in_lesion": share_in_lesion,
        "files": files,
        "notes": {
            "faithfulness": "deletion/insertion: model probability as the highest-attributed \
                crop voxels are replaced by the baseline (deletion; lower = more faithful) or \
                restored onto it (insertion; higher = more faithful), area under the curve over \
                the fraction changed. randomization_rank_corr: Spearman correlation of the \
                attribution with that of the same model with re-initialised weights (Adebayo et \
                al. 2018); near 0 means the explanation depends on what the model learned.",
            "modality_shares": "|phi_m| / sum |phi|, exact Shapley values of the logit over the \
                modalities present, a modality removed through the model's missing-modality path",
            "lesion_features": "the image modality's radiomic path: the lesion's log mesh volume \
                (ln mm^3), sphericity, and mean and standard deviation of its intensities (HU), \
                with exact Shapley values of the logit (a feature left out = its training \
                mean). The heatmap explains the convolutional path only; these features stay at \
                the patient's values when voxels are perturbed, as does the lesion mask.",
        },
    });
    html.section("Faithfulness and modality shares").table(
        &["measure", "value"],
        &[
            vec![
                "deletion AUC (lower is better)".to_owned(),
                format!("{:.3}", f.deletion_auc),
            ],
            vec![
                "insertion AUC (higher is better)".to_owned(),
                format!("{:.3}", f.insertion_auc),
            ],
            vec![
                "rank correlation with a randomised model (near 0 is better)".to_owned(),
                format!("{rank_corr:.3}"),
            ],
        ],
    );
    let share_rows: Vec<Vec<String>> = usable
        .iter()
        .enumerate()
        .map(|(k, &m)| {
            vec![
                MODALITIES[m].to_owned(),
                format!("{:.1}%", 100.0 * shares[k]),
                format!("{:+.3}", phi.values[k]),
            ]
        })
        .collect();
    html.section("Which modality drove the prediction")
        .table(&["modality", "share", "Shapley value (logit)"], &share_rows);
    if let (Some(phi), Some(raw)) = (&lesion_phi, &case.lesion_radiomics) {
        let features: Vec<(&str, f64, f64)> = LESION_FEATURES
            .iter()
            .zip(raw)
            .zip(phi)
            .map(|((name, v), p)| (*name, *v, *p))
            .collect();
        let rows = lesion_feature_rows(&features);
        html.section("Lesion radiomics (the image's radiomic path)")
            .paragraph(
                "The image encoder adds a linear term in four radiomic features of the \
                 segmented lesion to its convolutional path. Shapley values in logit units; a \
                 feature left out is set to its training mean. The heatmap above explains the \
                 convolutional path only.",
            )
            .table(&["feature", "value", "Shapley value (logit)"], &rows);
    }
    html.write(args.out.join("explanation.html"))?;
    oncolens_core::fs::write_atomic(
        &args.out.join("explanation.json"),
        &serde_json::to_vec_pretty(&out)?,
    )
    .context("writing explanation.json")?;
    println!(
        "{} ({method}): p = {probability:.3}; deletion AUC {:.3}, insertion AUC {:.3}, \
         randomisation rank corr {rank_corr:.3}; wrote {}",
        case.id,
        f.deletion_auc,
        f.insertion_auc,
        args.out.display()
    );
    Ok(())
}

//! `oncolens train` and `oncolens predict`: thin shells over `oncolens-train`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use oncolens_nn::{Device, FusionKind, ModalitySet, TabularKind};
use oncolens_train::cases::{ImageInput, PreparedCase};
use oncolens_train::evaluate::{Predictions, per_site, report_json};
use oncolens_train::split::{
    Split, carve_validation, holdout, kfold, leave_one_site_out, stratified_folds,
};
use oncolens_train::stack::StackOn;
use oncolens_train::{TrainConfig, TrainedModel, model_dir};
use oncolens_transforms::CropSpec;

use crate::progress;

#[derive(clap::Args, Clone)]
pub struct ModelArgs {
    /// Modalities to use, comma-separated: image, clinical, text, omics (default: all present).
    #[arg(long, default_value = "image,clinical,text,omics")]
    pub modalities: String,
    /// How modality embeddings are fused.
    #[arg(long, value_enum, default_value_t = FusionArg::Gated)]
    pub fusion: FusionArg,
    /// Form of the clinical and omics encoders: `linear` (a logistic regression on the
    /// standardised values, the default: it does not fit distractor columns on a hundred-odd
    /// patients) or `mlp` (a hidden ReLU layer, for non-linear effects).
    #[arg(long, value_enum, default_value_t = TabularArg::Linear)]
    pub tabular: TabularArg,
    /// Weight of the auxiliary loss that trains each modality's own head (multimodal models).
    #[arg(long, default_value_t = TrainConfig::default().aux_loss_weight)]
    pub aux_loss_weight: f64,
    /// What chooses the epoch whose weights are kept: validation AUC or validation loss.
    #[arg(long, value_enum, default_value_t = SelectArg::Auc)]
    pub select_on: SelectArg,
    /// Epochs without a better validation score before training stops.
    #[arg(long, default_value_t = TrainConfig::default().patience)]
    pub patience: usize,
    /// Maximum number of epochs (early stopping on validation AUC usually stops sooner).
    #[arg(long, default_value_t = 40)]
    pub epochs: usize,
    /// With `--fusion late`: cross-fitting folds for the stacking weights (each trains every
    /// single-modality member again); 0 fits them on the validation patients only.
    #[arg(long, default_value_t = TrainConfig::default().stack_folds)]
    pub stack_folds: usize,
    /// Random seed of initialisation, shuffling, augmentation and splits.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Edge of the lesion-centred image crop, in voxels.
    #[arg(long, default_value_t = 32)]
    pub crop_side: usize,
    /// Voxel size of the crop in mm (isotropic).
    #[arg(long, default_value_t = 3.0)]
    pub crop_spacing_mm: f64,
    /// Use the whole image resampled to SIDE^3 voxels instead of a lesion crop (MedMNIST).
    #[arg(long, value_name = "SIDE")]
    pub whole_image: Option<usize>,
    /// Labels at or above K are the positive class (for multi-class label columns, e.g. 2 for
    /// T3-T4 versus T1-T2 when the label is the T-stage index).
    #[arg(long, value_name = "K", default_value_t = 1)]
    pub positive_from: u8,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum SelectArg {
    Auc,
    Loss,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum TabularArg {
    Linear,
    Mlp,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum FusionArg {
    /// Gated attention over the modalities present for each patient.
    Gated,
    /// Concatenation of embeddings and the presence mask.
    Concat,
    /// Late fusion trained end to end: a learned weighted sum of per-modality logits.
    Additive,
    /// Late fusion by stacking: one model per modality, each early-stopped on its own, then
    /// non-negative weights of their logits fitted on the validation patients.
    Late,
}

impl ModelArgs {
    pub fn modality_set(&self) -> Result<ModalitySet> {
        let mut m = ModalitySet {
            image: false,
            clinical: false,
            text: false,
            omics: false,
        };
        for name in self
            .modalities
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            match name {
                "image" => m.image = true,
                "clinical" => m.clinical = true,
                "text" => m.text = true,
                "omics" => m.omics = true,
                other => bail!(
                    "--modalities: unknown modality `{other}` (use image, clinical, text, omics)"
                ),
            }
        }
        if m.count() == 0 {
            bail!("--modalities: name at least one modality");
        }
        Ok(m)
    }

    pub fn image_input(&self) -> Result<ImageInput> {
        Ok(match self.whole_image {
            Some(side) if side >= 4 => ImageInput::Whole { side },
            Some(side) => bail!("--whole-image {side}: use at least 4 voxels"),
            None => {
                if self.crop_side < 4
                    || self.crop_spacing_mm.is_nan()
                    || self.crop_spacing_mm <= 0.0
                {
                    bail!("--crop-side must be at least 4 and --crop-spacing-mm positive");
                }
                ImageInput::LesionCrop(CropSpec {
                    side: self.crop_side,
                    spacing_mm: self.crop_spacing_mm,
                })
            }
        })
    }

    pub fn train_config(&self) -> Result<TrainConfig> {
        Ok(TrainConfig {
            max_epochs: self.epochs.max(1),
            min_epochs: 8.min(self.epochs.max(1)),
            seed: self.seed,
            fusion: match self.fusion {
                FusionArg::Gated => FusionKind::GatedAttention,
                FusionArg::Concat => FusionKind::Concat,
                FusionArg::Additive | FusionArg::Late => FusionKind::Additive,
            },
            aux_loss_weight: self.aux_loss_weight,
            patience: self.patience.max(1),
            select_on: match self.select_on {
                SelectArg::Auc => oncolens_train::trainer::SelectOn::Auc,
                SelectArg::Loss => oncolens_train::trainer::SelectOn::Loss,
            },
            image_input: self.image_input()?,
            stack_folds: self.stack_folds,
            tabular: match self.tabular {
                TabularArg::Linear => TabularKind::Linear,
                TabularArg::Mlp => TabularKind::Mlp,
            },
            ..TrainConfig::default()
        })
    }
}

#[derive(clap::Args)]
pub struct TrainArgs {
    /// Cohort folder (the layout `oncolens synth` and `oncolens import` write).
    #[arg(long)]
    pub cohort: PathBuf,
    /// Model folder to write (model.json, weights.safetensors, metrics.json, predictions.csv).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Also run stratified K-fold cross-validation and report out-of-fold metrics.
    #[arg(long, value_name = "K")]
    pub cv: Option<usize>,
    /// Also run leave-one-site-out evaluation.
    #[arg(long)]
    pub loso: bool,
}

#[derive(clap::Args)]
pub struct PredictArgs {
    /// Model folder written by `oncolens train`.
    #[arg(long)]
    pub model: PathBuf,
    /// Case folder (`<cohort>/<site>/<case>`).
    #[arg(long)]
    pub case: PathBuf,
}

/// Reads and crops every case of a cohort, with a progress bar; labels at or above
/// `positive_from` become 1, the others 0.
pub fn prepare(
    cohort_dir: &Path,
    input: &ImageInput,
    positive_from: u8,
) -> Result<Vec<PreparedCase>> {
    let cohort = oncolens_io::scan_cohort(cohort_dir)
        .with_context(|| format!("reading cohort {}", cohort_dir.display()))?;
    if cohort.entries.is_empty() {
        bail!("{}: no case folders found", cohort_dir.display());
    }
    let bar = progress::bar(cohort.entries.len() as u64, "reading cases");
    let cases =
        oncolens_train::prepare_cohort(&cohort, input, &|done, _| bar.set_position(done as u64))?;
    bar.finish_and_clear();
    let mut cases = cases;
    if positive_from == 0 {
        bail!("--positive-from must be at least 1");
    }
    for c in &mut cases {
        c.label = c.label.map(|l| u8::from(l >= positive_from));
    }
    Ok(cases)
}

/// Trains one model with an epoch progress bar labelled `what`.
pub fn train_one(
    cases: &[PreparedCase],
    split: &Split,
    modalities: ModalitySet,
    cfg: &TrainConfig,
    device: &Device,
    what: &'static str,
) -> Result<TrainedModel> {
    let bar = progress::bar(cfg.max_epochs as u64, what);
    let model = oncolens_train::train_model(cases, split, modalities, cfg, device, &|p| {
        bar.set_position(p.epoch as u64)
    })?;
    bar.finish_and_clear();
    Ok(model)
}

/// Ridge penalty of the late-fusion weights: about one logit unit of shrinkage per patient in
/// a validation set of a few dozen.
pub const LATE_FUSION_L2: f64 = 1.0;

/// A late-fusion model and the single-modality members it was assembled from.
pub struct LateFusion {
    pub fused: TrainedModel,
    pub fit: oncolens_train::stack::LateFusionFit,
    /// `(modality name, member)` for the modalities that could be trained.
    pub members: Vec<(&'static str, TrainedModel)>,
    /// `(modality name, why not)` for the modalities left out.
    pub skipped: Vec<(&'static str, String)>,
    /// AUC of each member's out-of-fold logits (the stacker's view of how reliable it is),
    /// when the weights were cross-fitted.
    pub out_of_fold_auc: Vec<(&'static str, f64)>,
}

/// Trains one single-modality model per wanted modality on `split` (each with its own early
/// stopping) and stacks them: on out-of-fold logits of the training and validation patients
/// when `cfg.stack_folds >= 2` (cross-fitting), else on the validation patients
/// ([`oncolens_train::stack`]).
pub fn train_late_fusion(
    cases: &[PreparedCase],
    split: &Split,
    modalities: ModalitySet,
    cfg: &TrainConfig,
    device: &Device,
    what: &'static str,
) -> Result<LateFusion> {
    let (members, skipped) = train_members(cases, split, modalities, cfg, device, what)?;
    let parts = by_modality(&members);
    let trained = ModalitySet {
        image: parts[0].is_some(),
        clinical: parts[1].is_some(),
        text: parts[2].is_some(),
        omics: parts[3].is_some(),
    };
    let out_of_fold = if cfg.stack_folds >= 2 && trained.count() > 1 {
        match cross_fitted_logits(cases, split, trained, cfg, device) {
            Ok(oof) => Some(oof),
            Err(e) => {
                eprintln!(
                    "  cross-fitting the stacking weights failed ({e:#}); fitting them on the \
                     validation patients"
                );
                None
            }
        }
    } else {
        None
    };
    let out_of_fold_auc = out_of_fold
        .as_ref()
        .map(|oof| {
            members
                .iter()
                .filter_map(|(name, _)| {
                    let m = oncolens_nn::MODALITIES.iter().position(|n| n == name)?;
                    // Over the patients who have the modality.
                    let (column, labels): (Vec<f64>, Vec<bool>) = oof
                        .logits
                        .iter()
                        .zip(&oof.present)
                        .zip(&oof.labels)
                        .filter(|((_, p), _)| p[m])
                        .map(|((row, _), &y)| (row[m], y))
                        .unzip();
                    oncolens_metrics::roc_auc(&column, &labels)
                        .ok()
                        .map(|auc| (*name, auc))
                })
                .collect()
        })
        .unwrap_or_default();
    let stack_on = match &out_of_fold {
        Some(oof) => StackOn::OutOfFold {
            logits: &oof.logits,
            present: &oof.present,
            labels: &oof.labels,
        },
        None => StackOn::Validation,
    };
    let (fused, fit) =
        oncolens_train::stack::late_fusion(parts, cases, split, stack_on, LATE_FUSION_L2, device)?;
    Ok(LateFusion {
        fused,
        fit,
        members,
        skipped,
        out_of_fold_auc,
    })
}

/// Members in [`oncolens_nn::MODALITIES`] order (`None` for a modality without one).
fn by_modality<'a>(members: &'a [(&'static str, TrainedModel)]) -> [Option<&'a TrainedModel>; 4] {
    std::array::from_fn(|m| {
        members
            .iter()
            .find(|(n, _)| *n == oncolens_nn::MODALITIES[m])
            .map(|(_, t)| t)
    })
}

/// The single-modality members of a late fusion, each trained on `split` with additive fusion
/// and its own early stopping; modalities that cannot be trained are returned with the reason.
type Members = (
    Vec<(&'static str, TrainedModel)>,
    Vec<(&'static str, String)>,
);

fn train_members(
    cases: &[PreparedCase],
    split: &Split,
    modalities: ModalitySet,
    cfg: &TrainConfig,
    device: &Device,
    what: &'static str,
) -> Result<Members> {
    let single_cfg = TrainConfig {
        fusion: FusionKind::Additive,
        modality_dropout: 0.0,
        aux_loss_weight: 0.0,
        ..cfg.clone()
    };
    let mut members: Vec<(&'static str, TrainedModel)> = Vec::new();
    let mut skipped = Vec::new();
    for (m, name) in oncolens_nn::MODALITIES.iter().enumerate() {
        if !modalities.as_array()[m] {
            continue;
        }
        match train_one(
            cases,
            split,
            ModalitySet::only(m),
            &single_cfg,
            device,
            what,
        ) {
            Ok(t) => members.push((name, t)),
            Err(e) => skipped.push((*name, format!("{e:#}"))),
        }
    }
    Ok((members, skipped))
}

/// Out-of-fold member logits for the training and validation patients of `split`: they are
/// cut into `cfg.stack_folds` stratified folds, and each fold is predicted by members trained
/// (with their own validation patients carved from the rest) on the other folds. The test
/// patients are never used. Returns `([patient][modality] logits, labels)`.
/// Out-of-fold standardised member logits, which modalities each patient has, and labels.
struct OutOfFold {
    logits: Vec<[f64; 4]>,
    present: Vec<[bool; 4]>,
    labels: Vec<bool>,
}

fn cross_fitted_logits(
    cases: &[PreparedCase],
    split: &Split,
    modalities: ModalitySet,
    cfg: &TrainConfig,
    device: &Device,
) -> Result<OutOfFold> {
    let pool: Vec<usize> = split
        .train
        .iter()
        .chain(&split.val)
        .copied()
        .filter(|&i| cases[i].label.is_some())
        .collect();
    let folds = stratified_folds(cases, &pool, cfg.stack_folds, cfg.seed ^ 0x57ac);
    let mut logits = Vec::with_capacity(pool.len());
    let mut present = Vec::with_capacity(pool.len());
    let mut labels = Vec::with_capacity(pool.len());
    for (j, fold) in folds.iter().enumerate() {
        let rest: Vec<usize> = pool.iter().copied().filter(|i| !fold.contains(i)).collect();
        let (train, val) = carve_validation(cases, &rest, 0.2, cfg.seed + j as u64);
        let inner = Split {
            train,
            val,
            test: fold.clone(),
        };
        let (members, skipped) =
            train_members(cases, &inner, modalities, cfg, device, "stacking folds")?;
        if let Some((name, why)) = skipped.first() {
            bail!(
                "fold {}: the {name} member could not be trained: {why}",
                j + 1
            );
        }
        let parts = by_modality(&members);
        let refs: Vec<&PreparedCase> = fold.iter().map(|&i| &cases[i]).collect();
        let (fold_logits, _, _) =
            oncolens_train::stack::standardised_member_logits(&parts, &refs, device)?;
        logits.extend(fold_logits);
        present.extend(oncolens_train::stack::member_presence(&parts, &refs));
        labels.extend(refs.iter().map(|c| c.label == Some(1)));
    }
    Ok(OutOfFold {
        logits,
        present,
        labels,
    })
}

/// Trains what `--fusion` asks for: one network, or for `late` the stacked single-modality
/// models (a single wanted modality is then just that modality's model).
pub fn fit_model(
    cases: &[PreparedCase],
    split: &Split,
    modalities: ModalitySet,
    cfg: &TrainConfig,
    late: bool,
    device: &Device,
    what: &'static str,
) -> Result<TrainedModel> {
    if late && modalities.count() > 1 {
        let l = train_late_fusion(cases, split, modalities, cfg, device, what)?;
        let all: usize = l
            .members
            .iter()
            .filter_map(|(n, _)| oncolens_nn::MODALITIES.iter().position(|k| k == n))
            .map(|m| 1 << m)
            .sum();
        let weights: Vec<String> = oncolens_nn::MODALITIES
            .iter()
            .zip(l.fit.pattern_weights(all).0)
            .map(|(n, w)| format!("{n} {w:.2}"))
            .collect();
        eprintln!(
            "late fusion of {} single-modality models; weights of their standardised logits \
             for patients with all of them: {}",
            l.members.len(),
            weights.join(", ")
        );
        for (name, why) in &l.skipped {
            eprintln!("  {name} left out: {why}");
        }
        Ok(l.fused)
    } else {
        train_one(cases, split, modalities, cfg, device, what)
    }
}

/// Predictions of `model` on the cases at `indices`.
pub fn predict(
    model: &TrainedModel,
    cases: &[PreparedCase],
    indices: &[usize],
    device: &Device,
) -> Result<Predictions> {
    let refs: Vec<&PreparedCase> = indices.iter().map(|&i| &cases[i]).collect();
    let logits = model.logits(&refs, device)?;
    let probs = oncolens_metrics::apply_temperature(&logits, model.temperature)?;
    Ok(Predictions::new(&refs, logits, probs))
}

/// Writes predictions as CSV.
pub fn write_predictions(path: &Path, p: &Predictions, threshold: f64) -> Result<()> {
    let mut buf = Vec::new();
    {
        let mut w = csv::Writer::from_writer(&mut buf);
        w.write_record([
            "case_id",
            "site",
            "label",
            "logit",
            "probability",
            "predicted",
        ])?;
        for i in 0..p.case_ids.len() {
            w.write_record([
                p.case_ids[i].clone(),
                p.sites[i].clone(),
                u8::from(p.labels[i]).to_string(),
                format!("{:.6}", p.logits[i]),
                format!("{:.6}", p.probabilities[i]),
                u8::from(p.probabilities[i] >= threshold).to_string(),
            ])?;
        }
        w.flush()?;
    }
    oncolens_core::fs::write_atomic(path, &buf)
        .with_context(|| format!("writing {}", path.display()))
}

fn fmt_auc(v: &serde_json::Value) -> String {
    match (v["auc"].as_f64(), v["auc_ci"].as_array()) {
        (Some(a), Some(ci)) if ci.len() == 2 => format!(
            "{a:.3} [{:.3}, {:.3}]",
            ci[0].as_f64().unwrap_or(f64::NAN),
            ci[1].as_f64().unwrap_or(f64::NAN)
        ),
        (Some(a), _) => format!("{a:.3}"),
        _ => format!("undefined ({})", v["undefined"].as_str().unwrap_or("")),
    }
}

pub fn run_train(args: &TrainArgs) -> Result<()> {
    let device = oncolens_nn::default_device();
    let cfg = args.model.train_config()?;
    let modalities = args.model.modality_set()?;
    let cases = prepare(&args.cohort, &cfg.image_input, args.model.positive_from)?;
    let split = holdout(&cases, 0.25, 0.2, cfg.seed);
    if split.test.is_empty() || split.train.is_empty() {
        bail!(
            "{}: not enough labelled cases to split ({} labelled)",
            args.cohort.display(),
            cases.iter().filter(|c| c.label.is_some()).count()
        );
    }
    let late = matches!(args.model.fusion, FusionArg::Late);
    let model = fit_model(&cases, &split, modalities, &cfg, late, &device, "training")?;
    let test = predict(&model, &cases, &split.test, &device)?;
    let mut metrics = serde_json::json!({
        "modalities": model.config.modalities.names(),
        "split": {"train": split.train.len(), "val": split.val.len(), "test": split.test.len()},
        "best_epoch": model.best_epoch,
        "best_val_auc": model.best_val_auc,
        "temperature": model.temperature,
        "threshold": model.threshold,
        "test": report_json(&test, model.threshold, cfg.seed),
        "per_site": per_site(&test, model.threshold, cfg.seed),
    });
    println!(
        "trained on {} patients ({} validation), modalities {}: test AUC {} on {} patients",
        split.train.len(),
        split.val.len(),
        model.config.modalities.names().join("+"),
        fmt_auc(&metrics["test"]),
        split.test.len()
    );
    if let Some(k) = args.cv {
        if k < 2 {
            bail!("--cv {k}: use at least 2 folds");
        }
        let mut pooled = Predictions::default();
        let mut folds = Vec::new();
        for (f, s) in kfold(&cases, k, 0.2, cfg.seed).iter().enumerate() {
            let m = fit_model(
                &cases,
                s,
                modalities,
                &cfg,
                late,
                &device,
                "cross-validation",
            )?;
            let p = predict(&m, &cases, &s.test, &device)?;
            folds.push(
                serde_json::json!({"fold": f, "test": report_json(&p, m.threshold, cfg.seed)}),
            );
            pooled.extend(p);
        }
        let r = report_json(&pooled, 0.5, cfg.seed);
        println!(
            "{k}-fold cross-validation: pooled out-of-fold AUC {}",
            fmt_auc(&r)
        );
        metrics["cross_validation"] = serde_json::json!({"k": k, "pooled": r, "folds": folds});
    }
    if args.loso {
        let mut sites = BTreeMap::new();
        for (site, s) in leave_one_site_out(&cases, 0.2, cfg.seed) {
            let m = fit_model(
                &cases,
                &s,
                modalities,
                &cfg,
                late,
                &device,
                "leave-one-site-out",
            )?;
            let p = predict(&m, &cases, &s.test, &device)?;
            let r = report_json(&p, m.threshold, cfg.seed);
            println!("  held-out site {site}: AUC {}", fmt_auc(&r));
            sites.insert(site, r);
        }
        metrics["leave_one_site_out"] = serde_json::to_value(sites)?;
    }
    let provenance = serde_json::json!({
        "cohort": args.cohort,
        "oncolens": env!("CARGO_PKG_VERSION"),
        "train_config": cfg,
    });
    model_dir::save_model(&args.out, &model, provenance)?;
    write_predictions(&args.out.join("predictions.csv"), &test, model.threshold)?;
    let metrics_path = args.out.join("metrics.json");
    oncolens_core::fs::write_atomic(
        &metrics_path,
        serde_json::to_string_pretty(&metrics)?.as_bytes(),
    )
    .with_context(|| format!("writing {}", metrics_path.display()))?;
    println!("wrote the model to {}", args.out.display());
    Ok(())
}

pub fn run_predict(args: &PredictArgs) -> Result<()> {
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
    let used: Vec<&str> = oncolens_nn::MODALITIES
        .iter()
        .zip(sample.present())
        .zip(model.config.modalities.as_array())
        .filter(|((_, p), on)| *p && *on)
        .map(|((n, _), _)| *n)
        .collect();
    let logits = model.logits(&[&case], &device)?;
    let logit = logits[0];
    let p = oncolens_metrics::apply_temperature(&[logit], model.temperature)?[0];
    let out = serde_json::json!({
        "case_id": case.id,
        "probability_malignant": p,
        "logit": logit,
        "threshold": model.threshold,
        "predicted_malignant": p >= model.threshold,
        "modalities_used": used,
        "label": case.label,
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

//! `oncolens`: the command-line shell over the oncolens libraries. Argument parsing, progress bars
//! and error printing live here; every piece of real work is a library call.

mod demo;
mod demo_learn;
mod demo_report;
mod explain;
mod explain_global;
mod federate;
mod harmonize;
mod import;
mod learn;
mod logistic;
mod progress;
mod radiogenomics;
mod radiomics;
mod radiomics_region;
mod remote_fit;
mod slide;
mod stain;
mod station;
mod survival;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

/// Multimodal, explainable, privacy-preserving AI for cancer imaging.
#[derive(Parser)]
#[command(name = "oncolens", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the main job on the bundled default: generate (or reuse) the sample cohort, read every
    /// file back through the readers, check it against the ground truth, de-identify it and write
    /// a cohort summary.
    Demo(demo::DemoArgs),
    /// Generate a seeded multi-site renal-tumour cohort as real files (DICOM, NIfTI, FHIR, text,
    /// expression table).
    Synth(SynthArgs),
    /// Read a DICOM file/folder, NIfTI file, FHIR bundle, report, expression table or cohort
    /// folder and print what was read.
    Inspect(InspectArgs),
    /// De-identify a cohort folder: DICOM by the PS3.15 Basic Profile, FHIR bundles and reports
    /// scrubbed, one keyed pseudonym per patient across every modality.
    Deid(DeidArgs),
    /// Train a model on a cohort folder: patient-level split (the cohort's own split column when
    /// it has one), early stopping on validation AUC, calibration; optional K-fold
    /// cross-validation and leave-one-site-out evaluation. Writes a model folder.
    Train(learn::TrainArgs),
    /// Predict one case folder with a trained model folder; prints JSON.
    Predict(learn::PredictArgs),
    /// Convert a public dataset (MedMNIST 3D, KiTS19, LIDC-IDRI, TCGA reports) into a cohort
    /// folder.
    Import(import::ImportArgs),
    /// Remove site (scanner, hospital) effects from a feature table with ComBat, preserving
    /// chosen covariates; equal to neuroCombat.
    Harmonize(harmonize::HarmonizeArgs),
    /// IBSI radiomic features of an image and mask (JSON or CSV), or of every case of a cohort
    /// folder in parallel, joined with the clinical records into one CSV table.
    Radiomics(radiomics::RadiomicsArgs),
    /// Federated learning on a cohort: one data station per site trains locally, only model
    /// weights travel (FedAvg, FedProx, FedAdam); compared with the same model trained on the
    /// pooled patients. Writes OUT/metrics.json and OUT/model.
    Federate(federate::FederateArgs),
    /// Explain one case with one attribution method (saliency, smoothgrad,
    /// integrated-gradients, grad-cam, grad-cam-pp, occlusion, rise): heatmap on the case's CT
    /// (NIfTI, PNG), faithfulness (deletion/insertion AUC, randomised-model rank correlation)
    /// and each modality's Shapley share.
    Explain(explain::ExplainArgs),
    /// Global explanation of a target over a patient table (or a model's predictions on a
    /// cohort): pruned decision tree, association rules and Bayesian network, with
    /// cross-validated accuracy; DOT, PNG, CSV, JSON and HTML.
    ExplainGlobal(explain_global::ExplainGlobalArgs),
    /// A hospital's data station (Personal Health Train): serve a site's cohort under a
    /// policy with an audit log and optional mutual TLS; make a test certificate authority.
    Station(station::StationArgs),
    /// Cox proportional-hazards model of a patient table (time to event, censored): hazard
    /// ratios with Wald and likelihood-ratio tests, concordance, strata; equal to lifelines.
    Survival(survival::SurvivalArgs),
    /// Radiogenomics: every radiomic feature of a cohort table against every gene of an
    /// expression table (site-adjusted Spearman or Pearson, Benjamini-Hochberg FDR): CSV,
    /// JSON and a heatmap.
    Radiogenomics(radiogenomics::RadiogenomicsArgs),
    /// Logistic regression of a binary outcome on a patient table, or exactly across data
    /// stations without moving rows: odds ratios, Wald and likelihood-ratio tests; equal to
    /// statsmodels.
    Logistic(logistic::LogisticArgs),
    /// H&E stain normalisation (Macenko or Reinhard) of a tile or a folder of tiles onto a
    /// reference tile; equal to torchstain. Writes PNG (and the separated stains with --stains).
    StainNormalise(stain::StainArgs),
    /// A whole-slide image (tiled pyramidal TIFF, Aperio SVS): its levels, pixel size and
    /// associated images; with --tiles, its tissue tiles at a chosen resolution as PNG.
    Slide(slide::SlideArgs),
}

#[derive(clap::Args)]
struct DeidArgs {
    /// Cohort folder to read.
    #[arg(long)]
    input: PathBuf,
    /// Output folder (created; must be empty).
    #[arg(long)]
    out: PathBuf,
    /// File holding the secret pseudonym key as hex (else ONCOLENS_PSEUDONYM_KEY is used).
    #[arg(long, conflicts_with = "new_key")]
    key_file: Option<PathBuf>,
    /// Generate a fresh key, write it to this file (it must not exist) and use it.
    #[arg(long)]
    new_key: Option<PathBuf>,
}

/// The sample-cohort settings shared by `synth` and `demo`.
#[derive(clap::Args, Clone)]
pub(crate) struct CohortArgs {
    /// Number of patients.
    #[arg(long, default_value_t = 200)]
    pub patients: usize,
    /// Number of sites (hospitals), 1 to 26.
    #[arg(long, default_value_t = 3)]
    pub sites: usize,
    /// Random seed: the same seed gives the same cohort.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// In-plane matrix size of the CT (voxels per row and column).
    #[arg(long, default_value_t = 128)]
    pub matrix: usize,
}

impl CohortArgs {
    pub(crate) fn config(&self) -> oncolens_synth::SynthConfig {
        oncolens_synth::SynthConfig {
            patients: self.patients,
            sites: self.sites,
            seed: self.seed,
            matrix: self.matrix,
            ..oncolens_synth::SynthConfig::default()
        }
    }
}

#[derive(clap::Args)]
struct SynthArgs {
    /// Output folder (created; must be empty).
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    cohort: CohortArgs,
}

#[derive(clap::Args)]
struct InspectArgs {
    /// File or folder to read.
    path: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// DICOM SeriesInstanceUID to read when the folder holds several series.
    #[arg(long)]
    series: Option<String>,
}

fn run_synth(args: &SynthArgs) -> Result<()> {
    let config = args.cohort.config();
    let summary = synth_with_progress(&config, &args.out)?;
    println!(
        "wrote {} patients ({} malignant) from {} sites, {} DICOM files, into {}",
        summary.patients,
        summary.malignant,
        summary.sites.len(),
        summary.dicom_files,
        summary.out.display()
    );
    Ok(())
}

pub(crate) fn synth_with_progress(
    config: &oncolens_synth::SynthConfig,
    out: &std::path::Path,
) -> Result<oncolens_synth::SynthSummary> {
    let bar = progress::bar(config.patients as u64, "generating patients");
    let summary = oncolens_synth::generate(config, out, &|| bar.inc(1))
        .with_context(|| format!("generating the sample cohort into {}", out.display()))?;
    bar.finish_and_clear();
    Ok(summary)
}

fn run_inspect(args: &InspectArgs) -> Result<()> {
    let options = oncolens_io::inspect::InspectOptions {
        series_uid: args.series.clone(),
    };
    let inspection = oncolens_io::inspect(&args.path, &options)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&inspection)?);
    } else {
        print!("{}", inspection.to_text());
    }
    Ok(())
}

pub(crate) fn write_new_key(path: &std::path::Path) -> Result<oncolens_deid::PseudonymKey> {
    if path.exists() {
        anyhow::bail!(
            "{} already exists; refusing to overwrite a key",
            path.display()
        );
    }
    let key = oncolens_deid::PseudonymKey::generate();
    oncolens_core::fs::write_atomic(path, format!("{}\n", key.to_hex()).as_bytes())
        .with_context(|| format!("writing the key to {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("restricting permissions of {}", path.display()))?;
    }
    Ok(key)
}

pub(crate) fn deid_with_progress(
    input: &std::path::Path,
    out: &std::path::Path,
    key: &oncolens_deid::PseudonymKey,
) -> Result<oncolens_io::deid::DeidCohortSummary> {
    let cohort = oncolens_io::scan_cohort(input)?;
    let bar = progress::bar(cohort.entries.len() as u64, "de-identifying cases");
    let summary = oncolens_io::deid::deidentify_cohort(input, out, key, &|| bar.inc(1))
        .with_context(|| format!("de-identifying {} into {}", input.display(), out.display()))?;
    bar.finish_and_clear();
    Ok(summary)
}

fn run_deid(args: &DeidArgs) -> Result<()> {
    let key = match (&args.key_file, &args.new_key) {
        (Some(path), _) => oncolens_deid::PseudonymKey::from_file(path)?,
        (None, Some(path)) => write_new_key(path)?,
        (None, None) => match oncolens_deid::PseudonymKey::from_env() {
            Some(key) => key?,
            None => anyhow::bail!(
                "no pseudonym key: pass --key-file FILE (hex), --new-key FILE, or set ONCOLENS_PSEUDONYM_KEY"
            ),
        },
    };
    let s = deid_with_progress(&args.input, &args.out, &key)?;
    println!(
        "de-identified {} cases: {} DICOM files ({} attributes removed, {} private, {} UIDs remapped, {} dates shifted), {} FHIR bundles, {} reports, {} masks",
        s.cases,
        s.dicom_files,
        s.dicom_log.removed,
        s.dicom_log.private_removed,
        s.dicom_log.uids_remapped,
        s.dicom_log.dates_shifted,
        s.bundles,
        s.reports,
        s.masks
    );
    if !s.files_with_identifiers.is_empty() {
        anyhow::bail!(
            "{} output files still contain an original identifier, e.g. {}",
            s.files_with_identifiers.len(),
            s.files_with_identifiers[0].display()
        );
    }
    println!(
        "checked {} identifier strings: none found in the output",
        s.identifiers_checked
    );
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Demo(args) => demo::run(args),
        Command::Synth(args) => run_synth(args),
        Command::Inspect(args) => run_inspect(args),
        Command::Deid(args) => run_deid(args),
        Command::Train(args) => learn::run_train(args),
        Command::Predict(args) => learn::run_predict(args),
        Command::Import(args) => import::run(args),
        Command::Harmonize(args) => harmonize::run(args),
        Command::Radiomics(args) => radiomics::run(args),
        Command::Federate(args) => federate::run(args),
        Command::Explain(args) => explain::run(args),
        Command::ExplainGlobal(args) => explain_global::run(args),
        Command::Station(args) => station::run(args),
        Command::Survival(args) => survival::run(args),
        Command::Radiogenomics(args) => radiogenomics::run(args),
        Command::Logistic(args) => logistic::run(args),
        Command::StainNormalise(args) => stain::run(args),
        Command::Slide(args) => slide::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}

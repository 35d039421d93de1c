//! `oncolens import`: public datasets into the cohort layout that `train` reads unchanged.

use std::path::PathBuf;

use anyhow::{Context, Result};
use oncolens_import::{
    Kits19Options, LidcOptions, MedmnistOptions, TcgaOptions, import_kits19, import_lidc,
    import_medmnist, import_tcga_reports,
};

use crate::progress;

#[derive(clap::Args)]
pub struct ImportArgs {
    #[command(subcommand)]
    pub dataset: Dataset,
}

#[derive(clap::Subcommand)]
pub enum Dataset {
    /// A MedMNIST 3D `.npz` (e.g. AdrenalMNIST3D): one `image.nii.gz` per sample, official
    /// split kept, label column `label`.
    Medmnist {
        /// The `.npz` file.
        src: PathBuf,
        /// Cohort folder to create (must be new or empty).
        #[arg(long)]
        out: PathBuf,
        /// Import at most N samples per split (for quick trials).
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
    },
    /// KiTS19 (masks, `kits.json`): tumour and kidney masks, pre-operative clinical facts as FHIR,
    /// `malignant` labels; pathology goes to `pathology.csv`, never into model inputs.
    Kits19 {
        /// The folder holding `kits.json` and `case_XXXXX/segmentation.nii.gz`.
        src: PathBuf,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
    },
    /// An LIDC-IDRI case: the CT series and the radiologists' nodule contours rasterised from
    /// the XML (one mask per reader, consensus of at least 2 readers as the lesion mask).
    Lidc {
        /// The case folder (DICOM series and its XML annotation).
        src: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    /// TCGA pathology reports (`T14_test.csv`): one case per report, label = pT index (0-3),
    /// a seeded 70/15/15 split grouped by patient.
    Tcga {
        /// The CSV file.
        src: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
}

pub fn run(args: &ImportArgs) -> Result<()> {
    let bar = progress::bar(0, "importing");
    let progress = |done: usize, total: usize| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    };
    let summary = match &args.dataset {
        Dataset::Medmnist { src, out, limit } => import_medmnist(
            src,
            out,
            &MedmnistOptions {
                limit_per_split: *limit,
                ..MedmnistOptions::default()
            },
            &progress,
        )
        .with_context(|| format!("importing {}", src.display()))?,
        Dataset::Kits19 { src, out, limit } => import_kits19(
            src,
            out,
            &Kits19Options {
                limit: *limit,
                ..Kits19Options::default()
            },
            &progress,
        )
        .with_context(|| format!("importing {}", src.display()))?,
        Dataset::Lidc { src, out } => import_lidc(src, out, &LidcOptions::default(), &progress)
            .with_context(|| format!("importing {}", src.display()))?,
        Dataset::Tcga { src, out } => {
            import_tcga_reports(src, out, &TcgaOptions::default(), &progress)
                .with_context(|| format!("importing {}", src.display()))?
        }
    };
    bar.finish_and_clear();
    println!(
        "imported {} cases of {} into {}",
        summary.cases,
        summary.dataset,
        summary.out.display()
    );
    println!("  sites: {:?}", summary.sites);
    println!("  labels: {:?}", summary.labels);
    if !summary.splits.is_empty() {
        println!("  splits: {:?}", summary.splits);
    }
    for w in &summary.warnings {
        eprintln!("warning: {w}");
    }
    Ok(())
}

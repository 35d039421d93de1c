//! `oncolens`: the command-line shell over the oncolens libraries. Argument parsing, progress bars
//! and error printing live here; every piece of real work is a library call.

mod demo;
mod progress;

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
    /// file back through the readers, and write a cohort summary.
    Demo(demo::DemoArgs),
    /// Generate a seeded multi-site renal-tumour cohort as real files (DICOM, NIfTI, FHIR, text,
    /// expression table).
    Synth(SynthArgs),
    /// Read a DICOM file/folder, NIfTI file, FHIR bundle, report, expression table or cohort
    /// folder and print what was read.
    Inspect(InspectArgs),
}

#[derive(clap::Args)]
struct SynthArgs {
    /// Output folder (created; must be empty).
    #[arg(long)]
    out: PathBuf,
    /// Number of patients.
    #[arg(long, default_value_t = 60)]
    patients: usize,
    /// Number of sites (hospitals), 1 to 26.
    #[arg(long, default_value_t = 3)]
    sites: usize,
    /// Random seed: the same seed gives the same cohort.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// In-plane matrix size of the CT (voxels per row and column).
    #[arg(long, default_value_t = 128)]
    matrix: usize,
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
    let config = oncolens_synth::SynthConfig {
        patients: args.patients,
        sites: args.sites,
        seed: args.seed,
        matrix: args.matrix,
        ..oncolens_synth::SynthConfig::default()
    };
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Demo(args) => demo::run(args),
        Command::Synth(args) => run_synth(args),
        Command::Inspect(args) => run_inspect(args),
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

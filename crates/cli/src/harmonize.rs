//! `oncolens harmonize`: ComBat across sites on a feature table (CSV in, CSV out).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use oncolens_harmonize::{CombatOptions, TableOptions, harmonize_table};

#[derive(clap::Args)]
pub struct HarmonizeArgs {
    /// Feature table (CSV, one row per sample), e.g. the output of `oncolens radiomics --cohort`.
    #[arg(long)]
    pub input: PathBuf,
    /// Harmonised table to write (CSV, same columns and row order).
    #[arg(long)]
    pub out: PathBuf,
    /// Column naming each sample's site (scanner, hospital).
    #[arg(long, default_value = "site")]
    pub site_column: String,
    /// Sample identifier column, never harmonised.
    #[arg(long)]
    pub id_column: Option<String>,
    /// Covariates whose effect must be preserved (comma-separated column names).
    #[arg(long, value_delimiter = ',')]
    pub covariates: Vec<String>,
    /// Which covariates are categorical (one-hot coded, first sorted level as reference).
    #[arg(long, value_delimiter = ',')]
    pub categorical: Vec<String>,
    /// Further numeric columns to copy unchanged (outcomes, labels).
    #[arg(long, value_delimiter = ',')]
    pub keep: Vec<String>,
    /// Non-parametric empirical Bayes instead of parametric priors.
    #[arg(long)]
    pub non_parametric: bool,
    /// No empirical Bayes shrinkage (plain location/scale per site).
    #[arg(long)]
    pub no_eb: bool,
    /// Adjust site means only, not variances.
    #[arg(long)]
    pub mean_only: bool,
    /// Harmonise towards this site (its samples stay unchanged).
    #[arg(long)]
    pub reference_site: Option<String>,
    /// Also write the fitted model (JSON) to reuse on new samples.
    #[arg(long)]
    pub fit_out: Option<PathBuf>,
}

pub fn run(args: &HarmonizeArgs) -> Result<()> {
    if args.out.exists() {
        bail!("{}: exists; choose a new output file", args.out.display());
    }
    let options = TableOptions {
        combat: CombatOptions {
            parametric: !args.non_parametric,
            eb: !args.no_eb,
            mean_only: args.mean_only,
            reference_batch: args.reference_site.clone(),
        },
        id_column: args.id_column.clone(),
        passthrough_columns: args.keep.clone(),
    };
    let (table, report) = harmonize_table(
        &args.input,
        &args.site_column,
        &args.covariates,
        &args.categorical,
        &options,
    )
    .with_context(|| format!("harmonising {}", args.input.display()))?;
    table
        .write_csv(&args.out)
        .with_context(|| format!("writing {}", args.out.display()))?;
    if let Some(path) = &args.fit_out {
        oncolens_core::fs::write_atomic(path, serde_json::to_string_pretty(&report)?.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let sites: Vec<String> = report
        .sites
        .iter()
        .map(|s| format!("{} ({})", s.site, s.samples))
        .collect();
    println!(
        "harmonised {} feature columns over {} samples from sites {}; {} constant columns copied unchanged; wrote {}",
        report.harmonised_columns.len(),
        report.samples,
        sites.join(", "),
        report.constant_columns.len(),
        args.out.display()
    );
    Ok(())
}

//! `oncolens survival`: a Cox proportional-hazards model on a patient table.

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::remote_fit::{CoefficientRow, coefficient_table, left_out};
use anyhow::{Context, Result, bail};
use oncolens_station::{FederatedCoxSpec, federated_cox};
use oncolens_survival::{CoxFit, CoxOptions, TableReport, TableSpec, Ties, fit_cox, read_table};

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum TiesArg {
    Efron,
    Breslow,
}

#[derive(clap::Args)]
pub struct SurvivalArgs {
    /// Patient table (CSV, one row per patient), e.g. `oncolens radiomics --cohort`'s output,
    /// which carries the clinical record and the cohort's `outcome_*` columns.
    #[arg(
        long,
        required_unless_present = "stations",
        conflicts_with = "stations"
    )]
    pub table: Option<PathBuf>,
    #[command(flatten)]
    pub remote: crate::remote_fit::StationsArgs,
    /// Follow-up time column (any unit; the hazard ratios do not depend on it).
    #[arg(long)]
    pub time: String,
    /// Event column: 1/0, true/false, yes/no, dead/deceased/died or alive/censored/living.
    #[arg(long)]
    pub event: String,
    /// Covariates (comma-separated columns). Non-numeric ones are coded as categories.
    #[arg(long, value_delimiter = ',', required = true)]
    pub covariates: Vec<String>,
    /// Covariates to code as categories although their values are numbers (grade, stage): one
    /// indicator per level, the first sorted level as reference.
    #[arg(long, value_delimiter = ',')]
    pub categorical: Vec<String>,
    /// Stratify by this column (e.g. `site`): one baseline hazard per stratum, shared effects.
    #[arg(long)]
    pub strata: Option<String>,
    /// How tied event times share their risk set.
    #[arg(long, value_enum, default_value = "efron")]
    pub ties: TiesArg,
    /// Ridge penalty on the standardised coefficients (lifelines' `penalizer`).
    #[arg(long, default_value_t = 0.0)]
    pub penalizer: f64,
    /// Print the fit as JSON (coefficients, covariance, tests, concordance, baseline hazard).
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Print the coefficient table as CSV.
    #[arg(long)]
    pub csv: bool,
    /// Write the output here instead of printing it.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(args: &SurvivalArgs) -> Result<()> {
    let options = CoxOptions {
        ties: match args.ties {
            TiesArg::Efron => Ties::Efron,
            TiesArg::Breslow => Ties::Breslow,
        },
        penalizer: args.penalizer,
        ..CoxOptions::default()
    };
    let (fit, table, source) = match &args.table {
        Some(path) => {
            let spec = TableSpec {
                time: args.time.clone(),
                event: args.event.clone(),
                covariates: args.covariates.clone(),
                categorical: args.categorical.clone(),
                strata: args.strata.clone(),
            };
            let (data, table) = read_table(path, &spec)?;
            let fit = fit_cox(&data, &options)
                .with_context(|| format!("fitting a Cox model to {}", path.display()))?;
            (fit, Some(table), path.display().to_string())
        }
        None => {
            if !args.categorical.is_empty() || args.strata.is_some() {
                bail!(
                    "--stations: covariates must be numeric columns, and the strata are the stations (no --categorical or --strata)"
                );
            }
            let fit = federated(args, &options)?;
            (
                fit,
                None,
                format!("{} stations", args.remote.stations.len()),
            )
        }
    };
    let text = if args.json {
        serde_json::to_string_pretty(&serde_json::json!({"table": table, "fit": fit}))? + "\n"
    } else if args.csv {
        coefficients_csv(&fit)?
    } else {
        summary(&fit, table.as_ref(), &source)
    };
    crate::remote_fit::emit(args.out.as_deref(), &text)?;
    Ok(())
}

/// The exact federated fit: Newton steps on the stations' summed `cox_terms` answers.
fn federated(args: &SurvivalArgs, options: &CoxOptions) -> Result<CoxFit> {
    let (clients, names) = args.remote.connect()?;
    let spec = FederatedCoxSpec {
        time_column: args.time.clone(),
        event_column: args.event.clone(),
        covariates: args.covariates.clone(),
        filter: Default::default(),
    };
    let progress = crate::progress::spinner("federated Cox: Newton steps over the stations");
    let fit = federated_cox(&names, &spec, options, |i, job| {
        progress.inc(1);
        clients[i].submit(job)
    });
    progress.finish_and_clear();
    Ok(fit?)
}

fn coefficients_csv(fit: &CoxFit) -> Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "covariate",
        "coef",
        "hazard_ratio",
        "se",
        "z",
        "p",
        "coef_lower_95",
        "coef_upper_95",
        "hazard_ratio_lower_95",
        "hazard_ratio_upper_95",
    ])?;
    for c in &fit.covariates {
        let mut rec = vec![c.name.clone()];
        rec.extend(
            [
                c.coef,
                c.hazard_ratio,
                c.se,
                c.z,
                c.p,
                c.coef_lower_95,
                c.coef_upper_95,
                c.hazard_ratio_lower_95,
                c.hazard_ratio_upper_95,
            ]
            .map(|v| v.to_string()),
        );
        w.write_record(&rec)?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}

/// lifelines' `print_summary`, in short.
fn summary(fit: &CoxFit, table: Option<&TableReport>, source: &str) -> String {
    let mut s = String::new();
    let ties = match fit.options.ties {
        Ties::Efron => "Efron",
        Ties::Breslow => "Breslow",
    };
    let _ = writeln!(
        s,
        "Cox proportional hazards ({ties} ties{}{}) on {source}",
        if fit.strata.is_empty() {
            String::new()
        } else {
            format!(", {} strata", fit.strata.len())
        },
        if fit.options.penalizer > 0.0 {
            format!(", penalizer {}", fit.options.penalizer)
        } else {
            String::new()
        }
    );
    let _ = write!(s, "{} patients, {} events", fit.patients, fit.events);
    if let Some(line) = table.and_then(|t| left_out(t.rows, t.rows_used, &t.rows_missing)) {
        let _ = write!(s, " ({line})");
    }
    s.push('\n');
    for d in table.iter().flat_map(|t| &t.categorical) {
        let _ = writeln!(s, "{}: reference level `{}`", d.column, d.reference);
    }
    let rows: Vec<CoefficientRow<'_>> = fit
        .covariates
        .iter()
        .map(|c| CoefficientRow {
            name: &c.name,
            coef: c.coef,
            ratio: c.hazard_ratio,
            ratio_lower: c.hazard_ratio_lower_95,
            ratio_upper: c.hazard_ratio_upper_95,
            se: c.se,
            z: c.z,
            p: c.p,
        })
        .collect();
    s.push('\n');
    s.push_str(&coefficient_table("covariate", "HR", &rows));
    let lr = &fit.likelihood_ratio;
    let _ = writeln!(
        s,
        "\nconcordance {:.3}; partial log-likelihood {:.3} (null {:.3}); likelihood-ratio test {:.2} on {} df, p = {:.3e}; partial AIC {:.2}",
        fit.concordance.index,
        fit.log_likelihood,
        fit.null_log_likelihood,
        lr.statistic,
        lr.degrees_of_freedom,
        lr.p,
        fit.aic_partial
    );
    s
}

//! `oncolens logistic`: a logistic regression of a binary outcome on a patient table, or across
//! data stations without moving rows.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::remote_fit::{CoefficientRow, coefficient_table, left_out};
use anyhow::{Context, Result, bail};
use oncolens_glm::{LogisticData, LogisticFit, fit_logistic};
use oncolens_station::{FederatedLogisticSpec, federated_logistic};

#[derive(clap::Args)]
pub struct LogisticArgs {
    /// Patient table (CSV, one row per patient), e.g. `oncolens radiomics --cohort`'s output.
    #[arg(
        long,
        required_unless_present = "stations",
        conflicts_with = "stations"
    )]
    pub table: Option<PathBuf>,
    #[command(flatten)]
    pub remote: crate::remote_fit::StationsArgs,
    /// Outcome column: 1/0, true/false, yes/no, or any values with --positive.
    #[arg(long)]
    pub outcome: String,
    /// The outcome value counted as positive (e.g. `malignant`).
    #[arg(long)]
    pub positive: Option<String>,
    /// Covariates (comma-separated columns); non-numeric ones are coded as categories.
    #[arg(long, value_delimiter = ',', required = true)]
    pub covariates: Vec<String>,
    /// Covariates to code as categories although their values are numbers.
    #[arg(long, value_delimiter = ',')]
    pub categorical: Vec<String>,
    /// Print the fit as JSON.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Print the coefficient table as CSV.
    #[arg(long)]
    pub csv: bool,
    /// Write the output here instead of printing it.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Rows read and why some were left out.
#[derive(serde::Serialize)]
struct Read {
    rows: usize,
    rows_used: usize,
    rows_missing: BTreeMap<String, usize>,
    categorical: Vec<oncolens_core::design::Dummies>,
}

fn outcome_value(text: &str, positive: Option<&str>) -> Option<bool> {
    match positive {
        Some(p) => Some(text == p),
        None => match text.to_ascii_lowercase().as_str() {
            "1" | "1.0" | "true" | "yes" => Some(true),
            "0" | "0.0" | "false" | "no" => Some(false),
            _ => None,
        },
    }
}

fn read(path: &Path, args: &LogisticArgs) -> Result<(LogisticData, Read)> {
    let shown = path.display();
    let mut r = csv::Reader::from_path(path).with_context(|| format!("reading {shown}"))?;
    let headers: Vec<String> = r
        .headers()
        .with_context(|| format!("reading {shown}"))?
        .iter()
        .map(str::to_owned)
        .collect();
    let mut used = vec![args.outcome.clone()];
    used.extend(args.covariates.iter().cloned());
    let cols: Vec<usize> = used
        .iter()
        .map(|name| {
            headers.iter().position(|h| h == name).with_context(|| {
                format!(
                    "{shown}: no column `{name}` (columns: {})",
                    headers.join(", ")
                )
            })
        })
        .collect::<Result<_>>()?;
    let mut cells: Vec<Vec<String>> = Vec::new();
    let mut missing: BTreeMap<String, usize> = BTreeMap::new();
    let mut total = 0;
    for rec in r.records() {
        let rec = rec.with_context(|| format!("reading {shown}"))?;
        total += 1;
        let row: Vec<String> = cols
            .iter()
            .map(|&c| rec.get(c).unwrap_or("").trim().to_owned())
            .collect();
        match row.iter().position(String::is_empty) {
            Some(k) => *missing.entry(used[k].clone()).or_default() += 1,
            None => cells.push(row),
        }
    }
    let y: Vec<bool> = cells
        .iter()
        .enumerate()
        .map(|(i, row)| {
            outcome_value(&row[0], args.positive.as_deref()).with_context(|| {
                format!(
                    "{shown}: row {}, column `{}`: `{}` is not 1/0, true/false or yes/no (name the positive class with --positive)",
                    i + 1,
                    args.outcome,
                    row[0]
                )
            })
        })
        .collect::<Result<_>>()?;
    let covariate_cells: Vec<Vec<&str>> = cells
        .iter()
        .map(|row| row[1..].iter().map(String::as_str).collect())
        .collect();
    let (names, columns, categorical) = oncolens_core::design::code_covariates(
        &args.covariates,
        &covariate_cells,
        &args.categorical,
    );
    let data = LogisticData::new(&y, names, columns).with_context(|| shown.to_string())?;
    Ok((
        data,
        Read {
            rows: total,
            rows_used: cells.len(),
            rows_missing: missing,
            categorical,
        },
    ))
}

fn federated(args: &LogisticArgs) -> Result<LogisticFit> {
    if !args.categorical.is_empty() {
        bail!("--stations: covariates must be numeric columns (no --categorical)");
    }
    let (clients, names) = args.remote.connect()?;
    let spec = FederatedLogisticSpec {
        outcome_column: args.outcome.clone(),
        positive: args.positive.clone(),
        covariates: args.covariates.clone(),
        filter: Default::default(),
    };
    let progress = crate::progress::spinner("federated logistic: Newton steps over the stations");
    let fit = federated_logistic(&names, &spec, |i, job| {
        progress.inc(1);
        clients[i].submit(job)
    });
    progress.finish_and_clear();
    Ok(fit?)
}

pub fn run(args: &LogisticArgs) -> Result<()> {
    let (fit, read_report, source) = match &args.table {
        Some(path) => {
            let (data, report) = read(path, args)?;
            let fit = fit_logistic(&data)
                .with_context(|| format!("fitting a logistic regression to {}", path.display()))?;
            (fit, Some(report), path.display().to_string())
        }
        None => (
            federated(args)?,
            None,
            format!("{} stations", args.remote.stations.len()),
        ),
    };
    let text = if args.json {
        serde_json::to_string_pretty(&serde_json::json!({"table": read_report, "fit": fit}))? + "\n"
    } else if args.csv {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record([
            "term",
            "coef",
            "odds_ratio",
            "se",
            "z",
            "p",
            "coef_lower_95",
            "coef_upper_95",
        ])?;
        for c in &fit.coefficients {
            let mut rec = vec![c.name.clone()];
            rec.extend(
                [
                    c.coef,
                    c.odds_ratio,
                    c.se,
                    c.z,
                    c.p,
                    c.coef_lower_95,
                    c.coef_upper_95,
                ]
                .map(|v| v.to_string()),
            );
            w.write_record(&rec)?;
        }
        String::from_utf8(w.into_inner()?)?
    } else {
        let mut s = format!(
            "Logistic regression of {} on {source}: {} patients, {} positive\n",
            args.outcome, fit.patients, fit.positives
        );
        if let Some(line) = read_report
            .as_ref()
            .and_then(|r| left_out(r.rows, r.rows_used, &r.rows_missing))
        {
            let _ = writeln!(s, "{line}");
        }
        let rows: Vec<CoefficientRow<'_>> = fit
            .coefficients
            .iter()
            .map(|c| CoefficientRow {
                name: &c.name,
                coef: c.coef,
                ratio: c.odds_ratio,
                ratio_lower: c.odds_ratio_lower_95,
                ratio_upper: c.odds_ratio_upper_95,
                se: c.se,
                z: c.z,
                p: c.p,
            })
            .collect();
        s.push('\n');
        s.push_str(&coefficient_table("term", "OR", &rows));
        let _ = writeln!(
            s,
            "\nlog-likelihood {:.3} (null {:.3}); likelihood-ratio test {:.2} on {} df, p = {:.3e}; pseudo R² {:.3}; AIC {:.2}",
            fit.log_likelihood,
            fit.null_log_likelihood,
            fit.lr_statistic,
            fit.lr_df,
            fit.lr_p,
            fit.pseudo_r2,
            fit.aic
        );
        s
    };
    crate::remote_fit::emit(args.out.as_deref(), &text)?;
    Ok(())
}

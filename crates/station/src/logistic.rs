//! Exact federated logistic regression: the log-likelihood is a sum over patients, so the
//! stations' terms at the same coefficients add up to the pooled terms, and Newton steps on
//! the sum reach the pooled estimate (statsmodels' `Logit` on the pooled rows) to rounding.
//!
//! Station side: [`logistic_terms`] (algorithm `logistic_terms`) returns, over its complete
//! cases, the log-likelihood, its gradient and information at the requester's coefficients,
//! and the patient and positive counts; at least `min_cell_size` positives and negatives, or
//! it refuses. Aggregator side: [`federated_logistic`].

use serde::{Deserialize, Serialize};

use oncolens_glm::{
    GlmError, LogisticData, LogisticFit, LogisticTerms, Standardisation,
    logistic_terms as terms_of, maximise, summarise,
};

use crate::data::StationTable;
use crate::policy::{Policy, Refusal, RefusalCode};
use crate::regression::{StationFailure, ask, pooled_standardisation};
use crate::server::{JobOutcome, JobRequest};
use crate::stats::{Filter, StatsError, select_rows};

/// Most covariates a `logistic_terms` request may name.
pub const MAX_LOGISTIC_COVARIATES: usize = 20;

/// Arguments of `logistic_terms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogisticTermsArgs {
    /// Outcome column: numeric 1/0, or categorical with `positive` naming the positive class.
    pub outcome_column: String,
    #[serde(default)]
    pub positive: Option<String>,
    /// Numeric covariate columns.
    pub covariates: Vec<String>,
    /// Standardisation shared by every station.
    pub centre: Vec<f64>,
    pub scale: Vec<f64>,
    /// Standardised coefficients, intercept first.
    pub beta: Vec<f64>,
    #[serde(default)]
    pub filter: Filter,
}

fn bad(msg: impl Into<String>) -> StatsError {
    StatsError::BadArgs(msg.into())
}

/// Each row's outcome (None = missing or not a class of the outcome).
fn outcome_of(
    table: &StationTable,
    column: &str,
    positive: Option<&str>,
) -> Result<Vec<Option<bool>>, StatsError> {
    if let Some(values) = table.numeric(column) {
        return Ok(values
            .iter()
            .map(|v| match v {
                Some(x) if *x == 1.0 => Some(true),
                Some(x) if *x == 0.0 => Some(false),
                _ => None,
            })
            .collect());
    }
    let values = table
        .categorical(column)
        .ok_or_else(|| bad(format!("no column `{column}`")))?;
    let positive = positive.ok_or_else(|| {
        bad(format!(
            "`{column}` is categorical: name its positive class in `positive`"
        ))
    })?;
    Ok(values
        .iter()
        .map(|v| v.as_deref().map(|s| s == positive))
        .collect())
}

/// The station side: logistic log-likelihood terms of this station's complete cases.
pub fn logistic_terms(
    table: &StationTable,
    policy: &Policy,
    args: &LogisticTermsArgs,
) -> Result<LogisticTerms, StatsError> {
    let d = args.covariates.len();
    if d == 0 || d > MAX_LOGISTIC_COVARIATES {
        return Err(bad(format!(
            "covariates: between 1 and {MAX_LOGISTIC_COVARIATES} columns"
        )));
    }
    let outcome = outcome_of(table, &args.outcome_column, args.positive.as_deref())?;
    let covariates: Vec<&[Option<f64>]> = args
        .covariates
        .iter()
        .map(|c| {
            table
                .numeric(c)
                .ok_or_else(|| bad(format!("no numeric column `{c}`")))
        })
        .collect::<Result<_, _>>()?;
    let rows: Vec<usize> = select_rows(table, &args.filter)?
        .into_iter()
        .filter(|&r| outcome[r].is_some() && covariates.iter().all(|c| c[r].is_some()))
        .collect();
    if rows.len() < policy.min_cohort_size {
        return Err(StatsError::Refused(Refusal::new(
            RefusalCode::CohortTooSmall,
            format!(
                "fewer than min_cohort_size = {} complete cases",
                policy.min_cohort_size
            ),
        )));
    }
    let y: Vec<bool> = rows.iter().map(|&r| outcome[r] == Some(true)).collect();
    let positives = y.iter().filter(|&&v| v).count();
    if policy.is_small_cell(positives as u64) || policy.is_small_cell((y.len() - positives) as u64)
    {
        return Err(StatsError::Refused(Refusal::new(
            RefusalCode::CellTooSmall,
            format!(
                "fewer than min_cell_size = {} positive or negative cases",
                policy.min_cell_size
            ),
        )));
    }
    let columns: Vec<Vec<f64>> = covariates
        .iter()
        .map(|c| rows.iter().filter_map(|&r| c[r]).collect())
        .collect();
    let data =
        LogisticData::new(&y, args.covariates.clone(), columns).map_err(|e| bad(e.to_string()))?;
    let standardisation = Standardisation {
        centre: args.centre.clone(),
        scale: args.scale.clone(),
    };
    terms_of(&data, &standardisation, &args.beta).map_err(|e| bad(e.to_string()))
}

/// Why a federated logistic fit stopped.
#[derive(Debug, thiserror::Error)]
pub enum FederatedLogisticError {
    #[error(transparent)]
    Station(#[from] StationFailure),
    #[error(transparent)]
    Fit(#[from] GlmError),
}

/// What to fit across stations.
#[derive(Debug, Clone)]
pub struct FederatedLogisticSpec {
    pub outcome_column: String,
    pub positive: Option<String>,
    pub covariates: Vec<String>,
    pub filter: Filter,
}

/// Fits a logistic regression over the stations' patients from `logistic_terms` answers;
/// `submit(i, job)` runs a job at station `i` (HTTP or in process).
pub fn federated_logistic<E: std::fmt::Display>(
    stations: &[String],
    spec: &FederatedLogisticSpec,
    mut submit: impl FnMut(usize, &JobRequest) -> Result<JobOutcome, E>,
) -> Result<LogisticFit, FederatedLogisticError> {
    let (centre, scale) =
        match pooled_standardisation(stations, &spec.covariates, &spec.filter, &mut submit) {
            Err(StationFailure::Constant(column)) => {
                return Err(GlmError::Constant { column }.into());
            }
            other => other?,
        };
    let standardisation = Standardisation { centre, scale };
    let d = spec.covariates.len();
    let max = maximise(&spec.covariates, |beta: &[f64]| {
        let mut total = LogisticTerms::zero(d);
        for i in 0..stations.len() {
            let args = serde_json::to_value(LogisticTermsArgs {
                outcome_column: spec.outcome_column.clone(),
                positive: spec.positive.clone(),
                covariates: spec.covariates.clone(),
                centre: standardisation.centre.clone(),
                scale: standardisation.scale.clone(),
                beta: beta.to_vec(),
                filter: spec.filter.clone(),
            })
            .unwrap_or_default();
            let t: LogisticTerms = ask(stations, &mut submit, i, "logistic_terms", args)?;
            total.add(&t)?;
        }
        Ok::<_, FederatedLogisticError>(total)
    })?;
    Ok(summarise(&max, &spec.covariates, &standardisation)?)
}

//! Exact federated Cox regression: the stations' partial likelihoods, stratified by station,
//! add up to the pooled stratified one, so Newton steps on the summed gradients and
//! information matrices reach the same estimate as a fit on the pooled patients with
//! `strata = station` (lifelines' and R `survival`'s stratified Cox model), to rounding.
//!
//! Station side: [`cox_terms`] (algorithm `cox_terms`) returns, for the complete cases of its
//! table, the log partial likelihood, its gradient and information at the requester's
//! coefficients, and on request the concordant/tied/comparable pair counts of the linear
//! predictor. Only these sums over at least `min_cell_size` events and `min_cell_size`
//! censored patients leave, never an event time or a row. Each Newton step is one more
//! answer; the audit log records every one (a requester asking for many points learns more
//! than the fit: a policy that worries about that leaves `cox_terms` unapproved or uses
//! `suppression = "refuse"` with a high `min_cell_size`).
//!
//! Aggregator side: [`federated_cox`] standardises with the pooled means and standard
//! deviations (from the stations' `mean` answers), iterates, and reports the same table
//! [`oncolens_survival::fit_cox`] does, without the baseline hazard (it would need event times).

use serde::{Deserialize, Serialize};

use oncolens_survival::{
    Concordance, CoxFit, CoxOptions, CoxTerms, FitContext, Standardisation, SurvivalData,
    SurvivalError, Ties, concordance_of_risk, cox_terms as terms_of, maximise_partial_likelihood,
    summarise,
};

use crate::data::StationTable;
use crate::policy::{Policy, Refusal, RefusalCode};
use crate::regression::{StationFailure, ask, pooled_standardisation};
use crate::server::{JobOutcome, JobRequest};
use crate::stats::{Filter, StatsError, default_event, default_time, select_rows};

/// Most covariates a `cox_terms` request may name.
pub const MAX_COX_COVARIATES: usize = 20;

/// Arguments of `cox_terms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoxTermsArgs {
    /// Follow-up time column (default `time`).
    #[serde(default = "default_time")]
    pub time_column: String,
    /// Event column, 1 = event, 0 = censored (default `event`).
    #[serde(default = "default_event")]
    pub event_column: String,
    /// Numeric covariate columns (at most [`MAX_COX_COVARIATES`]).
    pub covariates: Vec<String>,
    /// Standardisation shared by every station (the pooled means and standard deviations).
    pub centre: Vec<f64>,
    pub scale: Vec<f64>,
    /// Standardised coefficients to evaluate at.
    pub beta: Vec<f64>,
    #[serde(default)]
    pub ties: Ties,
    /// Also count concordant, tied and comparable pairs of the linear predictor.
    #[serde(default)]
    pub concordance: bool,
    #[serde(default)]
    pub filter: Filter,
}

/// Pair counts of Harrell's C within one station.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairCounts {
    pub concordant: u64,
    pub tied: u64,
    pub comparable: u64,
}

/// What `cox_terms` returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoxTermsResult {
    /// Complete cases used.
    pub patients: u64,
    pub events: u64,
    pub terms: CoxTerms,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concordance: Option<PairCounts>,
}

fn bad(msg: impl Into<String>) -> StatsError {
    StatsError::BadArgs(msg.into())
}

/// The station side: partial-likelihood terms of this station's complete cases.
pub fn cox_terms(
    table: &StationTable,
    policy: &Policy,
    args: &CoxTermsArgs,
) -> Result<CoxTermsResult, StatsError> {
    let d = args.covariates.len();
    if d == 0 || d > MAX_COX_COVARIATES {
        return Err(bad(format!(
            "covariates: between 1 and {MAX_COX_COVARIATES} columns"
        )));
    }
    let column = |name: &str| {
        table
            .numeric(name)
            .ok_or_else(|| bad(format!("no numeric column `{name}`")))
    };
    let time = column(&args.time_column)?;
    let event = column(&args.event_column)?;
    let covariates: Vec<&[Option<f64>]> = args
        .covariates
        .iter()
        .map(|c| column(c))
        .collect::<Result<_, _>>()?;
    let rows: Vec<usize> = select_rows(table, &args.filter)?
        .into_iter()
        .filter(|&r| {
            time[r].is_some_and(|t| t >= 0.0)
                && matches!(event[r], Some(e) if e == 0.0 || e == 1.0)
                && covariates.iter().all(|c| c[r].is_some())
        })
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
    let t: Vec<f64> = rows.iter().filter_map(|&r| time[r]).collect();
    let e: Vec<bool> = rows.iter().map(|&r| event[r] == Some(1.0)).collect();
    let events = e.iter().filter(|&&x| x).count();
    let k = policy.min_cell_size;
    if policy.is_small_cell(events as u64) || policy.is_small_cell((rows.len() - events) as u64) {
        // A gradient over a handful of events approaches those patients' own values.
        return Err(StatsError::Refused(Refusal::new(
            RefusalCode::CellTooSmall,
            format!("fewer than min_cell_size = {k} events or censored patients"),
        )));
    }
    let columns: Vec<Vec<f64>> = covariates
        .iter()
        .map(|c| rows.iter().filter_map(|&r| c[r]).collect())
        .collect();
    let data = SurvivalData::new(&t, &e, args.covariates.clone(), columns)
        .map_err(|err| bad(err.to_string()))?;
    let standardisation = Standardisation {
        centre: args.centre.clone(),
        scale: args.scale.clone(),
    };
    let terms =
        terms_of(&data, &standardisation, &args.beta, args.ties).map_err(|e| bad(e.to_string()))?;
    let concordance = if args.concordance {
        let risk: Vec<f64> = (0..data.len())
            .map(|i| {
                data.row(i)
                    .iter()
                    .zip(&args.beta)
                    .enumerate()
                    .map(|(j, (x, b))| b * (x - args.centre[j]) / args.scale[j])
                    .sum()
            })
            .collect();
        match concordance_of_risk(&t, &risk, &e) {
            Ok(c) => Some(PairCounts {
                concordant: c.concordant,
                tied: c.tied,
                comparable: c.comparable,
            }),
            Err(SurvivalError::NoComparablePairs) => Some(PairCounts {
                concordant: 0,
                tied: 0,
                comparable: 0,
            }),
            Err(other) => return Err(bad(other.to_string())),
        }
    } else {
        None
    };
    Ok(CoxTermsResult {
        patients: rows.len() as u64,
        events: events as u64,
        terms,
        concordance,
    })
}

/// Why a federated Cox fit stopped.
#[derive(Debug, thiserror::Error)]
pub enum FederatedCoxError {
    #[error(transparent)]
    Station(#[from] StationFailure),
    #[error(transparent)]
    Fit(#[from] SurvivalError),
}

/// What to fit across stations.
#[derive(Debug, Clone)]
pub struct FederatedCoxSpec {
    pub time_column: String,
    pub event_column: String,
    pub covariates: Vec<String>,
    pub filter: Filter,
}

/// Fits a Cox model stratified by station from `cox_terms` answers. `submit(i, job)` runs a
/// job at station `i` of `stations` (over HTTP with [`crate::StationClient::submit`], or in
/// process). The penalty, if any, uses the pooled patient count, as a pooled fit would.
pub fn federated_cox<E: std::fmt::Display>(
    stations: &[String],
    spec: &FederatedCoxSpec,
    options: &CoxOptions,
    mut submit: impl FnMut(usize, &JobRequest) -> Result<JobOutcome, E>,
) -> Result<CoxFit, FederatedCoxError> {
    let (centre, scale) =
        match pooled_standardisation(stations, &spec.covariates, &spec.filter, &mut submit) {
            Err(StationFailure::Constant(column)) => {
                return Err(SurvivalError::Constant { column }.into());
            }
            other => other?,
        };
    let standardisation = Standardisation { centre, scale };
    let args_at = |beta: &[f64], concordance: bool| {
        serde_json::to_value(CoxTermsArgs {
            time_column: spec.time_column.clone(),
            event_column: spec.event_column.clone(),
            covariates: spec.covariates.clone(),
            centre: standardisation.centre.clone(),
            scale: standardisation.scale.clone(),
            beta: beta.to_vec(),
            ties: options.ties,
            concordance,
            filter: spec.filter.clone(),
        })
        .unwrap_or_default()
    };
    let d = spec.covariates.len();
    // Summed terms, complete cases and events over the stations.
    let mut sum_at = |beta: &[f64]| -> Result<(CoxTerms, u64, u64), FederatedCoxError> {
        let mut total = CoxTerms::zero(d);
        let (mut patients, mut events) = (0, 0);
        for i in 0..stations.len() {
            let r: CoxTermsResult =
                ask(stations, &mut submit, i, "cox_terms", args_at(beta, false))?;
            total.add(&r.terms).map_err(SurvivalError::from)?;
            patients += r.patients;
            events += r.events;
        }
        Ok((total, patients, events))
    };
    // The penalty and the report need the pooled counts: one answer at 0 first.
    let (_, patients, events) = sum_at(&vec![0.0; d])?;
    let n = patients as usize;
    let max = maximise_partial_likelihood(&spec.covariates, n, options, |beta| {
        sum_at(beta).map(|(t, _, _)| t)
    })?;
    // Pair counts within each station at the estimate: the stratified C-index.
    let mut pairs = PairCounts {
        concordant: 0,
        tied: 0,
        comparable: 0,
    };
    for i in 0..stations.len() {
        let r: CoxTermsResult = ask(
            stations,
            &mut submit,
            i,
            "cox_terms",
            args_at(&max.beta, true),
        )?;
        if let Some(c) = r.concordance {
            pairs.concordant += c.concordant;
            pairs.tied += c.tied;
            pairs.comparable += c.comparable;
        }
    }
    // No comparable pair at any station: an undefined index, not a failed fit.
    let concordance = Concordance::from_counts(pairs.concordant, pairs.tied, pairs.comparable)
        .unwrap_or(Concordance {
            index: f64::NAN,
            concordant: 0,
            tied: 0,
            comparable: 0,
        });
    Ok(summarise(
        &max,
        FitContext {
            names: &spec.covariates,
            standardisation: &standardisation,
            options,
            patients: n,
            events: events as usize,
            strata: stations.to_vec(),
            concordance,
        },
    )?)
}

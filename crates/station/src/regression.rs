//! What the exact federated regressions share on the aggregator side: asking a station and
//! reading its answer, and the pooled standardisation of the covariates from `mean` answers.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::policy::Refusal;
use crate::server::{JobOutcome, JobRequest};
use crate::stats::{Filter, MeanArgs, MeanResult, pool_means};

/// Why a station's part of a federated fit failed.
#[derive(Debug, thiserror::Error)]
pub enum StationFailure {
    #[error("station {station}: {message}")]
    Station { station: String, message: String },
    #[error("station {station} refused: {refusal}")]
    Refused { station: String, refusal: Refusal },
    #[error(
        "covariate {0}: a station's count was suppressed, so the pooled standardisation is unknown"
    )]
    Suppressed(String),
    #[error("covariate {0} is constant over the stations' patients")]
    Constant(String),
}

/// Runs `algorithm` with `args` at station `i` through `submit` and decodes its result.
pub(crate) fn ask<T: DeserializeOwned, E: std::fmt::Display>(
    stations: &[String],
    submit: &mut impl FnMut(usize, &JobRequest) -> Result<JobOutcome, E>,
    i: usize,
    algorithm: &str,
    args: Value,
) -> Result<T, StationFailure> {
    let job = JobRequest {
        algorithm: algorithm.into(),
        args,
        request_id: None,
    };
    let station = || stations[i].clone();
    match submit(i, &job) {
        Ok(JobOutcome::Completed(r)) => {
            serde_json::from_value(r.result).map_err(|e| StationFailure::Station {
                station: station(),
                message: format!("cannot read its {algorithm} answer: {e}"),
            })
        }
        Ok(JobOutcome::Refused(refusal)) => Err(StationFailure::Refused {
            station: station(),
            refusal,
        }),
        Err(e) => Err(StationFailure::Station {
            station: station(),
            message: e.to_string(),
        }),
    }
}

/// Pooled mean and sample standard deviation of each covariate over every station's rows
/// (from n, sum and sum of squares), as `(centre, scale)`.
pub(crate) fn pooled_standardisation<E: std::fmt::Display>(
    stations: &[String],
    covariates: &[String],
    filter: &Filter,
    submit: &mut impl FnMut(usize, &JobRequest) -> Result<JobOutcome, E>,
) -> Result<(Vec<f64>, Vec<f64>), StationFailure> {
    let (mut centre, mut scale) = (Vec::new(), Vec::new());
    for name in covariates {
        let args = serde_json::to_value(MeanArgs {
            column: name.clone(),
            filter: filter.clone(),
        })
        .unwrap_or_default();
        let answers: Vec<MeanResult> = (0..stations.len())
            .map(|i| ask(stations, submit, i, "mean", args.clone()))
            .collect::<Result<_, _>>()?;
        let pooled = pool_means(&answers);
        match (pooled.mean, pooled.variance, pooled.suppressed_stations) {
            (Some(m), Some(v), 0) if v > 0.0 => {
                centre.push(m);
                scale.push(v.sqrt());
            }
            (_, Some(_), 0) => return Err(StationFailure::Constant(name.clone())),
            _ => return Err(StationFailure::Suppressed(name.clone())),
        }
    }
    Ok((centre, scale))
}

//! Exact federated regression: three stations (one per site of
//! `fixtures/survival/synthetic.csv`) give the pooled Cox fit stratified by site (over HTTP),
//! which equals lifelines' `CoxPHFitter(strata=["site"])` on the same rows, and the pooled
//! logistic fit, which equals statsmodels' `Logit`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::Arc;

use common::{Running, policy, station};
use oncolens_station::{
    FederatedCoxError, FederatedCoxSpec, FederatedLogisticSpec, JobOutcome, JobRequest, Station,
    StationClient, StationFailure, StationTable, federated_cox, federated_logistic,
    verify_audit_log,
};
use oncolens_survival::{CoxOptions, SurvivalData, fit_cox};
use serde_json::Value;

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/survival")
        .join(name)
}

const COVARIATES: [&str; 3] = ["age", "size_cm", "stage_high"];

/// The fixture's rows: site, time, event and the covariates.
fn rows() -> Vec<(String, Vec<f64>)> {
    let mut r = csv::Reader::from_path(fixture("synthetic.csv")).unwrap();
    let h = r.headers().unwrap().clone();
    let col = |n: &str| h.iter().position(|x| x == n).unwrap();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            let nums = ["time", "event", "age", "size_cm", "stage_high"]
                .iter()
                .map(|c| rec[col(c)].parse::<f64>().unwrap())
                .collect();
            (rec[col("site")].to_owned(), nums)
        })
        .collect()
}

/// One station table per site, holding only that site's rows.
fn site_table(site: &str, rows: &[(String, Vec<f64>)]) -> StationTable {
    let mine: Vec<&Vec<f64>> = rows
        .iter()
        .filter(|(s, _)| s == site)
        .map(|(_, v)| v)
        .collect();
    let mut t = StationTable::new(mine.len());
    for (k, name) in ["time", "event", "age", "size_cm", "stage_high"]
        .iter()
        .enumerate()
    {
        t.add_numeric(*name, mine.iter().map(|v| Some(v[k])).collect())
            .unwrap();
    }
    t
}

fn spec() -> FederatedCoxSpec {
    FederatedCoxSpec {
        time_column: "time".into(),
        event_column: "event".into(),
        covariates: COVARIATES.map(String::from).to_vec(),
        filter: Default::default(),
    }
}

#[track_caller]
fn close(a: f64, b: f64, rel: f64, what: &str) {
    assert!(
        (a - b).abs() <= rel * b.abs().max(1e-12),
        "{what}: federated {a} vs {b}"
    );
}

#[test]
fn three_stations_fit_the_pooled_stratified_model_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let all = rows();
    let sites = ["site_a", "site_b", "site_c"].map(String::from).to_vec();
    let stations: Vec<Arc<Station>> = sites
        .iter()
        .map(|s| {
            Arc::new(station(
                site_table(s, &all),
                policy("cell", ""),
                &dir.path().join(format!("{s}.jsonl")),
            ))
        })
        .collect();
    let running: Vec<Running> = stations
        .iter()
        .map(|s| Running::start(s.clone(), None))
        .collect();
    let clients: Vec<StationClient> = running
        .iter()
        .map(|r| StationClient::new(&r.url("http")))
        .collect();
    let fit = federated_cox(&sites, &spec(), &CoxOptions::default(), |i, job| {
        clients[i].submit(job)
    })
    .unwrap();

    // The same rows pooled, stratified by site, fitted in one place.
    let time: Vec<f64> = all.iter().map(|(_, v)| v[0]).collect();
    let event: Vec<bool> = all.iter().map(|(_, v)| v[1] == 1.0).collect();
    let columns: Vec<Vec<f64>> = (2..5)
        .map(|k| all.iter().map(|(_, v)| v[k]).collect())
        .collect();
    let labels: Vec<&str> = all.iter().map(|(s, _)| s.as_str()).collect();
    let pooled = fit_cox(
        &SurvivalData::new(
            &time,
            &event,
            COVARIATES.map(String::from).to_vec(),
            columns,
        )
        .unwrap()
        .with_strata(&labels)
        .unwrap(),
        &CoxOptions::default(),
    )
    .unwrap();
    assert_eq!((fit.patients, fit.events), (pooled.patients, pooled.events));
    for (f, p) in fit.covariates.iter().zip(&pooled.covariates) {
        close(f.coef, p.coef, 1e-9, &format!("coef of {}", f.name));
        close(f.se, p.se, 1e-9, &format!("se of {}", f.name));
    }
    close(
        fit.log_likelihood,
        pooled.log_likelihood,
        1e-12,
        "log-likelihood",
    );
    assert_eq!(fit.concordance, pooled.concordance);

    // And lifelines on the pooled rows with strata=["site"].
    let reference: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("lifelines_synthetic.json")).unwrap(),
    )
    .unwrap();
    let want = &reference["fits"]["efron_strata_site"];
    for (k, c) in fit.covariates.iter().enumerate() {
        close(
            c.coef,
            want["coef"][k].as_f64().unwrap(),
            1e-7,
            "lifelines coef",
        );
        close(c.se, want["se"][k].as_f64().unwrap(), 1e-7, "lifelines se");
    }
    close(
        fit.concordance.index,
        want["concordance"].as_f64().unwrap(),
        1e-12,
        "lifelines concordance",
    );

    // Every answer is in each station's audit log, and the chain verifies.
    drop(running);
    for s in &sites {
        let log = dir.path().join(format!("{s}.jsonl"));
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(text.lines().filter(|l| l.contains("\"cox_terms\"")).count() >= 3);
        verify_audit_log(&log).unwrap();
    }
}

/// A station answered in process (what the aggregator does with its own site's station).
fn in_process(station: &Station, job: &JobRequest) -> Result<JobOutcome, String> {
    let (status, body) = station.handle_job(&serde_json::to_vec(job).unwrap(), Some("test"));
    let v: Value = serde_json::from_slice(&body).unwrap();
    match status.as_u16() {
        200 => Ok(JobOutcome::Completed(serde_json::from_value(v).unwrap())),
        403 => Ok(JobOutcome::Refused(
            serde_json::from_value(v["refused"].clone()).unwrap(),
        )),
        s => Err(format!("HTTP {s}: {v}")),
    }
}

#[test]
fn a_station_with_few_events_refuses_and_the_fit_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let all = rows();
    // site_c keeps only 4 of its events: below min_cell_size = 5.
    let mut seen = 0;
    let trimmed: Vec<(String, Vec<f64>)> = all
        .into_iter()
        .filter(|(s, v)| {
            if s == "site_c" && v[1] == 1.0 {
                seen += 1;
                seen <= 4
            } else {
                true
            }
        })
        .collect();
    let sites = ["site_a", "site_c"].map(String::from).to_vec();
    let stations: Vec<Station> = sites
        .iter()
        .map(|s| {
            station(
                site_table(s, &trimmed),
                policy("cell", ""),
                &dir.path().join(format!("{s}.jsonl")),
            )
        })
        .collect();
    let err = federated_cox(&sites, &spec(), &CoxOptions::default(), |i, job| {
        in_process(&stations[i], job)
    })
    .unwrap_err();
    assert!(
        matches!(
            &err,
            FederatedCoxError::Station(StationFailure::Refused { station, .. }) if station == "site_c"
        ),
        "{err}"
    );
    assert!(err.to_string().contains("min_cell_size"), "{err}");
}

#[test]
fn three_stations_fit_the_pooled_logistic_regression_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let all = rows();
    let sites = ["site_a", "site_b", "site_c"].map(String::from).to_vec();
    let stations: Vec<Station> = sites
        .iter()
        .map(|s| {
            station(
                site_table(s, &all),
                policy("cell", ""),
                &dir.path().join(format!("{s}.jsonl")),
            )
        })
        .collect();
    let spec = FederatedLogisticSpec {
        outcome_column: "event".into(),
        positive: None,
        covariates: COVARIATES.map(String::from).to_vec(),
        filter: Default::default(),
    };
    let fit = federated_logistic(&sites, &spec, |i, job| in_process(&stations[i], job)).unwrap();
    let y: Vec<bool> = all.iter().map(|(_, v)| v[1] == 1.0).collect();
    let columns: Vec<Vec<f64>> = (2..5)
        .map(|k| all.iter().map(|(_, v)| v[k]).collect())
        .collect();
    let pooled = oncolens_glm::fit_logistic(
        &oncolens_glm::LogisticData::new(&y, COVARIATES.map(String::from).to_vec(), columns)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        (fit.patients, fit.positives),
        (pooled.patients, pooled.positives)
    );
    for (f, p) in fit.coefficients.iter().zip(&pooled.coefficients) {
        close(f.coef, p.coef, 1e-9, &format!("coef of {}", f.name));
        close(f.se, p.se, 1e-9, &format!("se of {}", f.name));
    }
    let want: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../fixtures/glm/statsmodels_synthetic.json"),
        )
        .unwrap(),
    )
    .unwrap();
    for (k, c) in fit.coefficients.iter().enumerate() {
        close(
            c.coef,
            want["coef"][k].as_f64().unwrap(),
            1e-8,
            "statsmodels coef",
        );
        close(
            c.se,
            want["se"][k].as_f64().unwrap(),
            1e-8,
            "statsmodels se",
        );
    }
    close(
        fit.log_likelihood,
        want["log_likelihood"].as_f64().unwrap(),
        1e-10,
        "statsmodels log-likelihood",
    );
}

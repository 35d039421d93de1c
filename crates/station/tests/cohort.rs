//! A station on a generated cohort folder: the table's columns, every built-in algorithm run,
//! and no case id (pseudonym) in any answer or in the audit log.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use common::{Running, policy, station};
use oncolens_station::{StationClient, StationTable, data::ColumnKind, verify_audit_log};
use serde_json::json;

#[test]
fn cohort_table_and_no_identifier_leaves_or_is_logged() {
    let dir = tempfile::tempdir().unwrap();
    let cohort = dir.path().join("cohort");
    let config = oncolens_synth::SynthConfig {
        patients: 36,
        sites: 1,
        seed: 11,
        matrix: 16,
        z_extent_mm: 20.0,
    };
    oncolens_synth::generate(&config, &cohort, &|| {}).unwrap();
    // KiTS19 imports carry outcomes in pathology.csv; write one like it.
    let ids: Vec<String> = oncolens_io::scan_cohort(&cohort)
        .unwrap()
        .entries
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(ids.len(), 36);
    let mut csv =
        String::from("case_id,tumor_histologic_subtype,vital_status,vital_days_after_surgery\n");
    for (i, id) in ids.iter().enumerate() {
        // KiTS19's own words: "censored" for alive at last contact ("alive" also accepted).
        let status = match i % 3 {
            0 => "dead",
            1 => "censored",
            _ => "alive",
        };
        let subtype = if i.is_multiple_of(2) {
            "clear_cell_rcc"
        } else {
            "papillary"
        };
        csv.push_str(&format!("{id},{subtype},{status},{}\n", 100 + 10 * i));
    }
    std::fs::write(cohort.join("pathology.csv"), csv).unwrap();
    let table = StationTable::from_cohort(&cohort).unwrap();
    assert_eq!(table.n_rows(), 36);
    let schema = table.schema();
    for (name, kind) in [
        ("site", ColumnKind::Categorical),
        ("label", ColumnKind::Categorical),
        ("sex", ColumnKind::Categorical),
        ("has_image", ColumnKind::Categorical),
        ("age_years", ColumnKind::Numeric),
        ("outcome_tumor_histologic_subtype", ColumnKind::Categorical),
        ("outcome_vital_days_after_surgery", ColumnKind::Numeric),
        ("time", ColumnKind::Numeric),
        ("event", ColumnKind::Numeric),
    ] {
        assert!(
            schema.contains(&(name.to_owned(), kind)),
            "{name} in {schema:?}"
        );
    }
    let labels = table.categorical("label").unwrap();
    assert!(
        labels
            .iter()
            .flatten()
            .all(|l| l == "benign" || l == "malignant")
    );
    assert_eq!(table.numeric("time").unwrap()[2], Some(120.0));
    assert_eq!(table.numeric("event").unwrap()[3], Some(1.0));
    // "censored" is alive at last contact, not unknown: such patients stay at risk.
    assert_eq!(table.numeric("event").unwrap()[1], Some(0.0));

    let log = dir.path().join("audit.jsonl");
    let st = Arc::new(station(table, policy("cell", ""), &log));
    let categorical: Vec<String> = schema
        .iter()
        .filter(|(_, k)| *k == ColumnKind::Categorical)
        .map(|(n, _)| n.clone())
        .collect();
    let numeric: Vec<String> = schema
        .iter()
        .filter(|(_, k)| *k == ColumnKind::Numeric)
        .map(|(n, _)| n.clone())
        .collect();
    let running = Running::start(st, None);
    let client = StationClient::new(&running.url("http"));
    let mut answers = vec![client.info().unwrap().to_string()];
    // days 100..=450, a death every third case: [0, 300) 36 at risk, 7 deaths, 13 censored
    let km = json!({"algorithm": "kaplan_meier", "args": {"edges": [0, 300, 1000]}});
    let (status, v) = client
        .post_raw("/v1/jobs", km.to_string().as_bytes())
        .unwrap();
    assert_eq!(status, 200, "{v}");
    let first = &v["result"]["intervals"][0];
    assert_eq!(
        (
            &first["at_risk"]["count"],
            &first["events"]["count"],
            &first["censored"]["count"]
        ),
        (&json!(36), &json!(7), &json!(13))
    );
    answers.push(v.to_string());
    let mut post = |body: serde_json::Value| {
        let (status, v) = client
            .post_raw("/v1/jobs", body.to_string().as_bytes())
            .unwrap();
        assert!([200, 400, 403].contains(&status), "{status} {v}");
        answers.push(v.to_string());
        status
    };
    for c in &categorical {
        assert_eq!(
            post(json!({"algorithm": "count", "args": {"group_by": c}})),
            200
        );
        for d in &categorical {
            post(json!({"algorithm": "contingency", "args": {"rows": c, "columns": d}}));
        }
    }
    for n in &numeric {
        assert_eq!(
            post(json!({"algorithm": "mean", "args": {"column": n}})),
            200
        );
        post(json!({"algorithm": "histogram", "args": {"column": n, "edges": [0, 50, 100, 1000]}}));
    }
    post(
        json!({"algorithm": "kaplan_meier", "args": {"edges": [0, 1], "time_column": "age_years", "event_column": "age_years"}}),
    );
    post(json!({"algorithm": "dp_noise", "args": {"steps": 1}}));
    post(json!({"algorithm": "slow", "args": {"ms": 1}}));
    post(json!({"algorithm": "train_round"}));
    post(json!({"algorithm": "count", "args": {"filter": {"site": ids[0]}}}));
    drop(running);

    verify_audit_log(&log).unwrap();
    let log_text = std::fs::read_to_string(&log).unwrap();
    let all_answers = answers.join("\n");
    for id in &ids {
        assert!(
            !log_text.contains(id.as_str()),
            "case id {id} in the audit log"
        );
        if id != &ids[0] {
            assert!(
                !all_answers.contains(id.as_str()),
                "case id {id} left the station"
            );
        }
    }
}

//! The HTTP API over loopback: statistics, every kind of policy refusal, bad and oversized
//! requests, the audit log, the DP budget across a restart, and a long job beside `/v1/info`.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Running, audit_entries, policy, station, table};
use oncolens_station::{
    ClientError, JobOutcome, JobRequest, RefusalCode, StationClient, verify_audit_log,
};
use serde_json::{Value, json};

fn job(algorithm: &str, args: Value, id: &str) -> JobRequest {
    JobRequest {
        algorithm: algorithm.into(),
        args,
        request_id: Some(id.into()),
    }
}

fn refused(outcome: JobOutcome) -> (RefusalCode, String) {
    match outcome {
        JobOutcome::Refused(r) => (r.code, r.reason),
        JobOutcome::Completed(r) => panic!("expected a refusal, got {r:?}"),
    }
}

fn completed(outcome: JobOutcome) -> Value {
    match outcome {
        JobOutcome::Completed(r) => r.result,
        JobOutcome::Refused(r) => panic!("refused: {r}"),
    }
}

#[test]
fn statistics_refusals_errors_and_audit() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    let st = Arc::new(station(table(), policy("refuse", ""), &log));
    let running = Running::start(st.clone(), None);
    let client = StationClient::new(&running.url("http"));
    let mut requests = 0;

    // info: names and numbers only
    let info = client.info().unwrap();
    requests += 1;
    assert_eq!(info["station"], "test-station");
    assert_eq!(info["sites"], json!(["a", "b"]));
    assert_eq!(info["policy"]["min_cell_size"], 5);
    assert!(
        info["algorithms"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["name"] == "kaplan_meier" && a["approved"] == true)
    );

    // statistics
    let r = completed(
        client
            .submit(&job("count", json!({"group_by": "sex"}), "c1"))
            .unwrap(),
    );
    requests += 1;
    assert_eq!(r["n"]["count"], 30);
    assert_eq!(
        r["groups"][0],
        json!({"value": "female", "count": {"count": 18}})
    );
    let r = completed(
        client
            .submit(&job("mean", json!({"column": "age"}), "m1"))
            .unwrap(),
    );
    requests += 1;
    assert_eq!(r["n"]["count"], 30);
    assert_eq!(r["sum"], json!((30..60).sum::<i32>() as f64));
    let r = completed(
        client
            .submit(&job(
                "kaplan_meier",
                json!({"edges": [0.0, 16.0, 31.0]}),
                "km1",
            ))
            .unwrap(),
    );
    requests += 1;
    // times 1..=30, events at 1, 4, 7, ..., 28: [0,16) 30 at risk, 5 events, 10 censored;
    // [16,31) 15 at risk, 5 events, 10 censored
    let iv = &r["intervals"];
    assert_eq!(iv[0]["at_risk"]["count"], 30);
    assert_eq!(iv[0]["events"]["count"], 5);
    assert_eq!(iv[0]["censored"]["count"], 10);
    assert_eq!(iv[1]["at_risk"]["count"], 15);
    assert_eq!(iv[1]["events"]["count"], 5);

    // a too-small cell in refuse mode: male x benign = 4 < 5
    let (code, reason) = refused(
        client
            .submit(&job(
                "contingency",
                json!({"rows": "sex", "columns": "label"}),
                "ct1",
            ))
            .unwrap(),
    );
    requests += 1;
    assert_eq!(code, RefusalCode::CellTooSmall);
    assert!(reason.contains("sex=female, label=malignant"), "{reason}");

    // cohort too small after a filter: 12 males pass, 3 malignant females do not
    let (code, _) = refused(
        client
            .submit(&job(
                "count",
                json!({"filter": {"sex": "female", "label": "malignant"}}),
                "c2",
            ))
            .unwrap(),
    );
    requests += 1;
    assert_eq!(code, RefusalCode::CohortTooSmall);

    // unapproved algorithm (even one that does not exist)
    let (code, reason) = refused(client.submit(&job("export_rows", json!({}), "x1")).unwrap());
    requests += 1;
    assert_eq!(code, RefusalCode::UnapprovedAlgorithm);
    assert!(reason.contains("export_rows"));

    // output kind the policy keeps in
    let (code, _) = refused(client.submit(&job("train_round", json!({}), "t1")).unwrap());
    requests += 1;
    assert_eq!(code, RefusalCode::OutputNotAllowed);

    // DP budget 3.0 at 1.0 per step: 2 steps pass, 2 more would make 4
    let ok = client
        .submit(&job("dp_noise", json!({"steps": 2}), "dp1"))
        .unwrap();
    requests += 1;
    match ok {
        JobOutcome::Completed(r) => {
            assert_eq!(r.epsilon_spent, Some(2.0));
            assert_eq!(r.epsilon_total, Some(2.0));
        }
        JobOutcome::Refused(r) => panic!("{r}"),
    }
    let (code, reason) = refused(
        client
            .submit(&job("dp_noise", json!({"steps": 2}), "dp2"))
            .unwrap(),
    );
    requests += 1;
    assert_eq!(code, RefusalCode::BudgetExhausted);
    assert!(reason.contains("budget 3"), "{reason}");
    assert_eq!(st.epsilon_spent(), 2.0);

    // bad requests: the message names the field
    let cases: [(&[u8], &str); 6] = [
        (b"{\"algorithm\": \"count\", \"argz\": {}}", "argz"),
        (b"{\"algorithm\": 5}", "algorithm"),
        (
            b"{\"algorithm\": \"count\", \"request_id\": \"a b\"}",
            "request_id",
        ),
        (b"not json", "invalid job request"),
        (b"{\"algorithm\": \"count\"} trailing", "trailing"),
        (
            b"{\"algorithm\": \"mean\", \"args\": {\"column\": 5}}",
            "args.column",
        ),
    ];
    for (body, needle) in cases {
        let (status, v) = client.post_raw("/v1/jobs", body).unwrap();
        requests += 1;
        assert_eq!(status, 400, "{}", String::from_utf8_lossy(body));
        let msg = v["error"].as_str().unwrap();
        assert!(msg.contains(needle), "{msg} should name {needle}");
    }
    let (status, v) = client
        .post_raw(
            "/v1/jobs",
            br#"{"algorithm": "histogram", "args": {"column": "age", "edges": [2, 1]}}"#,
        )
        .unwrap();
    requests += 1;
    assert_eq!(status, 400);
    assert!(v["error"].as_str().unwrap().contains("increasing"));
    let err = client
        .submit(&job("mean", json!({"column": "sex"}), "m2"))
        .unwrap_err();
    requests += 1;
    assert!(
        matches!(&err, ClientError::Status { status: 400, message } if message.contains("`sex`")),
        "{err}"
    );

    // oversized: 413, then the station still answers
    let big = format!(
        "{{\"algorithm\": \"count\", \"args\": {{\"filter\": {{\"x\": \"{}\"}}}}}}",
        "a".repeat(10_000)
    );
    let (status, v) = client.post_raw("/v1/jobs", big.as_bytes()).unwrap();
    requests += 1;
    assert_eq!(status, 413);
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("max_request_bytes = 4096")
    );
    let (status, _) = client.post_raw("/v1/nothing", b"{}").unwrap();
    requests += 1;
    assert_eq!(status, 404);
    let (status, v) = client.post_raw("/v1/info", b"{}").unwrap();
    requests += 1;
    assert_eq!(status, 405);
    assert!(v["error"].as_str().unwrap().contains("method not allowed"));
    let r = completed(client.submit(&job("count", json!({}), "c3")).unwrap());
    requests += 1;
    assert_eq!(r["n"]["count"], 30);

    // the audit log: one entry per request, chained, with outcomes and codes
    drop(running);
    let head = verify_audit_log(&log).unwrap();
    assert_eq!(head.entries, requests);
    let entries = audit_entries(&log);
    let codes: Vec<&str> = entries
        .iter()
        .filter_map(|e| e["outcome"]["code"].as_str())
        .collect();
    for code in [
        "cell_too_small",
        "cohort_too_small",
        "unapproved_algorithm",
        "output_not_allowed",
        "budget_exhausted",
    ] {
        assert!(codes.contains(&code), "{code} logged");
    }
    let dp = entries.iter().find(|e| e["request_id"] == "dp1").unwrap();
    assert_eq!(dp["epsilon_spent"], 2.0);
    assert_eq!(dp["outcome"]["status"], "ok");
    let over = entries
        .iter()
        .find(|e| e["outcome"]["http_status"] == 413)
        .unwrap();
    assert_eq!(over["request_bytes"], big.len());
    assert!(
        entries
            .iter()
            .all(|e| e["response_bytes"].as_u64().unwrap() > 0)
    );

    // restart on the same log: the spent budget is still spent
    drop(st);
    let st = Arc::new(station(table(), policy("refuse", ""), &log));
    assert_eq!(st.epsilon_spent(), 2.0);
    let running = Running::start(st, None);
    let client = StationClient::new(&running.url("http"));
    let (code, _) = refused(
        client
            .submit(&job("dp_noise", json!({"steps": 2}), "dp3"))
            .unwrap(),
    );
    assert_eq!(code, RefusalCode::BudgetExhausted);
    assert_eq!(client.info().unwrap()["epsilon_spent"], 2.0);
}

#[test]
fn cell_suppression_mode_returns_nulls_with_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let st = Arc::new(station(
        table(),
        policy("cell", ""),
        &dir.path().join("audit.jsonl"),
    ));
    let running = Running::start(st, None);
    let client = StationClient::new(&running.url("http"));
    let r = completed(
        client
            .submit(&job(
                "contingency",
                json!({"rows": "sex", "columns": "label"}),
                "ct",
            ))
            .unwrap(),
    );
    // female: 15 benign, 3 malignant (small); male: 4 benign (small), 8 malignant
    assert_eq!(r["cells"][0][0]["count"], 15);
    assert_eq!(r["cells"][0][1]["count"], Value::Null);
    assert_eq!(r["cells"][1][0]["count"], Value::Null);
    assert_eq!(r["cells"][1][1]["count"], 8);
    assert!(
        r["cells"][0][1]["suppressed"]
            .as_str()
            .unwrap()
            .contains("min_cell_size = 5")
    );
}

#[test]
fn a_long_job_does_not_block_info() {
    let dir = tempfile::tempdir().unwrap();
    let st = Arc::new(station(
        table(),
        policy("cell", ""),
        &dir.path().join("audit.jsonl"),
    ));
    let running = Running::start(st, None);
    let url = running.url("http");
    let slow = std::thread::spawn({
        let url = url.clone();
        move || {
            let client = StationClient::new(&url);
            let t = Instant::now();
            let r = client.submit(&job("slow", json!({"ms": 1500}), "slow1"));
            (r.map(completed), t.elapsed())
        }
    });
    std::thread::sleep(Duration::from_millis(200));
    let client = StationClient::new(&url);
    let t = Instant::now();
    for _ in 0..3 {
        client.info().unwrap();
    }
    let info_time = t.elapsed();
    let (result, slow_time) = slow.join().unwrap();
    assert_eq!(result.unwrap()["auc"], 0.5);
    assert!(slow_time >= Duration::from_millis(1500));
    assert!(
        info_time < Duration::from_millis(1000),
        "info waited for the job: {info_time:?}"
    );
}

#[test]
fn openapi_lists_the_paths() {
    let dir = tempfile::tempdir().unwrap();
    let st = Arc::new(station(
        table(),
        policy("cell", ""),
        &dir.path().join("audit.jsonl"),
    ));
    let running = Running::start(st, None);
    let text = ureq::get(&format!("{}/openapi.json", running.url("http")))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in ["/v1/info", "/v1/jobs", "/openapi.json"] {
        assert!(doc["paths"].get(path).is_some(), "{path}");
    }
    assert!(
        doc["paths"]["/v1/jobs"]["post"]["responses"]
            .get("413")
            .is_some()
    );
}

#[test]
fn station_opens_from_files_and_the_example_policy_parses() {
    let root =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/station/policy.toml");
    let p = oncolens_station::Policy::from_file(&root).unwrap();
    assert!(p.allows_algorithm("kaplan_meier"));
    assert_eq!(p.min_cell_size, 5);
    let dir = tempfile::tempdir().unwrap();
    let err = oncolens_station::Station::open(
        "x",
        &dir.path().join("no-such-cohort"),
        &root,
        &dir.path().join("audit.jsonl"),
        Arc::new(oncolens_station::LinearAccountant {
            epsilon_per_step: 1.0,
        }),
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("no-such-cohort"), "{err}");
}

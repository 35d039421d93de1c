//! Mutual TLS over loopback: a client with a certificate from the station's CA gets answers and
//! is named in the audit log; a client without a certificate, or with one from another CA, is
//! rejected (and the failed handshake logged); the station keeps serving afterwards.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use common::{Running, audit_entries, policy, station, table};
use oncolens_station::{
    ClientError, ClientIdentity, JobOutcome, JobRequest, StationClient, TlsConfig, make_test_ca,
    verify_audit_log,
};
use serde_json::json;

#[test]
fn mutual_tls_round_trip_and_rejections() {
    let dir = tempfile::tempdir().unwrap();
    let ca = make_test_ca(&dir.path().join("pki"), &["station_a", "aggregator"]).unwrap();
    let other = make_test_ca(&dir.path().join("other"), &["intruder"]).unwrap();
    let (cert, key) = &ca.identities["station_a"];
    let tls = TlsConfig::mutual(cert, key, &ca.ca_cert).unwrap();
    let log = dir.path().join("audit.jsonl");
    let st = Arc::new(station(table(), policy("cell", ""), &log));
    let running = Running::start(st, Some(tls));
    let url = format!("https://localhost:{}", running.addr.port());
    let identity = |ca: &oncolens_station::TestCa, name: &str| {
        let (c, k) = &ca.identities[name];
        ClientIdentity {
            cert_pem: c.clone(),
            key_pem: k.clone(),
        }
    };

    let good =
        StationClient::with_tls(&url, &ca.ca_cert, Some(&identity(&ca, "aggregator"))).unwrap();
    let info = good.info().unwrap();
    assert_eq!(info["station"], "test-station");
    let job = JobRequest {
        algorithm: "count".into(),
        args: json!({"group_by": "site"}),
        request_id: Some("tls-1".into()),
    };
    match good.submit(&job).unwrap() {
        JobOutcome::Completed(r) => assert_eq!(r.result["n"]["count"], 30),
        JobOutcome::Refused(r) => panic!("{r}"),
    }

    // no client certificate
    let anonymous = StationClient::with_tls(&url, &ca.ca_cert, None).unwrap();
    let err = anonymous.info().unwrap_err();
    assert!(matches!(err, ClientError::Transport(_)), "{err}");
    // a certificate from another CA
    let intruder =
        StationClient::with_tls(&url, &ca.ca_cert, Some(&identity(&other, "intruder"))).unwrap();
    let err = intruder.submit(&job).unwrap_err();
    assert!(matches!(err, ClientError::Transport(_)), "{err}");
    // a client that does not trust the station's CA
    let distrustful =
        StationClient::with_tls(&url, &other.ca_cert, Some(&identity(&other, "intruder"))).unwrap();
    assert!(distrustful.info().is_err());

    // still serving
    let again =
        StationClient::with_tls(&url, &ca.ca_cert, Some(&identity(&ca, "aggregator"))).unwrap();
    assert_eq!(again.info().unwrap()["station"], "test-station");
    drop(running);

    verify_audit_log(&log).unwrap();
    let entries = audit_entries(&log);
    let job_entry = entries.iter().find(|e| e["request_id"] == "tls-1").unwrap();
    assert_eq!(job_entry["requester"], "aggregator");
    let tls_failures = entries.iter().filter(|e| e["endpoint"] == "tls").count();
    assert!(
        tls_failures >= 2,
        "failed handshakes are logged: {tls_failures}"
    );
    assert!(
        entries
            .iter()
            .filter(|e| e["endpoint"] == "info")
            .all(|e| e["requester"] == "aggregator")
    );
}

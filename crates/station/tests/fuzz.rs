//! Fuzzing the request parsers: random bytes and random JSON never panic, never get a 5xx, and
//! the station keeps answering valid requests afterwards.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{policy, station, table};
use oncolens_station::{parse_job_request, router};
use proptest::prelude::*;
use serde_json::{Value, json};
use tower::ServiceExt;

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|i| json!(i)),
        any::<f64>().prop_map(|f| json!(f)),
        "[a-z_]{0,8}".prop_map(Value::String),
        prop_oneof![
            Just("sex"),
            Just("age"),
            Just("label"),
            Just("site"),
            Just("time"),
            Just("event"),
            Just("female"),
            Just("count"),
            Just("mean"),
            Just("histogram"),
            Just("contingency"),
            Just("kaplan_meier"),
            Just("dp_noise")
        ]
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    "[a-z_]{1,8}".boxed(),
                    prop_oneof![
                        Just("algorithm"),
                        Just("args"),
                        Just("request_id"),
                        Just("column"),
                        Just("group_by"),
                        Just("filter"),
                        Just("edges"),
                        Just("rows"),
                        Just("columns"),
                        Just("steps"),
                        Just("time_column")
                    ]
                    .prop_map(str::to_owned)
                    .boxed(),
                ],
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn arb_request() -> impl Strategy<Value = Value> {
    (
        prop_oneof![
            Just(json!("count")),
            Just(json!("mean")),
            Just(json!("histogram")),
            Just(json!("contingency")),
            Just(json!("kaplan_meier")),
            Just(json!("dp_noise")),
            Just(json!("nope")),
            arb_json()
        ],
        arb_json(),
        prop::option::of(arb_json()),
    )
        .prop_map(|(algorithm, args, extra)| {
            let mut m = serde_json::Map::new();
            m.insert("algorithm".into(), algorithm);
            m.insert("args".into(), args);
            if let Some(x) = extra {
                m.insert("request_id".into(), x);
            }
            Value::Object(m)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn parser_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_job_request(&bytes);
    }

    #[test]
    fn parser_never_panics_on_json(v in arb_request()) {
        let bytes = serde_json::to_vec(&v).unwrap();
        let _ = parse_job_request(&bytes);
    }
}

#[test]
fn router_answers_random_input_with_4xx_or_200_and_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let st = Arc::new(station(
        table(),
        policy("cell", ""),
        &dir.path().join("audit.jsonl"),
    ));
    let app = router(st);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let send = |body: Vec<u8>| {
        let req = Request::post("/v1/jobs")
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap();
        rt.block_on(app.clone().oneshot(req)).unwrap().status()
    };
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 192,
        ..ProptestConfig::default()
    });
    let bytes = prop::collection::vec(any::<u8>(), 0..600);
    runner
        .run(&bytes, |b| {
            let status = send(b);
            prop_assert!(status.is_client_error(), "{status}");
            Ok(())
        })
        .unwrap();
    runner
        .run(&arb_request(), |v| {
            let status = send(serde_json::to_vec(&v).unwrap());
            prop_assert!(
                status.is_client_error() || status == StatusCode::OK,
                "{status} for {v}"
            );
            Ok(())
        })
        .unwrap();
    // oversized: 413
    let big = vec![b'x'; 5000];
    assert_eq!(send(big), StatusCode::PAYLOAD_TOO_LARGE);
    // still serving
    assert_eq!(
        send(br#"{"algorithm": "count", "args": {"group_by": "sex"}}"#.to_vec()),
        StatusCode::OK
    );
}

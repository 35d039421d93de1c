//! Interop with a real Flower server from PyPI: a `flower-superlink --insecure` on a free
//! loopback port, 3 oncolens Rust client nodes in threads, and Flower's FedAvg ServerApp
//! (`fixtures/flower/app`, run with `flwr run`) for 2 rounds of train + evaluate. The final
//! global arrays the ServerApp writes must equal the example-weighted mean of what the stations
//! sent, round after round, to 1e-6.
//!
//! Needs python3 and PyPI (first run) for `fixtures/flower/setup_venv.sh` (`.venv-flower/`, or
//! the venv named by `FLOWER_VENV`). When the venv cannot be made the test fails; set
//! `ONCOLENS_SKIP_FLOWER=1` to opt out locally.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic on setup failures

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[path = "support/pull_update.rs"]
mod pull_update;
#[path = "support/superlink.rs"]
mod superlink;

use oncolens_flower::{
    ClientError, Config, EvaluateResult, FitResult, FlowerClient, Metrics, NdArray, NodeOptions,
    run_node,
};

const NUM_PARAMS: usize = 1000;
const ROUNDS: usize = 2;
/// (local dataset size, target the station's "training" pulls towards)
const STATIONS: [(u64, f64); 3] = [(10, 0.1), (30, -0.2), (60, 0.3)];

/// A deterministic station: `new = old + lr * (target - old)` in the array's dtype.
struct Station {
    target: f64,
    num_examples: u64,
    rounds_seen: Arc<Mutex<Vec<i64>>>,
}

impl FlowerClient for Station {
    fn fit(&mut self, parameters: Vec<NdArray>, config: &Config) -> Result<FitResult, ClientError> {
        let lr = config.get_f64("lr").ok_or("config has no lr")?;
        let round = config
            .get_i64("server-round")
            .ok_or("config has no server-round")?;
        self.rounds_seen.lock().map_err(|_| "poisoned")?.push(round);
        let out = pull_update::pull_towards(parameters, lr, self.target)?;
        Ok(FitResult {
            parameters: out,
            num_examples: self.num_examples,
            metrics: Metrics::new().with_f64("train-loss", 0.0),
        })
    }

    fn evaluate(
        &mut self,
        parameters: Vec<NdArray>,
        _config: &Config,
    ) -> Result<EvaluateResult, ClientError> {
        Ok(EvaluateResult {
            loss: pull_update::squared_distance(&parameters, self.target),
            num_examples: self.num_examples,
            metrics: Metrics::new(),
        })
    }
}

/// The model of `fixtures/flower/app/oncolens_flower_app/common.py`.
fn initial_model() -> (Vec<f64>, Vec<f64>) {
    let w = (0..NUM_PARAMS)
        .map(|i| f64::from(((i % 97) as f64 / 97.0 - 0.5) as f32))
        .collect();
    let b = (0..6).map(|i| i as f64 * 0.25 - 0.5).collect();
    (w, b)
}

/// FedAvg of the stations' updates, round after round, in f64.
fn expected(mut a: Vec<f64>, lr: f64) -> Vec<f64> {
    let total: f64 = STATIONS.iter().map(|(n, _)| *n as f64).sum();
    for _ in 0..ROUNDS {
        a = a
            .iter()
            .map(|x| {
                STATIONS
                    .iter()
                    .map(|(n, t)| *n as f64 * (x + lr * (t - x)))
                    .sum::<f64>()
                    / total
            })
            .collect();
    }
    a
}

#[test]
fn three_rust_stations_train_with_flower_fedavg() {
    if superlink::skipped() {
        eprintln!("ONCOLENS_SKIP_FLOWER=1: Flower interop test skipped");
        return;
    }
    let started = Instant::now();
    let link = superlink::SuperLink::start();
    eprintln!(
        "SuperLink up after {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let stop = Arc::new(AtomicBool::new(false));
    let mut nodes = Vec::new();
    let rounds_seen: Vec<Arc<Mutex<Vec<i64>>>> =
        (0..STATIONS.len()).map(|_| Arc::default()).collect();
    for (i, (n, t)) in STATIONS.iter().enumerate() {
        let url = link.url.clone();
        let options = NodeOptions {
            stop: Some(stop.clone()),
            poll_interval: Duration::from_millis(100),
            ..NodeOptions::default()
        };
        let mut station = Station {
            target: *t,
            num_examples: *n,
            rounds_seen: rounds_seen[i].clone(),
        };
        nodes.push(std::thread::spawn(move || {
            run_node(&url, &mut station, options)
        }));
    }

    // The ServerApp: FedAvg over 3 nodes, 2 rounds, writing the final arrays.
    let doc = link.run_server_app(
        &format!(
            "num-params={NUM_PARAMS} num-server-rounds={ROUNDS} min-nodes={}",
            STATIONS.len()
        ),
        &stop,
        Duration::from_secs(240),
    );
    eprintln!(
        "ServerApp finished after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let summaries: Vec<_> = nodes
        .into_iter()
        .map(|h| h.join().unwrap().expect("node failed"))
        .collect();
    drop(link);

    let arrays = &doc["arrays"];
    let values = |name: &str| -> Vec<f64> {
        arrays[name]["data"]
            .as_array()
            .unwrap_or_else(|| panic!("no array {name} in {doc}"))
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    };
    assert_eq!(arrays["w"]["dtype"], "float32");
    assert_eq!(arrays["b"]["dtype"], "float64");
    assert_eq!(arrays["b"]["shape"], serde_json::json!([2, 3]));
    let (w0, b0) = initial_model();
    let lr = 0.5;
    let (want_w, want_b) = (expected(w0, lr), expected(b0, lr));
    let (got_w, got_b) = (values("w"), values("b"));
    assert_eq!(got_w.len(), NUM_PARAMS);
    let max_err = |got: &[f64], want: &[f64]| {
        got.iter()
            .zip(want)
            .map(|(g, w)| (g - w).abs())
            .fold(0.0f64, f64::max)
    };
    let (ew, eb) = (max_err(&got_w, &want_w), max_err(&got_b, &want_b));
    eprintln!("max |aggregated - expected|: w (float32) {ew:.2e}, b (float64) {eb:.2e}");
    assert!(ew <= 1e-6, "float32 weights differ by {ew}");
    assert!(eb <= 1e-6, "float64 bias differs by {eb}");

    // Every station trained in rounds 1 and 2 and evaluated twice.
    for (i, s) in summaries.iter().enumerate() {
        assert_eq!(s.train_messages, ROUNDS as u64, "station {i}: {s:?}");
        assert_eq!(s.evaluate_messages, ROUNDS as u64, "station {i}: {s:?}");
        assert_eq!(s.error_replies, 0, "station {i}: {s:?}");
        assert_eq!(*rounds_seen[i].lock().unwrap(), vec![1, 2]);
        assert!(s.bytes_received > (NUM_PARAMS * 4 * ROUNDS) as u64);
    }
    // The ServerApp's weighted evaluation loss is the example-weighted mean the stations sent.
    let eval = &doc["evaluate_metrics"]["2"]["loss"];
    assert!(eval.as_f64().is_some(), "no evaluate loss in {doc}");
    eprintln!(
        "interop test done in {:.1} s; rounds took {}",
        started.elapsed().as_secs_f64(),
        doc["round_times_s"]
    );
}

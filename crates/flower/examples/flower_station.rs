//! Runs oncolens Flower client nodes against a SuperLink: the Rust side of `bench/federated`.
//!
//! ```text
//! cargo run --release -p oncolens-flower --example flower_station -- \
//!     --superlink http://127.0.0.1:9092 --nodes 3 [--stop-file PATH] [--idle-timeout SECS]
//! ```
//! Node `i` (0-based) does the deterministic "training" of `fixtures/flower/app`'s NumPy
//! ClientApp with target `TARGETS[i]` and `NUM_EXAMPLES[i]` examples. The nodes leave when the
//! stop file appears (or after the idle timeout); then one JSON line per node is printed with its
//! counters (messages, HTTP body bytes).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

#[path = "../tests/support/pull_update.rs"]
mod pull_update;

use oncolens_flower::{
    ClientError, Config, EvaluateResult, FitResult, FlowerClient, Metrics, NdArray, NodeOptions,
    run_node,
};

/// Same values as `bench/federated/bench.py` gives the Python SuperNodes.
const TARGETS: [f64; 3] = [0.1, -0.2, 0.3];
const NUM_EXAMPLES: [u64; 3] = [10, 30, 60];

struct Station {
    target: f64,
    num_examples: u64,
}

impl FlowerClient for Station {
    fn fit(&mut self, parameters: Vec<NdArray>, config: &Config) -> Result<FitResult, ClientError> {
        let lr = config.get_f64("lr").ok_or("config has no lr")?;
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

fn main() -> ExitCode {
    let mut superlink = String::from("http://127.0.0.1:9092");
    let mut nodes = 3usize;
    let mut stop_file: Option<PathBuf> = None;
    let mut idle: Option<Duration> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_default();
        match a.as_str() {
            "--superlink" => superlink = value(),
            "--nodes" => nodes = value().parse().unwrap_or(3).clamp(1, TARGETS.len()),
            "--stop-file" => stop_file = Some(PathBuf::from(value())),
            "--idle-timeout" => idle = value().parse().ok().map(Duration::from_secs_f64),
            other => {
                eprintln!("unknown argument {other}");
                return ExitCode::from(2);
            }
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    if let Some(path) = stop_file.clone() {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !path.exists() {
                std::thread::sleep(Duration::from_millis(100));
            }
            stop.store(true, Ordering::Relaxed);
        });
    }
    let handles: Vec<_> = (0..nodes)
        .map(|i| {
            let url = superlink.clone();
            let options = NodeOptions {
                stop: Some(stop.clone()),
                idle_timeout: idle,
                poll_interval: Duration::from_millis(100),
                ..NodeOptions::default()
            };
            std::thread::spawn(move || {
                let mut station = Station {
                    target: TARGETS[i],
                    num_examples: NUM_EXAMPLES[i],
                };
                run_node(&url, &mut station, options)
            })
        })
        .collect();
    let mut ok = true;
    for (i, h) in handles.into_iter().enumerate() {
        match h.join() {
            Ok(Ok(s)) => println!(
                "{{\"node\": {i}, \"node_id\": {}, \"train\": {}, \"evaluate\": {}, \"errors\": {}, \"bytes_sent\": {}, \"bytes_received\": {}}}",
                s.node_id,
                s.train_messages,
                s.evaluate_messages,
                s.error_replies,
                s.bytes_sent,
                s.bytes_received
            ),
            Ok(Err(e)) => {
                eprintln!("node {i}: {e}");
                ok = false;
            }
            Err(_) => {
                eprintln!("node {i} panicked");
                ok = false;
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

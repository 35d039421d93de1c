//! Shared helpers: a station on loopback (port 0) in its own runtime thread, hand-built tables.
#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use oncolens_station::{
    Algorithm, AuditLog, DpCost, JobContext, JobError, LinearAccountant, OutputKind, Policy,
    Station, StationTable, TlsConfig, serve_on,
};
use serde_json::{Value, json};

pub const ALL_ALGORITHMS: &str = r#"["count", "mean", "histogram", "contingency", "kaplan_meier", "cox_terms", "logistic_terms", "dp_noise", "slow", "train_round"]"#;

pub fn policy(suppression: &str, extra: &str) -> Policy {
    let text = format!(
        "allowed_algorithms = {ALL_ALGORITHMS}\n\
         allowed_outputs = [\"aggregate_statistics\", \"metrics\"]\n\
         min_cohort_size = 10\nmin_cell_size = 5\nsuppression = \"{suppression}\"\n\
         max_request_bytes = 4096\n{extra}\n\
         [privacy]\nepsilon_budget = 3.0\ndelta = 1e-5\n"
    );
    Policy::from_toml_str(&text, Path::new("test-policy.toml")).unwrap()
}

/// 30 rows: sex female (rows 0-17) / male; label female 15 benign 3 malignant, male 4 benign
/// 8 malignant; site a (0-14) / b; age 30 + row; time = row + 1, event = row % 3 == 0.
pub fn table() -> StationTable {
    let n = 30;
    let mut t = StationTable::new(n);
    let cat = |f: &dyn Fn(usize) -> &'static str| -> Vec<Option<String>> {
        (0..n).map(|i| Some(f(i).to_owned())).collect()
    };
    t.add_categorical("sex", cat(&|i| if i < 18 { "female" } else { "male" }))
        .unwrap();
    t.add_categorical(
        "label",
        cat(&|i| {
            let malignant = if i < 18 { i >= 15 } else { i >= 22 };
            if malignant { "malignant" } else { "benign" }
        }),
    )
    .unwrap();
    t.add_categorical("site", cat(&|i| if i < 15 { "a" } else { "b" }))
        .unwrap();
    t.add_numeric("age", (0..n).map(|i| Some(30.0 + i as f64)).collect())
        .unwrap();
    t.add_numeric("time", (0..n).map(|i| Some(i as f64 + 1.0)).collect())
        .unwrap();
    t.add_numeric(
        "event",
        (0..n)
            .map(|i| Some(f64::from(u8::from(i.is_multiple_of(3)))))
            .collect(),
    )
    .unwrap();
    t
}

/// A differentially private stand-in: costs `args.steps` steps, returns a constant.
pub struct DpNoise;

impl Algorithm for DpNoise {
    fn name(&self) -> &str {
        "dp_noise"
    }
    fn output_kind(&self) -> OutputKind {
        OutputKind::AggregateStatistics
    }
    fn privacy_cost(&self, args: &Value) -> Result<Option<DpCost>, JobError> {
        let steps = args.get("steps").and_then(Value::as_u64).unwrap_or(1);
        Ok(Some(DpCost {
            noise_multiplier: 1.0,
            sample_rate: 0.01,
            steps,
        }))
    }
    fn run(&self, _ctx: &JobContext, _args: Value) -> Result<Value, JobError> {
        Ok(json!({"noisy_count": 30.4}))
    }
}

/// Sleeps `args.ms` milliseconds (a long job).
pub struct Slow;

impl Algorithm for Slow {
    fn name(&self) -> &str {
        "slow"
    }
    fn output_kind(&self) -> OutputKind {
        OutputKind::Metrics
    }
    fn privacy_cost(&self, _args: &Value) -> Result<Option<DpCost>, JobError> {
        Ok(None)
    }
    fn run(&self, _ctx: &JobContext, args: Value) -> Result<Value, JobError> {
        let ms = args.get("ms").and_then(Value::as_u64).unwrap_or(10);
        std::thread::sleep(std::time::Duration::from_millis(ms));
        Ok(json!({"auc": 0.5}))
    }
}

/// Returns a model update, which the test policy does not let leave.
pub struct TrainRound;

impl Algorithm for TrainRound {
    fn name(&self) -> &str {
        "train_round"
    }
    fn output_kind(&self) -> OutputKind {
        OutputKind::ModelUpdate
    }
    fn privacy_cost(&self, _args: &Value) -> Result<Option<DpCost>, JobError> {
        Ok(None)
    }
    fn run(&self, _ctx: &JobContext, _args: Value) -> Result<Value, JobError> {
        Ok(json!({"weights": [0.0]}))
    }
}

pub fn station(table: StationTable, policy: Policy, audit_path: &Path) -> Station {
    let audit = AuditLog::open(audit_path).unwrap();
    let mut s = Station::new(
        "test-station",
        table,
        policy,
        audit,
        Arc::new(LinearAccountant {
            epsilon_per_step: 1.0,
        }),
    );
    s.register(Arc::new(DpNoise));
    s.register(Arc::new(Slow));
    s.register(Arc::new(TrainRound));
    s
}

/// A station serving on 127.0.0.1:0 in a thread of its own; shut down on drop.
pub struct Running {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    pub fn start(station: Arc<Station>, tls: Option<TlsConfig>) -> Running {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                serve_on(station, listener, tls, async move {
                    let _ = stop_rx.await;
                })
                .await
                .unwrap();
            });
        });
        let addr = addr_rx.recv().unwrap();
        Running {
            addr,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://{}", self.addr)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The audit log's entries as JSON values.
pub fn audit_entries(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

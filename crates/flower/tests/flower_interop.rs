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

use std::io::Write as _;
use std::net::TcpListener;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[path = "support/pull_update.rs"]
mod pull_update;

use oncolens_flower::{
    ClientError, Config, EvaluateResult, FitResult, FlowerClient, Metrics, NdArray, NodeOptions,
    run_node,
};

const NUM_PARAMS: usize = 1000;
const ROUNDS: usize = 2;
/// (local dataset size, target the station's "training" pulls towards)
const STATIONS: [(u64, f64); 3] = [(10, 0.1), (30, -0.2), (60, 0.3)];

/// Kills a spawned process group when dropped.
struct ProcessGuard {
    name: &'static str,
    child: Child,
}

impl ProcessGuard {
    fn spawn(name: &'static str, cmd: &mut Command) -> ProcessGuard {
        let child = cmd
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        ProcessGuard { name, child }
    }
}

impl Drop for ProcessGuard {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-TERM", "--", &group])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        eprintln!("stopped {}", self.name);
    }
}

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

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The venv with the pinned flwr: `FLOWER_VENV`, or made by `fixtures/flower/setup_venv.sh`.
fn flower_venv() -> Result<PathBuf, String> {
    let script = repo_root().join("fixtures/flower/setup_venv.sh");
    let out = Command::new("bash")
        .arg(&script)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} failed ({}): is python3 installed and PyPI reachable?",
            script.display(),
            out.status
        ));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let venv = stdout.lines().last().unwrap_or_default().trim().to_string();
    let venv = PathBuf::from(venv);
    if !venv.join("bin/flower-superlink").exists() {
        return Err(format!("{} has no flower-superlink", venv.display()));
    }
    Ok(venv)
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn wait_healthy(url: &str, superlink: &mut ProcessGuard, log: &Path) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(2)))
        .build()
        .into();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = superlink.child.try_wait() {
            panic!(
                "flower-superlink exited ({status}):\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        if agent.get(format!("{url}/health")).call().is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!(
        "flower-superlink did not become healthy within 60 s:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "__pycache__" {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            copy_dir(&path, &to.join(&name));
        } else {
            std::fs::copy(&path, to.join(&name)).unwrap();
        }
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
    if std::env::var("ONCOLENS_SKIP_FLOWER").is_ok_and(|v| v == "1") {
        eprintln!("ONCOLENS_SKIP_FLOWER=1: Flower interop test skipped");
        return;
    }
    let started = Instant::now();
    let venv = match flower_venv() {
        Ok(v) => v,
        Err(why) => panic!(
            "Flower interop test cannot run: {why}\n(set ONCOLENS_SKIP_FLOWER=1 to opt out locally)"
        ),
    };
    let bin = venv.join("bin");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("flwr-home");
    std::fs::create_dir_all(&home).unwrap();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let mut cfg = std::fs::File::create(home.join("config.toml")).unwrap();
    write!(
        cfg,
        "[superlink]\ndefault = \"local\"\n\n[superlink.local]\naddress = \"127.0.0.1:{port}\"\ninsecure = true\n"
    )
    .unwrap();
    drop(cfg);

    let log_path = tmp.path().join("superlink.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut superlink = ProcessGuard::spawn(
        "flower-superlink",
        Command::new(bin.join("flower-superlink"))
            .args([
                "--insecure",
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--disable-runtime-dependency-installation",
            ])
            .env("PATH", &path)
            .env("FLWR_HOME", &home)
            .env("FLWR_TELEMETRY_ENABLED", "0")
            .env("FLWR_DISABLE_UPDATE_CHECK", "1")
            .current_dir(tmp.path())
            .stdout(log.try_clone().unwrap())
            .stderr(log),
    );
    wait_healthy(&url, &mut superlink, &log_path);
    eprintln!(
        "SuperLink up after {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let stop = Arc::new(AtomicBool::new(false));
    let mut nodes = Vec::new();
    let rounds_seen: Vec<Arc<Mutex<Vec<i64>>>> =
        (0..STATIONS.len()).map(|_| Arc::default()).collect();
    for (i, (n, t)) in STATIONS.iter().enumerate() {
        let url = url.clone();
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

    // The ServerApp: FedAvg over 3 nodes, 2 rounds, writing the final arrays to `output`.
    let app = tmp.path().join("app");
    copy_dir(&repo_root().join("fixtures/flower/app"), &app);
    let output = tmp.path().join("result.json");
    let run_log_path = tmp.path().join("flwr-run.log");
    let run_log = std::fs::File::create(&run_log_path).unwrap();
    let run_config = format!(
        "output=\"{}\" num-params={NUM_PARAMS} num-server-rounds={ROUNDS} min-nodes={}",
        output.display(),
        STATIONS.len()
    );
    let mut flwr_run = ProcessGuard::spawn(
        "flwr run",
        Command::new(bin.join("flwr"))
            .arg("run")
            .arg(&app)
            .arg("local")
            .args(["--stream", "--run-config", &run_config])
            .env("PATH", &path)
            .env("FLWR_HOME", &home)
            .env("FLWR_TELEMETRY_ENABLED", "0")
            .env("FLWR_DISABLE_UPDATE_CHECK", "1")
            .current_dir(tmp.path())
            .stdout(run_log.try_clone().unwrap())
            .stderr(run_log),
    );
    let deadline = Instant::now() + Duration::from_secs(240);
    while !output.exists() {
        if Instant::now() > deadline {
            stop.store(true, Ordering::Relaxed);
            panic!(
                "no result from the ServerApp within 240 s\n--- flwr run:\n{}\n--- superlink:\n{}",
                std::fs::read_to_string(&run_log_path).unwrap_or_default(),
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
        }
        if let Ok(Some(status)) = flwr_run.child.try_wait()
            && !output.exists()
        {
            std::thread::sleep(Duration::from_secs(1));
            if !output.exists() {
                stop.store(true, Ordering::Relaxed);
                panic!(
                    "flwr run ended ({status}) without a result\n--- flwr run:\n{}\n--- superlink:\n{}",
                    std::fs::read_to_string(&run_log_path).unwrap_or_default(),
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                );
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!(
        "ServerApp finished after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    stop.store(true, Ordering::Relaxed);
    let summaries: Vec<_> = nodes
        .into_iter()
        .map(|h| h.join().unwrap().expect("node failed"))
        .collect();
    drop(flwr_run);
    drop(superlink);

    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&output).unwrap()).unwrap();
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

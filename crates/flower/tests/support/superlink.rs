//! A real Flower federation for tests: the pinned `flwr` venv, a `flower-superlink --insecure`
//! on a free loopback port, and the FedAvg ServerApp of `fixtures/flower/app` run with
//! `flwr run`. Shared by the Flower interop test (oncolens-flower) and the multimodal-station
//! test (oncolens-federated), which include this file with `#[path]`.

#![allow(dead_code)]

use std::io::Write as _;
use std::net::TcpListener;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub const SKIP_ENV: &str = "ONCOLENS_SKIP_FLOWER";

/// True when `ONCOLENS_SKIP_FLOWER=1` asks to skip the tests that need Python and PyPI.
pub fn skipped() -> bool {
    std::env::var(SKIP_ENV).is_ok_and(|v| v == "1")
}

/// Kills a spawned process group when dropped.
pub struct ProcessGuard {
    name: &'static str,
    pub child: Child,
}

impl ProcessGuard {
    pub fn spawn(name: &'static str, cmd: &mut Command) -> ProcessGuard {
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

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The venv with the pinned flwr: `FLOWER_VENV`, or made by `fixtures/flower/setup_venv.sh`.
pub fn flower_venv() -> Result<PathBuf, String> {
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

pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

pub fn wait_healthy(url: &str, superlink: &mut ProcessGuard, log: &Path) {
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

pub fn copy_dir(from: &Path, to: &Path) {
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

/// A running SuperLink with its Flower home, ready for nodes and one ServerApp run.
pub struct SuperLink {
    pub url: String,
    pub tmp: tempfile::TempDir,
    home: PathBuf,
    path: String,
    bin: PathBuf,
    log_path: PathBuf,
    process: ProcessGuard,
}

impl SuperLink {
    /// Makes (or reuses) the venv and starts the SuperLink; panics with the reason and the
    /// opt-out when it cannot.
    pub fn start() -> SuperLink {
        let venv = match flower_venv() {
            Ok(v) => v,
            Err(why) => panic!(
                "Flower interop test cannot run: {why}\n(set {SKIP_ENV}=1 to opt out locally)"
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
        let mut process = ProcessGuard::spawn(
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
        wait_healthy(&url, &mut process, &log_path);
        SuperLink {
            url,
            tmp,
            home,
            path,
            bin,
            log_path,
            process,
        }
    }

    /// Runs the FedAvg ServerApp of `fixtures/flower/app` with `run_config` (its `output` is
    /// set here) and returns the JSON it writes. On failure or after `timeout` it sets `stop`
    /// (so the caller's nodes end) and panics with both logs.
    pub fn run_server_app(
        &self,
        run_config: &str,
        stop: &AtomicBool,
        timeout: Duration,
    ) -> serde_json::Value {
        let app = self.tmp.path().join("app");
        copy_dir(&repo_root().join("fixtures/flower/app"), &app);
        let output = self.tmp.path().join("result.json");
        let run_log_path = self.tmp.path().join("flwr-run.log");
        let run_log = std::fs::File::create(&run_log_path).unwrap();
        let run_config = format!("output=\"{}\" {run_config}", output.display());
        let mut flwr_run = ProcessGuard::spawn(
            "flwr run",
            Command::new(self.bin.join("flwr"))
                .arg("run")
                .arg(&app)
                .arg("local")
                .args(["--stream", "--run-config", &run_config])
                .env("PATH", &self.path)
                .env("FLWR_HOME", &self.home)
                .env("FLWR_TELEMETRY_ENABLED", "0")
                .env("FLWR_DISABLE_UPDATE_CHECK", "1")
                .current_dir(self.tmp.path())
                .stdout(run_log.try_clone().unwrap())
                .stderr(run_log),
        );
        let logs = || {
            format!(
                "--- flwr run:\n{}\n--- superlink:\n{}",
                std::fs::read_to_string(&run_log_path).unwrap_or_default(),
                std::fs::read_to_string(&self.log_path).unwrap_or_default()
            )
        };
        let deadline = Instant::now() + timeout;
        while !output.exists() {
            if Instant::now() > deadline {
                stop.store(true, Ordering::Relaxed);
                panic!(
                    "no result from the ServerApp within {timeout:?}\n{}",
                    logs()
                );
            }
            if let Ok(Some(status)) = flwr_run.child.try_wait()
                && !output.exists()
            {
                std::thread::sleep(Duration::from_secs(1));
                if !output.exists() {
                    stop.store(true, Ordering::Relaxed);
                    panic!("flwr run ended ({status}) without a result\n{}", logs());
                }
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        stop.store(true, Ordering::Relaxed);
        drop(flwr_run);
        serde_json::from_str(&std::fs::read_to_string(&output).unwrap()).unwrap()
    }
}

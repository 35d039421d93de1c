//! Federated learning over the network: the station side (an [`Algorithm`] a data station
//! runs under its policy) and the aggregator side (a [`Participant`] that calls a station's
//! HTTP API). Both wrap the same [`LocalStation`], so the embedded federation and a networked
//! one run the same code; only the transport differs.
//!
//! Every call is a `POST /v1/jobs` with algorithm [`ALGORITHM`] and `args.action` naming the
//! step. Weights travel as base64 of little-endian `f32`. The station's policy must approve
//! the algorithm and the `model_update` output, and its audit log records every step.

use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use oncolens_nn::ModelConfig;
use oncolens_privacy::rdp::RdpAccountant;
use oncolens_privacy::secagg::{
    AdvertiseKeys, ForwardedShares, KeysBroadcast, MaskedInput, SecAggConfig, ShareKeys,
    UnmaskRequest, UnmaskShares,
};
use oncolens_station::{
    Accountant, Algorithm, DpCost, JobContext, JobError, JobOutcome, JobRequest, OutputKind,
    StationClient,
};
use oncolens_train::{LocalRound, LocalUpdate, PrepSummary, Preprocessor, TrainConfig};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::FederatedError;
use crate::participant::{LocalStation, Participant, SiteEval};

/// The algorithm name a station's policy must approve.
pub const ALGORITHM: &str = "federated_train";

/// Weights as base64 of little-endian `f32`.
pub fn encode_weights(w: &[f32]) -> String {
    let mut bytes = Vec::with_capacity(w.len() * 4);
    for v in w {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    STANDARD.encode(bytes)
}

/// The inverse of [`encode_weights`].
pub fn decode_weights(s: &str) -> Result<Vec<f32>, String> {
    let bytes = STANDARD
        .decode(s)
        .map_err(|e| format!("weights are not base64: {e}"))?;
    if bytes.len() % 4 != 0 {
        return Err(format!(
            "weights: {} bytes is not a whole number of f32",
            bytes.len()
        ));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// The station side: runs the federation's steps on the station's own patients.
pub struct FederatedTrainAlgorithm {
    station: Mutex<LocalStation>,
    /// DP parameters of each release, when the station adds noise (its policy's budget is
    /// enforced by the station server through [`Algorithm::privacy_cost`]).
    noise_multiplier: Option<f64>,
}

impl FederatedTrainAlgorithm {
    pub fn new(station: LocalStation) -> Self {
        let noise_multiplier = station.privacy().map(|p| p.mechanism.noise_multiplier);
        Self {
            station: Mutex::new(station),
            noise_multiplier,
        }
    }
}

fn arg<T: DeserializeOwned>(args: &Value, key: &str) -> Result<T, JobError> {
    let v = args
        .get(key)
        .cloned()
        .ok_or_else(|| JobError::BadArgs(format!("args.{key} is missing")))?;
    serde_json::from_value(v).map_err(|e| JobError::BadArgs(format!("args.{key}: {e}")))
}

fn weights_arg(args: &Value, key: &str) -> Result<Vec<f32>, JobError> {
    let s: String = arg(args, key)?;
    decode_weights(&s).map_err(|e| JobError::BadArgs(format!("args.{key}: {e}")))
}

fn failed(e: FederatedError) -> JobError {
    JobError::Failed(e.to_string())
}

fn to_value<T: serde::Serialize>(v: &T) -> Result<Value, JobError> {
    serde_json::to_value(v).map_err(|e| JobError::Failed(e.to_string()))
}

impl Algorithm for FederatedTrainAlgorithm {
    fn name(&self) -> &str {
        ALGORITHM
    }

    fn output_kind(&self) -> OutputKind {
        OutputKind::ModelUpdate
    }

    fn privacy_cost(&self, args: &Value) -> Result<Option<DpCost>, JobError> {
        let action: String = arg(args, "action")?;
        // Each release of a model update is one Gaussian mechanism on the whole update.
        Ok(match (action.as_str(), self.noise_multiplier) {
            ("train" | "secure_begin", Some(sigma)) => Some(DpCost {
                noise_multiplier: sigma,
                sample_rate: 1.0,
                steps: 1,
            }),
            _ => None,
        })
    }

    fn run(&self, _ctx: &JobContext, args: Value) -> Result<Value, JobError> {
        let action: String = arg(&args, "action")?;
        let mut st = self
            .station
            .lock()
            .map_err(|_| JobError::Failed("the training state is poisoned".into()))?;
        match action.as_str() {
            "summary" => to_value(&st.prep_summary(arg(&args, "min_cell")?).map_err(failed)?),
            "plan" => {
                let prep: Preprocessor = arg(&args, "preprocessor")?;
                let config: ModelConfig = arg(&args, "config")?;
                let train: TrainConfig = arg(&args, "train")?;
                st.set_plan(&prep, &config, &train).map_err(failed)?;
                Ok(json!({}))
            }
            "num_examples" => Ok(json!(st.num_examples())),
            "train" => {
                let global = weights_arg(&args, "global")?;
                let round: LocalRound = arg(&args, "round")?;
                let u = st.train_round(&global, &round).map_err(failed)?;
                Ok(json!({
                    "weights": encode_weights(&u.weights),
                    "num_examples": u.num_examples,
                    "train_loss": u.train_loss,
                }))
            }
            "evaluate" => to_value(
                &st.evaluate(&weights_arg(&args, "global")?)
                    .map_err(failed)?,
            ),
            "secure_begin" => {
                let global = weights_arg(&args, "global")?;
                to_value(
                    &st.secure_begin(
                        arg(&args, "id")?,
                        &arg::<SecAggConfig>(&args, "config")?,
                        &global,
                        &arg::<LocalRound>(&args, "round")?,
                        arg(&args, "total_examples")?,
                    )
                    .map_err(failed)?,
                )
            }
            "secure_share" => to_value(
                &st.secure_share(&arg::<KeysBroadcast>(&args, "keys")?)
                    .map_err(failed)?,
            ),
            "secure_masked" => to_value(
                &st.secure_masked(&arg::<ForwardedShares>(&args, "shares")?)
                    .map_err(failed)?,
            ),
            "secure_unmask" => to_value(
                &st.secure_unmask(&arg::<UnmaskRequest>(&args, "request")?)
                    .map_err(failed)?,
            ),
            other => Err(JobError::BadArgs(format!(
                "args.action: unknown step `{other}` (summary, plan, num_examples, train, \
                 evaluate, secure_begin, secure_share, secure_masked, secure_unmask)"
            ))),
        }
    }
}

/// Rényi-DP accounting for a station's policy budget ([`oncolens_privacy::rdp`]).
pub struct RdpBudget;

impl Accountant for RdpBudget {
    fn epsilon_after(&self, history: &[DpCost], next: &DpCost, delta: f64) -> f64 {
        let mut acc = RdpAccountant::new();
        for h in history {
            if acc
                .record(h.noise_multiplier, h.sample_rate, h.steps)
                .is_err()
            {
                return f64::INFINITY;
            }
        }
        acc.epsilon_if(next.noise_multiplier, next.sample_rate, next.steps, delta)
            .unwrap_or(f64::INFINITY)
    }
}

/// The aggregator side: a station reached over HTTP(S).
pub struct RemoteStation {
    site: String,
    client: Arc<StationClient>,
    num_examples: usize,
    calls: usize,
}

impl RemoteStation {
    pub fn new(site: impl Into<String>, client: StationClient) -> Self {
        Self {
            site: site.into(),
            client: Arc::new(client),
            num_examples: 0,
            calls: 0,
        }
    }

    fn call(&mut self, action: &str, mut args: Value) -> Result<Value, FederatedError> {
        self.calls += 1;
        if let Some(o) = args.as_object_mut() {
            o.insert("action".into(), json!(action));
        }
        let job = JobRequest {
            algorithm: ALGORITHM.into(),
            args,
            request_id: Some(format!("{action}-{}", self.calls)),
        };
        let err = |message: String| FederatedError::Station {
            site: self.site.clone(),
            message,
        };
        match self.client.submit(&job) {
            Ok(JobOutcome::Completed(r)) => Ok(r.result),
            Ok(JobOutcome::Refused(r)) => Err(err(format!("refused ({:?}): {}", r.code, r.reason))),
            Err(e) => Err(err(e.to_string())),
        }
    }

    fn parse<T: DeserializeOwned>(&self, v: Value) -> Result<T, FederatedError> {
        serde_json::from_value(v).map_err(|e| FederatedError::Station {
            site: self.site.clone(),
            message: format!("unexpected answer: {e}"),
        })
    }
}

impl Participant for RemoteStation {
    fn site(&self) -> &str {
        &self.site
    }

    fn prep_summary(&mut self, min_cell: u64) -> Result<PrepSummary, FederatedError> {
        let v = self.call("summary", json!({ "min_cell": min_cell }))?;
        self.parse(v)
    }

    fn set_plan(
        &mut self,
        preprocessor: &Preprocessor,
        config: &ModelConfig,
        train: &TrainConfig,
    ) -> Result<(), FederatedError> {
        self.call(
            "plan",
            json!({ "preprocessor": preprocessor, "config": config, "train": train }),
        )?;
        let n = self.call("num_examples", json!({}))?;
        self.num_examples = self.parse(n)?;
        Ok(())
    }

    fn train_round(
        &mut self,
        global: &[f32],
        round: &LocalRound,
    ) -> Result<LocalUpdate, FederatedError> {
        let v = self.call(
            "train",
            json!({ "global": encode_weights(global), "round": round }),
        )?;
        let site = self.site.clone();
        let bad = |m: &str| FederatedError::Station {
            site: site.clone(),
            message: m.to_owned(),
        };
        let weights = v
            .get("weights")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("answer without weights"))
            .and_then(|s| decode_weights(s).map_err(|e| bad(&e)))?;
        Ok(LocalUpdate {
            weights,
            num_examples: v
                .get("num_examples")
                .and_then(Value::as_u64)
                .ok_or_else(|| bad("answer without num_examples"))?
                as usize,
            train_loss: v
                .get("train_loss")
                .and_then(Value::as_f64)
                .unwrap_or(f64::NAN),
        })
    }

    fn evaluate(&mut self, global: &[f32]) -> Result<SiteEval, FederatedError> {
        let v = self.call("evaluate", json!({ "global": encode_weights(global) }))?;
        self.parse(v)
    }

    fn num_examples(&self) -> usize {
        self.num_examples
    }

    fn secure_begin(
        &mut self,
        id: u32,
        config: &SecAggConfig,
        global: &[f32],
        round: &LocalRound,
        total_examples: usize,
    ) -> Result<AdvertiseKeys, FederatedError> {
        let v = self.call(
            "secure_begin",
            json!({ "id": id, "config": config, "global": encode_weights(global),
                    "round": round, "total_examples": total_examples }),
        )?;
        self.parse(v)
    }

    fn secure_share(&mut self, keys: &KeysBroadcast) -> Result<ShareKeys, FederatedError> {
        let v = self.call("secure_share", json!({ "keys": keys }))?;
        self.parse(v)
    }

    fn secure_masked(&mut self, shares: &ForwardedShares) -> Result<MaskedInput, FederatedError> {
        let v = self.call("secure_masked", json!({ "shares": shares }))?;
        self.parse(v)
    }

    fn secure_unmask(&mut self, request: &UnmaskRequest) -> Result<UnmaskShares, FederatedError> {
        let v = self.call("secure_unmask", json!({ "request": request }))?;
        self.parse(v)
    }
}

/// Stations served on loopback by this process (the embedded default of a networked
/// federation): each [`LocalStation`] behind its own HTTP(S) station server with a policy, an
/// audit log and, with `tls`, mutual TLS from a test certificate authority. Dropping the value
/// shuts the servers down.
pub struct LoopbackStations {
    runtime: Option<tokio::runtime::Runtime>,
    shutdown: Vec<tokio::sync::oneshot::Sender<()>>,
    /// `(site, base URL)` of every station.
    pub urls: Vec<(String, String)>,
    /// Where each station's audit log is.
    pub audit_logs: Vec<std::path::PathBuf>,
    clients: Vec<Option<StationClient>>,
}

/// The policy of a loopback station: only the federated-training algorithm, only model
/// updates and metrics leave.
fn loopback_policy(privacy: Option<(f64, f64)>) -> String {
    let mut p = format!(
        "allowed_algorithms = [\"{ALGORITHM}\"]\nallowed_outputs = [\"model_update\", \
         \"metrics\"]\nmin_cohort_size = 5\nmin_cell_size = 5\nsuppression = \"cell\"\n\
         max_request_bytes = 67108864\n"
    );
    if let Some((eps, delta)) = privacy {
        p.push_str(&format!(
            "[privacy]\nepsilon_budget = {eps}\ndelta = {delta}\n"
        ));
    }
    p
}

impl LoopbackStations {
    /// Starts one station server per `(site, station)` on 127.0.0.1 (a free port each), with
    /// audit logs and (with `tls`) certificates under `dir`.
    pub fn start(
        stations: Vec<(String, LocalStation)>,
        dir: &std::path::Path,
        tls: bool,
    ) -> Result<Self, FederatedError> {
        let err = |m: String| FederatedError::Mismatch(format!("loopback stations: {m}"));
        std::fs::create_dir_all(dir).map_err(|e| err(format!("{}: {e}", dir.display())))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| err(e.to_string()))?;
        let names: Vec<String> = stations.iter().map(|(s, _)| s.clone()).collect();
        let mut ca_names: Vec<&str> = names.iter().map(String::as_str).collect();
        ca_names.push("aggregator");
        let ca = if tls {
            Some(
                oncolens_station::make_test_ca(&dir.join("pki"), &ca_names)
                    .map_err(|e| err(e.to_string()))?,
            )
        } else {
            None
        };
        let mut out = LoopbackStations {
            runtime: None,
            shutdown: Vec::new(),
            urls: Vec::new(),
            audit_logs: Vec::new(),
            clients: Vec::new(),
        };
        for (site, station) in stations {
            let privacy = station.privacy().map(|p| (p.epsilon_budget, p.delta));
            let policy_path = dir.join(format!("{site}.policy.toml"));
            let policy =
                oncolens_station::Policy::from_toml_str(&loopback_policy(privacy), &policy_path)
                    .map_err(|e| err(e.to_string()))?;
            let audit_path = dir.join(format!("{site}.audit.jsonl"));
            let audit =
                oncolens_station::AuditLog::open(&audit_path).map_err(|e| err(e.to_string()))?;
            // The station's table for its statistics API: its site and row count only.
            let n = station.num_examples();
            let mut table = oncolens_station::StationTable::new(n);
            table
                .add_categorical("site", vec![Some(site.clone()); n])
                .map_err(|e| err(e.to_string()))?;
            let mut server = oncolens_station::Station::new(
                site.clone(),
                table,
                policy,
                audit,
                Arc::new(RdpBudget),
            );
            server.register(Arc::new(FederatedTrainAlgorithm::new(station)));
            let tls_config = match &ca {
                Some(ca) => {
                    let (cert, key) = ca
                        .identities
                        .get(&site)
                        .ok_or_else(|| err(format!("no certificate for {site}")))?;
                    Some(
                        oncolens_station::TlsConfig::mutual(cert, key, &ca.ca_cert)
                            .map_err(|e| err(e.to_string()))?,
                    )
                }
                None => None,
            };
            let listener = runtime
                .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
                .map_err(|e| err(e.to_string()))?;
            let port = listener
                .local_addr()
                .map_err(|e| err(e.to_string()))?
                .port();
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            let server = Arc::new(server);
            runtime.spawn(async move {
                let _ = oncolens_station::serve_on(server, listener, tls_config, async move {
                    let _ = rx.await;
                })
                .await;
            });
            let scheme = if tls { "https" } else { "http" };
            let url = format!("{scheme}://localhost:{port}");
            let client = match &ca {
                Some(ca) => {
                    let (cert, key) = ca
                        .identities
                        .get("aggregator")
                        .ok_or_else(|| err("no aggregator certificate".into()))?;
                    StationClient::with_tls(
                        &url,
                        &ca.ca_cert,
                        Some(&oncolens_station::ClientIdentity {
                            cert_pem: cert.clone(),
                            key_pem: key.clone(),
                        }),
                    )
                    .map_err(|e| err(e.to_string()))?
                }
                None => StationClient::new(&url),
            };
            out.shutdown.push(tx);
            out.urls.push((site.clone(), url));
            out.audit_logs.push(audit_path);
            out.clients.push(Some(client));
        }
        out.runtime = Some(runtime);
        Ok(out)
    }

    /// The aggregator's view: one [`RemoteStation`] per station (call once).
    pub fn participants(&mut self) -> Vec<Box<dyn Participant>> {
        self.urls
            .iter()
            .zip(self.clients.iter_mut())
            .filter_map(|((site, _), c)| {
                c.take()
                    .map(|c| Box::new(RemoteStation::new(site.clone(), c)) as Box<dyn Participant>)
            })
            .collect()
    }
}

impl Drop for LoopbackStations {
    fn drop(&mut self) {
        for tx in self.shutdown.drain(..) {
            let _ = tx.send(());
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(std::time::Duration::from_secs(2));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn weights_round_trip_and_bad_input_is_an_error() {
        let w = vec![0.0f32, -1.5, f32::MAX, 1e-30];
        assert_eq!(decode_weights(&encode_weights(&w)).unwrap(), w);
        assert!(decode_weights("not base64!").is_err());
        assert!(decode_weights(&STANDARD.encode([1u8, 2, 3])).is_err());
    }
}

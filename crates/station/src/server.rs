//! The station: data, policy, audit log, algorithms and DP accountant, and its HTTP API (axum).
//!
//! | method | path | answers |
//! |---|---|---|
//! | GET | `/v1/info` | station name, sites, installed and approved algorithms, policy summary, column names, epsilon spent, audit head; never patient data |
//! | POST | `/v1/jobs` | `{"algorithm", "args", "request_id"}` → 200 result, 403 `{"refused": {code, reason}}`, 400 `{"error"}`, 413 `{"error"}` |
//! | GET | `/openapi.json` | OpenAPI 3.0 description |
//!
//! Every request and its outcome is appended to the audit log before the answer leaves; if the
//! log cannot be written, the answer is a 500 and no result leaves.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::IncomingStream;
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use thiserror::Error;
use tokio::net::TcpListener;

use crate::audit::{AuditLog, AuditOutcome, AuditRecord};
use crate::data::StationTable;
use crate::policy::{
    DpCost, OutputKind, Policy, PolicyRequest, Refusal, RefusalCode, is_valid_name,
};
use crate::stats::{self, StatsError};
use crate::tls::{TlsConfig, TlsListener};

/// What an algorithm sees of the station.
#[derive(Clone)]
pub struct JobContext {
    pub station: String,
    pub table: Arc<StationTable>,
    pub policy: Arc<Policy>,
    pub request_id: Option<String>,
}

impl JobContext {
    /// Refuses a job whose (filtered) cohort is below the policy's minimum.
    pub fn check_cohort(&self, rows: usize) -> Result<(), JobError> {
        if rows < self.policy.min_cohort_size {
            return Err(JobError::Refused(Refusal::new(
                RefusalCode::CohortTooSmall,
                format!(
                    "the selected cohort has fewer than min_cohort_size = {} cases",
                    self.policy.min_cohort_size
                ),
            )));
        }
        Ok(())
    }
}

/// Why a job did not produce a result.
#[derive(Debug, Error)]
pub enum JobError {
    /// Malformed arguments: HTTP 400. The message names the field.
    #[error("{0}")]
    BadArgs(String),
    /// The policy refuses the job: HTTP 403.
    #[error(transparent)]
    Refused(Refusal),
    /// The job failed at the station: HTTP 500 (the message must not contain patient data).
    #[error("{0}")]
    Failed(String),
}

impl From<StatsError> for JobError {
    fn from(e: StatsError) -> Self {
        match e {
            StatsError::BadArgs(m) => JobError::BadArgs(m),
            StatsError::Refused(r) => JobError::Refused(r),
        }
    }
}

/// Parses an algorithm's `args` strictly; errors name the field as `args.<path>`.
pub fn parse_args<T: DeserializeOwned>(args: Value) -> Result<T, JobError> {
    serde_path_to_error::deserialize(args).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            JobError::BadArgs(format!("args: {inner}"))
        } else {
            JobError::BadArgs(format!("args.{path}: {inner}"))
        }
    })
}

/// An algorithm a station can run. Implementations must return only what their
/// [`OutputKind`] says, built from aggregates (never a row or an identifier).
pub trait Algorithm: Send + Sync {
    fn name(&self) -> &str;
    fn output_kind(&self) -> OutputKind;
    /// The differential-privacy cost of running with `args` (`None`: spends no epsilon).
    fn privacy_cost(&self, args: &Value) -> Result<Option<DpCost>, JobError>;
    fn run(&self, ctx: &JobContext, args: Value) -> Result<Value, JobError>;
}

/// Composes differential-privacy costs into a total epsilon at a given delta.
pub trait Accountant: Send + Sync {
    /// Total epsilon after `history` and then `next`.
    fn epsilon_after(&self, history: &[DpCost], next: &DpCost, delta: f64) -> f64;
}

/// Linear (basic) composition with a fixed epsilon per step: `total = epsilon_per_step * steps`.
/// A simple, pessimistic stand-in for tests; real stations use an RDP accountant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinearAccountant {
    pub epsilon_per_step: f64,
}

impl Accountant for LinearAccountant {
    fn epsilon_after(&self, history: &[DpCost], next: &DpCost, _delta: f64) -> f64 {
        let steps: f64 = history.iter().map(|c| c.steps as f64).sum::<f64>() + next.steps as f64;
        self.epsilon_per_step * steps
    }
}

type StatFn = fn(&JobContext, Value) -> Result<Value, JobError>;

/// A built-in statistics algorithm.
struct Statistic {
    name: &'static str,
    run: StatFn,
}

impl Algorithm for Statistic {
    fn name(&self) -> &str {
        self.name
    }
    fn output_kind(&self) -> OutputKind {
        OutputKind::AggregateStatistics
    }
    fn privacy_cost(&self, _args: &Value) -> Result<Option<DpCost>, JobError> {
        Ok(None)
    }
    fn run(&self, ctx: &JobContext, args: Value) -> Result<Value, JobError> {
        (self.run)(ctx, args)
    }
}

fn to_value<T: Serialize>(v: T) -> Result<Value, JobError> {
    serde_json::to_value(v).map_err(|e| JobError::Failed(format!("cannot encode result: {e}")))
}

/// The built-in statistics: `count`, `mean`, `histogram`, `contingency`, `kaplan_meier`,
/// `logistic_terms`, `cox_terms`.
pub fn builtin_algorithms() -> Vec<Arc<dyn Algorithm>> {
    let stats: [Statistic; 7] = [
        Statistic {
            name: "count",
            run: |ctx, a| to_value(stats::count(&ctx.table, &ctx.policy, &parse_args(a)?)?),
        },
        Statistic {
            name: "mean",
            run: |ctx, a| to_value(stats::mean(&ctx.table, &ctx.policy, &parse_args(a)?)?),
        },
        Statistic {
            name: "histogram",
            run: |ctx, a| to_value(stats::histogram(&ctx.table, &ctx.policy, &parse_args(a)?)?),
        },
        Statistic {
            name: "contingency",
            run: |ctx, a| {
                to_value(stats::contingency(
                    &ctx.table,
                    &ctx.policy,
                    &parse_args(a)?,
                )?)
            },
        },
        Statistic {
            name: "kaplan_meier",
            run: |ctx, a| {
                to_value(stats::kaplan_meier_inputs(
                    &ctx.table,
                    &ctx.policy,
                    &parse_args(a)?,
                )?)
            },
        },
        Statistic {
            name: "logistic_terms",
            run: |ctx, a| {
                to_value(crate::logistic::logistic_terms(
                    &ctx.table,
                    &ctx.policy,
                    &parse_args(a)?,
                )?)
            },
        },
        Statistic {
            name: "cox_terms",
            run: |ctx, a| {
                to_value(crate::survival::cox_terms(
                    &ctx.table,
                    &ctx.policy,
                    &parse_args(a)?,
                )?)
            },
        },
    ];
    stats
        .into_iter()
        .map(|s| Arc::new(s) as Arc<dyn Algorithm>)
        .collect()
}

/// A job request (`POST /v1/jobs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobRequest {
    pub algorithm: String,
    #[serde(default = "empty_object")]
    pub args: Value,
    /// Chosen by the requester (1-64 of `A-Z a-z 0-9 _ - .`); echoed and logged.
    #[serde(default)]
    pub request_id: Option<String>,
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

/// A completed job (HTTP 200 body).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobResult {
    pub request_id: Option<String>,
    pub algorithm: String,
    pub output_kind: OutputKind,
    pub result: Value,
    /// Epsilon this job spent, and the station's total after it.
    pub epsilon_spent: Option<f64>,
    pub epsilon_total: Option<f64>,
}

/// What a job request came to, as a client sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum JobOutcome {
    Completed(JobResult),
    Refused(Refusal),
}

/// Parses a job request body strictly. Errors name the field (`request_id: invalid type ...`).
pub fn parse_job_request(body: &[u8]) -> Result<JobRequest, String> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let req: JobRequest = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            format!("invalid job request: {inner}")
        } else {
            format!("invalid job request: field `{path}`: {inner}")
        }
    })?;
    de.end()
        .map_err(|e| format!("invalid job request: trailing data: {e}"))?;
    if !is_valid_name(&req.algorithm) {
        return Err(
            "invalid job request: field `algorithm`: must be 1-64 of A-Z a-z 0-9 _ - .".into(),
        );
    }
    if let Some(id) = &req.request_id
        && !is_valid_name(id)
    {
        return Err(
            "invalid job request: field `request_id`: must be 1-64 of A-Z a-z 0-9 _ - .".into(),
        );
    }
    if !req.args.is_object() {
        return Err("invalid job request: field `args`: must be a JSON object".into());
    }
    Ok(req)
}

#[derive(Debug, Error)]
pub enum StationError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("server: {0}")]
    Serve(#[source] std::io::Error),
    #[error(transparent)]
    Policy(#[from] crate::policy::PolicyError),
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
}

struct DpState {
    history: Vec<DpCost>,
}

/// A data station: its table, policy, audit log, algorithms and DP accountant.
pub struct Station {
    name: String,
    table: Arc<StationTable>,
    policy: Arc<Policy>,
    audit: AuditLog,
    algorithms: BTreeMap<String, Arc<dyn Algorithm>>,
    accountant: Arc<dyn Accountant>,
    /// Held while a job that spends epsilon checks, runs and commits, so two such jobs cannot
    /// both pass the budget check.
    dp: Mutex<DpState>,
    /// The total spent, readable while a DP job holds `dp`.
    epsilon_spent: Mutex<f64>,
}

/// Where a connection comes from: the socket address and, over mutual TLS, the client
/// certificate's subject common name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    pub addr: SocketAddr,
    pub client_cn: Option<String>,
}

impl Connected<IncomingStream<'_, TcpListener>> for PeerInfo {
    fn connect_info(stream: IncomingStream<'_, TcpListener>) -> Self {
        PeerInfo {
            addr: *stream.remote_addr(),
            client_cn: None,
        }
    }
}

impl Connected<IncomingStream<'_, TlsListener>> for PeerInfo {
    fn connect_info(stream: IncomingStream<'_, TlsListener>) -> Self {
        stream.remote_addr().clone()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// The delta epsilons are stated at (the policy's; 1e-5 when it sets no privacy section).
fn delta_of(policy: &Policy) -> f64 {
    policy.privacy.map(|p| p.delta).unwrap_or(1e-5)
}

impl Station {
    /// A station with the built-in statistics registered. The epsilon already spent is replayed
    /// from the audit log's completed DP jobs.
    pub fn new(
        name: impl Into<String>,
        table: StationTable,
        policy: Policy,
        audit: AuditLog,
        accountant: Arc<dyn Accountant>,
    ) -> Station {
        let history = audit.dp_history();
        let spent = match history.split_last() {
            Some((last, before)) => accountant.epsilon_after(before, last, delta_of(&policy)),
            None => 0.0,
        };
        let mut station = Station {
            name: name.into(),
            table: Arc::new(table),
            policy: Arc::new(policy),
            audit,
            algorithms: BTreeMap::new(),
            accountant,
            dp: Mutex::new(DpState { history }),
            epsilon_spent: Mutex::new(spent),
        };
        for a in builtin_algorithms() {
            station.register(a);
        }
        station
    }

    /// What `oncolens station serve` does: the table from a cohort folder, the policy from its
    /// TOML file, the audit log opened (created, or verified and continued) at `audit_log`.
    pub fn open(
        name: impl Into<String>,
        cohort_dir: &std::path::Path,
        policy_file: &std::path::Path,
        audit_log: &std::path::Path,
        accountant: Arc<dyn Accountant>,
    ) -> Result<Station, StationError> {
        let policy = Policy::from_file(policy_file)?;
        let table = StationTable::from_cohort(cohort_dir)?;
        let audit = AuditLog::open(audit_log)?;
        Ok(Station::new(name, table, policy, audit, accountant))
    }

    /// Installs an algorithm (replacing one of the same name). It runs only if the policy
    /// approves its name.
    pub fn register(&mut self, algorithm: Arc<dyn Algorithm>) {
        self.algorithms
            .insert(algorithm.name().to_owned(), algorithm);
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    pub fn table(&self) -> &StationTable {
        &self.table
    }

    /// Total epsilon spent so far.
    pub fn epsilon_spent(&self) -> f64 {
        *lock(&self.epsilon_spent)
    }

    /// The `GET /v1/info` document: no patient data, only names, policy numbers and totals.
    pub fn info(&self) -> Value {
        let p = &self.policy;
        let mut sites: Vec<&str> = self
            .table
            .categorical("site")
            .map(|c| c.iter().flatten().map(String::as_str).collect())
            .unwrap_or_default();
        sites.sort_unstable();
        sites.dedup();
        let algorithms: Vec<Value> = self
            .algorithms
            .values()
            .map(|a| {
                json!({
                    "name": a.name(),
                    "output_kind": a.output_kind(),
                    "approved": p.allows_algorithm(a.name()),
                })
            })
            .collect();
        let columns: Vec<Value> = self
            .table
            .schema()
            .into_iter()
            .map(|(name, kind)| json!({"name": name, "kind": kind}))
            .collect();
        let head = self.audit.head();
        json!({
            "station": self.name,
            "sites": sites,
            "algorithms": algorithms,
            "policy": {
                "allowed_algorithms": p.allowed_algorithms,
                "allowed_outputs": p.allowed_outputs,
                "min_cohort_size": p.min_cohort_size,
                "min_cell_size": p.min_cell_size,
                "suppression": p.suppression,
                "max_request_bytes": p.max_request_bytes,
                "epsilon_budget": p.privacy.map(|x| x.epsilon_budget),
                "delta": p.privacy.map(|x| x.delta),
            },
            "epsilon_spent": self.epsilon_spent(),
            "columns": columns,
            "audit": {"entries": head.entries, "last_hash": head.last_hash},
        })
    }

    /// Handles `GET /v1/info` synchronously: builds the document and logs the request.
    pub fn handle_info(&self, requester: Option<&str>) -> (StatusCode, Vec<u8>) {
        let record = AuditRecord {
            endpoint: "info".into(),
            request_id: None,
            requester: requester.map(str::to_owned),
            algorithm: None,
            outcome: AuditOutcome::Ok,
            request_bytes: 0,
            response_bytes: 0,
            epsilon_spent: None,
            epsilon_total: Some(self.epsilon_spent()),
            dp_cost: None,
        };
        self.finish(StatusCode::OK, self.info(), record)
    }

    /// Handles `POST /v1/jobs` synchronously (parse, policy, budget, run, audit). Returns the
    /// HTTP status and the JSON body. Blocking: call it from a blocking thread.
    pub fn handle_job(&self, body: &[u8], requester: Option<&str>) -> (StatusCode, Vec<u8>) {
        let mut record = AuditRecord {
            endpoint: "job".into(),
            request_id: None,
            requester: requester.map(str::to_owned),
            algorithm: None,
            outcome: AuditOutcome::Ok,
            request_bytes: body.len() as u64,
            response_bytes: 0,
            epsilon_spent: None,
            epsilon_total: None,
            dp_cost: None,
        };
        let (status, value) = self.run_job(body, &mut record);
        self.finish(status, value, record)
    }

    /// Logs a request rejected before it reached the station (e.g. oversized: 413).
    pub fn handle_rejected(
        &self,
        endpoint: &str,
        status: StatusCode,
        message: String,
        request_bytes: u64,
        requester: Option<&str>,
    ) -> (StatusCode, Vec<u8>) {
        let record = AuditRecord {
            endpoint: endpoint.to_owned(),
            request_id: None,
            requester: requester.map(str::to_owned),
            algorithm: None,
            outcome: AuditOutcome::Error {
                http_status: status.as_u16(),
                message: message.clone(),
            },
            request_bytes,
            response_bytes: 0,
            epsilon_spent: None,
            epsilon_total: None,
            dp_cost: None,
        };
        self.finish(status, json!({ "error": message }), record)
    }

    fn finish(
        &self,
        status: StatusCode,
        value: Value,
        mut record: AuditRecord,
    ) -> (StatusCode, Vec<u8>) {
        let bytes = serde_json::to_vec(&value).unwrap_or_else(|_| b"{}".to_vec());
        record.response_bytes = bytes.len() as u64;
        match self.audit.append(record) {
            Ok(_) => (status, bytes),
            Err(e) => {
                // Nothing leaves unless it was logged.
                let msg =
                    json!({ "error": format!("audit log unavailable, answer withheld: {e}") });
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    serde_json::to_vec(&msg).unwrap_or_default(),
                )
            }
        }
    }

    fn run_job(&self, body: &[u8], record: &mut AuditRecord) -> (StatusCode, Value) {
        let bad = |record: &mut AuditRecord, status: StatusCode, message: String| {
            record.outcome = AuditOutcome::Error {
                http_status: status.as_u16(),
                message: message.clone(),
            };
            (status, json!({ "error": message }))
        };
        let refused = |record: &mut AuditRecord, r: Refusal, id: &Option<String>| {
            record.outcome = AuditOutcome::Refused {
                code: r.code,
                reason: r.reason.clone(),
            };
            (
                StatusCode::FORBIDDEN,
                json!({ "refused": r, "request_id": id }),
            )
        };
        let req = match parse_job_request(body) {
            Ok(r) => r,
            Err(m) => return bad(record, StatusCode::BAD_REQUEST, m),
        };
        record.request_id = req.request_id.clone();
        record.algorithm = Some(req.algorithm.clone());
        if !self.policy.allows_algorithm(&req.algorithm) {
            let r = Refusal::new(
                RefusalCode::UnapprovedAlgorithm,
                format!(
                    "algorithm `{}` is not approved at this station (approved: {})",
                    req.algorithm,
                    self.policy.allowed_algorithms.join(", ")
                ),
            );
            return refused(record, r, &req.request_id);
        }
        let Some(algorithm) = self.algorithms.get(&req.algorithm).cloned() else {
            let m = format!(
                "algorithm `{}` is approved but not installed at this station",
                req.algorithm
            );
            return bad(record, StatusCode::BAD_REQUEST, m);
        };
        let cost = match algorithm.privacy_cost(&req.args) {
            Ok(c) => c,
            Err(e) => return self.job_error(record, e, &req.request_id),
        };
        let ctx = JobContext {
            station: self.name.clone(),
            table: self.table.clone(),
            policy: self.policy.clone(),
            request_id: req.request_id.clone(),
        };
        // Jobs that spend epsilon hold the DP state through check, run and commit.
        let mut dp_guard = cost.map(|_| lock(&self.dp));
        let before = self.epsilon_spent();
        let epsilon_after = match (&cost, &dp_guard) {
            (Some(c), Some(g)) => Some(self.accountant.epsilon_after(
                &g.history,
                c,
                delta_of(&self.policy),
            )),
            _ => None,
        };
        let check = self.policy.check(&PolicyRequest {
            algorithm: &req.algorithm,
            output_kind: algorithm.output_kind(),
            cohort_size: self.table.n_rows(),
            epsilon_after,
        });
        if let Err(r) = check {
            record.epsilon_total = Some(before);
            return refused(record, r, &req.request_id);
        }
        let outcome = algorithm.run(&ctx, req.args);
        match outcome {
            Ok(result) => {
                let (spent, total) = match (cost, epsilon_after, dp_guard.as_mut()) {
                    (Some(c), Some(after), Some(g)) => {
                        g.history.push(c);
                        *lock(&self.epsilon_spent) = after;
                        record.dp_cost = Some(c);
                        (Some((after - before).max(0.0)), after)
                    }
                    _ => (None, before),
                };
                record.epsilon_spent = spent;
                record.epsilon_total = Some(total);
                let out = JobResult {
                    request_id: req.request_id,
                    algorithm: req.algorithm,
                    output_kind: algorithm.output_kind(),
                    result,
                    epsilon_spent: spent,
                    epsilon_total: self.policy.privacy.map(|_| total),
                };
                match serde_json::to_value(out) {
                    Ok(v) => (StatusCode::OK, v),
                    Err(e) => bad(
                        record,
                        StatusCode::INTERNAL_SERVER_ERROR,
                        format!("cannot encode result: {e}"),
                    ),
                }
            }
            Err(e) => {
                record.epsilon_total = Some(before);
                self.job_error(record, e, &req.request_id)
            }
        }
    }

    fn job_error(
        &self,
        record: &mut AuditRecord,
        e: JobError,
        id: &Option<String>,
    ) -> (StatusCode, Value) {
        let (status, message) = match e {
            JobError::Refused(r) => {
                record.outcome = AuditOutcome::Refused {
                    code: r.code,
                    reason: r.reason.clone(),
                };
                return (
                    StatusCode::FORBIDDEN,
                    json!({ "refused": r, "request_id": id }),
                );
            }
            JobError::BadArgs(m) => (StatusCode::BAD_REQUEST, m),
            JobError::Failed(m) => (StatusCode::INTERNAL_SERVER_ERROR, m),
        };
        record.outcome = AuditOutcome::Error {
            http_status: status.as_u16(),
            message: message.clone(),
        };
        (status, json!({ "error": message, "request_id": id }))
    }
}

fn json_response((status, body): (StatusCode, Vec<u8>)) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn requester_of(req: &Request) -> Option<String> {
    req.extensions()
        .get::<ConnectInfo<PeerInfo>>()
        .and_then(|c| c.0.client_cn.clone())
}

async fn blocking<F>(f: F) -> Response
where
    F: FnOnce() -> (StatusCode, Vec<u8>) + Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => json_response(r),
        Err(_) => json_response((
            StatusCode::INTERNAL_SERVER_ERROR,
            br#"{"error":"the job panicked"}"#.to_vec(),
        )),
    }
}

async fn info_handler(State(station): State<Arc<Station>>, req: Request) -> Response {
    let requester = requester_of(&req);
    blocking(move || station.handle_info(requester.as_deref())).await
}

async fn job_handler(State(station): State<Arc<Station>>, req: Request) -> Response {
    let requester = requester_of(&req);
    let limit = station.policy.max_request_bytes;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_large = move |station: Arc<Station>, requester: Option<String>, n: u64| {
        blocking(move || {
            station.handle_rejected(
                "job",
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body is larger than max_request_bytes = {limit}"),
                n,
                requester.as_deref(),
            )
        })
    };
    if let Some(n) = declared
        && n > limit as u64
    {
        return too_large(station, requester, n).await;
    }
    let body = http_body_util::Limited::new(req.into_body(), limit);
    let bytes = match body.collect().await {
        Ok(c) => c.to_bytes(),
        Err(e) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                return too_large(station, requester, limit as u64 + 1).await;
            }
            let message = "could not read the request body".to_owned();
            return blocking(move || {
                station.handle_rejected(
                    "job",
                    StatusCode::BAD_REQUEST,
                    message,
                    0,
                    requester.as_deref(),
                )
            })
            .await;
        }
    };
    blocking(move || station.handle_job(&bytes, requester.as_deref())).await
}

async fn openapi_handler() -> Response {
    json_response((
        StatusCode::OK,
        serde_json::to_vec(&openapi_document()).unwrap_or_default(),
    ))
}

async fn rejected(station: Arc<Station>, req: Request, status: StatusCode, what: &str) -> Response {
    let requester = requester_of(&req);
    let message = format!("{what}: {} {}", req.method(), req.uri().path());
    let message: String = message.chars().take(120).collect();
    blocking(move || station.handle_rejected("unknown", status, message, 0, requester.as_deref()))
        .await
}

async fn not_found(State(station): State<Arc<Station>>, req: Request) -> Response {
    rejected(station, req, StatusCode::NOT_FOUND, "no such route").await
}

async fn method_not_allowed(State(station): State<Arc<Station>>, req: Request) -> Response {
    rejected(
        station,
        req,
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed",
    )
    .await
}

/// The station's HTTP routes.
pub fn router(station: Arc<Station>) -> Router {
    Router::new()
        .route("/v1/info", get(info_handler).fallback(method_not_allowed))
        .route("/v1/jobs", post(job_handler).fallback(method_not_allowed))
        .route(
            "/openapi.json",
            get(openapi_handler).fallback(method_not_allowed),
        )
        .fallback(not_found)
        .with_state(station)
}

/// Binds `listen` and serves until `shutdown` completes. With `tls`, every client must present a
/// certificate signed by the configured CA.
pub async fn serve(
    station: Arc<Station>,
    listen: SocketAddr,
    tls: Option<TlsConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StationError> {
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|source| StationError::Bind {
            addr: listen,
            source,
        })?;
    serve_on(station, listener, tls, shutdown).await
}

/// Like [`serve`] on an already bound listener (tests bind port 0 and read the address).
pub async fn serve_on(
    station: Arc<Station>,
    listener: TcpListener,
    tls: Option<TlsConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StationError> {
    let app = router(station.clone());
    match tls {
        None => axum::serve(
            listener,
            app.into_make_service_with_connect_info::<PeerInfo>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(StationError::Serve),
        Some(tls) => {
            let listener =
                TlsListener::start(listener, tls, station).map_err(StationError::Serve)?;
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<PeerInfo>(),
            )
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(StationError::Serve)
        }
    }
}

/// The OpenAPI 3.0 description of the API.
pub fn openapi_document() -> Value {
    let error = json!({"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}});
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "oncolens data station",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "A hospital's data station: approved algorithms run on the local cohort; only policy-approved aggregates leave. Mutual TLS when configured."
        },
        "paths": {
            "/v1/info": {"get": {
                "summary": "Station name, sites, algorithms, policy summary, columns, epsilon spent, audit head (no patient data)",
                "responses": {"200": {"description": "Station information",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Info"}}}}}
            }},
            "/v1/jobs": {"post": {
                "summary": "Run an algorithm on the station's data",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/JobRequest"}}}},
                "responses": {
                    "200": {"description": "Result", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/JobResult"}}}},
                    "400": {"description": "Malformed request or arguments (the message names the field)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                    "403": {"description": "Refused by the station's policy", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Refused"}}}},
                    "413": {"description": "Body larger than max_request_bytes", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                    "500": {"description": "The job failed, or the audit log could not be written (nothing left)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
                }
            }},
            "/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3.0 document"}}}}
        },
        "components": {"schemas": {
            "JobRequest": {"type": "object", "additionalProperties": false, "required": ["algorithm"], "properties": {
                "algorithm": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$",
                    "description": "count, mean, histogram, contingency, kaplan_meier, logistic_terms, cox_terms, or an installed algorithm"},
                "args": {"type": "object", "description": "Algorithm arguments, e.g. {\"group_by\": \"sex\", \"filter\": {\"site\": \"site_a\"}}"},
                "request_id": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$"}
            }},
            "JobResult": {"type": "object", "required": ["algorithm", "output_kind", "result"], "properties": {
                "request_id": {"type": "string", "nullable": true},
                "algorithm": {"type": "string"},
                "output_kind": {"type": "string", "enum": ["aggregate_statistics", "model_update", "metrics"]},
                "result": {"type": "object"},
                "epsilon_spent": {"type": "number", "nullable": true},
                "epsilon_total": {"type": "number", "nullable": true}
            }},
            "Refused": {"type": "object", "required": ["refused"], "properties": {
                "refused": {"type": "object", "required": ["code", "reason"], "properties": {
                    "code": {"type": "string", "enum": ["unapproved_algorithm", "cohort_too_small", "cell_too_small", "budget_exhausted", "output_not_allowed"]},
                    "reason": {"type": "string"}
                }},
                "request_id": {"type": "string", "nullable": true}
            }},
            "Error": error,
            "Info": {"type": "object", "properties": {
                "station": {"type": "string"},
                "sites": {"type": "array", "items": {"type": "string"}},
                "algorithms": {"type": "array", "items": {"type": "object"}},
                "policy": {"type": "object"},
                "epsilon_spent": {"type": "number"},
                "columns": {"type": "array", "items": {"type": "object"}},
                "audit": {"type": "object", "properties": {"entries": {"type": "integer"}, "last_hash": {"type": "string"}}}
            }}
        }}
    })
}

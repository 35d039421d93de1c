//! A hospital's data station (Personal Health Train).
//!
//! A station holds one site's de-identified cohort as a [`StationTable`], runs approved
//! algorithms on it locally and returns only what its [`Policy`] allows:
//!
//! - [`policy`]: the station's rules (approved algorithms, minimum cohort and cell sizes,
//!   differential-privacy budget, which outputs may leave, request size), parsed strictly from TOML;
//! - [`audit`]: an append-only, hash-chained JSON-lines log of every request and its outcome;
//! - [`data`]: the station's table, built from a cohort folder;
//! - [`stats`]: federated statistics with the small-cell rule, and the aggregator-side pooling;
//! - [`logistic`]: exact federated logistic regression from the stations' log-likelihood terms;
//! - [`survival`]: exact federated Cox regression (stratified by station) from the stations'
//!   partial-likelihood terms;
//! - [`server`]: the [`Station`], pluggable [`Algorithm`]s, DP accounting, the HTTP API (axum);
//! - [`tls`]: mutual TLS (rustls, ring), a test certificate authority, and the blocking
//!   [`StationClient`].
//!
//! No patient identifier is held in the table, none reaches the audit log, and none can leave.

pub mod audit;
pub mod data;
pub mod logistic;
pub mod policy;
pub mod regression;
pub mod server;
pub mod stats;
pub mod survival;
pub mod tls;

pub use audit::{
    AuditEntry, AuditError, AuditHead, AuditLog, AuditOutcome, AuditRecord, verify_audit_log,
};
pub use data::{ColumnKind, DataError, StationTable};
pub use logistic::{
    FederatedLogisticError, FederatedLogisticSpec, LogisticTermsArgs, federated_logistic,
};
pub use policy::{
    DpCost, OutputKind, Policy, PolicyError, PolicyRequest, PrivacyPolicy, Refusal, RefusalCode,
    Suppression,
};
pub use regression::StationFailure;
pub use server::{
    Accountant, Algorithm, JobContext, JobError, JobOutcome, JobRequest, JobResult,
    LinearAccountant, PeerInfo, Station, StationError, builtin_algorithms, openapi_document,
    parse_args, parse_job_request, router, serve, serve_on,
};
pub use survival::{
    CoxTermsArgs, CoxTermsResult, FederatedCoxError, FederatedCoxSpec, federated_cox,
};
pub use tls::{
    ClientError, ClientIdentity, StationClient, TestCa, TlsConfig, TlsError, make_test_ca,
};

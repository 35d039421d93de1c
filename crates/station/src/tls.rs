//! Mutual TLS between stations and the aggregator (rustls with the `ring` provider), a test
//! certificate authority ([`make_test_ca`]), and the blocking [`StationClient`] (ureq).
//!
//! The server requires a client certificate signed by the configured CA
//! (`WebPkiClientVerifier`); the client certificate's subject CN is passed to the handlers and
//! written to the audit log as the requester. Failed handshakes are logged too
//! (endpoint `tls`).

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::Value;
use thiserror::Error;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::policy::{Refusal, is_valid_name};
use crate::server::{JobOutcome, JobRequest, JobResult, PeerInfo, Station};

#[derive(Debug, Error)]
pub enum TlsError {
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("TLS configuration: {0}")]
    Config(String),
    #[error("certificate generation: {0}")]
    Generate(String),
}

fn file_err(path: &Path, message: impl ToString) -> TlsError {
    TlsError::File {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_err(path, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| file_err(path, e))?;
    if certs.is_empty() {
        return Err(file_err(path, "no certificate in the file"));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| file_err(path, e))
}

/// Server side of mutual TLS: the station's certificate and key, and the CA its clients'
/// certificates must be signed by.
#[derive(Clone)]
pub struct TlsConfig {
    server: Arc<rustls::ServerConfig>,
}

impl TlsConfig {
    /// Loads PEM files: the station's certificate chain and private key, and the client CA.
    pub fn mutual(
        cert_pem: &Path,
        key_pem: &Path,
        client_ca_pem: &Path,
    ) -> Result<TlsConfig, TlsError> {
        let certs = read_certs(cert_pem)?;
        let key = read_key(key_pem)?;
        let mut roots = rustls::RootCertStore::empty();
        for ca in read_certs(client_ca_pem)? {
            roots.add(ca).map_err(|e| file_err(client_ca_pem, e))?;
        }
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            provider(),
        )
        .build()
        .map_err(|e| TlsError::Config(e.to_string()))?;
        let mut server = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(certs, key)
            .map_err(|e| TlsError::Config(e.to_string()))?;
        server.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsConfig {
            server: Arc::new(server),
        })
    }
}

/// Accepts TCP connections, completes TLS handshakes concurrently (a slow client does not hold
/// up others) and hands finished streams to axum.
pub struct TlsListener {
    rx: mpsc::Receiver<(tokio_rustls::server::TlsStream<TcpStream>, PeerInfo)>,
    local: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

impl TlsListener {
    pub(crate) fn start(
        listener: TcpListener,
        tls: TlsConfig,
        station: Arc<Station>,
    ) -> std::io::Result<TlsListener> {
        let local = listener.local_addr()?;
        let (tx, rx) = mpsc::channel(64);
        let acceptor = tokio_rustls::TlsAcceptor::from(tls.server);
        let task = tokio::spawn(async move {
            loop {
                let (tcp, addr) = match listener.accept().await {
                    Ok(x) => x,
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                let station = station.clone();
                tokio::spawn(async move {
                    let message =
                        match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                            Ok(Ok(stream)) => {
                                let client_cn = stream
                                    .get_ref()
                                    .1
                                    .peer_certificates()
                                    .and_then(|c| c.first())
                                    .and_then(|c| subject_cn(c.as_ref()));
                                let _ = tx.send((stream, PeerInfo { addr, client_cn })).await;
                                return;
                            }
                            Ok(Err(e)) => format!("TLS handshake failed: {e}"),
                            Err(_) => "TLS handshake timed out".to_owned(),
                        };
                    let _ = tokio::task::spawn_blocking(move || {
                        station.handle_rejected("tls", StatusCode::UNAUTHORIZED, message, 0, None)
                    })
                    .await;
                });
            }
        });
        Ok(TlsListener { rx, local, task })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<TcpStream>;
    type Addr = PeerInfo;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(x) => x,
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(PeerInfo {
            addr: self.local,
            client_cn: None,
        })
    }
}

/// One DER TLV: (tag, content, rest).
fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *b.first()?;
    let first = *b.get(1)?;
    let (len, header) = if first < 0x80 {
        (first as usize, 2)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *b.get(2 + i)? as usize;
        }
        (len, 2 + n)
    };
    let end = header.checked_add(len)?;
    Some((tag, b.get(header..end)?, b.get(end..)?))
}

fn children(mut b: &[u8]) -> Option<Vec<(u8, &[u8])>> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let (t, c, rest) = tlv(b)?;
        out.push((t, c));
        b = rest;
    }
    Some(out)
}

/// The subject common name of a DER certificate (printable ASCII, at most 64 characters).
pub fn subject_cn(der: &[u8]) -> Option<String> {
    let (_, cert, _) = tlv(der)?;
    let (_, tbs, _) = tlv(cert)?;
    let mut fields = children(tbs)?;
    if fields.first()?.0 == 0xa0 {
        fields.remove(0);
    }
    // serial, signature, issuer, validity, subject
    let (_, subject) = *fields.get(4)?;
    for (_, set) in children(subject)? {
        for (_, atv) in children(set)? {
            let parts = children(atv)?;
            if parts.len() == 2 && parts[0] == (0x06, &[0x55, 0x04, 0x03][..]) {
                let s: String = String::from_utf8_lossy(parts[1].1)
                    .chars()
                    .filter(|c| c.is_ascii_graphic() || *c == ' ')
                    .take(64)
                    .collect();
                return Some(s);
            }
        }
    }
    None
}

/// The files [`make_test_ca`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestCa {
    pub ca_cert: PathBuf,
    pub ca_key: PathBuf,
    /// Per name: (`NAME.pem`, `NAME.key`).
    pub identities: BTreeMap<String, (PathBuf, PathBuf)>,
}

fn write_file(path: &Path, text: &str, secret: bool) -> Result<(), TlsError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut f = opts.open(path).map_err(|e| file_err(path, e))?;
    f.write_all(text.as_bytes()).map_err(|e| file_err(path, e))
}

/// Makes a test certificate authority in `out_dir`: `ca.pem`, `ca.key`, and per name
/// `NAME.pem` / `NAME.key`, a certificate with CN = NAME and SANs `localhost` and `127.0.0.1`,
/// usable as server and as client certificate. ECDSA P-256. For tests and demos only.
pub fn make_test_ca(out_dir: &Path, names: &[&str]) -> Result<TestCa, TlsError> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    let g = |e: rcgen::Error| TlsError::Generate(e.to_string());
    std::fs::create_dir_all(out_dir).map_err(|e| file_err(out_dir, e))?;
    let ca_key = KeyPair::generate().map_err(g)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(g)?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "oncolens test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key).map_err(g)?;
    let out = TestCa {
        ca_cert: out_dir.join("ca.pem"),
        ca_key: out_dir.join("ca.key"),
        identities: BTreeMap::new(),
    };
    write_file(&out.ca_cert, &ca_cert.pem(), false)?;
    write_file(&out.ca_key, &ca_key.serialize_pem(), true)?;
    let issuer = Issuer::new(ca_params, ca_key);
    let mut out = out;
    for name in names {
        if !is_valid_name(name) {
            return Err(TlsError::Generate(format!(
                "`{name}` is not a valid name (1-64 of A-Z a-z 0-9 _ - .)"
            )));
        }
        let key = KeyPair::generate().map_err(g)?;
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .map_err(g)?;
        params.distinguished_name.push(DnType::CommonName, *name);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let cert = params.signed_by(&key, &issuer).map_err(g)?;
        let cert_path = out_dir.join(format!("{name}.pem"));
        let key_path = out_dir.join(format!("{name}.key"));
        write_file(&cert_path, &cert.pem(), false)?;
        write_file(&key_path, &key.serialize_pem(), true)?;
        out.identities
            .insert((*name).to_owned(), (cert_path, key_path));
    }
    Ok(out)
}

/// A client certificate and its key (PEM files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdentity {
    pub cert_pem: PathBuf,
    pub key_pem: PathBuf,
}

#[derive(Debug, Error)]
pub enum ClientError {
    /// Connection, TLS or I/O failure (includes a server that rejected the client certificate).
    #[error("cannot reach the station: {0}")]
    Transport(String),
    /// The station answered with an error status (400, 404, 413, 500, ...).
    #[error("station answered {status}: {message}")]
    Status { status: u16, message: String },
    #[error("cannot decode the station's answer: {0}")]
    Decode(String),
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// A blocking client of a station's API (aggregators, tests, the CLI).
pub struct StationClient {
    agent: ureq::Agent,
    base: String,
}

fn config_builder() -> ureq::config::ConfigBuilder<ureq::typestate::AgentScope> {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
}

impl StationClient {
    /// A plain-HTTP client (`base_url` like `http://127.0.0.1:8443`).
    pub fn new(base_url: &str) -> StationClient {
        StationClient {
            agent: ureq::Agent::new_with_config(config_builder().build()),
            base: base_url.trim_end_matches('/').to_owned(),
        }
    }

    /// An HTTPS client trusting only `ca_pem`, presenting `identity` when given.
    pub fn with_tls(
        base_url: &str,
        ca_pem: &Path,
        identity: Option<&ClientIdentity>,
    ) -> Result<StationClient, ClientError> {
        use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsProvider};
        let roots: Vec<Certificate<'static>> = read_certs(ca_pem)?
            .iter()
            .map(|c| Certificate::from_der(c.as_ref()).to_owned())
            .collect();
        let mut tls = ureq::tls::TlsConfig::builder()
            .provider(TlsProvider::Rustls)
            .root_certs(RootCerts::Specific(Arc::new(roots)));
        if let Some(id) = identity {
            let chain: Vec<Certificate<'static>> = read_certs(&id.cert_pem)?
                .iter()
                .map(|c| Certificate::from_der(c.as_ref()).to_owned())
                .collect();
            let key_pem = std::fs::read(&id.key_pem).map_err(|e| file_err(&id.key_pem, e))?;
            let key = PrivateKey::from_pem(&key_pem).map_err(|e| file_err(&id.key_pem, e))?;
            tls = tls.client_cert(Some(ClientCert::new_with_certs(&chain, key)));
        }
        let config = config_builder().tls_config(tls.build()).build();
        Ok(StationClient {
            agent: ureq::Agent::new_with_config(config),
            base: base_url.trim_end_matches('/').to_owned(),
        })
    }

    fn read(resp: ureq::http::Response<ureq::Body>) -> Result<(u16, Value), ClientError> {
        let status = resp.status().as_u16();
        let mut resp = resp;
        let text = resp
            .body_mut()
            .read_to_string()
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        let value = serde_json::from_str(&text).map_err(|e| ClientError::Decode(e.to_string()))?;
        Ok((status, value))
    }

    fn status_error(status: u16, v: &Value) -> ClientError {
        ClientError::Status {
            status,
            message: v
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
        }
    }

    /// `GET /v1/info`.
    pub fn info(&self) -> Result<Value, ClientError> {
        let resp = self
            .agent
            .get(&format!("{}/v1/info", self.base))
            .call()
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        match Self::read(resp)? {
            (200, v) => Ok(v),
            (s, v) => Err(Self::status_error(s, &v)),
        }
    }

    /// `POST` raw bytes to `path`; returns the status and JSON body (for tools and tests).
    pub fn post_raw(&self, path: &str, body: &[u8]) -> Result<(u16, Value), ClientError> {
        let resp = self
            .agent
            .post(&format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .send(body)
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        Self::read(resp)
    }

    /// `POST /v1/jobs`: the result, or the policy's refusal; other answers are errors.
    pub fn submit(&self, job: &JobRequest) -> Result<JobOutcome, ClientError> {
        let body = serde_json::to_vec(job).map_err(|e| ClientError::Decode(e.to_string()))?;
        match self.post_raw("/v1/jobs", &body)? {
            (200, v) => serde_json::from_value::<JobResult>(v)
                .map(JobOutcome::Completed)
                .map_err(|e| ClientError::Decode(e.to_string())),
            (403, v) => v
                .get("refused")
                .cloned()
                .and_then(|r| serde_json::from_value::<Refusal>(r).ok())
                .map(JobOutcome::Refused)
                .ok_or_else(|| ClientError::Decode("403 without a refusal".into())),
            (s, v) => Err(Self::status_error(s, &v)),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn test_ca_writes_files_and_names_are_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let ca = make_test_ca(dir.path(), &["aggregator", "site_a"]).unwrap();
        assert!(ca.ca_cert.is_file() && ca.ca_key.is_file());
        let (cert, key) = &ca.identities["site_a"];
        assert!(key.is_file());
        let der = read_certs(cert).unwrap();
        assert_eq!(subject_cn(der[0].as_ref()).as_deref(), Some("site_a"));
        assert!(make_test_ca(dir.path(), &["bad name"]).is_err());
        TlsConfig::mutual(cert, key, &ca.ca_cert).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(key).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "keys are private");
        }
    }

    #[test]
    fn der_parser_rejects_garbage() {
        assert_eq!(subject_cn(&[]), None);
        assert_eq!(subject_cn(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
        assert_eq!(subject_cn(&[0x30, 0x03, 0x30, 0x01]), None);
    }
}

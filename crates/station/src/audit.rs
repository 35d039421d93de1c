//! The append-only audit log: one JSON line per request and its outcome.
//!
//! Each line carries the SHA-256 (hex) of the previous line's bytes (`prev_hash`; 64 zeros for
//! the first), and a sequence number, so [`verify_audit_log`] finds an edited, inserted or deleted
//! line. Removing lines from the *end* leaves a valid shorter chain: compare the head
//! ([`AuditLog::head`], also in `GET /v1/info`) with one kept elsewhere to detect that.
//!
//! Entries are built only from [`AuditRecord`], a typed struct whose fields are the requester's
//! certificate name, the requester's request id and algorithm name (both restricted to
//! `A-Z a-z 0-9 _ - .`, at most 64 characters), a refusal code, byte counts and epsilon. Free text
//! (refusal reasons, error messages) is written by the station's own code from policy numbers,
//! column names and category labels. The station's table holds no case ids or pseudonyms at all,
//! so no patient identifier can reach this log.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::policy::{DpCost, RefusalCode};

/// The hash a chain starts from.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Longest free-text message kept in an entry.
const MAX_MESSAGE: usize = 300;

/// How a request ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum AuditOutcome {
    Ok,
    Refused { code: RefusalCode, reason: String },
    Error { http_status: u16, message: String },
}

/// What the station records about one request (the log adds sequence, time and hash).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// `info`, `openapi` or `job`.
    pub endpoint: String,
    pub request_id: Option<String>,
    /// Subject CN of the TLS client certificate, when the connection had one.
    pub requester: Option<String>,
    pub algorithm: Option<String>,
    pub outcome: AuditOutcome,
    pub request_bytes: u64,
    pub response_bytes: u64,
    /// Epsilon this job spent (its increase of the station's total).
    pub epsilon_spent: Option<f64>,
    /// The station's total epsilon after this request.
    pub epsilon_total: Option<f64>,
    /// What a completed differentially private job cost; replayed when the station restarts,
    /// so the budget spent survives restarts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dp_cost: Option<DpCost>,
}

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: u64,
    /// RFC 3339, UTC.
    pub timestamp: String,
    #[serde(flatten)]
    pub record: AuditRecord,
    /// SHA-256 (hex) of the previous line (without its newline).
    pub prev_hash: String,
}

#[derive(Debug, Error)]
pub enum AuditError {
    #[error("audit log {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("audit log {path}, line {line}: {message}")]
    Corrupt {
        path: PathBuf,
        line: u64,
        message: String,
    },
    #[error("audit log {path}: {message}")]
    Encode { path: PathBuf, message: String },
}

/// The head of a chain: entries so far and the hash the next line will carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditHead {
    pub entries: u64,
    pub last_hash: String,
}

struct Inner {
    file: File,
    head: AuditHead,
    dp_history: Vec<DpCost>,
}

/// An open audit log; appends are serialised by a mutex and each is fsynced.
pub struct AuditLog {
    path: PathBuf,
    inner: Mutex<Inner>,
}

fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in digest {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

fn truncate(s: &mut String) {
    if s.len() > MAX_MESSAGE {
        let mut cut = MAX_MESSAGE;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
}

impl AuditLog {
    /// Opens (or creates) a log in append mode. An existing log is verified first, so a station
    /// never extends a broken chain.
    pub fn open(path: &Path) -> Result<AuditLog, AuditError> {
        let (head, dp_history) = if path.exists() {
            verify(path)?
        } else {
            (
                AuditHead {
                    entries: 0,
                    last_hash: GENESIS_HASH.into(),
                },
                Vec::new(),
            )
        };
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| AuditError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(AuditLog {
            path: path.to_path_buf(),
            inner: Mutex::new(Inner {
                file,
                head,
                dp_history,
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Entries written so far and the hash of the last line.
    pub fn head(&self) -> AuditHead {
        match self.inner.lock() {
            Ok(g) => g.head.clone(),
            Err(p) => p.into_inner().head.clone(),
        }
    }

    /// The costs of the completed differentially private jobs in this log, oldest first.
    pub fn dp_history(&self) -> Vec<DpCost> {
        match self.inner.lock() {
            Ok(g) => g.dp_history.clone(),
            Err(p) => p.into_inner().dp_history.clone(),
        }
    }

    /// Appends one entry and fsyncs it; returns the entry as written.
    pub fn append(&self, mut record: AuditRecord) -> Result<AuditEntry, AuditError> {
        match &mut record.outcome {
            AuditOutcome::Refused { reason, .. } => truncate(reason),
            AuditOutcome::Error { message, .. } => truncate(message),
            AuditOutcome::Ok => {}
        }
        let mut guard = match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let entry = AuditEntry {
            seq: guard.head.entries + 1,
            timestamp: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            record,
            prev_hash: guard.head.last_hash.clone(),
        };
        let line = serde_json::to_string(&entry).map_err(|e| AuditError::Encode {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        let io = |source| AuditError::Io {
            path: self.path.clone(),
            source,
        };
        let mut bytes = line.clone().into_bytes();
        bytes.push(b'\n');
        guard.file.write_all(&bytes).map_err(io)?;
        guard.file.sync_data().map_err(io)?;
        guard.head = AuditHead {
            entries: entry.seq,
            last_hash: sha256_hex(line.as_bytes()),
        };
        if let (AuditOutcome::Ok, Some(c)) = (&entry.record.outcome, entry.record.dp_cost) {
            guard.dp_history.push(c);
        }
        Ok(entry)
    }
}

/// Checks a log's hash chain and sequence numbers; returns its head, or the first bad line.
pub fn verify_audit_log(path: &Path) -> Result<AuditHead, AuditError> {
    verify(path).map(|(head, _)| head)
}

fn verify(path: &Path) -> Result<(AuditHead, Vec<DpCost>), AuditError> {
    let mut dp_history = Vec::new();
    let file = File::open(path).map_err(|source| AuditError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut head = AuditHead {
        entries: 0,
        last_hash: GENESIS_HASH.into(),
    };
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line_no = i as u64 + 1;
        let corrupt = |message: String| AuditError::Corrupt {
            path: path.to_path_buf(),
            line: line_no,
            message,
        };
        let line = line.map_err(|e| corrupt(e.to_string()))?;
        let entry: AuditEntry =
            serde_json::from_str(&line).map_err(|e| corrupt(format!("not an entry: {e}")))?;
        if entry.seq != head.entries + 1 {
            return Err(corrupt(format!(
                "sequence number {} where {} was expected (a line was removed or inserted)",
                entry.seq,
                head.entries + 1
            )));
        }
        if entry.prev_hash != head.last_hash {
            return Err(corrupt(
                "prev_hash does not match the previous line (it was edited)".into(),
            ));
        }
        head = AuditHead {
            entries: entry.seq,
            last_hash: sha256_hex(line.as_bytes()),
        };
        if let (AuditOutcome::Ok, Some(c)) = (&entry.record.outcome, entry.record.dp_cost) {
            dp_history.push(c);
        }
    }
    Ok((head, dp_history))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn record(i: u64) -> AuditRecord {
        AuditRecord {
            endpoint: "job".into(),
            request_id: Some(format!("r{i}")),
            requester: Some("aggregator".into()),
            algorithm: Some("count".into()),
            outcome: if i.is_multiple_of(2) {
                AuditOutcome::Ok
            } else {
                AuditOutcome::Refused {
                    code: RefusalCode::CellTooSmall,
                    reason: "x".repeat(1000),
                }
            },
            request_bytes: 10 * i,
            response_bytes: 20,
            epsilon_spent: None,
            epsilon_total: Some(0.5),
            dp_cost: (i == 2).then_some(DpCost {
                noise_multiplier: 1.0,
                sample_rate: 0.1,
                steps: 7,
            }),
        }
    }

    #[test]
    fn chain_verifies_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let log = AuditLog::open(&path).unwrap();
        for i in 0..3 {
            log.append(record(i)).unwrap();
        }
        drop(log);
        let log = AuditLog::open(&path).unwrap();
        let e = log.append(record(3)).unwrap();
        assert_eq!(e.seq, 4);
        assert_eq!(
            log.dp_history().len(),
            1,
            "the DP cost of entry 3 is replayed"
        );
        let head = verify_audit_log(&path).unwrap();
        assert_eq!(head, log.head());
        assert_eq!(head.entries, 4);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.lines().all(|l| l.len() < 800), "reasons are truncated");
    }

    #[test]
    fn edits_and_deletions_are_detected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let log = AuditLog::open(&path).unwrap();
        for i in 0..4 {
            log.append(record(i)).unwrap();
        }
        drop(log);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();

        let edited = text.replacen("\"request_bytes\":10", "\"request_bytes\":11", 1);
        std::fs::write(&path, &edited).unwrap();
        match verify_audit_log(&path).unwrap_err() {
            AuditError::Corrupt { line, .. } => assert_eq!(line, 3),
            e => panic!("{e}"),
        }
        assert!(
            AuditLog::open(&path).is_err(),
            "a broken chain is not extended"
        );

        let deleted = format!("{}\n{}\n{}\n", lines[0], lines[2], lines[3]);
        std::fs::write(&path, deleted).unwrap();
        let msg = verify_audit_log(&path).unwrap_err().to_string();
        assert!(msg.contains("line 2") && msg.contains("sequence"), "{msg}");

        // Renumbering after a deletion still breaks the hash chain.
        let renumbered = format!(
            "{}\n{}\n",
            lines[0],
            lines[2].replacen("\"seq\":3", "\"seq\":2", 1)
        );
        std::fs::write(&path, renumbered).unwrap();
        let msg = verify_audit_log(&path).unwrap_err().to_string();
        assert!(msg.contains("prev_hash"), "{msg}");
    }
}

//! The one error type of the crate.

use thiserror::Error;

/// Everything that can go wrong in `oncolens-privacy`.
///
/// Every check on untrusted input (a parameter, a message from the network, a persisted
/// accountant) ends in one of these instead of a panic, so a data station can refuse a job or a
/// round with a message that says why.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum PrivacyError {
    /// A parameter outside its domain (not finite, not positive, a probability outside [0, 1], ...).
    #[error("invalid parameter `{name}` = {value}: {reason}")]
    InvalidParameter {
        /// Parameter name as in the API.
        name: &'static str,
        /// The offending value (as text, so integers and floats both fit).
        value: String,
        /// What the parameter must satisfy.
        reason: &'static str,
    },
    /// A model update holds NaN or an infinity: its norm, and so any DP guarantee, is undefined.
    #[error("model update is not finite at index {index}")]
    NonFiniteUpdate {
        /// First offending coordinate.
        index: usize,
    },
    /// Two things that must have the same length do not.
    #[error("length mismatch for {what}: expected {expected}, got {got}")]
    LengthMismatch {
        /// What was compared.
        what: &'static str,
        /// Expected length.
        expected: usize,
        /// Actual length.
        got: usize,
    },
    /// The secure-aggregation threshold is not met: the round cannot complete.
    #[error("secure aggregation {round}: only {have} clients left, the threshold is {need}")]
    InsufficientClients {
        /// The round (or protocol step) that failed.
        round: &'static str,
        /// Clients still present.
        have: usize,
        /// The threshold t.
        need: usize,
    },
    /// A message that violates the protocol (wrong round, unknown or duplicate sender, wrong
    /// session, inconsistent client sets, ...).
    #[error("secure aggregation protocol violation: {0}")]
    Protocol(String),
    /// An encrypted share did not authenticate: tampered, misrouted or garbled.
    #[error(
        "encrypted share from client {from} to client {to} failed to decrypt (tampered or misrouted)"
    )]
    Decryption {
        /// Sender of the share.
        from: u32,
        /// Intended recipient.
        to: u32,
    },
    /// Bytes that do not parse as what they claim to be.
    #[error("malformed data: {0}")]
    Malformed(String),
    /// Fewer Shamir shares than the threshold.
    #[error("Shamir reconstruction needs {need} shares, got {have}")]
    NotEnoughShares {
        /// Shares supplied.
        have: usize,
        /// Threshold.
        need: usize,
    },
    /// Shares that do not reconstruct a consistent secret (garbled shares, wrong commitment, a
    /// reconstructed key that does not match the advertised public key).
    #[error("secret reconstruction failed: {0}")]
    Reconstruction(String),
}

impl PrivacyError {
    pub(crate) fn invalid(name: &'static str, value: impl ToString, reason: &'static str) -> Self {
        Self::InvalidParameter {
            name,
            value: value.to_string(),
            reason,
        }
    }
}

//! Secure aggregation by pairwise masking: the server learns the sum of the stations' updates
//! and nothing else about any single one (Bonawitz, Ivanov, Kreuter, Marcedone, McMahan, Patel,
//! Ramage, Segal & Seth 2017, "Practical Secure Aggregation for Privacy-Preserving Machine
//! Learning", CCS; the semi-honest variant of its protocol. Flower's SecAgg+ is the same idea
//! with sparser pairings).
//!
//! # Idea
//!
//! Every pair of clients `i < j` agrees (X25519) on a seed `s_ij`; `i` adds `PRG(s_ij)` to its
//! quantised update and `j` subtracts it, so the pairwise masks cancel in the sum. Each client
//! also adds a self mask `PRG(b_i)`. Each masked vector is then uniformly random in Z_{2^32}^dim
//! on its own. For dropouts, every client Shamir-shares (t-of-n) both its mask-agreement secret
//! key and `b_i` with the others, encrypted end to end through the server. After the masked
//! inputs are in, each survivor reveals, for every other client, exactly one of the two: the
//! share of `b_k` if `k` sent its masked input (so the server removes `k`'s self mask), or the
//! share of `k`'s mask key if `k` dropped (so the server recomputes and removes the pairwise
//! masks the survivors added against `k`). A client that dropped after sending its masked input
//! is still in the sum; one that dropped before is not.
//!
//! # Rounds (messages in [`messages`], as serde types)
//!
//! | round | client → server | server → clients |
//! |---|---|---|
//! | 0 advertise keys | [`AdvertiseKeys`] ([`Client::advertise_keys`]) | [`KeysBroadcast`] (`U1`, [`Server::broadcast_keys`]) |
//! | 1 share keys | [`ShareKeys`] ([`Client::share_keys`]) | one [`ForwardedShares`] per member of `U2` ([`Server::forward_shares`]) |
//! | 2 masked input | [`MaskedInput`] ([`Client::masked_input`]) | [`UnmaskRequest`] (`U3`, [`Server::unmask_request`]) |
//! | 3 unmasking | [`UnmaskShares`] ([`Client::unmask`]) | [`Server::finish`] → [`AggregateResult`] |
//!
//! The server collects with `receive_*` and closes a round with the method in the right column;
//! when to stop waiting for stragglers is the transport's decision. Closing a round with fewer
//! than `threshold` clients is [`crate::PrivacyError::InsufficientClients`] (the round can be
//! closed again once more messages arrived).
//!
//! # Threat model
//!
//! Semi-honest: the server and clients follow the protocol but may try to learn from what they
//! see; up to `t − 1` clients may collude with the server. Not protected: a malicious server
//! that lies about who dropped (telling different clients different `U3`s could get both shares
//! of one client; the paper's consistency-check round with signatures is not implemented), a
//! client that sends a bogus update (no input validation beyond the quantiser's clipping), and
//! the sum itself (use [`crate::dp`] for what the sum reveals). Choose `t > n/2`.

mod client;
mod crypto;
pub mod messages;
pub mod quant;
mod server;
pub mod shamir;

use serde::{Deserialize, Serialize};

pub use client::Client;
pub use messages::{
    AdvertiseKeys, AggregateResult, ClientKeys, EncryptedShare, ForwardedShares, KeysBroadcast,
    MaskedInput, RevealedShare, ShareKeys, UnmaskRequest, UnmaskShares,
};
pub use quant::Quantizer;
pub use server::Server;

use crate::PrivacyError;

/// Parameters every participant of one secure-aggregation session must share.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SecAggConfig {
    /// Distinguishes sessions; mixed into every key derivation and checked in every message, so
    /// nothing from one session is usable in another. Use a fresh id per session.
    pub session_id: u64,
    /// `t`: shares needed to reconstruct a secret, and the fewest clients any round may end
    /// with. At least 2.
    pub threshold: usize,
    /// How updates enter the ring (clipping range and the maximum number of clients).
    pub quantizer: Quantizer,
}

impl SecAggConfig {
    /// A validated configuration.
    pub fn new(
        session_id: u64,
        threshold: usize,
        clip: f32,
        max_clients: u32,
    ) -> Result<Self, PrivacyError> {
        let c = Self {
            session_id,
            threshold,
            quantizer: Quantizer::new(clip, max_clients)?,
        };
        c.validate()?;
        Ok(c)
    }

    /// Checks the (public, possibly deserialised) fields.
    pub fn validate(&self) -> Result<(), PrivacyError> {
        self.quantizer.validate()?;
        if self.threshold < 2 {
            return Err(PrivacyError::invalid(
                "threshold",
                self.threshold,
                "must be at least 2 (with 1 the server could unmask a lone client)",
            ));
        }
        if self.threshold > self.quantizer.max_clients as usize {
            return Err(PrivacyError::invalid(
                "threshold",
                self.threshold,
                "must not exceed max_clients",
            ));
        }
        Ok(())
    }
}

/// Shamir point of a client: its id + 1 (0 is the secret's point).
pub(crate) fn share_point(id: u32) -> u64 {
    u64::from(id) + 1
}

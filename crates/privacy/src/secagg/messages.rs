//! The protocol's messages. All are serde types so the rounds can travel as JSON over HTTP;
//! every field is checked by the receiver, so a garbled or forged message is an error.

use serde::{Deserialize, Serialize};

use super::shamir::Share;

/// Round 0, client → server: the client's two X25519 public keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdvertiseKeys {
    /// The session (round of federated training) this belongs to.
    pub session_id: u64,
    /// Sender.
    pub client: u32,
    /// Length of the client's update vector; all clients must agree.
    pub dim: u64,
    /// Public key for encrypting shares to this client (`c_i^PK` in the paper).
    pub enc_public: [u8; 32],
    /// Public key for pairwise mask agreement (`s_i^PK`).
    pub mask_public: [u8; 32],
}

/// One client's advertised keys, as the server relays them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientKeys {
    /// Client id.
    pub client: u32,
    /// See [`AdvertiseKeys::enc_public`].
    pub enc_public: [u8; 32],
    /// See [`AdvertiseKeys::mask_public`].
    pub mask_public: [u8; 32],
}

/// End of round 0, server → every client: the keys of everyone who advertised (`U1`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeysBroadcast {
    /// Session id.
    pub session_id: u64,
    /// Update length.
    pub dim: u64,
    /// `U1`, sorted by client id.
    pub clients: Vec<ClientKeys>,
}

/// A share pair encrypted from one client to another; opaque to the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptedShare {
    /// Sender.
    pub from: u32,
    /// Recipient.
    pub to: u32,
    /// ChaCha20-Poly1305 nonce.
    pub nonce: [u8; 12],
    /// Ciphertext of the recipient's shares of the sender's mask key and self-mask seed.
    pub ciphertext: Vec<u8>,
}

/// Round 1, client → server: encrypted shares for every other member of `U1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareKeys {
    /// Session id.
    pub session_id: u64,
    /// Sender.
    pub client: u32,
    /// SHA-256 commitment to the self-mask seed, checked after the server reconstructs it.
    pub self_mask_commitment: [u8; 32],
    /// One per other member of `U1`.
    pub shares: Vec<EncryptedShare>,
}

/// End of round 1, server → one client: the shares addressed to it by every member of `U2`
/// (the clients that sent [`ShareKeys`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForwardedShares {
    /// Session id.
    pub session_id: u64,
    /// Recipient.
    pub to: u32,
    /// From each other member of `U2`.
    pub shares: Vec<EncryptedShare>,
}

/// Round 2, client → server: the masked, quantised update. Uniformly random on its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaskedInput {
    /// Session id.
    pub session_id: u64,
    /// Sender.
    pub client: u32,
    /// `enc(x) + PRG(b) + Σ ±PRG(s_ij)` in Z_{2^32}.
    pub masked: Vec<u32>,
}

/// End of round 2, server → survivors: who sent a masked input (`U3`). Everyone else in `U2`
/// counts as dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnmaskRequest {
    /// Session id.
    pub session_id: u64,
    /// `U3`, sorted.
    pub survivors: Vec<u32>,
}

/// A share the revealing client holds of `owner`'s secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevealedShare {
    /// Whose secret this is a share of.
    pub owner: u32,
    /// The share (its `x` is the revealing client's id + 1).
    pub share: Share,
}

/// Round 3, client → server: shares of the survivors' self-mask seeds and of the dropped
/// clients' mask keys (never both for the same client).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnmaskShares {
    /// Session id.
    pub session_id: u64,
    /// Sender.
    pub client: u32,
    /// One per member of `U3`.
    pub self_mask_shares: Vec<RevealedShare>,
    /// One per member of `U2 \ U3`.
    pub mask_key_shares: Vec<RevealedShare>,
}

/// The server's output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AggregateResult {
    /// Sum of the contributors' (clipped) updates, decoded to `f32`.
    pub sum: Vec<f32>,
    /// The same sum in the ring (the exact sum of the quantised updates).
    pub ring_sum: Vec<u32>,
    /// Clients whose updates are in the sum (`U3`), sorted.
    pub contributors: Vec<u32>,
}

//! The client (data station) side of the protocol: a state machine that accepts each round's
//! server message once, in order.

use std::collections::{BTreeMap, BTreeSet};

use rand::{CryptoRng, Rng};
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use super::crypto;
use super::messages::{
    AdvertiseKeys, ClientKeys, EncryptedShare, ForwardedShares, KeysBroadcast, MaskedInput,
    RevealedShare, ShareKeys, UnmaskRequest, UnmaskShares,
};
use super::shamir::{self, Share};
use super::{SecAggConfig, share_point};
use crate::PrivacyError;

/// Bytes of each shared secret (an X25519 secret key, a self-mask seed).
pub(crate) const SECRET_LEN: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    AdvertiseKeys,
    ShareKeys,
    MaskedInput,
    Unmask,
    Done,
}

/// One client's state for one secure-aggregation session.
///
/// Use: [`Client::advertise_keys`] → [`Client::share_keys`] → [`Client::masked_input`] →
/// [`Client::unmask`], each with the server's previous broadcast. Calling a round out of order
/// or twice is an error; in particular a client answers [`Client::unmask`] only once, so a
/// server cannot collect both shares of one client's secrets by asking twice with different
/// survivor lists. Secrets are zeroised when dropped.
pub struct Client {
    id: u32,
    dim: usize,
    config: SecAggConfig,
    phase: Phase,
    enc_secret: StaticSecret,
    mask_secret: StaticSecret,
    self_seed: Zeroizing<[u8; 32]>,
    /// `U1`: everyone's keys, from the round-0 broadcast.
    keys: BTreeMap<u32, ClientKeys>,
    /// `U2`: the clients whose shares were forwarded to us, and we.
    u2: BTreeSet<u32>,
    /// Shares we hold: owner → (share of its mask key, share of its self-mask seed).
    held: BTreeMap<u32, (Share, Share)>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("id", &self.id)
            .field("dim", &self.dim)
            .field("phase", &self.phase)
            .finish_non_exhaustive()
    }
}

fn protocol(msg: impl Into<String>) -> PrivacyError {
    PrivacyError::Protocol(msg.into())
}

fn encode_plaintext(from: u32, to: u32, mask_key: &Share, self_mask: &Share) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(
        8 + 8 * (mask_key.y.len() + self_mask.y.len()),
    ));
    out.extend_from_slice(&from.to_be_bytes());
    out.extend_from_slice(&to.to_be_bytes());
    for y in mask_key.y.iter().chain(&self_mask.y) {
        out.extend_from_slice(&y.to_be_bytes());
    }
    out
}

fn decode_plaintext(bytes: &[u8], from: u32, to: u32) -> Result<(Share, Share), PrivacyError> {
    let n = shamir::chunks_for(SECRET_LEN);
    if bytes.len() != 8 + 16 * n {
        return Err(PrivacyError::Malformed(format!(
            "decrypted share from {from} has {} bytes, expected {}",
            bytes.len(),
            8 + 16 * n
        )));
    }
    let word4 = |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    if word4(0) != from || word4(4) != to {
        return Err(protocol(format!(
            "share from {from} to {to} names other clients inside"
        )));
    }
    let mut ys = bytes[8..].chunks_exact(8).map(|c| {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        u64::from_be_bytes(w)
    });
    let x = share_point(to);
    let mask_key = Share {
        x,
        y: ys.by_ref().take(n).collect(),
    };
    let self_mask = Share { x, y: ys.collect() };
    Ok((mask_key, self_mask))
}

impl Client {
    /// A client with fresh key pairs and self-mask seed. `dim` is the length of the update it
    /// will contribute. `rng` must be a cryptographic RNG (`rand::rng()`, `StdRng`
    /// seeded from the OS; a seeded `ChaCha20Rng` only in tests).
    pub fn new<R: Rng + CryptoRng + ?Sized>(
        id: u32,
        dim: usize,
        config: &SecAggConfig,
        rng: &mut R,
    ) -> Result<Self, PrivacyError> {
        config.validate()?;
        if dim == 0 {
            return Err(PrivacyError::invalid("dim", 0, "must be at least 1"));
        }
        let mut self_seed = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(self_seed.as_mut());
        Ok(Self {
            id,
            dim,
            config: *config,
            phase: Phase::AdvertiseKeys,
            enc_secret: crypto::new_secret(rng),
            mask_secret: crypto::new_secret(rng),
            self_seed,
            keys: BTreeMap::new(),
            u2: BTreeSet::new(),
            held: BTreeMap::new(),
        })
    }

    /// This client's id.
    pub fn id(&self) -> u32 {
        self.id
    }

    fn expect_phase(&self, phase: Phase, round: &str) -> Result<(), PrivacyError> {
        if self.phase != phase {
            return Err(protocol(format!(
                "client {}: {round} called in phase {:?}",
                self.id, self.phase
            )));
        }
        Ok(())
    }

    fn check_session(&self, session_id: u64) -> Result<(), PrivacyError> {
        if session_id != self.config.session_id {
            return Err(protocol(format!(
                "message for session {session_id}, this is session {}",
                self.config.session_id
            )));
        }
        Ok(())
    }

    /// Round 0: the public keys to advertise.
    pub fn advertise_keys(&mut self) -> Result<AdvertiseKeys, PrivacyError> {
        self.expect_phase(Phase::AdvertiseKeys, "advertise_keys")?;
        self.phase = Phase::ShareKeys;
        Ok(AdvertiseKeys {
            session_id: self.config.session_id,
            client: self.id,
            dim: self.dim as u64,
            enc_public: PublicKey::from(&self.enc_secret).to_bytes(),
            mask_public: PublicKey::from(&self.mask_secret).to_bytes(),
        })
    }

    /// Round 1: given everyone's keys (`U1`), Shamir-share the mask key and the self-mask seed
    /// (t-of-|U1|) and encrypt each other client's shares to it.
    ///
    /// Errors: wrong session or dimension, this client missing from `U1` or listed with other
    /// keys, repeated ids or keys, fewer than `t` clients.
    pub fn share_keys<R: Rng + CryptoRng + ?Sized>(
        &mut self,
        broadcast: &KeysBroadcast,
        rng: &mut R,
    ) -> Result<ShareKeys, PrivacyError> {
        self.expect_phase(Phase::ShareKeys, "share_keys")?;
        self.check_session(broadcast.session_id)?;
        if broadcast.dim != self.dim as u64 {
            return Err(protocol(format!(
                "broadcast dimension {} differs from this client's {}",
                broadcast.dim, self.dim
            )));
        }
        let mut keys = BTreeMap::new();
        let mut public_keys = BTreeSet::new();
        for k in &broadcast.clients {
            if keys.insert(k.client, k.clone()).is_some() {
                return Err(protocol(format!("client {} listed twice", k.client)));
            }
            // Distinct keys: a server reflecting a client's own key back would otherwise make
            // a pairwise mask that cancels against itself.
            if !public_keys.insert(k.enc_public) || !public_keys.insert(k.mask_public) {
                return Err(protocol("repeated public key in the key broadcast"));
            }
        }
        let own = keys.get(&self.id).ok_or_else(|| {
            protocol(format!("client {} missing from the key broadcast", self.id))
        })?;
        if own.enc_public != PublicKey::from(&self.enc_secret).to_bytes()
            || own.mask_public != PublicKey::from(&self.mask_secret).to_bytes()
        {
            return Err(protocol(
                "the key broadcast lists other keys for this client",
            ));
        }
        // Refuse low-order keys now, before anything secret is sent.
        for k in keys.values().filter(|k| k.client != self.id) {
            crypto::check_public_key(&self.enc_secret, &PublicKey::from(k.enc_public))?;
            crypto::check_public_key(&self.mask_secret, &PublicKey::from(k.mask_public))?;
        }
        let t = self.config.threshold;
        if keys.len() < t {
            return Err(PrivacyError::InsufficientClients {
                round: "share keys (round 1)",
                have: keys.len(),
                need: t,
            });
        }
        let ids: Vec<u32> = keys.keys().copied().collect();
        let xs: Vec<u64> = ids.iter().map(|&id| share_point(id)).collect();
        let mask_key_bytes = Zeroizing::new(self.mask_secret.to_bytes());
        let mask_key_shares = shamir::split(mask_key_bytes.as_ref(), t, &xs, rng)?;
        let self_mask_shares = shamir::split(self.self_seed.as_ref(), t, &xs, rng)?;
        let mut shares = Vec::with_capacity(ids.len() - 1);
        for ((&to, s_share), b_share) in ids.iter().zip(mask_key_shares).zip(self_mask_shares) {
            if to == self.id {
                self.held.insert(self.id, (s_share, b_share));
                continue;
            }
            let plaintext = encode_plaintext(self.id, to, &s_share, &b_share);
            let recipient = PublicKey::from(keys[&to].enc_public);
            let (nonce, ciphertext) = crypto::encrypt(
                &self.enc_secret,
                &recipient,
                self.config.session_id,
                self.id,
                to,
                &plaintext,
                rng,
            )?;
            shares.push(EncryptedShare {
                from: self.id,
                to,
                nonce,
                ciphertext,
            });
        }
        self.keys = keys;
        self.phase = Phase::MaskedInput;
        Ok(ShareKeys {
            session_id: self.config.session_id,
            client: self.id,
            self_mask_commitment: crypto::commit_self_mask(
                self.self_seed.as_ref(),
                self.config.session_id,
                self.id,
            ),
            shares,
        })
    }

    /// Round 2: decrypt the shares forwarded from `U2`, and send the update masked.
    ///
    /// `update` is clipped and quantised with the configuration's [`super::Quantizer`]; apply
    /// DP noise ([`crate::dp`]) before, if wanted. Errors: wrong session or recipient, an
    /// update of the wrong length or with NaN, a share from outside `U1`, repeated, or failing
    /// to decrypt (tampered), fewer than `t` clients in `U2`.
    pub fn masked_input(
        &mut self,
        forwarded: &ForwardedShares,
        update: &[f32],
    ) -> Result<MaskedInput, PrivacyError> {
        self.expect_phase(Phase::MaskedInput, "masked_input")?;
        self.check_session(forwarded.session_id)?;
        if forwarded.to != self.id {
            return Err(protocol(format!(
                "shares for client {} delivered to client {}",
                forwarded.to, self.id
            )));
        }
        if update.len() != self.dim {
            return Err(PrivacyError::LengthMismatch {
                what: "update",
                expected: self.dim,
                got: update.len(),
            });
        }
        let quantised = self.config.quantizer.encode(update)?;
        let mut received = BTreeMap::new();
        for s in &forwarded.shares {
            if s.to != self.id {
                return Err(protocol(format!(
                    "share for client {} in client {}'s bundle",
                    s.to, self.id
                )));
            }
            if s.from == self.id {
                return Err(protocol("a share from this client to itself"));
            }
            let sender = self.keys.get(&s.from).ok_or_else(|| {
                protocol(format!("share from client {} who is not in U1", s.from))
            })?;
            let plaintext = crypto::decrypt(
                &self.enc_secret,
                &PublicKey::from(sender.enc_public),
                self.config.session_id,
                s.from,
                self.id,
                &s.nonce,
                &s.ciphertext,
            )?;
            let pair = decode_plaintext(&plaintext, s.from, self.id)?;
            if received.insert(s.from, pair).is_some() {
                return Err(protocol(format!("two shares from client {}", s.from)));
            }
        }
        let mut u2: BTreeSet<u32> = received.keys().copied().collect();
        u2.insert(self.id);
        if u2.len() < self.config.threshold {
            return Err(PrivacyError::InsufficientClients {
                round: "masked input (round 2)",
                have: u2.len(),
                need: self.config.threshold,
            });
        }

        let session = self.config.session_id;
        let mut masked = quantised;
        let self_seed = crypto::self_mask_seed(&self.self_seed, session, self.id)?;
        for (m, r) in masked
            .iter_mut()
            .zip(crypto::mask_stream(&self_seed, self.dim))
        {
            *m = m.wrapping_add(r);
        }
        for &other in u2.iter().filter(|&&o| o != self.id) {
            let other_key = PublicKey::from(self.keys[&other].mask_public);
            let seed =
                crypto::pairwise_seed(&self.mask_secret, &other_key, session, self.id, other)?;
            let stream = crypto::mask_stream(&seed, self.dim);
            // The lower id adds, the higher subtracts: the pair cancels in the sum.
            if self.id < other {
                masked
                    .iter_mut()
                    .zip(stream)
                    .for_each(|(m, r)| *m = m.wrapping_add(r));
            } else {
                masked
                    .iter_mut()
                    .zip(stream)
                    .for_each(|(m, r)| *m = m.wrapping_sub(r));
            }
        }
        self.held.extend(received);
        self.u2 = u2;
        self.phase = Phase::Unmask;
        Ok(MaskedInput {
            session_id: session,
            client: self.id,
            masked,
        })
    }

    /// Round 3: given the survivors `U3`, reveal shares of their self-mask seeds and of the
    /// dropped clients' (`U2 \ U3`) mask keys. Answered once.
    ///
    /// Errors: wrong session, `U3` not a subset of `U2`, unsorted or repeated, without this
    /// client, or smaller than `t`.
    pub fn unmask(&mut self, request: &UnmaskRequest) -> Result<UnmaskShares, PrivacyError> {
        self.expect_phase(Phase::Unmask, "unmask")?;
        self.check_session(request.session_id)?;
        let survivors: BTreeSet<u32> = request.survivors.iter().copied().collect();
        if survivors.len() != request.survivors.len() {
            return Err(protocol("repeated client in the survivor list"));
        }
        if let Some(stranger) = survivors.iter().find(|s| !self.u2.contains(s)) {
            return Err(protocol(format!(
                "survivor {stranger} did not share keys in round 1"
            )));
        }
        if !survivors.contains(&self.id) {
            return Err(protocol(format!(
                "client {} is not among the survivors",
                self.id
            )));
        }
        if survivors.len() < self.config.threshold {
            return Err(PrivacyError::InsufficientClients {
                round: "unmasking (round 3)",
                have: survivors.len(),
                need: self.config.threshold,
            });
        }
        let mut self_mask_shares = Vec::with_capacity(survivors.len());
        let mut mask_key_shares = Vec::new();
        for &owner in &self.u2 {
            let (s_share, b_share) = self
                .held
                .get(&owner)
                .ok_or_else(|| protocol(format!("no share held for client {owner}")))?;
            if survivors.contains(&owner) {
                self_mask_shares.push(RevealedShare {
                    owner,
                    share: b_share.clone(),
                });
            } else {
                mask_key_shares.push(RevealedShare {
                    owner,
                    share: s_share.clone(),
                });
            }
        }
        self.phase = Phase::Done;
        self.held.clear();
        Ok(UnmaskShares {
            session_id: self.config.session_id,
            client: self.id,
            self_mask_shares,
            mask_key_shares,
        })
    }
}

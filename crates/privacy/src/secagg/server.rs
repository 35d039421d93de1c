//! The server (aggregator) side: collects each round's messages, closes rounds, and unmasks
//! the sum. It never holds a key that decrypts a share, and never sees an unmasked update.

use std::collections::{BTreeMap, BTreeSet};

use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use super::client::SECRET_LEN;
use super::crypto;
use super::messages::{
    AdvertiseKeys, AggregateResult, ClientKeys, ForwardedShares, KeysBroadcast, MaskedInput,
    RevealedShare, ShareKeys, UnmaskRequest, UnmaskShares,
};
use super::shamir::{self, Share};
use super::{SecAggConfig, share_point};
use crate::PrivacyError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    AdvertiseKeys,
    ShareKeys,
    MaskedInput,
    Unmask,
    Done,
}

/// The aggregator's state for one session.
///
/// Use: `receive_advertise`* → [`Server::broadcast_keys`] → `receive_share_keys`* →
/// [`Server::forward_shares`] → `receive_masked_input`* → [`Server::unmask_request`] →
/// `receive_unmask`* → [`Server::finish`]. A message for the wrong round, from an unknown or
/// excluded client, repeated, or malformed is an error and changes nothing.
#[derive(Debug)]
pub struct Server {
    config: SecAggConfig,
    expected: BTreeSet<u32>,
    phase: Phase,
    dim: Option<usize>,
    /// Round 0 messages; `U1` once closed.
    keys: BTreeMap<u32, ClientKeys>,
    /// Round 1 messages; their senders are `U2`.
    share_keys: BTreeMap<u32, ShareKeys>,
    /// Round 2 messages; their senders are `U3`.
    masked: BTreeMap<u32, Vec<u32>>,
    /// Round 3 messages; their senders are `U4`.
    unmask: BTreeMap<u32, UnmaskShares>,
}

fn protocol(msg: impl Into<String>) -> PrivacyError {
    PrivacyError::Protocol(msg.into())
}

impl Server {
    /// A server for the clients `expected_clients` (the stations allowed to take part).
    ///
    /// Errors: an invalid configuration, repeated ids, fewer expected clients than the
    /// threshold, or more than the quantiser's `max_clients`.
    pub fn new(config: &SecAggConfig, expected_clients: &[u32]) -> Result<Self, PrivacyError> {
        config.validate()?;
        let expected: BTreeSet<u32> = expected_clients.iter().copied().collect();
        if expected.len() != expected_clients.len() {
            return Err(protocol("repeated id among the expected clients"));
        }
        if expected.len() < config.threshold {
            return Err(PrivacyError::InsufficientClients {
                round: "setup",
                have: expected.len(),
                need: config.threshold,
            });
        }
        if expected.len() > config.quantizer.max_clients as usize {
            return Err(PrivacyError::invalid(
                "expected_clients",
                expected.len(),
                "more clients than the quantiser's max_clients: the ring sum could wrap",
            ));
        }
        Ok(Self {
            config: *config,
            expected,
            phase: Phase::AdvertiseKeys,
            dim: None,
            keys: BTreeMap::new(),
            share_keys: BTreeMap::new(),
            masked: BTreeMap::new(),
            unmask: BTreeMap::new(),
        })
    }

    fn expect(&self, phase: Phase, session_id: u64, what: &str) -> Result<(), PrivacyError> {
        if self.phase != phase {
            return Err(protocol(format!(
                "{what} arrived in phase {:?}",
                self.phase
            )));
        }
        if session_id != self.config.session_id {
            return Err(protocol(format!(
                "{what} for session {session_id}, this is session {}",
                self.config.session_id
            )));
        }
        Ok(())
    }

    fn enough(&self, have: usize, round: &'static str) -> Result<(), PrivacyError> {
        if have < self.config.threshold {
            return Err(PrivacyError::InsufficientClients {
                round,
                have,
                need: self.config.threshold,
            });
        }
        Ok(())
    }

    /// Round 0: a client's keys.
    pub fn receive_advertise(&mut self, msg: AdvertiseKeys) -> Result<(), PrivacyError> {
        self.expect(Phase::AdvertiseKeys, msg.session_id, "advertised keys")?;
        if !self.expected.contains(&msg.client) {
            return Err(protocol(format!("unexpected client {}", msg.client)));
        }
        if self.keys.contains_key(&msg.client) {
            return Err(protocol(format!("client {} advertised twice", msg.client)));
        }
        let dim = usize::try_from(msg.dim)
            .ok()
            .filter(|&d| d > 0)
            .ok_or_else(|| PrivacyError::Malformed(format!("dimension {}", msg.dim)))?;
        match self.dim {
            Some(d) if d != dim => {
                return Err(PrivacyError::LengthMismatch {
                    what: "advertised dimension",
                    expected: d,
                    got: dim,
                });
            }
            _ => self.dim = Some(dim),
        }
        self.keys.insert(
            msg.client,
            ClientKeys {
                client: msg.client,
                enc_public: msg.enc_public,
                mask_public: msg.mask_public,
            },
        );
        Ok(())
    }

    /// Closes round 0: everyone's keys (`U1`), for every client in `U1`.
    pub fn broadcast_keys(&mut self) -> Result<KeysBroadcast, PrivacyError> {
        if self.phase != Phase::AdvertiseKeys {
            return Err(protocol(format!(
                "broadcast_keys in phase {:?}",
                self.phase
            )));
        }
        self.enough(self.keys.len(), "advertise keys (round 0)")?;
        let dim = self
            .dim
            .ok_or_else(|| protocol("no dimension advertised"))?;
        self.phase = Phase::ShareKeys;
        Ok(KeysBroadcast {
            session_id: self.config.session_id,
            dim: dim as u64,
            clients: self.keys.values().cloned().collect(),
        })
    }

    /// Round 1: a client's encrypted shares, one for every other member of `U1`.
    pub fn receive_share_keys(&mut self, msg: ShareKeys) -> Result<(), PrivacyError> {
        self.expect(Phase::ShareKeys, msg.session_id, "shares")?;
        if !self.keys.contains_key(&msg.client) {
            return Err(protocol(format!(
                "shares from client {} who is not in U1",
                msg.client
            )));
        }
        if self.share_keys.contains_key(&msg.client) {
            return Err(protocol(format!("client {} sent shares twice", msg.client)));
        }
        let recipients: BTreeSet<u32> = msg.shares.iter().map(|s| s.to).collect();
        let wanted: BTreeSet<u32> = self
            .keys
            .keys()
            .copied()
            .filter(|&c| c != msg.client)
            .collect();
        if recipients != wanted || msg.shares.len() != wanted.len() {
            return Err(protocol(format!(
                "client {} must send exactly one share to each other member of U1",
                msg.client
            )));
        }
        if msg.shares.iter().any(|s| s.from != msg.client) {
            return Err(protocol(format!(
                "client {} sent a share in another's name",
                msg.client
            )));
        }
        self.share_keys.insert(msg.client, msg);
        Ok(())
    }

    /// Closes round 1: for each member of `U2`, the shares the other members of `U2` sent it.
    pub fn forward_shares(&mut self) -> Result<Vec<ForwardedShares>, PrivacyError> {
        if self.phase != Phase::ShareKeys {
            return Err(protocol(format!(
                "forward_shares in phase {:?}",
                self.phase
            )));
        }
        self.enough(self.share_keys.len(), "share keys (round 1)")?;
        let u2: Vec<u32> = self.share_keys.keys().copied().collect();
        let out = u2
            .iter()
            .map(|&to| ForwardedShares {
                session_id: self.config.session_id,
                to,
                shares: self
                    .share_keys
                    .values()
                    .flat_map(|m| m.shares.iter().filter(|s| s.to == to).cloned())
                    .collect(),
            })
            .collect();
        self.phase = Phase::MaskedInput;
        Ok(out)
    }

    /// Round 2: a client's masked input.
    pub fn receive_masked_input(&mut self, msg: MaskedInput) -> Result<(), PrivacyError> {
        self.expect(Phase::MaskedInput, msg.session_id, "masked input")?;
        if !self.share_keys.contains_key(&msg.client) {
            return Err(protocol(format!(
                "masked input from client {} who is not in U2",
                msg.client
            )));
        }
        if self.masked.contains_key(&msg.client) {
            return Err(protocol(format!(
                "client {} sent its masked input twice",
                msg.client
            )));
        }
        let dim = self.dim.unwrap_or(0);
        if msg.masked.len() != dim {
            return Err(PrivacyError::LengthMismatch {
                what: "masked input",
                expected: dim,
                got: msg.masked.len(),
            });
        }
        self.masked.insert(msg.client, msg.masked);
        Ok(())
    }

    /// Closes round 2: the survivors `U3` (who sent masked inputs).
    pub fn unmask_request(&mut self) -> Result<UnmaskRequest, PrivacyError> {
        if self.phase != Phase::MaskedInput {
            return Err(protocol(format!(
                "unmask_request in phase {:?}",
                self.phase
            )));
        }
        self.enough(self.masked.len(), "masked input (round 2)")?;
        self.phase = Phase::Unmask;
        Ok(UnmaskRequest {
            session_id: self.config.session_id,
            survivors: self.masked.keys().copied().collect(),
        })
    }

    /// Round 3: a survivor's shares (of every survivor's self-mask seed and every dropped
    /// client's mask key, nothing else).
    pub fn receive_unmask(&mut self, msg: UnmaskShares) -> Result<(), PrivacyError> {
        self.expect(Phase::Unmask, msg.session_id, "unmasking shares")?;
        if !self.masked.contains_key(&msg.client) {
            return Err(protocol(format!(
                "unmasking shares from client {} who is not in U3",
                msg.client
            )));
        }
        if self.unmask.contains_key(&msg.client) {
            return Err(protocol(format!(
                "client {} sent unmasking shares twice",
                msg.client
            )));
        }
        let u3: BTreeSet<u32> = self.masked.keys().copied().collect();
        let dropped: BTreeSet<u32> = self
            .share_keys
            .keys()
            .copied()
            .filter(|c| !u3.contains(c))
            .collect();
        let check = |shares: &[RevealedShare], wanted: &BTreeSet<u32>, what: &str| {
            let owners: BTreeSet<u32> = shares.iter().map(|s| s.owner).collect();
            if owners != *wanted || shares.len() != wanted.len() {
                return Err(protocol(format!(
                    "client {} sent the wrong set of {what} shares",
                    msg.client
                )));
            }
            if shares.iter().any(|s| s.share.x != share_point(msg.client)) {
                return Err(protocol(format!(
                    "client {} sent a share that is not its own",
                    msg.client
                )));
            }
            Ok(())
        };
        check(&msg.self_mask_shares, &u3, "self-mask")?;
        check(&msg.mask_key_shares, &dropped, "mask-key")?;
        self.unmask.insert(msg.client, msg);
        Ok(())
    }

    fn collect_shares(&self, owner: u32, self_mask: bool) -> Vec<Share> {
        self.unmask
            .values()
            .filter_map(|m| {
                let list = if self_mask {
                    &m.self_mask_shares
                } else {
                    &m.mask_key_shares
                };
                list.iter()
                    .find(|s| s.owner == owner)
                    .map(|s| s.share.clone())
            })
            .collect()
    }

    /// Closes round 3: reconstructs the survivors' self masks and the dropped clients' mask
    /// keys from the revealed shares, removes all masks, and decodes the sum.
    ///
    /// Errors: fewer than `t` clients answered; a reconstruction that is inconsistent (garbled
    /// share), does not match the self-mask commitment, or yields a mask key whose public key
    /// differs from the one advertised.
    pub fn finish(&mut self) -> Result<AggregateResult, PrivacyError> {
        if self.phase != Phase::Unmask {
            return Err(protocol(format!("finish in phase {:?}", self.phase)));
        }
        self.enough(self.unmask.len(), "unmasking (round 3)")?;
        let t = self.config.threshold;
        let session = self.config.session_id;
        let dim = self.dim.unwrap_or(0);
        let u3: Vec<u32> = self.masked.keys().copied().collect();
        let dropped: Vec<u32> = self
            .share_keys
            .keys()
            .copied()
            .filter(|c| !self.masked.contains_key(c))
            .collect();

        let mut sum = vec![0u32; dim];
        for v in self.masked.values() {
            sum.iter_mut()
                .zip(v)
                .for_each(|(s, &m)| *s = s.wrapping_add(m));
        }
        for &k in &u3 {
            let b = Zeroizing::new(shamir::reconstruct(
                &self.collect_shares(k, true),
                t,
                SECRET_LEN,
            )?);
            let commitment = self.share_keys.get(&k).map(|m| m.self_mask_commitment);
            if commitment != Some(crypto::commit_self_mask(&b, session, k)) {
                return Err(PrivacyError::Reconstruction(format!(
                    "client {k}'s self-mask seed does not match its commitment"
                )));
            }
            let mut seed = Zeroizing::new([0u8; 32]);
            seed.copy_from_slice(&b);
            let self_seed = crypto::self_mask_seed(&seed, session, k)?;
            sum.iter_mut()
                .zip(crypto::mask_stream(&self_seed, dim))
                .for_each(|(s, r)| *s = s.wrapping_sub(r));
        }
        for &k in &dropped {
            let bytes = Zeroizing::new(shamir::reconstruct(
                &self.collect_shares(k, false),
                t,
                SECRET_LEN,
            )?);
            let mut key = [0u8; 32];
            key.copy_from_slice(&bytes);
            let secret = StaticSecret::from(key);
            let advertised = self.keys.get(&k).map(|c| c.mask_public);
            if advertised != Some(PublicKey::from(&secret).to_bytes()) {
                return Err(PrivacyError::Reconstruction(format!(
                    "client {k}'s reconstructed mask key does not match its public key"
                )));
            }
            for &j in &u3 {
                let j_key = PublicKey::from(self.keys[&j].mask_public);
                let seed = crypto::pairwise_seed(&secret, &j_key, session, k, j)?;
                let stream = crypto::mask_stream(&seed, dim);
                // j added PRG(s_jk) if j < k and subtracted it otherwise: undo that.
                if j < k {
                    sum.iter_mut()
                        .zip(stream)
                        .for_each(|(s, r)| *s = s.wrapping_sub(r));
                } else {
                    sum.iter_mut()
                        .zip(stream)
                        .for_each(|(s, r)| *s = s.wrapping_add(r));
                }
            }
        }
        let decoded = self.config.quantizer.decode_sum(&sum, u3.len() as u32)?;
        self.phase = Phase::Done;
        Ok(AggregateResult {
            sum: decoded,
            ring_sum: sum,
            contributors: u3,
        })
    }
}

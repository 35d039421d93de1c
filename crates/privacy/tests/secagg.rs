//! Secure aggregation end to end: correctness (exact in the ring, bounded in f32), what the
//! server sees, dropouts at each round, the threshold, and tampered or garbled messages.
//! Every message goes through JSON on its way, as it would over HTTP.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use oncolens_privacy::PrivacyError;
use oncolens_privacy::secagg::{
    AggregateResult, Client, ForwardedShares, KeysBroadcast, SecAggConfig, Server, UnmaskRequest,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde::Serialize;
use serde::de::DeserializeOwned;

const SESSION: u64 = 0x5ec_a66;

/// Through JSON and back, as over HTTP.
fn wire<T: Serialize + DeserializeOwned>(msg: &T) -> T {
    serde_json::from_str(&serde_json::to_string(msg).unwrap()).unwrap()
}

fn inputs(n: usize, dim: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| (0..dim).map(|_| rng.random_range(-1.2f32..1.2)).collect())
        .collect()
}

/// Where a client stops answering.
#[derive(Clone, Copy, PartialEq)]
enum Dropout {
    Never,
    AfterRound1,
    AfterRound2,
}

/// The server's result, the masked vectors it received (client index, vector), and the run.
type Outcome = (
    Result<AggregateResult, PrivacyError>,
    Vec<(usize, Vec<u32>)>,
    Run,
);

struct Run {
    config: SecAggConfig,
    ids: Vec<u32>,
    clients: Vec<Client>,
    server: Server,
    inputs: Vec<Vec<f32>>,
    rng: ChaCha20Rng,
}

impl Run {
    fn new(ids: &[u32], threshold: usize, dim: usize, seed: u64) -> Self {
        let config = SecAggConfig::new(SESSION, threshold, 1.0, 64).unwrap();
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let clients = ids
            .iter()
            .map(|&id| Client::new(id, dim, &config, &mut rng).unwrap())
            .collect();
        Self {
            config,
            ids: ids.to_vec(),
            clients,
            server: Server::new(&config, ids).unwrap(),
            inputs: inputs(ids.len(), dim, seed + 1),
            rng,
        }
    }

    fn round0(&mut self) -> KeysBroadcast {
        for c in &mut self.clients {
            self.server
                .receive_advertise(wire(&c.advertise_keys().unwrap()))
                .unwrap();
        }
        wire(&self.server.broadcast_keys().unwrap())
    }

    fn round1(&mut self, keys: &KeysBroadcast) -> Vec<ForwardedShares> {
        for c in &mut self.clients {
            let msg = c.share_keys(keys, &mut self.rng).unwrap();
            self.server.receive_share_keys(wire(&msg)).unwrap();
        }
        self.server
            .forward_shares()
            .unwrap()
            .iter()
            .map(wire)
            .collect()
    }

    fn bundle_for(forwarded: &[ForwardedShares], id: u32) -> &ForwardedShares {
        forwarded.iter().find(|f| f.to == id).unwrap()
    }

    /// Runs all rounds with the given dropouts; returns the server's result and the masked
    /// vectors it received.
    fn run(mut self, drops: &[Dropout]) -> Outcome {
        let keys = self.round0();
        let forwarded = self.round1(&keys);
        let mut seen = Vec::new();
        for (i, c) in self.clients.iter_mut().enumerate() {
            if drops[i] == Dropout::AfterRound1 {
                continue;
            }
            let msg = c
                .masked_input(Self::bundle_for(&forwarded, c.id()), &self.inputs[i])
                .unwrap();
            let msg = wire(&msg);
            seen.push((i, msg.masked.clone()));
            self.server.receive_masked_input(msg).unwrap();
        }
        let request: UnmaskRequest = match self.server.unmask_request() {
            Ok(r) => wire(&r),
            Err(e) => return (Err(e), seen, self),
        };
        for (i, c) in self.clients.iter_mut().enumerate() {
            if drops[i] != Dropout::Never {
                continue;
            }
            self.server
                .receive_unmask(wire(&c.unmask(&request).unwrap()))
                .unwrap();
        }
        let result = self.server.finish().map(|r| wire(&r));
        (result, seen, self)
    }
}

fn check_sum(run: &Run, result: &AggregateResult, included: &[usize]) {
    let q = run.config.quantizer;
    let dim = run.inputs[0].len();
    let mut ring = vec![0u32; dim];
    let mut exact = vec![0f64; dim];
    for &i in included {
        let e = q.encode(&run.inputs[i]).unwrap();
        for d in 0..dim {
            ring[d] = ring[d].wrapping_add(e[d]);
            exact[d] += f64::from(run.inputs[i][d].clamp(-q.clip, q.clip));
        }
    }
    assert_eq!(
        result.ring_sum, ring,
        "ring sum must equal the sum of the quantised inputs exactly"
    );
    assert_eq!(result.sum.len(), dim);
    let bound = q.error_bound(included.len() as u32);
    for (d, (&got, &want)) in result.sum.iter().zip(&exact).enumerate() {
        let err = (f64::from(got) - want).abs();
        let f32_half_ulp = f64::from(got).abs() * f64::from(f32::EPSILON) / 2.0;
        assert!(
            err <= bound + f32_half_ulp,
            "coordinate {d}: error {err} > bound {bound}"
        );
    }
    let expected: Vec<u32> = included.iter().map(|&i| run.ids[i]).collect();
    assert_eq!(result.contributors, expected);
}

#[test]
fn all_clients_sum_is_exact_in_the_ring_and_bounded_in_f32() {
    let run = Run::new(&[3, 7, 11, 12, 40], 3, 257, 1);
    let (result, _, run) = run.run(&[Dropout::Never; 5]);
    check_sum(&run, &result.unwrap(), &[0, 1, 2, 3, 4]);
}

#[test]
fn the_server_never_sees_an_update_in_the_clear() {
    let dim = 4096;
    let mut run = Run::new(&[1, 2, 3, 4], 3, dim, 2);
    // Strongly structured inputs, so any leak would show as correlation.
    for (i, x) in run.inputs.iter_mut().enumerate() {
        for (d, v) in x.iter_mut().enumerate() {
            *v = 0.9 * ((d as f32) * 0.01 + i as f32).sin();
        }
    }
    let q = run.config.quantizer;
    let quantised: Vec<Vec<u32>> = run.inputs.iter().map(|x| q.encode(x).unwrap()).collect();
    let (result, seen, run) = run.run(&[Dropout::Never; 4]);
    check_sum(&run, &result.unwrap(), &[0, 1, 2, 3]);
    assert_eq!(seen.len(), 4);
    for (i, masked) in &seen {
        let x: Vec<f64> = quantised[*i].iter().map(|&v| f64::from(v)).collect();
        let y: Vec<f64> = masked.iter().map(|&v| f64::from(v)).collect();
        let r = pearson(&x, &y);
        // Under independence r ~ N(0, 1/dim): |r| < 5/sqrt(dim) = 0.078.
        assert!(
            r.abs() < 5.0 / (dim as f64).sqrt(),
            "client {i}: correlation {r}"
        );
        let same = x.iter().zip(&y).filter(|(a, b)| a == b).count();
        assert!(
            same <= 2,
            "client {i}: {same} coordinates sent in the clear"
        );
        // Uniform on Z_2^32: each of the 16 top-nibble bins holds ~dim/16 = 256 (sd 15.5).
        let mut bins = [0usize; 16];
        masked.iter().for_each(|&v| bins[(v >> 28) as usize] += 1);
        assert!(
            bins.iter().all(|&b| (180..=340).contains(&b)),
            "client {i}: {bins:?}"
        );
    }
}

fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let cov: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let vx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    let vy: f64 = y.iter().map(|b| (b - my).powi(2)).sum();
    cov / (vx * vy).sqrt()
}

#[test]
fn a_client_dropping_before_its_masked_input_is_excluded() {
    let run = Run::new(&[1, 2, 3, 4, 5], 3, 64, 3);
    let drops = [
        Dropout::Never,
        Dropout::AfterRound1,
        Dropout::Never,
        Dropout::Never,
        Dropout::AfterRound1,
    ];
    let (result, _, run) = run.run(&drops);
    check_sum(&run, &result.unwrap(), &[0, 2, 3]);
}

#[test]
fn a_client_dropping_after_its_masked_input_is_still_included() {
    let run = Run::new(&[1, 2, 3, 4, 5], 3, 64, 4);
    let drops = [
        Dropout::AfterRound2,
        Dropout::Never,
        Dropout::Never,
        Dropout::AfterRound2,
        Dropout::Never,
    ];
    let (result, _, run) = run.run(&drops);
    check_sum(&run, &result.unwrap(), &[0, 1, 2, 3, 4]);
}

#[test]
fn dropouts_in_both_rounds_at_once() {
    let run = Run::new(&[10, 20, 30, 40, 50, 60], 3, 33, 5);
    let drops = [
        Dropout::AfterRound1,
        Dropout::Never,
        Dropout::AfterRound2,
        Dropout::Never,
        Dropout::Never,
        Dropout::AfterRound1,
    ];
    let (result, _, run) = run.run(&drops);
    check_sum(&run, &result.unwrap(), &[1, 2, 3, 4]);
}

#[test]
fn fewer_than_threshold_survivors_is_an_error_in_every_round() {
    // Round 2: only 2 of 4 send masked inputs, t = 3.
    let run = Run::new(&[1, 2, 3, 4], 3, 8, 6);
    let drops = [
        Dropout::Never,
        Dropout::AfterRound1,
        Dropout::AfterRound1,
        Dropout::Never,
    ];
    let (result, _, _) = run.run(&drops);
    assert_eq!(
        result.unwrap_err(),
        PrivacyError::InsufficientClients {
            round: "masked input (round 2)",
            have: 2,
            need: 3
        }
    );
    // Round 3: all 4 send masked inputs, only 2 answer the unmasking.
    let run = Run::new(&[1, 2, 3, 4], 3, 8, 7);
    let drops = [
        Dropout::AfterRound2,
        Dropout::Never,
        Dropout::AfterRound2,
        Dropout::Never,
    ];
    let (result, _, _) = run.run(&drops);
    assert!(matches!(
        result,
        Err(PrivacyError::InsufficientClients {
            have: 2,
            need: 3,
            ..
        })
    ));
    // Round 0: only 2 advertise.
    let mut run = Run::new(&[1, 2, 3, 4], 3, 8, 8);
    for c in run.clients.iter_mut().take(2) {
        run.server
            .receive_advertise(c.advertise_keys().unwrap())
            .unwrap();
    }
    assert!(matches!(
        run.server.broadcast_keys(),
        Err(PrivacyError::InsufficientClients { .. })
    ));
    // Round 1: all advertise, only 2 share keys.
    let mut run = Run::new(&[1, 2, 3, 4], 3, 8, 9);
    let keys = run.round0();
    for c in run.clients.iter_mut().take(2) {
        let m = c.share_keys(&keys, &mut run.rng).unwrap();
        run.server.receive_share_keys(m).unwrap();
    }
    assert!(matches!(
        run.server.forward_shares(),
        Err(PrivacyError::InsufficientClients { .. })
    ));
    // A server expecting fewer clients than the threshold cannot even start.
    let config = SecAggConfig::new(SESSION, 3, 1.0, 64).unwrap();
    assert!(Server::new(&config, &[1, 2]).is_err());
}

#[test]
fn tampered_shares_are_rejected_by_the_recipient() {
    let mut run = Run::new(&[1, 2, 3], 2, 8, 10);
    let keys = run.round0();
    let forwarded = run.round1(&keys);
    let input = run.inputs[0].clone();
    let mut bundle = Run::bundle_for(&forwarded, 1).clone();
    // A flipped ciphertext bit.
    bundle.shares[0].ciphertext[3] ^= 0x10;
    assert!(matches!(
        run.clients[0].masked_input(&bundle, &input),
        Err(PrivacyError::Decryption { .. })
    ));
    // A share re-routed to another recipient (client 2's share to 3, delivered to 1).
    let mut bundle = Run::bundle_for(&forwarded, 1).clone();
    let from_3_to_2 = Run::bundle_for(&forwarded, 2)
        .shares
        .iter()
        .find(|s| s.from == 3)
        .unwrap()
        .clone();
    let slot = bundle.shares.iter().position(|s| s.from == 3).unwrap();
    bundle.shares[slot] = from_3_to_2;
    assert!(run.clients[0].masked_input(&bundle, &input).is_err());
    bundle.shares[slot].to = 1;
    assert!(matches!(
        run.clients[0].masked_input(&bundle, &input),
        Err(PrivacyError::Decryption { from: 3, to: 1 })
    ));
    // Truncated ciphertext, wrong session, wrong recipient, repeated share, wrong length input.
    let mut bundle = Run::bundle_for(&forwarded, 1).clone();
    bundle.shares[0].ciphertext.truncate(5);
    assert!(run.clients[0].masked_input(&bundle, &input).is_err());
    let mut bundle = Run::bundle_for(&forwarded, 1).clone();
    bundle.session_id += 1;
    assert!(run.clients[0].masked_input(&bundle, &input).is_err());
    let bundle = Run::bundle_for(&forwarded, 2).clone();
    assert!(run.clients[0].masked_input(&bundle, &input).is_err());
    let mut bundle = Run::bundle_for(&forwarded, 1).clone();
    bundle.shares.push(bundle.shares[0].clone());
    assert!(run.clients[0].masked_input(&bundle, &input).is_err());
    let bundle = Run::bundle_for(&forwarded, 1).clone();
    assert!(matches!(
        run.clients[0].masked_input(&bundle, &input[..4]),
        Err(PrivacyError::LengthMismatch { .. })
    ));
    // After all that, the genuine bundle still works.
    assert!(run.clients[0].masked_input(&bundle, &input).is_ok());
}

/// Runs to the end of round 3 with client index `liar`'s unmasking shares altered by `alter`,
/// with exactly `answering` clients answering (so redundancy checks may or may not apply).
fn finish_with_altered_unmask(
    drops: &[Dropout],
    liar: usize,
    alter: impl Fn(&mut oncolens_privacy::secagg::UnmaskShares),
) -> Result<AggregateResult, PrivacyError> {
    let mut run = Run::new(&[1, 2, 3, 4], 3, 8, 11);
    let keys = run.round0();
    let forwarded = run.round1(&keys);
    for (i, c) in run.clients.iter_mut().enumerate() {
        if drops[i] != Dropout::AfterRound1 {
            let m = c
                .masked_input(Run::bundle_for(&forwarded, c.id()), &run.inputs[i])
                .unwrap();
            run.server.receive_masked_input(m).unwrap();
        }
    }
    let request = run.server.unmask_request().unwrap();
    for (i, c) in run.clients.iter_mut().enumerate() {
        if drops[i] == Dropout::Never {
            let mut m = c.unmask(&request).unwrap();
            if i == liar {
                alter(&mut m);
            }
            run.server.receive_unmask(m)?;
        }
    }
    run.server.finish()
}

#[test]
fn garbled_unmasking_shares_are_detected() {
    use Dropout::*;
    // Exactly t = 3 answer: no redundancy, so the self-mask commitment must catch it.
    let r = finish_with_altered_unmask(&[Never, Never, Never, AfterRound2], 0, |m| {
        m.self_mask_shares[1].share.y[0] ^= 1
    });
    assert!(matches!(r, Err(PrivacyError::Reconstruction(_))), "{r:?}");
    // 4 answer: the extra share is checked against the polynomial.
    let r = finish_with_altered_unmask(&[Never; 4], 3, |m| m.self_mask_shares[0].share.y[2] ^= 1);
    assert!(matches!(r, Err(PrivacyError::Reconstruction(_))), "{r:?}");
    // A dropped client's mask key reconstructed from a garbled share: wrong public key.
    let r = finish_with_altered_unmask(&[Never, AfterRound1, Never, Never], 2, |m| {
        m.mask_key_shares[0].share.y[4] ^= 1
    });
    assert!(matches!(r, Err(PrivacyError::Reconstruction(_))), "{r:?}");
    // Structural garbage is refused on receipt.
    let r = finish_with_altered_unmask(&[Never; 4], 0, |m| {
        m.self_mask_shares.pop();
    });
    assert!(matches!(r, Err(PrivacyError::Protocol(_))), "{r:?}");
    let r = finish_with_altered_unmask(&[Never; 4], 0, |m| m.self_mask_shares[0].share.x = 99);
    assert!(matches!(r, Err(PrivacyError::Protocol(_))), "{r:?}");
    let r = finish_with_altered_unmask(&[Never; 4], 1, |m| {
        m.self_mask_shares[0].share.y.truncate(2)
    });
    assert!(
        matches!(r, Err(PrivacyError::LengthMismatch { .. })),
        "{r:?}"
    );
    // Unaltered, the same runs succeed.
    assert!(finish_with_altered_unmask(&[Never, AfterRound1, Never, Never], 2, |_| {}).is_ok());
}

#[test]
fn protocol_violations_are_errors_not_panics() {
    let mut run = Run::new(&[1, 2, 3], 2, 8, 12);
    // Out of order.
    assert!(run.server.forward_shares().is_err());
    assert!(run.server.finish().is_err());
    let req = UnmaskRequest {
        session_id: SESSION,
        survivors: vec![1, 2, 3],
    };
    assert!(run.clients[0].unmask(&req).is_err());
    // Unknown client, wrong session, repeated message.
    let config = SecAggConfig::new(SESSION, 2, 1.0, 64).unwrap();
    let mut stranger = Client::new(99, 8, &config, &mut run.rng).unwrap();
    assert!(
        run.server
            .receive_advertise(stranger.advertise_keys().unwrap())
            .is_err()
    );
    let adv = run.clients[0].advertise_keys().unwrap();
    let mut wrong_session = adv.clone();
    wrong_session.session_id += 1;
    assert!(run.server.receive_advertise(wrong_session).is_err());
    let mut wrong_dim = adv.clone();
    run.server.receive_advertise(adv.clone()).unwrap();
    assert!(run.server.receive_advertise(adv).is_err());
    wrong_dim.client = 2;
    wrong_dim.dim = 9;
    assert!(matches!(
        run.server.receive_advertise(wrong_dim),
        Err(PrivacyError::LengthMismatch { .. })
    ));
    assert!(
        run.clients[0].advertise_keys().is_err(),
        "advertising twice"
    );
    for c in run.clients.iter_mut().skip(1) {
        run.server
            .receive_advertise(c.advertise_keys().unwrap())
            .unwrap();
    }
    let keys = run.server.broadcast_keys().unwrap();

    // Key broadcasts a client must refuse.
    let mut reflected = keys.clone();
    reflected.clients[1].mask_public = reflected.clients[0].mask_public;
    assert!(run.clients[0].share_keys(&reflected, &mut run.rng).is_err());
    let mut without_me = keys.clone();
    without_me.clients.remove(0);
    assert!(
        run.clients[0]
            .share_keys(&without_me, &mut run.rng)
            .is_err()
    );
    // Low-order points (u = 0, u = 1) would force a known shared secret.
    for u in [0u8, 1] {
        let mut low = [0u8; 32];
        low[0] = u;
        let mut low_order = keys.clone();
        low_order.clients[1].mask_public = low;
        assert!(run.clients[0].share_keys(&low_order, &mut run.rng).is_err());
        let mut low_order = keys.clone();
        low_order.clients[2].enc_public = low;
        assert!(run.clients[0].share_keys(&low_order, &mut run.rng).is_err());
    }

    let mut msgs = Vec::new();
    for c in &mut run.clients {
        msgs.push(c.share_keys(&keys, &mut run.rng).unwrap());
    }
    // Shares missing a recipient, or in another's name.
    let mut short = msgs[0].clone();
    short.shares.pop();
    assert!(run.server.receive_share_keys(short).is_err());
    let mut forged = msgs[0].clone();
    forged.shares[0].from = 3;
    assert!(run.server.receive_share_keys(forged).is_err());
    for m in msgs {
        run.server.receive_share_keys(m).unwrap();
    }
    let forwarded = run.server.forward_shares().unwrap();
    for (i, c) in run.clients.iter_mut().enumerate() {
        let mut m = c
            .masked_input(Run::bundle_for(&forwarded, c.id()), &run.inputs[i])
            .unwrap();
        if i == 0 {
            let mut long = m.clone();
            long.masked.push(0);
            assert!(matches!(
                run.server.receive_masked_input(long),
                Err(PrivacyError::LengthMismatch { .. })
            ));
        }
        run.server.receive_masked_input(m.clone()).unwrap();
        m.masked[0] ^= 1;
        assert!(
            run.server.receive_masked_input(m).is_err(),
            "second masked input"
        );
    }
    let request = run.server.unmask_request().unwrap();
    // Survivor lists a client must refuse.
    let bad = UnmaskRequest {
        session_id: SESSION,
        survivors: vec![1, 2, 77],
    };
    assert!(run.clients[0].unmask(&bad).is_err());
    let bad = UnmaskRequest {
        session_id: SESSION,
        survivors: vec![2, 3],
    };
    assert!(
        run.clients[0].unmask(&bad).is_err(),
        "without the client itself"
    );
    let bad = UnmaskRequest {
        session_id: SESSION,
        survivors: vec![1, 1, 2],
    };
    assert!(run.clients[0].unmask(&bad).is_err());
    let first = run.clients[0].unmask(&request).unwrap();
    // Asked again (e.g. with a different survivor list) the client refuses.
    let other = UnmaskRequest {
        session_id: SESSION,
        survivors: vec![1, 2],
    };
    assert!(run.clients[0].unmask(&other).is_err());
    run.server.receive_unmask(first.clone()).unwrap();
    assert!(run.server.receive_unmask(first).is_err());
}

#[test]
fn garbage_on_the_wire_is_a_parse_error() {
    use oncolens_privacy::secagg::{MaskedInput, ShareKeys, UnmaskShares};
    assert!(serde_json::from_str::<KeysBroadcast>("{\"session_id\":1}").is_err());
    assert!(serde_json::from_str::<ShareKeys>("[1,2,3]").is_err());
    assert!(
        serde_json::from_str::<MaskedInput>("{\"session_id\":1,\"client\":2,\"masked\":[-1]}")
            .is_err()
    );
    assert!(serde_json::from_str::<UnmaskShares>("not json").is_err());
    // Short keys do not parse either.
    let bad = "{\"session_id\":1,\"dim\":3,\"clients\":[{\"client\":1,\"enc_public\":[1,2],\"mask_public\":[3]}]}";
    assert!(serde_json::from_str::<KeysBroadcast>(bad).is_err());
}

#[test]
fn config_is_validated() {
    assert!(SecAggConfig::new(1, 1, 1.0, 10).is_err());
    assert!(SecAggConfig::new(1, 11, 1.0, 10).is_err());
    assert!(SecAggConfig::new(1, 2, 0.0, 10).is_err());
    assert!(SecAggConfig::new(1, 2, 1.0, 0).is_err());
    let config = SecAggConfig::new(1, 2, 1.0, 3).unwrap();
    assert!(
        Server::new(&config, &[1, 2, 3, 4]).is_err(),
        "more clients than max_clients"
    );
    assert!(Server::new(&config, &[1, 1, 2]).is_err());
    let mut rng = ChaCha20Rng::seed_from_u64(0);
    assert!(Client::new(1, 0, &config, &mut rng).is_err());
    let ids: BTreeSet<u32> = [u32::MAX, 0].into_iter().collect();
    let ids: Vec<u32> = ids.into_iter().collect();
    // Extreme ids work (points 1 and 2^32).
    let run = Run::new(&ids, 2, 5, 13);
    let (result, _, run) = run.run(&[Dropout::Never; 2]);
    check_sum(&run, &result.unwrap(), &[0, 1]);
}

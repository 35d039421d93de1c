//! Key agreement, key derivation, the mask PRG and share encryption.
//!
//! * Key agreement: X25519 (`x25519-dalek`). A shared secret that is not contributory (a
//!   low-order public key forces it to a known value) is refused.
//! * Key derivation: HKDF-SHA256 with the session id as salt and a label naming the purpose and
//!   the two client ids, so a pairwise mask seed, a share-encryption key and a self-mask seed can
//!   never coincide, and nothing carries over between sessions.
//! * Masks: the ChaCha20 keystream (`rand_chacha::ChaCha20Rng`) seeded with the derived 32 bytes,
//!   read as little-endian `u32` words: uniform on Z_{2^32}.
//! * Share encryption: ChaCha20-Poly1305 with a key per (session, sender, recipient) direction, a
//!   random 96-bit nonce, and the session and both ids as associated data, so the server can
//!   neither read, alter nor re-route a share without the recipient noticing.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hkdf::Hkdf;
use rand::{CryptoRng, Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use sha2::{Digest, Sha256};
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use crate::PrivacyError;

const LABEL_PAIRWISE: &[u8] = b"oncolens-secagg/v1/pairwise-mask";
const LABEL_SELF: &[u8] = b"oncolens-secagg/v1/self-mask";
const LABEL_SHARE_KEY: &[u8] = b"oncolens-secagg/v1/share-encryption";
const LABEL_COMMIT: &[u8] = b"oncolens-secagg/v1/self-mask-commitment";

fn hkdf32(
    ikm: &[u8],
    session_id: u64,
    info: &[&[u8]],
) -> Result<Zeroizing<[u8; 32]>, PrivacyError> {
    let hk = Hkdf::<Sha256>::new(Some(&session_id.to_be_bytes()), ikm);
    let info: Vec<u8> = info.concat();
    let mut out = Zeroizing::new([0u8; 32]);
    hk.expand(&info, out.as_mut())
        .map_err(|_| PrivacyError::Malformed("HKDF output length".into()))?;
    Ok(out)
}

/// A fresh X25519 secret from a rand 0.9 RNG (x25519-dalek takes rand_core 0.6 RNGs, so the
/// bytes are drawn here and the secret built from them).
pub(crate) fn new_secret<R: Rng + CryptoRng + ?Sized>(rng: &mut R) -> StaticSecret {
    let mut bytes = Zeroizing::new([0u8; 32]);
    rng.fill_bytes(bytes.as_mut());
    StaticSecret::from(*bytes)
}

fn agree(own: &StaticSecret, other: &PublicKey) -> Result<Zeroizing<[u8; 32]>, PrivacyError> {
    let shared = own.diffie_hellman(other);
    if !shared.was_contributory() {
        return Err(PrivacyError::Protocol(
            "non-contributory X25519 key agreement (low-order public key)".into(),
        ));
    }
    Ok(Zeroizing::new(shared.to_bytes()))
}

/// Checks that agreeing with `other` gives a contributory shared secret (not a low-order key).
pub(crate) fn check_public_key(own: &StaticSecret, other: &PublicKey) -> Result<(), PrivacyError> {
    agree(own, other).map(|_| ())
}

/// Seed of the pairwise mask between clients `a` and `b` (symmetric in the two).
pub(crate) fn pairwise_seed(
    own: &StaticSecret,
    other: &PublicKey,
    session_id: u64,
    a: u32,
    b: u32,
) -> Result<Zeroizing<[u8; 32]>, PrivacyError> {
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    let shared = agree(own, other)?;
    hkdf32(
        shared.as_ref(),
        session_id,
        &[LABEL_PAIRWISE, &lo.to_be_bytes(), &hi.to_be_bytes()],
    )
}

/// Seed of client `id`'s self mask, derived from its secret `b`.
pub(crate) fn self_mask_seed(
    b: &[u8; 32],
    session_id: u64,
    id: u32,
) -> Result<Zeroizing<[u8; 32]>, PrivacyError> {
    hkdf32(b, session_id, &[LABEL_SELF, &id.to_be_bytes()])
}

/// Commitment to a self-mask secret: lets the server detect a garbled reconstruction.
pub(crate) fn commit_self_mask(b: &[u8], session_id: u64, id: u32) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(LABEL_COMMIT);
    h.update(session_id.to_be_bytes());
    h.update(id.to_be_bytes());
    h.update(b);
    h.finalize().into()
}

/// `dim` words of the ChaCha20 keystream under `seed`.
pub(crate) fn mask_stream(seed: &[u8; 32], dim: usize) -> Vec<u32> {
    let mut prg = ChaCha20Rng::from_seed(*seed);
    (0..dim).map(|_| prg.next_u32()).collect()
}

fn share_cipher(
    own: &StaticSecret,
    other: &PublicKey,
    session_id: u64,
    from: u32,
    to: u32,
) -> Result<ChaCha20Poly1305, PrivacyError> {
    let shared = agree(own, other)?;
    let key = hkdf32(
        shared.as_ref(),
        session_id,
        &[LABEL_SHARE_KEY, &from.to_be_bytes(), &to.to_be_bytes()],
    )?;
    Ok(ChaCha20Poly1305::new(Key::from_slice(key.as_ref())))
}

fn associated_data(session_id: u64, from: u32, to: u32) -> Vec<u8> {
    [
        LABEL_SHARE_KEY,
        &session_id.to_be_bytes(),
        &from.to_be_bytes(),
        &to.to_be_bytes(),
    ]
    .concat()
}

/// Encrypts `plaintext` from `from` (secret `own`) to `to` (public key `other`).
pub(crate) fn encrypt<R: Rng + CryptoRng + ?Sized>(
    own: &StaticSecret,
    other: &PublicKey,
    session_id: u64,
    from: u32,
    to: u32,
    plaintext: &[u8],
    rng: &mut R,
) -> Result<([u8; 12], Vec<u8>), PrivacyError> {
    let cipher = share_cipher(own, other, session_id, from, to)?;
    let mut nonce = [0u8; 12];
    rng.fill_bytes(&mut nonce);
    let aad = associated_data(session_id, from, to);
    let ciphertext = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad: &aad,
            },
        )
        .map_err(|_| PrivacyError::Malformed("share encryption failed".into()))?;
    Ok((nonce, ciphertext))
}

/// Decrypts a share sent by `from` (public key `other`) to `to` (secret `own`).
pub(crate) fn decrypt(
    own: &StaticSecret,
    other: &PublicKey,
    session_id: u64,
    from: u32,
    to: u32,
    nonce: &[u8; 12],
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, PrivacyError> {
    let cipher = share_cipher(own, other, session_id, from, to)?;
    let aad = associated_data(session_id, from, to);
    cipher
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad: &aad,
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| PrivacyError::Decryption { from, to })
}

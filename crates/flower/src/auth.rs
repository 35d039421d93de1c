//! The node's identity: a P-384 key whose public half (PEM SubjectPublicKeyInfo) names the node
//! at the SuperLink, and the signed-timestamp headers every Fleet call carries.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use p384::SecretKey;
use p384::ecdsa::signature::hazmat::PrehashSigner;
use p384::ecdsa::{Signature, SigningKey};
use p384::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use sha2::{Digest, Sha256};

use crate::error::FlowerError;

/// Header carrying the base64 of the node's PEM public key.
pub const PUBLIC_KEY_HEADER: &str = "flwr-public-key";
/// Header carrying the ISO-8601 timestamp that is signed.
pub const TIMESTAMP_HEADER: &str = "flwr-timestamp";
/// Header carrying the base64 DER ECDSA/SHA-256 signature of the timestamp.
pub const SIGNATURE_HEADER: &str = "flwr-signature";

/// A SuperNode key pair (NIST P-384, as Flower's `generate_key_pairs`).
#[derive(Clone)]
pub struct NodeKey {
    signing: SigningKey,
    secret: SecretKey,
    public_pem: Vec<u8>,
}

impl std::fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeKey")
            .field("public_pem", &String::from_utf8_lossy(&self.public_pem))
            .finish_non_exhaustive()
    }
}

impl NodeKey {
    /// A fresh random key (from the operating system's generator through `rand`).
    pub fn generate() -> Result<Self, FlowerError> {
        for _ in 0..16 {
            let bytes: [u8; 48] = rand::random();
            if let Ok(secret) = SecretKey::from_slice(&bytes) {
                return Self::from_secret(secret);
            }
        }
        Err(FlowerError::Key(
            "could not draw a valid P-384 scalar".into(),
        ))
    }

    /// Loads an unencrypted PKCS#8 PEM private key (what `flower-supernode
    /// --auth-supernode-private-key` reads, e.g. from `ssh-keygen`/`openssl` after conversion).
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, FlowerError> {
        let secret = SecretKey::from_pkcs8_pem(pem)
            .map_err(|e| FlowerError::Key(format!("not a P-384 PKCS#8 PEM key: {e}")))?;
        Self::from_secret(secret)
    }

    fn from_secret(secret: SecretKey) -> Result<Self, FlowerError> {
        let public_pem = secret
            .public_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| FlowerError::Key(e.to_string()))?
            .into_bytes();
        Ok(NodeKey {
            signing: SigningKey::from(&secret),
            secret,
            public_pem,
        })
    }

    /// The private key as PKCS#8 PEM (to persist a node identity).
    pub fn to_pkcs8_pem(&self) -> Result<String, FlowerError> {
        Ok(self
            .secret
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| FlowerError::Key(e.to_string()))?
            .to_string())
    }

    /// The public key as PEM SubjectPublicKeyInfo bytes: the node's name at the SuperLink.
    pub fn public_key_pem(&self) -> &[u8] {
        &self.public_pem
    }

    /// DER ECDSA signature over SHA-256 of `message` (Flower's `sign_message`).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, FlowerError> {
        let digest = Sha256::digest(message);
        let sig: Signature = self
            .signing
            .sign_prehash(&digest)
            .map_err(|e| FlowerError::Key(e.to_string()))?;
        Ok(sig.to_der().as_bytes().to_vec())
    }

    /// The three authentication headers for a call made now.
    pub fn auth_headers(&self) -> Result<[(&'static str, String); 3], FlowerError> {
        let timestamp = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, false);
        let signature = self.sign(timestamp.as_bytes())?;
        Ok([
            (PUBLIC_KEY_HEADER, STANDARD.encode(&self.public_pem)),
            (TIMESTAMP_HEADER, timestamp),
            (SIGNATURE_HEADER, STANDARD.encode(signature)),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p384::ecdsa::VerifyingKey;
    use p384::ecdsa::signature::hazmat::PrehashVerifier;

    #[test]
    fn signs_timestamps_verifiably() {
        let key = NodeKey::generate().unwrap();
        let pem = std::str::from_utf8(key.public_key_pem()).unwrap();
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        assert!(pem.ends_with("-----END PUBLIC KEY-----\n"));
        let headers = key.auth_headers().unwrap();
        let ts = &headers[1].1;
        assert!(ts.ends_with("+00:00"), "{ts}");
        let sig = STANDARD.decode(&headers[2].1).unwrap();
        let sig = Signature::from_der(&sig).unwrap();
        let vk = VerifyingKey::from(&key.signing);
        vk.verify_prehash(&Sha256::digest(ts.as_bytes()), &sig)
            .unwrap();
        // PEM round trip keeps the identity.
        let again = NodeKey::from_pkcs8_pem(&key.to_pkcs8_pem().unwrap()).unwrap();
        assert_eq!(again.public_key_pem(), key.public_key_pem());
        assert!(NodeKey::from_pkcs8_pem("nope").is_err());
    }
}

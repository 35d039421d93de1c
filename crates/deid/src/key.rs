//! The secret key and everything derived from it.

use std::path::Path;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::DeidError;

/// Environment variable that may hold the key as hex.
pub const KEY_ENV: &str = "ONCOLENS_PSEUDONYM_KEY";

/// A secret of at least 16 bytes. `Debug` never prints it.
#[derive(Clone)]
pub struct PseudonymKey(Vec<u8>);

impl std::fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PseudonymKey(<redacted>)")
    }
}

impl PseudonymKey {
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DeidError> {
        if bytes.len() < 16 {
            return Err(DeidError::Key(format!(
                "{} bytes; at least 16 are needed",
                bytes.len()
            )));
        }
        Ok(PseudonymKey(bytes.to_vec()))
    }

    /// Parses hex (whitespace ignored).
    pub fn from_hex(hex: &str) -> Result<Self, DeidError> {
        let clean: String = hex.chars().filter(|c| !c.is_whitespace()).collect();
        if !clean.len().is_multiple_of(2) || !clean.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(DeidError::Key("not a hex string".into()));
        }
        let bytes: Vec<u8> = (0..clean.len())
            .step_by(2)
            .filter_map(|i| u8::from_str_radix(&clean[i..i + 2], 16).ok())
            .collect();
        Self::from_bytes(&bytes)
    }

    /// Reads a key file holding hex.
    pub fn from_file(path: &Path) -> Result<Self, DeidError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| DeidError::Key(format!("{}: {e}", path.display())))?;
        Self::from_hex(&text).map_err(|e| DeidError::Key(format!("{}: {e}", path.display())))
    }

    /// Reads the key from `ONCOLENS_PSEUDONYM_KEY`, if set.
    pub fn from_env() -> Option<Result<Self, DeidError>> {
        std::env::var(KEY_ENV).ok().map(|v| Self::from_hex(&v))
    }

    /// A fresh random 32-byte key.
    pub fn generate() -> Self {
        use rand::RngCore;
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        PseudonymKey(bytes.to_vec())
    }

    /// The key as hex, for storing in a key file.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn mac(&self, domain: &str, input: &str) -> [u8; 32] {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(domain.as_bytes());
        mac.update(&[0]);
        mac.update(input.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

const BASE32: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// The pseudonym of a patient identifier: `P` + 12 base-32 characters of HMAC-SHA256 (60 bits).
/// Identifiers are trimmed first, so `" 123 "` and `"123"` are the same patient.
pub fn pseudonym(key: &PseudonymKey, patient_identifier: &str) -> String {
    let mac = key.mac("patient", patient_identifier.trim());
    let mut bits: u64 = u64::from_be_bytes(mac[..8].try_into().unwrap_or([0; 8]));
    let mut s = String::from("P");
    for _ in 0..12 {
        s.push(BASE32[(bits >> 59) as usize] as char);
        bits <<= 5;
    }
    s
}

/// A new UID for `uid`: `2.25.` + the decimal of a 128-bit HMAC prefix (PS3.5 B.2). The same UID
/// always maps to the same new UID, so references between files stay consistent.
pub fn remap_uid(key: &PseudonymKey, uid: &str) -> String {
    let mac = key.mac("uid", uid.trim_end_matches(['\0', ' ']));
    let mut v = u128::from_be_bytes(mac[..16].try_into().unwrap_or([0; 16]));
    if v == 0 {
        v = 1;
    }
    format!("2.25.{v}")
}

/// Days (between -365 and -1) by which this patient's dates are shifted, the same in every
/// modality, so ages and intervals survive de-identification.
pub fn date_shift_days(key: &PseudonymKey, patient_identifier: &str) -> i64 {
    let mac = key.mac("date", patient_identifier.trim());
    let v = u32::from_be_bytes(mac[..4].try_into().unwrap_or([0; 4]));
    -(1 + i64::from(v % 365))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> PseudonymKey {
        PseudonymKey::from_hex("000102030405060708090a0b0c0d0e0f").unwrap()
    }

    #[test]
    fn pseudonyms_are_stable_keyed_and_distinct() {
        let k = key();
        assert_eq!(pseudonym(&k, "MRN1"), pseudonym(&k, " MRN1 "));
        assert_ne!(pseudonym(&k, "MRN1"), pseudonym(&k, "MRN2"));
        let other = PseudonymKey::from_hex("ff0102030405060708090a0b0c0d0e0f").unwrap();
        assert_ne!(pseudonym(&k, "MRN1"), pseudonym(&other, "MRN1"));
        assert_eq!(pseudonym(&k, "MRN1").len(), 13);
        assert!(!format!("{k:?}").contains("0001"));
    }

    #[test]
    fn uids_are_valid_and_consistent() {
        let k = key();
        let a = remap_uid(&k, "1.2.840.113619.2.1");
        assert_eq!(a, remap_uid(&k, "1.2.840.113619.2.1\0"));
        assert_ne!(a, remap_uid(&k, "1.2.840.113619.2.2"));
        assert!(a.len() <= 64 && a.starts_with("2.25.") && !a[5..].starts_with('0'));
        assert!(a[5..].chars().all(|c| c.is_ascii_digit()));
    }

    #[test]
    fn date_shift_is_in_range_and_short_keys_are_refused() {
        let d = date_shift_days(&key(), "MRN1");
        assert!((-365..=-1).contains(&d));
        assert!(PseudonymKey::from_hex("0011").is_err());
        assert!(PseudonymKey::from_hex("zz").is_err());
    }
}

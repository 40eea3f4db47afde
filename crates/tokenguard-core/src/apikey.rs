//! API keys: format, generation and digests.
//!
//! Format: `{prefix}_{random}{checksum}`: 36 base62 characters from the OS
//! CSPRNG (214 bits), then the CRC32 of everything before it as 6 base62
//! characters. The checksum lets a mistyped or made-up key be refused before
//! any store lookup, and lets secret scanners recognise leaked keys.
//!
//! Keys are stored only as a SHA-256 digest. A plain (unpeppered) hash is
//! enough because generated keys carry over 200 bits of entropy: nobody can
//! search that space, so a leaked digest table reveals no key, and any
//! instance can look a key up without sharing a server-side secret.

use std::fmt;

use aws_lc_rs::{constant_time, digest, rand};

use crate::secret::Secret;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const RANDOM_CHARS: usize = 36;
const CHECKSUM_CHARS: usize = 6;

/// The SHA-256 digest of an API key: what stores keep instead of the key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyDigest([u8; 32]);

impl KeyDigest {
    /// The digest of `key`.
    pub fn of(key: &str) -> Self {
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(digest::digest(&digest::SHA256, key.as_bytes()).as_ref());
        Self(bytes)
    }

    /// Wraps stored digest bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The digest bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Compares in constant time, for stores that compare digest bytes themselves.
    pub fn ct_eq(&self, other: &KeyDigest) -> bool {
        constant_time::verify_slices_are_equal(&self.0, &other.0).is_ok()
    }

    /// A short public identifier of the key (16 hex digits of its digest),
    /// safe for logs and admin commands.
    pub fn key_id(&self) -> String {
        self.0[..8].iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Debug for KeyDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyDigest({}…)", self.key_id())
    }
}

/// Generates a new key with `prefix` (ASCII letters and digits).
///
/// ```
/// use tokenguard_core::apikey::{generate, check_format, FormatCheck};
///
/// let key = generate("tg");
/// assert!(key.expose().starts_with("tg_"));
/// assert_eq!(check_format(key.expose(), "tg"), FormatCheck::Valid);
/// ```
pub fn generate(prefix: &str) -> Secret {
    let rng = rand::SystemRandom::new();
    let mut key = String::with_capacity(prefix.len() + 1 + RANDOM_CHARS + CHECKSUM_CHARS);
    key.push_str(prefix);
    key.push('_');
    let mut filled = 0;
    while filled < RANDOM_CHARS {
        let mut buffer = [0u8; 64];
        // The OS generator does not fail on supported platforms; retrying keeps this total.
        if rand::SecureRandom::fill(&rng, &mut buffer).is_err() {
            continue;
        }
        // Rejection sampling keeps every character uniform: 248 = 4 × 62.
        for byte in buffer.into_iter().filter(|&b| b < 248) {
            if filled == RANDOM_CHARS {
                break;
            }
            key.push(BASE62[(byte % 62) as usize] as char);
            filled += 1;
        }
    }
    let checksum = base62_checksum(crc32(key.as_bytes()));
    key.push_str(&checksum);
    Secret::new(key)
}

/// What [`check_format`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatCheck {
    /// A well-formed key of this deployment.
    Valid,
    /// It carries our prefix but is malformed or its checksum is wrong.
    Corrupt,
    /// It does not carry our prefix (possibly a legacy key, looked up by digest).
    Foreign,
}

/// Checks a presented key's format and checksum without any I/O.
pub fn check_format(key: &str, prefix: &str) -> FormatCheck {
    let Some(rest) = key.strip_prefix(prefix).and_then(|rest| rest.strip_prefix('_')) else {
        return FormatCheck::Foreign;
    };
    if rest.len() != RANDOM_CHARS + CHECKSUM_CHARS || !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return FormatCheck::Corrupt;
    }
    let (body, checksum) = key.split_at(key.len() - CHECKSUM_CHARS);
    if base62_checksum(crc32(body.as_bytes())) == checksum { FormatCheck::Valid } else { FormatCheck::Corrupt }
}

fn base62_checksum(mut value: u32) -> String {
    let mut out = [b'0'; CHECKSUM_CHARS];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(value % 62) as usize];
        value /= 62;
    }
    out.iter().map(|&b| b as char).collect()
}

/// CRC-32 (IEEE 802.3, as in zlib), bitwise: keys are short, speed is moot.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn generated_keys_are_distinct_and_valid() {
        let a = generate("tg");
        let b = generate("tg");
        assert_ne!(a, b);
        assert_eq!(a.len(), 3 + RANDOM_CHARS + CHECKSUM_CHARS);
        assert_eq!(check_format(a.expose(), "tg"), FormatCheck::Valid);
        assert_eq!(check_format(a.expose(), "other"), FormatCheck::Foreign);
    }

    #[test]
    fn any_single_typo_breaks_the_checksum() {
        let key = generate("tg");
        let key = key.expose();
        for position in 3..key.len() {
            let mut typo = key.as_bytes().to_vec();
            typo[position] = if typo[position] == b'a' { b'b' } else { b'a' };
            let typo = String::from_utf8(typo).unwrap();
            assert_eq!(check_format(&typo, "tg"), FormatCheck::Corrupt, "{position}");
        }
        assert_eq!(check_format("tg_short", "tg"), FormatCheck::Corrupt);
    }

    #[test]
    fn digest_debug_shows_only_the_key_id() {
        let digest = KeyDigest::of("tg_secret");
        assert!(digest.ct_eq(&KeyDigest::of("tg_secret")));
        assert!(!digest.ct_eq(&KeyDigest::of("tg_other")));
        assert_eq!(format!("{digest:?}"), format!("KeyDigest({}…)", digest.key_id()));
    }
}

//! Identifiers in the shapes AOAI and Entra ID use.
//!
//! Per-call ids come from the seeded stream so a sample is reproducible byte for
//! byte; ids of long-lived things (apps, tenants, users) come from their names so
//! they are the same whatever the seed, and docs and tests can name them.

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

const HEX: &[u8; 16] = b"0123456789abcdef";
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const B64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    s
}

fn from_alphabet(rng: &mut ChaCha8Rng, alphabet: &[u8], len: usize) -> String {
    (0..len)
        .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
        .collect()
}

pub(crate) fn alnum(rng: &mut ChaCha8Rng, len: usize) -> String {
    from_alphabet(rng, ALNUM, len)
}

pub(crate) fn b64url(rng: &mut ChaCha8Rng, len: usize) -> String {
    from_alphabet(rng, B64URL, len)
}

/// A random (version 4) UUID in its usual hyphenated form.
pub(crate) fn uuid(rng: &mut ChaCha8Rng) -> String {
    let mut b = [0u8; 16];
    rng.fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A generator seeded by a name (FNV-1a), independent of the sample's seed.
pub(crate) fn stable_rng(label: &str) -> ChaCha8Rng {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in label.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    ChaCha8Rng::seed_from_u64(h)
}

pub(crate) fn stable_uuid(label: &str) -> String {
    uuid(&mut stable_rng(label))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_well_formed_and_stable() {
        let a = stable_uuid("app/payroll-bot");
        assert_eq!(a, stable_uuid("app/payroll-bot"));
        assert_ne!(a, stable_uuid("app/other"));
        let parts: Vec<&str> = a.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4'));
        assert!(a.bytes().all(|b| b == b'-' || b.is_ascii_hexdigit()));
    }
}

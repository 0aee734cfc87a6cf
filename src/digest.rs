//! Secrets orch hands out once and keeps only as digests (API tokens, page sessions, one-click
//! approval links): 32 bytes from the operating system's CSPRNG in hex, their SHA-256 in hex,
//! and a constant-time comparison of two digests. A leaf, so that the store (links) and the
//! identity layer (tokens, sessions) share one implementation.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// 32 random bytes (256 bits) from the OS, as 64 lowercase hex digits; fails only when the OS
/// has no randomness to give.
pub fn random_hex() -> std::io::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(crate::format::hex::hex(&bytes))
}

/// Hex SHA-256 of `secret`, as the tables keep it.
pub fn sha256_hex(secret: &str) -> String {
    crate::format::hex::hex(&Sha256::digest(secret.as_bytes()))
}

/// Constant-time equality of two digests (a row found by its digest is re-checked, so a
/// lookup's timing is the only thing that depends on the secret).
pub fn digests_match(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

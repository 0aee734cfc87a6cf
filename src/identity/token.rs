//! Bearer tokens: `orch_` and 32 bytes from the operating system's CSPRNG in hex. Only the
//! SHA-256 digest is stored; a presented token is looked up by its digest, and the stored
//! digest compared with it in constant time.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Every orch token starts with this, so a leaked one is recognisable (secret scanners).
pub const PREFIX: &str = "orch_";

/// A freshly generated token. Not `Debug` nor `Display`: it is printed once, on purpose.
pub struct NewToken(String);

impl NewToken {
    /// 32 bytes from the OS CSPRNG (`getrandom`); fails only when the OS has none.
    pub fn generate() -> std::io::Result<NewToken> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(NewToken(format!(
            "{PREFIX}{}",
            crate::format::hex::hex(&bytes)
        )))
    }

    /// The token itself, to print once.
    pub fn reveal(&self) -> &str {
        &self.0
    }

    pub fn digest(&self) -> String {
        digest(&self.0)
    }
}

/// Hex SHA-256 of a token, as stored in `orch_api_tokens.token_hash`.
pub fn digest(token: &str) -> String {
    crate::format::hex::hex(&Sha256::digest(token.as_bytes()))
}

/// Constant-time equality of two digests (the row found by its digest is re-checked so a
/// lookup's timing is the only thing that depends on the token).
pub fn digests_match(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_prefixed_random_and_hashed() {
        let a = NewToken::generate().unwrap();
        let b = NewToken::generate().unwrap();
        assert!(a.reveal().starts_with(PREFIX));
        assert_eq!(a.reveal().len(), PREFIX.len() + 64);
        assert_ne!(a.reveal(), b.reveal());
        assert_eq!(a.digest().len(), 64);
        assert!(digests_match(&a.digest(), &digest(a.reveal())));
        assert!(!digests_match(&a.digest(), &b.digest()));
    }
}

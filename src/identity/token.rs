//! Bearer tokens: `orch_` and 32 bytes from the operating system's CSPRNG in hex. Only the
//! SHA-256 digest is stored; a presented token is looked up by its digest, and the stored
//! digest compared with it in constant time.

pub use crate::digest::digests_match;

/// Every orch token starts with this, so a leaked one is recognisable (secret scanners).
pub const PREFIX: &str = "orch_";

/// A freshly generated token. Not `Debug` nor `Display`: it is printed once, on purpose.
pub struct NewToken(String);

impl NewToken {
    /// 32 bytes from the OS CSPRNG (`getrandom`); fails only when the OS has none.
    pub fn generate() -> std::io::Result<NewToken> {
        Ok(NewToken(format!(
            "{PREFIX}{}",
            crate::digest::random_hex()?
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
    crate::digest::sha256_hex(token)
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

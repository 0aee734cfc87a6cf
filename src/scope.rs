//! What a token may do (a leaf: `store` and `identity` both use it). Stored as text in `orch_api_tokens.scope`, with the database's
//! CHECK constraint agreeing (migration 10).

use std::fmt;
use std::str::FromStr;

/// Ordered: each scope includes the ones before it (`admin` may decide and read).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Scope {
    /// GET requests only.
    Read,
    /// Reads, and approve or reject tasks.
    Decide,
    /// Everything, task rows' POST and PATCH included.
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Read, Scope::Decide, Scope::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Decide => "decide",
            Scope::Admin => "admin",
        }
    }

    /// Whether a credential with this scope may do what `needed` names.
    pub fn allows(self, needed: Scope) -> bool {
        self >= needed
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        Scope::ALL.into_iter().find(|v| v.as_str() == s).ok_or(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_ordered_and_round_trip() {
        assert!(Scope::Admin.allows(Scope::Decide));
        assert!(Scope::Decide.allows(Scope::Read));
        assert!(!Scope::Read.allows(Scope::Decide));
        assert!(!Scope::Decide.allows(Scope::Admin));
        for s in Scope::ALL {
            assert_eq!(s.as_str().parse::<Scope>(), Ok(s));
        }
    }
}

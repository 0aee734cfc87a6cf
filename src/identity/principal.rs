//! The identity a request acts as, and which credential proved it.

use super::Scope;

/// The name decisions made with `ORCH_API_TOKEN` are recorded under.
pub const ADMIN_NAME: &str = "admin";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Via {
    /// `ORCH_API_TOKEN`.
    AdminToken,
    /// A row of `orch_api_tokens`.
    UserToken { token_id: i64 },
    /// The trusted proxy's user header.
    TrustedProxy,
    /// A page login (`orch_sessions`), opened with one of the above tokens.
    Session { session_id: i64 },
    /// Loopback with no credential configured: a single operator's machine.
    LoopbackOpen,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// `None` only for `Via::LoopbackOpen`, where `by` is taken as given.
    pub user: Option<String>,
    pub scope: Scope,
    pub via: Via,
}

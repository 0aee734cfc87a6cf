//! Who is asking: users' token scopes, generating and hashing bearer tokens, and the
//! `Principal` a request or command acts as. Below `api/` (and the web pages) and above
//! `store/` in the layering, so both drivers resolve credentials the same way.

pub mod principal;
pub mod resolve;
pub mod session;
pub mod token;

pub use principal::{Principal, Via};
// A leaf of its own: the store reads and writes it too.
pub use crate::scope::Scope;

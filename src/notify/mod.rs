//! Notifications: Slack, email and generic webhooks told when a task waits on a person (and,
//! when asked, about failures, decisions and finished runs), without ever failing a task,
//! holding the run back, losing a message or leaking a secret.
//!
//! Every delivery is a row in `webhook_deliveries` before its first request and is updated
//! after each one ([`crate::store::delivery`]); requests go out in the background
//! ([`Notifier`]); what is still undelivered is retried by later commands.

pub mod event;
pub mod links;
pub mod notices;
pub mod notifier;
pub mod payload;
mod retry;
pub mod send;
pub mod sign;
pub mod target;

pub use event::Event;
pub use notifier::Notifier;
pub use payload::{Notice, RunDigest};
pub use target::{Target, TargetKind};

//! One-click links planted as a notification would mint them, with a token the test knows:
//! for the cases no real notification produces (the initiator's link, an expired one, a vote
//! through a link in the property test).

use chrono::{DateTime, Utc};
use orch::store::agents_task;
use orch::store::approval_link::{self, Verdict};
use sea_orm::{ActiveModelTrait, DatabaseConnection, Set};

/// A link for `voter` and `verdict` on `gate` as it is now, expiring at `expires_at`: its
/// token (the part of the URL after `/links/`).
pub async fn plant(
    db: &DatabaseConnection,
    gate: &agents_task::Model,
    voter: &str,
    verdict: Verdict,
    expires_at: DateTime<Utc>,
) -> String {
    let token = format!("{:032x}{:032x}", fastrand::u128(..), fastrand::u128(..));
    approval_link::ActiveModel {
        task_id: Set(gate.id),
        run_id: Set(gate.run_id.clone()),
        subject: Set(orch::store::votes::subject(gate)),
        voter: Set(voter.to_owned()),
        verdict: Set(verdict),
        token_hash: Set(orch::store::links::digest(&token)),
        created_at: Set(orch::store::now()),
        expires_at: Set(expires_at),
        used_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    token
}

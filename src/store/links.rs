//! One-click approval links (`approval_links`): minted when a gate's notification is sent,
//! looked up when one is opened. A link's token is 32 random bytes from the OS CSPRNG (hex in
//! the URL); only its SHA-256 is kept, found by it and compared again in constant time.
//! Spending one is the vote path's business (`votes::cast_link`), in the vote's transaction.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use crate::error::{Error, Result};
use crate::status::{ApprovalState, TaskStatus};
use crate::store::agents_task;
use crate::store::approval_link::{self, Verdict};
use crate::store::gate_policy::{GatePolicy, subject};

/// The links minted for one voter: the tokens to put in URLs (never stored) and their expiry.
#[derive(Clone, Debug)]
pub struct Minted {
    pub voter: String,
    pub approve: String,
    pub reject: String,
    pub expires_at: DateTime<Utc>,
}

/// Hex SHA-256 of a link's token, as `approval_links.token_hash` keeps it.
pub fn digest(token: &str) -> String {
    crate::digest::sha256_hex(token)
}

fn new_token() -> Result<String> {
    crate::digest::random_hex().map_err(|source| Error::Io {
        context: "cannot get random numbers from the operating system for a link".to_owned(),
        source,
    })
}

/// Links for each voter `row`'s gate lists, as it is now: none when the gate is not open,
/// its policy sends no links or lists no one, or it is past its deadline. Under
/// `forbid_self` the initiator gets none, nor does a user disabled since the gate opened
/// (the vote would refuse them anyway). They expire after the policy's `links`, or at the
/// gate's deadline when that comes first.
pub async fn mint(
    db: &impl ConnectionTrait,
    row: &agents_task::Model,
    initiator: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Vec<Minted>> {
    let open = row.status == TaskStatus::AwaitingApproval
        && row.approval_state == Some(ApprovalState::Pending);
    let policy = GatePolicy::of(row)?;
    let (Some(valid), Some(voters), true) = (policy.links, &policy.voters, open) else {
        return Ok(Vec::new());
    };
    // The plan bounds `links` (at most 90 days); a kept value beyond chrono's range sends none.
    let Some(mut expires_at) = i64::try_from(valid)
        .ok()
        .and_then(chrono::TimeDelta::try_seconds)
        .and_then(|d| now.checked_add_signed(d))
    else {
        return Ok(Vec::new());
    };
    if let Some(deadline) = row.approval_deadline {
        expires_at = expires_at.min(deadline);
    }
    if expires_at <= now {
        return Ok(Vec::new());
    }
    let subject = subject(row);
    let mut minted = Vec::new();
    for voter in voters {
        if policy.forbid_self && initiator == Some(voter.as_str()) {
            continue;
        }
        if crate::store::users::is_disabled(db, voter).await? {
            continue;
        }
        let mut tokens = Vec::new();
        for verdict in [Verdict::Approve, Verdict::Reject] {
            let token = new_token()?;
            approval_link::ActiveModel {
                task_id: Set(row.id),
                run_id: Set(row.run_id.clone()),
                subject: Set(subject.clone()),
                voter: Set(voter.clone()),
                verdict: Set(verdict),
                token_hash: Set(digest(&token)),
                created_at: Set(now),
                expires_at: Set(expires_at),
                used_at: Set(None),
                ..Default::default()
            }
            .insert(db)
            .await
            .map_err(Error::db)?;
            tokens.push(token);
        }
        let reject = tokens.pop().unwrap_or_default();
        let approve = tokens.pop().unwrap_or_default();
        minted.push(Minted {
            voter: voter.clone(),
            approve,
            reject,
            expires_at,
        });
    }
    Ok(minted)
}

/// The link `token` names, checked: unknown (`Error::LinkUnknown`), used, or expired at `now`
/// are errors; otherwise the row, which may still be refused by the vote (a decided gate).
pub async fn open(
    db: &impl ConnectionTrait,
    token: &str,
    now: DateTime<Utc>,
) -> Result<approval_link::Model> {
    let link = find(db, token).await?.ok_or(Error::LinkUnknown)?;
    if let Some(used_at) = link.used_at {
        return Err(Error::LinkUsed { used_at });
    }
    if link.expires_at <= now {
        return Err(Error::LinkExpired {
            expired_at: link.expires_at,
        });
    }
    Ok(link)
}

/// The digest a presented token is looked up by: `None` for anything but 64 hex characters,
/// so nothing a visitor types reaches a query but a digest.
pub fn lookup_digest(token: &str) -> Option<String> {
    (token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| digest(&token.to_ascii_lowercase()))
}

/// The row whose hash is `token`'s, if any.
pub async fn find(db: &impl ConnectionTrait, token: &str) -> Result<Option<approval_link::Model>> {
    let Some(wanted) = lookup_digest(token) else {
        return Ok(None);
    };
    let found = approval_link::Entity::find()
        .filter(approval_link::Column::TokenHash.eq(wanted.clone()))
        .one(db)
        .await
        .map_err(Error::db)?;
    // Found by its digest; compared again in constant time all the same.
    Ok(found.filter(|l| crate::digest::digests_match(&l.token_hash, &wanted)))
}

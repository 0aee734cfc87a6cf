//! Votes on gates (`approval_votes`) and the one function every vote goes through, whatever
//! its channel (CLI, API, page, link): [`cast`] ([`cast_link`] for a one-click link). In one
//! transaction, with the task row locked, it checks that the voter may vote (listed, not the
//! run's initiator under `forbid_self`, the gate still open and before its deadline, the
//! subject the voter saw still the gate's), records the vote, and when the quorum or the veto
//! is reached takes the existing guarded decision (`transition::decide`), so two last votes
//! arriving together decide once.
//!
//! A gate without a policy is one vote by anyone allowed to decide: the same path, so every
//! decision by a person leaves its vote row. Decisions that are no one's vote (the approval
//! timeout, a cancel) go straight to `transition::decide` and leave none.
//!
//! Who votes is what the channel proved ([`Proof`]): a credential (API token, page session,
//! link, trusted proxy), or the operating-system user a CLI runs as. A name the caller typed
//! (`--by`, an open loopback API's `by`) is accepted only on gates without a policy.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};

use crate::error::{Error, Result};
use crate::status::{ApprovalState, TaskStatus};
use crate::store::agents_task::{self, Column};
use crate::store::approval_link;
use crate::store::approval_vote::{self, Channel, Verdict};
pub use crate::store::gate_policy::{GatePolicy, subject};
use crate::store::query::get_task;
use crate::store::transition::{Decision, decide, explain_lost};

/// How a channel knows who votes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proof {
    /// A credential orch checked: an API token, a page session, a link, the trusted proxy's
    /// header.
    Credential,
    /// The operating-system user a CLI with the database's credentials runs as. As good as the
    /// machine's accounts and who holds those credentials: whoever can write the database can
    /// write any row, so orch cannot do better for this channel (docs/ORCHESTRATION.md).
    OsUser,
    /// A name the caller typed (`--by`, `by` on an API without credentials): enough for a gate
    /// without a policy, where it always was; refused on a policy gate.
    Typed,
}

/// One person's vote, as a channel hands it over.
#[derive(Clone, Debug)]
pub struct Vote {
    pub voter: String,
    pub proof: Proof,
    pub verdict: Verdict,
    pub note: Option<String>,
    pub channel: Channel,
    pub at: DateTime<Utc>,
    /// The subject the voter was shown (the page's form carries it); `None` votes on the
    /// gate as it is.
    pub seen: Option<String>,
}

/// The votes counted so far on a gate's current subject.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub approvals: Vec<String>,
    pub rejections: Vec<String>,
}

/// What a vote did.
#[derive(Clone, Debug)]
pub enum Cast {
    /// It reached the quorum or the veto: the gate is decided (the row after the decision).
    Decided(agents_task::Model),
    /// It is counted; the gate still waits for more.
    Counted {
        row: agents_task::Model,
        policy: GatePolicy,
        tally: Tally,
    },
}

impl Cast {
    pub fn row(&self) -> &agents_task::Model {
        match self {
            Cast::Decided(row) | Cast::Counted { row, .. } => row,
        }
    }
}

/// Casts `vote` on task `id`: the one guarded path from a person's vote to a decision.
pub async fn cast(db: &sea_orm::DatabaseConnection, id: i64, vote: Vote) -> Result<Cast> {
    let txn = crate::store::begin_read_committed(db).await?;
    let cast = cast_in(&txn, id, vote).await;
    match cast {
        Ok(c) => {
            txn.commit().await.map_err(Error::db)?;
            Ok(c)
        }
        // Dropping the transaction rolls it back: a refused vote leaves nothing.
        Err(e) => Err(e),
    }
}

/// Casts the vote one-click link `token` holds (its voter, verdict and the gate's opening it
/// was sent for) for `signed_in`, who must be the link's voter (the link proves the gate and
/// the verdict; the person's own login proves who they are), and spends the link, in one
/// transaction. Its first statement is the write that spends it (so SQLite takes its write
/// lock before reading anything, and a second POST of the link waits, then finds it used); a
/// vote the gate refuses rolls that back and leaves the link unspent.
pub async fn cast_link(
    db: &sea_orm::DatabaseConnection,
    token: &str,
    signed_in: &str,
    note: Option<String>,
    at: DateTime<Utc>,
) -> Result<(Cast, approval_link::Model)> {
    let Some(digest) = crate::store::links::lookup_digest(token) else {
        return Err(Error::LinkUnknown);
    };
    let txn = crate::store::begin_read_committed(db).await?;
    let spent = approval_link::Entity::update_many()
        .col_expr(approval_link::Column::UsedAt, Expr::value(at))
        .filter(approval_link::Column::TokenHash.eq(digest))
        .filter(approval_link::Column::UsedAt.is_null())
        .filter(approval_link::Column::ExpiresAt.gt(at))
        .filter(approval_link::Column::Voter.eq(signed_in))
        .exec(&txn)
        .await
        .map_err(Error::db)?;
    let found = crate::store::links::find(&txn, token).await?;
    let Some(link) = found else {
        return Err(Error::LinkUnknown);
    };
    if spent.rows_affected != 1 {
        // Why it was not spent: someone else's, used (perhaps by a request this one waited
        // for), or expired.
        if link.voter != signed_in {
            return Err(Error::LinkForeign {
                voter: link.voter,
                viewer: signed_in.to_owned(),
            });
        }
        return Err(match link.used_at {
            Some(used_at) => Error::LinkUsed { used_at },
            None => Error::LinkExpired {
                expired_at: link.expires_at,
            },
        });
    }
    let vote = Vote {
        voter: link.voter.clone(),
        proof: Proof::Credential,
        verdict: link.verdict,
        note,
        channel: Channel::Link,
        at,
        seen: Some(link.subject.clone()),
    };
    let cast = cast_in(&txn, link.task_id, vote).await?;
    txn.commit().await.map_err(Error::db)?;
    Ok((cast, link))
}

async fn cast_in(txn: &impl ConnectionTrait, id: i64, vote: Vote) -> Result<Cast> {
    if vote.voter.contains(',') {
        return Err(Error::CommaInDecider { name: vote.voter });
    }
    lock_open_gate(txn, id).await?;
    let row = get_task(txn, id).await?;
    if row.approval_deadline.is_some_and(|d| d < vote.at) {
        return Err(Error::ApprovalTimedOut {
            id,
            decided_at: None,
        });
    }
    let subject = subject(&row);
    if vote.seen.as_ref().is_some_and(|seen| *seen != subject) {
        return Err(Error::SubjectChanged { id });
    }
    let policy = GatePolicy::of(&row)?;
    if row.approval_policy.is_some() && vote.proof == Proof::Typed {
        return Err(Error::UnprovenVoter {
            id,
            channel: vote.channel.as_str(),
        });
    }
    let initiator = match policy.forbid_self {
        true => Some(
            initiator(txn, &row.run_id)
                .await?
                .ok_or(Error::UnknownInitiator { id })?,
        ),
        false => None,
    };
    if let Some(refused) = barred(id, &policy, &vote.voter, initiator.as_deref()) {
        return Err(refused);
    }
    // Listed when the gate opened, but disabled since: a disabled user decides nothing.
    if policy.voters.is_some() && crate::store::users::is_disabled(txn, &vote.voter).await? {
        return Err(Error::DisabledVoter {
            id,
            voter: vote.voter,
        });
    }
    let earlier = votes_on(txn, id, &subject).await?;
    if let Some(v) = earlier.iter().find(|v| v.voter == vote.voter) {
        return Err(Error::AlreadyVoted {
            id,
            voter: vote.voter,
            verdict: v.verdict.past(),
            cast_at: v.cast_at,
        });
    }
    approval_vote::ActiveModel {
        task_id: Set(id),
        run_id: Set(row.run_id.clone()),
        subject: Set(subject),
        voter: Set(vote.voter.clone()),
        verdict: Set(vote.verdict),
        note: Set(vote.note.clone()),
        channel: Set(vote.channel),
        cast_at: Set(vote.at),
        ..Default::default()
    }
    .insert(txn)
    .await
    .map_err(Error::db)?;
    let mut tally = tally(&earlier);
    match vote.verdict {
        Verdict::Approve => tally.approvals.push(vote.voter.clone()),
        Verdict::Reject => tally.rejections.push(vote.voter.clone()),
    }
    let settled = if tally.approvals.len() as u32 >= policy.required {
        Some((true, tally.approvals.join(", ")))
    } else if tally.rejections.len() as u32 >= policy.rejections_needed() {
        Some((false, tally.rejections.join(", ")))
    } else {
        None
    };
    let Some((approve, by)) = settled else {
        return Ok(Cast::Counted { row, policy, tally });
    };
    let decision = Decision {
        approve,
        by,
        note: vote.note,
        at: vote.at,
    };
    decide(txn, id, decision).await.map(Cast::Decided)
}

/// Why `voter` may not vote on gate `id` under `policy` (its run started by `initiator`), if
/// they may not: the rule `cast` enforces, and the task page asks before offering its forms.
pub fn barred(id: i64, policy: &GatePolicy, voter: &str, initiator: Option<&str>) -> Option<Error> {
    if let Some(voters) = &policy.voters
        && !voters.iter().any(|v| v == voter)
    {
        return Some(Error::NotAnApprover {
            id,
            voter: voter.to_owned(),
            approvers: policy.approvers.clone(),
        });
    }
    if policy.forbid_self && initiator == Some(voter) {
        return Some(Error::OwnRun {
            id,
            voter: voter.to_owned(),
        });
    }
    None
}

/// Takes the row's lock while it is an open gate (a no-op UPDATE: PostgreSQL's row lock,
/// SQLite's write lock, both held to the commit), so votes on one gate run one at a time;
/// anything else is refused with what happened to it.
async fn lock_open_gate(txn: &impl ConnectionTrait, id: i64) -> Result<()> {
    let mut lock = Query::update();
    lock.table(agents_task::Entity)
        .value(Column::ApprovalState, Expr::col(Column::ApprovalState))
        .and_where(Column::Id.eq(id))
        .and_where(Column::Status.eq(TaskStatus::AwaitingApproval))
        .and_where(Column::ApprovalState.eq(ApprovalState::Pending));
    let backend = txn.get_database_backend();
    let locked = txn
        .execute_raw(backend.build(&lock))
        .await
        .map_err(Error::db)?;
    if locked.rows_affected() == 1 {
        return Ok(());
    }
    Err(explain_lost(
        get_task(txn, id).await?,
        TaskStatus::AwaitingApproval,
    ))
}

/// Who started run `run_id`, when it was recorded.
pub async fn initiator(db: &impl ConnectionTrait, run_id: &str) -> Result<Option<String>> {
    Ok(
        crate::store::agents_run::Entity::find_by_id(run_id.to_owned())
            .one(db)
            .await
            .map_err(Error::db)?
            .and_then(|r| r.initiator),
    )
}

/// The votes on one subject of a gate, oldest first.
async fn votes_on(
    db: &impl ConnectionTrait,
    id: i64,
    subject: &str,
) -> Result<Vec<approval_vote::Model>> {
    approval_vote::Entity::find()
        .filter(approval_vote::Column::TaskId.eq(id))
        .filter(approval_vote::Column::Subject.eq(subject))
        .order_by_asc(approval_vote::Column::Id)
        .all(db)
        .await
        .map_err(Error::db)
}

fn tally(votes: &[approval_vote::Model]) -> Tally {
    let mut t = Tally::default();
    for v in votes {
        match v.verdict {
            Verdict::Approve => t.approvals.push(v.voter.clone()),
            Verdict::Reject => t.rejections.push(v.voter.clone()),
        }
    }
    t
}

/// Every vote on task `id`, on any of its gate's openings, oldest first (for `tasks show`
/// and the task page, which mark those on an earlier subject).
pub async fn votes(db: &impl ConnectionTrait, id: i64) -> Result<Vec<approval_vote::Model>> {
    approval_vote::Entity::find()
        .filter(approval_vote::Column::TaskId.eq(id))
        .order_by_asc(approval_vote::Column::Id)
        .all(db)
        .await
        .map_err(Error::db)
}

/// The current subject's tally of `row`, from all its votes.
pub fn current_tally(row: &agents_task::Model, all: &[approval_vote::Model]) -> Tally {
    let subject = subject(row);
    let on: Vec<approval_vote::Model> = all
        .iter()
        .filter(|v| v.subject == subject)
        .cloned()
        .collect();
    tally(&on)
}

//! A person's vote taken by a server (the API or a page form): gates past their deadline are
//! rejected first, the note's secrets masked, the vote cast through `store::votes::cast`
//! (which decides the gate when the policy is met), and on a decision the run's notification
//! targets told in the background. `orch approve` does the same steps itself, because it also
//! waits for its deliveries and may resume the run.

use std::sync::Arc;

use crate::config::Config;
use crate::error::Result;
use crate::store::approval_vote::{Channel, Verdict};
use crate::store::votes::{Cast, Proof, Vote, cast};
use crate::store::{Store, agents_task};

/// What a channel hands over: the voter and how the channel knows them, the verdict, the
/// note, and the subject the voter was shown, when the channel knows it.
pub struct Ballot {
    pub voter: String,
    pub proof: Proof,
    pub approve: bool,
    pub note: Option<String>,
    pub channel: Channel,
    pub seen: Option<String>,
}

/// Casts `ballot` on task `id`.
pub async fn decide_as(
    store: &Store,
    config: &Arc<Config>,
    id: i64,
    ballot: Ballot,
) -> Result<Cast> {
    // A gate past its deadline is rejected first (and this vote refused).
    match super::recovery::recover(store, config).await {
        Ok(expired) => expired.detach(),
        Err(e) => tracing::warn!("approval timeouts: {e}"),
    }
    let vote = vote(config, ballot);
    let cast = cast(&store.db, id, vote).await?;
    if let Cast::Decided(row) = &cast {
        // In a task of its own: the answer waits for none of it, and a client that hangs up
        // cannot cut a delivery off halfway.
        tokio::spawn(notify_decision(store.clone(), config.clone(), row.clone()));
    }
    Ok(cast)
}

/// Casts the vote one-click link `token` holds for `signed_in` (who must be its voter; the
/// note masked as any other), spending the link; on a decision the run's targets are told, as
/// for any vote.
pub async fn decide_by_link(
    store: &Store,
    config: &Arc<Config>,
    token: &str,
    signed_in: &str,
    note: Option<String>,
) -> Result<(Cast, crate::store::approval_link::Model)> {
    match super::recovery::recover(store, config).await {
        Ok(expired) => expired.detach(),
        Err(e) => tracing::warn!("approval timeouts: {e}"),
    }
    let note = masked(config, note);
    let (cast, link) =
        crate::store::votes::cast_link(&store.db, token, signed_in, note, crate::store::now())
            .await?;
    if let Cast::Decided(row) = &cast {
        tokio::spawn(notify_decision(store.clone(), config.clone(), row.clone()));
    }
    Ok((cast, link))
}

fn masked(config: &Config, note: Option<String>) -> Option<String> {
    note.filter(|n| !n.trim().is_empty())
        .map(|n| crate::notify::notifier::note_redactor(config).redact(&n))
}

/// The vote a ballot makes: the note's secrets masked, stamped now.
pub fn vote(config: &Config, ballot: Ballot) -> Vote {
    let note = masked(config, ballot.note);
    Vote {
        voter: ballot.voter,
        proof: ballot.proof,
        verdict: if ballot.approve {
            Verdict::Approve
        } else {
            Verdict::Reject
        },
        note,
        channel: ballot.channel,
        at: crate::store::now(),
        seen: ballot.seen,
    }
}

/// Tells the targets saved with the task's run about the decision. A problem is logged,
/// never returned (the decision stands; undelivered rows are retried by later commands).
async fn notify_decision(store: Store, config: Arc<Config>, row: agents_task::Model) {
    let notice = crate::notify::notices::decision_notice(&row);
    match crate::notify::Notifier::for_run(&store, &config, Some(&row.run_id)).await {
        Ok(notifier) => {
            if let Err(e) = notifier.emit(&notice).await {
                tracing::warn!("notify: {e}");
            }
            notifier.detach();
        }
        Err(e) => tracing::warn!("notify: {e}"),
    }
}

//! Where a webhook is retried: one delivery's attempts in the background. Each request is
//! recorded on the delivery's row under this process's lease; a retryable answer (5xx, a
//! timeout, no connection, 429) waits (`Retry-After`, or the doubling backoff) and tries
//! again, up to the attempts of one round and [`MAX_ATTEMPTS_IN_ALL`] over every round.

use std::sync::Arc;

use tokio::sync::Semaphore;

use super::send::{Meta, Next, backoff_before, post};
use super::target::Endpoint;
use crate::config::NotifySettings;
use crate::format::url::display_url;
use crate::secrets::Redactor;
use crate::store::Store;
use crate::store::delivery::{self, AttemptRecord, Lease};
use crate::store::webhook_delivery::DeliveryStatus;
use crate::warning::{Warning, say};

/// Attempts over every retry after which a delivery is given up (`failed`): a receiver that
/// has failed this often is misconfigured, not down for a moment.
pub const MAX_ATTEMPTS_IN_ALL: i32 = 12;

/// One delivery to send: its row, the lease on it, and what to send.
pub(super) struct Job {
    pub(super) id: i64,
    pub(super) lease: Lease,
    /// Attempts made before this round (by earlier commands).
    pub(super) prior_attempts: i32,
    pub(super) payload: String,
    pub(super) event: String,
    /// The task it is about, for a gate's one-click links.
    pub(super) task_id: Option<i64>,
}

/// What a background delivery needs from the notifier.
pub(super) struct Sender {
    pub(super) store: Store,
    pub(super) redactor: Arc<Redactor>,
    pub(super) settings: NotifySettings,
    pub(super) permits: Arc<Semaphore>,
    /// `ORCH_PUBLIC_URL`'s origin: where one-click links point; `None`: no links.
    pub(super) public_origin: Option<String>,
}

impl Sender {
    /// Up to `settings.attempts` requests, each recorded; stops when the lease is lost.
    pub(super) async fn deliver(&self, job: Job, endpoint: Result<Endpoint, String>) {
        let endpoint = match endpoint {
            Ok(e) => e,
            Err(why) => {
                // Not an attempt: the row stays `pending` for a process that has the variable.
                let record = AttemptRecord {
                    error: Some(why),
                    release: true,
                    ..Default::default()
                };
                self.record(&job, record).await;
                return;
            }
        };
        let meta = Meta {
            event: &job.event,
            delivery_id: Some(job.id),
        };
        // Minted for this round only; the row keeps the body without them.
        let payload = super::links::expand(
            &self.store,
            self.public_origin.as_deref(),
            endpoint.target.kind,
            &job.event,
            job.task_id,
            &job.payload,
        )
        .await;
        for attempt in 1..=self.settings.attempts {
            let answer = {
                // A closed semaphore cannot happen (never closed); go on without a permit.
                let _permit = self.permits.acquire().await.ok();
                // Counted once the request is about to go, not while it waits for a slot.
                if !self.begin(&job).await {
                    return;
                }
                post(&endpoint, &payload, &meta, self.settings.timeout).await
            };
            let in_all = job.prior_attempts + attempt as i32;
            let next = match answer.next() {
                Next::Retry(_) if in_all >= MAX_ATTEMPTS_IN_ALL => Next::GiveUp,
                n => n,
            };
            let mut error = answer
                .error
                .as_deref()
                .map(|e| super::links::mask_tokens(&self.redactor.redact(e)));
            if next == Next::GiveUp && answer.next() != Next::GiveUp {
                error = error.map(|e| format!("{e} (gave up after {in_all} attempts)"));
            }
            let last = attempt == self.settings.attempts;
            let record = AttemptRecord {
                sent_to: Some(display_url(&endpoint.url)),
                http_status: answer.status,
                error,
                settled: match next {
                    Next::Delivered => Some(DeliveryStatus::Delivered),
                    Next::GiveUp => Some(DeliveryStatus::Failed),
                    Next::Retry(_) => None,
                },
                release: last,
            };
            if !self.record(&job, record).await {
                return;
            }
            match next {
                Next::Retry(after) if !last => {
                    let wait = after.unwrap_or_else(|| backoff_before(&self.settings, attempt + 1));
                    tokio::time::sleep(wait).await;
                }
                _ => break,
            }
        }
    }

    /// Counts the attempt about to be made; `false` when this process no longer holds the row.
    async fn begin(&self, job: &Job) -> bool {
        let begun = delivery::begin_attempt(&self.store.db, job.id, job.lease).await;
        still_held(job, begun)
    }

    /// Writes an attempt; `false` when this process no longer holds the row.
    async fn record(&self, job: &Job, record: AttemptRecord) -> bool {
        let recorded = delivery::record(&self.store.db, job.id, job.lease, record).await;
        still_held(job, recorded)
    }
}

/// Whether a write on `job`'s row found it still held by this process; says why not.
fn still_held(job: &Job, written: crate::error::Result<bool>) -> bool {
    match written {
        Ok(true) => true,
        Ok(false) => {
            say(Warning::DeliveryTakenOver { id: job.id });
            false
        }
        Err(e) => {
            say(Warning::DeliveryUnrecorded {
                id: job.id,
                error: e,
            });
            false
        }
    }
}

//! The outbox's front: records a delivery per interested target, hands it to a background
//! [`Sender`] (`retry.rs`, where a webhook is retried), resends what earlier commands left,
//! and lets the command wait (boundedly) for what is still under way at the end.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::Duration as ChronoDuration;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use sea_orm::ConnectionTrait;

use super::payload::{Notice, Reminder, body, reminder_body};
use super::retry::{Job, Sender};
use super::target::{Endpoint, Target, with_env_defaults};
use crate::config::{Config, NotifySettings};
use crate::error::Result;
use crate::format::url::{credential_parts, display_url};
use crate::secrets::{Redactor, is_secret_name};
use crate::store::delivery::{self, AttemptRecord, Lease, NewDelivery, Resend};
use crate::store::webhook_delivery::{self, DeliveryStatus};
use crate::store::{Store, agents_run, now};
use crate::warning::{Warning, say};

/// Cheap to clone: the runner and the command share one.
#[derive(Clone)]
pub struct Notifier {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    targets: Vec<Target>,
    env: HashMap<String, String>,
    redactor: Arc<Redactor>,
    settings: NotifySettings,
    tasks: Mutex<JoinSet<()>>,
    /// Deliveries being sent by this process and their leases, to release if it stops
    /// waiting for them.
    in_flight: Arc<Mutex<HashMap<i64, Lease>>>,
    /// At most this many requests at once: resending after a long outage must not flood the
    /// receiver (Slack answers a burst with 429s) or the database pool.
    permits: Arc<Semaphore>,
    /// `ORCH_PUBLIC_URL`'s origin, for one-click approval links.
    public_origin: Option<String>,
}

/// A delivery recorded and claimed, not yet sent.
pub struct Outgoing {
    job: Job,
    endpoint: Result<Endpoint, String>,
}

/// Requests in flight at once, per process.
const MAX_CONCURRENT: usize = 8;

/// What became of deliveries this process was waiting for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Drained {
    /// Still being sent when the wait ran out (left `pending`, retried later).
    pub unfinished: usize,
}

impl Notifier {
    /// The notifier of a drive: the run's `targets`, URLs from the configured environment,
    /// its timing, and the run's redactor (the plan's secrets too).
    pub fn for_drive(
        store: &Store,
        config: &Config,
        targets: Vec<Target>,
        redactor: &Redactor,
    ) -> Self {
        Notifier::new(store.clone(), config, targets, redactor.clone())
    }

    /// `config` gives the environment (target URLs), the timing and `ORCH_PUBLIC_URL` (where
    /// a gate's one-click links point).
    fn new(store: Store, config: &Config, targets: Vec<Target>, redactor: Redactor) -> Self {
        Notifier {
            inner: Arc::new(Inner {
                public_origin: config.public_url.as_ref().map(|u| u.origin.clone()),
                store,
                targets,
                env: config.env.clone(),
                redactor: Arc::new(redactor),
                settings: config.notify,
                tasks: Mutex::new(JoinSet::new()),
                in_flight: Arc::new(Mutex::new(HashMap::new())),
                permits: Arc::new(Semaphore::new(MAX_CONCURRENT)),
            }),
        }
    }

    /// A notifier for decisions and retries, outside a run: the run's saved targets (plus
    /// the environment's `slack`/`email`), URLs from this process's environment.
    pub async fn for_run(store: &Store, config: &Config, run_id: Option<&str>) -> Result<Self> {
        let env = config.env.clone();
        let saved = match run_id {
            Some(id) => saved_targets(store, id).await?,
            None => Vec::new(),
        };
        let targets = with_env_defaults(&saved, &env);
        let redactor = env_redactor(&env, &targets);
        Ok(Notifier::new(store.clone(), config, targets, redactor))
    }

    pub fn targets(&self) -> &[Target] {
        &self.inner.targets
    }

    pub fn settings(&self) -> NotifySettings {
        self.inner.settings
    }

    /// Records one delivery for every target that wants `notice`'s event and starts sending
    /// them. Returns as soon as the rows are written: the requests never hold the caller.
    pub async fn emit(&self, notice: &Notice) -> Result<()> {
        let targets: Vec<&Target> = self
            .inner
            .targets
            .iter()
            .filter(|t| t.wants(notice.event))
            .collect();
        let jobs = self
            .record(&self.inner.store.db, notice, &targets, |t| {
                body(t.kind, notice)
            })
            .await?;
        self.start(jobs);
        Ok(())
    }

    /// Records reminder `reminder` about `notice`'s gate for `targets`, with `db` (the
    /// transaction that also claims the reminder: both are written or neither). Nothing is
    /// sent until [`Notifier::start`] is given what this returns, after the commit.
    pub async fn record_reminder(
        &self,
        db: &impl ConnectionTrait,
        notice: &Notice,
        reminder: &Reminder,
        targets: &[&Target],
    ) -> Result<Vec<Outgoing>> {
        self.record(db, notice, targets, |t| {
            reminder_body(t.kind, notice, reminder)
        })
        .await
    }

    /// One delivery row for each of `targets`, claimed by this process to send.
    async fn record(
        &self,
        db: &impl ConnectionTrait,
        notice: &Notice,
        targets: &[&Target],
        body_of: impl Fn(&Target) -> serde_json::Value,
    ) -> Result<Vec<Outgoing>> {
        let inner = &self.inner;
        let mut jobs = Vec::new();
        for target in targets {
            let value = inner.redactor.redact_json(&body_of(target));
            let payload = serde_json::to_string(&value).unwrap_or_default();
            let endpoint = self.endpoint(target);
            let row = delivery::insert(
                db,
                NewDelivery {
                    task_id: notice.task.as_ref().map(|t| t.id),
                    run_id: notice.run_id.clone(),
                    event: notice.event.as_str().to_owned(),
                    target: target.name.clone(),
                    kind: target.kind.as_str().to_owned(),
                    url_redacted: match &endpoint {
                        Ok(e) => display_url(&e.url),
                        Err(_) => format!("(`{}` not set)", target.url_var()),
                    },
                    payload: payload.clone(),
                },
            )
            .await?;
            let lease = row.locked_until.unwrap_or_else(now);
            let job = Job {
                id: row.id,
                lease,
                prior_attempts: 0,
                payload,
                event: notice.event.as_str().to_owned(),
                task_id: notice.task.as_ref().map(|t| t.id),
            };
            jobs.push(Outgoing { job, endpoint });
        }
        Ok(jobs)
    }

    /// Starts sending deliveries recorded by [`Notifier::record_reminder`].
    pub fn start(&self, jobs: Vec<Outgoing>) {
        for o in jobs {
            self.spawn(o.job, o.endpoint);
        }
    }

    /// Takes every delivery `which` selects that nobody else holds and sends it again.
    /// Returns the ids taken.
    pub async fn resend(&self, which: Resend) -> Result<Vec<i64>> {
        let rows = delivery::to_resend(&self.inner.store.db, which, 1000).await?;
        let mut taken = Vec::new();
        let mut saved: HashMap<String, Vec<Target>> = HashMap::new();
        for row in rows {
            if !saved.contains_key(&row.run_id) {
                let targets = saved_targets(&self.inner.store, &row.run_id).await?;
                saved.insert(
                    row.run_id.clone(),
                    with_env_defaults(&targets, &self.inner.env),
                );
            }
            let targets = saved
                .get(&row.run_id)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let also_failed = matches!(which, Resend::Undelivered);
            if self.retry(&row, targets, also_failed).await? {
                taken.push(row.id);
            }
        }
        Ok(taken)
    }

    /// Sends delivery `row` again (also a `failed` one) if nobody else holds it; `false`
    /// when someone does.
    pub async fn retry_one(&self, row: &webhook_delivery::Model) -> Result<bool> {
        let saved = saved_targets(&self.inner.store, &row.run_id).await?;
        let targets = with_env_defaults(&saved, &self.inner.env);
        self.retry(row, &targets, true).await
    }

    async fn retry(
        &self,
        row: &webhook_delivery::Model,
        targets: &[Target],
        also_failed: bool,
    ) -> Result<bool> {
        let Some(lease) = delivery::claim(&self.inner.store.db, row.id, also_failed).await? else {
            return Ok(false);
        };
        let job = Job {
            id: row.id,
            lease,
            prior_attempts: row.attempts,
            payload: row.payload.clone(),
            event: row.event.clone(),
            task_id: row.task_id,
        };
        match targets.iter().find(|t| t.name == row.target) {
            Some(t) => self.spawn(job, self.endpoint(t)),
            None => {
                // The run no longer names this target: it can never be sent.
                let record = AttemptRecord {
                    error: Some(format!(
                        "run `{}` has no saved target `{}`: it cannot be sent again",
                        row.run_id, row.target
                    )),
                    settled: Some(DeliveryStatus::Failed),
                    ..Default::default()
                };
                delivery::record(&self.inner.store.db, row.id, lease, record).await?;
            }
        }
        Ok(true)
    }

    fn endpoint(&self, target: &Target) -> Result<Endpoint, String> {
        target.resolve(&self.inner.env).map_err(|var| {
            format!("`{var}` is not set where this orch runs: set it, then `orch notify retry`")
        })
    }

    fn spawn(&self, job: Job, endpoint: Result<Endpoint, String>) {
        let inner = &self.inner;
        lock(&inner.in_flight).insert(job.id, job.lease);
        let sender = Sender {
            store: inner.store.clone(),
            redactor: inner.redactor.clone(),
            settings: inner.settings,
            permits: inner.permits.clone(),
            public_origin: inner.public_origin.clone(),
        };
        let in_flight = inner.in_flight.clone();
        lock(&inner.tasks).spawn(async move {
            let id = job.id;
            sender.deliver(job, endpoint).await;
            lock(&in_flight).remove(&id);
        });
    }

    /// Lets the deliveries under way finish on their own (the API server, which outlives
    /// the request that started them). Without this, dropping the notifier cancels them.
    pub fn detach(&self) {
        lock(&self.inner.tasks).detach_all();
    }

    /// Waits up to `wait` for deliveries still being sent; those cut short stay `pending`
    /// (released at once, so `orch notify retry` can take them).
    pub async fn drain(&self, wait: std::time::Duration) -> Drained {
        let mut set = std::mem::take(&mut *lock(&self.inner.tasks));
        let deadline = tokio::time::sleep(wait);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                joined = set.join_next() => if joined.is_none() { break },
                _ = &mut deadline => break,
            }
        }
        let unfinished = set.len();
        set.abort_all();
        let left: Vec<(i64, Lease)> = lock(&self.inner.in_flight).drain().collect();
        if let Err(e) = delivery::release(&self.inner.store.db, &left).await {
            say(Warning::Notify(e));
        }
        Drained { unfinished }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind: keep going with it.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The targets saved with run `run_id` (none when the run has no record or no targets).
pub async fn saved_targets(store: &Store, run_id: &str) -> Result<Vec<Target>> {
    use sea_orm::EntityTrait;
    let run = agents_run::Entity::find_by_id(run_id.to_owned())
        .one(&store.db)
        .await
        .map_err(crate::Error::db)?;
    let Some(json) = run.and_then(|r| r.notify) else {
        return Ok(Vec::new());
    };
    Ok(serde_json::from_str(&json).unwrap_or_else(|e| {
        say(Warning::SavedTargetsUnreadable {
            run_id: run_id.to_owned(),
            detail: e.to_string(),
        });
        Vec::new()
    }))
}

/// Masks what a notification outside a run could leak: the values of secret-named variables
/// and the targets' own URLs and secrets.
pub fn env_redactor(env: &HashMap<String, String>, targets: &[Target]) -> Redactor {
    let mut values: Vec<String> = env
        .iter()
        .filter(|(k, _)| is_secret_name(k, &[]))
        .map(|(_, v)| v.clone())
        .collect();
    values.extend(target_secrets(targets, env));
    Redactor::new(values)
}

/// Masks what a person may paste into a decision's note: the values of this environment's
/// secret-named variables and of its webhook URLs. The note is stored, returned by the API
/// and sent to Slack: it is masked before any of that.
pub fn note_redactor(config: &Config) -> Redactor {
    env_redactor(&config.env, &with_env_defaults(&[], &config.env))
}

/// Secrets beyond the environment's: tasks inherit `DATABASE_URL`, so its password; and
/// webhook URLs and signing secrets, whatever their variables are called.
pub fn extra_secrets(
    target: &crate::config::DatabaseTarget,
    targets: &[Target],
    env: &HashMap<String, String>,
) -> Vec<String> {
    let mut extra: Vec<String> = match target {
        crate::config::DatabaseTarget::Postgres { url } => {
            crate::format::url::url_password(url).into_iter().collect()
        }
        crate::config::DatabaseTarget::Sqlite { .. } => Vec::new(),
    };
    extra.extend(target_secrets(targets, env));
    extra
}

/// The URL and secret values behind `targets`, to be masked wherever output goes.
pub fn target_secrets(targets: &[Target], env: &HashMap<String, String>) -> Vec<String> {
    targets
        .iter()
        .filter_map(|t| t.resolve(env).ok())
        .flat_map(|e| {
            // The path of a Slack-style URL is the credential: a receiver that echoes it
            // (alone, or URL-encoded) must not put it in a stored error or on screen.
            let parts = credential_parts(&e.url);
            std::iter::once(e.url).chain(parts).chain(e.secret)
        })
        .collect()
}

/// How long a pending delivery waits before another process resends it.
pub const RESEND_AFTER: ChronoDuration = ChronoDuration::minutes(1);

/// What every command resends by itself: pending and a minute old.
pub fn stale_deliveries() -> Resend {
    Resend::PendingBefore(now() - RESEND_AFTER)
}

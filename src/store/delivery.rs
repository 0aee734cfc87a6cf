//! The outbox of notifications (`webhook_deliveries`): recording a delivery before it is
//! sent, claiming it so that only one process sends it at a time, recording each attempt,
//! and finding what is left to send.
//!
//! A claim is a lease (`locked_until`) taken with one conditional UPDATE, so two orch
//! processes resending from the same database never send the same row twice at once, on SQLite
//! and PostgreSQL alike; a process that dies mid-send frees the row when the lease expires.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, SimpleExpr};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    NotSet, QueryFilter, QueryOrder, QuerySelect,
};

use crate::error::{Error, Result};
use crate::store::now;
use crate::store::webhook_delivery::{self, Column, DeliveryStatus, Entity};

/// Longer than a delivery can take (3 attempts of 10 s, two waits of at most 60 s).
pub const LEASE: Duration = Duration::minutes(5);

/// A delivery to record.
#[derive(Clone, Debug)]
pub struct NewDelivery {
    pub task_id: Option<i64>,
    pub run_id: String,
    pub event: String,
    pub target: String,
    pub kind: String,
    pub url_redacted: String,
    pub payload: String,
}

/// Records a delivery as `pending`, already claimed by the caller who is about to send it.
pub async fn insert(
    db: &impl ConnectionTrait,
    new: NewDelivery,
) -> Result<webhook_delivery::Model> {
    let at = now();
    webhook_delivery::ActiveModel {
        id: NotSet,
        task_id: Set(new.task_id),
        run_id: Set(new.run_id),
        event: Set(new.event),
        target: Set(new.target),
        kind: Set(new.kind),
        url_redacted: Set(new.url_redacted),
        payload: Set(new.payload),
        status: Set(DeliveryStatus::Pending),
        attempts: Set(0),
        last_status: Set(None),
        last_error: Set(None),
        created_at: Set(at),
        updated_at: Set(at),
        locked_until: Set(Some(at + LEASE)),
        delivered_at: Set(None),
    }
    .insert(db)
    .await
    .map_err(Error::db)
}

/// A sender's hold on a delivery: the `locked_until` it wrote. Every later write of that
/// sender matches it, so a sender whose lease ran out can never overwrite the next one's work.
pub type Lease = DateTime<Utc>;

/// Takes the lease on delivery `id` if nobody holds it and it is still `pending` (or, with
/// `also_failed`, `failed`); `None` when someone else holds it or it was settled meanwhile.
pub async fn claim(db: &impl ConnectionTrait, id: i64, also_failed: bool) -> Result<Option<Lease>> {
    let at = now();
    let lease = at + LEASE;
    let statuses: &[DeliveryStatus] = if also_failed {
        &[DeliveryStatus::Pending, DeliveryStatus::Failed]
    } else {
        &[DeliveryStatus::Pending]
    };
    let result = Entity::update_many()
        .col_expr(Column::LockedUntil, Expr::value(lease))
        .filter(Column::Id.eq(id))
        .filter(Column::Status.is_in(statuses.iter().copied()))
        .filter(
            Condition::any()
                .add(Column::LockedUntil.is_null())
                .add(Column::LockedUntil.lt(at)),
        )
        .exec(db)
        .await
        .map_err(Error::db)?;
    Ok((result.rows_affected == 1).then_some(lease))
}

/// How one attempt (or a failure to make one) ended.
#[derive(Clone, Debug, Default)]
pub struct AttemptRecord {
    pub http_status: Option<u16>,
    pub error: Option<String>,
    /// The new status, when the delivery is settled (delivered, or refused for good).
    pub settled: Option<DeliveryStatus>,
    /// Whether the sender is done with the row for now (the lease is released).
    pub release: bool,
    /// Where the request went, as it may be shown, when it went out: a retry sends to the
    /// URL the environment names now, which may not be the first one.
    pub sent_to: Option<String>,
}

/// Counts an attempt on delivery `id` held with `lease` before its request goes out, so that
/// one whose sender dies mid-request is counted too; `false` when the lease was lost.
pub async fn begin_attempt(db: &impl ConnectionTrait, id: i64, lease: Lease) -> Result<bool> {
    let result = Entity::update_many()
        .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
        .col_expr(Column::UpdatedAt, Expr::value(now()))
        .filter(Column::Id.eq(id))
        .filter(Column::LockedUntil.eq(lease))
        .exec(db)
        .await
        .map_err(Error::db)?;
    Ok(result.rows_affected == 1)
}

/// Records how an attempt on delivery `id` held with `lease` ended (counted by
/// [`begin_attempt`]); `false` when the lease was lost (nothing is written then).
pub async fn record(
    db: &impl ConnectionTrait,
    id: i64,
    lease: Lease,
    a: AttemptRecord,
) -> Result<bool> {
    let at = now();
    let mut sets: Vec<(Column, SimpleExpr)> = vec![
        (Column::UpdatedAt, Expr::value(at)),
        (
            Column::LastStatus,
            Expr::value(a.http_status.map(i32::from)),
        ),
        (Column::LastError, Expr::value(a.error)),
    ];
    if let Some(url) = a.sent_to {
        sets.push((Column::UrlRedacted, Expr::value(url)));
    }
    if let Some(status) = a.settled {
        sets.push((Column::Status, Expr::value(status.as_str())));
        if status == DeliveryStatus::Delivered {
            sets.push((Column::DeliveredAt, Expr::value(at)));
        }
    }
    if a.release || a.settled.is_some() {
        sets.push((
            Column::LockedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        ));
    }
    let mut update = Entity::update_many()
        .filter(Column::Id.eq(id))
        .filter(Column::LockedUntil.eq(lease));
    for (col, value) in sets {
        update = update.col_expr(col, value);
    }
    let result = update.exec(db).await.map_err(Error::db)?;
    Ok(result.rows_affected == 1)
}

/// Which undelivered rows are sent again.
#[derive(Clone, Copy, Debug)]
pub enum Resend {
    /// `pending` rows created before this time (what every command resends by itself: a minute old, so that
    /// a delivery another process has just recorded is left to it).
    PendingBefore(DateTime<Utc>),
    /// Every `pending` and `failed` row (`orch notify retry`).
    Undelivered,
}

/// Undelivered rows that nobody holds, oldest first, at most `limit`.
pub async fn to_resend(
    db: &impl ConnectionTrait,
    which: Resend,
    limit: u64,
) -> Result<Vec<webhook_delivery::Model>> {
    let at = now();
    let mut q = Entity::find().filter(
        Condition::any()
            .add(Column::LockedUntil.is_null())
            .add(Column::LockedUntil.lt(at)),
    );
    q = match which {
        Resend::PendingBefore(before) => q
            .filter(Column::Status.eq(DeliveryStatus::Pending))
            .filter(Column::CreatedAt.lt(before)),
        Resend::Undelivered => q.filter(Column::Status.ne(DeliveryStatus::Delivered)),
    };
    q.order_by_asc(Column::Id)
        .limit(limit)
        .all(db)
        .await
        .map_err(Error::db)
}

/// Undelivered rows another process holds now (sending them, or dead while it was): what
/// `orch notify retry` cannot take, and must not pass over in silence.
pub async fn held(db: &impl ConnectionTrait, limit: u64) -> Result<Vec<webhook_delivery::Model>> {
    Entity::find()
        .filter(Column::LockedUntil.gte(now()))
        .filter(Column::Status.ne(DeliveryStatus::Delivered))
        .order_by_asc(Column::Id)
        .limit(limit)
        .all(db)
        .await
        .map_err(Error::db)
}

/// Filters for `orch notify list`.
#[derive(Clone, Debug, Default)]
pub struct DeliveryFilter {
    /// Only rows not delivered (`pending` or `failed`).
    pub undelivered: bool,
    pub run_id: Option<String>,
    pub task_id: Option<i64>,
    pub limit: u64,
}

/// Deliveries matching `filter`, newest first.
pub async fn list(
    db: &impl ConnectionTrait,
    filter: &DeliveryFilter,
) -> Result<Vec<webhook_delivery::Model>> {
    let mut q = Entity::find();
    if filter.undelivered {
        q = q.filter(Column::Status.ne(DeliveryStatus::Delivered));
    }
    if let Some(r) = &filter.run_id {
        q = q.filter(Column::RunId.eq(r.as_str()));
    }
    if let Some(t) = filter.task_id {
        q = q.filter(Column::TaskId.eq(t));
    }
    q.order_by_desc(Column::Id)
        .limit(std::cmp::max(filter.limit, 1))
        .all(db)
        .await
        .map_err(Error::db)
}

pub async fn get(db: &impl ConnectionTrait, id: i64) -> Result<webhook_delivery::Model> {
    Entity::find_by_id(id)
        .one(db)
        .await
        .map_err(Error::db)?
        .ok_or(Error::UnknownDelivery { id })
}

/// Frees the leases of deliveries whose sender stopped waiting for them, so that
/// `orch notify retry` can take them at once instead of after [`LEASE`].
pub async fn release(db: &impl ConnectionTrait, held: &[(i64, Lease)]) -> Result<()> {
    for (id, lease) in held {
        Entity::update_many()
            .col_expr(
                Column::LockedUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(Column::Id.eq(*id))
            .filter(Column::LockedUntil.eq(*lease))
            .exec(db)
            .await
            .map_err(Error::db)?;
    }
    Ok(())
}

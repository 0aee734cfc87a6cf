//! Workers (`orch worker`): how many are up or draining, and per worker host the age of its
//! freshest heartbeat, which the "worker silent" alert watches.
//!
//! The label is the host, not the worker's owner id: that id holds the pid and a random part,
//! so every restart would start a new series. A host's freshest heartbeat is the one that
//! matters: a killed worker that was restarted on the same host leaves a stale row behind,
//! and the host is fine. Workers that stopped cleanly are left out, and so are hosts silent
//! for more than a day (by then the alert has fired; their rows stay in `orch workers list
//! --all`), so the family stays as small as the fleet.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use super::{Seconds, by_status};
use crate::error::Result;
use crate::store::{Store, workers};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HostLabel {
    host: String,
}

pub async fn add(registry: &mut Registry, store: &Store, now: DateTime<Utc>) -> Result<()> {
    let recent = now - Duration::days(1);
    let rows: Vec<_> = workers::list(&store.db, false)
        .await?
        .into_iter()
        .filter(|w| w.heartbeat_at > recent)
        .collect();
    let mut states: Vec<(String, i64)> = Vec::new();
    let mut freshest: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
    for w in &rows {
        let state = if w.draining_at.is_some() {
            "draining"
        } else {
            "up"
        };
        states.push((state.to_owned(), 1));
        let at = freshest.entry(w.host.clone()).or_insert(w.heartbeat_at);
        *at = (*at).max(w.heartbeat_at);
    }
    registry.register(
        "orch_workers",
        "Workers that have not stopped and sent a heartbeat within a day, by status (up, draining)",
        by_status(&["up", "draining"], &states),
    );
    let ages = Family::<HostLabel, Seconds>::default();
    for (host, at) in freshest {
        let secs = (now - at).num_milliseconds().max(0) as f64 / 1000.0;
        ages.get_or_create(&HostLabel { host }).set(secs);
    }
    registry.register(
        "orch_worker_heartbeat_age_seconds",
        "Per worker host, how long ago its freshest heartbeat reached the database",
        ages,
    );
    Ok(())
}

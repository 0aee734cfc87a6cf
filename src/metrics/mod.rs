//! The Prometheus metrics: one text, computed from the database at each scrape (the processes
//! that run tasks are not the one scraped), served by `GET /metrics` and printed by
//! `orch metrics`. One file per group of families; each adds its families to a registry of
//! our own, never a global one. Labels are bounded: plan, task, status, a worker's host; never a run or task id.

mod approvals;
mod build;
mod deliveries;
mod plan_tasks;
mod tasks;
mod transitions;
mod workers;

use chrono::{DateTime, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

use crate::error::Result;
use crate::store::Store;

/// The Prometheus text format (0.0.4), as the crate writes it.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// A gauge holding seconds (a float).
type Seconds = Gauge<f64, AtomicU64>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PlanTask {
    plan: String,
    task: String,
}

/// Every metric, in the Prometheus text format, as of now.
pub async fn render(store: &Store) -> Result<String> {
    let now = crate::store::now();
    let mut registry = Registry::default();
    tasks::add(&mut registry, store, now).await?;
    plan_tasks::add(&mut registry, store).await?;
    transitions::add(&mut registry, store).await?;
    deliveries::add(&mut registry, store, now).await?;
    approvals::add(&mut registry, store, now).await?;
    workers::add(&mut registry, store, now).await?;
    build::add(&mut registry);
    let mut text = String::new();
    // The only error the encoder passes on is its writer's, and a `String` never refuses.
    prometheus_client::encoding::prometheus_text::encode(&mut text, &registry)
        .expect("writing to a String cannot fail");
    Ok(text)
}

/// A family of integer gauges by `status`, every value of `all` present (0 when no row has it),
/// so a query over a status that is empty now reads 0 rather than nothing.
fn by_status(all: &[&str], counts: &[(String, i64)]) -> Family<StatusLabel, Gauge> {
    let family = Family::<StatusLabel, Gauge>::default();
    for status in all {
        let n = counts
            .iter()
            .filter(|(s, _)| s == status)
            .map(|(_, n)| *n)
            .sum();
        family
            .get_or_create(&StatusLabel {
                status: (*status).to_owned(),
            })
            .set(n);
    }
    family
}

/// Seconds from `since` to `now`; 0 without a `since` (nothing is waiting) or for a clock behind.
fn age(now: DateTime<Utc>, since: Option<DateTime<Utc>>) -> Seconds {
    let gauge = Seconds::default();
    let secs = since.map_or(0.0, |s| (now - s).num_milliseconds().max(0) as f64 / 1000.0);
    gauge.set(secs);
    gauge
}

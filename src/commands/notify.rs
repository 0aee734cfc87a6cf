//! `orch notify list | retry | test`, and the bounded wait for deliveries that `run`,
//! `approve` and `reject` share.

use std::time::Duration;

use serde_json::json;

use crate::cli::{NotifyCommand, NotifyListArgs};
use crate::config::Config;
use crate::error::{Error, Result, code};
use crate::format::url::display_url;
use crate::notify::notifier::env_redactor;
use crate::notify::send::{Meta, post};
use crate::notify::target::Endpoint;
use crate::notify::{Notifier, Target, TargetKind};
use crate::store::delivery::{self, DeliveryFilter, Resend};
use crate::store::webhook_delivery::{self, DeliveryStatus};
use crate::store::{Store, json};
use crate::ui::{Output, table};
use crate::warning::{Warning, say};

pub async fn run(store: &Store, config: &Config, cmd: NotifyCommand, out: Output) -> Result<i32> {
    match cmd {
        NotifyCommand::List(args) => list(store, args, out).await,
        NotifyCommand::Retry { id } => retry(store, config, id, out).await,
        NotifyCommand::Test { .. } => unreachable!("`notify test` needs no database"),
    }
}

async fn list(store: &Store, args: NotifyListArgs, out: Output) -> Result<i32> {
    let filter = DeliveryFilter {
        undelivered: args.failed,
        run_id: args.run_id,
        task_id: args.task_id,
        limit: args.limit,
    };
    let rows = delivery::list(&store.db, &filter).await?;
    if args.json {
        out.json(&json::deliveries(&rows))?;
    } else if rows.is_empty() && out.tty {
        out.print("no deliveries match")?;
    } else {
        out.print(&table::deliveries(&rows, out.tty))?;
    }
    Ok(code::SUCCESS)
}

async fn retry(store: &Store, config: &Config, id: Option<i64>, out: Output) -> Result<i32> {
    let notifier = Notifier::for_run(store, config, None).await?;
    let taken = match id {
        Some(id) => {
            let row = delivery::get(&store.db, id).await?;
            if row.status == DeliveryStatus::Delivered {
                out.print(&format!(
                    "delivery {id} was delivered at {}: nothing to send",
                    row.delivered_at
                        .as_ref()
                        .map(json::timestamp)
                        .unwrap_or_default()
                ))?;
                return Ok(code::SUCCESS);
            }
            if !notifier.retry_one(&row).await? {
                return Err(Error::DeliveryBusy {
                    id,
                    until: row.locked_until,
                });
            }
            vec![id]
        }
        None => notifier.resend(Resend::Undelivered).await?,
    };
    // What another orch holds is not ours to send, but it is not delivered either: say so,
    // with when the hold lapses, and count it.
    let held = match id {
        Some(_) => Vec::new(),
        None => delivery::held(&store.db, 1000)
            .await?
            .into_iter()
            .filter(|r| !taken.contains(&r.id))
            .collect(),
    };
    if taken.is_empty() && held.is_empty() {
        out.print("nothing to retry: every notification was delivered")?;
        return Ok(code::SUCCESS);
    }
    notifier.drain(notifier.settings().wait).await;
    let mut undelivered = held.len();
    for row in &held {
        out.print(&format!(
            "{}; held by another orch until {}, retry after that",
            outcome_line(row),
            row.locked_until
                .as_ref()
                .map(json::timestamp)
                .unwrap_or_default()
        ))?;
    }
    for id in taken {
        let row = delivery::get(&store.db, id).await?;
        if row.status != DeliveryStatus::Delivered {
            undelivered += 1;
        }
        out.print(&outcome_line(&row))?;
    }
    if undelivered > 0 {
        return Err(Error::Undelivered { count: undelivered });
    }
    Ok(code::SUCCESS)
}

/// `delivery 3: awaiting_approval → slack (https://hooks.slack.com): delivered (HTTP 200)`.
fn outcome_line(d: &webhook_delivery::Model) -> String {
    let detail = match (d.status, &d.last_error, d.last_status) {
        (DeliveryStatus::Delivered, _, Some(s)) => format!("HTTP {s}"),
        (_, Some(e), _) => e.clone(),
        (_, None, Some(s)) => format!("HTTP {s}"),
        _ => "no attempt".to_owned(),
    };
    format!(
        "delivery {}: {} → {} ({}): {} ({detail}; {} attempt{} in all)",
        d.id,
        d.event,
        d.target,
        d.url_redacted,
        d.status,
        d.attempts,
        if d.attempts == 1 { "" } else { "s" }
    )
}

/// `orch notify test`: one request to each asked target, its answer printed. No database.
pub async fn test(config: &Config, slack: bool, email: bool, out: Output) -> Result<i32> {
    let env = &config.env;
    let kinds: Vec<TargetKind> = match (slack, email) {
        (true, false) => vec![TargetKind::Slack],
        (false, true) => vec![TargetKind::Email],
        _ => vec![TargetKind::Slack, TargetKind::Email],
    };
    let mut endpoints = Vec::new();
    let mut missing = Vec::new();
    for kind in kinds {
        let Some(var) = kind.default_url_var() else {
            continue;
        };
        let target = Target {
            name: kind.as_str().to_owned(),
            kind,
            url: format!("${{{var}}}"),
            secret: None,
            on: Vec::new(),
        };
        match target.resolve(env) {
            Ok(e) => endpoints.push(e),
            Err(_) => missing.push(var),
        }
    }
    if endpoints.is_empty() {
        return Err(Error::NotifyNotConfigured { asked: missing });
    }
    let targets: Vec<Target> = endpoints.iter().map(|e| e.target.clone()).collect();
    let redactor = env_redactor(env, &targets);
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let settings = config.notify;
    let mut failed = 0;
    for var in &missing {
        out.print(&format!("skipped: `{var}` is not set"))?;
    }
    for endpoint in &endpoints {
        let body = test_body(endpoint, &host).to_string();
        let meta = Meta {
            event: "test",
            delivery_id: None,
        };
        let answer = post(endpoint, &body, &meta, settings.timeout).await;
        let shown = match (&answer.error, answer.status) {
            (None, Some(s)) if answer.body.is_empty() => format!("HTTP {s}"),
            (None, Some(s)) => format!("HTTP {s}: {}", answer.body),
            (Some(e), _) => e.clone(),
            (None, None) => "no answer".to_owned(),
        };
        if answer.error.is_some() {
            failed += 1;
        }
        out.print(&redactor.redact(&format!(
            "{} ({}): {shown}",
            endpoint.target.name,
            display_url(&endpoint.url)
        )))?;
    }
    if failed > 0 {
        return Err(Error::NotifyTestFailed { count: failed });
    }
    Ok(code::SUCCESS)
}

fn test_body(endpoint: &Endpoint, host: &str) -> serde_json::Value {
    let text = format!("Test message from orch on {host}: notifications reach this receiver");
    match endpoint.target.kind {
        TargetKind::Slack => json!({ "text": text }),
        _ => json!({
            "run_id": "test",
            "task": "orch.notify.test",
            "status": "test",
            "outputs_uri": null,
            "log_excerpt": text,
            "event": "test",
        }),
    }
}

/// Waits up to `wait` for `notifier`'s deliveries, then says how many of those
/// `scope` selects are still undelivered. Never an error: a notification fails nothing.
pub async fn settle(
    store: &Store,
    notifier: &Notifier,
    scope: DeliveryFilter,
    what: &str,
    wait: Duration,
) {
    let drained = notifier.drain(wait).await;
    let scope = DeliveryFilter {
        undelivered: true,
        limit: 1000,
        ..scope
    };
    match delivery::list(&store.db, &scope).await {
        Ok(rows) if !rows.is_empty() => say(Warning::Undelivered {
            count: rows.len(),
            what: what.to_owned(),
            reason: (drained.unfinished > 0).then(|| {
                format!(
                    "orch stopped waiting after {}, {} still under way",
                    humantime::format_duration(wait),
                    drained.unfinished
                )
            }),
        }),
        Ok(_) => {}
        Err(e) => say(Warning::Notify(e)),
    }
}

//! Validating a plan's `notify` block: target names and types, `${VAR}` references for
//! URLs and secrets (never literal values: a webhook URL is a credential), known events.

use indexmap::IndexMap;
use serde_saphyr::Spanned;

use super::Loc;
use super::issues::{at, issue};
use super::raw::RawTarget;
use crate::error::PlanIssue;
use crate::notify::target::{DEFAULT_EVENTS, reference_name};
use crate::notify::{Event, Target, TargetKind};

pub fn targets(
    raw: &IndexMap<String, Spanned<Option<RawTarget>>>,
    issues: &mut Vec<PlanIssue>,
) -> Vec<Target> {
    raw.iter()
        .filter_map(|(name, spec)| target(name, spec, issues))
        .collect()
}

/// One target, or `None` when anything about it is wrong (all of it is reported). An empty
/// entry (`slack:` alone) takes every default.
fn target(
    name: &str,
    spec: &Spanned<Option<RawTarget>>,
    issues: &mut Vec<PlanIssue>,
) -> Option<Target> {
    let loc = at(spec);
    let before = issues.len();
    if !super::is_valid_name(name) {
        issue(
            issues,
            loc,
            format!("notify target name `{name}` must match `[A-Za-z0-9._-]+`"),
        );
    }
    let empty = RawTarget {
        kind: None,
        url: None,
        secret: None,
        on: None,
    };
    let raw = spec.value.as_ref().unwrap_or(&empty);
    let kind = kind(name, raw.kind.as_ref(), issues);
    let url = url(name, loc, raw.url.as_ref(), kind, issues);
    let secret = secret(name, raw.secret.as_ref(), kind, issues);
    let on = events(name, raw.on.as_ref(), issues);
    (issues.len() == before).then(|| Target {
        name: name.to_owned(),
        kind,
        url,
        secret,
        on,
    })
}

/// `slack` and `email` name their own type; any other name is a generic webhook unless it
/// says otherwise.
fn kind(name: &str, raw: Option<&Spanned<String>>, issues: &mut Vec<PlanIssue>) -> TargetKind {
    match raw {
        Some(k) => TargetKind::parse(&k.value).unwrap_or_else(|| {
            issue(
                issues,
                at(k),
                format!(
                    "notify target `{name}`: `type: {}` is unknown: use `slack`, `email` or `webhook`",
                    k.value
                ),
            );
            TargetKind::Webhook
        }),
        None => TargetKind::parse(name).unwrap_or(TargetKind::Webhook),
    }
}

/// The URL's variable: as written, else the kind's default (`${SLACK_WEBHOOK}`); a generic
/// webhook has no default, so it must name one.
fn url(
    name: &str,
    loc: Loc,
    raw: Option<&Spanned<String>>,
    kind: TargetKind,
    issues: &mut Vec<PlanIssue>,
) -> String {
    match (raw, kind.default_url_var()) {
        (Some(u), _) => reference(name, "url", u, issues),
        (None, Some(var)) => format!("${{{var}}}"),
        (None, None) => {
            issue(
                issues,
                loc,
                format!(
                    "notify target `{name}` needs a `url`, e.g. `url: ${{{}_URL}}` (set the \
                     variable in the environment)",
                    name.to_ascii_uppercase().replace(['-', '.'], "_")
                ),
            );
            String::new()
        }
    }
}

/// The signing secret's variable. Only generic webhooks are signed: a secret on any other
/// kind would suggest a protection that is not there.
fn secret(
    name: &str,
    raw: Option<&Spanned<String>>,
    kind: TargetKind,
    issues: &mut Vec<PlanIssue>,
) -> Option<String> {
    match raw {
        Some(s) if kind != TargetKind::Webhook => {
            issue(
                issues,
                at(s),
                format!(
                    "notify target `{name}`: `secret` signs generic webhooks only; {kind} \
                     requests are not signed"
                ),
            );
            None
        }
        Some(s) => Some(reference(name, "secret", s, issues)),
        None => None,
    }
}

/// The events the target hears of (default [`DEFAULT_EVENTS`]), each once, in the order
/// written. An empty list would make a target that never hears anything.
fn events(
    name: &str,
    raw: Option<&Spanned<Vec<Spanned<String>>>>,
    issues: &mut Vec<PlanIssue>,
) -> Vec<Event> {
    match raw {
        None => DEFAULT_EVENTS.to_vec(),
        Some(list) if list.value.is_empty() => {
            issue(
                issues,
                at(list),
                format!("notify target `{name}`: `on` is empty: list events, or remove the target"),
            );
            Vec::new()
        }
        Some(list) => {
            let mut events: Vec<Event> = Vec::new();
            for e in &list.value {
                match e.value.parse::<Event>() {
                    Ok(ev) if !events.contains(&ev) => events.push(ev),
                    Ok(_) => {}
                    Err(message) => {
                        issue(issues, at(e), format!("notify target `{name}`: {message}"))
                    }
                }
            }
            events
        }
    }
}

/// `${NAME}`, or an issue explaining why a literal value does not belong in a plan.
fn reference(
    target: &str,
    key: &str,
    value: &Spanned<String>,
    issues: &mut Vec<PlanIssue>,
) -> String {
    let v = value.value.trim();
    if reference_name(v).is_none() {
        // Never quote the value: it may be the very secret.
        issue(
            issues,
            at(value),
            format!(
                "notify target `{target}`: `{key}` must be a `${{VAR}}` reference: webhook \
                 {}s are secrets, so the plan names the environment variable that holds it",
                if key == "url" { "URL" } else { key }
            ),
        );
    }
    v.to_owned()
}

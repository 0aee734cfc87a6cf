//! Validating a plan's `notify` block: target names and types, `${VAR}` references for
//! URLs and secrets (never literal values: a webhook URL is a credential), known events.

use indexmap::IndexMap;
use serde_saphyr::Spanned;

use super::Loc;
use super::issues::{at, issue};
use super::problem::Problem;
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
        let target = name.to_owned();
        issue(issues, loc, Problem::BadTargetName { target });
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
            let problem = Problem::UnknownTargetType {
                target: name.to_owned(),
                kind: k.value.clone(),
            };
            issue(issues, at(k), problem);
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
            let target = name.to_owned();
            issue(issues, loc, Problem::NoTargetUrl { target });
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
            let target = name.to_owned();
            issue(issues, at(s), Problem::UnsignedSecret { target, kind });
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
            let target = name.to_owned();
            issue(issues, at(list), Problem::NoEvents { target });
            Vec::new()
        }
        Some(list) => {
            let mut events: Vec<Event> = Vec::new();
            for e in &list.value {
                match e.value.parse::<Event>() {
                    Ok(ev) if !events.contains(&ev) => events.push(ev),
                    Ok(_) => {}
                    Err(message) => {
                        let target = name.to_owned();
                        issue(issues, at(e), Problem::BadEvent { target, message });
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
    key: &'static str,
    value: &Spanned<String>,
    issues: &mut Vec<PlanIssue>,
) -> String {
    let v = value.value.trim();
    if reference_name(v).is_none() {
        // Never quote the value: it may be the very secret.
        let target = target.to_owned();
        issue(issues, at(value), Problem::NotAReference { target, key });
    }
    v.to_owned()
}

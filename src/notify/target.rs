//! Notification targets: what a plan's `notify` block (or `SLACK_WEBHOOK` / `EMAIL_WEBHOOK`
//! alone) asks for, saved with the run, and resolved against the environment only when a
//! request is about to go out.
//!
//! A target's URL and signing secret are always `${VAR}` references: the value lives in the
//! environment, so neither the plan text nor the database ever holds it.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::event::Event;
use crate::format::url::display_url;
use crate::warning::Warning;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    /// A Slack incoming webhook: `{"text": "…"}`.
    Slack,
    /// An email-sending webhook: the run id, task, status, outputs URI and excerpt as JSON.
    Email,
    /// Any HTTP receiver: the documented envelope, signed when the target has a `secret`.
    Webhook,
}

impl TargetKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Slack => "slack",
            TargetKind::Email => "email",
            TargetKind::Webhook => "webhook",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "slack" => Some(TargetKind::Slack),
            "email" => Some(TargetKind::Email),
            "webhook" => Some(TargetKind::Webhook),
            _ => None,
        }
    }

    /// The environment variable that holds this kind's URL when the plan names none.
    pub fn default_url_var(self) -> Option<&'static str> {
        match self {
            TargetKind::Slack => Some("SLACK_WEBHOOK"),
            TargetKind::Email => Some("EMAIL_WEBHOOK"),
            TargetKind::Webhook => None,
        }
    }
}

impl fmt::Display for TargetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One target as saved in `agents_runs.notify`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: TargetKind,
    /// The variable holding the URL, written `${NAME}`.
    pub url: String,
    /// The variable holding the HMAC secret (generic webhooks only), written `${NAME}`.
    #[serde(default)]
    pub secret: Option<String>,
    pub on: Vec<Event>,
}

/// The default subscription: only what waits on a person.
pub const DEFAULT_EVENTS: [Event; 1] = [Event::AwaitingApproval];

/// `${NAME}` → `NAME`; anything else is not a reference.
pub fn reference_name(s: &str) -> Option<&str> {
    let name = s.strip_prefix("${")?.strip_suffix('}')?;
    let mut chars = name.chars();
    let ok = matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric());
    ok.then_some(name)
}

/// A target with its URL and secret read from the environment: only ever in memory.
#[derive(Clone)]
pub struct Endpoint {
    pub target: Target,
    pub url: String,
    pub secret: Option<String>,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Endpoint({} → {})",
            self.target.name,
            display_url(&self.url)
        )
    }
}

impl Target {
    pub fn wants(&self, event: Event) -> bool {
        self.on.contains(&event)
    }

    pub fn url_var(&self) -> &str {
        reference_name(&self.url).unwrap_or(&self.url)
    }

    pub fn secret_var(&self) -> Option<&str> {
        self.secret
            .as_deref()
            .map(|s| reference_name(s).unwrap_or(s))
    }

    /// Reads the URL (and secret) from `env`; the error names the variable that is missing.
    pub fn resolve(&self, env: &HashMap<String, String>) -> Result<Endpoint, String> {
        let get = |var: &str| env.get(var).map(|v| v.trim()).filter(|v| !v.is_empty());
        let url = get(self.url_var()).ok_or_else(|| self.url_var().to_owned())?;
        let secret = match self.secret_var() {
            Some(var) => Some(get(var).ok_or_else(|| var.to_owned())?.to_owned()),
            None => None,
        };
        Ok(Endpoint {
            target: self.clone(),
            url: url.to_owned(),
            secret,
        })
    }
}

/// `targets` plus `slack` and `email` from `SLACK_WEBHOOK` / `EMAIL_WEBHOOK` when those are
/// set and `targets` has no target of that name: either source alone is enough.
pub fn with_env_defaults(targets: &[Target], env: &HashMap<String, String>) -> Vec<Target> {
    let mut all: Vec<Target> = targets.to_vec();
    for kind in [TargetKind::Slack, TargetKind::Email] {
        let Some(var) = kind.default_url_var() else {
            continue;
        };
        let set = env.get(var).is_some_and(|v| !v.trim().is_empty());
        if set && !all.iter().any(|t| t.name == kind.as_str()) {
            all.push(Target {
                name: kind.as_str().to_owned(),
                kind,
                url: format!("${{{var}}}"),
                secret: None,
                on: DEFAULT_EVENTS.to_vec(),
            });
        }
    }
    all
}

/// The targets of a run about to start: [`with_env_defaults`], less any target whose
/// variable is unset, which is left out with a warning (it could never be delivered).
pub fn effective(plan: &[Target], env: &HashMap<String, String>) -> (Vec<Target>, Vec<Warning>) {
    let mut targets = with_env_defaults(plan, env);
    let mut warnings = Vec::new();
    targets.retain(|t| match t.resolve(env) {
        Ok(_) => true,
        Err(var) => {
            warnings.push(Warning::TargetOff {
                target: t.name.clone(),
                var: var.to_string(),
            });
            false
        }
    });
    (targets, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn environment_alone_is_enough_and_unset_targets_are_dropped() {
        let (t, w) = effective(&[], &env(&[("SLACK_WEBHOOK", "https://h/x")]));
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].name, "slack");
        assert_eq!(t[0].url, "${SLACK_WEBHOOK}");
        assert_eq!(t[0].on, [Event::AwaitingApproval]);
        assert!(w.is_empty());

        let ops = Target {
            name: "ops".into(),
            kind: TargetKind::Webhook,
            url: "${OPS_URL}".into(),
            secret: Some("${OPS_SECRET}".into()),
            on: vec![Event::Failed],
        };
        let (t, w) = effective(std::slice::from_ref(&ops), &env(&[("OPS_URL", "http://h")]));
        assert!(t.is_empty());
        assert!(
            w[0].to_string().contains("`OPS_SECRET` is not set"),
            "{w:?}"
        );
        let (t, _) = effective(
            &[ops],
            &env(&[("OPS_URL", "http://h"), ("OPS_SECRET", "s")]),
        );
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn references_are_plain_variable_names() {
        assert_eq!(reference_name("${SLACK_WEBHOOK}"), Some("SLACK_WEBHOOK"));
        for bad in ["https://x", "${A:-x}", "${1A}", "$A", "${A}x"] {
            assert_eq!(reference_name(bad), None, "{bad}");
        }
    }
}

//! The plan file exactly as written: serde types with a location on every value we may need
//! to complain about later. Nothing outside `load` sees these.

use indexmap::IndexMap;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::{Approval, When};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPlan {
    pub name: Spanned<String>,
    pub run_id: Option<Spanned<String>>,
    #[serde(default)]
    pub env: IndexMap<String, Spanned<String>>,
    #[serde(default)]
    pub secrets: Vec<Spanned<String>>,
    /// At most this many tasks at once (default 1).
    pub concurrency: Option<Spanned<u32>>,
    /// Defaults for every task.
    pub timeout: Option<Spanned<String>>,
    pub kill_grace: Option<Spanned<String>>,
    /// Default for every gated task.
    pub approval_timeout: Option<Spanned<String>>,
    /// Notification targets by name (`slack`, `email`, or any name with `type`).
    #[serde(default)]
    pub notify: IndexMap<String, Spanned<Option<RawTarget>>>,
    pub tasks: Spanned<Vec<Spanned<RawTask>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTarget {
    #[serde(rename = "type")]
    pub kind: Option<Spanned<String>>,
    pub url: Option<Spanned<String>>,
    pub secret: Option<Spanned<String>>,
    pub on: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTask {
    pub task: Spanned<String>,
    pub run: Option<Spanned<Vec<String>>>,
    pub shell: Option<Spanned<String>>,
    #[serde(default)]
    pub env: IndexMap<String, Spanned<String>>,
    pub cwd: Option<Spanned<String>>,
    pub inputs: Option<serde_json::Value>,
    pub approval: Option<Spanned<Approval>>,
    pub outputs_uri: Option<Spanned<String>>,
    #[serde(default)]
    pub depends_on: Vec<Spanned<String>>,
    pub when: Option<Spanned<When>>,
    pub retries: Option<Spanned<u32>>,
    pub retry_backoff: Option<Spanned<String>>,
    pub timeout: Option<Spanned<String>>,
    pub kill_grace: Option<Spanned<String>>,
    pub approval_timeout: Option<Spanned<String>>,
}

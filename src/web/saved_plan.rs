//! The plan saved with a run (`agents_runs.plan_text`, the text `orch run` read, redacted),
//! parsed with the plan module to show what depends on what. Parsed only: nothing of it is
//! run or resolved here. A page that cannot read it says so on the row and goes on.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::error::Error;
use crate::plan::Plan;
use crate::store::agents_run;

/// The run's plan, or the sentence that says why it cannot be read.
pub fn read(run_id: &str, record: Option<&agents_run::Model>) -> Result<Plan, String> {
    let record = record.ok_or_else(|| {
        Error::NoSavedPlan {
            run_id: run_id.to_owned(),
        }
        .to_string()
    })?;
    // Located as `orch resume` locates it: the saved text, not any file of today.
    let origin = PathBuf::from(format!("(plan saved with run {run_id})"));
    crate::plan::parse(&origin, record.plan_text.clone()).map_err(|e| e.to_string())
}

/// Plans read once per text: the inbox's gates come from runs of a few plans, and the runs of
/// one plan mostly saved the same text. Keyed by the text itself, not the stored SHA-256, which
/// a row written by another tool need not keep true. A text that does not parse is kept per
/// run, since its message names the run.
#[derive(Default)]
pub struct Plans {
    by_text: HashMap<String, Plan>,
    failed: HashMap<String, String>,
}

impl Plans {
    pub fn get(&mut self, run_id: &str, record: Option<&agents_run::Model>) -> Result<&Plan, &str> {
        let text = record.map(|r| r.plan_text.as_str());
        let known = text.is_some_and(|t| self.by_text.contains_key(t));
        if !known && !self.failed.contains_key(run_id) {
            match read(run_id, record) {
                Ok(plan) => {
                    self.by_text.insert(plan.source.text.clone(), plan);
                }
                Err(why) => {
                    self.failed.insert(run_id.to_owned(), why);
                }
            }
        }
        if let Some(why) = self.failed.get(run_id) {
            return Err(why);
        }
        // Present: parsed above or before (a run without a record always fails to read).
        text.and_then(|t| self.by_text.get(t)).ok_or("")
    }
}

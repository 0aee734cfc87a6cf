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

/// Plans read once per run: the inbox's gates often share a run.
#[derive(Default)]
pub struct Plans {
    by_run: HashMap<String, Result<Plan, String>>,
}

impl Plans {
    pub fn get(
        &mut self,
        run_id: &str,
        record: Option<&agents_run::Model>,
    ) -> &Result<Plan, String> {
        self.by_run
            .entry(run_id.to_owned())
            .or_insert_with(|| read(run_id, record))
    }
}

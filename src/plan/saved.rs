//! Plans saved with runs (`agents_runs.plan_text`), read back as `orch resume` reads them
//! (located as `(plan saved with run ID)`), each text parsed once however many gates of its
//! runs ask: the sweeper and the metrics look at every waiting gate's plan.

use std::collections::HashMap;
use std::path::PathBuf;

use super::Plan;

/// Run `run_id`'s plan, parsed again from its saved `text`; its errors point at the run.
pub fn parse_saved(run_id: &str, text: &str) -> crate::error::Result<Plan> {
    let origin = PathBuf::from(format!("(plan saved with run {run_id})"));
    super::parse(&origin, text.to_owned())
}

/// Saved plans parsed once per text; one that does not parse keeps its message.
#[derive(Default)]
pub struct SavedPlans {
    by_text: HashMap<String, Result<Plan, String>>,
}

impl SavedPlans {
    /// Run `run_id`'s plan from its saved `text`. The first run to ask names the text's error.
    pub fn get(&mut self, run_id: &str, text: &str) -> Result<&Plan, &str> {
        if !self.by_text.contains_key(text) {
            let origin = PathBuf::from(format!("(plan saved with run {run_id})"));
            let parsed = super::parse(&origin, text.to_owned()).map_err(|e| e.to_string());
            self.by_text.insert(text.to_owned(), parsed);
        }
        match self.by_text.get(text) {
            Some(Ok(plan)) => Ok(plan),
            Some(Err(why)) => Err(why),
            None => Err(""),
        }
    }
}

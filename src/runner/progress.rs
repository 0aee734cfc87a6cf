//! How the runner tells the world what it is doing, without knowing who listens: a terminal
//! with spinners, plain CI log lines, or a test.

use crate::store::agents_task;
use crate::warning::Warning;

pub trait Reporter: Send + Sync {
    fn run_started(&self, run_id: &str, tasks: usize);
    fn task_started(&self, row: &agents_task::Model);
    fn task_finished(&self, row: &agents_task::Model);
    /// Something went wrong beside the tasks (a notification could not be recorded).
    fn warn(&self, warning: Warning) {
        crate::warning::say(warning);
    }
}

/// Reports nothing (tests, `--json`).
pub struct Silent;

impl Reporter for Silent {
    fn run_started(&self, _: &str, _: usize) {}
    fn task_started(&self, _: &agents_task::Model) {}
    fn task_finished(&self, _: &agents_task::Model) {}
}

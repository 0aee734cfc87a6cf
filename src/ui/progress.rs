//! Progress of a run as it happens: a spinner per running task on a terminal, plain
//! timestamped lines elsewhere (CI logs). Both go to stderr; the summary goes to stdout.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::format::time::duration_ms;
use crate::runner::progress::Reporter;
use crate::store::{TaskStatus, agents_task};
use crate::ui::Output;
use crate::warning::Warning;

/// How a drive shows its progress: spinners when a person watches the terminal, plain
/// lines otherwise. The one place that chooses.
pub fn reporter(out: Output) -> Box<dyn Reporter> {
    if out.tty {
        Box::new(Spinners::new())
    } else {
        Box::new(Plain)
    }
}

fn finished_line(row: &agents_task::Model) -> String {
    let mut line = format!(
        "{} {} in {}",
        row.task,
        row.status,
        duration_ms(row.duration_ms)
    );
    if let Some(uri) = &row.outputs_uri {
        line.push_str(&format!(" → {uri}"));
    }
    if row.status == TaskStatus::Skipped
        && let Some(reason) = &row.log_excerpt
    {
        line.push_str(&format!(" ({reason})"));
    }
    if row.status == TaskStatus::AwaitingApproval {
        line.push_str(&format!(" (approve with `orch approve {}`)", row.id));
    }
    line
}

/// Plain lines: `2026-11-25T02:30:00Z start seo.validate (id 1)`.
pub struct Plain;

impl Plain {
    fn line(&self, text: &str) {
        let stamp = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ");
        // One write per line (stderr is unbuffered: `writeln!` would make four), and best
        // effort: a closed stderr must not stop the run.
        let line = format!("{stamp} {text}\n");
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }
}

impl Reporter for Plain {
    fn run_started(&self, run_id: &str, tasks: usize) {
        self.line(&format!("run {run_id}: {tasks} task(s)"));
    }

    fn task_started(&self, row: &agents_task::Model) {
        self.line(&format!("start {} (id {})", row.task, row.id));
    }

    fn task_finished(&self, row: &agents_task::Model) {
        self.line(&format!("done  {}", finished_line(row)));
    }
}

/// Spinners on a terminal.
pub struct Spinners {
    multi: MultiProgress,
    bars: Mutex<HashMap<i64, ProgressBar>>,
}

impl Spinners {
    pub fn new() -> Self {
        Spinners {
            multi: MultiProgress::new(),
            bars: Mutex::new(HashMap::new()),
        }
    }
}

impl Default for Spinners {
    fn default() -> Self {
        Self::new()
    }
}

impl Reporter for Spinners {
    fn run_started(&self, run_id: &str, tasks: usize) {
        let _ = self.multi.println(format!("run {run_id}: {tasks} task(s)"));
    }

    fn task_started(&self, row: &agents_task::Model) {
        let bar = self.multi.add(ProgressBar::new_spinner());
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} {elapsed}") {
            bar.set_style(style);
        }
        bar.set_message(format!("{} (id {})", row.task, row.id));
        bar.enable_steady_tick(Duration::from_millis(100));
        if let Ok(mut bars) = self.bars.lock() {
            bars.insert(row.id, bar);
        }
    }

    fn task_finished(&self, row: &agents_task::Model) {
        let bar = self.bars.lock().ok().and_then(|mut b| b.remove(&row.id));
        let mark = match row.status {
            TaskStatus::Succeeded => "✔",
            TaskStatus::AwaitingApproval => "⏸",
            TaskStatus::Skipped => "↷",
            _ => "✘",
        };
        let text = format!("{mark} {}", finished_line(row));
        match bar {
            Some(bar) => {
                bar.set_style(
                    ProgressStyle::default_spinner()
                        .template("{msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.finish_with_message(text);
            }
            None => {
                let _ = self.multi.println(text);
            }
        }
    }

    fn warn(&self, warning: Warning) {
        // Above the spinners, so they are not torn.
        let _ = self.multi.println(warning.line());
    }
}

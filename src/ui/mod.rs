//! The only code that knows about terminals: tables on a TTY, plain aligned text elsewhere,
//! JSON on request. Commands build data; this module decides how it looks.

pub mod github;
pub mod identity;
pub mod progress;
pub mod summary;
pub mod table;
pub mod workers;

use std::io::{IsTerminal, Write};

use crate::error::Result;

/// Where a command writes its result, and whether a person is watching.
#[derive(Clone, Copy, Debug)]
pub struct Output {
    pub tty: bool,
}

impl Output {
    pub fn stdout() -> Self {
        Output {
            tty: std::io::stdout().is_terminal(),
        }
    }

    /// Writes `text` (a newline is added when missing). A closed pipe surfaces as an error
    /// that `main` turns into a quiet exit 0.
    pub fn print(&self, text: &str) -> Result<()> {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        if !text.ends_with('\n') {
            out.write_all(b"\n")?;
        }
        out.flush()?;
        Ok(())
    }

    pub fn json(&self, value: &serde_json::Value) -> Result<()> {
        let text = serde_json::to_string_pretty(value).unwrap_or_default();
        self.print(&text)
    }
}

//! A task's log file, created when the task starts, before its process: a task that prints
//! nothing leaves an empty file, so a file that is missing for a task that started means the
//! log was deleted or moved (`orch logs` says so). A write that fails stops the log, not the
//! task: the process is still supervised to its end and the failure is reported with it.

use std::path::{Path, PathBuf};

use tokio::io::{AsyncWriteExt, BufWriter};

/// Large enough that a chatty task costs one write to the file per 256 KiB, not per read.
const BUFFER: usize = 256 * 1024;

pub struct LogFile {
    path: PathBuf,
    file: BufWriter<tokio::fs::File>,
    error: Option<String>,
}

impl LogFile {
    /// Makes the folder and the file (appending to what an earlier attempt wrote), so that a
    /// log that cannot exist stops the task before it starts.
    pub fn prepare(path: &Path) -> std::io::Result<Self> {
        if let Some(dir) = path.parent() {
            // A stat when the folder exists (every task after the first): cheap enough
            // to do here rather than through the blocking pool, like the open below.
            std::fs::create_dir_all(dir)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(LogFile {
            path: path.to_owned(),
            file: BufWriter::with_capacity(BUFFER, tokio::fs::File::from_std(file)),
            error: None,
        })
    }

    pub async fn write_all(&mut self, bytes: &[u8]) {
        if self.error.is_some() || bytes.is_empty() {
            return;
        }
        if let Err(e) = self.file.write_all(bytes).await {
            self.error = Some(format!("log `{}` not written: {e}", self.path.display()));
        }
    }

    /// Whether output waits in the buffer (and a write failure has not stopped the log).
    pub fn buffered(&self) -> bool {
        self.error.is_none() && !self.file.buffer().is_empty()
    }

    /// Writes out what is buffered, for whoever reads the file while the task runs (`orch
    /// logs`, a task page following it); a failure stops the log as a failed write does.
    pub async fn flush(&mut self) {
        if self.error.is_none()
            && let Err(e) = self.file.flush().await
        {
            self.error = Some(format!("log `{}` not written: {e}", self.path.display()));
        }
    }

    /// Flushes what is buffered; returns the first failure, if any.
    pub async fn finish(&mut self) -> Option<String> {
        self.flush().await;
        self.error.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn nothing_printed_leaves_an_empty_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run").join("quiet.log");
        let mut log = LogFile::prepare(&path).unwrap();
        log.write_all(b"").await;
        assert_eq!(log.finish().await, None);
        assert_eq!(std::fs::read(&path).unwrap(), b"");
    }

    #[tokio::test]
    async fn the_first_byte_creates_it_and_appends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run").join("chatty.log");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "=== attempt 2 of 2 ===\n").unwrap();
        let mut log = LogFile::prepare(&path).unwrap();
        log.write_all(b"hello\n").await;
        assert_eq!(log.finish().await, None);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "=== attempt 2 of 2 ===\nhello\n"
        );
    }

    #[tokio::test]
    async fn a_flush_shows_what_was_written_so_far() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run").join("slow.log");
        let mut log = LogFile::prepare(&path).unwrap();
        log.write_all(b"first line\n").await;
        assert!(log.buffered());
        log.flush().await;
        assert!(!log.buffered());
        assert_eq!(std::fs::read(&path).unwrap(), b"first line\n");
        log.write_all(b"second line\n").await;
        assert_eq!(log.finish().await, None);
        assert_eq!(std::fs::read(&path).unwrap(), b"first line\nsecond line\n");
    }

    #[tokio::test]
    async fn a_file_that_cannot_be_made_stops_the_start() {
        let dir = tempfile::tempdir().unwrap();
        // A folder where the file should be: opening it for writing fails.
        let path = dir.path().join("run").join("blocked.log");
        std::fs::create_dir_all(&path).unwrap();
        assert!(LogFile::prepare(&path).is_err());
    }
}

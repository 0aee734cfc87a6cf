//! A task's log file, created when the task first prints: a task that prints nothing leaves
//! no file (and costs no file creation, which on ext4 is most of orch's own time for a
//! task as short as `/usr/bin/true`). A write that fails stops the log, not the task: the
//! process is still supervised to its end and the failure is reported with it.

use std::path::{Path, PathBuf};

use tokio::io::{AsyncWriteExt, BufWriter};

/// Large enough that a chatty task costs one write to the file per 256 KiB, not per read.
const BUFFER: usize = 256 * 1024;

pub struct LogFile {
    path: PathBuf,
    file: Option<BufWriter<tokio::fs::File>>,
    error: Option<String>,
}

impl LogFile {
    /// Checks that the folder can be made, so that a log that cannot exist stops the task
    /// before it starts; the file itself waits for the first byte.
    pub fn prepare(path: &Path) -> std::io::Result<Self> {
        if let Some(dir) = path.parent() {
            // A stat when the folder exists (every task after the first): cheap enough
            // to do here rather than through the blocking pool.
            std::fs::create_dir_all(dir)?;
        }
        Ok(LogFile {
            path: path.to_owned(),
            file: None,
            error: None,
        })
    }

    pub async fn write_all(&mut self, bytes: &[u8]) {
        if self.error.is_some() || bytes.is_empty() {
            return;
        }
        if let Err(e) = self.try_write(bytes).await {
            self.error = Some(format!("log `{}` not written: {e}", self.path.display()));
        }
    }

    async fn try_write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let file = match &mut self.file {
            Some(f) => f,
            None => {
                let f = tokio::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)
                    .await?;
                self.file.insert(BufWriter::with_capacity(BUFFER, f))
            }
        };
        file.write_all(bytes).await
    }

    /// Flushes what is buffered; returns the first failure, if any.
    pub async fn finish(&mut self) -> Option<String> {
        if let (None, Some(f)) = (&self.error, &mut self.file)
            && let Err(e) = f.flush().await
        {
            self.error = Some(format!("log `{}` not written: {e}", self.path.display()));
        }
        self.error.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn nothing_printed_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run").join("quiet.log");
        let mut log = LogFile::prepare(&path).unwrap();
        log.write_all(b"").await;
        assert_eq!(log.finish().await, None);
        assert!(path.parent().unwrap().is_dir());
        assert!(!path.exists());
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
    async fn a_failed_write_is_reported_not_raised() {
        let dir = tempfile::tempdir().unwrap();
        // A folder where the file should be: opening it for writing fails.
        let path = dir.path().join("run").join("blocked.log");
        std::fs::create_dir_all(&path).unwrap();
        let mut log = LogFile::prepare(&path).unwrap();
        log.write_all(b"hello\n").await;
        log.write_all(b"more\n").await;
        let error = log.finish().await.expect("an error");
        assert!(error.contains("blocked.log` not written"), "{error}");
    }
}

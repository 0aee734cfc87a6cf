//! Reading a byte range of a task's log file: never the whole file, so a log of gigabytes
//! costs one bounded read. Logs are redacted as they are written, so what is read here is
//! what `orch logs` prints.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// How much of a log one page shows.
pub const CHUNK: u64 = 64 * 1024;

pub struct Slice {
    pub from: u64,
    pub to: u64,
    pub len: u64,
    pub text: String,
}

/// `CHUNK` bytes from `from`, or the tail when `from` is `None`; `None` when no file.
pub fn read(path: &Path, from: Option<u64>) -> Option<Slice> {
    let mut file = std::fs::File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    let from = from.unwrap_or(len.saturating_sub(CHUNK)).min(len);
    let to = (from + CHUNK).min(len);
    file.seek(SeekFrom::Start(from)).ok()?;
    let mut buf = Vec::new();
    file.take(to - from).read_to_end(&mut buf).ok()?;
    Some(Slice {
        from,
        to,
        len,
        text: String::from_utf8_lossy(&buf).into_owned(),
    })
}

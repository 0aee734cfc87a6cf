//! What a task's output leaves behind while it runs: the log file, the excerpt, the outputs
//! URI and the last stdout line (a JSON result line, perhaps). Pieces from both pipes arrive
//! here in order; each line is looked at once, without copying more of it than is kept.

use regex::Regex;

use super::{End, Outcome};
use crate::runner::capture::{Piece, Stream};
use crate::runner::excerpt::{Excerpt, LINE_MAX};
use crate::runner::log_file::LogFile;
use crate::runner::outputs::{RESULT_LINE_MAX, UriFinder, parse_result_line};

/// The open (unfinished) line of one stream: its first bytes and its length so far.
#[derive(Default)]
struct OpenLine {
    prefix: Vec<u8>,
    len: usize,
    started: bool,
}

impl OpenLine {
    /// Appends, keeping at most `cap` bytes of the line.
    fn append(&mut self, bytes: &[u8], cap: usize) {
        let room = cap.saturating_sub(self.prefix.len());
        self.prefix
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
        self.len += bytes.len();
        self.started = true;
    }
}

/// Everything kept from one process's output; [`Collector::into_outcome`] hands it over.
pub(super) struct Collector {
    log: LogFile,
    excerpt: Excerpt,
    uri: UriFinder,
    stdout: OpenLine,
    stderr: OpenLine,
    /// The last non-blank stdout line, when short enough to be a result line.
    last_stdout: Option<Vec<u8>>,
    log_error: Option<String>,
    /// Where the lines of the current piece end (kept to reuse its allocation).
    line_ends: Vec<usize>,
}

impl Collector {
    pub(super) fn new(log: LogFile, pattern: Option<Regex>) -> Self {
        Collector {
            log,
            excerpt: Excerpt::default(),
            uri: UriFinder::new(pattern),
            stdout: OpenLine::default(),
            stderr: OpenLine::default(),
            last_stdout: None,
            log_error: None,
            line_ends: Vec::new(),
        }
    }

    pub(super) async fn take(&mut self, piece: Piece) -> std::io::Result<()> {
        self.log.write_all(&piece.bytes).await;
        // Valid UTF-8 (nearly all output) is read in place; only invalid bytes cost a copy.
        match std::str::from_utf8(&piece.bytes) {
            Ok(text) => self.uri.feed(text),
            Err(_) => self.uri.feed(&String::from_utf8_lossy(&piece.bytes)),
        }
        // Stdout keeps enough of each line to read a JSON result line.
        let cap = match piece.stream {
            Stream::Stdout => RESULT_LINE_MAX + 1,
            Stream::Stderr => LINE_MAX,
        };
        let bytes = piece.bytes.as_slice();
        let stream = piece.stream;
        let mut ends = std::mem::take(&mut self.line_ends);
        ends.clear();
        ends.extend(memchr::memchr_iter(b'\n', bytes));
        let mut start = 0;
        let mut whole = ends.as_slice();
        // The line left open by the previous piece ends at the first newline.
        if let Some((&first, later)) = ends.split_first()
            && self.open(stream).started
        {
            self.open(stream).append(&bytes[..first], cap);
            self.end_line(stream);
            start = first + 1;
            whole = later;
        }
        // The lines wholly inside this piece, without copying each one: the excerpt copies
        // only those it can still show, and only the last non-blank stdout line is kept.
        let line = |k: usize| {
            let from = if k == 0 { start } else { whole[k - 1] + 1 };
            &bytes[from..whole[k]]
        };
        self.excerpt.push_all(whole.len(), line);
        if stream == Stream::Stdout
            && let Some(k) = (0..whole.len())
                .rev()
                .find(|&k| !line(k).trim_ascii().is_empty())
        {
            let text = line(k);
            remember_last_stdout(&mut self.last_stdout, text, text.len());
        }
        let rest = &bytes[whole.last().map_or(start, |&nl| nl + 1)..];
        if !rest.is_empty() {
            self.open(stream).append(rest, cap);
        }
        self.line_ends = ends;
        // The output ended without a final newline: its last line ends here.
        if piece.line_end && self.open(piece.stream).started {
            self.end_line(piece.stream);
        }
        Ok(())
    }

    fn open(&mut self, stream: Stream) -> &mut OpenLine {
        match stream {
            Stream::Stdout => &mut self.stdout,
            Stream::Stderr => &mut self.stderr,
        }
    }

    /// Ends the open line of `stream`. Its buffer is kept for the next line: a task printing
    /// millions of lines costs no allocation per line.
    fn end_line(&mut self, stream: Stream) {
        let line = match stream {
            Stream::Stdout => &mut self.stdout,
            Stream::Stderr => &mut self.stderr,
        };
        self.excerpt.push(&line.prefix, line.len);
        if stream == Stream::Stdout && !line.prefix.trim_ascii().is_empty() {
            remember_last_stdout(&mut self.last_stdout, &line.prefix, line.len);
        }
        line.prefix.clear();
        line.len = 0;
        line.started = false;
    }

    /// Whether the log holds output not yet written to its file.
    pub(super) fn buffered(&self) -> bool {
        self.log.buffered()
    }

    /// Writes the log's buffer out (the process went quiet: see `collect`).
    pub(super) async fn flush(&mut self) {
        self.log.flush().await;
    }

    pub(super) async fn finish(&mut self) -> std::io::Result<()> {
        self.log_error = self.log.finish().await;
        Ok(())
    }

    /// The outcome when no process ran (cancelled first, or it could not start): nothing was
    /// collected, and the log is finished the same way as after a process.
    pub(super) async fn without_process(mut self, end: End) -> std::io::Result<Outcome> {
        self.finish().await?;
        Ok(Outcome {
            end,
            ..self.into_outcome()
        })
    }

    pub(super) fn into_outcome(self) -> Outcome {
        Outcome {
            end: End::Exited(0),
            excerpt: self.excerpt,
            outputs_uri: self.uri.found(),
            result_line: self.last_stdout.as_deref().and_then(parse_result_line),
            log_error: self.log_error,
        }
    }
}

/// Makes `line` (`len` bytes long in the output) the candidate JSON result line. A line too
/// long to be one clears the candidate: only the very last non-blank line counts. The buffer
/// is reused, so this costs no allocation per line.
fn remember_last_stdout(last: &mut Option<Vec<u8>>, line: &[u8], len: usize) {
    if len <= RESULT_LINE_MAX {
        let last = last.get_or_insert_with(Vec::new);
        last.clear();
        last.extend_from_slice(line);
    } else {
        *last = None;
    }
}

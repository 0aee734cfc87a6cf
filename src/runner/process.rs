//! Running one task's process: in its own process group, stdout and stderr read through two
//! pipes and merged line by line, in arrival order, into its log file, while the excerpt,
//! the outputs URI and a JSON result line are collected on the way. Memory stays bounded
//! whatever the task prints.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use regex::Regex;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::{mpsc, watch};

use super::capture::{Piece, SLICE, Splitter, Stream};
use super::excerpt::{Excerpt, LINE_MAX};
use super::log_file::LogFile;
use super::outputs::{RESULT_LINE_MAX, ResultLine, UriFinder, parse_result_line};
use crate::plan::Timeout;
use crate::secrets::Redactor;

/// After the main process exits, how long orch keeps reading what its children still write.
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(2);

/// What to run.
#[derive(Clone, Debug)]
pub struct Launch {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: Option<PathBuf>,
    pub log_path: PathBuf,
    pub outputs_pattern: Option<Regex>,
    pub timeout: Option<Timeout>,
    /// Between SIGTERM (timeout or cancellation) and SIGKILL.
    pub kill_grace: Duration,
}

/// How the process ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum End {
    Exited(i32),
    Signaled(i32),
    /// It never started; the reason says why (`program not found: foo`).
    NotStarted(String),
    /// orch was asked to stop (SIGINT/SIGTERM) and passed the signal on.
    Cancelled(i32),
    /// The task ran past its `timeout` (as written in the plan).
    TimedOut(String),
}

impl End {
    /// The exit code to record; none for a signal, a timeout or a failed start.
    pub fn exit_code(&self) -> Option<i32> {
        match self {
            End::Exited(code) => Some(*code),
            _ => None,
        }
    }

    /// The excerpt's last line for anything but a clean exit.
    pub fn reason(&self) -> Option<String> {
        match self {
            End::Exited(0) => None,
            End::Exited(code) => Some(format!("exit status {code}")),
            End::Signaled(sig) => Some(format!("killed by signal {sig}")),
            End::NotStarted(why) => Some(why.clone()),
            End::TimedOut(after) => Some(format!("timed out after {after}")),
            End::Cancelled(sig) => Some(format!(
                "cancelled: orch received {}",
                Signal::try_from(*sig).map_or_else(|_| sig.to_string(), |s| s.as_str().to_owned())
            )),
        }
    }
}

#[derive(Debug)]
pub struct Outcome {
    pub end: End,
    pub excerpt: Excerpt,
    pub outputs_uri: Option<String>,
    pub result_line: Option<ResultLine>,
    /// Why the log file is incomplete, when it is.
    pub log_error: Option<String>,
}

/// Runs `launch` to the end (or until `cancel` carries a signal number).
pub async fn run(
    launch: &Launch,
    redactor: Arc<Redactor>,
    cancel: &mut watch::Receiver<Option<i32>>,
) -> std::io::Result<Outcome> {
    let log = LogFile::prepare(&launch.log_path)?;
    let mut collector = Collector::new(log, launch.outputs_pattern.clone());

    // A signal that arrived since the runner last looked: do not start anything.
    let pending_cancel = *cancel.borrow();
    if let Some(sig) = pending_cancel {
        return collector.without_process(End::Cancelled(sig)).await;
    }
    let mut child = match spawn(launch) {
        Ok(child) => child,
        Err(reason) => return collector.without_process(End::NotStarted(reason)).await,
    };
    let pgid = child.id().map(|id| Pid::from_raw(id as i32));
    let (readers, pieces) = read_output(&mut child, &redactor);
    let (end, collected) = tokio::join!(
        supervise(&mut child, pgid, launch, cancel, readers),
        collect(pieces, &mut collector),
    );
    collected?;
    Ok(Outcome {
        end,
        ..collector.into_outcome()
    })
}

/// One reader task per pipe, both sending into one channel: the log gets the two streams
/// merged in the order their lines arrive.
fn read_output(
    child: &mut tokio::process::Child,
    redactor: &Arc<Redactor>,
) -> (Readers, mpsc::Receiver<Piece>) {
    let (tx, rx) = mpsc::channel::<Piece>(64);
    let mut readers = Vec::new();
    if let Some(out) = child.stdout.take() {
        readers.push(tokio::spawn(read_pipe(
            out,
            Stream::Stdout,
            redactor.clone(),
            tx.clone(),
        )));
    }
    if let Some(err) = child.stderr.take() {
        readers.push(tokio::spawn(read_pipe(
            err,
            Stream::Stderr,
            redactor.clone(),
            tx.clone(),
        )));
    }
    // The channel closes when both readers are done, which ends `collect`.
    drop(tx);
    (futures_join(readers), rx)
}

/// Everything the readers send, into the collector, until both pipes are closed.
async fn collect(
    mut pieces: mpsc::Receiver<Piece>,
    collector: &mut Collector,
) -> std::io::Result<()> {
    while let Some(piece) = pieces.recv().await {
        collector.take(piece).await?;
    }
    collector.finish().await
}

/// Waits for the process to exit, be cancelled or time out, then for its output to drain.
async fn supervise(
    child: &mut tokio::process::Child,
    pgid: Option<Pid>,
    launch: &Launch,
    cancel: &mut watch::Receiver<Option<i32>>,
    readers: Readers,
) -> End {
    let end = tokio::select! {
        // A process that already ended is recorded as it ended, not as cancelled.
        biased;
        status = child.wait() => exit_end(status),
        sig = wait_cancel(cancel) => {
            stop_group(pgid, sig, launch.kill_grace, child).await;
            End::Cancelled(sig)
        }
        _ = sleep_for(launch.timeout.as_ref()) => {
            stop_group(pgid, Signal::SIGTERM as i32, launch.kill_grace, child).await;
            End::TimedOut(launch.timeout.as_ref().map(|t| t.text.clone()).unwrap_or_default())
        }
    };
    drain(readers, pgid).await;
    end
}

/// A backgrounded grandchild may hold the pipes open: read for a short while, then kill the
/// whole group and stop reading, so the run never hangs on it.
async fn drain(mut all: Readers, pgid: Option<Pid>) {
    if tokio::time::timeout(DRAIN_AFTER_EXIT, &mut all)
        .await
        .is_err()
    {
        signal_group(pgid, Signal::SIGKILL as i32);
        if tokio::time::timeout(Duration::from_millis(500), &mut all)
            .await
            .is_err()
        {
            all.abort();
        }
    }
    signal_group(pgid, Signal::SIGKILL as i32);
}

/// Sends `sig` to the group, waits `grace` for the main process, then kills the group.
async fn stop_group(
    pgid: Option<Pid>,
    sig: i32,
    grace: Duration,
    child: &mut tokio::process::Child,
) {
    signal_group(pgid, sig);
    // A stopped process (SIGTSTP, a tty read) can only act on the signal once continued.
    signal_group(pgid, Signal::SIGCONT as i32);
    if tokio::time::timeout(grace, child.wait()).await.is_err() {
        signal_group(pgid, Signal::SIGKILL as i32);
    }
    let _ = child.wait().await;
}

async fn sleep_for(timeout: Option<&Timeout>) {
    match timeout {
        Some(t) => tokio::time::sleep(t.after).await,
        None => std::future::pending().await,
    }
}

fn spawn(launch: &Launch) -> Result<tokio::process::Child, String> {
    let program = launch.argv.first().cloned().unwrap_or_default();
    if let Some(dir) = &launch.cwd
        && !dir.is_dir()
    {
        return Err(format!("working directory not found: {}", dir.display()));
    }
    let mut cmd = tokio::process::Command::new(&program);
    cmd.args(&launch.argv[1..])
        .envs(launch.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group: orch can signal the task and everything it started, and a
        // Ctrl-C meant for orch is forwarded rather than delivered twice.
        .process_group(0);
    if let Some(dir) = &launch.cwd {
        cmd.current_dir(dir);
    }
    cmd.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("program not found: {program}"),
        std::io::ErrorKind::PermissionDenied => format!("permission denied: {program}"),
        _ => format!("cannot start {program}: {e}"),
    })
}

fn exit_end(status: std::io::Result<std::process::ExitStatus>) -> End {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Ok(s) => match (s.code(), s.signal()) {
            (Some(code), _) => End::Exited(code),
            (None, Some(sig)) => End::Signaled(sig),
            (None, None) => End::Exited(-1),
        },
        Err(e) => End::NotStarted(format!("lost the process: {e}")),
    }
}

async fn wait_cancel(cancel: &mut watch::Receiver<Option<i32>>) -> i32 {
    loop {
        if let Some(sig) = *cancel.borrow_and_update() {
            return sig;
        }
        if cancel.changed().await.is_err() {
            // Nobody can cancel any more: wait forever (the other select branch wins).
            std::future::pending::<()>().await;
        }
    }
}

fn signal_group(pgid: Option<Pid>, sig: i32) {
    if let (Some(pgid), Ok(sig)) = (pgid, Signal::try_from(sig)) {
        // ESRCH (the group is gone) is the usual, happy case.
        let _ = killpg(pgid, sig);
    }
}

/// Joins reader tasks; abortable as a whole.
struct Readers(Vec<tokio::task::JoinHandle<()>>);

fn futures_join(handles: Vec<tokio::task::JoinHandle<()>>) -> Readers {
    Readers(handles)
}

impl Readers {
    fn abort(&self) {
        for h in &self.0 {
            h.abort();
        }
    }
}

impl std::future::Future for Readers {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        let mut pending = false;
        for h in &mut self.0 {
            // A finished handle is never polled again (that would panic).
            if !h.is_finished() && std::pin::Pin::new(h).poll(cx).is_pending() {
                pending = true;
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    }
}

async fn read_pipe(
    mut pipe: impl AsyncRead + Unpin,
    stream: Stream,
    redactor: Arc<Redactor>,
    tx: mpsc::Sender<Piece>,
) {
    let mut splitter = Splitter::new(stream, redactor);
    let mut buf = vec![0u8; SLICE];
    let mut pieces = Vec::new();
    loop {
        let n = match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        splitter.push(&buf[..n], &mut pieces);
        for p in pieces.drain(..) {
            if tx.send(p).await.is_err() {
                return;
            }
        }
    }
    splitter.finish(&mut pieces);
    for p in pieces.drain(..) {
        let _ = tx.send(p).await;
    }
}

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

struct Collector {
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
    fn new(log: LogFile, pattern: Option<Regex>) -> Self {
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

    async fn take(&mut self, piece: Piece) -> std::io::Result<()> {
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

    async fn finish(&mut self) -> std::io::Result<()> {
        self.log_error = self.log.finish().await;
        Ok(())
    }

    /// The outcome when no process ran (cancelled first, or it could not start): nothing was
    /// collected, and the log is finished the same way as after a process.
    async fn without_process(mut self, end: End) -> std::io::Result<Outcome> {
        self.finish().await?;
        Ok(Outcome {
            end,
            ..self.into_outcome()
        })
    }

    fn into_outcome(self) -> Outcome {
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

/// The log file of a task: `<log_dir>/<run_id>/<task>.log`.
pub fn log_path(log_dir: &Path, run_id: &str, task: &str) -> PathBuf {
    log_dir.join(run_id).join(format!("{task}.log"))
}

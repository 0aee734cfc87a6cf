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
use tokio::sync::mpsc;

use super::capture::{Piece, SLICE, Splitter, Stream};
use super::excerpt::Excerpt;
use super::log_file::LogFile;
use super::outputs::ResultLine;
use super::stop::{Stop, Stops};
use crate::plan::{Timeout, is_valid_name};
use crate::secrets::Redactor;
use collector::Collector;

mod collector;

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
    /// The drive was stopped (a signal to orch, or a user's cancel) and stopped the task.
    Cancelled(Stop),
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
            End::Cancelled(stop) => Some(stop.reason()),
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

/// Runs `launch` to the end (or until `cancel` carries a stop).
pub async fn run(
    launch: &Launch,
    redactor: Arc<Redactor>,
    cancel: &mut Stops,
) -> std::io::Result<Outcome> {
    let log = LogFile::prepare(&launch.log_path)?;
    let mut collector = Collector::new(log, launch.outputs_pattern.clone());

    // A signal that arrived since the runner last looked: do not start anything.
    let pending_cancel = cancel.borrow().clone();
    if let Some(stop) = pending_cancel {
        return collector.without_process(End::Cancelled(stop)).await;
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

/// Everything the readers send, into the collector, until both pipes are closed. Once the
/// process has been quiet for `QUIET` with output still buffered, the buffer is written out:
/// while output pours in the log is written a whole buffer at a time as before, and a slow
/// task's lines reach the file (and a task page following it) as it prints them, not when it
/// ends.
async fn collect(
    mut pieces: mpsc::Receiver<Piece>,
    collector: &mut Collector,
) -> std::io::Result<()> {
    loop {
        let piece = if collector.buffered() {
            match tokio::time::timeout(QUIET, pieces.recv()).await {
                Ok(piece) => piece,
                Err(_) => {
                    collector.flush().await;
                    continue;
                }
            }
        } else {
            pieces.recv().await
        };
        let Some(piece) = piece else { break };
        collector.take(piece).await?;
    }
    collector.finish().await
}

/// How long output may sit in the log's buffer once the process stops printing.
const QUIET: Duration = Duration::from_millis(100);

/// Waits for the process to exit, be cancelled or time out, then for its output to drain.
async fn supervise(
    child: &mut tokio::process::Child,
    pgid: Option<Pid>,
    launch: &Launch,
    cancel: &mut Stops,
    readers: Readers,
) -> End {
    let end = tokio::select! {
        // A process that already ended is recorded as it ended, not as cancelled.
        biased;
        status = child.wait() => exit_end(status),
        stop = wait_cancel(cancel) => {
            stop_group(pgid, stop.signal(), launch.kill_grace, child).await;
            End::Cancelled(stop)
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

async fn wait_cancel(cancel: &mut Stops) -> Stop {
    loop {
        if let Some(stop) = cancel.borrow_and_update().clone() {
            return stop;
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
    // Capacity, not length: `read_buf` fills spare capacity, so the 64 KiB is never zeroed.
    // Zeroing both pipes' buffers cost 130,000 instructions per task, an eighth of `orch
    // run`'s total for a quiet task (docs/PERFORMANCE.md, "Instructions").
    let mut buf = Vec::with_capacity(SLICE);
    let mut pieces = Vec::new();
    loop {
        buf.clear();
        match pipe.read_buf(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        splitter.push(&buf, &mut pieces);
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

/// Where logs go when a run recorded no `log_dir` (runs from before it was recorded, and the
/// CLI's `--log-dir` default).
pub const DEFAULT_LOG_DIR: &str = ".orch/logs";

/// A run's log folder as recorded in `agents_runs.log_dir`, or the default.
pub fn recorded_log_dir(log_dir: Option<&str>) -> PathBuf {
    PathBuf::from(log_dir.unwrap_or(DEFAULT_LOG_DIR))
}

/// A recorded task's log file, found the same way by `orch logs`, the pages and resume.
/// The row may come from another tool (the API checks names, a direct INSERT does not): a
/// run id or task name that is not a plain file name (`..`, `/`) is refused before it is
/// joined into a path, so nothing outside the log folder is ever read for a row.
pub async fn recorded_log_path(
    db: &impl sea_orm::ConnectionTrait,
    run_id: &str,
    task: &str,
) -> crate::error::Result<PathBuf> {
    use sea_orm::EntityTrait;
    if !is_valid_name(run_id) || !is_valid_name(task) {
        return Err(crate::error::Error::UnsafeLogName {
            run_id: run_id.to_owned(),
            task: task.to_owned(),
        });
    }
    let run = crate::store::agents_run::Entity::find_by_id(run_id.to_owned())
        .one(db)
        .await
        .map_err(crate::error::Error::db)?;
    let dir = recorded_log_dir(run.as_ref().and_then(|r| r.log_dir.as_deref()));
    Ok(log_path(&dir, run_id, task))
}

/// The log file of a task: `<log_dir>/<run_id>/<task>.log`.
pub fn log_path(log_dir: &Path, run_id: &str, task: &str) -> PathBuf {
    log_dir.join(run_id).join(format!("{task}.log"))
}

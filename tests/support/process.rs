//! Real processes: `Cmd`, the builder every test drives orch with, what a finished command
//! left (`Outcome`), a command still running (`Running`), and pid helpers.
//!
//! ```ignore
//! db.orch().args(["run", plan]).env("X", "y").code(5).stderr_has("already approved");
//! let rows = db.orch().args(["tasks", "list", "--json"]).success().stdout_json();
//! ```
//!
//! A failed check names the command, the exit code expected beside the one it got, and
//! prints both streams.

use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use nix::sys::signal::Signal;

/// The orch binary this test build made.
pub fn orch_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_orch"))
}

/// A command to run: arguments and environment first, then one of `success()`, `code(n)`,
/// `output()` (no check) or `spawn()`.
#[must_use = "a command runs only when `success`, `code`, `output` or `spawn` is called"]
pub struct Cmd {
    cmd: Command,
    /// Environment set by the test itself, shown when a check fails.
    shown_env: Vec<(OsString, OsString)>,
}

impl Cmd {
    /// Any program (`sh`, …).
    pub fn new(program: impl AsRef<OsStr>) -> Cmd {
        Cmd {
            cmd: Command::new(program),
            shown_env: Vec::new(),
        }
    }

    /// The orch binary with no database, folder or environment chosen: as the caller's.
    pub fn orch() -> Cmd {
        Cmd::new(orch_bin())
    }

    /// The orch binary run in `dir` with no `DATABASE_URL`, so it uses `.orch/orch.db` there.
    pub fn orch_in(dir: &Path) -> Cmd {
        Cmd::orch().current_dir(dir).env_remove("DATABASE_URL")
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Cmd {
        self.cmd.arg(arg);
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd.args(args);
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Cmd {
        let (key, value) = (key.as_ref(), value.as_ref());
        self.cmd.env(key, value);
        self.shown_env.retain(|(k, _)| k != key);
        self.shown_env.push((key.to_owned(), value.to_owned()));
        self
    }

    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Cmd {
        self.cmd.env_remove(key.as_ref());
        self.shown_env.retain(|(k, _)| k != key.as_ref());
        self
    }

    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Cmd {
        self.cmd.current_dir(dir);
        self
    }

    /// Runs it to the end and checks that it exited 0.
    #[track_caller]
    pub fn success(self) -> Outcome {
        self.code(0)
    }

    /// Runs it to the end and checks its exit code.
    #[track_caller]
    pub fn code(self, expected: i32) -> Outcome {
        self.output().exited(expected)
    }

    /// Runs it to the end without checking how it ended.
    pub fn output(mut self) -> Outcome {
        let label = self.label();
        let output =
            blocking(|| self.cmd.output()).unwrap_or_else(|e| panic!("cannot start {label}: {e}"));
        Outcome { label, output }
    }

    /// Starts it in the background with stdout and stderr piped.
    pub fn spawn(mut self) -> Running {
        let label = self.label();
        let child = self
            .cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {label}: {e}"));
        Running { label, child }
    }

    /// The `std::process::Command` underneath, for what the builder does not cover.
    pub fn into_std(self) -> Command {
        self.cmd
    }

    /// `orch run plan.yaml (in /tmp/…, with X=y)`, for failure messages.
    fn label(&self) -> String {
        let program = Path::new(self.cmd.get_program());
        let mut label = program
            .file_name()
            .unwrap_or(program.as_os_str())
            .to_string_lossy()
            .into_owned();
        for arg in self.cmd.get_args() {
            label.push(' ');
            label.push_str(&arg.to_string_lossy());
        }
        let mut context = Vec::new();
        if let Some(dir) = self.cmd.get_current_dir() {
            context.push(format!("in {}", dir.display()));
        }
        if !self.shown_env.is_empty() {
            let env: Vec<String> = self
                .shown_env
                .iter()
                .map(|(k, v)| format!("{}={}", k.to_string_lossy(), v.to_string_lossy()))
                .collect();
            context.push(format!("with {}", env.join(" ")));
        }
        if !context.is_empty() {
            let _ = write!(label, " ({})", context.join(", "));
        }
        label
    }
}

/// What a finished command left: its exit status and both streams. The checks return it, so
/// they chain: `.code(2).stderr_has("…").stderr_lacks("panicked")`.
pub struct Outcome {
    label: String,
    pub output: Output,
}

impl Outcome {
    pub fn code(&self) -> Option<i32> {
        self.output.status.code()
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// Checks the exit code (of a command that was run with `output()` or `spawn()`).
    #[track_caller]
    pub fn exited(self, expected: i32) -> Outcome {
        if self.code() != Some(expected) {
            self.fail(&format!("expected exit code {expected}"));
        }
        self
    }

    /// Stdout as JSON (fails when it is not).
    #[track_caller]
    pub fn stdout_json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.output.stdout)
            .unwrap_or_else(|e| self.fail(&format!("stdout is not JSON ({e})")))
    }

    #[track_caller]
    pub fn stdout_is(self, expected: &str) -> Outcome {
        if self.stdout() != expected {
            self.fail(&format!("expected stdout {expected:?}"));
        }
        self
    }

    #[track_caller]
    pub fn stderr_is(self, expected: &str) -> Outcome {
        if self.stderr() != expected {
            self.fail(&format!("expected stderr {expected:?}"));
        }
        self
    }

    #[track_caller]
    pub fn stdout_has(self, needle: &str) -> Outcome {
        if !self.stdout().contains(needle) {
            self.fail(&format!("expected stdout to contain {needle:?}"));
        }
        self
    }

    #[track_caller]
    pub fn stderr_has(self, needle: &str) -> Outcome {
        if !self.stderr().contains(needle) {
            self.fail(&format!("expected stderr to contain {needle:?}"));
        }
        self
    }

    #[track_caller]
    pub fn stdout_lacks(self, needle: &str) -> Outcome {
        if self.stdout().contains(needle) {
            self.fail(&format!("expected stdout not to contain {needle:?}"));
        }
        self
    }

    #[track_caller]
    pub fn stderr_lacks(self, needle: &str) -> Outcome {
        if self.stderr().contains(needle) {
            self.fail(&format!("expected stderr not to contain {needle:?}"));
        }
        self
    }

    /// Fails the test with `what`, the command, how it ended and both streams.
    #[track_caller]
    pub fn fail(&self, what: &str) -> ! {
        panic!(
            "{what}\n  command: {}\n  exit: {} (code {:?})\n--- stdout ---\n{}\n--- stderr ---\n{}\n---",
            self.label,
            self.output.status,
            self.code(),
            self.stdout(),
            self.stderr()
        )
    }
}

/// A command running in the background (from `Cmd::spawn`).
pub struct Running {
    label: String,
    pub child: Child,
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` to the process.
    pub fn signal(&self, signal: Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid() as i32), signal).unwrap();
    }

    /// Its stdout, to read (or close) while it runs.
    pub fn take_stdout(&mut self) -> std::process::ChildStdout {
        self.child.stdout.take().unwrap()
    }

    /// Whether it has not exited yet.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// SIGKILL (no chance to clean up), and reaps it.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Waits for the end, collecting both streams; check it like any `Outcome`.
    pub fn wait(self) -> Outcome {
        let child = self.child;
        let output = blocking(|| child.wait_with_output()).unwrap();
        Outcome {
            label: self.label,
            output,
        }
    }
}

/// Runs `f`, which waits for a process, so that a multi-threaded test runtime goes on serving
/// its other tasks (receivers, servers) meanwhile.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// Checks that the process whose pid a task wrote to `pidfile` has stopped: else fails with
/// "`who` PID survived `what`".
#[track_caller]
pub fn assert_pid_in_file_gone(pidfile: &Path, who: &str, what: &str) {
    let (pid, alive) = pid_in_file_alive(pidfile);
    assert!(!alive, "{who} {pid} survived {what}");
}

/// Whether the process whose pid a task wrote to `pidfile` still runs (a zombie does not).
pub fn pid_in_file_alive(pidfile: &Path) -> (i32, bool) {
    let pid: i32 = std::fs::read_to_string(pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let alive = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.contains(") Z "))
        .unwrap_or(false);
    (pid, alive)
}

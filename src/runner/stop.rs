//! Why a drive stops before its end: a signal to the orch process, or a cancel that someone
//! asked for (`orch cancel`, the run page's Cancel), which the driver learns of at its
//! heartbeat. Either way the running tasks get a signal (SIGTERM for a cancel) and, after
//! their `kill_grace`, SIGKILL, as after a timeout; what never started is skipped.

use nix::sys::signal::Signal;
use tokio::sync::watch;

use crate::error::code;
use crate::store::cancel::{cancelled_by, skipped_cancelled, skipped_signal};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stop {
    /// SIGINT (2) or SIGTERM (15), forwarded to the running tasks.
    Signal(i32),
    /// A user asked for the run to be cancelled.
    Cancelled { by: String },
}

/// The stop, once one came; the drive and every task it runs listen to it.
pub type Stops = watch::Receiver<Option<Stop>>;

/// The sending side, shared by the signal handler and the heartbeat: the first stop wins.
pub type StopSender = std::sync::Arc<watch::Sender<Option<Stop>>>;

/// Records `stop` unless the drive is stopping already.
pub fn stop_once(tx: &StopSender, stop: Stop) {
    tx.send_if_modified(|now| {
        if now.is_some() {
            return false;
        }
        *now = Some(stop);
        true
    });
}

impl Stop {
    /// The signal the running tasks' process groups get first.
    pub fn signal(&self) -> i32 {
        match self {
            Stop::Signal(sig) => *sig,
            Stop::Cancelled { .. } => Signal::SIGTERM as i32,
        }
    }

    /// The excerpt's last line of a task stopped while it ran (recorded as `failed`).
    pub fn reason(&self) -> String {
        match self {
            Stop::Signal(sig) => format!(
                "cancelled: orch received {}",
                Signal::try_from(*sig).map_or_else(|_| sig.to_string(), |s| s.as_str().to_owned())
            ),
            Stop::Cancelled { by } => cancelled_by(by),
        }
    }

    /// The excerpt of a task that never started because of it (recorded as `skipped`).
    pub fn skip_reason(&self) -> String {
        match self {
            Stop::Signal(sig) => skipped_signal(*sig),
            Stop::Cancelled { by } => skipped_cancelled(by),
        }
    }

    /// The drive's exit code: 128 + the signal, or 7 for a cancelled run.
    pub fn exit_code(&self) -> i32 {
        match self {
            Stop::Signal(sig) => 128 + sig,
            Stop::Cancelled { .. } => code::CANCELLED,
        }
    }
}

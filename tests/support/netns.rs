//! Hosts of their own on this one machine: each a network namespace joined to this one by a
//! veth pair (`10.X.Y.1` on this side, `10.X.Y.2` on the host's), made by the test and
//! removed when dropped. A host reaches this side's addresses only through its link, so
//! taking the link down cuts it off, as a pulled cable or a partition would. Needs root and
//! `ip` (iproute2); where they are missing the tests say so, and fail when
//! `ORCH_TEST_REQUIRE_NETNS` is set (as `.ci/run` sets it).

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::support::db::hermetic;
use crate::support::process::{Cmd, orch_bin};

pub struct Host {
    pub name: String,
    veth: String,
    /// This side's address on the link: where the host reaches the database.
    pub here: String,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Whether hosts can be made here; `None` (after saying why, or panicking when they are
/// required) when not.
pub fn can_make_hosts() -> Option<()> {
    let why = if !nix::unistd::geteuid().is_root() {
        Some("network namespaces need root".to_owned())
    } else if Command::new("ip").arg("-V").output().is_err() {
        Some("`ip` (iproute2) is not installed".to_owned())
    } else {
        match Host::make() {
            Ok(_) => None,
            Err(e) => Some(format!("cannot make a network namespace: {e}")),
        }
    };
    match why {
        None => Some(()),
        Some(why) if std::env::var_os("ORCH_TEST_REQUIRE_NETNS").is_some() => {
            panic!("ORCH_TEST_REQUIRE_NETNS is set but {why}")
        }
        Some(why) => {
            eprintln!("skipped: {why}");
            None
        }
    }
}

impl Host {
    /// A new host: its names and its 10.X.Y.0/30 subnet are unique in this test process
    /// (a counter) and, by the pid, apart from another test process's.
    pub fn make() -> Result<Host, String> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let index = NEXT.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let name = format!("orch{}h{index}", pid % 100_000);
        let veth = format!("vo{}h{index}", pid % 100_000);
        let (x, y) = (200 + pid % 50, index % 250);
        let (here, there) = (format!("10.{x}.{y}.1"), format!("10.{x}.{y}.2"));
        // Left over from a test process with the same pid that was killed: start clean.
        let _ = ip(&["link", "del", &veth]);
        let _ = ip(&["netns", "del", &name]);
        let host = Host {
            name: name.clone(),
            veth: veth.clone(),
            here: here.clone(),
        };
        let peer = format!("{veth}p");
        ip(&["netns", "add", &name])?;
        ip(&["link", "add", &veth, "type", "veth", "peer", "name", &peer])?;
        ip(&["link", "set", &peer, "netns", &name])?;
        ip(&["addr", "add", &format!("{here}/30"), "dev", &veth])?;
        ip(&["link", "set", &veth, "up"])?;
        let inside = |args: &[&str]| {
            let mut all = vec!["netns", "exec", &name, "ip"];
            all.extend_from_slice(args);
            ip(&all)
        };
        inside(&["addr", "add", &format!("{there}/30"), "dev", &peer])?;
        inside(&["link", "set", &peer, "up"])?;
        inside(&["link", "set", "lo", "up"])?;
        Ok(host)
    }

    /// `orch ARGS…` on this host, in `dir`, against `db_url`: a `Cmd` like `TestDb::orch`'s.
    pub fn orch(&self, dir: &Path, db_url: &str) -> Cmd {
        hermetic(Cmd::new("ip"))
            .args(["netns", "exec", &self.name])
            .arg(orch_bin())
            .current_dir(dir)
            .env("DATABASE_URL", db_url)
    }

    /// Takes the link down: nothing reaches this side any more.
    pub fn cut(&self) {
        ip(&["link", "set", &self.veth, "down"]).unwrap();
    }

    pub fn restore(&self) {
        ip(&["link", "set", &self.veth, "up"]).unwrap();
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = ip(&["link", "del", &self.veth]);
        let _ = ip(&["netns", "del", &self.name]);
    }
}

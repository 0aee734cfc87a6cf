//! A throwaway PostgreSQL cluster of a test's own (initdb into a temporary folder, a free
//! port), for tests that stop, restart or cut off their database, never the shared server.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A throwaway PostgreSQL cluster, stopped and deleted on drop.
pub struct Cluster {
    bin: PathBuf,
    data: PathBuf,
    pub port: u16,
    listen: String,
    /// Holds the data folder, the socket folder and the server log.
    _dir: tempfile::TempDir,
}

fn initdb() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("initdb").exists() && b.join("pg_ctl").exists())
        .collect();
    found.sort();
    found.pop()
}

/// PostgreSQL refuses to run as root: run its tools as `postgres` when we are root.
fn as_postgres(program: &Path) -> Command {
    if nix::unistd::geteuid().is_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

impl Cluster {
    /// A cluster listening on 127.0.0.1.
    pub fn start() -> Option<Cluster> {
        Cluster::start_listening("127.0.0.1", &[])
    }

    /// A cluster listening on `listen` (`*` for every address), trusting connections from
    /// the `trusted` CIDR ranges as well as loopback.
    pub fn start_listening(listen: &str, trusted: &[&str]) -> Option<Cluster> {
        let Some(bin) = initdb() else {
            eprintln!("skipped: initdb is not available (no /usr/lib/postgresql/*/bin/initdb)");
            return None;
        };
        let dir = tempfile::Builder::new()
            .prefix("orch-pg-")
            .tempdir_in("/tmp")
            .unwrap();
        if nix::unistd::geteuid().is_root() {
            let pg = nix::unistd::User::from_name("postgres").unwrap().unwrap();
            std::os::unix::fs::chown(dir.path(), Some(pg.uid.as_raw()), Some(pg.gid.as_raw()))
                .unwrap();
        }
        let data = dir.path().join("data");
        let out = as_postgres(&bin.join("initdb"))
            .args(["-D"])
            .arg(&data)
            .args(["-A", "trust", "-U", "postgres", "--no-sync"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut hba = std::fs::OpenOptions::new()
            .append(true)
            .open(data.join("pg_hba.conf"))
            .unwrap();
        for cidr in trusted {
            std::io::Write::write_all(&mut hba, format!("host all all {cidr} trust\n").as_bytes())
                .unwrap();
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cluster = Cluster {
            bin,
            data,
            port,
            listen: listen.to_owned(),
            _dir: dir,
        };
        cluster.pg_ctl(&["start"]);
        Some(cluster)
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The same database at another address the cluster listens on.
    pub fn url_at(&self, addr: &str) -> String {
        format!("postgres://postgres@{addr}:{}/postgres", self.port)
    }

    pub fn pg_ctl(&self, action: &[&str]) {
        let log = self.data.parent().unwrap().join("server.log");
        let sockets = self.data.parent().unwrap();
        let opts = format!(
            "-p {} -c listen_addresses={} -k {} -c fsync=off -c max_connections=200",
            self.port,
            self.listen,
            sockets.display()
        );
        let mut cmd = as_postgres(&self.bin.join("pg_ctl"));
        cmd.arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(&log)
            .args(["-o", &opts, "-w", "-m", "fast"])
            .args(action)
            .stdout(Stdio::null());
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "pg_ctl {action:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = as_postgres(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "stop"])
            .output();
    }
}

/// A database (a cluster's) opened as it is, without migrating it.
pub async fn open_as_is(db_url: &str) -> orch::store::Store {
    let target = orch::config::DatabaseTarget::resolve(Some(db_url)).unwrap();
    orch::store::open(
        &target,
        orch::store::connect::Schema::AsIs,
        orch::store::connect::Pool::Shared,
    )
    .await
    .unwrap()
}

//! Workers on several hosts: each `orch worker` in a network namespace of its own, reaching a
//! private PostgreSQL cluster over a veth link, so that a worker can be cut off by taking its
//! link down, and killed and restarted, while the others go on (docs/WORKERS.md, failure
//! modes). PostgreSQL only: the setting the workers are for.

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use orch::store::{Store, TaskStatus, agents_task};
use sea_orm::{EntityTrait, QueryOrder};

use crate::support::TestDb;
use crate::support::cluster::{Cluster, open_as_is as open};
use crate::support::netns::{Host, can_make_hosts};
use crate::support::process::pid_in_file_alive;

/// Fast heartbeats, and bounds short enough for a test: others judge a silent worker lost
/// after 3 s; a worker cut off stops its tasks itself after 2 s.
const TIMING: [(&str, &str); 3] = [
    ("ORCH_HEARTBEAT_MS", "300"),
    ("ORCH_DB_OUTAGE_MS", "2000"),
    ("ORCH_STALE_AFTER_MS", "3000"),
];

/// A private cluster the hosts reach over their links, and `n` hosts; `None` (after saying
/// why) where namespaces or initdb are missing and not required.
fn hosts(n: u8) -> Option<(Cluster, Vec<Host>)> {
    can_make_hosts()?;
    let cluster = Cluster::start_listening("*", &["10.0.0.0/8"])?;
    let hosts = (0..n).map(|_| Host::make().unwrap()).collect();
    Some((cluster, hosts))
}

async fn all_rows(store: &Store) -> Vec<agents_task::Model> {
    agents_task::Entity::find()
        .order_by_asc(agents_task::Column::Id)
        .all(&store.db)
        .await
        .unwrap()
}

/// `orch worker` on `host`, its output going to `log` (a pipe nobody reads would fill and
/// stall it).
fn worker(host: &Host, dir: &Path, cluster: &Cluster, slots: &str, log: &Path) -> Child {
    let mut cmd = host
        .orch(dir, &cluster.url_at(&host.here))
        .args(["worker", "--slots", slots]);
    for (k, v) in TIMING {
        cmd = cmd.env(k, v);
    }
    let out = File::options().create(true).append(true).open(log).unwrap();
    cmd.into_std()
        .stdout(Stdio::null())
        .stderr(out)
        .spawn()
        .unwrap()
}

fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn drain(mut child: Child) -> std::process::ExitStatus {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    child.wait().unwrap()
}

/// Enqueues `yaml` against the cluster (from this side, over loopback): the run id.
fn enqueue(scratch: &TestDb, cluster: &Cluster, yaml: &str) -> String {
    let plan = scratch.plan(yaml);
    scratch
        .orch()
        .env("DATABASE_URL", cluster.url())
        .args(["run", plan, "--enqueue"])
        .success()
        .stdout()
        .trim()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_cut_off_from_the_database_stops_its_task_before_another_may_take_it() {
    let Some((cluster, hosts)) = hosts(2) else {
        return;
    };
    let scratch = TestDb::sqlite().await;
    let dir = scratch.path();
    // One long task that writes its pid, and one after it that may only run once it ended.
    let plan = "name: cutoff\ntasks:\n  - task: long\n    shell: \"echo $$ > long.pid; sleep 60\"\n    kill_grace: 1s\n  - task: after\n    shell: 'true'\n    depends_on: [long]\n    when: always\n";
    let run = enqueue(&scratch, &cluster, plan);
    let store = open(&cluster.url()).await;
    let mut cut_off = worker(&hosts[0], dir, &cluster, "1", &dir.join("w0.log"));
    crate::support::wait_for_status(&store, TaskStatus::Running).await;
    let pidfile = dir.join("long.pid");
    crate::support::wait::eventually(
        100,
        Duration::from_millis(50),
        || async { pidfile.exists() },
        |found| *found,
    )
    .await;
    hosts[0].cut();
    // The cut-off worker stops the task itself (after ORCH_DB_OUTAGE_MS), while its link is
    // still down: nobody else can have taken its place yet.
    let gone = crate::support::wait::eventually(
        100,
        Duration::from_millis(100),
        || async { !pid_in_file_alive(&pidfile).1 },
        |gone| *gone,
    )
    .await;
    assert!(gone, "the task outlived its cut-off worker");
    let rows = all_rows(&store).await;
    assert_eq!(
        rows.iter().find(|r| r.task == "long").unwrap().status,
        TaskStatus::Running,
        "nothing reached the database from the cut-off host"
    );
    // Another host's worker judges the task lost once its heartbeat is stale, and runs what
    // comes after; the cut-off worker, back on the network, is refused by the fence.
    let other = worker(&hosts[1], dir, &cluster, "1", &dir.join("w1.log"));
    scratch
        .orch()
        .env("DATABASE_URL", cluster.url())
        .args(["wait", &run, "--interval", "200ms", "--timeout", "60s"])
        .code(1);
    hosts[0].restore();
    let rows = all_rows(&store).await;
    let long = rows.iter().find(|r| r.task == "long").unwrap();
    assert_eq!(long.status, TaskStatus::Failed);
    let excerpt = long.log_excerpt.clone().unwrap_or_default();
    assert!(excerpt.contains("stopped sending heartbeats"), "{excerpt}");
    assert_eq!(long.attempt, 1, "at most once: not run again");
    let after = rows.iter().find(|r| r.task == "after").unwrap();
    assert_eq!(after.status, TaskStatus::Succeeded);
    assert!(
        after
            .owner
            .as_deref()
            .unwrap()
            .contains(&format!(":{}:", other.id()))
    );
    // The cut-off worker says what it did, and takes work again once it can.
    let said = crate::support::wait::eventually(
        100,
        Duration::from_millis(100),
        || async { std::fs::read_to_string(dir.join("w0.log")).unwrap_or_default() },
        |log: &String| log.contains("stopped its 1 running task(s)"),
    )
    .await;
    assert!(said.contains("stopped its 1 running task(s)"), "{said}");
    kill(&mut cut_off);
    assert!(drain(other).success());
}

const TASKS: usize = 500;

/// 500 short tasks; every fifth may run again if its worker is lost. Each appends its name
/// and attempt to one shared file, then works a little.
fn kill_plan(shared: &Path) -> String {
    let mut yaml = String::from("name: killtest\nconcurrency: 16\ntasks:\n");
    for i in 0..TASKS {
        yaml.push_str(&format!(
            "  - task: t{i:03}\n    shell: \"echo $ORCH_TASK $ORCH_ATTEMPT >> {}; sleep 0.4\"\n",
            shared.display()
        ));
        if i % 5 == 0 {
            yaml.push_str("    on_lost: retry\n");
        }
    }
    yaml
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_and_cut_off_workers_lose_no_task_and_run_none_twice() {
    let Some((cluster, hosts)) = hosts(4) else {
        return;
    };
    let scratch = TestDb::sqlite().await;
    let dir = scratch.path().to_owned();
    let shared = dir.join("ran.txt");
    let run = enqueue(&scratch, &cluster, &kill_plan(&shared));
    let store = open(&cluster.url()).await;
    let log = |i: usize| dir.join(format!("w{i}.log"));
    let mut workers: Vec<Child> = (0..4)
        .map(|i| worker(&hosts[i], &dir, &cluster, "4", &log(i)))
        .collect();
    let started = Instant::now();
    let (mut kills, mut cut) = (0, None::<Instant>);
    let mut restored = false;
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let rows = all_rows(&store).await;
        if rows.iter().all(|r| r.status.is_final()) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "the run did not end: {:?}",
            rows.iter()
                .filter(|r| !r.status.is_final())
                .map(|r| (&r.task, r.status))
                .collect::<Vec<_>>()
        );
        // Host 3 is cut off once, for longer than the staleness bound, then restored.
        match cut {
            None if started.elapsed() > Duration::from_secs(4) => {
                hosts[3].cut();
                cut = Some(Instant::now());
            }
            Some(at) if !restored && at.elapsed() > Duration::from_secs(6) => {
                hosts[3].restore();
                restored = true;
            }
            _ => {}
        }
        // Every few seconds a random worker of the other three is killed and restarted.
        if kills < 6 {
            let i = fastrand::usize(0..3);
            kill(&mut workers[i]);
            workers[i] = worker(&hosts[i], &dir, &cluster, "4", &log(i));
            kills += 1;
        }
    }
    if !restored {
        hosts[3].restore();
    }
    let code = scratch
        .orch()
        .env("DATABASE_URL", cluster.url())
        .args(["wait", &run, "--timeout", "10s"])
        .output()
        .code();
    for (i, w) in workers.into_iter().enumerate() {
        let status = drain(w);
        assert!(
            status.success(),
            "worker {i} ended {status}: {}",
            std::fs::read_to_string(log(i)).unwrap_or_default()
        );
    }
    let rows = all_rows(&store).await;
    let lines = std::fs::read_to_string(&shared).unwrap();
    let mut seen: HashMap<&str, u32> = HashMap::new();
    for line in lines.lines() {
        *seen.entry(line).or_default() += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "lines written twice: {twice:?}");
    assert_eq!(rows.len(), TASKS);
    let mut lost = 0;
    for r in &rows {
        assert!(
            matches!(r.status, TaskStatus::Succeeded | TaskStatus::Failed),
            "{r:?}"
        );
        let retries = r.task[1..].parse::<usize>().unwrap() % 5 == 0;
        let attempts = lines
            .lines()
            .filter(|l| l.split(' ').next() == Some(r.task.as_str()))
            .count();
        if !retries {
            assert_eq!(r.attempt, 1, "attempted twice: {r:?}");
            assert!(attempts <= 1, "{} ran {attempts} times", r.task);
        }
        if r.status == TaskStatus::Succeeded {
            assert!(
                seen.contains_key(format!("{} {}", r.task, r.attempt).as_str()),
                "{} succeeded without running its attempt {}",
                r.task,
                r.attempt
            );
        } else {
            lost += 1;
            let excerpt = r.log_excerpt.clone().unwrap_or_default();
            assert!(excerpt.contains("stopped sending heartbeats"), "{r:?}");
        }
        if r.attempt > 1 {
            lost += 1;
        }
    }
    assert!(
        lost > 0,
        "no worker was lost mid-task: the test proved nothing"
    );
    let failed = rows.iter().any(|r| r.status == TaskStatus::Failed);
    assert_eq!(
        code,
        Some(if failed { 1 } else { 0 }),
        "the run's exit code"
    );
}

//! Workers (`orch run --enqueue`, `orch worker`): real worker processes sharing one database,
//! on both backends (SQLite: workers on one machine sharing the file).

use nix::sys::signal::Signal;
use orch::store::{TaskStatus, agents_task};
use rstest::rstest;

use crate::support::process::Running;
use crate::support::wait::eventually;
use crate::support::{Backend, TestDb, by_task, wait_for_status};

/// A diamond (`a` → `b`, `c` → `d`) where `c` fails, with a cleanup after the failure.
const DIAMOND: &str = "name: diamond\nconcurrency: 2\ntasks:\n  - task: a\n    shell: echo a >> ran.txt\n  - task: b\n    shell: sleep 0.3; echo b >> ran.txt\n    depends_on: [a]\n  - task: c\n    shell: sleep 0.3; echo c >> ran.txt; exit 1\n    depends_on: [a]\n  - task: d\n    shell: echo d >> ran.txt\n    depends_on: [b, c]\n  - task: cleanup\n    shell: echo cleanup >> ran.txt\n    depends_on: [c]\n    when: failure\n";

impl TestDb {
    /// `orch worker` against this database, heartbeating fast.
    fn worker(&self, extra: &[&str]) -> Running {
        self.orch()
            .arg("worker")
            .args(extra)
            .env("ORCH_HEARTBEAT_MS", "200")
            .spawn()
    }

    /// `orch run plan.yaml --enqueue` of `yaml`; the run id it prints.
    fn enqueue(&self, yaml: &str, extra: &[&str]) -> String {
        let plan = self.plan(yaml);
        let out = self
            .orch()
            .args(["run", plan, "--enqueue"])
            .args(extra)
            .success();
        out.stdout().trim().to_owned()
    }
}

/// Drains every worker (SIGTERM) and checks each exits 0.
fn drain(workers: Vec<Running>) {
    for w in &workers {
        w.signal(Signal::SIGTERM);
    }
    for w in workers {
        w.wait().exited(0).stderr_has("worker: draining");
    }
}

/// Lines of `ran.txt`, as the tasks appended them.
fn ran(db: &TestDb) -> Vec<String> {
    String::from_utf8(db.read("ran.txt"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_diamond_with_a_failure_branch_runs_once_across_two_workers(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let run = db.enqueue(DIAMOND, &[]);
    assert_eq!(
        run,
        format!("diamond-{}", chrono::Utc::now().format("%Y-%m-%d"))
    );
    // Nothing ran in the enqueueing process.
    assert!(
        db.rows()
            .await
            .iter()
            .all(|r| r.status == TaskStatus::Queued)
    );
    let workers = vec![db.worker(&["--slots", "2"]), db.worker(&["--slots", "2"])];
    db.orch()
        .args(["wait", &run, "--interval", "100ms", "--timeout", "60s"])
        .code(1);
    let rows = db.rows().await;
    let status = |t: &str| by_task(&rows, t).status;
    assert_eq!(status("a"), TaskStatus::Succeeded);
    assert_eq!(status("b"), TaskStatus::Succeeded);
    assert_eq!(status("c"), TaskStatus::Failed);
    assert_eq!(status("d"), TaskStatus::Skipped);
    assert_eq!(status("cleanup"), TaskStatus::Succeeded);
    crate::support::assert_excerpt_starts_with(by_task(&rows, "d"), "skipped: dependency c failed");
    let mut lines = ran(&db);
    lines.sort();
    assert_eq!(lines, ["a", "b", "c", "cleanup"]);
    // Each ran task names the worker that ran it, under its first claim.
    for t in ["a", "b", "c", "cleanup"] {
        let row = by_task(&rows, t);
        assert!(
            row.owner.as_deref().is_some_and(|o| o.contains(':')),
            "{row:?}"
        );
        assert_eq!(row.claim, 1, "{row:?}");
    }
    let run_row = db.orch().args(["runs", "show", &run, "--json"]).success();
    assert!(
        run_row.stdout_json()["finished_at"].is_string(),
        "{}",
        run_row.stdout()
    );
    let listed = db.orch().args(["workers", "list", "--json"]).success();
    assert_eq!(listed.stdout_json().as_array().unwrap().len(), 2);
    drain(workers);
    let all = db
        .orch()
        .args(["workers", "list", "--all", "--json"])
        .success();
    let all = all.stdout_json();
    assert!(
        all.as_array()
            .unwrap()
            .iter()
            .all(|w| w["state"] == "stopped"),
        "{all}"
    );
    assert!(
        db.orch()
            .args(["workers", "list", "--json"])
            .success()
            .stdout_json()
            .as_array()
            .unwrap()
            .is_empty()
    );
}

/// Each task notes its start and end in `ran.txt`; the most at once, read back.
fn most_at_once(lines: &[String]) -> i32 {
    let (mut now, mut most) = (0, 0);
    for l in lines {
        now += if l.starts_with("start") { 1 } else { -1 };
        most = most.max(now);
    }
    most
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_holds_across_four_workers(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let mut plan = "name: wide\nconcurrency: 2\ntasks:\n".to_owned();
    for i in 0..16 {
        plan.push_str(&format!(
            "  - task: t{i}\n    shell: echo start t{i} >> ran.txt; sleep 0.2; echo end t{i} >> ran.txt\n"
        ));
    }
    let run = db.enqueue(&plan, &[]);
    let workers: Vec<Running> = (0..4).map(|_| db.worker(&["--slots", "4"])).collect();
    db.orch()
        .args(["wait", &run, "--interval", "100ms", "--timeout", "90s"])
        .success();
    let lines = ran(&db);
    assert_eq!(lines.len(), 32, "{lines:?}");
    // Never more than the plan's 2 at once, across all four workers; and 2 were reached, so
    // the runs did overlap.
    assert_eq!(most_at_once(&lines), 2, "{lines:?}");
    assert!(
        db.rows()
            .await
            .iter()
            .all(|r| r.status == TaskStatus::Succeeded)
    );
    // The run's two places, both free again once every task ended.
    let slots = crate::support::query_strings(
        &db.store().await,
        &format!(
            "SELECT CAST(slot AS TEXT) || ':' || COALESCE(CAST(task_id AS TEXT), 'free') \
             FROM orch_run_slots WHERE run_id = '{run}' ORDER BY slot"
        ),
    )
    .await;
    assert_eq!(slots, ["1:free", "2:free"]);
    drain(workers);
}

/// A gate, a deploy after it.
const GATED: &str = "name: gated\ntasks:\n  - task: gate\n    shell: echo gate >> ran.txt\n    approval: always\n  - task: deploy\n    shell: echo deploy >> ran.txt\n    depends_on: [gate]\n";

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gate_approved_mid_run_lets_a_worker_run_its_dependents(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let run = db.enqueue(GATED, &[]);
    let worker = db.worker(&[]);
    let gate = wait_for_status(&db.store().await, TaskStatus::AwaitingApproval).await;
    // Waiting on the gate: `--until decided` of the task times out, the run is not over.
    db.orch()
        .args([
            "wait",
            &gate.id.to_string(),
            "--until",
            "decided",
            "--timeout",
            "1s",
        ])
        .code(9);
    db.orch().args(["approve", &gate.id.to_string()]).success();
    db.orch()
        .args(["wait", &run, "--interval", "100ms", "--timeout", "60s"])
        .success();
    let rows = db.rows().await;
    assert_eq!(by_task(&rows, "deploy").status, TaskStatus::Succeeded);
    assert_eq!(ran(&db), ["gate", "deploy"]);
    drain(vec![worker]);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_runs_only_on_a_worker_with_its_labels(#[case] backend: Backend) {
    use crate::support::http::Served;
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let plan = "name: labelled\nconcurrency: 4\ntasks:\n  - task: gpu\n    shell: echo gpu >> ran.txt\n    runs_on: {gpu: a100}\n  - task: any\n    shell: echo any >> ran.txt\n";
    // With no worker up, both tasks are reported, not left waiting in silence.
    let run = db.enqueue(plan, &[]);
    let stranded = |db: &TestDb| {
        let shown = db.orch().args(["runs", "show", &run, "--json"]).success();
        let value: serde_json::Value = serde_json::from_str(&shown.stdout()).unwrap();
        value["stranded"].as_array().unwrap().clone()
    };
    let none_up = stranded(&db);
    assert_eq!(none_up.len(), 2, "{none_up:?}");
    assert!(
        none_up[0]["why"]
            .as_str()
            .unwrap()
            .starts_with("no live worker takes queue \"default\""),
        "{none_up:?}"
    );
    db.orch()
        .args(["runs", "show", &run])
        .success()
        .stdout_has("waiting: task gpu (");
    // The worker without the label takes what it may: only `any`.
    let plain = db.worker(&[]);
    let any = eventually(
        200,
        std::time::Duration::from_millis(50),
        || db.rows(),
        |rows: &Vec<agents_task::Model>| by_task(rows, "any").status == TaskStatus::Succeeded,
    )
    .await;
    assert_eq!(by_task(&any, "gpu").status, TaskStatus::Queued, "{any:?}");
    let waiting = stranded(&db);
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    assert_eq!(waiting[0]["task"], "gpu");
    let why = waiting[0]["why"].as_str().unwrap();
    assert!(
        why.starts_with("needs runs_on gpu=a100, which none of the 1 live worker(s)"),
        "{why}"
    );
    // The run page says the same, and names the worker that ran `any`.
    let server = Served::start(db.orch());
    let page = crate::support::pages::Visitor::new(&server.url(""))
        .get(&format!("/runs/{run}"))
        .await;
    assert!(
        page.body.contains("is waiting: needs runs_on gpu=a100"),
        "{}",
        page.body
    );
    let any_owner = by_task(&any, "any").owner.clone().unwrap();
    assert!(
        any_owner.contains(&format!(":{}:", plain.pid())),
        "{any_owner}"
    );
    assert!(
        page.body
            .contains(&format!("data-cell=\"worker\">{any_owner}</td>")),
        "{}",
        page.body
    );
    let gpu = db.worker(&["--label", "gpu=a100", "--label", "zone=eu"]);
    db.orch()
        .args(["wait", &run, "--interval", "100ms", "--timeout", "60s"])
        .success();
    assert!(stranded(&db).is_empty());
    let rows = db.rows().await;
    let owner = by_task(&rows, "gpu").owner.clone().unwrap();
    assert!(
        owner.contains(&format!(":{}:", gpu.pid())),
        "{owner} pid {}",
        gpu.pid()
    );
    server.stop();
    drain(vec![plain, gpu]);
}

/// A long task, a task after it.
const LONG: &str = "name: long\ntasks:\n  - task: sleeper\n    shell: \"sleep 60\"\n    kill_grace: 1s\n  - task: after\n    shell: 'true'\n    depends_on: [sleeper]\n";

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_stops_a_task_a_worker_runs_and_skips_what_waits(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let run = db.enqueue(LONG, &[]);
    let worker = db.worker(&[]);
    wait_for_status(&db.store().await, TaskStatus::Running).await;
    db.orch()
        .args(["cancel", &run])
        .success()
        .stdout_has("stops its running tasks at its next heartbeat");
    db.orch()
        .args(["wait", &run, "--interval", "100ms", "--timeout", "30s"])
        .code(7);
    let rows = db.rows().await;
    let sleeper = by_task(&rows, "sleeper");
    assert_eq!(sleeper.status, TaskStatus::Failed);
    assert!(
        sleeper
            .log_excerpt
            .as_deref()
            .unwrap()
            .ends_with("cancelled by tester"),
        "{sleeper:?}"
    );
    crate::support::assert_excerpt_starts_with(
        by_task(&rows, "after"),
        "skipped: cancelled by tester",
    );
    // Retry queues both again for the workers; this time `sleeper` is quick.
    std::fs::write(db.path().join("plan.yaml"), "unused").unwrap();
    db.orch()
        .args(["retry", &run])
        .success()
        .stdout_has("queued again for the workers on queue `default`");
    wait_for_status(&db.store().await, TaskStatus::Running).await;
    db.orch().args(["cancel", &run]).success();
    db.orch()
        .args(["wait", &run, "--interval", "100ms", "--timeout", "30s"])
        .code(7);
    let rows = db.rows().await;
    assert_eq!(by_task(&rows, "sleeper").attempt, 2);
    drain(vec![worker]);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_a_worker_and_a_second_one_stops_its_task(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let plan = "name: drain\ntasks:\n  - task: slow\n    shell: sleep 1; echo slow >> ran.txt\n    kill_grace: 1s\n  - task: next\n    shell: echo next >> ran.txt\n";
    let run = db.enqueue(plan, &[]);
    let worker = db.worker(&[]);
    wait_for_status(&db.store().await, TaskStatus::Running).await;
    worker.signal(Signal::SIGTERM);
    // What ran finished; nothing new was claimed.
    worker.wait().exited(0).stderr_has("worker: draining");
    let rows = db.rows().await;
    assert_eq!(by_task(&rows, "slow").status, TaskStatus::Succeeded);
    assert_eq!(by_task(&rows, "next").status, TaskStatus::Queued);
    assert_eq!(ran(&db), ["slow"]);
    // Another worker goes on with the run; a second SIGTERM stops its task.
    let plan =
        "name: stopped\ntasks:\n  - task: sleeper\n    shell: sleep 60\n    kill_grace: 1s\n";
    let _ = run;
    let stopped = db.enqueue(plan, &[]);
    let worker = db.worker(&[]);
    eventually(
        200,
        std::time::Duration::from_millis(50),
        || db.rows(),
        |rows: &Vec<agents_task::Model>| {
            rows.iter()
                .any(|r| r.task == "sleeper" && r.status == TaskStatus::Running)
        },
    )
    .await;
    worker.signal(Signal::SIGTERM);
    std::thread::sleep(std::time::Duration::from_millis(300));
    worker.signal(Signal::SIGTERM);
    worker.wait().exited(143);
    let rows = db.rows().await;
    let sleeper = rows.iter().find(|r| r.run_id == stopped).unwrap();
    assert_eq!(sleeper.status, TaskStatus::Failed, "{sleeper:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_worker_options_and_labels_are_refused_before_anything_runs() {
    let db = TestDb::sqlite().await;
    db.orch()
        .args(["worker", "--label", "gpu"])
        .code(2)
        .stderr_has("a label is KEY=VALUE");
    db.orch()
        .args(["worker", "--queue", "no way"])
        .code(2)
        .stderr_has("a queue name is letters");
    let plan =
        db.plan("name: p\ntasks:\n  - task: t\n    shell: 'true'\n    runs_on: {gpu: \"a 100\"}\n");
    db.orch()
        .args(["run", plan, "--enqueue"])
        .code(2)
        .stderr_has("`runs_on`: `a 100` must be letters");
    assert!(!db.path().join("orch.db").exists());
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_of_a_task_the_worker_no_longer_holds_is_refused(#[case] backend: Backend) {
    use orch::store::claim::{Claimer, claim};
    use orch::store::transition::{Fence, TaskChange, Transition};
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    db.enqueue("name: p\ntasks:\n  - task: t\n    shell: 'true'\n", &[]);
    let store = db.store().await;
    let queues = ["default".to_owned()];
    let mine = Claimer {
        owner: "h:1:old",
        queues: &queues,
        labels: &[],
    };
    let row = claim(&store.db, &mine).await.unwrap().unwrap();
    assert_eq!((row.status, row.claim), (TaskStatus::Running, 1));
    // Nothing else is ready: a second claim gets nothing.
    assert!(claim(&store.db, &mine).await.unwrap().is_none());
    // The worker is judged lost and the task claimed again elsewhere (as `on_lost: retry`
    // will): the row now carries another owner and a higher claim.
    orch::store::query::get_task(&store.db, row.id)
        .await
        .unwrap();
    use sea_orm::ConnectionTrait;
    store
        .db
        .execute_unprepared(&format!(
            "UPDATE agents_tasks SET owner = 'h:2:new', claim = 2 WHERE id = {}",
            row.id
        ))
        .await
        .unwrap();
    let late = Transition::new(
        row.id,
        TaskStatus::Running,
        TaskStatus::Succeeded,
        TaskChange::default(),
    )
    .fenced(Fence::of(&row));
    let err = late.apply(&store.db).await.unwrap_err();
    assert!(err.to_string().contains("no longer this worker's"), "{err}");
    // Nor may it record a retry (the attempt it was on) over the new claim.
    let retry = TaskChange {
        attempt: Some(5),
        ..Default::default()
    };
    let err = orch::store::transition::update_fields_fenced(
        &store.db,
        row.id,
        retry,
        Fence::of(&row).as_ref(),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("no longer this worker's"), "{err}");
    let now = orch::store::query::get_task(&store.db, row.id)
        .await
        .unwrap();
    assert_eq!(
        (now.status, now.owner.as_deref(), now.attempt),
        (TaskStatus::Running, Some("h:2:new"), 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_claim_reads_the_ready_index_not_the_history() {
    use sea_orm::ConnectionTrait;
    let Some(db) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    db.enqueue("name: p\ntasks:\n  - task: t\n    shell: 'true'\n", &[]);
    let store = db.store().await;
    // 200,000 finished rows of history and 2,000 queued ones whose dependencies are not
    // done (not ready), then the planner's statistics.
    store
        .db
        .execute_unprepared(
            "INSERT INTO agents_tasks (task, run_id, status, attempt, claim) \
             SELECT 't' || g, 'old', 'succeeded', 1, 1 FROM generate_series(1, 200000) g; \
             INSERT INTO agents_tasks (task, run_id, status, attempt, claim) \
             SELECT 'q' || g, 'waits', 'queued', 1, 0 FROM generate_series(1, 2000) g; \
             ANALYZE agents_tasks; ANALYZE agents_runs",
        )
        .await
        .unwrap();
    let queues = ["default".to_owned()];
    let by = orch::store::claim::Claimer {
        owner: "h:1:x",
        queues: &queues,
        labels: &[],
    };
    let plan = orch::store::claim::explain(&store.db, &by).await.unwrap();
    assert!(plan.contains("ix_agents_tasks_ready"), "{plan}");
    assert!(!plan.contains("Seq Scan on agents_tasks"), "{plan}");
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_workers_tasks_fail_as_lost_unless_they_say_on_lost_retry(
    #[case] backend: Backend,
) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    // Each task hangs on its first attempt only.
    let hang = |name: &str| {
        format!(
            "if [ -e {name}.again ]; then echo {name} again >> ran.txt; else touch {name}.again; \
             echo {name} first >> ran.txt; sleep 20; fi"
        )
    };
    let plan = format!(
        "name: lossy\nconcurrency: 2\ntasks:\n  - task: once\n    shell: \"{}\"\n  - task: again\n    shell: \"{}\"\n    on_lost: retry\n",
        hang("once"),
        hang("again")
    );
    let run = db.enqueue(&plan, &[]);
    let doomed = db.worker(&["--slots", "2"]);
    eventually(
        200,
        std::time::Duration::from_millis(50),
        || db.rows(),
        |rows: &Vec<agents_task::Model>| rows.iter().all(|r| r.status == TaskStatus::Running),
    )
    .await;
    doomed.kill();
    // Another worker, judging a silent one lost after 1 s, recovers its tasks.
    let heir = db
        .orch()
        .arg("worker")
        .env("ORCH_HEARTBEAT_MS", "200")
        .env("ORCH_STALE_AFTER_MS", "1000")
        .env("ORCH_DB_OUTAGE_MS", "800")
        .spawn();
    db.orch()
        .args(["wait", &run, "--interval", "100ms", "--timeout", "60s"])
        .code(1);
    let rows = db.rows().await;
    let once = by_task(&rows, "once");
    assert_eq!(once.status, TaskStatus::Failed);
    crate::support::assert_excerpt_starts_with(once, "orchestrator lost");
    let again = by_task(&rows, "again");
    assert_eq!(
        (again.status, again.attempt),
        (TaskStatus::Succeeded, 2),
        "{again:?}"
    );
    let mut lines = ran(&db);
    lines.sort();
    assert_eq!(lines, ["again again", "again first", "once first"]);
    // The lost attempt stays visible.
    let shown = db
        .orch()
        .args(["tasks", "show", &again.id.to_string()])
        .success();
    assert!(
        shown.stdout().contains("orchestrator lost"),
        "{}",
        shown.stdout()
    );
    drain(vec![heir]);
}

/// A task that sleeps the first time only.
const SLOW_ONCE: &str = "name: slowonce\ntasks:\n  - task: sleeper\n    shell: \"if [ -f slept ]; then true; else touch slept; sleep 60; fi\"\n    kill_grace: 1s\n  - task: after\n    shell: 'true'\n    depends_on: [sleeper]\n";

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_run_page_cancels_and_retries_a_run_workers_drive(#[case] backend: Backend) {
    use crate::support::http::Served;
    use crate::support::pages::Visitor;
    use reqwest::StatusCode;
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    db.orch().args(["users", "add", "ana"]).success();
    let token = db
        .orch()
        .args(["tokens", "create", "--user", "ana", "--scope", "decide"])
        .success()
        .stdout()
        .trim()
        .to_owned();
    let run = db.enqueue(SLOW_ONCE, &[]);
    let worker = db.worker(&[]);
    wait_for_status(&db.store().await, TaskStatus::Running).await;
    let server = Served::start(db.orch());
    let mut ana = Visitor::new(&server.url(""));
    ana.login(&token).await;
    let page_path = format!("/runs/{run}");
    let page = ana.get(&page_path).await;
    assert!(
        page.body.contains("at its worker's next heartbeat"),
        "{}",
        page.body
    );
    let cancelled = ana
        .submit(&page_path, &format!("/runs/{run}/cancel"), &[])
        .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.body);
    assert!(
        cancelled
            .body
            .contains("stops its running tasks at its next heartbeat"),
        "{}",
        cancelled.body
    );
    db.orch()
        .args(["wait", &run, "--interval", "100ms", "--timeout", "30s"])
        .code(7);
    let sleeper = by_task(&db.rows().await, "sleeper").clone();
    assert!(
        sleeper
            .log_excerpt
            .as_deref()
            .unwrap()
            .ends_with("cancelled by ana"),
        "{sleeper:?}"
    );
    let retried = ana
        .submit(&page_path, &format!("/runs/{run}/retry"), &[])
        .await;
    assert_eq!(retried.status, StatusCode::OK, "{}", retried.body);
    assert!(
        retried.body.contains(
            "2 task(s) queued again by ana as new attempts, for the workers on queue `default`."
        ),
        "{}",
        retried.body
    );
    // The worker runs them: nothing else drives the run.
    db.orch()
        .args(["wait", &run, "--interval", "100ms", "--timeout", "60s"])
        .success();
    let rows = db.rows().await;
    assert!(
        rows.iter()
            .all(|r| r.status == TaskStatus::Succeeded && r.attempt == 2),
        "{rows:?}"
    );
    server.stop();
    drain(vec![worker]);
}

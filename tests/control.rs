//! Run control: `orch cancel`, `orch retry` and `orch wait`, for a run driven by a local
//! `orch run` in another process and for a run nobody drives — on both databases, with real
//! processes.

use orch::store::{ApprovalState, TaskStatus};
use rstest::rstest;

use crate::support::{Backend, TestDb, assert_excerpt_starts_with, by_task, wait_for_status};

/// A long task, a task after it, and one that never gets a chance.
const LONG: &str = "name: long\ntasks:\n  - task: sleeper\n    shell: \"sleep 60\"\n    kill_grace: 1s\n  - task: after\n    shell: 'true'\n    depends_on: [sleeper]\n";

/// A gate whose dependent waits for its decision.
const GATED: &str = "name: gated\ntasks:\n  - task: gate\n    shell: 'true'\n    approval: always\n  - task: deploy\n    shell: 'true'\n    depends_on: [gate]\n";

/// `build` fails until `ok` exists; `ship` needs it; `lint` succeeds on its own.
const FLAKY: &str = "name: flaky\ntasks:\n  - task: lint\n    shell: \"echo lint >> ran.txt\"\n  - task: build\n    shell: \"echo build >> ran.txt; test -e ok\"\n  - task: ship\n    shell: \"echo ship >> ran.txt\"\n    depends_on: [build]\n";

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_stops_a_running_task_at_the_drivers_heartbeat(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let plan = db.plan(LONG);
    let driver = db
        .orch()
        .args(["run", plan])
        .env("ORCH_HEARTBEAT_MS", "100")
        .spawn();
    let running = wait_for_status(&db.store().await, TaskStatus::Running).await;
    db.orch()
        .args(["cancel", &running.run_id])
        .success()
        .stdout_has("cancel recorded by tester")
        .stdout_has("stops its running tasks at its next heartbeat");
    // The driver stops the `sleep 60` and exits 7, long before the minute is up.
    let out = driver.wait().exited(7);
    assert!(
        out.stdout().contains("the run was cancelled by tester"),
        "{}",
        out.stdout()
    );
    let rows = db.rows().await;
    let sleeper = by_task(&rows, "sleeper");
    assert_eq!(sleeper.status, TaskStatus::Failed);
    assert!(
        sleeper
            .log_excerpt
            .as_deref()
            .unwrap()
            .ends_with("cancelled by tester"),
        "{:?}",
        sleeper.log_excerpt
    );
    let after = by_task(&rows, "after");
    assert_eq!(after.status, TaskStatus::Skipped);
    assert_excerpt_starts_with(after, "skipped: cancelled by tester");
    // `orch wait` of the run exits with its code: cancelled.
    db.orch().args(["wait", &running.run_id]).code(7);
    // A second cancel of it says who asked first, and changes nothing.
    db.orch()
        .args(["cancel", &running.run_id])
        .success()
        .stderr_has(&format!(
            "cancel: run {} was already asked to stop by tester at ",
            running.run_id
        ));
    assert!(db.leases().await.is_empty());
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_of_a_run_waiting_on_a_gate_rejects_it_and_skips_its_dependents(
    #[case] backend: Backend,
) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    db.run(GATED).success();
    let run_id = db.rows().await[0].run_id.clone();
    db.orch()
        .args(["cancel", &run_id])
        .env("USER", "carol")
        .success()
        .stdout_has(&format!(
            "run {run_id} cancelled by carol: 1 queued task(s) skipped, 1 gate(s) rejected"
        ));
    let rows = db.rows().await;
    let gate = by_task(&rows, "gate");
    assert_eq!(gate.status, TaskStatus::Failed);
    assert_eq!(gate.approval_state, Some(ApprovalState::Rejected));
    assert_eq!(gate.approver.as_deref(), Some("carol"));
    assert_eq!(gate.approval_note.as_deref(), Some("cancelled by carol"));
    let deploy = by_task(&rows, "deploy");
    assert_eq!(deploy.status, TaskStatus::Skipped);
    assert_excerpt_starts_with(deploy, "skipped: cancelled by carol");
    db.orch()
        .args(["runs", "show", &run_id])
        .success()
        .stdout_has("cancelled: by carol at ");
    let shown = db
        .orch()
        .args(["runs", "show", &run_id, "--json"])
        .success()
        .stdout_json();
    assert_eq!(shown["cancel_requested_by"], "carol");
    assert!(shown["cancel_requested_at"].is_string(), "{shown}");
    // The second cancel names the first canceller.
    db.orch()
        .args(["cancel", &run_id])
        .success()
        .stderr_has("already asked to stop by carol");
    db.orch().args(["wait", &run_id]).code(7);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_run_cannot_be_cancelled(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    db.run("name: done\ntasks:\n  - task: a\n    shell: 'true'\n")
        .success();
    let run_id = db.rows().await[0].run_id.clone();
    db.orch()
        .args(["cancel", &run_id])
        .code(8)
        .stderr_has(&format!("error: run `{run_id}` has ended"));
    db.orch().args(["cancel", "no-such-run"]).code(4);
    // Nothing to retry either.
    db.orch()
        .args(["retry", &run_id])
        .code(8)
        .stderr_has("has no failed or cancelled task to retry");
    db.orch().args(["wait", &run_id]).success();
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_runs_the_failed_task_and_its_dependents_again_and_keeps_the_rest(
    #[case] backend: Backend,
) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    db.run(FLAKY).code(1);
    let rows = db.rows().await;
    let run_id = rows[0].run_id.clone();
    let build = by_task(&rows, "build").clone();
    assert_eq!(build.status, TaskStatus::Failed);
    assert_eq!(by_task(&rows, "ship").status, TaskStatus::Skipped);
    db.orch().args(["wait", &run_id]).code(1);
    // A task that did not fail is refused, by name.
    db.orch()
        .args(["retry", &run_id, "--task", "lint"])
        .code(8)
        .stderr_has("task `lint` of run `");
    db.orch()
        .args(["retry", &run_id, "--task", "nope"])
        .code(4)
        .stderr_has("has no task `nope`");
    std::fs::write(db.path().join("ok"), "").unwrap();
    db.orch()
        .args(["retry", &run_id])
        .env("USER", "dave")
        .success();
    let rows = db.rows().await;
    assert_eq!(rows.len(), 3, "the rows are kept, not copied");
    assert!(rows.iter().all(|r| r.status == TaskStatus::Succeeded));
    assert_eq!(by_task(&rows, "lint").attempt, 1, "what succeeded is kept");
    assert_eq!(by_task(&rows, "build").attempt, 2);
    assert_eq!(by_task(&rows, "ship").attempt, 2);
    // lint ran once; build twice; ship once, after the retry.
    assert_eq!(
        String::from_utf8(db.read("ran.txt")).unwrap(),
        "lint\nbuild\nbuild\nship\n"
    );
    // The first attempt stays visible.
    let shown = db
        .orch()
        .args(["tasks", "show", &build.id.to_string(), "--json"])
        .success()
        .stdout_json();
    assert_eq!(shown["attempt"], 2);
    let previous = shown["previous_attempts"].as_array().unwrap();
    assert_eq!(previous.len(), 1, "{shown}");
    assert_eq!(previous[0]["attempt"], 1);
    assert_eq!(previous[0]["status"], "failed");
    assert_eq!(previous[0]["exit_code"], 1);
    assert_eq!(previous[0]["retried_by"], "dave");
    db.orch()
        .args(["tasks", "show", &build.id.to_string()])
        .success()
        .stdout_has("previous attempts:")
        .stdout_has("dave");
    db.orch().args(["wait", &run_id]).success();
    // Pruned with its run, history included.
    db.orch().args(["prune", "--older-than", "0s"]).success();
    let store = db.store().await;
    let left = crate::support::query_strings(
        &store,
        "SELECT CAST(COUNT(*) AS TEXT) FROM agents_task_attempts",
    )
    .await;
    assert_eq!(left, ["0"]);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_run_is_retried_from_where_it_stopped(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    db.run(GATED).success();
    let run_id = db.rows().await[0].run_id.clone();
    db.orch().args(["cancel", &run_id]).success();
    // The rejected gate runs again and waits again; its dependent is queued behind it.
    db.orch().args(["retry", &run_id]).success();
    let rows = db.rows().await;
    let gate = by_task(&rows, "gate");
    assert_eq!(gate.status, TaskStatus::AwaitingApproval);
    assert_eq!(gate.attempt, 2);
    assert_eq!(
        gate.approver, None,
        "the new attempt waits for a new decision"
    );
    assert_eq!(by_task(&rows, "deploy").status, TaskStatus::Queued);
    // The cancel is over: the run is live again.
    db.orch()
        .args(["approve", &gate.id.to_string(), "--resume"])
        .success();
    db.orch().args(["wait", &run_id]).success();
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_is_refused_while_another_orch_drives_the_run(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let plan = "name: busy\ntasks:\n  - task: broken\n    shell: 'false'\n  - task: slow\n    shell: \"test -e stop || sleep 30\"\n    depends_on: [broken]\n    when: always\n";
    let driver = db.run(plan).env("ORCH_HEARTBEAT_MS", "100").spawn();
    let running = wait_for_status(&db.store().await, TaskStatus::Running).await;
    db.orch()
        .args(["retry", &running.run_id])
        .code(5)
        .stderr_has(&format!("run `{}` is being driven by `", running.run_id));
    // Nothing changed.
    let broken = by_task(&db.rows().await, "broken").clone();
    assert_eq!((broken.status, broken.attempt), (TaskStatus::Failed, 1));
    db.orch().args(["cancel", &running.run_id]).success();
    driver.wait().exited(7);
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_until_decided_returns_when_another_process_approves(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    db.run(GATED).success();
    let gate = by_task(&db.rows().await, "gate").clone();
    let id = gate.id.to_string();
    let waiter = db
        .orch()
        .args(["wait", &id, "--until", "decided", "--interval", "50ms"])
        .spawn();
    // Waiting for the run would not end: its dependent stays queued until a resume.
    db.orch().args(["approve", &id]).success();
    waiter.wait().exited(0);
    db.orch()
        .args([
            "wait",
            &gate.run_id,
            "--timeout",
            "200ms",
            "--interval",
            "50ms",
        ])
        .code(9)
        .stderr_has("gave up waiting after 200ms")
        .stderr_has("1 queued");
    db.orch()
        .args(["wait", &gate.run_id, "--until", "decided"])
        .code(2);
    db.orch().args(["wait", "999999"]).code(4);
}

fn token(db: &TestDb, user: &str, scope: &str) -> String {
    db.orch().args(["users", "add", user]).success();
    db.orch()
        .args(["tokens", "create", "--user", user, "--scope", scope])
        .success()
        .stdout()
        .trim()
        .to_owned()
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_run_page_cancels_and_retries_as_the_logged_in_person(#[case] backend: Backend) {
    use crate::support::http::Served;
    use crate::support::pages::Visitor;
    use reqwest::StatusCode;
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    db.run(GATED).success();
    let run_id = db.rows().await[0].run_id.clone();
    let (ana_token, rita_token) = (token(&db, "ana", "decide"), token(&db, "rita", "read"));
    let server = Served::start(db.orch());
    let page_path = format!("/runs/{run_id}");
    let cancel_path = format!("/runs/{run_id}/cancel");
    let retry_path = format!("/runs/{run_id}/retry");

    // A read-only person sees no forms, and a post of theirs is refused.
    let mut rita = Visitor::new(&server.url(""));
    rita.login(&rita_token).await;
    let page = rita.get(&page_path).await;
    assert!(!page.body.contains("Cancel run"), "{}", page.body);
    let token_of_rita = page.form_token().unwrap_or_default();
    let refused = rita
        .post(&cancel_path, &[("form_token", &token_of_rita)])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);

    let mut ana = Visitor::new(&server.url(""));
    ana.login(&ana_token).await;
    let page = ana.get(&page_path).await;
    assert!(page.body.contains(">Cancel run</button>"), "{}", page.body);
    assert!(
        !page.body.contains("Retry failed tasks"),
        "nothing failed yet"
    );
    // Without the form's token nothing changes.
    let forged = ana.post(&cancel_path, &[]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.body);
    // Nor from another site, even with it.
    let token_of_ana = page.form_token().unwrap();
    let elsewhere = ana
        .post_from(
            &cancel_path,
            &[("form_token", &token_of_ana)],
            "https://evil.example",
        )
        .await;
    assert_eq!(
        elsewhere.status,
        StatusCode::FORBIDDEN,
        "{}",
        elsewhere.body
    );
    assert_eq!(
        by_task(&db.rows().await, "gate").status,
        TaskStatus::AwaitingApproval
    );

    let done = ana.submit(&page_path, &cancel_path, &[]).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(
        done.body
            .contains("Cancelled by ana: 1 queued task(s) skipped, 1 gate(s) rejected."),
        "{}",
        done.body
    );
    let gate = by_task(&db.rows().await, "gate").clone();
    assert_eq!(gate.approver.as_deref(), Some("ana"));
    assert_eq!(gate.approval_note.as_deref(), Some("cancelled by ana"));

    // The run has ended: Retry is offered, Cancel is not; a stale Cancel is refused with 409.
    assert!(
        done.body.contains(">Retry failed tasks</button>"),
        "{}",
        done.body
    );
    assert!(!done.body.contains(">Cancel run</button>"));
    let again = ana.submit(&page_path, &cancel_path, &[]).await;
    assert_eq!(
        again.status,
        StatusCode::OK,
        "a second cancel is told, not refused"
    );
    assert!(
        again.body.contains("already asked for by ana"),
        "{}",
        again.body
    );

    let retried = ana.submit(&page_path, &retry_path, &[]).await;
    assert_eq!(retried.status, StatusCode::OK, "{}", retried.body);
    assert!(
        retried.body.contains("2 task(s) queued again by ana")
            && retried.body.contains(&format!("orch resume {run_id}")),
        "{}",
        retried.body
    );
    let rows = db.rows().await;
    assert!(
        rows.iter()
            .all(|r| r.status == TaskStatus::Queued && r.attempt == 2)
    );
    let nothing = ana.submit(&page_path, &retry_path, &[]).await;
    assert_eq!(nothing.status, StatusCode::CONFLICT, "{}", nothing.body);
    // The page only queued them: the CLI drives the run.
    db.orch().args(["resume", &run_id]).success();
    assert_eq!(
        by_task(&db.rows().await, "gate").status,
        TaskStatus::AwaitingApproval
    );
    server.stop();
}

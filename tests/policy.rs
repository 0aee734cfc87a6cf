//! Approval policy (`approval: {approvers, required, forbid_self, reject}`): who may vote, how
//! many must, never the run's initiator, one vote per person on what they were shown, and two
//! last votes arriving together deciding once. Through the real `orch` binary, the API
//! server, and the library's one vote function, on both databases.

use orch::Error;
use orch::store::approval_vote::{Channel, Verdict};
use orch::store::query::get_task;
use orch::store::transition::{TaskChange, update_fields};
use orch::store::votes::{Cast, Vote, cast};
use orch::store::{ApprovalState, Store, TaskStatus, agents_task};
use reqwest::StatusCode;
use rstest::rstest;
use serde_json::json;

use crate::support::http::ApiServer;
use crate::support::{Backend, TestDb, by_task, seed_task};

/// A gate for two of alice and the `release` group (bob, carol), its run started by bob.
const TWO_OF: &str = "name: release\ntasks:\n  - task: deploy\n    shell: 'echo built'\n    approval:\n      approvers: [alice, \"group:release\"]\n      required: 2\n      forbid_self: true\n  - task: after\n    shell: 'true'\n    depends_on: [deploy]\n";

fn users(db: &TestDb) {
    db.orch().args(["users", "add", "alice"]).success();
    for u in ["bob", "carol"] {
        db.orch()
            .args(["users", "add", u, "--group", "release"])
            .success();
    }
    db.orch().args(["users", "add", "dave"]).success();
}

fn vote_as(db: &TestDb, user: &str, verb: &str, id: i64) -> crate::support::Cmd {
    db.orch().env("USER", user).args([verb, &id.to_string()])
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_distinct_allowed_approvals_settle_a_gate(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    users(&db);
    db.run(TWO_OF).env("USER", "bob").success();
    let gate = by_task(&db.rows().await, "deploy").clone();
    assert_eq!(gate.status, TaskStatus::AwaitingApproval);
    let id = gate.id;

    // The initiator, someone not listed, and a name typed in are refused (exit 10).
    let own = vote_as(&db, "bob", "approve", id).output();
    assert_eq!(own.code(), Some(10), "{}", own.stderr());
    assert!(own.stderr().contains("forbid_self"), "{}", own.stderr());
    let stranger = vote_as(&db, "dave", "approve", id).output();
    assert_eq!(stranger.code(), Some(10), "{}", stranger.stderr());
    assert!(
        stranger.stderr().contains("`alice`, `group:release`"),
        "{}",
        stranger.stderr()
    );
    db.orch()
        .env("USER", "alice")
        .args(["approve", &id.to_string(), "--by", "carol"])
        .code(10)
        .stderr_has("not `--by`");

    // One approval counts and says what is still needed; the gate still waits.
    vote_as(&db, "alice", "approve", id)
        .success()
        .stdout_has("vote recorded")
        .stdout_has("1 of 2 approvals: alice approved; needs 1 more of");
    let again = vote_as(&db, "alice", "approve", id).output();
    assert_eq!(again.code(), Some(5), "{}", again.stderr());
    assert!(
        again.stderr().contains("already approved"),
        "{}",
        again.stderr()
    );
    let store = db.store().await;
    assert_eq!(
        get_task(&store.db, id).await.unwrap().status,
        TaskStatus::AwaitingApproval
    );
    let shown = db
        .orch()
        .args(["tasks", "show", &id.to_string(), "--json"])
        .success()
        .stdout_json();
    assert_eq!(shown["approval"]["required"], 2);
    assert_eq!(
        shown["approval"]["voters"],
        json!(["alice", "bob", "carol"])
    );
    assert_eq!(shown["approval"]["votes"].as_array().unwrap().len(), 1);
    assert_eq!(shown["approval"]["votes"][0]["voter"], "alice");
    assert_eq!(shown["approval"]["votes"][0]["channel"], "cli");
    db.orch()
        .args(["tasks", "show", &id.to_string()])
        .success()
        .stdout_has("votes: 1 of 2 approvals: alice approved")
        .stdout_has("`bob` (started the run)");

    // The second distinct approver decides; anyone after is told who did.
    vote_as(&db, "carol", "approve", id)
        .success()
        .stdout_has("approved by alice, carol");
    let row = get_task(&store.db, id).await.unwrap();
    assert_eq!(row.approval_state, Some(ApprovalState::Approved));
    assert_eq!(row.approver.as_deref(), Some("alice, carol"));
    let late = vote_as(&db, "alice", "reject", id).output();
    assert_eq!(late.code(), Some(5));
    assert!(
        late.stderr().contains("already approved by `alice, carol`"),
        "{}",
        late.stderr()
    );
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_rejection_vetoes_unless_the_plan_asks_for_a_quorum(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    users(&db);
    db.run(TWO_OF).env("USER", "bob").success();
    let id = by_task(&db.rows().await, "deploy").id;
    vote_as(&db, "alice", "approve", id).success();
    vote_as(&db, "carol", "reject", id)
        .success()
        .stdout_has("rejected by carol");

    let quorum = TWO_OF
        .replace("name: release", "name: release2")
        .replace("forbid_self: true", "reject: quorum");
    db.run(&quorum).env("USER", "bob").success();
    let rows = db.rows().await;
    let id = rows
        .iter()
        .find(|r| r.task == "deploy" && r.status == TaskStatus::AwaitingApproval)
        .unwrap()
        .id;
    vote_as(&db, "bob", "reject", id)
        .success()
        .stdout_has("vote recorded")
        .stdout_has("0 of 2 approvals: bob rejected")
        .stdout_has("1 of 2 rejections reject it");
    vote_as(&db, "carol", "reject", id)
        .success()
        .stdout_has("rejected by bob, carol");
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_votes_as_the_tokens_user_under_the_same_rules(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    users(&db);
    let token = |user: &str| {
        db.orch()
            .args(["tokens", "create", "--user", user, "--scope", "decide"])
            .success()
            .stdout()
            .trim()
            .to_owned()
    };
    let (bob, carol, dave) = (token("bob"), token("carol"), token("dave"));
    db.run(TWO_OF).env("USER", "bob").success();
    let id = by_task(&db.rows().await, "deploy").id;
    let s = ApiServer::start(&db, Some("admin-secret")).await;
    let approve = format!("/agents/tasks/{id}/approve");
    for t in [&bob, &dave] {
        let (code, body) = s.send("POST", &approve, Some(json!({})), Some(t)).await;
        assert_eq!(code, StatusCode::FORBIDDEN, "{body}");
    }
    let (code, body) = s
        .send("GET", &format!("/agents/tasks/{id}"), None, None)
        .await;
    assert_eq!(code, StatusCode::OK);
    let subject = body["approval"]["subject"].as_str().unwrap().to_owned();
    let stale = json!({"subject": "0".repeat(64)});
    let (code, body) = s.send("POST", &approve, Some(stale), Some(&carol)).await;
    assert_eq!(code, StatusCode::CONFLICT, "{body}");
    let (code, body) = s
        .send(
            "POST",
            &approve,
            Some(json!({"subject": subject})),
            Some(&carol),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "awaiting_approval");
    assert_eq!(body["approval"]["votes"][0]["voter"], "carol");
    assert_eq!(body["approval"]["votes"][0]["channel"], "api");
    vote_as(&db, "alice", "approve", id)
        .success()
        .stdout_has("approved by carol, alice");
}

/// A gate row with a policy, as the runner leaves it when the gate opens.
async fn policy_gate(store: &Store, run: &str, required: u32) -> agents_task::Model {
    let gate = seed_task(store, "gate", run, TaskStatus::AwaitingApproval, None).await;
    let policy = json!({
        "approvers": ["group:ops"],
        "voters": ["u1", "u2", "u3", "u4", "u5", "u6"],
        "required": required,
        "forbid_self": false,
        "reject": "veto",
    });
    let change = TaskChange {
        approval_policy: Some(policy),
        finished_at: Some(orch::store::now()),
        ..Default::default()
    };
    update_fields(&store.db, gate.id, change).await.unwrap()
}

fn vote(voter: &str, verdict: Verdict) -> Vote {
    Vote {
        voter: voter.to_owned(),
        verdict,
        note: None,
        channel: Channel::Api,
        at: orch::store::now(),
        seen: None,
    }
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_last_votes_at_once_decide_once(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let store = db.store().await;
    for round in 0..5 {
        let gate = policy_gate(&store, &format!("race{round}"), 2).await;
        let first = cast(&store.db, gate.id, vote("u1", Verdict::Approve)).await;
        assert!(matches!(first, Ok(Cast::Counted { .. })), "{first:?}");
        let (a, b) = tokio::join!(
            cast(&store.db, gate.id, vote("u2", Verdict::Approve)),
            cast(&store.db, gate.id, vote("u3", Verdict::Reject)),
        );
        let decided = [&a, &b]
            .iter()
            .filter(|r| matches!(r, Ok(Cast::Decided(_))))
            .count();
        assert_eq!(decided, 1, "{a:?} {b:?}");
        let loser = if a.is_ok() { &b } else { &a };
        assert!(
            matches!(loser, Err(Error::AlreadyDecided { .. })),
            "{loser:?}"
        );
        // The loser's vote was not kept: the votes are the two that decided.
        let votes = orch::store::votes::votes(&store.db, gate.id).await.unwrap();
        assert_eq!(votes.len(), 2, "{votes:?}");
        let row = get_task(&store.db, gate.id).await.unwrap();
        let expected = if a.is_ok() {
            ApprovalState::Approved
        } else {
            ApprovalState::Rejected
        };
        assert_eq!(row.approval_state, Some(expected));
    }
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn votes_on_an_earlier_run_of_the_task_do_not_count(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let store = db.store().await;
    let gate = policy_gate(&store, "again", 2).await;
    let shown = orch::store::votes::subject(&gate);
    cast(&store.db, gate.id, vote("u1", Verdict::Approve))
        .await
        .unwrap();
    // The task ran again (a retry, a resume): a new attempt opens a new subject.
    let change = TaskChange {
        attempt: Some(2),
        finished_at: Some(orch::store::now()),
        log_excerpt: Some("new output".to_owned()),
        ..Default::default()
    };
    update_fields(&store.db, gate.id, change).await.unwrap();
    let mut stale = vote("u2", Verdict::Approve);
    stale.seen = Some(shown);
    let refused = cast(&store.db, gate.id, stale).await;
    assert!(
        matches!(refused, Err(Error::SubjectChanged { .. })),
        "{refused:?}"
    );
    // u1's earlier approval does not count with u2's: still 1 of 2, and u1 may vote again.
    match cast(&store.db, gate.id, vote("u2", Verdict::Approve)).await {
        Ok(Cast::Counted { tally, .. }) => assert_eq!(tally.approvals, vec!["u2"]),
        other => panic!("{other:?}"),
    }
    let again = cast(&store.db, gate.id, vote("u1", Verdict::Approve)).await;
    assert!(matches!(again, Ok(Cast::Decided(_))), "{again:?}");
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vote_past_the_deadline_is_refused_and_changes_nothing(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let store = db.store().await;
    let gate = policy_gate(&store, "late", 1).await;
    let past = orch::store::now() - chrono::Duration::seconds(5);
    let change = TaskChange {
        approval_deadline: Some(past),
        ..Default::default()
    };
    update_fields(&store.db, gate.id, change).await.unwrap();
    let late = cast(&store.db, gate.id, vote("u1", Verdict::Approve)).await;
    assert!(
        matches!(late, Err(Error::ApprovalTimedOut { .. })),
        "{late:?}"
    );
    assert!(
        orch::store::votes::votes(&store.db, gate.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        get_task(&store.db, gate.id).await.unwrap().approval_state,
        Some(ApprovalState::Pending)
    );
}

#[tokio::test]
async fn the_plan_keys_are_checked_before_anything_runs() {
    let db = TestDb::sqlite().await;
    let zero = TWO_OF.replace("required: 2", "required: 0");
    db.run(&zero)
        .code(2)
        .stderr_has("plan.yaml:7:17:")
        .stderr_has("`required: 0`");
    let many = TWO_OF.replace(
        "approvers: [alice, \"group:release\"]",
        "approvers: [alice, bob]",
    );
    db.run(&many.replace("required: 2", "required: 3"))
        .code(2)
        .stderr_has("`required: 3` but `approvers` lists 2");
    db.run(&TWO_OF.replace("forbid_self: true", "forbid_self: true\n      links: 24h"))
        .code(2)
        .stderr_has("links");
    // Names the database does not know stop the run before its first task.
    db.run(TWO_OF)
        .code(2)
        .stderr_has("`alice`, `group:release`")
        .stderr_has("orch users add");
    assert!(db.rows().await.is_empty());
}

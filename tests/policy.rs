//! Approval policy (`approval: {approvers, required, forbid_self, reject}`): who may vote, how
//! many must, never the run's initiator, one vote per person on what they were shown, and two
//! last votes arriving together deciding once. Through the real `orch` binary, the API
//! server, and the library's one vote function, on both databases.

use orch::Error;
use orch::store::approval_vote::{Channel, Verdict};
use orch::store::query::get_task;
use orch::store::transition::{TaskChange, update_fields};
use orch::store::votes::{Cast, Proof, Vote, cast};
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

    // A vote on a subject that is not the gate's now is refused, whatever the channel.
    vote_as(&db, "alice", "approve", id)
        .args(["--subject", &"0".repeat(64)])
        .code(5)
        .stderr_has("ran again since it was shown to you");
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
        proof: Proof::Credential,
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
    db.run(&TWO_OF.replace(
        "forbid_self: true",
        "forbid_self: true\n      links: someday",
    ))
    .code(2)
    .stderr_has("`links: someday` is not a duration");
    // Names the database does not know stop the run before its first task.
    db.run(TWO_OF)
        .code(2)
        .stderr_has("`alice`, `group:release`")
        .stderr_has("orch users add");
    assert!(db.rows().await.is_empty());
    // Validation with the database named warns of them (and still passes); without one it
    // cannot tell.
    db.orch().args(["users", "add", "alice"]).success();
    let plan = db.plan(TWO_OF);
    db.orch()
        .args(["plan", "validate", plan])
        .success()
        .stderr_has("`approvers` names `group:release`, which the database has no user for");
    db.orch()
        .env_remove("DATABASE_URL")
        .args(["plan", "validate", plan])
        .success()
        .stderr_lacks("approvers");
}

/// Casts `v` through its channel's entry: a one-click link (planted for the voter and verdict
/// on the gate as it is now, as a notification would mint it) goes through `cast_link`, which
/// spends it; the others through `cast`.
async fn by_channel(store: &Store, id: i64, v: Vote) -> Result<Cast, Error> {
    if v.channel != Channel::Link {
        return cast(&store.db, id, v).await;
    }
    let row = get_task(&store.db, id).await.unwrap();
    let expires_at = v.at + chrono::Duration::hours(1);
    let token =
        crate::support::links::plant(&store.db, &row, &v.voter, v.verdict, expires_at).await;
    orch::store::votes::cast_link(&store.db, &token, &v.voter, v.note, orch::store::now())
        .await
        .map(|(c, _)| c)
}

/// A small deterministic generator (xorshift64*): each case is reproducible from its seed,
/// which a failure prints.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Random interleavings of votes from up to six people (some not listed, one the initiator)
/// through every channel (a link through its own entry, which spends it), with quorum 1 to 3,
/// veto or quorum rejection, pairs cast at the same moment, a retry of the task or the
/// deadline passing partway: each time the gate is decided at most once, and exactly as
/// replaying the kept votes in order says it should be.
#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn random_votes_decide_a_gate_once_and_only_by_its_rules(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let store = db.store().await;
    let people = ["u1", "u2", "u3", "u4", "u5", "u6"];
    let channels = [Channel::Cli, Channel::Api, Channel::Page, Channel::Link];
    let mut by_link = 0;
    for seed in 1..=40u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let required = 1 + rng.below(3) as u32;
        let quorum = rng.below(2) == 0;
        let forbid_self = rng.below(2) == 0;
        let listed: Vec<&str> = people
            .iter()
            .copied()
            .filter(|_| rng.below(4) != 0)
            .collect();
        let initiator = people[rng.below(6) as usize];
        let run = format!("prop{seed}");
        orch::store::mutation::insert_run(
            &store.db,
            orch::store::mutation::NewRun {
                run_id: run.clone(),
                plan_name: "prop".into(),
                plan_text: String::new(),
                plan_sha256: String::new(),
                git_commit: None,
                host: "h".into(),
                orch_version: "0".into(),
                trigger: "manual".into(),
                initiator: Some(initiator.to_owned()),
                started_at: orch::store::now(),
                log_dir: None,
                notify: None,
                queue: None,
                concurrency: None,
            },
        )
        .await
        .unwrap();
        let gate = seed_task(&store, "gate", &run, TaskStatus::AwaitingApproval, None).await;
        let policy = json!({
            "approvers": ["group:ops"],
            "voters": listed,
            "required": required,
            "forbid_self": forbid_self,
            "reject": if quorum { "quorum" } else { "veto" },
        });
        let change = TaskChange {
            approval_policy: Some(policy),
            finished_at: Some(orch::store::now()),
            ..Default::default()
        };
        update_fields(&store.db, gate.id, change).await.unwrap();
        let context = format!(
            "seed {seed}: required {required}, quorum {quorum}, forbid_self {forbid_self}, \
             listed {listed:?}, initiator {initiator}"
        );

        let mut decided_by_vote = 0;
        let mut timed_out = false;
        let steps = 4 + rng.below(10);
        for step in 0..steps {
            match rng.below(12) {
                // The task ran again (only an open gate can be): a new subject.
                0 if get_task(&store.db, gate.id).await.unwrap().approval_state
                    == Some(ApprovalState::Pending) =>
                {
                    let change = TaskChange {
                        attempt: Some(2 + step as i32),
                        finished_at: Some(orch::store::now()),
                        ..Default::default()
                    };
                    update_fields(&store.db, gate.id, change).await.unwrap();
                }
                // The deadline passes: the sweeper's rejection races what follows.
                1 if !timed_out => {
                    timed_out = true;
                    let past = orch::store::now() - chrono::Duration::seconds(1);
                    let change = TaskChange {
                        approval_deadline: Some(past),
                        ..Default::default()
                    };
                    update_fields(&store.db, gate.id, change).await.unwrap();
                    orch::store::transition::expire_approvals(&store.db, orch::store::now())
                        .await
                        .unwrap();
                }
                _ => {
                    let mut ballot = || {
                        let mut v = vote(
                            people[rng.below(6) as usize],
                            if rng.below(3) == 0 {
                                Verdict::Reject
                            } else {
                                Verdict::Approve
                            },
                        );
                        v.channel = channels[rng.below(4) as usize];
                        v
                    };
                    let (a, b) = (ballot(), ballot());
                    let results = if rng.below(2) == 0 {
                        vec![by_channel(&store, gate.id, a).await]
                    } else {
                        let (x, y) = tokio::join!(
                            by_channel(&store, gate.id, a),
                            by_channel(&store, gate.id, b)
                        );
                        vec![x, y]
                    };
                    for r in results {
                        match r {
                            Ok(Cast::Decided(_)) => decided_by_vote += 1,
                            Ok(Cast::Counted { .. })
                            | Err(Error::NotAnApprover { .. })
                            | Err(Error::OwnRun { .. })
                            | Err(Error::AlreadyVoted { .. })
                            | Err(Error::AlreadyDecided { .. })
                            | Err(Error::ApprovalTimedOut { .. }) => {}
                            Err(e) => panic!("{context}: unexpected {e:?}"),
                        }
                    }
                }
            }
        }

        let row = get_task(&store.db, gate.id).await.unwrap();
        assert!(
            decided_by_vote <= 1,
            "{context}: decided {decided_by_vote} times"
        );
        let votes = orch::store::votes::votes(&store.db, gate.id).await.unwrap();
        by_link += votes.iter().filter(|v| v.channel == Channel::Link).count();
        let subject = orch::store::votes::subject(&row);
        // Every kept vote is allowed, and one per person per subject.
        let mut seen = std::collections::HashSet::new();
        for v in &votes {
            assert!(listed.contains(&v.voter.as_str()), "{context}: {v:?}");
            assert!(!(forbid_self && v.voter == initiator), "{context}: {v:?}");
            assert!(
                seen.insert((v.subject.clone(), v.voter.clone())),
                "{context}"
            );
        }
        // Replaying the current subject's votes in the order they were kept says whether and
        // how the gate was decided by votes, and that nothing was kept after that.
        let current: Vec<_> = votes.iter().filter(|v| v.subject == subject).collect();
        let rejections_needed = if quorum { required } else { 1 };
        let (mut yes, mut no, mut expected) = (0, 0, None);
        for (i, v) in current.iter().enumerate() {
            assert!(
                expected.is_none(),
                "{context}: vote {i} kept after the decision"
            );
            match v.verdict {
                Verdict::Approve => yes += 1,
                Verdict::Reject => no += 1,
            }
            if yes >= required {
                expected = Some(ApprovalState::Approved);
            } else if no >= rejections_needed {
                expected = Some(ApprovalState::Rejected);
            }
        }
        match expected {
            Some(state) => {
                assert_eq!(decided_by_vote, 1, "{context}");
                assert_eq!(row.approval_state, Some(state), "{context}");
                assert_ne!(row.approver.as_deref(), Some("orch"), "{context}");
            }
            None if row.approval_state == Some(ApprovalState::Pending) => {
                assert_eq!(decided_by_vote, 0, "{context}");
            }
            // Decided without the votes reaching it: only the timeout may, as orch.
            None => {
                assert!(timed_out, "{context}: {row:?}");
                assert_eq!(row.approver.as_deref(), Some("orch"), "{context}");
                assert_eq!(
                    row.approval_state,
                    Some(ApprovalState::Rejected),
                    "{context}"
                );
            }
        }
    }
    assert!(by_link > 0, "no vote came through a link in 40 cases");
}

/// The refusals that keep a policy honest: a gate no one could pass is refused before the
/// run, a name only typed in never votes on a policy gate, a voter disabled since the gate
/// opened is refused, and a policy that cannot be read takes no votes (never the default).
#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unprovable_or_impossible_votes_are_refused(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    users(&db);
    // `forbid_self` started by someone orch does not know: they could vote under any name.
    db.run(TWO_OF)
        .env("USER", "mallory")
        .code(2)
        .stderr_has("`mallory`, who is no orch user");
    // Three approvals needed, but bob started it: only alice and carol may vote.
    db.run(&TWO_OF.replace("required: 2", "required: 3"))
        .env("USER", "bob")
        .code(2)
        .stderr_has("only 2 may vote (`alice`, `carol`), `bob` started the run");
    assert!(db.rows().await.is_empty(), "nothing runs before the checks");

    // In GitHub Actions the initiator of a re-run is who re-ran it.
    db.run(TWO_OF)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_ACTOR", "alice")
        .env("GITHUB_TRIGGERING_ACTOR", "carol")
        .env("USER", "dave")
        .success();
    let id = by_task(&db.rows().await, "deploy").id;
    vote_as(&db, "carol", "approve", id)
        .code(10)
        .stderr_has("forbid_self");

    // An open loopback server (no token issued) takes `by` as typed: not on a policy gate.
    let s = ApiServer::start(&db, None).await;
    let (code, body) = s
        .send(
            "POST",
            &format!("/agents/tasks/{id}/approve"),
            Some(json!({"by": "alice"})),
            None,
        )
        .await;
    assert_eq!(code, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body.to_string()
            .contains("no credential to tell who you are"),
        "{body}"
    );

    // Listed when the gate opened, disabled since.
    db.orch().args(["users", "disable", "bob"]).success();
    vote_as(&db, "bob", "approve", id)
        .code(10)
        .stderr_has("`bob` is disabled");
    let store = db.store().await;
    assert!(
        orch::store::votes::votes(&store.db, id)
            .await
            .unwrap()
            .is_empty(),
        "no refused vote is recorded"
    );

    // A damaged policy is an error, never "anyone may decide".
    let change = TaskChange {
        approval_policy: Some(json!({"approvers": ["alice"], "required": "two"})),
        ..Default::default()
    };
    update_fields(&store.db, id, change).await.unwrap();
    vote_as(&db, "alice", "approve", id)
        .code(3)
        .stderr_has("cannot be read");
    let shown = db
        .orch()
        .args(["tasks", "show", &id.to_string(), "--json"])
        .success()
        .stdout_json();
    assert!(
        shown["approval"]["error"]
            .as_str()
            .unwrap()
            .contains("cannot be read"),
        "{shown}"
    );

    // A plain gate on the same open server still takes `by`, as it always did.
    db.run("name: plain\ntasks:\n  - task: g\n    shell: 'true'\n    approval: always\n")
        .success();
    let plain = by_task(&db.rows().await, "g").id;
    // A comma would make one decider read as two in `approver`.
    db.orch()
        .args(["approve", &plain.to_string(), "--by", "alice, bob"])
        .code(2)
        .stderr_has("has a comma");
    let (code, body) = s
        .send(
            "POST",
            &format!("/agents/tasks/{plain}/approve"),
            Some(json!({"by": "mallory,alice"})),
            None,
        )
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (code, body) = s
        .send(
            "POST",
            &format!("/agents/tasks/{plain}/approve"),
            Some(json!({"by": "alice"})),
            None,
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body["approver"], "alice");
}

/// A decided gate's standing says how it ended, not what it would still need.
#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vetoed_gate_reads_as_rejected(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    users(&db);
    db.run(TWO_OF).env("USER", "bob").success();
    let id = by_task(&db.rows().await, "deploy").id;
    vote_as(&db, "alice", "approve", id).success();
    vote_as(&db, "carol", "reject", id).success();
    let shown = db
        .orch()
        .args(["tasks", "show", &id.to_string()])
        .success()
        .stdout();
    assert!(
        shown.contains("votes: rejected: 1 of 2 approvals: alice approved, carol rejected"),
        "{shown}"
    );
    assert!(!shown.contains("needs"), "{shown}");
}

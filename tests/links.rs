//! One-click approval links (`approval: {links: 24h}`): minted at send time into the gate's
//! Slack buttons and email `links`, stored only as hashes; opening one (GET, any number of
//! times) changes nothing; the POST from its page, by its voter signed in, casts one vote,
//! once (two at once included); a link without its voter's login, forged, altered, expired,
//! used, someone else's, the initiator's, or from before the task ran again casts nothing and
//! says why. Through the real `orch run` (notifications to wiremock) and `orch serve`, on
//! both databases.

use orch::store::approval_link::{self, Verdict};
use orch::store::approval_vote::Channel;
use orch::store::{ApprovalState, TaskStatus};
use reqwest::StatusCode;
use rstest::rstest;
use sea_orm::EntityTrait;
use serde_json::Value;

use crate::support::http::{Served, bodies, ok_receiver};
use crate::support::pages::Visitor;
use crate::support::{Backend, TestDb, by_task};

/// Two of alice, bob and carol, bob starting the run; links valid a day.
const LINKED: &str = "name: release\nnotify:\n  slack: {}\n  email: {}\ntasks:\n  - task: deploy\n    shell: 'echo ready; echo https://github.com/acme/app/pull/7'\n    approval:\n      approvers: [alice, bob, carol]\n      required: 2\n      forbid_self: true\n      links: 24h\n";

const ORIGIN: &str = "https://orch.example.com";

fn users(db: &TestDb) {
    for u in ["alice", "bob", "carol"] {
        db.orch().args(["users", "add", u]).success();
    }
}

/// A `decide` token of `user`'s.
fn token(db: &TestDb, user: &str) -> String {
    db.orch()
        .args(["tokens", "create", "--user", user, "--scope", "decide"])
        .success()
        .stdout()
        .trim()
        .to_owned()
}

/// A person at the pages, signed in as `user`.
async fn signed_in(db: &TestDb, server: &Served, user: &str) -> Visitor {
    let mut v = Visitor::new(&server.url(""));
    v.login(&token(db, user)).await;
    v
}

/// The path (`/links/TOKEN`) of a link URL this test's origin starts.
fn path(url: &Value) -> String {
    let url = url.as_str().unwrap();
    assert!(url.starts_with(ORIGIN), "{url}");
    url[ORIGIN.len()..].to_owned()
}

/// `(voter, verdict) -> path` from a Slack body's buttons.
fn buttons(slack: &Value) -> Vec<(String, String)> {
    slack["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["type"] == "actions")
        .flat_map(|b| b["elements"].as_array().unwrap().clone())
        .map(|e| {
            (
                e["text"]["text"].as_str().unwrap().to_owned(),
                path(&e["url"]),
            )
        })
        .collect()
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_is_confirmed_on_its_page_and_votes_once(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    users(&db);
    let hooks = ok_receiver().await;
    db.run(LINKED)
        .env("USER", "bob")
        .env("ORCH_PUBLIC_URL", ORIGIN)
        .env("SLACK_WEBHOOK", format!("{}/slack", hooks.uri()))
        .env("EMAIL_WEBHOOK", format!("{}/email", hooks.uri()))
        .success();
    let gate = by_task(&db.rows().await, "deploy").clone();
    assert_eq!(gate.status, TaskStatus::AwaitingApproval);

    // Slack keeps the seed's sentence and gains a button per approver and verdict; bob
    // started the run and gets none.
    let slack = bodies(&hooks, "/slack").await;
    assert_eq!(slack.len(), 1, "{slack:?}");
    assert_eq!(
        slack[0]["text"],
        "Task deploy awaiting approval: https://github.com/acme/app/pull/7"
    );
    let found = buttons(&slack[0]);
    let labels: Vec<&str> = found.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(
        labels,
        [
            "Approve as alice",
            "Reject as alice",
            "Approve as carol",
            "Reject as carol"
        ]
    );
    let email = bodies(&hooks, "/email").await;
    assert_eq!(email.len(), 1);
    assert_eq!(email[0]["task"], "deploy");
    let alice_approve = path(&email[0]["links"]["alice"]["approve"]);
    let carol_reject = path(&email[0]["links"]["carol"]["reject"]);
    assert!(email[0]["links"].get("bob").is_none(), "{}", email[0]);
    assert_ne!(
        alice_approve, found[0].1,
        "each delivery gets links of its own"
    );

    // Only hashes are kept: no token in the outbox or in the links table.
    let store = db.store().await;
    let kept = approval_link::Entity::find().all(&store.db).await.unwrap();
    assert_eq!(kept.len(), 8, "2 targets x 2 voters x 2 verdicts");
    let outbox = orch::store::webhook_delivery::Entity::find()
        .all(&store.db)
        .await
        .unwrap();
    for (_, p) in &found {
        let token = p.trim_start_matches("/links/");
        assert!(outbox.iter().all(|d| !d.payload.contains(token)));
        assert!(kept.iter().all(|l| l.token_hash != token));
        assert!(
            kept.iter()
                .any(|l| l.token_hash == orch::store::links::digest(token))
        );
    }

    let server = Served::start(db.orch());
    // Without its voter's login a link shows nothing of the gate and votes for no one: whoever
    // reads the channel holds every approver's buttons.
    let stranger = Visitor::new(&server.url(""));
    let page = stranger.get(&alice_approve).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("Sign in as alice"), "{}", page.body);
    assert!(page.body.contains(&format!("/login?next={alice_approve}")));
    assert!(
        !page.body.contains("ready"),
        "no excerpt without the voter's login"
    );
    let page = stranger.post(&alice_approve, &[]).await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{}", page.body);
    assert_eq!(
        page.headers.get("referrer-policy").unwrap(),
        "strict-origin",
        "the token never leaves in a Referer"
    );

    // A scanner or a preview fetching the link a hundred times records nothing.
    let alice = signed_in(&db, &server, "alice").await;
    for _ in 0..100 {
        let page = alice.get(&alice_approve).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(
            page.body.contains("Approve as alice</button>"),
            "{}",
            page.body
        );
    }
    let page = alice.get(&alice_approve).await;
    assert!(page.body.contains("https://github.com/acme/app/pull/7"));
    assert!(page.body.contains("ready"), "the excerpt is shown");
    assert!(
        orch::store::votes::votes(&store.db, gate.id)
            .await
            .unwrap()
            .is_empty(),
        "GET never votes"
    );

    // Two POSTs of the link at once: one votes, the other is told the link was used.
    let (a, b) = tokio::join!(
        alice.post(&alice_approve, &[("note", "<script>x</script>")]),
        alice.post(&alice_approve, &[("note", "<script>x</script>")])
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::OK, StatusCode::GONE],
        "{} / {}",
        a.body,
        b.body
    );
    let (first, second) = if a.status == StatusCode::OK {
        (&a, &b)
    } else {
        (&b, &a)
    };
    assert!(
        first.body.contains("your vote is recorded"),
        "{}",
        first.body
    );
    assert!(!first.body.contains("<script>x"), "the note is escaped");
    assert!(second.body.contains("was used at"), "{}", second.body);
    assert!(
        !second.body.contains("ready"),
        "a used link shows nothing of the gate"
    );
    let votes = orch::store::votes::votes(&store.db, gate.id).await.unwrap();
    assert_eq!(votes.len(), 1);
    assert_eq!(votes[0].voter, "alice");
    assert_eq!(votes[0].channel, Channel::Link);
    let again = alice.get(&alice_approve).await;
    assert_eq!(again.status, StatusCode::GONE, "a used link's page says so");

    // Forged and altered links are unknown, and cast nothing.
    let mut altered = alice_approve.clone();
    let last = altered.pop().unwrap();
    altered.push(if last == '0' { '1' } else { '0' });
    for forged in [altered.as_str(), "/links/0000", "/links/%3Cscript%3E"] {
        let page = alice.post(forged, &[]).await;
        assert_eq!(
            page.status,
            StatusCode::NOT_FOUND,
            "{forged}: {}",
            page.body
        );
        assert!(page.body.contains("not one orch sent"), "{}", page.body);
    }

    // Carol's reject link vetoes; an unused link afterwards is told who decided.
    let carol = signed_in(&db, &server, "carol").await;
    let veto = carol.post(&carol_reject, &[]).await;
    assert_eq!(veto.status, StatusCode::OK, "{}", veto.body);
    let row = orch::store::query::get_task(&store.db, gate.id)
        .await
        .unwrap();
    assert_eq!(row.approval_state, Some(ApprovalState::Rejected));
    assert_eq!(row.approver.as_deref(), Some("carol"));
    let (_, carol_approve) = found.iter().find(|(l, _)| l == "Approve as carol").unwrap();
    let late = carol.post(carol_approve, &[]).await;
    assert_eq!(late.status, StatusCode::CONFLICT, "{}", late.body);
    assert!(
        late.body.contains("already rejected by `carol`"),
        "{}",
        late.body
    );
    assert_eq!(
        orch::store::votes::votes(&store.db, gate.id)
            .await
            .unwrap()
            .len(),
        2
    );
    server.stop();
}

/// An approve link for `voter` on `gate`: its path.
async fn plant(
    db: &sea_orm::DatabaseConnection,
    gate: &orch::store::agents_task::Model,
    voter: &str,
    expires_at: chrono::DateTime<chrono::Utc>,
) -> String {
    let token = crate::support::links::plant(db, gate, voter, Verdict::Approve, expires_at).await;
    format!("/links/{token}")
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_foreign_and_the_initiators_links_cast_nothing(#[case] backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    users(&db);
    // No ORCH_PUBLIC_URL: the run says its notifications go without links.
    db.run(LINKED)
        .env("USER", "bob")
        .success()
        .stderr_has("`ORCH_PUBLIC_URL` is not set");
    let gate = by_task(&db.rows().await, "deploy").clone();
    let store = db.store().await;
    let later = orch::store::now() + chrono::Duration::hours(1);
    let expired = plant(
        &store.db,
        &gate,
        "alice",
        orch::store::now() - chrono::Duration::seconds(5),
    )
    .await;
    let bobs = plant(&store.db, &gate, "bob", later).await;
    let carols = plant(&store.db, &gate, "carol", later).await;

    let server = Served::start(db.orch());
    let alice = signed_in(&db, &server, "alice").await;
    let page = alice.get(&expired).await;
    assert_eq!(page.status, StatusCode::GONE, "{}", page.body);
    let page = alice.post(&expired, &[]).await;
    assert_eq!(page.status, StatusCode::GONE, "{}", page.body);
    assert!(page.body.contains("expired at"), "{}", page.body);
    assert!(
        !page.body.contains("echo ready"),
        "an expired link shows nothing of the gate"
    );
    // bob started the run: a link in his name still cannot vote on it.
    let bob = signed_in(&db, &server, "bob").await;
    let page = bob.get(&bobs).await;
    assert_eq!(
        page.status,
        StatusCode::OK,
        "the page opens; the vote is what is refused"
    );
    let page = bob.post(&bobs, &[]).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.body);
    assert!(page.body.contains("started the run"), "{}", page.body);
    // Signed in as alice, carol's link is not hers to use.
    for page in [alice.get(&carols).await, alice.post(&carols, &[]).await] {
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.body);
        assert!(page.body.contains("was sent to `carol`"), "{}", page.body);
    }
    // The task ran again since carol's link was sent: it shows and casts nothing.
    let change = orch::store::transition::TaskChange {
        attempt: Some(2),
        finished_at: Some(orch::store::now()),
        ..Default::default()
    };
    orch::store::transition::update_fields(&store.db, gate.id, change)
        .await
        .unwrap();
    let carol = signed_in(&db, &server, "carol").await;
    for page in [carol.get(&carols).await, carol.post(&carols, &[]).await] {
        assert_eq!(page.status, StatusCode::CONFLICT, "{}", page.body);
        assert!(
            page.body.contains("ran again since it was shown"),
            "{}",
            page.body
        );
    }
    assert!(
        orch::store::votes::votes(&store.db, gate.id)
            .await
            .unwrap()
            .is_empty(),
        "no refused link voted"
    );
    let kept = approval_link::Entity::find().all(&store.db).await.unwrap();
    assert!(
        kept.iter().all(|l| l.used_at.is_none()),
        "a refused vote spends no link"
    );
    server.stop();
}

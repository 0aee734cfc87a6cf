//! One-click approval links in a gate's notifications (`approval: {links: 24h}`). They are
//! minted when a delivery is sent, not when it is recorded: the outbox row keeps the body
//! without them, so no usable token is ever stored (only the links' hashes, in
//! `approval_links`), and a retry sends fresh ones. Slack keeps the seed's exact `text` and
//! gains Block Kit URL buttons; the email body gains a `links` object. Generic webhooks, read
//! by programs with their own credentials, get none.

use serde_json::{Map, Value, json};

use super::target::TargetKind;
use crate::format::time::timestamp;
use crate::store::links::Minted;
use crate::store::{Store, links};

/// Slack allows 25 elements in an actions block: five voters' two buttons each per block.
const VOTERS_PER_ROW: usize = 5;
/// At most this many voters get buttons (8 actions blocks, with the section and the context
/// line well under Slack's 50 blocks and its message size); the rest are told to use the task
/// page.
const MAX_VOTERS: usize = 40;

/// `payload` with links added for each voter of task `task_id`'s gate, when this is a gate's
/// notification to Slack or email, the gate sends links and `origin` (`ORCH_PUBLIC_URL`) is
/// known; otherwise (or if minting fails, said as a warning) `payload` as it is.
pub async fn expand(
    store: &Store,
    origin: Option<&str>,
    kind: TargetKind,
    event: &str,
    task_id: Option<i64>,
    payload: &str,
) -> String {
    let (Some(origin), Some(id)) = (origin, task_id) else {
        return payload.to_owned();
    };
    if event != "awaiting_approval" || kind == TargetKind::Webhook {
        return payload.to_owned();
    }
    match mint(store, id).await {
        Ok(minted) if !minted.is_empty() => {
            let Ok(mut body) = serde_json::from_str::<Value>(payload) else {
                return payload.to_owned();
            };
            add(kind, &mut body, origin, &minted);
            serde_json::to_string(&body).unwrap_or_else(|_| payload.to_owned())
        }
        Ok(_) => payload.to_owned(),
        Err(e) => {
            crate::warning::say(crate::warning::Warning::Notify(e));
            payload.to_owned()
        }
    }
}

async fn mint(store: &Store, id: i64) -> crate::error::Result<Vec<Minted>> {
    let row = crate::store::query::get_task(&store.db, id).await?;
    let initiator = crate::store::votes::initiator(&store.db, &row.run_id).await?;
    links::mint(&store.db, &row, initiator.as_deref(), crate::store::now()).await
}

/// `text` (a receiver's answer, stored with the delivery) with any link token masked: a relay
/// that echoes the request would otherwise put live links in the outbox.
pub fn mask_tokens(text: &str) -> String {
    static TOKEN: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"/links/[0-9A-Fa-f]{64}").expect("a valid pattern")
    });
    TOKEN.replace_all(text, "/links/***").into_owned()
}

fn url(origin: &str, token: &str) -> String {
    format!("{origin}/links/{token}")
}

/// Adds `minted` to a Slack or email `body`.
pub fn add(kind: TargetKind, body: &mut Value, origin: &str, minted: &[Minted]) {
    let Value::Object(map) = body else {
        return;
    };
    match kind {
        TargetKind::Slack => {
            let text = map.get("text").and_then(Value::as_str).unwrap_or_default();
            let blocks = slack_blocks(text, origin, minted);
            map.insert("blocks".into(), blocks);
        }
        TargetKind::Email => {
            let mut links = Map::new();
            for m in minted {
                links.insert(
                    m.voter.clone(),
                    json!({
                        "approve": url(origin, &m.approve),
                        "reject": url(origin, &m.reject),
                        "expires_at": timestamp(&m.expires_at),
                    }),
                );
            }
            map.insert("links".into(), Value::Object(links));
        }
        TargetKind::Webhook => {}
    }
}

/// The message's sentence as a section (Slack's mrkdwn needs `&`, `<`, `>` escaped, so a task
/// name cannot forge a link or a mention), a row of buttons per few voters, and a line saying
/// what the buttons do and until when.
fn slack_blocks(text: &str, origin: &str, minted: &[Minted]) -> Value {
    let mut blocks = vec![json!({
        "type": "section",
        "text": {"type": "mrkdwn", "text": capped(&mrkdwn_escape(text), SECTION_LIMIT)},
    })];
    let shown = &minted[..minted.len().min(MAX_VOTERS)];
    for (row, voters) in shown.chunks(VOTERS_PER_ROW).enumerate() {
        let mut elements = Vec::new();
        for (i, m) in voters.iter().enumerate() {
            let n = row * VOTERS_PER_ROW + i;
            elements.push(button(
                &format!("Approve as {}", m.voter),
                "primary",
                &url(origin, &m.approve),
                &format!("approve_{n}"),
            ));
            elements.push(button(
                &format!("Reject as {}", m.voter),
                "danger",
                &url(origin, &m.reject),
                &format!("reject_{n}"),
            ));
        }
        blocks.push(json!({"type": "actions", "elements": elements}));
    }
    let until = minted
        .first()
        .map(|m| timestamp(&m.expires_at))
        .unwrap_or_default();
    let mut note = format!(
        "Each button is one approver's own: it opens a page that asks to confirm, and works \
         once, until {until}."
    );
    if minted.len() > MAX_VOTERS {
        note.push_str(&format!(
            " {} more approvers: use the task page.",
            minted.len() - MAX_VOTERS
        ));
    }
    blocks.push(json!({
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": mrkdwn_escape(&note)}],
    }));
    Value::Array(blocks)
}

fn button(label: &str, style: &str, url: &str, action_id: &str) -> Value {
    // Slack cuts a button's text at 75 characters.
    let label: String = label.chars().take(75).collect();
    json!({
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "style": style,
        "url": url,
        "action_id": action_id,
    })
}

/// Slack refuses a message whose section text is longer (a long outputs URI could make it so,
/// and the whole notification would be lost); the top-level `text` keeps it whole.
const SECTION_LIMIT: usize = 3000;

/// `s` cut to at most `limit` characters, never inside an escape (`&amp;`), marked with `…`.
fn capped(s: &str, limit: usize) -> String {
    if s.chars().count() <= limit {
        return s.to_owned();
    }
    let mut cut: String = s.chars().take(limit - 1).collect();
    if let Some(amp) = cut.rfind('&')
        && !cut[amp..].contains(';')
    {
        cut.truncate(amp);
    }
    cut.push('…');
    cut
}

/// Slack's three control characters in mrkdwn, escaped as its docs say.
fn mrkdwn_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minted(n: usize) -> Vec<Minted> {
        (0..n)
            .map(|i| Minted {
                voter: format!("u{i}"),
                approve: format!("a{i}"),
                reject: format!("r{i}"),
                expires_at: chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
            })
            .collect()
    }

    #[test]
    fn slack_keeps_its_text_and_gets_buttons_within_its_limits() {
        let text = "Task <deploy> & co awaiting approval: https://x/pr/1";
        let mut body = json!({"text": text});
        add(
            TargetKind::Slack,
            &mut body,
            "https://orch.example.com",
            &minted(43),
        );
        assert_eq!(body["text"], text, "the seed's text is kept as it is");
        let blocks = body["blocks"].as_array().unwrap();
        assert_eq!(
            blocks[0]["text"]["text"],
            "Task &lt;deploy&gt; &amp; co awaiting approval: https://x/pr/1"
        );
        let rows: Vec<&Value> = blocks.iter().filter(|b| b["type"] == "actions").collect();
        assert_eq!(rows.len(), MAX_VOTERS / VOTERS_PER_ROW);
        assert!(
            rows.iter()
                .all(|r| r["elements"].as_array().unwrap().len() <= 25)
        );
        assert_eq!(
            rows[0]["elements"][0]["url"],
            "https://orch.example.com/links/a0"
        );
        assert_eq!(rows[0]["elements"][1]["text"]["text"], "Reject as u0");
        assert!(blocks.len() <= 50);
        let last = blocks.last().unwrap()["elements"][0]["text"]
            .as_str()
            .unwrap();
        assert!(last.contains("3 more approvers"), "{last}");
    }

    #[test]
    fn a_long_sentence_is_cut_in_the_section_only() {
        let text = format!("Task t awaiting approval: https://x/{}&y", "a".repeat(3100));
        let mut body = json!({"text": text});
        add(TargetKind::Slack, &mut body, "https://o", &minted(1));
        assert_eq!(body["text"], text);
        let section = body["blocks"][0]["text"]["text"].as_str().unwrap();
        assert!(
            section.chars().count() <= SECTION_LIMIT,
            "{}",
            section.len()
        );
        assert!(section.ends_with('…'));
        assert_eq!(capped("ab&amp;cd", 5), "ab…", "never half an escape");
    }

    #[test]
    fn echoed_tokens_are_masked() {
        let token = "ab".repeat(32);
        let echo = format!("HTTP 400: {{\"url\": \"https://o/links/{token}\"}}");
        assert_eq!(
            mask_tokens(&echo),
            "HTTP 400: {\"url\": \"https://o/links/***\"}"
        );
    }

    #[test]
    fn email_gets_a_links_object_by_voter() {
        let mut body = json!({"run_id": "r", "task": "t"});
        add(
            TargetKind::Email,
            &mut body,
            "http://127.0.0.1:8080",
            &minted(2),
        );
        assert_eq!(
            body["links"]["u1"]["reject"],
            "http://127.0.0.1:8080/links/r1"
        );
        assert_eq!(body["links"]["u0"]["expires_at"], "2027-01-15T08:00:00Z");
        assert_eq!(body["run_id"], "r");
    }
}

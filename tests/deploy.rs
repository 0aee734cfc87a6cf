//! The scheduling snippets in `deploy/` (shown in docs/ORCHESTRATION.md §11) are real: the
//! docs hold them verbatim, systemd accepts the units, and every one runs the nightly plan at
//! 02:30 UTC like the GitHub workflow.

use std::path::Path;

fn read(rel: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).unwrap()
}

#[test]
fn the_docs_show_the_deploy_files_verbatim() {
    let docs = read("docs/ORCHESTRATION.md");
    for file in [
        "deploy/cron/orch-nightly",
        "deploy/systemd/orch-nightly.service",
        "deploy/systemd/orch-nightly.timer",
        "deploy/kubernetes/cronjob.yaml",
    ] {
        assert!(
            docs.contains(&read(file)),
            "{file} is not in the docs as it is"
        );
    }
    assert!(read(".github/workflows/orchestrator-nightly.yml").contains("- cron: \"30 2 * * *\""));
}

#[test]
fn the_cron_line_runs_the_nightly_plan_at_0230() {
    let text = read("deploy/cron/orch-nightly");
    let line = text
        .lines()
        .find(|l| !l.starts_with('#') && !l.contains('=') && !l.trim().is_empty())
        .unwrap();
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(&fields[..5], ["30", "2", "*", "*", "*"]);
    assert_eq!(fields[5], "orch", "/etc/cron.d lines name the user");
    assert!(line.contains("/usr/local/bin/orch run plans/nightly.yaml"));
    assert!(!line.contains('%'), "cron would cut the line at a %");
    assert!(text.contains("CRON_TZ=UTC"));
}

#[test]
fn the_kubernetes_cronjob_runs_the_nightly_plan() {
    let text = read("deploy/kubernetes/cronjob.yaml");
    let job: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    assert_eq!(job["apiVersion"], "batch/v1");
    assert_eq!(job["kind"], "CronJob");
    assert_eq!(job["spec"]["schedule"], "30 2 * * *");
    assert_eq!(job["spec"]["timeZone"], "Etc/UTC");
    assert_eq!(job["spec"]["concurrencyPolicy"], "Forbid");
    let pod = &job["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Never");
    let container = &pod["containers"][0];
    assert_eq!(
        container["command"],
        serde_json::json!(["orch", "run", "plans/nightly.yaml"])
    );
    assert_eq!(container["envFrom"][0]["secretRef"]["name"], "orch-secrets");
}

#[test]
fn systemd_accepts_the_units() {
    if std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: systemd-analyze is not installed");
        return;
    }
    // The real binary and an existing user, so `verify` checks the rest of the unit.
    let dir = tempfile::tempdir().unwrap();
    let service = read("deploy/systemd/orch-nightly.service")
        .replace(
            "/usr/local/bin/orch",
            &crate::support::orch_bin().display().to_string(),
        )
        .replace("User=orch", "User=root");
    std::fs::write(dir.path().join("orch-nightly.service"), service).unwrap();
    std::fs::write(
        dir.path().join("orch-nightly.timer"),
        read("deploy/systemd/orch-nightly.timer"),
    )
    .unwrap();
    let out = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(dir.path().join("orch-nightly.service"))
        .arg(dir.path().join("orch-nightly.timer"))
        .output()
        .unwrap();
    // `verify` exits 0 on unknown keys, only warning: any warning is a failure here.
    let warnings = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && warnings.trim().is_empty(),
        "{warnings}"
    );
    let calendar = std::process::Command::new("systemd-analyze")
        .args(["calendar", "*-*-* 02:30:00 UTC"])
        .output()
        .unwrap();
    assert!(calendar.status.success());
}

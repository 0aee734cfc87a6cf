//! The scheduling snippets in `deploy/` (shown in docs/ORCHESTRATION.md §11) are real: the
//! docs hold them verbatim, systemd accepts the units, and every one runs the nightly plan at
//! 02:30 UTC like the GitHub workflow. The worker units (docs/WORKERS.md) drain on a stop.

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
    let workers = read("docs/WORKERS.md");
    for file in [
        "deploy/systemd/orch-worker.service",
        "deploy/kubernetes/worker-deployment.yaml",
    ] {
        assert!(
            workers.contains(&read(file)),
            "{file} is not in docs/WORKERS.md as it is"
        );
    }
}

#[test]
fn the_kubernetes_workers_drain_on_a_pod_stop() {
    let text = read("deploy/kubernetes/worker-deployment.yaml");
    let deployment: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    assert_eq!(deployment["apiVersion"], "apps/v1");
    assert_eq!(deployment["kind"], "Deployment");
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(
        deployment["spec"]["selector"]["matchLabels"],
        deployment["spec"]["template"]["metadata"]["labels"]
    );
    // Long enough for a drain: the worker finishes what runs before it exits.
    assert!(pod["terminationGracePeriodSeconds"].as_u64().unwrap() >= 3600);
    let container = &pod["containers"][0];
    let command: Vec<String> = serde_json::from_value(container["command"].clone()).unwrap();
    assert_eq!(&command[..2], ["orch", "worker"]);
    assert_eq!(container["envFrom"][0]["secretRef"]["name"], "orch-secrets");
    // The command line is one orch accepts.
    let out = std::process::Command::new(crate::support::orch_bin())
        .args(&command[1..])
        .arg("--help")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_systemd_worker_drains_on_stop() {
    let text = read("deploy/systemd/orch-worker.service");
    let key = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("no {k}= in orch-worker.service"))
            .to_owned()
    };
    assert_eq!(key("Type"), "simple");
    assert_eq!(key("KillSignal"), "SIGTERM");
    // SIGTERM to the worker alone: the default (the whole cgroup) would stop the tasks too.
    assert_eq!(key("KillMode"), "mixed");
    assert_eq!(key("Restart"), "on-failure");
    assert!(key("ExecStart").starts_with("/usr/local/bin/orch worker "));
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
    let worker = read("deploy/systemd/orch-worker.service")
        .replace(
            "/usr/local/bin/orch",
            &crate::support::orch_bin().display().to_string(),
        )
        .replace("User=orch", "User=root");
    std::fs::write(dir.path().join("orch-worker.service"), worker).unwrap();
    std::fs::write(
        dir.path().join("orch-nightly.timer"),
        read("deploy/systemd/orch-nightly.timer"),
    )
    .unwrap();
    let out = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(dir.path().join("orch-nightly.service"))
        .arg(dir.path().join("orch-nightly.timer"))
        .arg(dir.path().join("orch-worker.service"))
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

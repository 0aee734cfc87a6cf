//! `orch run PLAN`: load and resolve the plan (no database needed for errors or
//! `--dry-run`), then execute it, print the summary and exit 0 (nothing failed), 1 (a task
//! failed), or 130/143 when interrupted.

use std::time::Duration;

use crate::cli::RunArgs;
use crate::config::{Config, GitHubStep};
use crate::error::{Error, Result, code};
use crate::notify::notifier::extra_secrets;
use crate::notify::target::effective;
use crate::notify::{Notifier, Target};
use crate::plan::is_valid_name;
use crate::plan::resolve::{Resolved, resolve};
use crate::runner::session::Session;
use crate::runner::{RunReport, RunRequest, execute, run_id};
use crate::secrets::MASK;
use crate::store::connect::{Pool, Schema};
use crate::store::delivery::DeliveryFilter;
use crate::store::lease::LeaseKey;
use crate::store::{Store, TaskStatus};
use crate::ui::progress::reporter;
use crate::ui::{Output, github, summary};
use crate::warning::{Warning, say};

pub async fn run(config: &Config, args: RunArgs, out: Output) -> Result<i32> {
    // Arguments first: a bad one must not create or migrate a database on its way out.
    if let Some(id) = args.run_id.as_deref().filter(|id| !is_valid_name(id)) {
        return Err(Error::BadRunId { id: id.to_owned() });
    }
    let plan = crate::plan::load(&args.plan)?;
    let target = config.database()?;
    let env = &config.env;
    let (targets, notify_warnings) = effective(&plan.notify, env);
    let extra = extra_secrets(&target, &targets, env);
    let only = if args.with_deps {
        crate::plan::graph::with_dependencies(&plan.tasks, &args.only)
    } else {
        args.only.clone()
    };
    let resolved = resolve(&plan, env, &only, &extra)?;

    notify_warnings.into_iter().for_each(say);
    if args.dry_run {
        out.print(&dry_run(&plan, &resolved, &targets, args.run_id.as_deref()))?;
        return Ok(code::SUCCESS);
    }

    let store = super::open_store(config, Schema::Migrate, Pool::Shared).await?;
    check_approvers(&store, config, &resolved).await?;
    if args.enqueue {
        return enqueue(&store, config, &plan, resolved, targets, args, out).await;
    }
    let mut session = Session::begin(&store, config).await?;
    if !args.allow_overlap {
        session
            .lease(LeaseKey::Plan(plan.name.clone()), &plan.name, None)
            .await?;
    }
    session.beat();
    let notifier = Notifier::for_drive(&store, config, targets, &resolved.redactor);
    session.resend_stale(&notifier).await;

    let request = request(config, &plan, resolved, &args, notifier.clone());
    let report = execute(&store, &mut session, request, &*reporter(out)).await;
    session.release().await;
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            // The run broke (the database went away): give deliveries under way a moment,
            // so they are not cut off halfway, then report.
            notifier.drain(CANCELLED_WAIT).await;
            return Err(e);
        }
    };
    let code = conclude(&store, config, &notifier, &report, out, args.json).await;
    // After the summary: it shows what orch saw, the error says where it did not land.
    let recorded = session.check_database();
    session.end(config.notify.wait).await;
    recorded?;
    code
}

/// What both a local run and an enqueued one record: the plan, its options and who ran it.
fn request<'a>(
    config: &Config,
    plan: &'a crate::plan::Plan,
    resolved: Resolved,
    args: &RunArgs,
    notifier: Notifier,
) -> RunRequest<'a> {
    RunRequest {
        plan,
        resolved,
        run_id: args.run_id.clone(),
        log_dir: args.log_dir.clone(),
        trigger: config.trigger.to_owned(),
        initiator: config.initiator(),
        concurrency: args.concurrency.unwrap_or(plan.concurrency),
        notifier,
    }
}

/// `--enqueue`: the run and its rows recorded for workers, its id printed (alone off a
/// terminal, for `RUN=$(orch run --enqueue …)`).
async fn enqueue(
    store: &Store,
    config: &Config,
    plan: &crate::plan::Plan,
    resolved: Resolved,
    targets: Vec<Target>,
    args: RunArgs,
    out: Output,
) -> Result<i32> {
    if !crate::plan::is_valid_name(&args.queue) {
        return Err(Error::BadWorkerOption {
            text: args.queue,
            why: "a queue name is letters, digits, `.`, `_` and `-`",
        });
    }
    let notifier = Notifier::for_drive(store, config, targets, &resolved.redactor);
    let tasks = resolved.tasks.len();
    let request = request(config, plan, resolved, &args, notifier);
    let run = crate::runner::enqueue(store, request, &args.queue).await?;
    if args.json {
        out.json(&serde_json::json!({
            "run_id": run.run_id,
            "queue": args.queue,
            "tasks": tasks,
            "concurrency": run.concurrency,
        }))?;
    } else if out.tty {
        out.print(&format!(
            "run {} enqueued on queue `{}`: {tasks} task(s), at most {} at once; `orch worker` \
             runs them, `orch wait {}` waits for the run",
            run.run_id,
            args.queue,
            run.concurrency.unwrap_or(1),
            run.run_id
        ))?;
    } else {
        out.print(&run.run_id)?;
    }
    Ok(code::SUCCESS)
}

/// After a run (or a resume): the summary, the bounded wait for notifications, and the exit
/// code: 130/143 after a signal, 7 after a cancel, 1 when a task of the run failed, else 0.
pub(super) async fn conclude(
    store: &Store,
    config: &Config,
    notifier: &Notifier,
    report: &RunReport,
    out: Output,
    json: bool,
) -> Result<i32> {
    // Printed first, checked last: a closed stdout must not cut deliveries off halfway.
    let printed = if json {
        out.json(&summary::json(report))
    } else {
        out.print(&summary::render(report, out.tty))
    };
    if let Some(step) = &config.github {
        report_to_github(report, step, out, json);
    }
    // Interrupted: a short wait; what is left is retried by the next command.
    let wait = match report.cancelled {
        Some(_) => notifier.settings().wait.min(CANCELLED_WAIT),
        None => notifier.settings().wait,
    };
    let scope = DeliveryFilter {
        run_id: Some(report.run.run_id.clone()),
        ..Default::default()
    };
    let what = format!("run {}", report.run.run_id);
    super::notify::settle(store, notifier, scope, &what, wait).await;
    printed?;
    Ok(match &report.cancelled {
        Some(stop) => stop.exit_code(),
        None if report.count(TaskStatus::Failed) > 0 => code::TASK_FAILED,
        None => code::SUCCESS,
    })
}

/// The job summary and failure annotations of a GitHub Actions step. A summary that cannot
/// be written is a warning: the run's outcome does not depend on the job page.
fn report_to_github(report: &RunReport, step: &GitHubStep, out: Output, json: bool) {
    let notes = github::annotations(report);
    if !notes.is_empty() {
        // The runner reads workflow commands on both streams; keep `--json` stdout clean.
        if json {
            eprint!("{notes}");
        } else if let Err(e) = out.print(&notes)
            && !e.is_broken_pipe()
        {
            say(Warning::Output(e));
        }
    }
    let Some(path) = &step.step_summary else {
        return;
    };
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, github::markdown(report).as_bytes()));
    if let Err(e) = written {
        say(Warning::JobSummary {
            path: path.clone(),
            error: e,
        });
    }
}

/// After a signal, how long orch still waits for notifications under way.
const CANCELLED_WAIT: Duration = Duration::from_secs(5);

fn dry_run(
    plan: &crate::plan::Plan,
    resolved: &Resolved,
    targets: &[Target],
    run_id: Option<&str>,
) -> String {
    let id = match run_id {
        Some(id) => id.to_owned(),
        None => run_id::render(&plan.run_id_template, &plan.name, crate::store::now()),
    };
    let mut out = format!(
        "dry run of plan `{}` ({}): nothing is executed or recorded\nrun id: {id}\n",
        plan.name,
        plan.source.path.display()
    );
    for t in &resolved.tasks {
        out.push_str(&format!("\ntask {}\n", t.spec.name));
        let argv: Vec<String> = t.argv.iter().map(|a| resolved.redactor.redact(a)).collect();
        out.push_str(&format!(
            "  argv: {}\n",
            serde_json::to_string(&argv).unwrap_or_default()
        ));
        out.push_str(&format!(
            "  cwd: {}\n",
            t.cwd.as_ref().map_or_else(
                || "(current directory)".to_owned(),
                |c| c.display().to_string()
            )
        ));
        for (k, v) in &t.env {
            let shown = if resolved.secret_names.iter().any(|n| n == k) {
                MASK.to_owned()
            } else {
                resolved.redactor.redact(v)
            };
            out.push_str(&format!("  env: {k}={shown}\n"));
        }
        out.push_str(&format!("  approval: {}\n", t.spec.approval.as_str()));
        if !t.spec.depends_on.is_empty() {
            out.push_str(&format!(
                "  depends_on: {} (when: {})\n",
                t.spec.depends_on.join(", "),
                t.spec.when.as_str()
            ));
        }
        if t.spec.retries > 0 {
            out.push_str(&format!("  retries: {}\n", t.spec.retries));
        }
        if let Some(timeout) = &t.spec.timeout {
            out.push_str(&format!("  timeout: {}\n", timeout.text));
        }
    }
    for t in targets {
        let events: Vec<&str> = t.on.iter().map(|e| e.as_str()).collect();
        out.push_str(&format!(
            "\nnotify {} ({}, {}{}): on {}\n",
            t.name,
            t.kind,
            t.url,
            t.secret
                .as_ref()
                .map(|s| format!(", signed with {s}"))
                .unwrap_or_default(),
            events.join(", ")
        ));
    }
    out
}

/// Every `approvers` entry of the tasks to run names a user, or a group someone is in, and
/// enough of them may vote to reach `required` (enabled, and not the initiator under
/// `forbid_self`, who must then be an orch user to be told from the approvers): a gate no
/// one could approve is refused before anything runs, not found out at the gate.
async fn check_approvers(store: &Store, config: &Config, resolved: &Resolved) -> Result<()> {
    let initiator = config.initiator();
    for task in &resolved.tasks {
        let Some(policy) = &task.spec.gate.policy else {
            continue;
        };
        match (&policy.links, &config.public_url) {
            (Some(_), None) => say(Warning::LinksWithoutPublicUrl {
                task: task.spec.name.clone(),
            }),
            (Some(_), Some(url)) if !url.https && !url.loopback => say(Warning::LinksOverHttp {
                origin: url.origin.clone(),
            }),
            _ => {}
        }
        if policy.approvers.is_empty() {
            continue;
        }
        let entries: Vec<String> = policy.approvers.iter().map(|a| a.written()).collect();
        let found = crate::store::users::resolve_approvers(&store.db, &entries).await?;
        if !found.unknown.is_empty() {
            return Err(Error::UnknownApprovers {
                task: task.spec.name.clone(),
                entries: found.unknown,
            });
        }
        let mut eligible = found.voters;
        let mut barred = None;
        if policy.forbid_self {
            if crate::store::users::find(&store.db, &initiator)
                .await?
                .is_none()
            {
                return Err(Error::InitiatorNotAUser {
                    task: task.spec.name.clone(),
                    initiator,
                });
            }
            if eligible.contains(&initiator) {
                eligible.retain(|v| *v != initiator);
                barred = Some(initiator.clone());
            }
        }
        if (eligible.len() as u64) < u64::from(policy.required) {
            return Err(Error::TooFewApprovers {
                task: task.spec.name.clone(),
                eligible,
                required: policy.required,
                initiator: barred,
            });
        }
    }
    Ok(())
}

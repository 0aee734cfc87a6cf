//! Claim latency for the workers' benchmark (`bench/run.sh`, scenario "Workers"): CLAIMERS
//! claimers at once, each on a connection of its own as separate worker processes would be,
//! claim ready tasks with orch's own claim statement (`store::claim`) until none is left.
//! Prints one line: `CLAIMS P50_MS P99_MS CLAIMS_PER_S`. With `explain`, the plan the
//! database chooses for the claim instead.
//!
//!     bench_claim DATABASE_URL CLAIMERS
//!     bench_claim DATABASE_URL explain
//!
//! The ready tasks are made beforehand by `orch run PLAN --enqueue` (independent tasks, all
//! ready at once), so the rows are exactly what a worker meets.

use std::io::Write;
use std::time::{Duration, Instant};

use orch::store::claim::{Claimer, claim};
use sea_orm::{ConnectOptions, Database};

fn usage() -> std::io::Error {
    std::io::Error::other("usage: bench_claim DATABASE_URL CLAIMERS")
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let url = args.next().ok_or_else(usage)?;
    let what = args.next().ok_or_else(usage)?;
    let queues = vec!["default".to_owned()];
    if what == "explain" {
        let db = Database::connect(url.as_str())
            .await
            .map_err(std::io::Error::other)?;
        let by = Claimer {
            owner: "bench:explain:0",
            queues: &queues,
            labels: &[],
        };
        let plan = orch::store::claim::explain(&db, &by)
            .await
            .map_err(std::io::Error::other)?;
        writeln!(std::io::stdout(), "{plan}")?;
        return Ok(());
    }
    let claimers: usize = what.parse().map_err(|_| usage())?;
    // Connected first: the figures are the claims', not the connections'.
    let mut connections = Vec::with_capacity(claimers);
    for _ in 0..claimers {
        let mut options = ConnectOptions::new(url.clone());
        options.max_connections(1).sqlx_logging(false);
        connections.push(
            Database::connect(options)
                .await
                .map_err(std::io::Error::other)?,
        );
    }
    let started = Instant::now();
    let mut all = tokio::task::JoinSet::new();
    for (i, db) in connections.into_iter().enumerate() {
        let queues = queues.clone();
        all.spawn(async move {
            let owner = format!("bench:{i}:0");
            let by = Claimer {
                owner: &owner,
                queues: &queues,
                labels: &[],
            };
            let mut took: Vec<Duration> = Vec::new();
            loop {
                let t = Instant::now();
                match claim(&db, &by).await {
                    Ok(Some(_)) => took.push(t.elapsed()),
                    Ok(None) => break,
                    Err(e) => panic!("claim failed: {e}"),
                }
            }
            took
        });
    }
    let mut took: Vec<Duration> = Vec::new();
    while let Some(done) = all.join_next().await {
        took.extend(done.map_err(std::io::Error::other)?);
    }
    let wall = started.elapsed().as_secs_f64();
    took.sort();
    if took.is_empty() {
        return Err(std::io::Error::other("nothing was ready to claim"));
    }
    let at = |q: f64| took[((took.len() as f64 * q).ceil() as usize).clamp(1, took.len()) - 1];
    writeln!(
        std::io::stdout(),
        "{} {:.3} {:.3} {:.0}",
        took.len(),
        at(0.50).as_secs_f64() * 1000.0,
        at(0.99).as_secs_f64() * 1000.0,
        took.len() as f64 / wall
    )?;
    Ok(())
}

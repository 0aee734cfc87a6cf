//! The floor under `orch run` in the run-overhead benchmark (`bench/run.sh`): the same
//! process handling orch does for each task, with no database, no log file and no plan.
//! Each command runs in its own process group with stdout and stderr piped and read to the
//! end, then waited for, one after another, on a single-threaded tokio runtime as orch does.
//! What `orch run` costs above this is its own bookkeeping.
//!
//!     bench_spawn N PROGRAM [ARGS...]

use std::process::Stdio;

use tokio::io::AsyncReadExt;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| std::io::Error::other("usage: bench_spawn N PROGRAM [ARGS...]"))?;
    let argv: Vec<String> = args.collect();
    let Some((program, rest)) = argv.split_first() else {
        return Err(std::io::Error::other(
            "usage: bench_spawn N PROGRAM [ARGS...]",
        ));
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        for _ in 0..n {
            let mut child = tokio::process::Command::new(program)
                .args(rest)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .process_group(0)
                .spawn()?;
            let (mut out, mut err) = (child.stdout.take(), child.stderr.take());
            let (mut a, mut b) = (Vec::new(), Vec::new());
            let read_out = async {
                if let Some(o) = out.as_mut() {
                    o.read_to_end(&mut a).await?;
                }
                Ok::<_, std::io::Error>(())
            };
            let read_err = async {
                if let Some(e) = err.as_mut() {
                    e.read_to_end(&mut b).await?;
                }
                Ok::<_, std::io::Error>(())
            };
            let (status, r1, r2) = tokio::join!(child.wait(), read_out, read_err);
            status?;
            r1?;
            r2?;
        }
        Ok(())
    })
}

//! Parse, run, exit with the code the error chose. Nothing else.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // The one rustls crypto provider of the whole binary (sqlx's rustls uses ring). Installed
    // before anything can open a TLS connection; an error means one is already installed.
    let _ = rustls::crypto::ring::default_provider().install_default();

    let cli = orch::cli::Cli::parse();
    // One thread for everything but `serve`: a run's work is a chain of short steps (commit,
    // spawn, wait), and hopping between worker threads at each step cost more than it saved
    // (docs/PERFORMANCE.md). The API server answers many clients at once on every core.
    let mut builder = if matches!(cli.command, orch::cli::Command::Serve(_)) {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let code = match runtime.block_on(orch::commands::dispatch(cli)) {
        Ok(code) => code,
        // `orch tasks list | head -1`: the reader left, which is not our failure.
        Err(e) if e.is_broken_pipe() => 0,
        Err(e) => {
            eprintln!("error: {e}");
            e.code()
        }
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

//! Parse, run, exit with the code the error chose. Nothing else.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // The one rustls crypto provider of the whole binary (sqlx's rustls uses ring). Installed
    // before anything can open a TLS connection; an error means one is already installed.
    let _ = rustls::crypto::ring::default_provider().install_default();

    let cli = orch::cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
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

//! `orch completions SHELL` and `orch man`: generated from the same clap definitions as
//! `--help`, so they cannot drift from the real command line.

use clap::CommandFactory;

use crate::cli::{Cli, EXIT_CODES};
use crate::error::{Error, Result};
use crate::ui::Output;

pub fn completions(shell: clap_complete::Shell, out: Output) -> Result<i32> {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "orch", &mut buf);
    out.print(&String::from_utf8_lossy(&buf))?;
    Ok(0)
}

/// orch(1): one page with every command's usage line (there are no separate pages per
/// command; `orch COMMAND --help` has each one's options), and the exit codes.
pub fn man(out: Output) -> Result<i32> {
    let command = Cli::command();
    let man = clap_mangen::Man::new(command.clone());
    let mut buf = Vec::new();
    let io = |source| Error::Io {
        context: "cannot render the man page".to_owned(),
        source,
    };
    man.render_title(&mut buf).map_err(io)?;
    man.render_name_section(&mut buf).map_err(io)?;
    man.render_synopsis_section(&mut buf).map_err(io)?;
    man.render_description_section(&mut buf).map_err(io)?;
    man.render_options_section(&mut buf).map_err(io)?;
    let mut page = String::from_utf8_lossy(&buf).into_owned();
    page.push_str(".SH COMMANDS\n");
    commands(&command, "orch", &mut page);
    page.push_str(".PP\n`orch COMMAND \\-\\-help` lists each command's options.\n");
    page.push_str(".SH \"EXIT STATUS\"\n.nf\n");
    page.push_str(&roff_escape(EXIT_CODES.trim_start_matches("Exit codes:\n")));
    page.push_str("\n.fi\n");
    out.print(&page)?;
    Ok(0)
}

/// One `.TP` entry per leaf command: its usage line, then what it does.
fn commands(cmd: &clap::Command, path: &str, page: &mut String) {
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = format!("{path} {}", sub.get_name());
        if sub.has_subcommands() {
            commands(sub, &name, page);
            continue;
        }
        let usage = sub
            .clone()
            .bin_name(&name)
            .render_usage()
            .to_string()
            .trim_start_matches("Usage: ")
            .to_owned();
        let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
        page.push_str(&format!(
            ".TP\n\\fB{}\\fR\n{}\n",
            roff_escape(&usage),
            roff_escape(&about)
        ));
    }
}

fn roff_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('-', "\\-")
}

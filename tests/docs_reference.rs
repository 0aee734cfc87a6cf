//! The docs stay true: docs/COMMANDS.md is generated from the clap definitions (the same ones
//! `--help`, the man page and the completions come from), the exit codes are tabled once,
//! and every relative link in the README and docs/ resolves, anchors included.
//!
//! After changing `src/cli.rs` or the exit codes, regenerate the reference with
//! `ORCH_BLESS=1 cargo test --test integration docs_reference`.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::CommandFactory;

const REGENERATE: &str = "ORCH_BLESS=1 cargo test --test integration docs_reference";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn the_command_reference_is_generated_from_the_cli() {
    let rendered = render_reference();
    let path = repo().join("docs/COMMANDS.md");
    if std::env::var_os("ORCH_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &rendered).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != rendered {
        panic!(
            "docs/COMMANDS.md is not what the clap definitions give: run `{REGENERATE}`\n{}",
            first_difference(&committed, &rendered)
        );
    }
}

#[test]
fn every_exit_code_constant_is_in_the_table() {
    let documented: Vec<u8> = exit_codes().iter().map(|(code, _)| *code).collect();
    let constants: Vec<u8> = exit_code_constants().iter().map(|(_, v)| *v).collect();
    assert_eq!(
        documented, constants,
        "`EXIT_CODES` in src/cli.rs and `mod code` in src/error.rs disagree"
    );
    assert_eq!(
        i32::from(constants[constants.len() - 1]),
        orch::error::code::TERMINATED
    );
}

/// The table lives in docs/COMMANDS.md; the other docs point at it instead of repeating it.
#[test]
fn the_exit_codes_are_tabled_once() {
    for doc in ["README.md", "docs/ORCHESTRATION.md", "docs/PLANS.md"] {
        let text = read(doc);
        let rows: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("| 130") || l.starts_with("| 143"))
            .collect();
        assert!(
            rows.is_empty(),
            "{doc} repeats the exit-code table: {rows:?}"
        );
        assert!(
            text.contains("COMMANDS.md#exit-codes"),
            "{doc} does not link to the exit-code table"
        );
    }
}

#[test]
fn the_readme_is_a_short_introduction() {
    let readme = read("README.md");
    assert!(
        readme.len() <= 10 * 1024,
        "README.md is {} bytes: keep it to what a newcomer needs (at most 10 KiB) and move \
         reference material to docs/",
        readme.len()
    );
    for command in [
        "cargo run --release -- run plans/nightly.yaml",
        "cargo test --workspace",
    ] {
        assert!(readme.contains(command), "README.md lost `{command}`");
    }
}

#[test]
fn relative_links_in_the_docs_resolve() {
    let mut docs = vec![PathBuf::from("README.md"), PathBuf::from("CHANGELOG.md")];
    let mut in_docs: Vec<PathBuf> = std::fs::read_dir(repo().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .map(|p| p.strip_prefix(repo()).unwrap().to_owned())
        .collect();
    in_docs.sort();
    docs.extend(in_docs);

    let mut anchors: HashMap<PathBuf, BTreeSet<String>> = HashMap::new();
    let mut broken = Vec::new();
    for doc in &docs {
        let text = read(doc.to_str().unwrap());
        for link in relative_links(&text) {
            let (file, anchor) = link.split_once('#').unwrap_or((&link, ""));
            let target = if file.is_empty() {
                doc.clone()
            } else {
                normalize(&doc.parent().unwrap().join(file))
            };
            if !repo().join(&target).exists() {
                broken.push(format!("{}: `{link}`: no such file", doc.display()));
                continue;
            }
            if anchor.is_empty() || target.extension().is_none_or(|e| e != "md") {
                continue;
            }
            let known = anchors
                .entry(target.clone())
                .or_insert_with(|| heading_anchors(&read(target.to_str().unwrap())));
            if !known.contains(anchor) {
                broken.push(format!(
                    "{}: `{link}`: {} has no heading `#{anchor}`",
                    doc.display(),
                    target.display()
                ));
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

// ---- the reference ----

fn render_reference() -> String {
    let mut cli = orch::cli::Cli::command();
    cli.build();
    let mut md = String::new();
    md.push_str("# Command reference\n\n");
    md.push_str(
        "<!-- Generated from the clap definitions in src/cli.rs by tests/docs_reference.rs: \
         do not edit by hand. -->\n\n",
    );
    let _ = writeln!(
        md,
        "Every command of orch with its arguments and options, as `orch COMMAND --help` prints \
         them, and the exit codes. The file is generated from the same definitions as `--help`, \
         the man page and the shell completions, and a test fails when they differ (regenerate \
         it with `{REGENERATE}`). Examples with their output are in [USAGE.md](USAGE.md), plan \
         files in [PLANS.md](PLANS.md), and every environment variable orch reads in \
         [ORCHESTRATION.md](ORCHESTRATION.md#environment-variables).\n"
    );

    md.push_str("- [Global options](#global-options)\n");
    for sub in subcommands(&cli) {
        let _ = writeln!(md, "- [{}](#{})", title(sub), slug(&title(sub)));
        for leaf in subcommands(sub) {
            let _ = writeln!(md, "  - [{}](#{})", title(leaf), slug(&title(leaf)));
        }
    }
    md.push_str("- [Exit codes](#exit-codes)\n\n");

    md.push_str("## Global options\n\n");
    let _ = writeln!(md, "```text\n{}\n```\n", usage(&cli));
    if let Some(about) = cli.get_long_about().or(cli.get_about()) {
        let _ = writeln!(md, "{}\n", sentence(&about.to_string()));
    }
    md.push_str("These apply to every command:\n\n");
    for arg in cli.get_arguments().filter(|a| shown(a)) {
        md.push_str(&argument(arg));
    }
    md.push('\n');

    for sub in subcommands(&cli) {
        command(sub, 2, &mut md);
        for leaf in subcommands(sub) {
            command(leaf, 3, &mut md);
        }
    }

    md.push_str("## Exit codes\n\n");
    md.push_str(
        "Every command exits with one of these codes (`orch --help` and `orch man` list them \
         too). Each comes from one constant in `orch::error::code` (src/error.rs), chosen by \
         `Error::code()`; what a command returns in particular is in its section above.\n\n",
    );
    md.push_str("| code | constant | meaning |\n|---|---|---|\n");
    let constants = exit_code_constants();
    for (code, meaning) in exit_codes() {
        let name = constants
            .iter()
            .find(|(_, v)| *v == code)
            .map(|(n, _)| format!("`code::{n}`"))
            .unwrap_or_default();
        let _ = writeln!(md, "| {code} | {name} | {} |", prose(&meaning));
    }
    md
}

/// One command's section: what it does, its usage line, its arguments and options.
fn command(cmd: &clap::Command, level: usize, md: &mut String) {
    let _ = writeln!(md, "{} {}\n", "#".repeat(level), title(cmd));
    let _ = writeln!(md, "```text\n{}\n```\n", usage(cmd));
    // What it does first; how it exits (a paragraph of its own in the doc comment) last.
    let about = cmd
        .get_long_about()
        .or(cmd.get_about())
        .map(|a| a.to_string())
        .unwrap_or_default();
    let (exits, does): (Vec<&str>, Vec<&str>) = about
        .split("\n\n")
        .partition(|p| p.starts_with("Exit status:"));
    for paragraph in does {
        let _ = writeln!(md, "{}\n", sentence(paragraph));
    }
    if cmd.has_subcommands() {
        md.push_str("Subcommands:\n\n");
        for sub in subcommands(cmd) {
            let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
            let _ = writeln!(
                md,
                "- [`{}`](#{}): {}",
                sub.get_name(),
                slug(&title(sub)),
                sentence(&about)
            );
        }
        md.push('\n');
    }
    let positionals: Vec<&clap::Arg> = cmd.get_positionals().filter(|a| shown(a)).collect();
    if !positionals.is_empty() {
        md.push_str("Arguments:\n\n");
        for arg in positionals {
            md.push_str(&argument(arg));
        }
        md.push('\n');
    }
    let options: Vec<&clap::Arg> = cmd
        .get_arguments()
        .filter(|a| !a.is_positional() && shown(a) && !a.is_global_set())
        .collect();
    if !options.is_empty() {
        md.push_str("Options:\n\n");
        for arg in options {
            md.push_str(&argument(arg));
        }
        md.push('\n');
    }
    for paragraph in exits {
        let _ = writeln!(md, "{}\n", sentence(paragraph));
    }
    if let Some(after) = cmd.get_after_long_help().or(cmd.get_after_help()) {
        let _ = writeln!(md, "{}\n", prose(&after.to_string()));
    }
}

/// `- `--log-dir <LOG_DIR>`: help. Default: `.orch/logs`.` and the like.
fn argument(arg: &clap::Arg) -> String {
    let name = match arg.get_short() {
        Some(short) if arg.get_long().is_some() => format!("-{short}, {arg}"),
        _ => arg.to_string(),
    };
    let mut line = format!("- `{name}`");
    let help = arg
        .get_long_help()
        .or(arg.get_help())
        .map(|h| prose(&h.to_string()))
        .unwrap_or_default();
    if !help.is_empty() {
        // clap drops the full stop of a one-line help; the facts after it need one.
        let stop = if help.ends_with('.') { "" } else { "." };
        let _ = write!(line, ": {}{stop}", help.replace("\n\n", "\n\n  "));
    }
    let mut facts = Vec::new();
    if arg.is_positional() && !arg.is_required_set() {
        facts.push("Optional.".to_owned());
    }
    let values: Vec<String> = arg
        .get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| format!("`{}`", v.get_name()))
        .collect();
    // A flag's possible values are `true` and `false`: not worth saying.
    if !values.is_empty() && arg.get_action().takes_values() && !arg.is_hide_possible_values_set() {
        facts.push(format!("Values: {}.", values.join(", ")));
    }
    let defaults: Vec<String> = arg
        .get_default_values()
        .iter()
        .map(|v| format!("`{}`", v.to_string_lossy()))
        .collect();
    if !defaults.is_empty() && arg.get_action().takes_values() && !arg.is_hide_default_value_set() {
        facts.push(format!("Default: {}.", defaults.join(", ")));
    }
    if let Some(env) = arg.get_env() {
        facts.push(format!(
            "Environment variable: `{}`.",
            env.to_string_lossy()
        ));
    }
    for fact in facts {
        let _ = write!(line, " {fact}");
    }
    line.push('\n');
    line
}

fn subcommands(cmd: &clap::Command) -> impl Iterator<Item = &clap::Command> {
    cmd.get_subcommands()
        .filter(|s| s.get_name() != "help" && !s.is_hide_set())
}

fn shown(arg: &clap::Arg) -> bool {
    !arg.is_hide_set() && !matches!(arg.get_id().as_str(), "help" | "version")
}

fn title(cmd: &clap::Command) -> String {
    cmd.get_bin_name().unwrap_or(cmd.get_name()).to_owned()
}

fn usage(cmd: &clap::Command) -> String {
    let usage = cmd.clone().render_usage().to_string();
    usage
        .trim_start_matches("Usage: ")
        .lines()
        .map(str::trim)
        .collect::<Vec<_>>()
        .join("\n")
}

/// An about text as a sentence: clap drops the full stop of a one-paragraph doc comment.
fn sentence(text: &str) -> String {
    let text = prose(text);
    if text.ends_with(['.', ':', '!', '?']) || text.is_empty() {
        text
    } else {
        format!("{text}.")
    }
}

/// Help text as Markdown: outside code spans, `<` would open an HTML tag on GitHub.
fn prose(text: &str) -> String {
    text.trim()
        .split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 0 {
                part.replace('<', "&lt;")
            } else {
                part.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("`")
}

/// The rows of `EXIT_CODES` (what `--help` and the man page print): code and meaning.
fn exit_codes() -> Vec<(u8, String)> {
    let mut rows: Vec<(u8, String)> = Vec::new();
    for line in orch::cli::EXIT_CODES.lines().skip(1) {
        let trimmed = line.trim();
        let (head, rest) = trimmed.split_once(' ').unwrap_or((trimmed, ""));
        match head.parse::<u8>() {
            Ok(code) => rows.push((code, rest.trim().to_owned())),
            Err(_) => {
                let last = rows.last_mut().expect("EXIT_CODES starts with a code");
                last.1.push(' ');
                last.1.push_str(trimmed);
            }
        }
    }
    rows
}

/// `pub const NAME: i32 = N;` in src/error.rs's `mod code`, in order.
fn exit_code_constants() -> Vec<(String, u8)> {
    let source = read("src/error.rs");
    let start = source
        .find("pub mod code {")
        .expect("`mod code` in src/error.rs");
    let block = &source[start..];
    let block = &block[..block.find('}').unwrap()];
    block
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub const "))
        .map(|l| {
            let (name, value) = l.split_once(": i32 = ").unwrap();
            (
                name.to_owned(),
                value.trim_end_matches(';').parse().unwrap(),
            )
        })
        .collect()
}

// ---- links ----

/// The lines outside fenced code blocks.
fn unfenced(text: &str) -> Vec<&str> {
    let mut fenced = false;
    let mut lines = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fenced = !fenced;
        } else if !fenced {
            lines.push(line);
        }
    }
    lines
}

/// The Markdown outside fenced code blocks, with inline code spans blanked out.
fn prose_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for line in unfenced(text) {
        let mut out = String::new();
        for (i, part) in line.split('`').enumerate() {
            if i % 2 == 0 {
                out.push_str(part);
            } else {
                out.push_str("``");
            }
        }
        lines.push(out);
    }
    lines
}

/// Targets of `[text](target)` that are not URLs.
fn relative_links(text: &str) -> Vec<String> {
    let mut links = Vec::new();
    for line in prose_lines(text) {
        let mut rest = line.as_str();
        while let Some(i) = rest.find("](") {
            rest = &rest[i + 2..];
            let Some(end) = rest.find(')') else { break };
            let target = rest[..end].split_whitespace().next().unwrap_or("");
            let external = ["http://", "https://", "mailto:"]
                .iter()
                .any(|p| target.starts_with(p));
            if !target.is_empty() && !external {
                links.push(target.to_owned());
            }
            rest = &rest[end..];
        }
    }
    links
}

/// The anchors GitHub gives a document's headings.
fn heading_anchors(text: &str) -> BTreeSet<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut anchors = BTreeSet::new();
    for line in unfenced(text) {
        let line = line.replace('`', "");
        let hashes = line.chars().take_while(|c| *c == '#').count();
        if hashes == 0 || hashes > 6 || !line[hashes..].starts_with(' ') {
            continue;
        }
        let base = slug(&line[hashes..]);
        let n = seen.entry(base.clone()).or_insert(0);
        anchors.insert(if *n == 0 {
            base.clone()
        } else {
            format!("{base}-{n}")
        });
        *n += 1;
    }
    anchors
}

/// GitHub's heading slug: lowercase, punctuation dropped, spaces to hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

fn first_difference(committed: &str, rendered: &str) -> String {
    let old: Vec<&str> = committed.lines().collect();
    let new: Vec<&str> = rendered.lines().collect();
    let at = old
        .iter()
        .zip(&new)
        .position(|(a, b)| a != b)
        .unwrap_or(old.len().min(new.len()));
    let show = |lines: &[&str]| {
        lines
            .iter()
            .skip(at)
            .take(5)
            .map(|l| l.to_string())
            .collect::<Vec<_>>()
    };
    format!(
        "first difference at line {}:\n  committed: {:?}\n  generated: {:?}",
        at + 1,
        show(&old),
        show(&new)
    )
}

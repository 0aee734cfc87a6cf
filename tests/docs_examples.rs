//! The shell examples in the docs stay true: every fenced block of the files in [`COVERED`]
//! that has a line starting with `$ orch` or `$ curl` is replayed, block after block in the
//! order of the file, against one fresh SQLite database per file: `.orch/orch.db` in a fresh
//! `git clone` of this checkout (its last commit), as the README starts from.
//!
//! Run it alone with `cargo test --test integration docs_examples`; a failure names the file
//! and line, and shows both sides normalised.
//!
//! # How a block reads
//!
//! - A line starting with `$ ` is a command; the lines after it, up to the next `$ ` line,
//!   are what it prints (stdout then stderr, or stderr then stdout; for curl stdout only, as
//!   its progress meter is not shown on a terminal; blank lines at the end do not count). A
//!   line `…` stands for any number of lines. A command followed by no lines is not checked
//!   for output.
//! - Its exit code is 0, unless the next command is `$ echo $?` and the line after it is
//!   the code it exits with:
//!
//!   ```text
//!   $ orch approve 3 --by bob
//!   error: task 3 was already approved by `alice` at …: a decision cannot be changed
//!   $ echo $?
//!   5
//!   ```
//! - `NAME=value orch …` sets the variable; `2>/dev/null` means stdout only is shown;
//!   `| tail -N` its last N lines.
//! - `$ orch serve … &` starts a real `orch serve` on an ephemeral loopback port, its stderr
//!   in `serve.log` (`2>…` is ignored); a `$ curl` then has `localhost:8001` /
//!   `127.0.0.1:8001` replaced by that address; `$ kill %1` (or `$ kill %1; cat serve.log`)
//!   stops it.
//! - Output is compared modulo what changes from run to run: timestamps, dates (and so run
//!   ids with a date), durations (`duration_ms` in JSON too), the folder of a `file://…/.orch/`
//!   URL or of the scratch folder (written `/tmp/fresh`), a JSON `owner` (`host:pid:…`), an
//!   HTTP `date:` header and the width of table columns (runs of spaces count as one). Ids are
//!   not masked: in a fresh database they are what the docs show.
//!
//! # Markers (HTML comments on the lines right before the block's fence, one or more)
//!
//! - `<!-- not replayed: why -->`: the block needs what a test cannot give (a second machine,
//!   a webhook receiver, a crash, GitHub) and is skipped.
//! - `<!-- replay after: orch run plans/nightly.yaml -->`: these commands (`;`-separated) run
//!   first and must exit 0, their output unchecked: the state that the block starts from,
//!   shown elsewhere in prose.
//! - `<!-- replay fresh after: … -->`: the same, in a new database (migrated, as one in use
//!   is: a block that shows a state the blocks before it did not lead to; no command needed).
//! - `<!-- output not compared: why -->`: exit codes are checked, output not (it depends on
//!   the commit replayed: the files `code.review` finds, the plan's hash).
//! - `<!-- file: gate.yaml -->`: the block (a plan) is that file, in the scratch folder
//!   (every one, from the start: a plan may be shown after the commands that use it).
//! - `<!-- output of: orch run plans/nightly.yaml -->`: the block is only output, what this
//!   command prints (and it exits 0); for an example run another way (`cargo run -- …`).
//!
//! An unmarked block with a command the test cannot run, or whose exit code or output
//! disagrees, fails the test.

use std::path::{Path, PathBuf};

use crate::support::process::{Cmd, Outcome};

/// The files whose examples are replayed. Add one once its examples replay (or are marked).
/// (The last four have no `$ orch` / `$ curl` block today: listed, a new one is replayed.)
const COVERED: &[&str] = &[
    "README.md",
    "docs/USAGE.md",
    "docs/ORCHESTRATION.md",
    "docs/PLANS.md",
    "docs/ARCHITECTURE.md",
    "docs/COMMANDS.md",
    "docs/CONFIGURATION.md",
    "docs/PERFORMANCE.md",
    "docs/IDENTITY.md",
    "docs/WEB.md",
    "docs/WORKERS.md",
];

/// What the docs write for the scratch folder.
const DOC_DIR: &str = "/tmp/fresh";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_shell_examples_in_the_docs_replay() {
    for file in COVERED {
        replay_file(file);
    }
}

#[test]
fn every_markdown_file_of_the_docs_is_replayed() {
    let mut files = vec!["README.md".to_owned()];
    for entry in std::fs::read_dir(repo().join("docs")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.ends_with(".md") {
            files.push(format!("docs/{name}"));
        }
    }
    let missing: Vec<&String> = files
        .iter()
        .filter(|f| !COVERED.contains(&f.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "add {missing:?} to `COVERED` in tests/docs_examples.rs"
    );
}

/// One fenced block with a `$ orch` / `$ curl` line.
struct Block {
    /// 1-based line of the opening fence.
    line: usize,
    /// The HTML comments on the lines right before its fence, without `<!--` and `-->`.
    markers: Vec<String>,
    lines: Vec<String>,
}

impl Block {
    /// What follows `prefix` in the block's marker that starts with it.
    fn marker(&self, prefix: &str) -> Option<&str> {
        self.markers.iter().find_map(|m| m.strip_prefix(prefix))
    }
}

/// One command of a block, with what the docs say it prints and exits with.
struct Step {
    line: usize,
    command: String,
    output: Vec<String>,
    code: i32,
}

fn blocks(text: &str) -> Vec<Block> {
    let mut found = Vec::new();
    let mut open: Option<Block> = None;
    let mut comments: Vec<String> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") {
            match open.take() {
                Some(block) => {
                    let output_of =
                        block.marker("output of:").is_some() || block.marker("file:").is_some();
                    if output_of
                        || block
                            .lines
                            .iter()
                            .any(|l| l.starts_with("$ orch") || l.starts_with("$ curl"))
                    {
                        found.push(block);
                    }
                }
                None => {
                    open = Some(Block {
                        line: i + 1,
                        markers: std::mem::take(&mut comments),
                        lines: Vec::new(),
                    });
                }
            }
        } else if let Some(block) = open.as_mut() {
            block.lines.push(line.to_owned());
        }
        let p = line.trim();
        if p.starts_with("<!--") && p.ends_with("-->") && open.is_none() {
            comments.push(p["<!--".len()..p.len() - "-->".len()].trim().to_owned());
        } else if !p.is_empty() && !p.starts_with("```") {
            comments.clear();
        }
    }
    found
}

fn steps(block: &Block) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut lines = block.lines.iter().enumerate().peekable();
    while let Some((i, line)) = lines.next() {
        let Some(command) = line.strip_prefix("$ ") else {
            match steps.last_mut() {
                Some(step) => step.output.push(line.clone()),
                None if line.trim().is_empty() => {}
                None => panic!(
                    "line {}: text before the first `$ ` command",
                    block.line + 1 + i
                ),
            }
            continue;
        };
        if command.trim() == "echo $?" {
            let (_, code) = lines.next().expect("`$ echo $?` is followed by the code");
            let step = steps.last_mut().expect("`$ echo $?` follows a command");
            step.code = code
                .trim()
                .parse()
                .unwrap_or_else(|_| panic!("line {}: `{code}` is not an exit code", step.line));
            continue;
        }
        steps.push(Step {
            line: block.line + 1 + i,
            command: command.to_owned(),
            output: Vec::new(),
            code: 0,
        });
    }
    for step in &mut steps {
        while step.output.last().is_some_and(|l| l.trim().is_empty()) {
            step.output.pop();
        }
    }
    steps
}

/// Splits a command line the way sh would for what the docs use: words, '…' and "…".
fn words(command: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = command.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    word.push(c);
                }
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => word.extend(chars.next()),
                        c => word.push(c),
                    }
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// The scratch folder a file's examples run in: a fresh clone of this checkout (its last
/// commit), as the README starts from; the plan's tasks look at its files and its history.
fn scratch() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    Cmd::new("git")
        .args(["clone", "--quiet"])
        .arg(repo())
        .arg(dir.path().join("clone"))
        .success();
    dir
}

/// orch in the scratch folder, with its default database there and nothing of the machine
/// running the tests leaking in.
fn orch(dir: &Path) -> Cmd {
    Cmd::orch_in(dir)
        .env_remove("CI")
        .env_remove("SLACK_WEBHOOK")
        .env_remove("EMAIL_WEBHOOK")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("ORCH_API_TOKEN")
        // The nightly plan's own settings, at their defaults as the docs show them.
        .env_remove("SITE_BASE_URL")
        .env_remove("REPORT_DIR")
        .env("USER", "tester")
}

/// What of a command's output the docs show: `2>/dev/null` hides stderr, `| tail -N` keeps
/// the last lines of stdout.
struct Shown {
    stdout_only: bool,
    tail: Option<usize>,
}

struct Replay {
    file: &'static str,
    /// The `file:` blocks, name and text, written into every scratch folder.
    files: Vec<(String, String)>,
    /// Holds the clone, `clone/`: where the commands run.
    scratch: tempfile::TempDir,
    /// `orch serve` in the background, and the address it listens on.
    server: Option<(std::process::Child, String)>,
    /// The address of the last server started, kept after it stops (for its log).
    last_address: Option<String>,
}

fn replay_file(file: &'static str) {
    let text = std::fs::read_to_string(repo().join(file)).unwrap();
    let files: Vec<(String, String)> = blocks(&text)
        .into_iter()
        .filter_map(|block| {
            let name = block.marker("file:")?.trim().to_owned();
            Some((name, block.lines.join("\n") + "\n"))
        })
        .collect();
    for (i, (name, _)) in files.iter().enumerate() {
        assert!(
            !files[..i].iter().any(|(n, _)| n == name),
            "{file}: two blocks are `file: {name}`"
        );
    }
    let mut replay = Replay {
        file,
        files,
        scratch: scratch(),
        server: None,
        last_address: None,
    };
    replay.write_files();
    for block in blocks(&text) {
        if block.marker("not replayed:").is_some() {
            continue;
        }
        let setup = match block.marker("replay fresh after:") {
            Some(setup) => {
                replay.stop_server();
                replay.scratch = scratch();
                replay.write_files();
                // A database already there: its first command does not apply the migrations.
                orch(&replay.dir()).args(["migrate", "up"]).success();
                Some(setup)
            }
            None => block.marker("replay after:"),
        };
        if let Some(setup) = setup {
            for command in setup.split(';').map(str::trim).filter(|c| !c.is_empty()) {
                let (outcome, _) = replay.run(block.line, command);
                if outcome.code() != Some(0) {
                    outcome.fail(&format!(
                        "{file}:{}: the block's `replay after` command should exit 0",
                        block.line
                    ));
                }
            }
        }
        if block.marker("file:").is_some() {
            continue; // written into every scratch folder
        }
        if let Some(command) = block.marker("output of:") {
            let mut output = block.lines.clone();
            while output.last().is_some_and(|l| l.trim().is_empty()) {
                output.pop();
            }
            replay.check(&Step {
                line: block.line,
                command: command.trim().to_owned(),
                output,
                code: 0,
            });
            continue;
        }
        let compare = block.marker("output not compared:").is_none();
        for mut step in steps(&block) {
            if !compare {
                step.output.clear();
            }
            replay.check(&step);
        }
    }
    replay.stop_server();
}

impl Replay {
    /// Runs one command line; says which of its output the docs show.
    fn run(&mut self, line: usize, command: &str) -> (Outcome, Shown) {
        let mut words = words(command);
        let background = words.last().is_some_and(|w| w == "&");
        if background {
            words.pop();
        }
        let mut shown = Shown {
            stdout_only: words.iter().any(|w| w == "2>/dev/null"),
            tail: None,
        };
        if let Some(pipe) = words.iter().position(|w| w == "|") {
            let n = match &words[pipe + 1..] {
                [tail, n] if tail == "tail" => n.trim_start_matches('-').parse().ok(),
                _ => None,
            };
            shown.tail = Some(n.unwrap_or_else(|| {
                panic!(
                    "{}:{line}: `{command}`: of pipes, only `| tail -N` is replayed",
                    self.file
                )
            }));
            words.truncate(pipe);
        }
        // `2>serve.log` and the like: the test keeps the streams itself.
        words.retain(|w| !w.starts_with("2>") && !w.starts_with(">"));
        // `NAME=value orch …`
        let env_len = words
            .iter()
            .take_while(|w| {
                w.split_once('=').is_some_and(|(k, _)| {
                    !k.is_empty() && k.chars().all(|c| c.is_ascii_uppercase() || c == '_')
                })
            })
            .count();
        let env: Vec<(String, String)> = words
            .drain(..env_len)
            .map(|w| {
                let (k, v) = w.split_once('=').unwrap();
                (k.to_owned(), v.to_owned())
            })
            .collect();
        let outcome = self.run_words(line, command, &words, &env, background);
        (outcome, shown)
    }

    fn run_words(
        &mut self,
        line: usize,
        command: &str,
        words: &[String],
        env: &[(String, String)],
        background: bool,
    ) -> Outcome {
        let file = self.file;
        let unsupported = || -> ! {
            panic!(
                "{file}:{line}: `{command}` cannot be replayed: mark its block with \
                 `<!-- not replayed: why -->` or write it as the test runs it"
            )
        };
        match words.first().map(String::as_str) {
            Some("orch") if background => {
                if words.get(1).map(String::as_str) != Some("serve") {
                    unsupported();
                }
                self.start_server(&words[2..]);
                Cmd::new("true").output()
            }
            Some("kill") if words.get(1).map(String::as_str) == Some("%1;") => {
                self.stop_server();
                match &words[2..] {
                    [] => Cmd::new("true").output(),
                    [cat, log] if cat == "cat" => {
                        Cmd::new("cat").current_dir(self.dir()).arg(log).output()
                    }
                    _ => unsupported(),
                }
            }
            Some("orch") => {
                let mut cmd = orch(&self.dir()).args(&words[1..]);
                for (k, v) in env {
                    cmd = cmd.env(k, v);
                }
                cmd.output()
            }
            Some("curl") => {
                let Some((_, address)) = &self.server else {
                    panic!("{file}:{line}: `{command}` needs an `orch serve … &` before it");
                };
                let args = words[1..].iter().map(|w| {
                    w.replace("localhost:8001", address)
                        .replace("127.0.0.1:8001", address)
                });
                Cmd::new("curl").current_dir(self.dir()).args(args).output()
            }
            _ => unsupported(),
        }
    }

    fn check(&mut self, step: &Step) {
        let (outcome, shown) = self.run(step.line, &step.command);
        let file = self.file;
        if outcome.code() != Some(step.code) {
            outcome.fail(&format!(
                "{file}:{}: `{}` should exit {} as the docs show",
                step.line, step.command, step.code
            ));
        }
        if step.output.is_empty() {
            return;
        }
        let expected = normalise(&step.output.join("\n"), &[]);
        let dirs = self.dirs();
        let (out, err) = match &self.last_address {
            // The address the docs show, for the one the test's server listens on.
            Some(address) => (
                outcome.stdout().replace(address, "127.0.0.1:8001"),
                outcome.stderr().replace(address, "127.0.0.1:8001"),
            ),
            None => (outcome.stdout(), outcome.stderr()),
        };
        // curl's own stderr is its progress meter, which a terminal does not show.
        let err = if step.command.starts_with("curl ") || shown.stdout_only {
            String::new()
        } else {
            err
        };
        let out = match shown.tail {
            Some(n) => {
                let lines: Vec<&str> = out.lines().collect();
                lines[lines.len().saturating_sub(n)..].join("\n")
            }
            None => out,
        };
        let actual = [format!("{out}{err}"), format!("{err}{out}")].map(|s| normalise(&s, &dirs));
        if !actual.iter().any(|actual| matches(&expected, actual)) {
            outcome.fail(&format!(
                "{file}:{}: `{}` prints other than the docs show\n--- docs (normalised):\n{}\n--- \
                 orch (normalised):\n{}",
                step.line,
                step.command,
                expected.join("\n"),
                actual[0].join("\n"),
            ));
        }
    }

    /// `orch serve ARGS --bind 127.0.0.1:0`, its stderr in `serve.log` as the docs have it;
    /// returns once it says where it listens.
    fn start_server(&mut self, args: &[String]) {
        self.stop_server();
        let log = self.dir().join("serve.log");
        let child = orch(&self.dir())
            .arg("serve")
            .args(args)
            .args(["--bind", "127.0.0.1:0"])
            .into_std()
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        let address = loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(rest) = text.split("listening on http://").nth(1) {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(20),
                "orch serve did not say where it listens:\n{text}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        self.last_address = Some(address.clone());
        self.server = Some((child, address));
    }

    /// SIGTERM to the server, then waits for it to exit (its log complete).
    fn stop_server(&mut self) {
        if let Some((mut child, _)) = self.server.take() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let _ = child.wait();
        }
    }

    fn write_files(&self) {
        for (name, text) in &self.files {
            std::fs::write(self.dir().join(name), text).unwrap();
        }
    }

    fn dir(&self) -> PathBuf {
        self.scratch.path().join("clone")
    }

    /// The scratch folder as orch may print it.
    fn dirs(&self) -> Vec<PathBuf> {
        let dir = self.dir();
        let canonical = dir.canonicalize().unwrap_or_else(|_| dir.clone());
        vec![canonical, dir]
    }
}

/// Lines with what changes from run to run replaced by placeholders, runs of spaces by one.
fn normalise(text: &str, dirs: &[PathBuf]) -> Vec<String> {
    let mut text = text.to_owned();
    for dir in dirs {
        text = text.replace(&*dir.to_string_lossy(), DOC_DIR);
    }
    let mut lines: Vec<String> = text
        .lines()
        .map(|line| {
            let line = mask_after(
                &mask_after(line, "file://", "/.orch/"),
                "\"owner\":\"",
                "\"",
            );
            let line = mask_after(&line, "\"duration_ms\":", ",");
            let line = mask_after(&line, "date: ", " GMT");
            let line = mask_after(&line, "\"owner\": \"", "\"");
            let line = mask_after(&line, "\"duration_ms\": ", ",");
            mask_dates(&line)
                .split_whitespace()
                .map(mask_token)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    lines
}

/// `2026-12-01`, `2026-12-01T09:23:53Z`, `…T09-23-53Z` (in file names), `…58.222337Z` and
/// `2026-12-01 09:23:53` become `<TIME>`; anywhere in a line.
fn mask_dates(line: &str) -> String {
    let b = line.as_bytes();
    let digits =
        |at: usize, n: usize| b.len() >= at + n && b[at..at + n].iter().all(u8::is_ascii_digit);
    let is = |at: usize, c: &[u8]| b.get(at).is_some_and(|x| c.contains(x));
    let mut out = String::new();
    let mut i = 0;
    let mut copied = 0;
    while i < b.len() {
        let date = digits(i, 4)
            && is(i + 4, b"-")
            && digits(i + 5, 2)
            && is(i + 7, b"-")
            && digits(i + 8, 2);
        if !date || (i > 0 && b[i - 1].is_ascii_digit()) {
            i += 1;
            continue;
        }
        let mut end = i + 10;
        if is(end, b"T ")
            && digits(end + 1, 2)
            && is(end + 3, b":-")
            && digits(end + 4, 2)
            && is(end + 6, b":-")
            && digits(end + 7, 2)
        {
            end += 9;
            if is(end, b".") && digits(end + 1, 1) {
                end += 1;
                while digits(end, 1) {
                    end += 1;
                }
            }
            if is(end, b"Z") {
                end += 1;
            }
        } else if is(end, b"-") && digits(end + 1, 6) {
            end += 7; // `{date}-{time}` in a run id
        }
        out.push_str(&line[copied..i]);
        out.push_str("<TIME>");
        i = end;
        copied = end;
    }
    out.push_str(&line[copied..]);
    out
}

/// A duration (`49ms`, `1.2s`, `3m`) becomes `<DURATION>`.
fn mask_token(token: &str) -> String {
    let number_end = token
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(token.len());
    let unit = &token[number_end..];
    let is_duration = number_end > 0
        && token[..1].chars().all(|c| c.is_ascii_digit())
        && ["ns", "µs", "us", "ms", "s", "m", "h"].contains(&unit);
    if is_duration {
        "<DURATION>".to_owned()
    } else {
        token.to_owned()
    }
}

/// Whatever lies between each `start` and the next `end` becomes `<…>`: a folder in a file
/// URL, a `host:pid:…` owner, a duration in JSON.
fn mask_after(line: &str, start: &str, end: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(at) = rest.find(start) {
        let after = &rest[at + start.len()..];
        let Some(stop) = after.find(end) else { break };
        out.push_str(&rest[..at + start.len()]);
        out.push_str("<…>");
        rest = &after[stop..];
    }
    out.push_str(rest);
    out
}

/// Whether the lines agree, a line `…` in the docs standing for any number of lines.
fn matches(expected: &[String], actual: &[String]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((first, rest)) if first == "…" => {
            (0..=actual.len()).any(|skip| matches(rest, &actual[skip..]))
        }
        Some((first, rest)) => actual
            .split_first()
            .is_some_and(|(line, more)| line == first && matches(rest, more)),
    }
}

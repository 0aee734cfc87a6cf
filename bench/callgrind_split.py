"""Where the instructions of `orch run` go: callgrind profiles turned into per-task tables.

    python3 bench/callgrind_split.py ORCH_SMALL ORCH_LARGE SPAWN_SMALL SPAWN_LARGE TASKS

Each argument but the last is a callgrind.out file: `orch run` and `examples/bench_spawn.rs`
on a plan of one task and on one of 1 + TASKS tasks. A task's cost is the difference between
the large and the small profile divided by TASKS, so start-up (migrations check, plan parse,
the runtime) does not blur it. Prints markdown for docs/PERFORMANCE.md:

- the instructions per task of each program, and their ratio;
- every instruction of orch counted once (callgrind_annotate's exclusive figures), by where
  its source lives: a crate's source under ~/.cargo (sea-query, sqlx-sqlite, ...), the standard
  library, orch's own src/, SQLite's amalgamation, glibc (malloc, memset). Generic code counts
  where it was written, not where it was used;
- a few steps' inclusive figures (callees included: they overlap each other and the parts).
"""

import subprocess
import re
import sys

LINE = re.compile(r"^\s*([\d,]+)\s+(?:\([\s\d.]+%\)\s+)?(\S.*)$")
TOTAL = re.compile(r"^\s*([\d,]+)\s+(?:\([\s\d.]+%\)\s+)?PROGRAM TOTALS")

# The part a source file belongs to. First match wins; the crate names are grouped by what
# they do for orch, the split issue 23 asks for.
PARTS = [
    ("statement building (sea-query, sea-orm)", r"/(sea-query|sea-query-binder|sea-orm)[-\d.]*/"),
    ("binding and decoding (sqlx)", r"/(sqlx-core|sqlx-sqlite|sqlx-postgres|sqlx)[-\d.]*/|vendor/sqlx-core/"),
    ("worker-thread hand-off (flume, futures-intrusive, channels)", r"/(flume|futures-intrusive|futures-channel|crossbeam[-\w]*|event-listener[-\w]*|parking)[-\d.]*/"),
    ("SQLite itself (libsqlite3-sys)", r"sqlite3\.c|/libsqlite3-sys[-\d.]*/"),
    ("tokio (runtime, process, timers, I/O)", r"/(tokio|mio|signal-hook-registry)[-\d.]*/"),
    ("serialization (serde, serde_json, chrono)", r"/(serde|serde_json|serde_core|chrono|itoa|ryu)[-\d.]*/"),
    ("logging, regexes, masking (regex, aho-corasick, memchr)", r"/(regex|regex-automata|regex-syntax|aho-corasick|memchr)[-\d.]*/"),
    ("orch: log file", r"src/runner/(log_file|capture)\.rs"),
    ("orch: excerpt and masking", r"src/runner/excerpt\.rs|src/secrets\.rs"),
    ("orch: scheduler and moves", r"src/runner/(scheduler|moves|frontier|readiness)\.rs"),
    ("orch: store", r"src/store/"),
    ("orch: the rest", r"^(\./)?src/|/work/[^/]+/src/"),
    ("other crates", r"/\.cargo/registry/"),
    ("Rust standard library (alloc, core, std)", r"/rustc/[0-9a-f]+/library/|library/(core|alloc|std)/"),
    ("the kernel's vDSO (clock reads)", r"vdso"),
]
GLIBC = "glibc (malloc, free, memset, memcpy, locks)"

# orch functions whose inclusive cost is worth its own line: (label, regex on the function).
INCLUSIVE = [
    ("a task's own future: process, pipes, log file, excerpt (Spawn::start)", r"orch::runner::scheduler::Spawn::start::\{\{closure\}\}$"),
    ("reading the pipes (runner::process::read_pipe)", r"orch::runner::process::read_pipe::\{\{closure\}\}$"),
    ("the commit of ends and starts, this thread's side (store::batch::commit)", r"orch::store::batch::commit::\{\{closure\}\}"),
    ("building its UPDATE (sea-query's UpdateStatement::build)", r"UpdateStatement as sea_orm::database::statement::StatementBuilder>::build$"),
    ("decoding the rows it returns (agents_task::Model::from_query_result)", r"agents_task::Model as sea_orm::entity::model::FromQueryResult>::from_query_result$"),
    ("sqlx's SQLite worker thread, all of it", r"sqlx-sqlite-[\d.]+/src/connection/worker\.rs:std::sys::backtrace::__rust_begin_short_backtrace$"),
    ("SQLite running the statements (sqlite3_step)", r":sqlite3_step$"),
    ("SQLite compiling statements (sqlite3_prepare_v3)", r":sqlite3_prepare_v3$"),
    ("the progress lines (ui::progress::Plain)", r"orch::ui::progress::Plain as orch::runner::progress::Reporter>::task_"),
    ("deciding the next moves (runner::moves::next_moves)", r"orch::runner::moves::next_moves$"),
    ("reading the plan file (plan::load)", r"orch::plan::load::load$"),
    ("resolving it: variables, commands, secrets (plan::resolve)", r"orch::plan::resolve::resolve$"),
    ("reading the run's rows back after inserting them (store::query::run_tasks)", r"orch::store::query::run_tasks::\{\{closure\}\}$"),
    ("the summary at the end (ui::summary::render)", r"orch::ui::summary::render$"),
    ("glibc's malloc, every caller", r"malloc\.c:malloc$"),
    ("glibc's free, every caller", r"malloc\.c:free$"),
    ("glibc's memset, every caller (zeroing)", r":__memset_\w+$"),
]


def rows(lines):
    total = None
    out = []
    for line in lines:
        m = TOTAL.match(line)
        if m:
            total = int(m.group(1).replace(",", ""))
            continue
        m = LINE.match(line)
        if not m or ":" not in m.group(2):
            continue
        where = m.group(2)
        # "file:function [object]": the object is the binary or shared library.
        obj = ""
        if where.endswith("]") and " [" in where:
            where, obj = where.rsplit(" [", 1)
        file, _, func = where.partition(":")
        out.append((int(m.group(1).replace(",", "")), file, func, obj))
    return total, out


def part_of(file, obj):
    # glibc's own sources are named relative to its build ("./malloc/malloc.c").
    if re.search(r"libc\.so|ld-linux", obj):
        return GLIBC
    for name, pattern in PARTS:
        if re.search(pattern, file) or (file == "???" and re.search(pattern, obj)):
            return name
    return "unattributed"


def annotate(profile, inclusive):
    out = subprocess.run(
        ["callgrind_annotate", "--threshold=100", "--auto=no", f"--inclusive={inclusive}", profile],
        check=True, capture_output=True, text=True,
    ).stdout
    return out.splitlines()


def split(profile):
    total, exclusive = rows(annotate(profile, "no"))
    _, inclusive = rows(annotate(profile, "yes"))
    parts = {}
    for count, file, _, obj in exclusive:
        name = part_of(file, obj)
        parts[name] = parts.get(name, 0) + count
    inc = {}
    for label, pattern in INCLUSIVE:
        # Recursion lists a function more than once; its largest figure is the outermost call.
        found = [c for c, file, func, _ in inclusive if re.search(pattern, f"{file}:{func}")]
        inc[label] = max(found) if found else 0
    return total, parts, inc


def main():
    orch_small, orch_large, spawn_small, spawn_large, tasks = sys.argv[1:6]
    n = int(tasks)
    o1, parts1, inc1 = split(orch_small)
    o2, parts2, inc2 = split(orch_large)
    s1, _, _ = split(spawn_small)
    s2, _, _ = split(spawn_large)
    orch_task, spawn_task = (o2 - o1) / n, (s2 - s1) / n
    print("| program | 1 task | %d tasks | per task |" % (n + 1))
    print("|---|---|---|---|")
    print(f"| orch run (SQLite) | {o1:,} | {o2:,} | {orch_task:,.0f} |")
    print(f"| bench_spawn (the floor) | {s1:,} | {s2:,} | {spawn_task:,.0f} |")
    print()
    print(f"orch / bench_spawn, per task: **{orch_task / spawn_task:.1f}** (target: at most 2).")
    print()
    print("| where orch's instructions per task go (exclusive) | per task | share |")
    print("|---|---|---|")
    names = sorted(set(parts1) | set(parts2), key=lambda k: -(parts2.get(k, 0) - parts1.get(k, 0)))
    for name in names:
        d = (parts2.get(name, 0) - parts1.get(name, 0)) / n
        if abs(d) >= 500:
            print(f"| {name} | {d:,.0f} | {100 * d / orch_task:.0f}% |")
    print()
    print("| step (inclusive: callees counted, steps overlap) | per task |")
    print("|---|---|")
    for label, _ in INCLUSIVE:
        d = (inc2[label] - inc1[label]) / n
        print(f"| {label} | {d:,.0f} |")


if __name__ == "__main__":
    main()

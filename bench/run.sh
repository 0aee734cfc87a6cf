#!/usr/bin/env bash
# orch's benchmark: every figure is a ratio against a baseline measured in the same run,
# repetitions interleaved (A B A B …), medians and ranges reported. See docs/PERFORMANCE.md.
#
#   bash bench/run.sh            # all scenarios, 5 repetitions, into bench/results.md
#   REPS=3 bash bench/run.sh     # fewer repetitions
#   SMOKE=1 bash bench/run.sh    # every scenario at tiny sizes, 1 repetition, into
#                                # target/bench-smoke.md (checks the script, not orch's speed)
#   ONLY=pages bash bench/run.sh # the pages scenario alone, into bench/results-pages.md
#   ONLY=workers bash bench/run.sh # the workers' scenario alone, into bench/results-workers.md
#
# Needs: a release build (made here), PostgreSQL on 127.0.0.1:5432 (trust auth), wrk for the
# API scenario and GNU time for the output scenario (both installed from Debian's packages
# when missing), and PyPI for go-task and doit (installed into target/bench-venv).
set -euo pipefail
cd "$(dirname "$0")/.."
SMOKE=${SMOKE:-0}
if [ "$SMOKE" = 1 ]; then
  REPS=1
  N_RUN=20                         # tasks in the run-overhead and peer plans
  GROWTH_SIZES=(10 20 40)          # tasks in the growth plans
  LIST_SMALL=1000 LIST_BIG=10000   # rows for the listing scenarios
  OUT_BYTES=$((10 * 1024 * 1024))  # what the output task prints
  WRK_SECS=2
  W_TASKS=32 W_SLEEP=0.1 W_READY=200   # the workers' scenario
  out=target/bench-smoke.md
else
  REPS=${REPS:-5}
  N_RUN=1000
  GROWTH_SIZES=(100 1000 10000)
  LIST_SMALL=10000 LIST_BIG=1000000
  OUT_BYTES=$((1024 * 1024 * 1024))
  WRK_SECS=10
  W_TASKS=400 W_SLEEP=0.5 W_READY=2000
  out=bench/results.md
fi
# The largest growth plan runs at most this many times (10,000 tasks: ~15 s for orch, ~7 s for
# the loop, each time).
GROWTH_BIG_REPS=${GROWTH_BIG_REPS:-3}
# Peers, pinned (verified to install with pip on Python 3.11, 2026-12-01).
GO_TASK_VERSION=3.54.0
DOIT_VERSION=0.37.0
PG_ADMIN=${ORCH_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

cargo build --release --quiet --bin orch --example bench_hello --example bench_spawn --example bench_claim
ORCH=$PWD/target/release/orch
HELLO=$PWD/target/release/examples/bench_hello
SPAWN=$PWD/target/release/examples/bench_spawn
CLAIM=$PWD/target/release/examples/bench_claim
if ! command -v wrk >/dev/null; then
  apt-get install -y wrk >/dev/null 2>&1 || echo "bench: wrk is missing and could not be installed; the API scenario is skipped"
fi
if [ ! -x /usr/bin/time ]; then
  apt-get install -y time >/dev/null 2>&1 || echo "bench: GNU time is missing and could not be installed; the output scenario is skipped"
fi
venv=$PWD/target/bench-venv
install_peers() { # the virtualenv is kept between runs; pip leaves pinned versions in place
  [ -x "$venv/bin/pip" ] || python3 -m venv "$venv" || return 1
  "$venv/bin/pip" install --quiet --disable-pip-version-check "go-task-bin==$GO_TASK_VERSION" "doit==$DOIT_VERSION"
}
peers=1
if [ -z "${ONLY:-}" ] && ! install_peers; then
  echo "bench: go-task or doit could not be installed into $venv; the peer scenario is skipped"; peers=0
fi

now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc; } # seconds since T0 (a `now`)
commas() { python3 -c "print(f'{int(\"$1\"):,}')"; }
# stats NAME FILE_A FILE_B [TARGET [LABEL]]: medians, ranges and the ratio B/A of the medians;
# with a TARGET ratio, two more cells: the target (or LABEL) and whether the median ratio meets it.
stats() {
  python3 - "$@" <<'PY'
import statistics, sys
name, a, b = sys.argv[1:4]
A = [float(x) for x in open(a)]; B = [float(x) for x in open(b)]
ma, mb = statistics.median(A), statistics.median(B)
row = f"| {name} | {ma:.3f} s ({min(A):.3f}–{max(A):.3f}) | {mb:.3f} s ({min(B):.3f}–{max(B):.3f}) | {mb/ma:.2f} |"
if len(sys.argv) > 4:
    target = float(sys.argv[4])
    label = sys.argv[5] if len(sys.argv) > 5 else f"≤ {target:g}"
    row += f" {label} | {'met' if round(mb / ma, 2) <= target else 'not met'} |"
print(row)
PY
}
# cell FILE [SCALE UNIT]: "median UNIT (min–max)" of FILE's numbers, each times SCALE.
cell() {
  python3 - "$@" <<'PY'
import statistics, sys
scale, unit = (float(sys.argv[2]), sys.argv[3]) if len(sys.argv) > 3 else (1.0, "s")
X = [float(x) * scale for x in open(sys.argv[1])]
print(f"{statistics.median(X):.3f} {unit} ({min(X):.3f}–{max(X):.3f})")
PY
}
med() { python3 -c 'import statistics, sys; print(statistics.median(float(x) for x in open(sys.argv[1])))' "$1"; }
calc() { python3 -c "print(f'{$1:.2f}')"; } # calc EXPR → EXPR to 2 decimals
met() { python3 -c "print('met' if $1 else 'not met')"; } # met CONDITION
fresh_sqlite() { # fresh_sqlite DIR → a migrated, empty SQLite database in DIR; prints its URL
  rm -rf "$1"; mkdir -p "$1"
  DATABASE_URL="sqlite://$1/orch.db" "$ORCH" migrate up >/dev/null
  echo "sqlite://$1/orch.db"
}

plan_of() { # plan_of N COMMAND... → a plan of N tasks running COMMAND
  local n=$1; shift
  local argv; argv=$(printf '"%s", ' "$@"); argv="[${argv%, }]"
  echo "name: bench"
  echo "tasks:"
  for i in $(seq 1 "$n"); do echo "  - task: t$i"; echo "    run: $argv"; done
}
loop_true() { for _ in $(seq 1 "$1"); do /usr/bin/true; done; } # the baseline: N execs

# The listing's rows, a realistic mix: runs of 30 tasks (33,334 of them in 1,000,000 rows),
# mostly succeeded, 2% failed, 0.1% waiting for a decision.
make_list_sqlite() { # make_list_sqlite FILE N: N rows of that mix in a fresh SQLite file
  DATABASE_URL="sqlite://$1" "$ORCH" migrate up >/dev/null
  python3 - "$1" "$2" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
def rows():
    for i in range(int(sys.argv[2])):
        s = "awaiting_approval" if i % 1000 == 7 else ("failed" if i % 50 == 3 else "succeeded")
        yield (f"t{i % 30}", f"nightly-{i // 30}", s, "pending" if s == "awaiting_approval" else None,
               "2026-11-01T02:30:00+00:00", "2026-11-01T02:31:00+00:00", 60000, "ok")
db.executemany("INSERT INTO agents_tasks (task, run_id, status, approval_state, started_at, finished_at, duration_ms, log_excerpt) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows())
db.commit()
db.execute("ANALYZE")
PY
}
make_list_pg() { # make_list_pg URL N: the same N rows in a fresh PostgreSQL database
  DATABASE_URL=$1 "$ORCH" migrate up >/dev/null
  # 3,000 rows (100 runs) per statement, each its own transaction (`\gexec`): when the runs are
  # there, migration 12's row-level trigger adds one to the same few counter rows for each row,
  # and within one transaction each such update walks past every version before it, so one
  # statement of 1,000,000 rows would take most of an hour.
  psql -q -v ON_ERROR_STOP=1 "$1" >/dev/null <<SQL
SELECT format(\$f\$INSERT INTO agents_tasks (task, run_id, status, approval_state, started_at, finished_at, duration_ms, log_excerpt)
SELECT 't' || (i %% 30), 'nightly-' || (i / 30),
       CASE WHEN i %% 1000 = 7 THEN 'awaiting_approval' WHEN i %% 50 = 3 THEN 'failed' ELSE 'succeeded' END,
       CASE WHEN i %% 1000 = 7 THEN 'pending' END,
       '2026-11-01T02:30:00Z', '2026-11-01T02:31:00Z', 60000, 'ok'
FROM generate_series(%s, %s) AS i\$f\$, lo, least(lo + 2999, $(($2 - 1))))
FROM generate_series(0, $(($2 - 1)), 3000) AS lo ORDER BY lo \\gexec
ANALYZE agents_tasks;
SQL
}

# The pages under load on the listing's rows (issue 19's targets). A function: the full run
# calls it in its place, and `ONLY=pages` runs it alone.
pages_scenario() {
  command -v wrk >/dev/null || return 0
  {
  echo
  echo "## Pages: \`orch serve\` on $(commas "$LIST_BIG") rows under wrk (2 threads, 16 connections, $WRK_SECS s)"
  echo
  echo "The listing's rows (runs of 30 tasks, 0.1% waiting), each run with its \`agents_runs\` row and saved plan (a chain of 30 tasks, the gate 8th), so the inbox parses plans for what approving lets run and the runs page has every run to page through. Size is the page's HTML (the task page without a log). The metrics row is one Prometheus scrape at a time (timed one by one, at least 5), the counts and per-plan values read from the summaries the database's triggers kept as these rows were inserted (migration 18), the approvals from the rows. The last page is a task page whose log is $(commas "$OUT_BYTES") bytes: the page reads one 64 KiB range, and the server's peak RSS (VmHWM, after everything else on the row's backend) says it never loads the log."
  echo
  echo "| page | backend | req/s | p95 | size | target | met |"
  echo "|---|---|---|---|---|---|---|"
  } >> "$out"
  cat > "$work/p95.lua" <<'LUA'
done = function(summary, latency, requests)
  io.write(string.format("P95 %.3f\n", latency:percentile(95) / 1000))
end
LUA
  measure_page() { # measure_page URL → "RPS P95_MS"
    wrk -t2 -c16 -d"${WRK_SECS}s" -s "$work/p95.lua" "$1" | awk '/Requests\/sec/ {r=$2} /^P95/ {p=$2} END {print r, p}'
  }
  # The plan every run saved: t0 → t1 → … → t29, t7 the gate.
  plan_text=$(python3 -c '
print("name: nightly\ntasks:")
for k in range(30):
    print(f"  - task: t{k}\n    shell: \"true\"" + ("\n    approval: always" if k == 7 else "") + (f"\n    depends_on: [t{k-1}]" if k else ""))')
  n_runs=$(( (LIST_BIG + 29) / 30 ))
  rm -rf "$work/pages"; mkdir -p "$work/pages"
  pages_sqlite="$work/pages/orch.db"
  # The runs before their tasks, as orch records them: the summaries' triggers find each
  # task's plan in its run (migration 18).
  DATABASE_URL="sqlite://$pages_sqlite" "$ORCH" migrate up >/dev/null
  python3 - "$pages_sqlite" "$n_runs" "$plan_text" <<'PY'
import datetime, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
t0 = datetime.datetime(2026, 11, 1, 2, 30, tzinfo=datetime.timezone.utc)
db.executemany(
    "INSERT INTO agents_runs (run_id, plan_name, plan_text, plan_sha256, host, orch_version, trigger, started_at) VALUES (?, 'nightly', ?, 'bench', 'bench', '0.1.0', 'schedule', ?)",
    ((f"nightly-{i}", sys.argv[3], (t0 + datetime.timedelta(minutes=i)).isoformat()) for i in range(int(sys.argv[2]))),
)
db.commit()
PY
  make_list_sqlite "$pages_sqlite" "$LIST_BIG"
  pages_pg="orch_bench_pages_$$"
  psql -q "$PG_ADMIN" -c "CREATE DATABASE $pages_pg" >/dev/null
  pages_pg_url="${PG_ADMIN%/*}/$pages_pg"
  DATABASE_URL=$pages_pg_url "$ORCH" migrate up >/dev/null
  psql -q "$pages_pg_url" -v plan="$plan_text" >/dev/null <<SQL
INSERT INTO agents_runs (run_id, plan_name, plan_text, plan_sha256, host, orch_version, trigger, started_at)
SELECT 'nightly-' || i, 'nightly', :'plan', 'bench', 'bench', '0.1.0', 'schedule',
       timestamptz '2026-11-01 02:30:00+00' + i * interval '1 minute'
FROM generate_series(0, $((n_runs - 1))) AS i;
SQL
  make_list_pg "$pages_pg_url" "$LIST_BIG"
  psql -q "$pages_pg_url" -c "ANALYZE" >/dev/null
  # Row i (id i + 1) is task t(i % 30) of run nightly-(i / 30): the task page reads a row from
  # the middle; the next row gets the big log, where `orch run` would have written it.
  mid=$((LIST_BIG / 2))
  big=$((mid + 1))
  big_log="$work/pages/.orch/logs/nightly-$((mid / 30))/t$((mid % 30)).log"
  mkdir -p "$(dirname "$big_log")"
  # `yes` ends on SIGPIPE once `head` has its bytes: not a failure.
  { yes "a line of a long log, as a build or a test suite prints it" || true; } | head -c "$OUT_BYTES" > "$big_log"
  for backend in sqlite postgres; do
    if [ "$backend" = sqlite ]; then url="sqlite://$pages_sqlite"; else url=$pages_pg_url; fi
    (cd "$work/pages" && exec env DATABASE_URL="$url" "$ORCH" serve --bind 127.0.0.1:18092 2>/dev/null) &
    serve_pid=$!
    sleep 2
    base="http://127.0.0.1:18092"
    for page in "inbox|/|100" "runs|/runs|100" "task|/tasks/$mid|50" "task, $(commas "$OUT_BYTES") B log|/tasks/$big|50"; do
      IFS='|' read -r name path target <<<"$page"
      code=$(curl -s -o "$work/page.html" -w '%{http_code}' "$base$path")
      size=$(wc -c < "$work/page.html")
      read -r rps p95 < <(measure_page "$base$path")
      echo "| $name (\`$path\`) | $backend | $rps | $p95 ms | $(calc "$size / 1024") KiB | p95 ≤ $target ms, < 100 KiB | $(met "$code == 200 and $p95 <= $target and $size < 102400") |" >> "$out"
    done
    # A Prometheus scrape (issue 22): one connection, as Prometheus scrapes a target one
    # request at a time.
    code=$(curl -s -o "$work/metrics.txt" -w '%{http_code}' "$base/metrics")
    size=$(wc -c < "$work/metrics.txt")
    # Timed one by one rather than by wrk, whose 2 s timeout would drop slow scrapes from
    # its percentiles: at least 5 scrapes, more while the time allows.
    read -r rps p95 < <(python3 - "$base/metrics" "$WRK_SECS" <<'PY'
import sys, time, urllib.request
url, budget = sys.argv[1], float(sys.argv[2])
times, start = [], time.perf_counter()
while len(times) < 5 or (time.perf_counter() - start < budget and len(times) < 1000):
    t0 = time.perf_counter()
    urllib.request.urlopen(url, timeout=120).read()
    times.append(time.perf_counter() - t0)
times.sort()
p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
print(f"{len(times) / sum(times):.2f} {p95 * 1000:.3f}")
PY
)
    echo "| metrics scrape (\`/metrics\`, one connection) | $backend | $rps | $p95 ms | $(calc "$size / 1024") KiB | p95 ≤ 50 ms | $(met "$code == 200 and $p95 <= 50") |" >> "$out"
    rss=$(awk '/VmHWM/ {print $2}' "/proc/$serve_pid/status")
    echo "| server peak RSS | $backend | – | – | $(calc "$rss / 1024") MiB | reported | – |" >> "$out"
    kill "$serve_pid"; wait "$serve_pid" 2>/dev/null || true
  done
  psql -q "$PG_ADMIN" -c "DROP DATABASE $pages_pg WITH (FORCE)" >/dev/null
}

fresh_pg() { # fresh_pg NAME → a migrated, empty PostgreSQL database NAME (dropped first); its URL
  PGOPTIONS="-c client_min_messages=warning" psql -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1" >/dev/null
  DATABASE_URL="${PG_ADMIN%/*}/$1" "$ORCH" migrate up >/dev/null
  echo "${PG_ADMIN%/*}/$1"
}

# Workers (issue 21's targets), on PostgreSQL: scaling over 1, 2 and 4 workers; one worker's
# throughput beside a local run at the same concurrency; claim latency with 16 claimers, on an
# empty table and beside 1,000,000 finished rows. A function: the full run calls it in its
# place, and `ONLY=workers` runs it alone.
workers_scenario() {
  local db=orch_bench_workers_$$
  {
  echo
  echo "## Workers: $(commas "$W_TASKS") tasks of \`sleep $W_SLEEP\` on 1, 2 and 4 workers of 4 slots (PostgreSQL)"
  echo
  echo "Each repetition: a fresh database, \`orch run PLAN --enqueue --concurrency 16\`, then the workers started and \`orch wait RUN\` until the run ended; the clock runs from the workers' start (their connection and registration included) to \`orch wait\`'s return. Ideal: tasks × sleep / (workers × 4 slots)."
  echo
  echo "| workers | ideal | measured | measured / ideal | target | met |"
  echo "|---|---|---|---|---|---|"
  } >> "$out"
  plan_of "$W_TASKS" /bin/sleep "$W_SLEEP" > "$work/wsleep.yaml"
  for w in 1 2 4; do
    : > "$work/a"; : > "$work/b"
    for r in $(seq 1 "$REPS"); do
      python3 -c "print($W_TASKS * $W_SLEEP / ($w * 4))" >> "$work/a"
      url=$(fresh_pg "$db")
      run=$(DATABASE_URL=$url "$ORCH" run "$work/wsleep.yaml" --enqueue --concurrency 16 --log-dir "$work/wlogs")
      pids=()
      t0=$(now)
      for _ in $(seq 1 "$w"); do
        DATABASE_URL=$url "$ORCH" worker --slots 4 2>/dev/null & pids+=($!)
      done
      DATABASE_URL=$url "$ORCH" wait "$run" --interval 100ms >/dev/null
      since "$t0" >> "$work/b"
      kill -TERM "${pids[@]}"; wait "${pids[@]}" 2>/dev/null || true
    done
    stats "$w × 4 slots" "$work/a" "$work/b" 1.25 >> "$out"
  done

  {
  echo
  echo "## Workers: one worker of 8 slots beside a local run at concurrency 8, $(commas "$N_RUN") tasks of \`/usr/bin/true\` (PostgreSQL)"
  echo
  echo "Both on a fresh database each repetition. The worker's clock runs from its start to \`orch wait\`'s return; each of its tasks is a claim, a start and an end with the judgement of what became ready, as separate transactions. Tasks per second: tasks / wall time."
  echo
  echo "| measure | baseline: \`orch run --concurrency 8\` | \`orch worker --slots 8\` | worker / local | target | met |"
  echo "|---|---|---|---|---|---|"
  } >> "$out"
  plan_of "$N_RUN" /usr/bin/true > "$work/wtrue.yaml"
  : > "$work/a"; : > "$work/b"
  for r in $(seq 1 "$REPS"); do
    url=$(fresh_pg "$db")
    t0=$(now)
    DATABASE_URL=$url "$ORCH" run "$work/wtrue.yaml" --concurrency 8 --log-dir "$work/wlogs" >/dev/null 2>&1
    since "$t0" >> "$work/a"
    url=$(fresh_pg "$db")
    run=$(DATABASE_URL=$url "$ORCH" run "$work/wtrue.yaml" --enqueue --concurrency 8 --log-dir "$work/wlogs")
    t0=$(now)
    DATABASE_URL=$url "$ORCH" worker --slots 8 2>/dev/null & wpid=$!
    DATABASE_URL=$url "$ORCH" wait "$run" --interval 100ms >/dev/null
    since "$t0" >> "$work/b"
    kill -TERM "$wpid"; wait "$wpid" 2>/dev/null || true
  done
  local_tps=$(python3 -c "print(f'{$N_RUN / $(med "$work/a"):.0f}')")
  worker_tps=$(python3 -c "print(f'{$N_RUN / $(med "$work/b"):.0f}')")
  echo "$(stats "wall time" "$work/a" "$work/b") reported | – |" >> "$out"
  echo "| tasks per second (medians) | $local_tps | $worker_tps | $(calc "$worker_tps / $local_tps") | reported | – |" >> "$out"

  {
  echo
  echo "## Workers: claim latency, 16 claimers at once (PostgreSQL)"
  echo
  echo "\`examples/bench_claim.rs\`: 16 claimers, each on a connection of its own as 16 worker processes would be, claim $(commas "$W_READY") ready tasks (one enqueued run of independent tasks) with orch's claim statement until none is left. Baseline: an otherwise empty table; then the same beside $(commas "$LIST_BIG") finished rows (the listing's mix), which the claim's partial index never reads."
  echo
  echo "| table | claims | p50 | p99 | claims/s | target | met |"
  echo "|---|---|---|---|---|---|---|"
  } >> "$out"
  plan_of "$W_READY" /usr/bin/true > "$work/wready.yaml"
  url=$(fresh_pg "$db")
  big=orch_bench_workers_big_$$
  PGOPTIONS="-c client_min_messages=warning" psql -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS $big WITH (FORCE)" -c "CREATE DATABASE $big" >/dev/null
  big_url="${PG_ADMIN%/*}/$big"
  make_list_pg "$big_url" "$LIST_BIG"
  for which in empty big; do
    if [ "$which" = empty ]; then u=$url; label="empty"; else u=$big_url; label="$(commas "$LIST_BIG") finished rows"; fi
    : > "$work/claims"
    for r in $(seq 1 "$REPS"); do
      DATABASE_URL=$u "$ORCH" run "$work/wready.yaml" --enqueue --concurrency 1000000 --log-dir "$work/wlogs" >/dev/null
      "$CLAIM" "$u" 16 >> "$work/claims"
    done
    read -r claims p50 p99 cps < <(python3 -c '
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
print(int(statistics.median(float(r[0]) for r in rows)), *(f"{statistics.median(float(r[i]) for r in rows):.2f}" for i in (1, 2)), f"{statistics.median(float(r[3]) for r in rows):.0f}")' "$work/claims")
    echo "| $label | $claims | $p50 ms | $p99 ms | $cps | p99 ≤ 20 ms | $(met "$p99 <= 20") |" >> "$out"
  done
  {
  echo
  echo "The claim's plan on the table of $(commas "$LIST_BIG") finished rows (\`EXPLAIN\`, as \`store::claim::explain\` prints it):"
  echo
  echo '```'
  "$CLAIM" "$big_url" explain
  echo '```'
  } >> "$out"
  psql -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "DROP DATABASE IF EXISTS $big WITH (FORCE)" >/dev/null
}

if [ "${ONLY:-}" = workers ]; then
  [ "$SMOKE" = 1 ] || out=bench/results-workers.md
  {
  echo "# Benchmark results: workers"
  echo
  echo "Measured by \`ONLY=workers bench/run.sh\` on $(nproc) cores, $(date -u +%Y-%m-%d), $REPS repetitions; load average when it began: $(cut -d' ' -f1-3 /proc/loadavg)."
  } > "$out"
  workers_scenario
  cat "$out"
  [ "$SMOKE" = 1 ] || python3 bench/splice.py "$out" workers
  exit 0
fi

if [ "${ONLY:-}" = pages ]; then
  # The pages alone, into their own file and their own place in the report, so the other
  # scenarios' figures stay those of their last full run.
  [ "$SMOKE" = 1 ] || out=bench/results-pages.md
  {
  echo "# Benchmark results: the pages"
  echo
  echo "Measured by \`ONLY=pages bench/run.sh\` on $(nproc) cores, $(date -u +%Y-%m-%d); load average when it began: $(cut -d' ' -f1-3 /proc/loadavg)."
  } > "$out"
  pages_scenario
  cat "$out"
  [ "$SMOKE" = 1 ] || python3 bench/splice.py "$out" pages
  exit 0
fi

N_RUN_=$(commas "$N_RUN")
{
echo "# Benchmark results"
echo
echo "Measured by \`bench/run.sh\` on $(nproc) cores, $(date -u +%Y-%m-%d), $REPS repetitions interleaved."
echo
echo "Machine: $(nproc) cores ($(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')), Linux $(uname -r)."
if [ "$SMOKE" = 1 ]; then
  echo
  echo "**Smoke run** (\`SMOKE=1\`): tiny sizes, one repetition. It checks that every scenario runs; its figures say nothing about orch's speed."
fi
echo
echo "## Run overhead: $N_RUN_ tasks of \`/usr/bin/true\`"
echo
echo "| scenario | baseline: bash loop exec'ing /usr/bin/true | orch run | orch / loop | target | met |"
echo "|---|---|---|---|---|---|"
} > "$out"

plan_of "$N_RUN" /usr/bin/true > "$work/true.yaml"
plan_of "$N_RUN" /bin/sh -c 'echo working; echo https://github.com/acme/site/pull/42' > "$work/print.yaml"
for backend in sqlite postgres; do
  for kind in true print; do
    : > "$work/a"; : > "$work/b"
    for r in $(seq 1 "$REPS"); do
      # A: the loop.
      t0=$(now)
      if [ "$kind" = true ]; then
        loop_true "$N_RUN"
      else
        for _ in $(seq 1 "$N_RUN"); do /bin/sh -c 'echo working; echo https://github.com/acme/site/pull/42' > "$work/loop.out" 2>&1; done
      fi
      since "$t0" >> "$work/a"
      # B: orch, on a fresh database each time.
      if [ "$backend" = postgres ]; then
        db="orch_bench_$$_$r"
        psql -q "$PG_ADMIN" -c "CREATE DATABASE $db" >/dev/null
        url="${PG_ADMIN%/*}/$db"
        DATABASE_URL=$url "$ORCH" migrate up >/dev/null
      else
        url=$(fresh_sqlite "$work/state")
      fi
      t0=$(now)
      DATABASE_URL=$url "$ORCH" run "$work/$kind.yaml" --log-dir "$work/logs" >/dev/null 2>&1
      since "$t0" >> "$work/b"
      [ "$backend" = postgres ] && psql -q "$PG_ADMIN" -c "DROP DATABASE $db WITH (FORCE)" >/dev/null
      rm -rf "$work/logs"
    done
    if [ "$backend" = sqlite ]; then target=1.25; else target=1.5; fi
    stats "$backend, $kind" "$work/a" "$work/b" "$target" >> "$out"
  done
done

if [ "$peers" = 1 ]; then
  {
  echo
  echo "## Peers: the same $N_RUN_ tasks of \`/usr/bin/true\`, one after another"
  echo
  echo "go-task $GO_TASK_VERSION (PyPI \`go-task-bin\`) and doit $DOIT_VERSION, from \`target/bench-venv\`; orch on SQLite, a fresh database each repetition."
  echo
  echo "| tool | time | tool / loop |"
  echo "|---|---|---|"
  } >> "$out"
  mkdir -p "$work/peers"
  # go-task: a default task that calls t1 … tN in order (cmds run one after another; deps would
  # run them in parallel). Each a named task with one command, as in orch's plan, rather than
  # one task with N commands (which measured the same within noise). The command is the binary,
  # not `true`, which go-task's embedded shell would run as a builtin without a process.
  {
  echo "version: '3'"
  echo "tasks:"
  echo "  default:"
  echo "    cmds:"
  for i in $(seq 1 "$N_RUN"); do echo "      - task: t$i"; done
  for i in $(seq 1 "$N_RUN"); do echo "  t$i:"; echo "    cmds: [/usr/bin/true]"; done
  } > "$work/peers/Taskfile.yml"
  # doit: N tasks whose action is a list (run without a shell), one process at a time (the
  # default -n 1). Its dependency file (default backend, dbm) goes to the temp dir, removed
  # before each repetition as orch's database is.
  cat > "$work/peers/dodo.py" <<PY
def task_t():
    for i in range(1, $N_RUN + 1):
        yield {"name": f"t{i}", "actions": [["/usr/bin/true"]]}
PY
  for f in loop floor gotask doit orch; do : > "$work/$f"; done
  for r in $(seq 1 "$REPS"); do
    t0=$(now); loop_true "$N_RUN"; since "$t0" >> "$work/loop"
    t0=$(now); "$SPAWN" "$N_RUN" /usr/bin/true; since "$t0" >> "$work/floor"
    t0=$(now)
    "$venv/bin/task" --taskfile "$work/peers/Taskfile.yml" >/dev/null 2>&1
    since "$t0" >> "$work/gotask"
    rm -rf "$work/peers/doit-db"; mkdir -p "$work/peers/doit-db"
    t0=$(now)
    "$venv/bin/doit" --file "$work/peers/dodo.py" --db-file "$work/peers/doit-db/doit.db" >/dev/null 2>&1
    since "$t0" >> "$work/doit"
    url=$(fresh_sqlite "$work/state")
    t0=$(now)
    DATABASE_URL=$url "$ORCH" run "$work/true.yaml" --log-dir "$work/logs" >/dev/null 2>&1
    since "$t0" >> "$work/orch"
    rm -rf "$work/logs"
  done
  base=$(med "$work/loop")
  {
  echo "| baseline: bash loop exec'ing /usr/bin/true | $(cell "$work/loop") | 1.00 |"
  echo "| floor: orch's process handling alone, no bookkeeping (\`examples/bench_spawn.rs\`) | $(cell "$work/floor") | $(calc "$(med "$work/floor") / $base") |"
  echo "| go-task $GO_TASK_VERSION | $(cell "$work/gotask") | $(calc "$(med "$work/gotask") / $base") |"
  echo "| doit $DOIT_VERSION | $(cell "$work/doit") | $(calc "$(med "$work/doit") / $base") |"
  echo "| orch run (SQLite) | $(cell "$work/orch") | $(calc "$(med "$work/orch") / $base") |"
  echo
  echo "Target: orch, recording every row, faster than go-task and doit: $(met "$(med "$work/orch") < min($(med "$work/gotask"), $(med "$work/doit"))")."
  } >> "$out"
fi

{
echo
echo "## Growth: \`orch run\` on SQLite, $(commas "${GROWTH_SIZES[0]}") to $(commas "${GROWTH_SIZES[-1]}") tasks of \`/usr/bin/true\`"
echo
echo "Each size against the bash loop of the same count; cost per task from the medians. Linear growth keeps the ms/task columns flat."
echo
echo "| tasks | repetitions | baseline: bash loop | loop ms/task | orch run | orch ms/task | orch / loop | orch ms/task vs $(commas "${GROWTH_SIZES[0]}") tasks |"
echo "|---|---|---|---|---|---|---|---|"
} >> "$out"
first_per_task=
for n in "${GROWTH_SIZES[@]}"; do
  reps=$REPS
  [ "$n" = "${GROWTH_SIZES[-1]}" ] && [ "$GROWTH_BIG_REPS" -lt "$REPS" ] && reps=$GROWTH_BIG_REPS
  plan_of "$n" /usr/bin/true > "$work/growth.yaml"
  : > "$work/a"; : > "$work/b"
  for r in $(seq 1 "$reps"); do
    t0=$(now); loop_true "$n"; since "$t0" >> "$work/a"
    url=$(fresh_sqlite "$work/state")
    t0=$(now)
    DATABASE_URL=$url "$ORCH" run "$work/growth.yaml" --log-dir "$work/logs" >/dev/null 2>&1
    since "$t0" >> "$work/b"
    rm -rf "$work/logs"
  done
  ma=$(med "$work/a"); mb=$(med "$work/b")
  per_task=$(python3 -c "print(f'{$mb * 1000 / $n:.3f}')")
  first_per_task=${first_per_task:-$per_task}
  echo "| $(commas "$n") | $reps | $(cell "$work/a") | $(python3 -c "print(f'{$ma * 1000 / $n:.3f}')") | $(cell "$work/b") | $per_task | $(calc "$mb / $ma") | $(calc "$per_task / $first_per_task") |" >> "$out"
done

{
echo
echo "## Concurrency: 100 tasks of \`sleep 0.1\` at concurrency 8"
echo
echo "| scenario | ideal (100 × 0.1 s / 8) | orch run | orch / ideal | target | met |"
echo "|---|---|---|---|---|---|"
} >> "$out"
plan_of 100 /bin/sleep 0.1 > "$work/sleep.yaml"
: > "$work/a"; : > "$work/b"
for r in $(seq 1 "$REPS"); do
  echo 1.25 >> "$work/a"
  rm -rf "$work/state"; mkdir -p "$work/state"
  t0=$(now)
  DATABASE_URL="sqlite://$work/state/orch.db" "$ORCH" run "$work/sleep.yaml" --concurrency 8 --log-dir "$work/logs" >/dev/null 2>&1
  since "$t0" >> "$work/b"
done
stats "sqlite, concurrency 8" "$work/a" "$work/b" 1.12 "≤ 1.4 s" >> "$out" # 1.4 s / 1.25 s

if [ -x /usr/bin/time ]; then
  # Ordinary text lines (a build log), not NUL bytes: orch splits its output into lines for the
  # excerpt, and a log without newlines would measure one endless line instead.
  out_cmd="yes 'orch bench: an ordinary line of build output, as a compiler prints it' | head -c $OUT_BYTES"
  {
  echo
  echo "## Output: one task printing $(python3 -c "b = $OUT_BYTES; print(f'{b / 2**30:g} GiB' if b >= 2**30 else f'{b / 2**20:g} MiB')") of text lines to stdout"
  echo
  echo "\`$out_cmd\` through \`/bin/sh -c\`, run by \`orch run\` (a one-task plan, SQLite), against the same command redirected to a file in the folder of orch's \`--log-dir\`. Peak RSS from GNU time (\`%M\`); the baseline's is the shell's and its children's."
  echo
  echo "| measure | baseline: the command redirected to a file | orch run | orch / baseline | target | met |"
  echo "|---|---|---|---|---|---|"
  } >> "$out"
  plan_of 1 /bin/sh -c "$out_cmd" > "$work/output.yaml"
  : > "$work/a"; : > "$work/b"; : > "$work/rss_a"; : > "$work/rss_b"; : > "$work/notes"
  for r in $(seq 1 "$REPS"); do
    mkdir -p "$work/out/logs"
    t0=$(now)
    /usr/bin/time -f %M -o "$work/rss" /bin/sh -c "$out_cmd > '$work/out/logs/redirect.out'"
    since "$t0" >> "$work/a"; cat "$work/rss" >> "$work/rss_a"
    rm -f "$work/out/logs/redirect.out"
    url=$(fresh_sqlite "$work/out/state")
    t0=$(now)
    DATABASE_URL=$url /usr/bin/time -f %M -o "$work/rss" "$ORCH" run "$work/output.yaml" --log-dir "$work/out/logs" >/dev/null 2>&1
    since "$t0" >> "$work/b"; cat "$work/rss" >> "$work/rss_b"
    # Check that orch kept everything and recorded success.
    logged=$(find "$work/out/logs" -name t1.log -exec stat -c %s {} + 2>/dev/null || true)
    status=$(sqlite3 "$work/out/state/orch.db" "SELECT status FROM agents_tasks")
    [ "$logged" = "$OUT_BYTES" ] || echo "- repetition $r: the log holds $logged bytes, not $OUT_BYTES" >> "$work/notes"
    [ "$status" = succeeded ] || echo "- repetition $r: the task ended \`$status\`" >> "$work/notes"
    rm -rf "$work/out"
  done
  wall=$(calc "$(med "$work/b") / $(med "$work/a")")
  rss_worst=$(python3 -c "import sys; print(max(int(x) for x in open(sys.argv[1])) / 1024)" "$work/rss_b")
  {
  echo "| wall time | $(cell "$work/a") | $(cell "$work/b") | $wall | ≤ 1.3× | $(met "$wall <= 1.3") |"
  echo "| peak RSS | $(cell "$work/rss_a" 0.0009765625 MiB) | $(cell "$work/rss_b" 0.0009765625 MiB) | – | ≤ 40 MiB, every repetition | $(met "$rss_worst <= 40") |"
  if [ -s "$work/notes" ]; then echo; cat "$work/notes"; fi
  } >> "$out"
fi

{
echo
echo "## Listing: \`orch tasks list\` on $(commas "$LIST_BIG") rows"
echo
echo "| scenario | baseline: the database's own client, same query | orch tasks list | orch / client | target | met |"
echo "|---|---|---|---|---|---|"
} >> "$out"
# A realistic mix: runs of 30 tasks (33,334 of them in 1,000,000 rows), mostly succeeded, 2%
# failed, 0.1% waiting for a decision.
rm -rf "$work/list"; mkdir -p "$work/list"
list_sqlite="$work/list/orch.db"
make_list_sqlite "$list_sqlite" "$LIST_BIG"
list_pg="orch_bench_list_$$"
psql -q "$PG_ADMIN" -c "CREATE DATABASE $list_pg" >/dev/null
list_pg_url="${PG_ADMIN%/*}/$list_pg"
make_list_pg "$list_pg_url" "$LIST_BIG"
run_q="nightly-$((LIST_BIG / 50))" # a run 60% of the way in (nightly-20000 of 33,334)
q_status="SELECT * FROM agents_tasks WHERE status = 'awaiting_approval' ORDER BY id DESC LIMIT 50"
q_run="SELECT * FROM agents_tasks WHERE run_id = '$run_q' ORDER BY id DESC LIMIT 50"
for backend in sqlite postgres; do
  for which in status run; do
    : > "$work/a"; : > "$work/b"
    if [ "$which" = status ]; then q=$q_status; args=(--status awaiting_approval); else q=$q_run; args=(--run-id "$run_q"); fi
    for r in $(seq 1 "$REPS"); do
      t0=$(now)
      if [ "$backend" = sqlite ]; then sqlite3 -json "$list_sqlite" "$q" >/dev/null; else psql -qAt "$list_pg_url" -c "$q" >/dev/null; fi
      since "$t0" >> "$work/a"
      if [ "$backend" = sqlite ]; then url="sqlite://$list_sqlite"; else url=$list_pg_url; fi
      t0=$(now)
      DATABASE_URL=$url "$ORCH" tasks list "${args[@]}" --limit 50 --json >/dev/null
      since "$t0" >> "$work/b"
    done
    stats "$backend, --${which/run/run-id} (limit 50)" "$work/a" "$work/b" 1.5 >> "$out"
  done
done
{
echo
echo "Query plans (the \`--status\` query):"
echo
echo '```'
echo "sqlite: $(sqlite3 "$list_sqlite" "EXPLAIN QUERY PLAN $q_status" | tr '\n' ' ')"
echo "postgres:"
psql -qAt "$list_pg_url" -c "EXPLAIN ANALYZE $q_status"
echo '```'
} >> "$out"
psql -q "$PG_ADMIN" -c "DROP DATABASE $list_pg WITH (FORCE)" >/dev/null

{
echo
echo "## Listing growth: \`orch tasks list --status awaiting_approval --limit 50 --json\`, $(commas "$LIST_SMALL") vs $(commas "$LIST_BIG") rows (SQLite)"
echo
echo "The same mix of rows at both sizes. With the \`(status, id)\` index the cost should not follow the table's size: a ratio near 1."
echo
echo "| command | $(commas "$LIST_SMALL") rows | $(commas "$LIST_BIG") rows | large / small |"
echo "|---|---|---|---|"
} >> "$out"
list_small="$work/list-small/orch.db"
rm -rf "$work/list-small"; mkdir -p "$work/list-small"
make_list_sqlite "$list_small" "$LIST_SMALL"
for f in cs cb os ob; do : > "$work/$f"; done
for r in $(seq 1 "$REPS"); do
  for size in s b; do
    if [ "$size" = s ]; then db=$list_small; else db=$list_sqlite; fi
    t0=$(now); sqlite3 -json "$db" "$q_status" >/dev/null; since "$t0" >> "$work/c$size"
    t0=$(now)
    DATABASE_URL="sqlite://$db" "$ORCH" tasks list --status awaiting_approval --limit 50 --json >/dev/null
    since "$t0" >> "$work/o$size"
  done
done
stats "baseline: sqlite3, same query" "$work/cs" "$work/cb" >> "$out"
stats "orch tasks list" "$work/os" "$work/ob" >> "$out"

if command -v wrk >/dev/null; then
  {
  echo
  echo "## API: \`orch serve\` under wrk (2 threads, 16 connections, $WRK_SECS s)"
  echo
  echo "| endpoint | axum hello-world req/s (p99) | orch req/s (p99) | orch / hello | target | met |"
  echo "|---|---|---|---|---|---|"
  } >> "$out"
  rm -rf "$work/api"; mkdir -p "$work/api"
  export DATABASE_URL="sqlite://$work/api/orch.db"
  "$ORCH" migrate up >/dev/null
  # A realistic table: 10,000 rows, some waiting.
  python3 bench/api_rows.py "$work/api/orch.db"
  "$ORCH" serve --bind 127.0.0.1:18091 2>/dev/null & sleep 1
  "$HELLO" 127.0.0.1:18090 & sleep 1
  cat > "$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"task": "bench.task", "run_id": "bench-1", "status": "running"}'
LUA
  measure() { # measure URL [SCRIPT] → "RPS P99"
    local script=()
    [ $# -gt 1 ] && script=(-s "$2")
    wrk -t2 -c16 -d"${WRK_SECS}s" --latency "${script[@]}" "$1" | awk '/Requests\/sec/ {r=$2} /^ +99%/ {p=$2} END {print r, p}'
  }
  ms() { # ms 5.72ms|850.00us|1.02s → milliseconds (wrk's units)
    python3 -c "import re, sys; v, u = re.fullmatch(r'([0-9.]+)(us|ms|s)', sys.argv[1]).groups(); print(float(v) * {'us': 0.001, 'ms': 1, 's': 1000}[u])" "$1"
  }
  read -r hr hp < <(measure "http://127.0.0.1:18090/hello")
  read -r gr gp < <(measure "http://127.0.0.1:18091/agents/tasks/?status=awaiting_approval&limit=10")
  echo "| GET /agents/tasks/?status=awaiting_approval&limit=10 | $hr ($hp) | $gr ($gp) | $(calc "$gr / $hr") | ≥ 0.20, p99 ≤ 10 ms | $(met "$gr / $hr >= 0.2 and $(ms "$gp") <= 10") |" >> "$out"
  read -r hr hp < <(measure "http://127.0.0.1:18090/hello" "$work/post.lua")
  read -r pr pp < <(measure "http://127.0.0.1:18091/agents/tasks/" "$work/post.lua")
  echo "| POST /agents/tasks/ (SQLite) | $hr ($hp) | $pr ($pp) | $(calc "$pr / $hr") | reported | – |" >> "$out"
  unset DATABASE_URL
fi

pages_scenario
workers_scenario

{
echo
echo "Total time of \`bench/run.sh\`: $((SECONDS / 60)) min $((SECONDS % 60)) s, the release build included."
} >> "$out"
cat "$out"
# A full run is the report's source; a smoke run's figures mean nothing and stay out of it.
[ "$SMOKE" = 1 ] || python3 bench/splice.py "$out" results

#!/usr/bin/env bash
# orch's benchmark: every figure is a ratio against a baseline measured in the same run,
# repetitions interleaved (A B A B …), medians and ranges reported. See docs/PERFORMANCE.md.
#
#   bash bench/run.sh            # all scenarios, 5 repetitions
#   REPS=3 bash bench/run.sh     # fewer repetitions
#
# Needs: a release build (made here), PostgreSQL on 127.0.0.1:5432 (trust auth), and wrk
# for the API scenario (installed from Debian's packages when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${REPS:-5}
PG_ADMIN=${ORCH_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
out=bench/results.md

cargo build --release --quiet --bin orch --example bench_hello
ORCH=$PWD/target/release/orch
HELLO=$PWD/target/release/examples/bench_hello
if ! command -v wrk >/dev/null; then
  apt-get install -y wrk >/dev/null 2>&1 || echo "bench: wrk is missing and could not be installed; the API scenario is skipped"
fi

now() { date +%s.%N; }
# stats NAME FILE_A FILE_B: medians, ranges and the ratio B/A of the medians.
stats() {
  python3 - "$@" <<'PY'
import statistics, sys
name, a, b = sys.argv[1:4]
A = [float(x) for x in open(a)]; B = [float(x) for x in open(b)]
ma, mb = statistics.median(A), statistics.median(B)
print(f"| {name} | {ma:.3f} s ({min(A):.3f}–{max(A):.3f}) | {mb:.3f} s ({min(B):.3f}–{max(B):.3f}) | {mb/ma:.2f} |")
PY
}

plan_of() { # plan_of N COMMAND... → a plan of N tasks running COMMAND
  local n=$1; shift
  local argv; argv=$(printf '"%s", ' "$@"); argv="[${argv%, }]"
  echo "name: bench"
  echo "tasks:"
  for i in $(seq 1 "$n"); do echo "  - task: t$i"; echo "    run: $argv"; done
}

{
echo "# Benchmark results"
echo
echo "Measured by \`bench/run.sh\` on $(nproc) cores, $(date -u +%Y-%m-%d), $REPS repetitions interleaved."
echo
echo "## Run overhead: 1,000 tasks of \`/usr/bin/true\`"
echo
echo "| scenario | baseline: bash loop exec'ing /usr/bin/true | orch run | orch / loop |"
echo "|---|---|---|---|"
} > "$out"

plan_of 1000 /usr/bin/true > "$work/true.yaml"
plan_of 1000 /bin/sh -c 'echo working; echo https://github.com/acme/site/pull/42' > "$work/print.yaml"
for backend in sqlite postgres; do
  for kind in true print; do
    : > "$work/a"; : > "$work/b"
    for r in $(seq 1 "$REPS"); do
      # A: the loop.
      t0=$(now)
      if [ "$kind" = true ]; then
        for i in $(seq 1 1000); do /usr/bin/true; done
      else
        for i in $(seq 1 1000); do /bin/sh -c 'echo working; echo https://github.com/acme/site/pull/42' > "$work/loop.out" 2>&1; done
      fi
      echo "$(echo "$(now) - $t0" | bc)" >> "$work/a"
      # B: orch, on a fresh database each time.
      if [ "$backend" = postgres ]; then
        db="orch_bench_$$_$r"
        psql -q "$PG_ADMIN" -c "CREATE DATABASE $db" >/dev/null
        url="${PG_ADMIN%/*}/$db"
      else
        rm -rf "$work/state"; mkdir -p "$work/state"; url="sqlite://$work/state/orch.db"
      fi
      DATABASE_URL=$url "$ORCH" migrate up >/dev/null
      t0=$(now)
      DATABASE_URL=$url "$ORCH" run "$work/$kind.yaml" --log-dir "$work/logs" >/dev/null 2>&1
      echo "$(echo "$(now) - $t0" | bc)" >> "$work/b"
      [ "$backend" = postgres ] && psql -q "$PG_ADMIN" -c "DROP DATABASE $db WITH (FORCE)" >/dev/null
      rm -rf "$work/logs"
    done
    stats "$backend, $kind" "$work/a" "$work/b" >> "$out"
  done
done

{
echo
echo "## Concurrency: 100 tasks of \`sleep 0.1\` at concurrency 8"
echo
echo "| scenario | ideal (100 × 0.1 s / 8) | orch run | orch / ideal |"
echo "|---|---|---|---|"
} >> "$out"
plan_of 100 /bin/sleep 0.1 > "$work/sleep.yaml"
: > "$work/a"; : > "$work/b"
for r in $(seq 1 "$REPS"); do
  echo 1.25 >> "$work/a"
  rm -rf "$work/state"; mkdir -p "$work/state"
  t0=$(now)
  DATABASE_URL="sqlite://$work/state/orch.db" "$ORCH" run "$work/sleep.yaml" --concurrency 8 --log-dir "$work/logs" >/dev/null 2>&1
  echo "$(echo "$(now) - $t0" | bc)" >> "$work/b"
done
stats "sqlite, concurrency 8" "$work/a" "$work/b" >> "$out"

{
echo
echo "## Listing: \`orch tasks list\` on 1,000,000 rows"
echo
echo "| scenario | baseline: the database's own client, same query | orch tasks list | orch / client |"
echo "|---|---|---|---|"
} >> "$out"
# One million rows, a realistic mix: 33,334 nightly runs of 30 tasks, mostly succeeded, some
# failed, a few waiting for a decision.
rm -rf "$work/list"; mkdir -p "$work/list"
list_sqlite="$work/list/orch.db"
DATABASE_URL="sqlite://$list_sqlite" "$ORCH" migrate up >/dev/null
python3 - "$list_sqlite" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
def rows():
    for i in range(1_000_000):
        s = "awaiting_approval" if i % 1000 == 7 else ("failed" if i % 50 == 3 else "succeeded")
        yield (f"t{i % 30}", f"nightly-{i // 30}", s, "pending" if s == "awaiting_approval" else None,
               "2026-11-01T02:30:00+00:00", "2026-11-01T02:31:00+00:00", 60000, "ok")
db.executemany("INSERT INTO agents_tasks (task, run_id, status, approval_state, started_at, finished_at, duration_ms, log_excerpt) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows())
db.commit()
db.execute("ANALYZE")
PY
list_pg="orch_bench_list_$$"
psql -q "$PG_ADMIN" -c "CREATE DATABASE $list_pg" >/dev/null
list_pg_url="${PG_ADMIN%/*}/$list_pg"
DATABASE_URL=$list_pg_url "$ORCH" migrate up >/dev/null
psql -q "$list_pg_url" >/dev/null <<'SQL'
INSERT INTO agents_tasks (task, run_id, status, approval_state, started_at, finished_at, duration_ms, log_excerpt)
SELECT 't' || (i % 30), 'nightly-' || (i / 30),
       CASE WHEN i % 1000 = 7 THEN 'awaiting_approval' WHEN i % 50 = 3 THEN 'failed' ELSE 'succeeded' END,
       CASE WHEN i % 1000 = 7 THEN 'pending' END,
       '2026-11-01T02:30:00Z', '2026-11-01T02:31:00Z', 60000, 'ok'
FROM generate_series(0, 999999) AS i;
ANALYZE agents_tasks;
SQL
q_status="SELECT * FROM agents_tasks WHERE status = 'awaiting_approval' ORDER BY id DESC LIMIT 50"
q_run="SELECT * FROM agents_tasks WHERE run_id = 'nightly-20000' ORDER BY id DESC LIMIT 50"
for backend in sqlite postgres; do
  for which in status run; do
    : > "$work/a"; : > "$work/b"
    if [ "$which" = status ]; then q=$q_status; args=(--status awaiting_approval); else q=$q_run; args=(--run-id nightly-20000); fi
    for r in $(seq 1 "$REPS"); do
      t0=$(now)
      if [ "$backend" = sqlite ]; then sqlite3 -json "$list_sqlite" "$q" >/dev/null; else psql -qAt "$list_pg_url" -c "$q" >/dev/null; fi
      echo "$(echo "$(now) - $t0" | bc)" >> "$work/a"
      if [ "$backend" = sqlite ]; then url="sqlite://$list_sqlite"; else url=$list_pg_url; fi
      t0=$(now)
      DATABASE_URL=$url "$ORCH" tasks list "${args[@]}" --limit 50 --json >/dev/null
      echo "$(echo "$(now) - $t0" | bc)" >> "$work/b"
    done
    stats "$backend, --${which/run/run-id} (limit 50)" "$work/a" "$work/b" >> "$out"
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

if command -v wrk >/dev/null; then
  {
  echo
  echo "## API: \`orch serve\` under wrk (2 threads, 32 connections, 10 s)"
  echo
  echo "| endpoint | axum hello-world req/s (p99) | orch req/s (p99) | orch / hello |"
  echo "|---|---|---|---|"
  } >> "$out"
  rm -rf "$work/api"; mkdir -p "$work/api"
  export DATABASE_URL="sqlite://$work/api/orch.db"
  "$ORCH" migrate up >/dev/null
  # A realistic table: 10,000 rows, some waiting.
  python3 - "$work/api/orch.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
statuses = ["succeeded"] * 8 + ["failed", "awaiting_approval"]
db.executemany("INSERT INTO agents_tasks (task, run_id, status, approval_state) VALUES (?, ?, ?, ?)",
  [(f"t{i % 30}", f"nightly-{i // 30}", statuses[i % 10], "pending" if statuses[i % 10] == "awaiting_approval" else None) for i in range(10000)])
db.commit()
PY
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
    wrk -t2 -c32 -d10s --latency "${script[@]}" "$1" | awk '/Requests\/sec/ {r=$2} /^ +99%/ {p=$2} END {print r, p}'
  }
  read -r hr hp < <(measure "http://127.0.0.1:18090/hello")
  read -r gr gp < <(measure "http://127.0.0.1:18091/agents/tasks/?status=awaiting_approval&limit=10")
  echo "| GET /agents/tasks/?status=awaiting_approval&limit=10 | $hr ($hp) | $gr ($gp) | $(python3 -c "print(f'{$gr/$hr:.2f}')") |" >> "$out"
  read -r hr hp < <(measure "http://127.0.0.1:18090/hello" "$work/post.lua")
  read -r pr pp < <(measure "http://127.0.0.1:18091/agents/tasks/" "$work/post.lua")
  echo "| POST /agents/tasks/ (SQLite) | $hr ($hp) | $pr ($pp) | $(python3 -c "print(f'{$pr/$hr:.2f}')") |" >> "$out"
  unset DATABASE_URL
fi

cat "$out"

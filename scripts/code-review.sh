#!/bin/sh
# code.review: reviews the files changed by the last commit (with --only-changed; else every
# tracked file) for TODO/FIXME markers, lines over 120 characters and files over 1 MiB.
# Prints one finding per line, then (with --out json) a JSON result line for orch.
set -u
only_changed=0
json=0
while [ $# -gt 0 ]; do
  case "$1" in
    --only-changed) only_changed=1 ;;
    --out) shift; [ "${1:-}" = "json" ] && json=1 ;;
  esac
  shift
done

if ! git rev-parse --git-dir >/dev/null 2>&1; then
  echo "code.review: not a git repository, nothing to review"
  [ "$json" -eq 1 ] && echo '{"status": "skipped"}'
  exit 0
fi
if [ "$only_changed" -eq 1 ] && git rev-parse HEAD~1 >/dev/null 2>&1; then
  files=$(git diff --name-only --diff-filter=AM HEAD~1 HEAD)
else
  files=$(git ls-files)
fi

todos=0; long=0; large=0; reviewed=0
for f in $files; do
  [ -f "$f" ] || continue
  reviewed=$((reviewed + 1))
  size=$(wc -c < "$f")
  if [ "$size" -gt 1048576 ]; then
    echo "$f: large file ($size bytes)"
    large=$((large + 1))
  fi
  n=$(grep -c -E '(TODO|FIXME)' "$f" 2>/dev/null || true)
  if [ "${n:-0}" -gt 0 ]; then
    echo "$f: $n TODO/FIXME marker(s)"
    todos=$((todos + n))
  fi
  n=$(awk 'length > 120' "$f" 2>/dev/null | wc -l)
  if [ "$n" -gt 0 ]; then
    echo "$f: $n line(s) over 120 characters"
    long=$((long + n))
  fi
done
echo "code.review: $reviewed file(s) reviewed: $todos TODO/FIXME, $long long line(s), $large large file(s)"
if [ "$json" -eq 1 ]; then
  printf '{"reviewed": %d, "todos": %d, "long_lines": %d, "large_files": %d}\n' "$reviewed" "$todos" "$long" "$large"
fi
exit 0

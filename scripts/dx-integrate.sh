#!/bin/sh
# dx.integrate: writes an integration report (what changed, how big, who touched it) into
# $REPORT_DIR and prints its location as the task's outputs URI, for a person to approve.
set -u
report_dir=${REPORT_DIR:-.orch/reports}
mkdir -p "$report_dir"
stamp=$(date -u +%Y-%m-%dT%H-%M-%SZ)
report="$report_dir/dx-integration-$stamp.md"
{
  echo "# DX integration report ($stamp)"
  echo
  if git rev-parse HEAD >/dev/null 2>&1; then
    echo "Commit: $(git rev-parse --short HEAD) — $(git log -1 --format=%s)"
    echo
    echo "## Changed since the previous commit"
    echo
    if git rev-parse HEAD~1 >/dev/null 2>&1; then
      git diff --stat HEAD~1 HEAD | sed 's/^/    /'
    else
      echo "    (first commit)"
    fi
  else
    echo "Not a git repository."
  fi
  echo
  echo "## Workspace"
  echo
  echo "    $(find . -path ./target -prune -o -path ./.git -prune -o -type f -print | wc -l) files outside target/ and .git/"
} > "$report"
echo "dx.integrate: report written to $report"
abs=$(cd "$(dirname "$report")" && pwd)/$(basename "$report")
printf '{"status": "awaiting_approval", "outputs_uri": "file://%s"}\n' "$abs"

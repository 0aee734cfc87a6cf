#!/bin/sh
# seo.validate: checks the repository's Markdown docs the way a docs site build would:
# every document has exactly one top-level heading, and every relative link points at a
# file that exists. Fenced code blocks are left out (a `# comment` there is not a heading),
# and so are packages in node_modules (the browser tests' axe-core): their docs are not ours.
# With --strict, a problem fails the task (exit 1).
set -u
strict=0
[ "${1:-}" = "--strict" ] && strict=1

# Prints the file without its fenced code blocks.
prose() {
  awk '/^[ \t]*(```|~~~)/ { fenced = !fenced; next } !fenced { print }' "$1"
}

problems=0
files=$(find . -path ./target -prune -o -path ./.git -prune -o -path ./.orch -prune -o -name node_modules -prune -o -name '*.md' -print | sort)
count=0
for f in $files; do
  count=$((count + 1))
  h1=$(prose "$f" | grep -c '^# ' || true)
  if [ "$h1" -ne 1 ]; then
    echo "$f: expected one top-level heading, found $h1"
    problems=$((problems + 1))
  fi
  dir=$(dirname "$f")
  # Relative links: ](path) or ](path#anchor), not http(s), mailto or pure anchors.
  links=$(prose "$f" | grep -o '](\([^)#][^)]*\))' | sed 's/^](\(.*\))$/\1/' | grep -v -E '^(https?:|mailto:)' || true)
  for link in $links; do
    target=${link%%#*}
    [ -z "$target" ] && continue
    if [ ! -e "$dir/$target" ]; then
      echo "$f: broken link to $target"
      problems=$((problems + 1))
    fi
  done
done
echo "seo.validate: checked $count Markdown files: $problems problem(s)"
if [ "$problems" -gt 0 ] && [ "$strict" -eq 1 ]; then
  exit 1
fi
exit 0

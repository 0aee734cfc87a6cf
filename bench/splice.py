#!/usr/bin/env python3
"""Copy a file the benchmark wrote into docs/PERFORMANCE.md, between its markers.

    python3 bench/splice.py bench/results.md results

replaces what lies between `<!-- results: begin -->` and `<!-- results: end -->` with the file
less its `#` title (the page has its own heading there), its other headings one level down
(`##` sections become `###`, under the page's `##`). This is how the
report's numbers come from the scripts' output and are never typed in by hand.
"""
import pathlib
import re
import sys

source, name = sys.argv[1], sys.argv[2]
doc = pathlib.Path("docs/PERFORMANCE.md")
begin, end = f"<!-- {name}: begin -->", f"<!-- {name}: end -->"
text = doc.read_text()
if begin not in text or end not in text:
    sys.exit(f"splice: {doc} has no {begin} … {end} markers; add them where the {name} belong")
body = re.sub(r"\A# .*\n+", "", pathlib.Path(source).read_text())
body = re.sub(r"^(#+) ", r"#\1 ", body, flags=re.M)
head, rest = text.split(begin, 1)
_, tail = rest.split(end, 1)
doc.write_text(f"{head}{begin}\n{body.rstrip()}\n{end}{tail}")
print(f"splice: {source} copied into {doc}")

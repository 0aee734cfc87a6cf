#!/usr/bin/env python3
"""Fails when the modules of `src/` import each other in a cycle.

Reads every `crate::…` and `super::…` path in `src/**/*.rs` (in `use` lines and inline),
resolves each to the deepest module file it names, and looks for cycles at two levels:
between the top-level modules (`store`, `runner`, …) and between the files of one
top-level module (`store::batch` ↔ `store::retry`). A module may use its own parent or
children freely (`mod.rs` re-exports what its files define); everything else must run one
way, so a newcomer can read the layers bottom-up. `#[cfg(test)]` blocks are ignored: a
test may reach anywhere.

Usage: python3 .ci/module-cycles.py [--graph]   (exit 1 on a cycle)
"""
import re
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
ROOTS = {"lib.rs", "main.rs"}


def module_of(path: Path) -> tuple:
    rel = path.relative_to(SRC)
    parts = list(rel.with_suffix("").parts)
    if parts[-1] == "mod" or rel.name in ROOTS:
        parts = parts[:-1]
    return tuple(parts)


def modules() -> dict:
    return {module_of(p): p for p in SRC.rglob("*.rs")}


def strip_tests_and_comments(text: str) -> str:
    text = re.sub(r"//[^\n]*", "", text)
    # Drop `#[cfg(test)] mod … { … }` blocks by brace matching.
    out, i = [], 0
    for m in re.finditer(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{", text):
        if m.start() < i:
            continue
        out.append(text[i : m.start()])
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        i = j
    out.append(text[i:])
    return "".join(out)


def expand(prefix: str, body: str) -> list:
    """`a::{b, c::{d, self}}` -> ['a::b', 'a::c::d', 'a::c']."""
    paths, depth, start = [], 0, 0
    items = []
    for k, ch in enumerate(body):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append(body[start:k])
            start = k + 1
    items.append(body[start:])
    for item in items:
        item = item.strip()
        if not item:
            continue
        m = re.match(r"^([\w:]*?)(::)?\{(.*)\}$", item, re.S)
        if m:
            head = m.group(1)
            paths += expand(f"{prefix}::{head}" if head else prefix, m.group(3))
        else:
            item = re.split(r"\s+as\s+", item)[0]
            paths.append(prefix if item == "self" else f"{prefix}::{item}")
    return paths


def imports(mod: tuple, text: str) -> list:
    found = []
    for m in re.finditer(r"\buse\s+([^;]+);", text, re.S):
        spec = re.sub(r"\s+", " ", m.group(1)).strip()
        m2 = re.match(r"^([\w:]+?)::\{(.*)\}$", spec, re.S)
        found += expand(m2.group(1), m2.group(2)) if m2 else [spec]
    found += re.findall(r"(?<![\w:])((?:crate|super)(?:::\w+)+)", text)
    out = []
    for p in found:
        segs = p.split("::")
        base = list(mod)
        if segs[0] == "crate":
            base, segs = [], segs[1:]
        elif segs[0] == "super":
            while segs and segs[0] == "super":
                base, segs = base[:-1], segs[1:]
        elif segs[0] == "self":
            segs = segs[1:]
        else:
            continue
        out.append(tuple(base + segs))
    return out


def resolve(path: tuple, mods: dict) -> tuple:
    for n in range(len(path), -1, -1):
        if path[:n] in mods:
            return path[:n]
    return ()


def related(a: tuple, b: tuple) -> bool:
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def cycles(edges: dict) -> list:
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]
    nodes = set(edges) | {v for vs in edges.values() for v in vs}

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def main() -> int:
    mods = modules()
    top, inner = {}, {}
    witness = {}
    for mod, path in sorted(mods.items()):
        if not mod:
            continue
        text = strip_tests_and_comments(path.read_text())
        for target in imports(mod, text):
            dep = resolve(target, mods)
            if not dep or related(mod, dep):
                continue
            if mod[0] != dep[0]:
                top.setdefault(mod[0], set()).add(dep[0])
                witness.setdefault((mod[0], dep[0]), f"{'::'.join(mod)} -> {'::'.join(dep)}")
            else:
                a, b = mod[:2], dep[:2]
                if a != b:
                    inner.setdefault(a, set()).add(b)
                    witness.setdefault((a, b), f"{'::'.join(mod)} -> {'::'.join(dep)}")
    if "--graph" in sys.argv:
        for a in sorted(top):
            print(f"{a} -> {', '.join(sorted(top[a]))}")
    bad = []
    for comp in cycles(top) + cycles(inner):
        names = ["::".join(c) if isinstance(c, tuple) else c for c in comp]
        edges = [w for (a, b), w in witness.items() if a in comp and b in comp]
        bad.append(f"cycle between {', '.join(names)}:\n    " + "\n    ".join(sorted(edges)))
    for b in bad:
        print(f"module-cycles: {b}", file=sys.stderr)
    if bad:
        print("module-cycles: imports must run one way (the layers: docs/ARCHITECTURE.md)", file=sys.stderr)
        return 1
    print(f"module-cycles: {len(mods)} modules, no cycle")
    return 0


if __name__ == "__main__":
    sys.exit(main())

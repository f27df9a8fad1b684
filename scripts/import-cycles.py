#!/usr/bin/env python3
"""Find import circles between the source files of each crate of the workspace.

A file "imports" another when it names an item through `crate::a::b`, `super::x` or `self::y`
(in `use` lines or inline paths). Files are nodes; a strongly connected component of two or
more files is a circle, printed with the paths that close it. Test files (`tests.rs`,
`*_tests.rs`, `tests/`) and `#[cfg(test)]` modules may import anything: they are skipped.

    scripts/import-cycles.py            # every crate; exit 1 when a circle is found

Python standard library only.
"""

import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CRATES = ["sensor", "table", "reassembly", "sessionizer", "exporters", "detect", "inventory", "bench"]

PATH_RE = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")
USE_GROUP_RE = re.compile(r"\buse\s+(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)*)::\{([^;]*)\};", re.S)


def module_files(src):
    """Map module path tuples to files, from the crate's `src/` tree."""
    files = {}
    for dirpath, _, names in os.walk(src):
        for n in names:
            if not n.endswith(".rs"):
                continue
            full = os.path.join(dirpath, n)
            rel = os.path.relpath(full, src)[:-3].split(os.sep)
            if rel[-1] == "mod":
                rel = rel[:-1]
            if rel in (["lib"], ["main"]):
                rel = []
            files[tuple(rel)] = full
    return files


def strip_tests(text):
    """Drop `#[cfg(test)]` items (a module or function body, by brace matching)."""
    out, i = [], 0
    marker = "#[cfg(test)]"
    while True:
        j = text.find(marker, i)
        if j < 0:
            out.append(text[i:])
            return "".join(out)
        out.append(text[i:j])
        k = j + len(marker)
        semi, brace = text.find(";", k), text.find("{", k)
        if semi >= 0 and (brace < 0 or semi < brace):
            i = semi + 1
            continue
        depth, p = 0, brace
        while p < len(text):
            if text[p] == "{":
                depth += 1
            elif text[p] == "}":
                depth -= 1
                if depth == 0:
                    break
            p += 1
        i = p + 1


def resolve(files, here, kind, parts):
    """The file a path names: the longest module prefix that is a file."""
    if kind == "crate":
        base = []
    elif kind == "self":
        base = list(here)
    else:
        base = list(here[:-1])
    parts = base + parts
    for n in range(len(parts), -1, -1):
        key = tuple(parts[:n])
        if key in files:
            return key
    return None


def edges_of(files, mod, path):
    text = strip_tests(open(path, encoding="utf-8").read())
    text = re.sub(r"//[^\n]*", "", text)
    # A file that is `mod.rs`/`lib.rs` is its folder's module; `super` from it is the parent.
    here = mod
    targets = set()
    for m in USE_GROUP_RE.finditer(text):
        prefix = [p for p in m.group(2).split("::") if p]
        for item in m.group(3).split(","):
            item = item.strip().split(" as ")[0].split("::")
            item = [p for p in item if p and p not in ("{", "}", "self", "*")]
            t = resolve(files, here, m.group(1), prefix + item)
            if t is not None:
                targets.add(t)
    for m in PATH_RE.finditer(text):
        parts = [p for p in m.group(2).split("::") if p]
        t = resolve(files, here, m.group(1), parts)
        if t is not None:
            targets.add(t)
    targets.discard(mod)
    # A module importing its own children (or the children re-exported by its mod.rs) is the
    # folder's index, not a circle: parent -> child edges from mod.rs/lib.rs are dropped.
    return {t for t in targets if not (len(t) > len(mod) and t[: len(mod)] == mod)}


def sccs(graph):
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
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
            out.append(comp)

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            visit(v)
    return out


def main():
    found = 0
    for crate in CRATES:
        src = os.path.join(ROOT, crate, "src")
        if not os.path.isdir(src):
            continue
        files = module_files(src)
        graph = {}
        for mod, path in files.items():
            name = os.path.basename(path)
            if name == "tests.rs" or name.endswith("_tests.rs") or "tests" in mod:
                continue
            graph[mod] = edges_of(files, mod, path)
        for comp in sccs(graph):
            if len(comp) > 1:
                found += 1
                names = sorted(os.path.relpath(files[m], ROOT) for m in comp)
                print(f"import circle in {crate}: " + " <-> ".join(names))
    if found:
        sys.exit(1)
    print("no import circles")


if __name__ == "__main__":
    main()

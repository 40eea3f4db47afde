#!/usr/bin/env python3
"""Fails if the core crate's top-level modules import each other in a cycle.

Each file under crates/tokenguard-core/src belongs to a top-level module (its
first path component: `jwt/verifier.rs` is `jwt`); every `crate::x` it names
is an edge to `x`. A module and its own submodules may use each other; two
top-level modules may not depend on each other, directly or through others.
"""
import pathlib
import re
import sys

root = pathlib.Path(__file__).resolve().parent.parent / "crates/tokenguard-core/src"
edges: dict[str, set[str]] = {}
for path in root.rglob("*.rs"):
    relative = path.relative_to(root)
    module = relative.parts[0].removesuffix(".rs")
    if module in ("lib", "plumbing"):  # the crate root and its re-export list
        continue
    text = path.read_text()
    # Tests may use anything; only the code's own dependencies count.
    text = text.split("#[cfg(test)]")[0]
    # Doc links name items without depending on them.
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("//"))
    for used in re.findall(r"crate::([a-z_]\w*)", text):
        if used != module:
            edges.setdefault(module, set()).add(used)

cycles = []
def visit(node, stack, seen):
    for nxt in sorted(edges.get(node, ())):
        if nxt in stack:
            cycles.append(stack[stack.index(nxt):] + [nxt])
        elif nxt not in seen:
            seen.add(nxt)
            visit(nxt, stack + [nxt], seen)

for start in sorted(edges):
    visit(start, [start], {start})
unique = {" -> ".join(cycle) for cycle in cycles if cycle[0] == min(cycle[:-1])}
for cycle in sorted(unique):
    print("cycle:", cycle)
print(f"{len(edges)} modules, {sum(len(v) for v in edges.values())} edges, {len(unique)} cycles")
sys.exit(1 if unique else 0)

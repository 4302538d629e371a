"""The import structure a reader can trust: ``python -m app.tools.imports`` fails (exit 1) on an
import cycle between domain packages and on an upward import, and prints each one.

The layers, lowest first; a module may import its own layer or lower ones, never a higher one:

1. foundation: the top-level modules of ``app`` (configuration, extensions, the database helpers,
   time, mail, the price list, the retention registry, the transition tables), ``app.security``, ``app.tools``,
   the cookie registry (``app.consent.registry``, plain data the language switch reads) and the
   call log's partition helpers (``app.usage.partitions``, plain SQL the model's retention rule
   and the migrations use);
2. models: ``app.<domain>.models``, and the labels (``app.labels``, keyed by the models' state enums);
3. metering: ``app.metering`` (below the api, billing and usage that call it);
4. domains: every other module of ``app.<domain>``;
5. wiring: ``app/__init__.py`` and ``app/cli.py``, which put it all together.

Between domain packages the rule is no cycle: if billing imports auth's services, auth does not
import billing's, directly or through others (models are a layer of their own below, so any
package may read any model). Every import counts, at the module's top or inside a
function: deferring an import hides a cycle from Python, not from a reader.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

APP = Path(__file__).resolve().parents[1]
# Top-level modules of ``app`` that sit above the foundation because they read the domains.
WIRING = {"app", "app.cli"}
FOUNDATION_PACKAGES = {"security", "tools", "templates", "static", "config"}  # packages of the foundation, not domains
FOUNDATION = {"app.consent.registry", "app.usage.partitions"}
BESIDE_MODELS = {"app.labels"}  # top-level, but reads the models' state enums


def module_name(path: Path) -> str:
    parts = path.relative_to(APP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, name: str) -> set[str]:
    """Every ``app`` module ``path`` imports (``from app.x import y`` counts as ``app.x.y`` when
    that is a module, else ``app.x``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "app")
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            if base.split(".")[0] != "app":
                continue
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if _is_module(candidate) else base)
    found.discard(name)
    return found


def _is_module(name: str) -> bool:
    path = APP.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def domain_of(name: str) -> str | None:
    """``app.<domain>`` for a module inside a domain package, else None."""
    parts = name.split(".")
    if len(parts) >= 2 and (APP / parts[1]).is_dir() and parts[1] not in FOUNDATION_PACKAGES:
        return f"app.{parts[1]}"
    return None


def layer(name: str) -> int:
    if name in WIRING:
        return 5
    if name in FOUNDATION:
        return 1
    if name.endswith(".models") or name in BESIDE_MODELS:
        return 2
    domain = domain_of(name)
    if domain is None:
        return 1
    return 3 if domain == "app.metering" else 4


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in APP.rglob("*.py")}
    return {name: {i for i in imports_of(path, name) if i in modules} for name, path in modules.items()}


def upward(edges: dict[str, set[str]]) -> list[str]:
    return sorted(f"{a} (layer {layer(a)}) imports {b} (layer {layer(b)})"
                  for a, targets in edges.items() for b in targets if layer(b) > layer(a))


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Cycles between domain packages, each as the packages on it."""
    packages: dict[str, set[str]] = defaultdict(set)
    for a, targets in edges.items():
        for b in targets:
            pa, pb = domain_of(a), domain_of(b)
            if pa and pb and pa != pb and layer(b) > 2 and b not in FOUNDATION:
                packages[pa].add(pb)
    found, seen = [], set()

    def walk(node: str, path: list[str]) -> None:
        for nxt in sorted(packages.get(node, ())):
            if nxt in path:
                cycle = path[path.index(nxt):]
                key = frozenset(cycle)
                if key not in seen:
                    seen.add(key)
                    found.append([*cycle, nxt])
            elif len(path) < 8:
                walk(nxt, [*path, nxt])

    for start in sorted(packages):
        walk(start, [start])
    return found


def main() -> int:
    edges = graph()
    problems = upward(edges) + [" -> ".join(c) for c in cycles(edges)]
    for problem in problems:
        print(problem)
    print(f"{len(edges)} modules, {sum(map(len, edges.values()))} imports: "
          + ("no cycle between domain packages, no upward import" if not problems else f"{len(problems)} problems"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

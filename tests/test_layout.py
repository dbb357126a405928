"""The package's shape: stages import only leftwards along the data flow, no import cycles (also
not through imports inside functions), no module much over 400 lines."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "assistant"
# Left to right along the data flow; a module may import its own stage, stages to its left and
# the shared core. Stages of equal rank (eval, ui) must not import each other.
RANK = {
    "core": 0,  # types, errors, config, hub, __init__
    "ingest": 1,
    "text": 2,
    "index": 3,
    "search": 4,
    "answer": 5,
    "pipeline": 6,
    "eval": 7,
    "ui": 7,
    "bench": 8,
    "cli": 9,
}
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def stage(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in ("types", "errors", "config", "hub"):
        return "core"
    return parts[1]


def imports(path: Path) -> set[str]:
    """Every assistant module ``path`` imports, at the top or inside a function."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("assistant"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("assistant"):
                continue
            names = [f"{target}.{a.name}" for a in node.names]
            # "from . import dense" imports a module; "from .format import Manifest" a name
            found.update(n if (PACKAGE.parent / (n.replace(".", "/") + ".py")).exists() else target for n in names)
    return found - {module}


def graph() -> dict[str, set[str]]:
    return {module_name(p): imports(p) for p in PACKAGE.rglob("*.py")}


def test_stages_import_only_leftwards():
    wrong = []
    for module, targets in graph().items():
        for target in targets:
            a, b = stage(module), stage(target)
            if a != b and (RANK[b] > RANK[a] or RANK[b] == RANK[a]):
                wrong.append(f"{module} -> {target}")
    assert not wrong, "imports against the data flow:\n" + "\n".join(sorted(wrong))


def test_no_import_cycles():
    edges = graph()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if nxt not in edges:
                continue
            if state.get(nxt) == 1:
                cycles.append(trail[trail.index(nxt) :] + [nxt] if nxt in trail else [node, nxt])
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_modules_stay_small():
    sizes = {module_name(p): len(p.read_text(encoding="utf-8").splitlines()) for p in PACKAGE.rglob("*.py")}
    assert len(sizes) > 40  # the walk found the package
    assert {m: n for m, n in sizes.items() if n > MAX_LINES} == {}


def test_the_checker_sees_relative_and_function_level_imports(tmp_path):
    """The rules above are only as good as the import parser: it must see both kinds."""
    found = imports(PACKAGE / "cli" / "commands.py")
    assert "assistant.ui.app" in found  # imported inside serve()
    assert "assistant.config" in found  # from .config import ...
    assert "assistant.index.dense" in imports(PACKAGE / "index" / "build.py")  # from . import dense

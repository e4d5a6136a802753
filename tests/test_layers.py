"""The declared layers (docs/architecture.md), checked by parsing every module's imports.

Lower layers never import higher ones, at module level or inside a function; and the
module-level import graph has no cycle (a cycle there is an import-order bug waiting).
A module this table does not place fails the test, so a new module must be given a layer.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("movnect", "postprocess", "teacher_student", "mobile_export")

# (name, module prefixes) from the bottom up; a module belongs to the longest prefix it equals or
# starts with ("prefix."), except the bare package names in EXACT (a package's __init__ only).
EXACT = {"movnect"}
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("conventions", ("movnect", "movnect.skeleton", "movnect.camera", "movnect.codec", "movnect.config",
                     "movnect.media", "movnect.atomic", "movnect.locks", "movnect.interrupt",
                     "movnect.assets", "movnect.triangulate", "movnect.litert", "movnect.rotations")),
    ("postprocess", ("postprocess",)),
    ("core", ("movnect.models", "movnect.data", "movnect.train", "movnect.checkpoint", "movnect.evaluate",
              "movnect.eval_crops", "movnect.metrics", "movnect.estimator", "movnect.blazepose")),
    ("tools", ("teacher_student", "mobile_export")),
    ("app", ("movnect.cli", "movnect.__main__", "movnect.demo", "movnect.live", "movnect.predict",
             "movnect.overlay", "movnect.sample_clip")),
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def layer_of(module: str) -> int:
    best, best_len = -1, -1
    for index, (_name, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            inside = module == prefix or (prefix not in EXACT and module.startswith(prefix + "."))
            if inside and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    if best < 0:
        raise KeyError(f"{module} is in no declared layer: add it to tests/test_layers.py and docs/architecture.md")
    return best


def imports_of(path: Path, module: str, known: set[str], top_level_only: bool) -> set[str]:
    """Project modules `module` imports (`from pkg import name` counts as pkg.name when that is a
    module). top_level_only: only statements executed at import time (not inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    is_package = path.name == "__init__.py"
    nodes: list[ast.AST] = []
    if top_level_only:
        stack: list[ast.AST] = list(tree.body)
        while stack:  # module body, including if/try/with/class bodies, but not function bodies
            node = stack.pop()
            nodes.append(node)
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                stack.extend(ast.iter_child_nodes(node))
    else:
        nodes = list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in known)
    return {m for m in found if m.split(".")[0] in PACKAGES and m in known}


MODULES = all_modules()


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_imports_a_higher_layer(module):
    own = layer_of(module)
    upward = sorted(f"{dep} ({LAYERS[layer_of(dep)][0]})"
                    for dep in imports_of(MODULES[module], module, set(MODULES), top_level_only=False)
                    if layer_of(dep) > own)
    assert not upward, f"{module} ({LAYERS[own][0]}) imports a higher layer: {', '.join(upward)}"


def test_no_import_cycle_at_module_level():
    graph = {m: imports_of(p, m, set(MODULES), top_level_only=True) - {m} for m, p in MODULES.items()}
    # a package's __init__ is imported by its submodules' imports anyway; edges into a package
    # from its own submodules are not cycles of the author's making
    for m in graph:
        graph[m] = {d for d in graph[m] if not m.startswith(d + ".")}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        path.append(m)
        for dep in sorted(graph[m]):
            if state.get(dep) == 1:
                cycle = path[path.index(dep):] + [dep]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if dep not in state:
                visit(dep)
        path.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)


def test_the_checker_sees_upward_imports_and_cycles(tmp_path):
    """The parser on a hand-made module: a function-level import counts for layers, not cycles."""
    src = tmp_path / "m.py"
    src.write_text("import movnect.camera\nfrom movnect import skeleton\n"
                   "def f():\n    from mobile_export import runtime\n")
    known = {"movnect", "movnect.camera", "movnect.skeleton", "mobile_export", "mobile_export.runtime"}
    every = imports_of(src, "movnect.x", known, top_level_only=False)
    assert every == {"movnect", "movnect.camera", "movnect.skeleton", "mobile_export", "mobile_export.runtime"}
    assert imports_of(src, "movnect.x", known, top_level_only=True) == {"movnect", "movnect.camera", "movnect.skeleton"}
    assert layer_of("movnect.estimator") < layer_of("mobile_export.runtime") < layer_of("movnect.demo")
    with pytest.raises(KeyError, match="in no declared layer"):
        layer_of("movnect.brand_new_module")


def test_the_docs_name_every_module_of_the_layer_table():
    """docs/architecture.md (its table) and docs/layers.svg (its picture) list what LAYERS holds."""
    table = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    picture = (ROOT / "docs" / "layers.svg").read_text(encoding="utf-8")
    for name, prefixes in LAYERS:
        assert name in picture, name
        for prefix in prefixes:
            short = prefix.rsplit(".", 1)[-1]
            assert f"`{short}" in table or f"{short}/" in table, f"docs/architecture.md does not name {prefix}"
            assert short in picture, f"docs/layers.svg does not name {prefix}"

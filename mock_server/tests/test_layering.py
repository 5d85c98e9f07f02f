"""The mock's shape, read from its source with `ast`: imports point down the layers, never in a circle.

`pytest mock_server/tests/test_layering.py -s` prints the import graph, layer by layer.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent
ROOT = PACKAGE.name
MAX_LINES = 500
# Data tables, exempt from the line limit: the resource declarations, one block a resource.
DATA_TABLES = {"registry"}

# Top to bottom; a module may import its own layer or any below it. The first part of a module's
# name (`writes` for `writes.orders`) says its layer.
LAYERS: list[tuple[str, set[str]]] = [
    ("entry points", {"", "__main__", "cli", "testing", "tls"}),
    ("HTTP app", {"app"}),
    ("handlers", {"reads", "writes", "control_api", "oauth", "faults", "replies"}),
    ("state", {"state", "webhooks"}),
    (
        "data",
        {"search", "seed", "registry", "resources", "store", "world", "idsets", "errors", "builders", "custom_fields"},
    ),
]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: dict[str, Path] = {
    _module_name(path): path for path in sorted(PACKAGE.rglob("*.py")) if "tests" not in path.relative_to(PACKAGE).parts
}


def _resolved(name: str) -> str | None:
    """The mock module `name` (dotted, below the package) is, or lives in; None outside the mock."""
    while name not in MODULES:
        if "." not in name:
            return None
        name = name.rsplit(".", 1)[0]
    return name


def _imports(module: str) -> set[str]:
    """Every mock module `module` imports, wherever the import stands (functions, TYPE_CHECKING blocks)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [
                alias.name.removeprefix(ROOT).lstrip(".")
                for alias in node.names
                if alias.name == ROOT or alias.name.startswith(ROOT + ".")
            ]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".") if package else []
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            elif node.module == ROOT or (node.module or "").startswith(ROOT + "."):
                base = node.module.removeprefix(ROOT).lstrip(".")
            else:
                continue
            targets = [f"{base}.{alias.name}".lstrip(".") for alias in node.names]
        else:
            continue
        found |= {target for target in map(_resolved, targets) if target is not None}
    found.discard(module)
    return found


GRAPH = {module: _imports(module) for module in MODULES}


def _layer(module: str) -> int | None:
    top = module.split(".")[0]
    return next((index for index, (_, members) in enumerate(LAYERS) if top in members), None)


def _circles() -> list[list[str]]:
    """One import circle per strongly connected group of modules (Tarjan), each as a path."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for imported in sorted(GRAPH[module]):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while (member := stack.pop()) != module:
                group.append(member)
            group.append(module)
            if len(group) > 1:
                groups.append(sorted(group))

    for module in sorted(GRAPH):
        if module not in index:
            visit(module)
    return groups


def _describe() -> str:
    lines = []
    for number, (name, members) in enumerate(LAYERS):
        lines.append(f"{number} {name}")
        for module in sorted(module for module in GRAPH if module.split(".")[0] in members):
            lines.append(f"    {module or ROOT} -> {', '.join(sorted(GRAPH[module])) or '(nothing in the mock)'}")
    return "\n".join(lines)


def test_given_the_mock_modules_when_their_imports_are_walked_then_every_module_has_a_layer():
    unplaced = [module for module in MODULES if _layer(module) is None]

    assert unplaced == []


def test_given_the_mock_modules_when_their_imports_are_walked_then_no_imports_go_round_in_a_circle():
    print("\n" + _describe())

    assert _circles() == []


def test_given_the_mock_modules_when_their_imports_are_walked_then_each_import_points_down_the_layers():
    placed = {module: layer for module in GRAPH if (layer := _layer(module)) is not None}
    upward = [
        f"{module} ({LAYERS[placed[module]][0]}) -> {imported} ({LAYERS[placed[imported]][0]})"
        for module, imports in sorted(GRAPH.items())
        if module in placed
        for imported in sorted(imports)
        if imported in placed and placed[imported] < placed[module]
    ]

    assert upward == []


@pytest.mark.parametrize("module", sorted(MODULES), ids=lambda module: module or ROOT)
def test_given_a_mock_module_when_read_then_it_opens_with_a_docstring_and_stays_under_the_line_limit(module):
    source = MODULES[module].read_text()
    tree = ast.parse(source)

    assert ast.get_docstring(tree) or not tree.body, f"{module or ROOT} does not open with a docstring"
    assert module in DATA_TABLES or len(source.splitlines()) <= MAX_LINES

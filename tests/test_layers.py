"""The layer rules of docs/architecture.md, read from the source: a layer imports only from itself and
the layers before it, only models/ imports litellm, and no module reaches itself through imports.

Imports inside functions count like any other (a function-level import is still a dependency, and
a cycle hidden in one breaks as soon as the function runs first); imports under `if TYPE_CHECKING:`
do not, since they never run.
"""

import ast
from pathlib import Path

import panel

SRC = Path(panel.__file__).parent
LAYERS = ["core", "inputs", "models", "store", "review", "analysis", "publish", "cli"]


def module_name(path: Path) -> str:
    parts = ["panel", *path.relative_to(SRC).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_only(tree: ast.AST) -> set[int]:
    """ids of the import nodes under `if TYPE_CHECKING:`."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            found |= {id(n) for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom))}
    return found


def imports_of(path: Path) -> set[str]:
    """Every module `path` imports, anywhere in the file, as absolute names."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_only(tree)
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            base = base[: len(base) - node.level + 1] if node.level else []
            stem = ".".join([*base, node.module] if node.module else base)
            # `from . import x` may name submodules: those count, the package itself only for names
            # that are not (importing a submodule always runs its package first: no real edge).
            submodules = {f"{stem}.{a.name}" for a in node.names if f"{stem}.{a.name}" in MODULES}
            found |= submodules | ({stem} if len(submodules) < len(node.names) else set())
    return found


MODULES = {module_name(p): p for p in SRC.rglob("*.py")}
GRAPH = {name: {t for t in imports_of(path) if t in MODULES and t != name} for name, path in MODULES.items()}


def layer(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else None


def test_a_layer_imports_only_from_itself_and_the_layers_before_it():
    upward = [f"{source} imports {target}" for source, targets in GRAPH.items() for target in sorted(targets)
              if layer(source) is not None and layer(target) is not None and layer(target) > layer(source)]
    assert upward == []


def test_only_the_models_layer_imports_litellm():
    found = [f"{name} imports {target}" for name, path in MODULES.items() for target in sorted(imports_of(path))
             if target.split(".")[0] == "litellm" and layer(name) != LAYERS.index("models")]
    assert found == []


def cycles() -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in GRAPH[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(GRAPH):
        if node not in index:
            visit(node)
    return found


def test_no_module_reaches_itself_through_imports_function_level_ones_included():
    described = [" <-> ".join(c) + ": " + "; ".join(f"{a} imports {b}" for a in c for b in sorted(GRAPH[a])
                                                   if b in c) for c in cycles()]
    assert described == []

"""The server's imports: no cycle among its modules, and nothing of the client.

Every import counts, wherever it stands (``if TYPE_CHECKING:`` and function bodies included).
"""

from __future__ import annotations

import ast
import graphlib
import pathlib

import aikit_files.server

SERVER = pathlib.Path(aikit_files.server.__file__).parent
PACKAGE = "aikit_files.server"
#: What the server shares with the client: facts of the API, wire models, the converter.
SHARED = {"aikit_files._limits", "aikit_files._models", "aikit_files._serde"}


def module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(SERVER).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((PACKAGE, *parts))


MODULES = {module_name(path): path for path in SERVER.rglob("*.py")}


def imported(name: str) -> set[str]:
    """The modules of ``aikit_files`` that module ``name`` imports."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            module = f"{base}.{node.module}" if node.level and node.module else node.module
            module = module or base
            # ``from package import module`` imports the module.
            for alias in node.names:
                submodule = f"{module}.{alias.name}"
                is_module = submodule in MODULES or submodule in SHARED
                found.add(submodule if is_module else module)
    return {module for module in found if module.split(".")[0] == "aikit_files"}


def test_the_server_imports_nothing_of_the_client() -> None:
    for name in MODULES:
        foreign = {
            module
            for module in imported(name)
            if not module.startswith(PACKAGE) and module not in SHARED
        }
        assert not foreign, f"{name} imports {sorted(foreign)}"


def test_no_import_cycle_inside_the_server() -> None:
    graph = {
        name: {module for module in imported(name) if module in MODULES and module != name}
        for name in MODULES
    }
    # Importing a submodule runs its package's __init__ first: count that edge too.
    for name in MODULES:
        parent = name.rpartition(".")[0]
        if parent in MODULES and parent != PACKAGE:
            graph[name].add(parent)
    graphlib.TopologicalSorter(graph).prepare()  # raises CycleError on a cycle


def test_the_walk_sees_every_kind_of_import() -> None:
    # Guards the walk itself: these are imports the checks above must see.
    assert "aikit_files.server._http" in imported("aikit_files.server.routes.files")
    assert "aikit_files._serde" in imported("aikit_files.server._flavours")
    assert "aikit_files.server._state" in imported("aikit_files.server._http")

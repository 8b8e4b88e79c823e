"""The import structure of the package: no cycle, imports that go one way, a server that never
imports the client, and a sans-I/O protocol core. Read from the source with ``ast``."""

from __future__ import annotations

import ast
import pathlib

import pytest

import aikit_files

PACKAGE = pathlib.Path(aikit_files.__file__).parent

#: The client's layers, lowest first: a module may import from its own layer or a lower one.
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"_limits", "_exceptions", "_serde", "_compat"}),
    frozenset({"_models", "_results", "_config", "_params"}),
    frozenset({"_protocol", "_checks"}),
    frozenset({"_io", "_compat"}),
    frozenset({"_transport", "_deadline"}),
    frozenset({"_recovery"}),
    frozenset({"_calls"}),
    frozenset({"_large_upload"}),
    frozenset({"_uploads"}),
    frozenset({"_many"}),
    frozenset({"_file_requests", "_create", "_file_arguments", "_processing"}),
    frozenset({"_files"}),
    frozenset({"_client"}),
    frozenset({"_sync", "_sync_files", "_sync_uploads", "_bridge", "_portal"}),
    frozenset({"__init__", "__main__", "cli", "testing"}),
)
#: What the server may import from the rest of the package: facts and models shared with the
#: client (``_models`` needs ``_exceptions`` for its argument checks).
SERVER_MAY_IMPORT = frozenset({"_limits", "_models", "_serde", "_exceptions"})
#: Libraries that do I/O, which the sans-I/O core must not import.
IO_LIBRARIES = frozenset(
    {"asyncio", "aiohttp", "anyio", "socket", "ssl", "selectors", "http", "concurrent", "threading"}
)


def module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports_of(path: pathlib.Path) -> set[str]:
    """Every module ``path`` imports, absolute, wherever the import stands (``if
    TYPE_CHECKING:`` and function bodies included). ``from package import module`` imports the
    module; ``from module import name`` the module."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            module = (
                (f"{base}.{node.module}" if node.module else base) if node.level else node.module
            )
            assert module is not None
            for alias in node.names:
                submodule = f"{module}.{alias.name}"
                found.add(submodule if submodule in MODULES else module)
    return found


def graph() -> dict[str, set[str]]:
    """The package's modules and the modules of the package each imports."""
    return {
        name: {m for m in imports_of(path) if m in MODULES and m != name}
        for name, path in MODULES.items()
    }


def top(module: str) -> str:
    """The package's top-level module or subpackage a module belongs to (``_protocol``, ...)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_no_import_cycle() -> None:
    edges = graph()
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = "open"
        path.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == "open":
                cycle = [*path[path.index(nxt) :], nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node)


def layer_of(module: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if top(module) in layer)


def test_client_imports_go_one_way() -> None:
    wrong = [
        f"{module} imports {imported}"
        for module, imported_set in graph().items()
        if top(module) != "server"
        for imported in imported_set
        if top(imported) != "server" and layer_of(imported) > layer_of(module)
    ]
    assert not wrong, "upward imports: " + "; ".join(sorted(wrong))


def test_the_server_never_imports_the_client() -> None:
    wrong = [
        f"{module} imports {imported}"
        for module, imported_set in graph().items()
        if top(module) == "server"
        for imported in imported_set
        if top(imported) not in SERVER_MAY_IMPORT | {"server"}
    ]
    assert not wrong, "; ".join(sorted(wrong))


def test_only_the_entry_points_import_the_server() -> None:
    importers = {
        module
        for module, imported_set in graph().items()
        if top(module) != "server" and any(top(m) == "server" for m in imported_set)
    }
    assert {top(m) for m in importers} <= {"cli", "testing"}


def test_the_protocol_core_does_no_io() -> None:
    wrong = [
        f"{module_name(path)} imports {imported}"
        for folder in ("_protocol", "_checks")
        for path in (PACKAGE / folder).rglob("*.py")
        for imported in imports_of(path)
        if imported.split(".")[0] in IO_LIBRARIES
    ]
    assert not wrong, "; ".join(wrong)


def test_the_checks_see_what_they_check() -> None:
    # A guard against a walker that finds nothing and so passes everything.
    edges = graph()
    assert "aikit_files._transport" in edges["aikit_files._files"]
    assert "aikit_files._protocol.requests" in edges["aikit_files._transport"]
    assert any(top(m) == "server" for m in edges)
    assert "asyncio" in set(imports_of(PACKAGE / "_transport.py"))

"""The firmware's modules import each other without cycles (every import, at module
level or inside a function, read from the source), so each loads on the board alone."""

from __future__ import annotations

import ast

from tests.conftest import FIRMWARE_LIB

LOGGER = FIRMWARE_LIB / "logger"


def firmware_graph() -> dict[str, set[str]]:
    names = {p.stem for p in LOGGER.glob("*.py")}
    graph: dict[str, set[str]] = {}
    for path in sorted(LOGGER.glob("*.py")):
        deps = graph.setdefault(path.stem, set())
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            modules: list[str] = []
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for module in modules:
                parts = module.split(".")
                in_lib = parts[0] == "logger" and len(parts) > 1 and parts[1] in names
                if in_lib and parts[1] != path.stem:
                    deps.add(parts[1])
    return graph


def cycle_from(graph: dict[str, set[str]], start: str) -> list[str]:
    """A path start -> ... -> start through the graph, or [] (depth-first)."""
    stack = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node, path = stack.pop()
        for dep in sorted(graph.get(node, ())):
            if dep == start:
                return [*path, start]
            if dep not in seen:
                seen.add(dep)
                stack.append((dep, [*path, dep]))
    return []


def test_no_firmware_module_imports_itself_through_others():
    graph = firmware_graph()
    assert {name: cycle_from(graph, name) for name in graph if cycle_from(graph, name)} == {}


def test_the_sync_service_is_a_chain_of_parts_each_importing_only_those_below():
    # syncreply (state, replies) <- syncseg (segments, hasher) <- syncdev (the service)
    graph = firmware_graph()
    assert graph["syncreply"] == {"syncproto"}
    assert graph["syncseg"] == {"syncproto", "syncreply"}
    assert graph["syncdev"] == {"syncproto", "syncseg", "record", "config"}

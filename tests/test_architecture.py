"""The shape of the house (docs/ARCHITECTURE.md), checked on the import graph.

grimp reads every import of the project's packages (inside functions too; not
those under `if TYPE_CHECKING:`, which never run). Each test names the
offending imports, so a new cycle or a wrong-way arrow fails with the line to
change.
"""

from __future__ import annotations

from collections import defaultdict
from functools import cache

import grimp
import pytest

APPS = ("accounts", "registry", "disputes", "audit", "optout")
PACKAGES = (*APPS, "core", "workers", "config")
# Rooms another app may use: its models, services and selectors (and the
# forms and decorators that pages share). Never its pages, API, URLs, admin or
# tasks.
PRIVATE_ROOMS = ("views", "api", "urls", "admin", "tasks", "management")
# Within an app, arrows point down this list, never up.
LAYERS = ("views|api|tasks|admin|urls", "services", "selectors", "models")


@cache
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(
        *PACKAGES, include_external_packages=True, exclude_type_checking_imports=True
    )


def app_of(module: str) -> str:
    return module.split(".")[0]


def room_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def project_imports() -> list[tuple[str, str]]:
    g = graph()
    pairs = []
    for importer in g.modules:
        if app_of(importer) not in PACKAGES:
            continue
        for imported in g.find_modules_directly_imported_by(importer):
            if app_of(imported) in PACKAGES:
                pairs.append((importer, imported))
    return pairs


def strongly_connected(edges: list[tuple[str, str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative (the graph is small, but recursion is not)."""
    nexts: dict[str, list[str]] = defaultdict(list)
    nodes: set[str] = set()
    for a, b in edges:
        nexts[a].append(b)
        nodes.update((a, b))
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    counter = 0
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, iter(nexts[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(nexts[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(component)
    return found


def test_the_cycle_finder_finds_a_cycle_across_apps():
    edges = [
        ("optout.services", "disputes.selectors"),
        ("disputes.selectors", "optout.services"),
        ("registry.views", "registry.services"),
    ]
    assert strongly_connected(edges) == [{"optout.services", "disputes.selectors"}]


def test_no_import_cycle_joins_modules_of_different_apps():
    cycles = [
        sorted(component)
        for component in strongly_connected(project_imports())
        if len({app_of(m) for m in component}) > 1
    ]
    assert cycles == []


def test_apps_use_each_other_through_services_and_selectors_only():
    wrong = sorted(
        f"{importer} imports {imported}"
        for importer, imported in project_imports()
        if app_of(importer) in APPS
        and app_of(imported) in APPS
        and app_of(importer) != app_of(imported)
        and room_of(imported) in PRIVATE_ROOMS
    )
    assert wrong == []


@pytest.mark.parametrize("app", APPS)
def test_layers_inside_an_app_point_one_way(app):
    rank = {room: i for i, rooms in enumerate(LAYERS) for room in rooms.split("|")}
    wrong = sorted(
        f"{importer} imports {imported}"
        for importer, imported in project_imports()
        if app_of(importer) == app
        and app_of(imported) == app
        and room_of(importer) in rank
        and room_of(imported) in rank
        and rank[room_of(imported)] < rank[room_of(importer)]
    )
    assert wrong == []


def test_services_queue_tasks_by_name_not_by_importing_them():
    wrong = sorted(
        f"{importer} imports {imported}"
        for importer, imported in project_imports()
        if room_of(importer) in ("services", "selectors", "models")
        and app_of(imported) in APPS
        and room_of(imported) == "tasks"
    )
    assert wrong == []


def test_core_depends_on_no_app():
    wrong = sorted(
        f"{importer} imports {imported}"
        for importer, imported in project_imports()
        if app_of(importer) == "core" and app_of(imported) in APPS
    )
    assert wrong == []


def test_the_engine_imports_neither_django_nor_the_apps():
    g = graph()
    engine = g.find_descendants("workers.engine") | {"workers.engine"}
    wrong = sorted(
        f"{importer} imports {imported}"
        for importer in engine
        for imported in g.find_modules_directly_imported_by(importer)
        if app_of(imported) in (*APPS, "core", "config", "django", "rest_framework")
    )
    assert wrong == []

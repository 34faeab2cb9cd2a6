"""No import circle in the house: within every package, its modules and sub-packages (each with what lies in it)
import one another one way only. The layers contracts (`lint-imports`) keep the packages they name in order; this
covers every package, named or not, so that a new pair of modules needing each other is met when it is written,
not when one of them grows a lazy import to hide it. Imports made only for annotations (under `TYPE_CHECKING`) count
too: two modules the type checker alone walks in a circle still need each other."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import grimp

PACKAGES = ("assembly", "gateway", "channels", "payments", "leaderboard", "admin", "media")


def circles(nodes: Iterable[str], edges: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one node (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, onward = work[-1]
            step = next(onward, None)
            if step is not None:
                if step not in index:
                    index[step] = low[step] = len(index)
                    stack.append(step)
                    on_stack.add(step)
                    work.append((step, iter(sorted(edges.get(step, ())))))
                elif step in on_stack:
                    low[node] = min(low[node], index[step])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(sorted(group))
    return found


def test_no_package_has_modules_that_import_each_other() -> None:
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    found = []
    for package in sorted(graph.modules):
        children = graph.find_children(package)
        owner = {child: child for child in children}
        owner |= {inner: child for child in children for inner in graph.find_descendants(child)}
        edges: dict[str, set[str]] = {child: set() for child in children}
        for module, child in owner.items():
            edges[child] |= {owner[other] for other in graph.find_modules_directly_imported_by(module)
                             if other in owner and owner[other] != child}
        found += [f"{package}: {' <-> '.join(group)}" for group in circles(sorted(children), edges)]
    assert found == []


def test_a_circle_is_found() -> None:
    assert circles("abcd", {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles("ab", {"a": {"b"}}) == []

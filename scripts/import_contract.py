#!/usr/bin/env python3
"""The import contract of the maa packages, checked by ``tests/test_import_contract.py`` (so by ``make test``).

* **Layers point down only**: ``maa_core`` (ROS-free base: layout, weights format, prompts, config loading,
  rotations) < ``maa_generator`` (generation) < ``maa_go2``, ``maa_manip`` (domains, independent of each other)
  < ``maa_deploy`` (robot deployment). A module may import its own package and lower layers.
  ``maa_msgs`` (interfaces) may be imported by any layer. Domain code reaches the generator through plugins
  (entry points, e.g. ``maa.screeners``), never the other way round.
* **No cycles** between modules (runtime imports, including imports inside functions; ``if TYPE_CHECKING:`` blocks
  are type annotations only and do not count).
* **rclpy and ROS interfaces only in ROS modules**: the ``maa_generator.ros`` subpackage and the node /
  launcher modules of ``maa_deploy`` (``ROS_MODULES``); nothing else in ``maa_generator`` imports
  ``maa_generator.ros``, so the rest of the generator imports without ROS.

    python scripts/import_contract.py            # check, print the package graph, write docs/architecture_graph.png
"""
from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: package -> layer (lower number = lower layer); same-layer packages may not import each other
LAYERS = {"maa_core": 0, "maa_generator": 1, "maa_go2": 2, "maa_manip": 2, "maa_deploy": 3}
ANY_LAYER = {"maa_msgs"}
#: modules that may import rclpy: these prefixes of dotted names
ROS_MODULES = ("maa_generator.ros.", "maa_deploy.node", "maa_deploy.prompt_node", "maa_deploy.pip_launch")
#: the subpackage that holds the generator's ROS glue; only it and maa_deploy may import it
ROS_SUBPACKAGE = "maa_generator.ros"
GRAPH_PNG = ROOT / "docs" / "architecture_graph.png"


def modules() -> dict[str, Path]:
    """Dotted module name -> file, for every Python module of the layered packages."""
    found = {}
    for package in LAYERS:
        for path in sorted((ROOT / "src" / package / package).rglob("*.py")):
            parts = path.relative_to(ROOT / "src" / package).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """ids of the nodes inside ``if TYPE_CHECKING:`` blocks."""
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", "")) == "TYPE_CHECKING":
            skip |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return skip


def imports_of(name: str, path: Path) -> set[str]:
    """Absolute dotted names a module imports at run time (relative imports resolved; ``X`` and ``X.member``)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    skip = _type_checking_nodes(tree)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            out.add(module)
            out |= {f"{module}.{a.name}" for a in node.names}
    return out


def module_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports (edges inside the layered packages only)."""
    mods = modules()
    return {name: {t for t in imports_of(name, path) if t in mods and t != name} for name, path in mods.items()}


def package_edges(graph: dict[str, set[str]]) -> dict[tuple[str, str], list[str]]:
    """(importer package, imported package) -> example 'module -> module' edges."""
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for a, targets in graph.items():
        for b in targets:
            pa, pb = a.split(".")[0], b.split(".")[0]
            if pa != pb:
                edges[(pa, pb)].append(f"{a} -> {b}")
    return dict(edges)


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    problems = []
    for (pa, pb), examples in sorted(package_edges(graph).items()):
        if pb in ANY_LAYER:
            continue
        if LAYERS[pb] >= LAYERS[pa]:
            kind = "sideways" if LAYERS[pb] == LAYERS[pa] else "upward"
            problems.append(f"{kind} import {pa} -> {pb}: {examples[:3]}")
    return problems


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[v] = min(low[v], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def is_ros_import(dotted: str) -> bool:
    """rclpy, launch, and ROS interface packages (``maa_msgs``, ``*_msgs``, ``*_srvs``, ``rcl_interfaces``)."""
    root = dotted.split(".")[0]
    return root in ("rclpy", "maa_msgs", "rcl_interfaces", "launch", "launch_ros") or root.endswith(("_msgs", "_srvs"))


def rclpy_violations() -> list[str]:
    problems = []
    for name, path in modules().items():
        ros = sorted({t.split(".")[0] for t in imports_of(name, path) if is_ros_import(t)})
        if ros and not name.startswith(ROS_MODULES):
            problems.append(f"{path.relative_to(ROOT)} imports {', '.join(ros)}; only ROS modules may ({ROS_MODULES})")
    return problems


def ros_subpackage_violations(graph: dict[str, set[str]]) -> list[str]:
    """Generator modules outside ``maa_generator.ros`` that import it (they would need ROS to import)."""
    inside = (ROS_SUBPACKAGE, ROS_SUBPACKAGE + ".")
    return [f"{a} imports {b}: only {ROS_SUBPACKAGE} and maa_deploy may use the generator's ROS glue"
            for a, targets in sorted(graph.items()) if a.startswith("maa_generator") and not a.startswith(inside)
            for b in sorted(targets) if b.startswith(inside)]


def check() -> list[str]:
    """Every violation of the contract, one line each (empty = the contract holds)."""
    graph = module_graph()
    return (layer_violations(graph) + [f"import cycle: {' -> '.join(c)}" for c in cycles(graph)]
            + rclpy_violations() + ros_subpackage_violations(graph))


def draw(path: Path = GRAPH_PNG) -> Path:
    """Draw the package graph (layers bottom-up, edges = package imports with their module counts) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    graph = module_graph()
    edges = package_edges(graph)
    counts = defaultdict(int)
    for name in graph:
        counts[name.split(".")[0]] += 1
    by_layer = defaultdict(list)
    for package, layer in LAYERS.items():
        by_layer[layer].append(package)
    pos = {}
    for layer, packages in by_layer.items():
        for i, package in enumerate(sorted(packages)):
            pos[package] = ((i + 1) / (len(packages) + 1), 0.1 + 0.26 * layer)
    fig, ax = plt.subplots(figsize=(7, 6))
    for (a, b), examples in edges.items():
        (x0, y0), (x1, y1) = pos[a], pos[b]
        ax.annotate("", xy=(x1, y1 + 0.05), xytext=(x0, y0 - 0.05),
                    arrowprops={"arrowstyle": "->", "color": "tab:blue", "lw": 1.5})
        ax.text((x0 + x1) / 2, (y0 + y1) / 2, f"{len(examples)}", fontsize=8, color="tab:blue")
    for package, (x, y) in pos.items():
        ax.text(x, y, f"{package}\n{counts[package]} modules", ha="center", va="center", fontsize=10,
                bbox={"boxstyle": "round", "fc": "white", "ec": "black"})
    ax.text(0.02, 0.98, "arrows: imports (number = module-level edges); layers bottom-up; "
            "maa_msgs (interfaces) usable by all", transform=ax.transAxes, fontsize=7, va="top")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.axis("off")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def main() -> int:
    problems = check()
    graph = module_graph()
    for (a, b), examples in sorted(package_edges(graph).items()):
        print(f"{a} -> {b}: {len(examples)} module edge(s)")
    print(f"wrote {draw()}")
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

"""The import contract (scripts/import_contract.py): layers point down, no module cycles, rclpy only in ROS modules.
Each rule is also shown to fail on a graph that breaks it."""
from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("import_contract", ROOT / "scripts" / "import_contract.py")
contract = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(contract)


def test_the_codebase_keeps_the_contract():
    assert contract.check() == []


def test_the_graph_is_real():
    graph = contract.module_graph()
    edges = contract.package_edges(graph)
    assert ("maa_deploy", "maa_generator") in edges and ("maa_go2", "maa_generator") in edges
    assert "maa_core.layout" in graph["maa_generator.models.generator"] or any(
        t.startswith("maa_generator.") for t in graph["maa_generator.models.generator"])


def test_upward_and_sideways_imports_fail():
    graph = {"maa_generator.a": {"maa_go2.b"}, "maa_go2.b": {"maa_manip.c"}, "maa_manip.c": set(),
             "maa_deploy.d": {"maa_generator.a"}}
    problems = contract.layer_violations(graph)
    assert any(p.startswith("upward import maa_generator -> maa_go2") for p in problems)
    assert any(p.startswith("sideways import maa_go2 -> maa_manip") for p in problems)
    assert len(problems) == 2  # deploy -> generator points down


def test_cycles_are_found():
    graph = {"p.a": {"p.b"}, "p.b": {"p.c"}, "p.c": {"p.a"}, "p.d": {"p.a"}, "p.e": set()}
    assert contract.cycles(graph) == [["p.a", "p.b", "p.c"]]
    assert contract.cycles({"p.a": {"p.b"}, "p.b": set()}) == []


def test_type_checking_imports_do_not_count(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .sac import SacState\n"
                    "def f():\n    from .jobs import run\n")
    found = contract.imports_of("maa_manip.m", path)
    assert "maa_manip.jobs" in found and "maa_manip.sac" not in found


def test_the_picture_is_generated(tmp_path):
    out = contract.draw(tmp_path / "graph.png")
    assert out.stat().st_size > 5000


def test_generator_modules_outside_ros_may_not_import_the_ros_glue():
    graph = {"maa_generator.models.generator": {"maa_generator.ros.node"}, "maa_generator.ros.node": set(),
             "maa_generator.ros.cli": {"maa_generator.ros.client"}, "maa_generator.ros.client": set(),
             "maa_deploy.node": {"maa_generator.ros.client"}}
    problems = contract.ros_subpackage_violations(graph)
    assert problems == ["maa_generator.models.generator imports maa_generator.ros.node: only maa_generator.ros and "
                        "maa_deploy may use the generator's ROS glue"]


def test_core_may_not_import_the_generator():
    problems = contract.layer_violations({"maa_core.layout": {"maa_generator.models.config"},
                                          "maa_generator.models.config": set()})
    assert problems and problems[0].startswith("upward import maa_core -> maa_generator")

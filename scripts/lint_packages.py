#!/usr/bin/env python3
"""Package and architecture lint (run by `make lint`).

Checks, for every package under src/:
  * package.xml parses with catkin_pkg (the parser colcon and rosdep use), format 3, build type declared;
  * ament_python packages have setup.py, setup.cfg with script dirs, and the resource marker;
  * the ROS-free rule: only node/CLI modules (``*node*.py``, ``ros_*.py``, ``cli.py``, ``pip_launch.py``) import rclpy.
Exits non-zero with one line per problem.
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROS_ALLOWED = ("node", "ros_", "cli", "pip_launch")


def check_package(pkg_dir: Path) -> list[str]:
    from catkin_pkg.package import parse_package

    problems: list[str] = []
    try:
        pkg = parse_package(str(pkg_dir / "package.xml"))
    except Exception as exc:  # catkin_pkg raises several types; report them all the same way
        return [f"{pkg_dir}/package.xml: invalid: {exc}"]
    if pkg.package_format != 3:
        problems.append(f"{pkg_dir}/package.xml: format {pkg.package_format}, expected 3")
    build_types = [e.content for e in pkg.exports if e.tagname == "build_type"]
    if build_types not in (["ament_python"], ["ament_cmake"]):
        problems.append(f"{pkg_dir}/package.xml: build_type {build_types}, expected ament_python or ament_cmake")
    if build_types == ["ament_python"]:
        cfg = pkg_dir / "setup.cfg"
        if not (pkg_dir / "setup.py").is_file():
            problems.append(f"{pkg_dir}: setup.py missing")
        if not cfg.is_file() or f"$base/lib/{pkg.name}" not in cfg.read_text():
            problems.append(f"{pkg_dir}/setup.cfg: must set script_dir/install_scripts to $base/lib/{pkg.name}")
        if not (pkg_dir / "resource" / pkg.name).is_file():
            problems.append(f"{pkg_dir}/resource/{pkg.name}: ament resource marker missing")
        problems += check_ros_free(pkg_dir / pkg.name)
    return problems


def check_ros_free(module_dir: Path) -> list[str]:
    problems = []
    for path in sorted(module_dir.rglob("*.py")):
        if any(path.stem.startswith(p) or p in path.stem for p in ROS_ALLOWED):
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n.split(".")[0] in ("rclpy", "maa_msgs") for n in names):
                problems.append(f"{path.relative_to(ROOT)}:{node.lineno}: imports ROS in a ROS-free module "
                                f"(only *node*.py, ros_*.py, cli.py, pip_launch.py may)")
    return problems


def main() -> int:
    problems: list[str] = []
    packages = sorted(p.parent for p in (ROOT / "src").glob("*/package.xml"))
    for pkg_dir in packages:
        problems += check_package(pkg_dir)
    for p in problems:
        print(p)
    print(f"lint_packages: {len(packages)} packages, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

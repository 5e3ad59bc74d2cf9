#!/usr/bin/env python3
"""Package and architecture lint (run by `make lint`).

Checks, for every package under src/:
  * package.xml parses with catkin_pkg (the parser colcon and rosdep use), format 3, build type declared;
  * ament_python packages have setup.py, setup.cfg with script dirs, and the resource marker;
(which modules may import rclpy and ROS interfaces is the import contract's rule: scripts/import_contract.py).
Exits non-zero with one line per problem.
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


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

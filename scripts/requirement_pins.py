#!/usr/bin/env python3
"""Keep every requirement a registry requirement (`name` or `name==version`), never a file, folder or URL.

A fresh machine has only the repository and the package registries, so a line such as
``pkg @ file:///tmp/x.whl`` works only on the machine that wrote it.

  python scripts/requirement_pins.py check            # every requirements/*.txt; exit 1 with one line per problem
  pip freeze | python scripts/requirement_pins.py freeze > requirements/constraints.txt
                                                      # registry pins only; `name @ <url>` becomes `name==<version>`

`check` is run by `make lint` (so by `make test` and CI); `make freeze` writes through `freeze`.
"""
from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "requirements"
CONSTRAINTS = REQUIREMENTS / "constraints.txt"
# This repository's own packages (colcon installs maa_msgs as a distribution too): never pinned from a registry.
OWN_PACKAGES = frozenset(p.name.replace("_", "-").lower() for p in (ROOT / "src").iterdir() if p.is_dir())

_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_VERSION = r"[0-9][A-Za-z0-9.+!_-]*"
PIN = re.compile(rf"^({_NAME})==({_VERSION})$")
BARE = re.compile(rf"^({_NAME})$")
DIRECT_URL = re.compile(rf"^({_NAME})\s*@\s*(\S+)")


def _content(line: str) -> str:
    """The requirement part of a line: comments and surrounding blanks removed."""
    return line.split(" #", 1)[0].split("\t#", 1)[0].strip() if not line.lstrip().startswith("#") else ""


def check_line(line: str, *, pinned: bool) -> str | None:
    """Return why `line` is not a registry requirement, or None if it is fine.

    pinned: the line must be `name==version` (constraints file); otherwise a bare `name` is allowed too
    (the requirement lists, whose versions come from the constraints file).
    """
    req = _content(line)
    if not req:
        return None
    if PIN.match(req):
        return None
    if not pinned and BARE.match(req):
        return None
    if DIRECT_URL.match(req) or "://" in req or req.startswith(("-e", "--editable", ".", "/", "~", "git+")):
        return f"points at a file, folder or URL ({req!r}); pin it from the registry as name==version"
    if req.startswith("-"):
        return f"pip option {req.split()[0]!r} is not allowed in a requirements file; a fresh machine uses the registry"
    expected = "name==version" if pinned else "name or name==version"
    return f"not a registry requirement ({req!r}); expected {expected}"


def check_file(path: Path, *, pinned: bool) -> list[str]:
    """One 'path:line: why' string per bad line of `path`."""
    problems = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        why = check_line(line, pinned=pinned)
        if why:
            problems.append(f"{path}:{number}: {why}")
    return problems


def check_tree(requirements_dir: Path = REQUIREMENTS) -> list[str]:
    """Check every *.txt in `requirements_dir`: constraints.txt must be all pins, the others names or pins."""
    files = sorted(requirements_dir.glob("*.txt"))
    if not files:
        return [f"{requirements_dir}: no requirements files found"]
    problems = []
    for path in files:
        problems += check_file(path, pinned=path.name == CONSTRAINTS.name)
    return problems


def freeze_lines(lines: Iterable[str], version_of: Callable[[str], str] = metadata.version) -> list[str]:
    """Turn `pip freeze` output into registry pins.

    `name @ <url>` lines (what pip writes for a package installed from a local wheel) become
    `name==<installed version>`; this repo's own packages (editable or colcon-installed) are dropped;
    a `+local` version suffix (torch's `+cpu`) is removed because the registry does not carry it.
    Raises ValueError for any line that cannot be made a pin.
    """
    out = []
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#") or line.startswith("-e ") or line.startswith("--editable"):
            continue
        name_only = re.split(r"[=@ ]", line, maxsplit=1)[0]
        if name_only.replace("_", "-").lower() in OWN_PACKAGES:
            continue
        direct = DIRECT_URL.match(line)
        if direct:
            line = f"{direct.group(1)}=={version_of(direct.group(1))}"
        if "==" in line:
            name, version = line.split("==", 1)
            line = f"{name}=={version.split('+', 1)[0]}"
        why = check_line(line, pinned=True)
        if why:
            raise ValueError(f"pip freeze line {raw.strip()!r}: {why}")
        out.append(line)
    return out


def main(argv: list[str]) -> int:
    if argv == ["check"]:
        problems = check_tree()
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    if argv == ["freeze"]:
        try:
            pins = freeze_lines(sys.stdin)
        except ValueError as exc:
            print(f"make freeze: {exc}", file=sys.stderr)
            return 1
        print("# Every pinned version maa installs (pip install -c requirements/constraints.txt ...). "
              "Regenerate: make freeze")
        print("\n".join(pins))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

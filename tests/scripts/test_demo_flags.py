"""The demo's rendering flags fail with a clear message (not a traceback) before anything starts."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _demo(script: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    return subprocess.run([sys.executable, str(ROOT / "scripts" / script), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_viewer_without_a_desktop_is_a_clear_error():
    out = _demo("demo.py", "--viewer")
    assert out.returncode == 2, out.stdout + out.stderr
    assert "--viewer opens MuJoCo's interactive viewer, which needs a desktop" in out.stderr
    assert "Traceback" not in out.stderr and "starting" not in out.stdout


@pytest.mark.parametrize("bad", [["--clip-size", "big"], ["--clip-size", "1920x1080"], ["--clip-fps", "0"]])
def test_bad_clip_options_are_refused(bad):
    out = _demo("demo.py", *bad)
    assert out.returncode == 2 and "--clip-" in out.stderr and "Traceback" not in out.stderr

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


@pytest.mark.parametrize("bad", [["--side", "0"], ["--route-timeout", "-1"], ["--route", "circle"]])
def test_bad_route_options_are_refused(bad):
    out = _demo("demo.py", *bad)
    assert out.returncode == 2 and bad[0] in out.stderr and "Traceback" not in out.stderr


def test_route_figures_compare_commands_with_the_measured_motion():
    import importlib.util

    import numpy as np

    from maa_go2.routes import RouteFollower, square

    spec = importlib.util.spec_from_file_location("demo", ROOT / "scripts" / "demo.py")
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    t = np.arange(0.0, 10.0, 0.05)
    sent = np.stack([t, np.full_like(t, 0.5), np.full_like(t, 1.0)], 1)  # 0.5 m/s, 1 rad/s commanded
    yaws = np.stack([t, 0.8 * t], 1)  # turned at 0.8 rad/s
    velocities = np.stack([t, np.full_like(t, 0.4)], 1)  # walked at 0.4 m/s
    follower = RouteFollower(square(1.0))
    fig = demo.route_figures(sent, yaws, velocities, start=0.0, follower=follower, fell=False)
    assert fig["vx_tracking_error_mean"] == 0.1 and fig["yaw_tracking_error_mean"] == 0.2
    assert fig["turned_rad"] == round(0.8 * t[-1], 2) and fig["waypoints_reached"] == "0/4"
    assert demo.route_figures(sent[:2], yaws[:2], velocities, 0.0, follower, False)["samples"] == 0

"""Headless Go2 pictures (maa_go2.rendering): the robot is in the rendered frames, the camera follows it, clips and
the top-view path plot are written, and the replay bookkeeping (stamps, commanded path) is right."""
from __future__ import annotations

import numpy as np
import pytest

from maa_core.rotations import yaw_of
from maa_go2.rendering import (
    Go2Renderer,
    MotionLog,
    commanded_path,
    path_figures,
    plot_top_view,
    render_clip,
    stand_qpos,
)


def _diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-pixel absolute difference summed over RGB, ``[H, W]``."""
    return np.abs(a.astype(np.int32) - b.astype(np.int32)).sum(-1)


@pytest.fixture(scope="module")
def renderer():
    with Go2Renderer(160, 120) as r:
        yield r


def test_the_robot_is_in_the_image(renderer):
    # the camera looks at the origin; the robot stands there, or 50 m away (out of view: the empty scene)
    robot = renderer.frames(stand_qpos(0.0, 0.0)[None], follow=False)[0]
    empty = renderer.frames(stand_qpos(50.0, 0.0)[None], follow=False)[0]
    assert robot.shape == (120, 160, 3) and robot.dtype == np.uint8
    assert robot.std() > 5 and empty.std() > 5, "blank frames: the offscreen renderer drew nothing"
    changed = _diff(robot, empty) > 30
    assert changed.mean() > 0.01, f"only {changed.mean():.2%} of the pixels show the robot"
    rows, cols = np.nonzero(changed)  # the robot is drawn around the image centre, where the camera looks
    assert 0.2 < cols.mean() / 160 < 0.8 and 0.2 < rows.mean() / 120 < 0.8


def test_joint_angles_change_the_picture(renderer):
    bent = stand_qpos()
    bent[7:] += 0.5
    a, b = renderer.frames(np.stack([stand_qpos(), bent]), follow=False)
    assert (_diff(a, b) > 30).mean() > 0.002


def test_the_camera_follows_the_base(renderer):
    # 1 m checker squares: 4 m away the floor looks the same, so a following camera sees the same picture
    here = renderer.frames(stand_qpos(0.0, 0.0)[None])[0]
    there = renderer.frames(stand_qpos(4.0, -2.0)[None])[0]
    still = renderer.frames(stand_qpos(4.0, -2.0)[None], follow=False, lookat=(0.0, 0.0, 0.25))[0]
    assert _diff(here, there).mean() < 3.0
    assert (_diff(here, still) > 30).mean() > 0.01


def test_render_clip_writes_a_gif(tmp_path):
    from PIL import Image

    t = np.arange(50) * 0.02  # 1 s at 50 Hz
    qpos = np.stack([stand_qpos(0.5 * s) for s in t])
    stats = render_clip(t, qpos, tmp_path / "walk.gif", fps=10, width=96, height=72)
    assert stats.frames == 10 and stats.render_s > 0 and stats.ms_per_frame > 0
    with Image.open(tmp_path / "walk.gif") as im:
        assert im.size == (96, 72) and im.n_frames == 10


def test_commanded_path_straight_and_turning():
    t = np.linspace(0.0, 4.0, 401)
    straight = commanded_path(t, (1.0, 2.0), np.pi / 2, (0.5, 0.0, 0.0))
    np.testing.assert_allclose(straight[-1], (1.0, 4.0), atol=1e-9)
    w = 2 * np.pi / 4.0  # one full turn in 4 s at 0.5 m/s: back at the start
    circle = commanded_path(t, (0.0, 0.0), 0.0, (0.5, 0.0, w))
    np.testing.assert_allclose(circle[-1], (0.0, 0.0), atol=0.02)
    assert np.linalg.norm(circle, axis=1).max() == pytest.approx(2 * 0.5 / w, rel=0.02)  # diameter 2 v / w


def test_path_figures_and_top_view_plot(tmp_path):
    from PIL import Image

    t = np.arange(251) * 0.02  # 5 s
    qpos = np.stack([stand_qpos(0.45 * s, 0.04 * s) for s in t])  # slower than commanded, drifting left
    figures = path_figures(t, qpos, (0.5, 0.0, 0.0))
    assert figures["commanded_m"] == pytest.approx(2.5, abs=0.01)
    assert figures["walked_m"] == pytest.approx(2.25, abs=0.01)
    assert figures["lateral_drift_m"] == pytest.approx(0.2, abs=0.01)
    out = tmp_path / "path.png"
    assert plot_top_view(t, qpos, (0.5, 0.0, 0.0), out) == figures
    assert 10_000 < out.stat().st_size < 1_000_000
    with Image.open(out) as im:
        assert im.format == "PNG" and im.size == (640, 420)
    with pytest.raises(ValueError, match="qpos"):
        plot_top_view(t, qpos[:, :7], (0.5, 0.0, 0.0), tmp_path / "bad.png")


def test_motion_log_pairs_pose_and_joints_by_stamp():
    log = MotionLog()
    for k in range(5):
        log.add_joints(100.0 + 0.02 * k, np.full(12, k))
    for k in (4, 1, 2, 9):  # any order; stamp 9 has no joint state
        log.add_pose(100.0 + 0.02 * k, (k, 0.0, 0.3), (1.0, 0.0, 0.0, 0.0))
    t, qpos = log.arrays()
    np.testing.assert_allclose(t, [0.0, 0.02, 0.06])
    assert qpos.shape == (3, 19) and list(qpos[:, 0]) == [1, 2, 4] and list(qpos[:, 7]) == [1, 2, 4]
    assert len(log) == 3
    log.clear()
    assert len(log) == 0 and log.arrays()[1].shape == (0, 19)


def test_yaw_of_quaternions():
    half = np.array([0.3, -1.2, 2.5]) / 2
    quats = np.stack([np.cos(half), 0 * half, 0 * half, np.sin(half)], 1)
    np.testing.assert_allclose(yaw_of(quats), [0.3, -1.2, 2.5])


def test_actor_clips_side_by_side_and_paths(tmp_path, go2_adaptation_file):
    from PIL import Image

    from maa_go2.actor_critic import go2_actor_layout
    from maa_go2.checkpoints import load_adaptation
    from maa_go2.rendering import write_actor_clips

    layout = go2_actor_layout()
    rng = np.random.default_rng(0)
    actors = {"generated": rng.normal(0, 0.01, layout.num_params), "nearest": rng.normal(0, 0.01, layout.num_params)}
    res = write_actor_clips(layout, actors, load_adaptation(go2_adaptation_file), tmp_path, "p0", seconds=0.5,
                            width=64, height=48, fps=10)
    assert res["clips"] == {"generated": "p0_generated.gif", "nearest": "p0_nearest.gif"}
    assert set(res["notes"]) == {"generated", "nearest"} and all(("walked" in n or "fell" in n)
                                                                  for n in res["notes"].values())
    with Image.open(tmp_path / res["side_by_side"]) as im:
        assert im.size == (128, 48) and im.n_frames >= 2
    assert (tmp_path / res["paths"]).stat().st_size > 10_000 and res["stats"].frames >= 4

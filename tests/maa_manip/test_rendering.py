"""Headless MetaWorld pictures (maa_manip.rendering) on the cheap reach task: a few frames of a moving arm, the
hand-path plot, and the per-method clips of ``training/evaluate.py --video``."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("metaworld")

from maa_core.layout import metaworld_sac_layout  # noqa: E402
from maa_manip.rendering import plot_ee_paths, render_episode, write_method_clips  # noqa: E402


def _policy(seed: int, scale: float = 0.3) -> np.ndarray:
    """A random MetaWorld actor ``[P]`` (moves the arm, succeeds at nothing)."""
    layout = metaworld_sac_layout()
    return np.random.default_rng(seed).normal(0, scale, layout.num_params).astype(np.float32)


def test_metaworld_clip_shows_the_arm_moving():
    ep = render_episode("reach", _policy(0), init_seed=0, steps=24, fps=20, width=96, height=72)
    # one frame at reset, then one every 4 steps (0.0125 s each: 20 fps)
    assert ep.frames.shape == (7, 72, 96, 3) and ep.frames.dtype == np.uint8
    assert ep.frames[0].std() > 10, "blank frame: the offscreen renderer drew nothing"
    moved = np.abs(ep.frames[-1].astype(int) - ep.frames[0]).sum(-1) > 30
    assert moved.mean() > 0.002, "the arm does not move between the first and the last frame"
    assert ep.trajectory.obs.shape == (24, 39) and ep.success_step is None
    assert ep.stats.frames == 7 and ep.stats.ms_per_frame > 0


def test_method_clips_and_hand_path_plot(tmp_path):
    from PIL import Image

    prompt = render_episode("reach", _policy(1), init_seed=0, steps=16, width=64, height=48).trajectory
    res = write_method_clips("reach", prompt, {"maa": _policy(2), "retrieval": _policy(3)}, init_seed=0,
                             out_dir=tmp_path, stem="reach_prompt0", steps=16, width=64, height=48)
    assert res["clips"] == {"maa": "reach_prompt0_maa.gif", "retrieval": "reach_prompt0_retrieval.gif"}
    assert res["notes"] == {"maa": "no success", "retrieval": "no success"}
    with Image.open(tmp_path / res["side_by_side"]) as im:
        assert im.size == (128, 48) and im.n_frames == 5
    for name in res["clips"].values():
        with Image.open(tmp_path / name) as im:
            assert im.size == (64, 48)
    assert (tmp_path / res["paths"]).stat().st_size > 10_000
    plot = plot_ee_paths(prompt, {"again": prompt}, tmp_path / "paths.png", "title")
    with Image.open(plot) as im:
        assert im.format == "PNG" and im.size == (900, 378)

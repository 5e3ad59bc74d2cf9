"""Offline pictures of MetaWorld policies: episode clips and end-effector paths against the prompt's.

:func:`render_episode` runs one deterministic episode of a policy in a fixed configuration and renders every few
steps offscreen (GL backend from :func:`maa_generator.media.configure_gl`: EGL where it renders, else OSMesa);
:func:`plot_ee_paths` draws hand paths (top and side view) of the prompt and of policies; :func:`write_method_clips`
does both for several methods on one prompt (``training/evaluate.py --video``).

Shapes and units: flat policy parameters ``[P]``; observations ``[T, 39]`` (hand xyz = ``obs[:, 0:3]``, first
object xyz = ``obs[:, 4:7]``, goal xyz = ``obs[:, 36:39]``, metres); frames ``[T, H, W, 3]`` uint8; MetaWorld
steps are 0.0125 s.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from maa_core.atomic_io import atomic_path
from maa_core.layout import PolicyLayout, metaworld_sac_layout
from maa_core.prompt import Trajectory
from maa_generator.media import RenderStats, configure_gl, tile_clips, write_clip

#: free camera over the table: looks at (x, y, z) m from azimuth / elevation (deg) at distance (m)
CAMERA = {"lookat": (0.0, 0.7, 0.15), "azimuth": 140.0, "elevation": -25.0, "distance": 1.6}


@dataclass
class Episode:
    """One rendered episode: ``frames [F, H, W, 3]``, the trajectory it acted on (``obs [T, 39]``), the step of
    first success (None if never), and what rendering cost."""

    frames: np.ndarray
    trajectory: Trajectory
    success_step: int | None
    stats: RenderStats = field(default_factory=RenderStats)


def render_episode(task: str, flat: np.ndarray, init_seed: int, steps: int = 500, fps: float = 20.0,
                   width: int = 320, height: int = 240, tail_s: float = 0.5,
                   layout: PolicyLayout | None = None) -> Episode:
    """Run ``flat`` (``[P]``, deterministic action) in the fixed configuration of ``init_seed`` and render it.

    A frame every ``round(1 / (fps * dt))`` steps; the episode ends ``tail_s`` seconds after the first success or
    after ``steps`` steps. ``width`` / ``height`` at most 640 x 480 (MetaWorld's offscreen buffer).
    """
    configure_gl()
    import mujoco

    from maa_manip.envs import MetaWorldEnv, task_short

    layout = layout or metaworld_sac_layout()
    env = MetaWorldEnv(task, init_seed, "fixed", steps)
    stride = max(1, int(round(1.0 / (fps * env.dt))))
    tail = int(round(tail_s / env.dt))
    renderer = mujoco.Renderer(env.mj_model, height, width)
    camera = mujoco.MjvCamera()
    camera.type = mujoco.mjtCamera.mjCAMERA_FREE
    camera.lookat[:] = CAMERA["lookat"]
    camera.azimuth, camera.elevation, camera.distance = CAMERA["azimuth"], CAMERA["elevation"], CAMERA["distance"]
    stats = RenderStats()
    frames, o_l, a_l, s_l = [], [], [], []
    success_step = None

    def snap() -> None:
        t0 = time.perf_counter()
        renderer.update_scene(env.mj_data, camera)
        renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = False  # 2-4x cheaper with software GL
        renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = False
        frames.append(renderer.render())
        stats.frames += 1
        stats.render_s += time.perf_counter() - t0

    try:
        obs = env.reset()
        snap()
        for k in range(steps):
            act = layout.forward_numpy(flat, obs)
            o_l.append(obs)
            a_l.append(act)
            obs, _, _, success = env.step(act)
            s_l.append(success)
            if success and success_step is None:
                success_step = k
            if (k + 1) % stride == 0:
                snap()
            if success_step is not None and k - success_step >= tail:
                break
    finally:
        renderer.close()
    traj = Trajectory(np.stack(o_l), np.stack(a_l), np.asarray(s_l), dt=env.dt, domain="metaworld",
                      task=task_short(task))
    return Episode(np.stack(frames), traj, success_step, stats)


def _until_success(traj: Trajectory, tail: int) -> tuple[np.ndarray, int | None]:
    """Hand path ``[T', 3]`` of ``traj`` up to ``tail`` steps after its first success, and that success step."""
    s = None if traj.success is None or not np.any(traj.success) else int(np.argmax(traj.success))
    end = traj.length if s is None else min(traj.length, s + tail + 1)
    return traj.obs[:end, 0:3], s


def plot_ee_paths(prompt: Trajectory, rollouts: dict[str, Trajectory], path: str | Path, title: str = "",
                  tail_s: float = 0.5) -> Path:
    """PNG: hand (end-effector) paths, top view (x-y) and side view (y-z), m: the prompt's (black) and each
    rollout's, each until ``tail_s`` after its first success (star); circles = object start, squares = goal."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    entries = [("prompt", prompt, "k")] + [(k, v, f"C{i}") for i, (k, v) in enumerate(rollouts.items())]
    for label, traj, color in entries:
        tail = int(round(tail_s / traj.dt))
        hand, s = _until_success(traj, tail)
        for ax, (i, j) in zip(axes, ((0, 1), (1, 2))):
            ax.plot(hand[:, i], hand[:, j], color=color, lw=1.8 if label == "prompt" else 1.4,
                    ls="-" if label == "prompt" else "--", label=label)
            ax.plot(hand[0, i], hand[0, j], "o", color=color, ms=4)
            if s is not None:
                ax.plot(hand[min(s, len(hand) - 1), i], hand[min(s, len(hand) - 1), j], "*", color=color, ms=11)
            ax.plot(traj.obs[0, 4 + i], traj.obs[0, 4 + j], "o", mfc="none", mec=color, ms=9)
            ax.plot(traj.obs[0, 36 + i], traj.obs[0, 36 + j], "s", mfc="none", mec=color, ms=9)
    for ax, (a, b) in zip(axes, (("x", "y"), ("y", "z"))):
        ax.set_xlabel(f"{a} [m]")
        ax.set_ylabel(f"{b} [m]")
        ax.set_aspect("equal", adjustable="datalim")
        ax.grid(alpha=0.3)
    axes[0].set_title("hand path, top view (star: first success)", fontsize=9)
    axes[1].set_title("side view (circle: object start, square: goal)", fontsize=9)
    axes[0].legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)
    return Path(path)


def write_method_clips(task: str, prompt: Trajectory, params: dict[str, np.ndarray], init_seed: int,
                       out_dir: str | Path, stem: str, steps: int = 500, fps: float = 20.0,
                       width: int = 256, height: int = 192) -> dict:
    """One clip per method on one prompt, a side-by-side clip and a hand-path plot, in ``out_dir``.

    Args:
        params: ``{method: flat [P]}``. init_seed: the configuration every method is shown in (the prompt's).
        stem: file name stem, e.g. ``door-open_prompt0``.
    Returns ``{"clips": {method: file}, "side_by_side": file, "paths": file, "success_step": {method: step|None},
    "notes": {method: text}, "stats": RenderStats}`` (files relative to ``out_dir``).
    """
    out_dir = Path(out_dir)
    episodes = {m: render_episode(task, np.asarray(f, np.float32), init_seed, steps, fps, width, height)
                for m, f in params.items()}
    stats = RenderStats()
    clips = {}
    t0 = time.perf_counter()
    for method, ep in episodes.items():
        stats = stats + ep.stats
        clips[method] = f"{stem}_{method}.gif"
        write_clip(ep.frames, out_dir / clips[method], fps)
    side = f"{stem}_side_by_side.gif"
    notes = {m: f"success at {ep.success_step * ep.trajectory.dt:.2f} s" if ep.success_step is not None
             else "no success" for m, ep in episodes.items()}
    write_clip(tile_clips([(f"{m}: {notes[m]}", ep.frames) for m, ep in episodes.items()]), out_dir / side, fps)
    plot = f"{stem}_paths.png"
    plot_ee_paths(prompt, {m: ep.trajectory for m, ep in episodes.items()}, out_dir / plot,
                  f"{task}: hand paths, prompt vs policies (configuration seed {init_seed})")
    stats.encode_s += time.perf_counter() - t0
    return {"clips": clips, "side_by_side": side, "paths": plot,
            "success_step": {m: ep.success_step for m, ep in episodes.items()}, "notes": notes, "stats": stats}

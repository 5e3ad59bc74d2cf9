"""Offline pictures of the Go2: replay clips with a follow camera, and a top view of the commanded vs walked path.

Nothing here runs in a control loop. The deploy node only publishes what a replay needs (``joint_states`` and
``~/sim/base_pose``, 50 Hz); :class:`MotionLog` pairs them, and :class:`Go2Renderer` sets ``qpos`` in its own copy of
the ``maa_go2`` MJCF (plus a checker floor, sky and light, visual only), calls ``mj_forward`` and renders offscreen.
The GL backend is chosen by :func:`maa_generator.media.configure_gl` (EGL where it renders, else OSMesa).

Shapes and units: ``qpos [T, 19]`` = base position (m, world) + base quaternion (w, x, y, z) + 12 joint angles
(rad, policy order ``maa_go2.joint_order``); times ``t [T]`` in seconds; frames ``[T, H, W, 3]`` uint8.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from maa_core.atomic_io import atomic_path
from maa_core.rotations import yaw_of
from maa_generator.media import RenderStats, configure_gl, frame_times, tile_clips, write_clip
from maa_go2.control import DEFAULT_JOINT_POS, POLICY_DT
from maa_go2.joint_order import NUM_JOINTS

QPOS_DIM = 7 + NUM_JOINTS


def stand_qpos(x: float = 0.0, y: float = 0.0, height: float = 0.3) -> np.ndarray:
    """``[19]`` qpos of the Go2 standing upright at ``(x, y)``, base ``height`` m above the floor."""
    q = np.zeros(QPOS_DIM)
    q[:3] = (x, y, height)
    q[3] = 1.0
    q[7:] = DEFAULT_JOINT_POS
    return q


class MotionLog:
    """Pairs base poses and joint positions published with the same stamp into replayable ``qpos`` samples.

    Feed :meth:`add_pose` (``~/sim/base_pose``) and :meth:`add_joints` (``joint_states``) from any thread or order;
    :meth:`arrays` returns the samples for which both arrived, sorted by time.
    """

    def __init__(self) -> None:
        self._pose: dict[float, np.ndarray] = {}
        self._joints: dict[float, np.ndarray] = {}

    def add_pose(self, stamp_s: float, position, quat_wxyz) -> None:
        """``position [3]`` m (world), ``quat_wxyz [4]``, ``stamp_s`` the message stamp in seconds."""
        self._pose[round(float(stamp_s), 6)] = np.concatenate([np.asarray(position, float), np.asarray(quat_wxyz,
                                                                                                         float)])

    def add_joints(self, stamp_s: float, q) -> None:
        """``q [12]`` rad in policy order, ``stamp_s`` the message stamp in seconds."""
        self._joints[round(float(stamp_s), 6)] = np.asarray(q, float)

    def clear(self) -> None:
        self._pose.clear()
        self._joints.clear()

    def __len__(self) -> int:
        return len(self._pose.keys() & self._joints.keys())

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """``(t [T] s from the first sample, qpos [T, 19])`` of the stamps seen on both topics."""
        stamps = sorted(self._pose.keys() & self._joints.keys())
        if not stamps:
            return np.zeros(0), np.zeros((0, QPOS_DIM))
        qpos = np.stack([np.concatenate([self._pose[s], self._joints[s]]) for s in stamps])
        return np.asarray(stamps) - stamps[0], qpos


def render_model(xml_path: str | None = None):
    """The Go2 MJCF with visual-only additions for pictures: a checker floor (1 m squares), a sky gradient and a
    key light. No shadows: with software GL they cost 2.5x per frame and their shadow map is speckled at this
    scale. Returns an ``MjModel``."""
    configure_gl()
    import mujoco

    from maa_go2.engines.mujoco_engine import go2_xml_path

    spec = mujoco.MjSpec.from_file(xml_path or go2_xml_path())
    spec.add_texture(name="maa_grid", type=mujoco.mjtTexture.mjTEXTURE_2D, builtin=mujoco.mjtBuiltin.mjBUILTIN_CHECKER,
                     rgb1=[0.80, 0.82, 0.84], rgb2=[0.62, 0.65, 0.68], width=256, height=256,
                     )
    spec.add_texture(name="maa_sky", type=mujoco.mjtTexture.mjTEXTURE_SKYBOX,
                     builtin=mujoco.mjtBuiltin.mjBUILTIN_GRADIENT, rgb1=[0.55, 0.70, 0.90], rgb2=[0.95, 0.97, 1.0],
                     width=256, height=256)
    material = spec.add_material(name="maa_grid", texrepeat=[1, 1], texuniform=True)
    material.textures[mujoco.mjtTextureRole.mjTEXROLE_RGB] = "maa_grid"
    floor = spec.geom("floor")
    floor.material, floor.rgba = "maa_grid", [1.0, 1.0, 1.0, 1.0]
    spec.worldbody.add_light(pos=[0, 0, 4], dir=[-0.3, 0.2, -1.0], directional=True, castshadow=False,
                             diffuse=[0.7, 0.7, 0.7], specular=[0.2, 0.2, 0.2])
    return spec.compile()


class Go2Renderer:
    """Offscreen renderer of Go2 poses with a camera that follows the base.

    Args:
        width / height: frame size, pixels (at most 640 x 480, the MJCF's offscreen buffer).
        distance: camera distance to the base, m. azimuth / elevation: camera angles, degrees (MuJoCo's: the
            camera looks along (cos az, sin az) horizontally; 135 watches a robot walking along +x from its front
            right, so it walks towards the lower right of the picture).
        xml_path: alternative MJCF (default: the ``maa_go2`` asset).
    Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, width: int = 320, height: int = 240, distance: float = 1.6, azimuth: float = 135.0,
                 elevation: float = -20.0, xml_path: str | None = None):
        import mujoco

        self.model = render_model(xml_path)
        self.data = mujoco.MjData(self.model)
        self.renderer = mujoco.Renderer(self.model, height, width)
        self.camera = mujoco.MjvCamera()
        self.camera.type = mujoco.mjtCamera.mjCAMERA_FREE
        self.camera.distance, self.camera.azimuth, self.camera.elevation = distance, azimuth, elevation

    def frames(self, qpos: np.ndarray, follow: bool = True, lookat=(0.0, 0.0, 0.25),
               stats: RenderStats | None = None) -> np.ndarray:
        """Render each pose of ``qpos [T, 19]`` -> ``[T, H, W, 3]`` uint8.

        ``follow``: the camera looks at the base (x, y smoothed over 5 frames, at 0.25 m height); otherwise at the
        fixed world point ``lookat`` (m). ``stats`` (optional) accumulates the frames and seconds spent.
        """
        import mujoco

        qpos = np.atleast_2d(np.asarray(qpos, dtype=np.float64))
        if qpos.shape[1] != self.model.nq:
            raise ValueError(f"expected qpos [T, {self.model.nq}], got {list(qpos.shape)}")
        t0 = time.perf_counter()
        if follow:
            kernel = np.ones(5) / 5.0
            padded = np.pad(qpos[:, :2], ((2, 2), (0, 0)), mode="edge")
            centre = np.stack([np.convolve(padded[:, i], kernel, mode="valid") for i in range(2)], 1)
        out = np.empty((len(qpos), self.renderer.height, self.renderer.width, 3), np.uint8)
        for i, q in enumerate(qpos):
            self.data.qpos[:] = q
            mujoco.mj_forward(self.model, self.data)
            self.camera.lookat[:] = (*centre[i], 0.25) if follow else lookat
            self.renderer.update_scene(self.data, self.camera)
            self.renderer.render(out=out[i])
        if stats is not None:
            stats.frames += len(qpos)
            stats.render_s += time.perf_counter() - t0
        return out

    def close(self) -> None:
        self.renderer.close()

    def __enter__(self) -> Go2Renderer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def render_clip(t: np.ndarray, qpos: np.ndarray, path: str | Path, fps: float = 20.0, width: int = 320,
                height: int = 240) -> RenderStats:
    """Replay ``qpos [T, 19]`` sampled at times ``t [T]`` (s) as a GIF at ``fps`` with the follow camera.

    Returns the :class:`~maa_generator.media.RenderStats` (frames, rendering and encoding seconds)."""
    stats = RenderStats()
    idx = frame_times(t, fps)
    with Go2Renderer(width, height) as renderer:
        frames = renderer.frames(np.asarray(qpos)[idx], stats=stats)
    t0 = time.perf_counter()
    write_clip(frames, path, fps)
    stats.encode_s += time.perf_counter() - t0
    return stats


def commanded_path(t: np.ndarray, start_xy, start_yaw: float, command) -> np.ndarray:
    """Where a robot that tracked ``command`` exactly would be: ``[T, 2]`` m (world) at times ``t [T]`` (s).

    ``command``: ``[3]`` (vx, vy in the body frame, m/s; yaw rate, rad/s) held from ``t[0]``, or ``[T, 3]`` per
    sample; integrated from ``start_xy [2]`` (m) and ``start_yaw`` (rad)."""
    t = np.asarray(t, dtype=np.float64)
    cmd = np.broadcast_to(np.asarray(command, dtype=np.float64), (t.size, 3))
    dt = np.diff(t, prepend=t[:1])
    yaw = start_yaw + np.cumsum(cmd[:, 2] * dt)
    vx_w = cmd[:, 0] * np.cos(yaw) - cmd[:, 1] * np.sin(yaw)
    vy_w = cmd[:, 0] * np.sin(yaw) + cmd[:, 1] * np.cos(yaw)
    return np.asarray(start_xy, dtype=np.float64)[None] + np.stack([np.cumsum(vx_w * dt), np.cumsum(vy_w * dt)], 1)


def path_figures(t: np.ndarray, qpos: np.ndarray, command) -> dict:
    """Commanded vs walked path of ``qpos [T, 19]`` at ``t [T]``: ``commanded_m`` / ``walked_m`` (distance along
    the commanded path's start heading), ``lateral_drift_m`` (final sideways offset from it), ``final_error_m``
    (distance between the final positions), ``duration_s``."""
    xy = np.asarray(qpos)[:, :2]
    cmd_xy = commanded_path(t, xy[0], float(yaw_of(qpos[0, 3:7])), command)
    heading = float(yaw_of(qpos[0, 3:7]))
    fwd, side = np.array([np.cos(heading), np.sin(heading)]), np.array([-np.sin(heading), np.cos(heading)])
    return {"duration_s": float(t[-1] - t[0]), "commanded_m": float((cmd_xy[-1] - xy[0]) @ fwd),
            "walked_m": float((xy[-1] - xy[0]) @ fwd), "lateral_drift_m": float((xy[-1] - xy[0]) @ side),
            "final_error_m": float(np.linalg.norm(xy[-1] - cmd_xy[-1]))}


def plot_top_view(t: np.ndarray, qpos: np.ndarray, command, path: str | Path, title: str = "",
                  label: str = "walked (base)", others: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
                  route: np.ndarray | None = None) -> dict:
    """PNG: top view (world x-y, m) of the commanded path (dashed, from ``qpos[0]``'s pose) and the walked base
    path ``label`` of ``qpos [T, 19]`` at ``t [T]`` (s), heading arrows every second, start and end marks.

    ``others``: more walked paths ``{label: (t, qpos)}`` on the same axes. ``route``: waypoints ``[K, 2]`` (m) of
    a route walked through ``cmd_vel`` (drawn from the start instead of the constant ``command``'s path).
    Returns :func:`path_figures` of the main path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = {label: (t, qpos), **(others or {})}
    for name, (tt, qq) in paths.items():
        tt, qq = np.asarray(tt), np.asarray(qq)
        if qq.ndim != 2 or qq.shape[1] != QPOS_DIM or len(qq) != len(tt) or len(tt) < 2:
            raise ValueError(f"{name}: expected t [T] and qpos [T, {QPOS_DIM}] with T >= 2, got {tt.shape} and "
                             f"{qq.shape}")
    t, qpos = np.asarray(t, dtype=np.float64), np.asarray(qpos, dtype=np.float64)
    cmd_xy = commanded_path(t, qpos[0, :2], float(yaw_of(qpos[0, 3:7])), command) if route is None else \
        np.vstack([qpos[:1, :2], np.asarray(route, dtype=np.float64)])
    figures = path_figures(t, qpos, command)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.plot(cmd_xy[:, 0], cmd_xy[:, 1], "--", color="tab:gray", lw=2,
            label="commanded" if route is None else "route (waypoints)")
    ax.plot(*cmd_xy[-1], "x", color="tab:gray", ms=10, mew=2)
    for k, (name, (tt, qq)) in enumerate(paths.items()):
        color, xy = f"C{k}", np.asarray(qq)[:, :2]
        ax.plot(xy[:, 0], xy[:, 1], color=color, lw=2, label=name)
        every = max(1, int(round(1.0 / max(float(np.median(np.diff(tt))), 1e-6))))
        yaw = yaw_of(np.asarray(qq)[::every, 3:7])
        ax.quiver(xy[::every, 0], xy[::every, 1], np.cos(yaw), np.sin(yaw), color=color, scale=25, width=0.004)
        ax.plot(*xy[-1], "x", color=color, ms=10, mew=2)
    ax.plot(*qpos[0, :2], "ko", label="start (arrows: heading every 1 s)")
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel("x [m]")
    ax.set_ylabel("y [m]")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    ax.set_title(title or f"{figures['duration_s']:.0f} s: walked {figures['walked_m']:.2f} m of "
                 f"{figures['commanded_m']:.2f} m, drift {figures['lateral_drift_m']:+.2f} m", fontsize=10)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    return figures


def rollout_qpos(layout, flat: np.ndarray, adaptation, vx: float = 0.5, seconds: float = 6.0,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """One randomized MuJoCo Go2 episode of an actor walking at ``vx`` m/s (the evaluation's physics, no pushes).

    Args:
        layout / flat: the actor (``[P]`` flat parameters). adaptation: ``maa_go2.actor_critic.AdaptationModule``.
    Returns ``(t [T] s, qpos [T, 19])`` at 50 Hz, ending early if the robot falls.
    """
    from maa_go2.engines.mujoco_engine import MujocoGo2Env
    from maa_go2.env_config import evaluation_env_config
    from maa_go2.evaluation import ActorRunner, sweep_commands

    runner = ActorRunner(layout, flat, adaptation)
    cfg = evaluation_env_config(1, seconds, adaptation.history_len)
    env = MujocoGo2Env(cfg, seed=seed)
    cmd, _ = sweep_commands(1)
    cmd[:, 0] = vx
    env.set_commands(cmd)
    env.reset()
    obs, hist = env.obs.copy(), env.get_obs_history()
    qpos = [env.qpos[0].copy()]
    for _ in range(int(round(seconds / POLICY_DT))):
        obs, _, _, done, info = env.step(runner.act(obs, hist))
        if done[0]:
            break
        hist = info["obs_history"]
        qpos.append(env.qpos[0].copy())
    return np.arange(len(qpos)) * POLICY_DT, np.stack(qpos)


def write_actor_clips(layout, actors: dict[str, np.ndarray], adaptation, out_dir: str | Path, stem: str,
                      vx: float = 0.5, seconds: float = 6.0, seed: int = 0, fps: float = 20.0, width: int = 256,
                      height: int = 192) -> dict:
    """One clip per actor walking at ``vx`` m/s (:func:`rollout_qpos`, same seed for all), a side-by-side clip and
    one top-view plot of all paths, in ``out_dir`` (``training/evaluate_go2_generator.py --video``).

    Args:
        actors: ``{method: flat [P]}`` sharing ``layout``. stem: file name stem, e.g. ``go2_main_it475``.
    Returns ``{"clips": {method: file}, "side_by_side": file, "paths": file, "notes": {method: text},
    "stats": RenderStats}`` (files relative to ``out_dir``).
    """
    out_dir = Path(out_dir)
    runs = {m: rollout_qpos(layout, f, adaptation, vx, seconds, seed) for m, f in actors.items()}
    stats = RenderStats()
    frames, clips, notes = {}, {}, {}
    with Go2Renderer(width, height) as renderer:
        for method, (t, qpos) in runs.items():
            frames[method] = renderer.frames(qpos[frame_times(t, fps)], stats=stats)
            fell = t[-1] < seconds - 1e-6
            walked = path_figures(t, qpos, (vx, 0.0, 0.0))["walked_m"] if len(t) > 1 else 0.0
            notes[method] = f"fell at {t[-1]:.1f} s" if fell else f"walked {walked:.1f} m in {t[-1]:.0f} s"
    t0 = time.perf_counter()
    for method, f in frames.items():
        clips[method] = f"{stem}_{method}.gif"
        write_clip(f, out_dir / clips[method], fps)
    side = f"{stem}_side_by_side.gif"
    write_clip(tile_clips([(f"{m}: {notes[m]}", f) for m, f in frames.items()]), out_dir / side, fps)
    plot = f"{stem}_paths.png"
    first, *names = list(runs)
    plot_top_view(*runs[first], (vx, 0.0, 0.0), out_dir / plot, f"{stem}: base paths at vx = {vx:g} m/s",
                  label=first, others={m: runs[m] for m in names})
    stats.encode_s += time.perf_counter() - t0
    return {"clips": clips, "side_by_side": side, "paths": plot, "notes": notes, "stats": stats}

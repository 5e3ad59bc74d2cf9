"""Headless MuJoCo rendering support shared by the Go2 and MetaWorld renderers: GL backend, clip files, viewer.

**Backend choice** (:func:`configure_gl`, once per process; docs/visuals.md):

1. ``MUJOCO_GL`` already set (by the user, or by a parent process that already chose): kept as it is;
2. else ``egl`` if a test render with EGL succeeds in a child process (a GPU driver, or Mesa's software EGL device);
3. else ``osmesa`` if a test render with OSMesa succeeds (Debian/Ubuntu: ``apt-get install libosmesa6``,
   which ``scripts/setup.sh`` does);
4. else :class:`RenderError` saying what to install.

The probes run in child processes, so a failing backend never leaves this process's OpenGL state half set up.
The choice is written to ``os.environ["MUJOCO_GL"]``, so child processes inherit it without probing again.
MuJoCo binds its GL context class when ``mujoco`` is first imported; when a simulator module imported it before
:func:`configure_gl` ran, the context class is rebound to the chosen backend (possible as long as PyOpenGL has not
been initialised for another platform in this process; otherwise :class:`RenderError` says to set ``MUJOCO_GL``).

**Clips** (:func:`write_clip`): animated GIF (Pillow, no extra dependency), written atomically; :func:`tile_clips`
puts labelled clips side by side. **Viewer** (:class:`ViewerMirror`): MuJoCo's passive interactive viewer on a
running simulation, synced from its own thread at a low rate.

Nothing here imports ``mujoco`` at module import time (that would fix the GL backend too early).
"""
from __future__ import annotations

import importlib
import io
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from maa_core.atomic_io import atomic_write_bytes

#: backends tried in this order when ``MUJOCO_GL`` is not set
AUTO_BACKENDS = ("egl", "osmesa")
_GL_MODULES = {"egl": "mujoco.egl", "osmesa": "mujoco.osmesa", "glfw": "mujoco.glfw"}
_PROBE = """
import mujoco
m = mujoco.MjModel.from_xml_string('<mujoco><worldbody><light pos="0 0 2"/><geom size=".1"/></worldbody></mujoco>')
d = mujoco.MjData(m)
mujoco.mj_forward(m, d)
r = mujoco.Renderer(m, 16, 16)
r.update_scene(d)
img = r.render()
r.close()
assert img.shape == (16, 16, 3) and img.max() > 0, "blank test render"
print("ok")
"""
_chosen: str | None = None


class RenderError(RuntimeError):
    """No working offscreen renderer (or a clip that cannot be written); the message says how to fix it."""


class ViewerUnavailable(RuntimeError):
    """The interactive viewer cannot open here (no display); the message says why."""


def no_render_requested() -> bool:
    """True when ``MAA_NO_RENDER`` is set to 1/true/yes (the demo's ``--no-render`` as an environment switch)."""
    return os.environ.get("MAA_NO_RENDER", "").strip().lower() in ("1", "true", "yes")


def probe_backend(backend: str, timeout: float = 60.0) -> tuple[bool, str]:
    """Render a 16x16 test scene with ``MUJOCO_GL=backend`` in a child process -> ``(works, error text)``."""
    env = dict(os.environ, MUJOCO_GL=backend)
    env.pop("PYOPENGL_PLATFORM", None)
    try:
        out = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True,
                             timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, f"test render with {backend} took over {timeout:.0f} s"
    if out.returncode == 0 and out.stdout.strip().endswith("ok"):
        return True, ""
    lines = [ln for ln in (out.stderr or out.stdout).strip().splitlines() if ln.strip()]
    return False, lines[-1] if lines else f"exit code {out.returncode}"


def configure_gl() -> str:
    """Choose the offscreen GL backend for this process (see the module docstring) and return its name.

    Call it before the first ``import mujoco`` where possible; later calls return the first choice at once.
    Raises :class:`RenderError` when no backend renders.
    """
    global _chosen
    if _chosen is not None:
        return _chosen
    backend = os.environ.get("MUJOCO_GL", "").strip().lower()
    if not backend:
        failures = []
        for candidate in AUTO_BACKENDS:
            ok, why = probe_backend(candidate)
            if ok:
                backend = candidate
                break
            failures.append(f"{candidate}: {why}")
        else:
            raise RenderError("no headless OpenGL backend renders here (" + "; ".join(failures) + "). Install "
                              "OSMesa (Debian/Ubuntu: sudo apt-get install libosmesa6; scripts/setup.sh does it) or "
                              "a GPU driver with EGL, or set MUJOCO_GL; or switch rendering off (--no-render, "
                              "MAA_NO_RENDER=1)")
        os.environ["MUJOCO_GL"] = backend
    _bind_loaded_mujoco(backend)
    _chosen = backend
    return backend


def _bind_loaded_mujoco(backend: str) -> None:
    """If ``mujoco`` is already imported with another GL context class, rebind it to ``backend``'s."""
    if "mujoco" not in sys.modules or backend not in _GL_MODULES:
        return
    gl_context = importlib.import_module("mujoco.gl_context")
    current = getattr(gl_context, "GLContext", None)
    if current is not None and current.__module__ == _GL_MODULES[backend]:
        return
    platform = os.environ.get("PYOPENGL_PLATFORM", "")
    if "OpenGL" in sys.modules and platform.lower() not in ("", backend):
        raise RenderError(f"this process already initialised OpenGL for {platform!r}, so MuJoCo cannot render with "
                          f"{backend!r} here; start Python with MUJOCO_GL={platform} (or MUJOCO_GL={backend} and "
                          "nothing else initialising OpenGL first)")
    try:
        gl_context.GLContext = importlib.import_module(_GL_MODULES[backend]).GLContext
    except (ImportError, AttributeError) as exc:
        raise RenderError(f"cannot load MuJoCo's {backend} GL context in this process: {exc}; set MUJOCO_GL before "
                          "Python starts") from exc


@dataclass
class RenderStats:
    """What one clip cost: ``frames`` rendered, ``render_s`` in MuJoCo (forward + render), ``encode_s`` encoding
    and writing the file, seconds."""

    frames: int = 0
    render_s: float = 0.0
    encode_s: float = 0.0

    @property
    def ms_per_frame(self) -> float:
        """Rendering time per frame, ms (encoding excluded)."""
        return 1e3 * self.render_s / max(self.frames, 1)

    @property
    def total_s(self) -> float:
        return self.render_s + self.encode_s

    def __add__(self, other: RenderStats) -> RenderStats:
        return RenderStats(self.frames + other.frames, self.render_s + other.render_s,
                           self.encode_s + other.encode_s)


def frame_times(t: np.ndarray, fps: float) -> np.ndarray:
    """Indices into the sample times ``t [T]`` (s, increasing) nearest to a ``fps`` frame grid over ``t``'s span."""
    t = np.asarray(t, dtype=np.float64)
    if t.ndim != 1 or t.size == 0:
        raise ValueError(f"expected sample times [T] with T >= 1, got shape {list(t.shape)}")
    grid = t[0] + np.arange(int(np.floor((t[-1] - t[0]) * fps)) + 1) / fps
    idx = np.clip(np.searchsorted(t, grid), 1, max(t.size - 1, 1))
    if t.size == 1:
        return np.zeros(grid.size, dtype=np.int64)
    left_closer = (grid - t[idx - 1]) < (t[idx] - grid)
    return np.where(left_closer, idx - 1, idx).astype(np.int64)


def write_clip(frames, path: str | Path, fps: float = 20.0) -> Path:
    """Write ``frames`` (``[T, H, W, 3]`` uint8, or a list of ``[H, W, 3]``) as a looping animated GIF at ``fps``.

    Written atomically (``maa_core.atomic_io``). Only ``.gif`` is supported (no extra dependency);
    raises :class:`RenderError` for another suffix or no frames.
    """
    from PIL import Image

    path = Path(path)
    if path.suffix.lower() != ".gif":
        raise RenderError(f"{path}: clips are written as .gif (Pillow); got suffix {path.suffix!r}")
    images = [Image.fromarray(np.ascontiguousarray(f, dtype=np.uint8)) for f in frames]
    if not images:
        raise RenderError(f"{path}: no frames to write")
    # one palette for the whole clip (from a few frames) keeps the file small and the colours steady
    sample = np.concatenate([np.asarray(images[i]) for i in np.linspace(0, len(images) - 1, 4).astype(int)], 0)
    palette = Image.fromarray(sample).quantize(colors=255, method=Image.Quantize.MEDIANCUT)
    quantized = [im.quantize(palette=palette, dither=Image.Dither.NONE) for im in images]
    buf = io.BytesIO()
    quantized[0].save(buf, format="GIF", save_all=True, append_images=quantized[1:], loop=0,
                      duration=max(20, int(round(1000.0 / fps))), optimize=False, disposal=1)
    return atomic_write_bytes(path, buf.getvalue())


def label_frames(frames, text: str) -> np.ndarray:
    """Copy of ``frames [T, H, W, 3]`` with ``text`` drawn in the top-left corner (white on a dark box)."""
    from PIL import Image, ImageDraw

    out = []
    for f in frames:
        im = Image.fromarray(np.ascontiguousarray(f, dtype=np.uint8))
        draw = ImageDraw.Draw(im)
        box = draw.textbbox((4, 3), text)
        draw.rectangle((box[0] - 3, box[1] - 2, box[2] + 3, box[3] + 2), fill=(20, 20, 20))
        draw.text((4, 3), text, fill=(255, 255, 255))
        out.append(np.asarray(im))
    return np.stack(out)


def tile_clips(clips: list[tuple[str, np.ndarray]]) -> np.ndarray:
    """Labelled clips ``[(label, frames [T_i, H, W, 3])]`` side by side -> ``[max T_i, H, W * n, 3]``; a shorter
    clip holds its last frame. All clips must have the same frame size."""
    if not clips:
        raise ValueError("tile_clips needs at least one clip")
    shapes = {tuple(np.shape(f)[1:]) for _, f in clips}
    if len(shapes) != 1:
        raise ValueError(f"clips differ in frame size: {sorted(shapes)}")
    length = max(len(f) for _, f in clips)
    padded = []
    for label, frames in clips:
        frames = label_frames(frames, label)
        pad = np.repeat(frames[-1:], length - len(frames), 0)
        padded.append(np.concatenate([frames, pad], 0))
    return np.concatenate(padded, 2)


def write_clip_index(path: str | Path, title: str, sections: list[dict]) -> Path:
    """A markdown page showing clips side by side, for results pages (written atomically).

    ``sections``: ``[{"heading": str, "clips": {method: file}, "notes": {method: text}, "images": [file, ...]}]``,
    files relative to the page's directory. Each section is a table with one column per method (clip, note),
    followed by the extra images (side-by-side clip, path plot).
    """
    from maa_core.atomic_io import atomic_write_text

    lines = [f"# {title}", ""]
    for sec in sections:
        methods = list(sec["clips"])
        lines += [f"## {sec['heading']}", "", "| " + " | ".join(methods) + " |", "|" + "---|" * len(methods),
                  "| " + " | ".join(f"![{m}]({sec['clips'][m]})" for m in methods) + " |",
                  "| " + " | ".join(sec.get("notes", {}).get(m, "") for m in methods) + " |", ""]
        for f in sec.get("images", []):
            lines += [f"![{Path(f).stem}]({f})", ""]
    return atomic_write_text(path, "\n".join(lines))


# ----------------------------------------------------------------------------------------------- interactive viewer
def require_display(what: str = "--viewer") -> None:
    """Raise :class:`ViewerUnavailable` with a clear message unless a desktop display is reachable."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise ViewerUnavailable(f"{what} opens MuJoCo's interactive viewer, which needs a desktop: neither DISPLAY "
                                "nor WAYLAND_DISPLAY is set here (a headless machine or an ssh session without -X). "
                                "Run without it; the demo's clips (runs/demo/*.gif) show the robot instead")


class ViewerMirror:
    """MuJoCo's passive viewer on a copy of a running simulation, refreshed at ``rate_hz`` from its own thread.

    Each refresh holds ``lock`` (the simulator's) only to copy ``qpos``, ``qvel``, ``act`` and ``time`` of ``data``;
    the forward pass and the viewer sync run on the copy, outside the lock, never in the caller's control loop.
    The viewer gets its own model copy, so its UI cannot change the simulated physics.

    Args:
        model / data: the running simulation's ``MjModel`` / ``MjData``. lock: the lock its stepping holds.
        rate_hz: refresh rate (30 Hz is plenty for a person watching).
    Raises :class:`ViewerUnavailable` from :meth:`start` when no display is reachable or the viewer fails to open.
    """

    def __init__(self, model, data, lock: threading.Lock, rate_hz: float = 30.0):
        if not rate_hz > 0:
            raise ValueError(f"rate_hz must be > 0, got {rate_hz}")
        self.model, self.data, self.lock, self.period = model, data, lock, 1.0 / rate_hz
        self.handle = None
        self.syncs = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> ViewerMirror:
        require_display()
        import copy

        import mujoco
        import mujoco.viewer

        self._model = copy.copy(self.model)  # MjModel copies are deep: the viewer UI edits its own
        self._mirror = mujoco.MjData(self._model)
        self._copy_state()
        mujoco.mj_forward(self._model, self._mirror)
        try:
            self.handle = mujoco.viewer.launch_passive(self._model, self._mirror, show_left_ui=False,
                                                       show_right_ui=False)
        except Exception as exc:  # noqa: BLE001 - GLFW/display errors come in several types
            raise ViewerUnavailable(f"MuJoCo's viewer did not open: {exc}") from exc
        self._thread = threading.Thread(target=self._run, name="sim-viewer", daemon=True)
        self._thread.start()
        return self

    def _copy_state(self) -> None:
        with self.lock:
            self._mirror.qpos[:] = self.data.qpos
            self._mirror.qvel[:] = self.data.qvel
            if self.data.act.size:
                self._mirror.act[:] = self.data.act
            self._mirror.time = self.data.time

    def _run(self) -> None:
        import mujoco

        next_t = time.monotonic()
        while not self._stop.is_set() and self.handle.is_running():
            with self.handle.lock():
                self._copy_state()
                mujoco.mj_forward(self._model, self._mirror)
            self.handle.sync()
            self.syncs += 1
            next_t += self.period
            self._stop.wait(max(0.0, next_t - time.monotonic()))

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
        if self.handle is not None:
            self.handle.close()
            self.handle = None

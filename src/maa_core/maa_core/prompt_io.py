"""Prompt files: one behavior trajectory per ``.npz`` (the format recorded and played back by maa tools).

Arrays: ``obs`` [T, o] float32, ``act`` [T, a] float32, optional ``success`` [T] bool; 0-d strings
``domain``, ``task``, ``source``; 0-d float ``dt`` [s]; 0-d string ``format`` = ``maa.prompt/1``.
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from maa_core.atomic_io import atomic_path, write_new_file
from maa_core.prompt import PromptError, Trajectory

FORMAT_TAG = "maa.prompt/1"


def _arrays(traj: Trajectory, source: str) -> dict[str, np.ndarray]:
    arrays = {"obs": traj.obs, "act": traj.act, "dt": np.float64(traj.dt), "domain": np.array(traj.domain),
              "task": np.array(traj.task), "source": np.array(source), "format": np.array(FORMAT_TAG)}
    if traj.success is not None:
        arrays["success"] = traj.success.astype(bool)
    return arrays


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with path.open("wb") as fh:
        np.savez(fh, **arrays)


def save_prompt(path: str | Path, traj: Trajectory, source: str = "") -> Path:
    """Write ``traj`` to ``path`` atomically (temp file + fsync + rename), replacing any file there; returns it."""
    path = Path(path)
    arrays = _arrays(traj, source)
    with atomic_path(path) as tmp:
        _write_npz(tmp, arrays)
    return path


def save_prompt_new(path: str | Path, traj: Trajectory, source: str = "") -> Path:
    """Write ``traj`` as a new file, never overwriting one: ``path`` if free, else ``<stem>-1<suffix>``, ``-2``, ...

    Atomic (temp file + fsync + hard link / exclusive create), so concurrent writers never share a name and a
    reader never sees a partial file. Returns the path actually written.
    """
    arrays = _arrays(traj, source)
    return write_new_file(path, lambda tmp: _write_npz(tmp, arrays))


def load_prompt(path: str | Path) -> Trajectory:
    """Read and validate a prompt file.

    Raises:
        PromptError: missing, truncated or corrupt file, wrong format tag, missing arrays, bad shapes or NaN.
    """
    path = Path(path)
    if not path.is_file():
        raise PromptError(f"prompt file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise PromptError(f"{path}: cannot read prompt file, truncated or corrupt ({exc})") from exc
    fmt = str(arrays.get("format", ""))
    if fmt != FORMAT_TAG:
        raise PromptError(f"{path}: format {fmt!r} is not {FORMAT_TAG!r}")
    missing = {"obs", "act"} - set(arrays)
    if missing:
        raise PromptError(f"{path}: missing arrays {sorted(missing)}")
    return Trajectory(obs=arrays["obs"], act=arrays["act"], success=arrays.get("success"),
                      dt=float(arrays.get("dt", 0.02)), domain=str(arrays.get("domain", "")),
                      task=str(arrays.get("task", "")))

"""Crash-safe file writes and pickle-free torch files (one implementation for every maa writer).

Write protocol of :func:`atomic_path` (used by all helpers here): write to a hidden temporary file in the target's
directory, ``fsync`` it, ``os.replace`` it onto the final name, then ``fsync`` the directory so the rename itself is
durable. A kill or an error at any point leaves either the old file or the new one, never a half-written file
(a killed writer may leave a ``.<name>.tmp-*`` file behind; :func:`remove_stale_temps` deletes those).
Directories (zoo shards, training checkpoints) are written under a temporary name and published with
:func:`durable_rename_dir`.

Torch files the project writes hold only tensors and plain Python containers of ``str``/``int``/``float``/
``bool``/``None``, so they load with ``torch.load(..., weights_only=True)`` (:func:`torch_load_safe`); nothing is
ever unpickled. :func:`to_torch_plain` / :func:`from_torch_plain` convert numpy arrays and scalars for that.
"""
from __future__ import annotations

import os
import pickle
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch


class UnsafeFileError(ValueError):
    """A torch file that is unreadable (truncated / corrupt) or would need unpickling (older format)."""


def fsync_dir(path: str | Path) -> None:
    """``fsync`` directory ``path`` so that renames / creations of its entries survive a power loss."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: str | Path) -> None:
    """``fsync`` the (already written and closed) file ``path``."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(root: str | Path) -> None:
    """``fsync`` every file and directory under ``root`` (``root`` included), deepest first."""
    for dirpath, _, files in os.walk(root, topdown=False):
        for name in files:
            fsync_file(os.path.join(dirpath, name))
        fsync_dir(dirpath)


def durable_rename_dir(src: str | Path, dst: str | Path) -> None:
    """Publish the fully written directory ``src`` as ``dst``: fsync its contents, ``os.rename`` (fails if ``dst``
    exists and is not empty), then fsync the parent directory of ``dst``."""
    fsync_tree(src)
    os.rename(src, dst)
    fsync_dir(Path(dst).parent)


def _temp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")


def remove_stale_temps(path: str | Path) -> list[Path]:
    """Delete temporary files that killed writers of ``path`` left behind; returns them."""
    path = Path(path)
    stale = sorted(path.parent.glob(f".{path.name}.tmp-*"))
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Context manager yielding a temporary path to write; on a clean exit it becomes ``path`` atomically.

    The temporary file is in ``path``'s directory (created if missing), so the final ``os.replace`` never crosses
    file systems. On an exception the temporary file is removed and ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_name(path)
    try:
        yield tmp
        fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Atomically replace ``path`` by ``data`` (see module doc); returns ``path``."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    """Atomically replace ``path`` by ``text``; returns ``path``."""
    return atomic_write_bytes(path, text.encode(encoding))


def atomic_torch_save(obj: Any, path: str | Path) -> Path:
    """``torch.save(obj)`` to ``path`` atomically; returns ``path``."""
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return path


def _numbered(path: Path, i: int) -> Path:
    return path if i == 0 else path.with_name(f"{path.stem}-{i}{path.suffix}")


def _claim(tmp: Path, dest: Path) -> bool:
    """Give the finished ``tmp`` the name ``dest`` unless that exists (True if claimed). Hard link where the file
    system has them; otherwise reserve the name with ``O_EXCL`` and rename over the reservation."""
    try:
        os.link(tmp, dest)
        return True
    except FileExistsError:
        return False
    except OSError:  # no hard links here (some FUSE / network file systems)
        pass
    try:
        os.close(os.open(dest, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    except FileExistsError:
        return False
    os.replace(tmp, dest)
    return True


def write_new_file(path: str | Path, write: Callable[[Path], None], max_tries: int = 10000) -> Path:
    """Write a new file without ever overwriting one: ``path`` if free, else ``<stem>-1<suffix>``, ``-2``, ...

    ``write(tmp)`` fills a temporary file, which is fsynced and then given the first free name atomically (a
    hard link, or an ``O_EXCL`` reservation, so two concurrent writers never take the same name). Returns the path
    actually written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_name(path)
    try:
        write(tmp)
        fsync_file(tmp)
        for i in range(max_tries):
            dest = _numbered(path, i)
            if _claim(tmp, dest):
                fsync_dir(path.parent)
                return dest
        raise FileExistsError(f"{path} and {path.stem}-1..{max_tries - 1}{path.suffix} all exist; "
                              f"move old files away")
    finally:
        tmp.unlink(missing_ok=True)


# --------------------------------------------------------------------------- pickle-free torch files
def to_torch_plain(obj: Any) -> Any:
    """Recursively turn numpy arrays into tensors and numpy scalars / tuples into Python scalars / lists, so the
    result loads with ``weights_only=True``. Raises TypeError for anything else that is not a tensor, str, int,
    float, bool, None, list or str-keyed dict."""
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in "biuf":
            raise TypeError(f"cannot store numpy array of dtype {obj.dtype} in a pickle-free torch file")
        return torch.from_numpy(np.ascontiguousarray(obj))
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (torch.Tensor, str, bool, int, float)):
        return obj
    if isinstance(obj, (list, tuple)):
        return [to_torch_plain(x) for x in obj]
    if isinstance(obj, dict):
        bad = [k for k in obj if not isinstance(k, str)]
        if bad:
            raise TypeError(f"dict keys must be str in a pickle-free torch file, got {bad[:3]}")
        return {k: to_torch_plain(v) for k, v in obj.items()}
    raise TypeError(f"cannot store {type(obj).__name__} in a pickle-free torch file; convert it to tensors / "
                    f"plain Python types first")


def from_torch_plain(obj: Any) -> Any:
    """Inverse of :func:`to_torch_plain`: tensors back to numpy arrays (recursively, lists and dicts)."""
    if isinstance(obj, torch.Tensor):
        return obj.numpy()
    if isinstance(obj, list):
        return [from_torch_plain(x) for x in obj]
    if isinstance(obj, dict):
        return {k: from_torch_plain(v) for k, v in obj.items()}
    return obj


def torch_load_safe(path: str | Path, what: str = "file", fix: str = "delete it or retrain") -> Any:
    """``torch.load(path, map_location="cpu", weights_only=True)`` with errors that say what to do.

    Args:
        what: what the file is, for messages (e.g. ``"Go2 PPO checkpoint"``).
        fix: the remedy appended to every message.
    Raises:
        FileNotFoundError: no file at ``path``.
        UnsafeFileError: truncated / corrupt file, or a file holding Python objects that only unpickling could
            load (written by an older maa version); it is never unpickled.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        if "Unsupported global" in str(e):
            raise UnsafeFileError(f"{what} {path} holds Python objects that only unpickling could load (written by "
                                  f"an older maa version); it is not loaded for safety; {fix}") from None
        raise UnsafeFileError(f"{what} {path} is unreadable (truncated or corrupt: not a torch file); {fix}") from None
    except (RuntimeError, EOFError, OSError, ValueError, KeyError) as e:
        raise UnsafeFileError(f"{what} {path} is unreadable (truncated or corrupt: {type(e).__name__}: "
                              f"{str(e).splitlines()[0] if str(e) else ''}); {fix}") from e

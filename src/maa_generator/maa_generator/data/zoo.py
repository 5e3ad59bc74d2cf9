"""Policy zoo: the versioned on-disk dataset of policy checkpoints and their behavior prompts.

A zoo is a directory (format described in ``docs/zoo_format.md``)::

    zoo.json                      format_version, domain, layout, prompt dims, collection config, shard list
    shards/<task>__<run>/         one shard per (task, training run); plain .npy files, memory-mappable
        params.npy                float32 [N, P]           flat policy parameters (PolicyLayout order)
        h.npy                     float32 [N, Dh] | [N, S, Dh]   trajectory prompts
        v.npy                     float32 [N, Dv] | [N, S, Dv]   success prompts
        traj_obs.npy (optional)   float32 [N, E, T, o]     full evaluation trajectories
        traj_act.npy (optional)   float32 [N, E, T, a]
        traj_success.npy (opt.)   bool    [N, E, T]
        shard.json                shard entry + per-checkpoint metadata (written last)

Shards are written to a temporary directory, every file and the directory fsynced, and renamed into place (then
the parent directory is fsynced), so an interrupted collection or a power loss never leaves a half shard;
:meth:`ZooWriter.has_shard` lets a collector resume shard by shard.
"""
from __future__ import annotations

import json
import os
import re
import shutil
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from maa_core.atomic_io import atomic_write_text, durable_rename_dir, remove_stale_temps
from maa_core.layout import LayoutError, PolicyLayout

FORMAT_VERSION = 1
SUPPORTED_VERSIONS = (1,)
ARRAYS = ("params", "h", "v")
TRAJ_ARRAYS = ("traj_obs", "traj_act", "traj_success")
META_REQUIRED = ("seed", "step", "collector")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


class ZooError(ValueError):
    """Raised for a malformed zoo (the message lists every problem found)."""


# --------------------------------------------------------------------------- small helpers
def _atomic_write_json(path: Path, data) -> None:
    atomic_write_text(path, json.dumps(data, indent=1, sort_keys=True))



def shard_name(task: str, run: str) -> str:
    """``<task>__<run>`` after checking both parts are safe file names without ``__``."""
    for what, s in (("task", task), ("run", run)):
        if not isinstance(s, str) or not _NAME_RE.match(s) or "__" in s:
            raise ZooError(f"{what} name {s!r} must match {_NAME_RE.pattern} and must not contain '__'")
    return f"{task}__{run}"


def prompt_spec(kind: str, obs_dim: int, act_dim: int, n: int, m: int, segments: int = 0,
                h_dim: int | None = None, v_dim: int | None = None) -> dict:
    """The ``prompt`` entry of ``zoo.json``.

    Args:
        kind: ``success`` (manipulation, ``h`` [N, Dh], ``v`` [N, Dv]), ``segmented`` (locomotion,
            ``h`` [N, S, Dh], ``v`` [N, S, Dv]) or ``official`` (imported official data, dims given explicitly).
        obs_dim, act_dim: trajectory observation/action sizes.
        n, m: prompt sizes (state-action pairs in ``h``, states in ``v``).
        segments: ``S`` for ``segmented`` prompts (0 otherwise).
        h_dim, v_dim: override ``n * (obs_dim + act_dim)`` / ``m * obs_dim`` (only for ``official``).
    """
    if kind not in ("success", "segmented", "official"):
        raise ZooError(f"prompt kind must be success|segmented|official, got {kind!r}")
    if kind == "segmented" and segments < 1:
        raise ZooError(f"segmented prompts need segments >= 1, got {segments}")
    return {"kind": kind, "obs_dim": int(obs_dim), "act_dim": int(act_dim), "n": int(n), "m": int(m),
            "segments": int(segments) if kind == "segmented" else 0,
            "h_dim": int(h_dim if h_dim is not None else n * (obs_dim + act_dim)),
            "v_dim": int(v_dim if v_dim is not None else m * obs_dim)}


def _prompt_shape(prompt: dict, n: int, which: str) -> tuple[int, ...]:
    d = prompt[f"{which}_dim"]
    return (n, prompt["segments"], d) if prompt["segments"] else (n, d)


def _columns(meta, n: int, task: str, run: str) -> dict[str, list]:
    """Per-checkpoint metadata (mapping of scalars / length-N sequences, or list of dicts) -> columns."""
    if isinstance(meta, Sequence) and not isinstance(meta, (str, bytes)):
        if len(meta) != n or not all(isinstance(r, Mapping) for r in meta):
            raise ZooError(f"meta as a list must hold {n} dicts (one per checkpoint), got {len(meta)} items")
        keys = sorted({k for r in meta for k in r})
        meta = {k: [r.get(k) for r in meta] for k in keys}
    if not isinstance(meta, Mapping):
        raise ZooError(f"meta must be a mapping or a list of dicts, got {type(meta).__name__}")
    cols: dict[str, list] = {}
    for key, val in meta.items():
        if isinstance(val, np.ndarray):
            val = val.tolist()
        if isinstance(val, (list, tuple)):
            if len(val) != n:
                raise ZooError(f"meta[{key!r}] has {len(val)} values, expected {n} (one per checkpoint)")
            cols[key] = list(val)
        else:
            cols[key] = [val] * n
    missing = [k for k in META_REQUIRED if k not in cols]
    if "success" not in cols and "return" not in cols:
        missing.append("success|return")
    if missing:
        raise ZooError(f"meta is missing required key(s) {missing}")
    cols["task"], cols["run"] = [task] * n, [run] * n
    for key in ("seed", "step"):
        cols[key] = [int(x) for x in cols[key]]
    for key in ("success", "return"):
        if key in cols:
            cols[key] = [None if x is None else float(x) for x in cols[key]]
    cols["collector"] = [str(x) for x in cols["collector"]]
    return cols


# --------------------------------------------------------------------------- writer
class ZooWriter:
    """Create or extend a zoo at ``root``.

    Args:
        root: zoo directory (created if missing).
        domain: e.g. ``metaworld``, ``go2``.
        layout: the policy layout every shard must follow.
        prompt: :func:`prompt_spec` dict.
        config: the resolved collection config (stored verbatim in ``zoo.json``).
        synthetic: mark the zoo as synthetic (test/CI data, not real policies).

    Re-opening an existing zoo checks that domain, layout and prompt agree, removes leftover temporary shards and
    re-registers complete shards that were renamed into place but not yet listed (crash between the two steps).
    """

    def __init__(self, root: str | Path, domain: str, layout: PolicyLayout, prompt: dict,
                 config: Mapping | None = None, synthetic: bool = False):
        self.root = Path(root)
        self.layout = layout
        self.prompt = dict(prompt)
        (self.root / "shards").mkdir(parents=True, exist_ok=True)
        index = self.root / "zoo.json"
        if index.exists():
            self.index = json.loads(index.read_text())
            if self.index.get("format_version") not in SUPPORTED_VERSIONS:
                raise ZooError(f"{index}: unsupported format_version {self.index.get('format_version')!r}")
            for key, want in (("domain", domain), ("layout", layout.to_dict()), ("prompt", self.prompt)):
                if self.index.get(key) != want:
                    raise ZooError(f"{index}: existing zoo has {key}={self.index.get(key)!r}, writer got {want!r}")
            self._record_config(dict(config or {}))
        else:
            self.index = {"format_version": FORMAT_VERSION, "domain": domain, "layout": layout.to_dict(),
                          "layout_fingerprint": layout.fingerprint(), "prompt": self.prompt,
                          "config": dict(config or {}), "synthetic": bool(synthetic), "shards": []}
        self._recover()
        remove_stale_temps(index)
        _atomic_write_json(index, self.index)

    def _record_config(self, config: dict) -> None:
        """Keep the provenance of a later collection into this zoo with another config (e.g. prompt-source runs
        with fewer iterations): it is appended to ``zoo.json``'s ``other_configs`` unless already recorded."""
        if config and config != self.index.get("config") and config not in self.index.get("other_configs", []):
            self.index.setdefault("other_configs", []).append(config)

    def _recover(self) -> None:
        # one entry per shard name (the last): an index that lists a shard twice (a shard re-collected after its
        # directory was moved away, before this was checked) would load its checkpoints twice
        self.index["shards"] = list({s["name"]: s for s in self.index["shards"]}.values())
        listed = {s["name"] for s in self.index["shards"]}
        for d in sorted((self.root / "shards").iterdir()):
            if d.name.startswith(".tmp-"):
                shutil.rmtree(d, ignore_errors=True)
            elif d.is_dir() and d.name not in listed and (d / "shard.json").is_file():
                self.index["shards"].append(json.loads((d / "shard.json").read_text())["entry"])

    def has_shard(self, task: str, run: str) -> bool:
        """True if shard ``task__run`` is complete (listed and present on disk)."""
        name = shard_name(task, run)
        return any(s["name"] == name for s in self.index["shards"]) and (self.root / "shards" / name).is_dir()

    def add_shard(self, task: str, run: str, params, h, v, meta, trajectories: Mapping | None = None) -> dict:
        """Write one shard atomically and list it in ``zoo.json``.

        Args:
            params: ``[N, P]`` flat parameters (``P = layout.num_params``).
            h, v: prompts ``[N, Dh]``/``[N, Dv]`` (``[N, S, D*]`` for segmented prompts).
            meta: per-checkpoint metadata: ``seed``, ``step``, ``collector`` and ``success`` and/or ``return``
                (scalars are broadcast; extra keys are kept).
            trajectories: optional ``{"traj_obs": [N, E, T, o], "traj_act": [N, E, T, a],
                "traj_success": [N, E, T]}``.
        Returns:
            the shard entry written to ``zoo.json``.
        """
        name = shard_name(task, run)
        if self.has_shard(task, run):
            raise ZooError(f"shard {name} already exists in {self.root}")
        params = self.layout.check_flat(params, batched=True)
        n = params.shape[0]
        arrays = {"params": params, "h": np.asarray(h, np.float32), "v": np.asarray(v, np.float32)}
        for which in ("h", "v"):
            want = _prompt_shape(self.prompt, n, which)
            if arrays[which].shape != want:
                raise ZooError(f"{which}: expected shape {list(want)}, got {list(arrays[which].shape)}")
        arrays.update(self._check_traj(trajectories, n))
        for key, arr in arrays.items():
            if arr.dtype != bool and not np.all(np.isfinite(arr)):
                raise ZooError(f"{key} contains {int(np.sum(~np.isfinite(arr)))} non-finite values (NaN/inf)")
        cols = _columns(meta, n, task, run)
        entry = {"name": name, "task": task, "run": run, "num_checkpoints": int(n), "path": f"shards/{name}",
                 "has_trajectories": trajectories is not None}
        tmp = self.root / "shards" / f".tmp-{name}-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        for key, arr in arrays.items():
            np.save(tmp / f"{key}.npy", arr)
        (tmp / "shard.json").write_text(json.dumps({"entry": entry, "meta": cols}))
        durable_rename_dir(tmp, self.root / "shards" / name)  # fsyncs every file before the shard becomes visible
        # a listed shard whose directory is gone (moved aside) is collected again: its entry is replaced, not added
        self.index["shards"] = [s for s in self.index["shards"] if s["name"] != name] + [entry]
        _atomic_write_json(self.root / "zoo.json", self.index)
        return entry

    def _check_traj(self, traj: Mapping | None, n: int) -> dict[str, np.ndarray]:
        if traj is None:
            return {}
        unknown = set(traj) - set(TRAJ_ARRAYS)
        missing = set(TRAJ_ARRAYS) - set(traj)
        if unknown or missing:
            raise ZooError(f"trajectories must have keys {list(TRAJ_ARRAYS)}; missing {sorted(missing)}, "
                           f"unexpected {sorted(unknown)}")
        obs = np.asarray(traj["traj_obs"], np.float32)
        act = np.asarray(traj["traj_act"], np.float32)
        suc = np.asarray(traj["traj_success"]).astype(bool)
        o, a = self.prompt["obs_dim"], self.prompt["act_dim"]
        if obs.ndim != 4 or obs.shape[0] != n or obs.shape[3] != o:
            raise ZooError(f"traj_obs: expected shape [{n}, E, T, {o}], got {list(obs.shape)}")
        if act.shape != (*obs.shape[:3], a):
            raise ZooError(f"traj_act: expected shape {[*obs.shape[:3], a]}, got {list(act.shape)}")
        if suc.shape != obs.shape[:3]:
            raise ZooError(f"traj_success: expected shape {list(obs.shape[:3])}, got {list(suc.shape)}")
        return {"traj_obs": obs, "traj_act": act, "traj_success": suc}


# --------------------------------------------------------------------------- reading
class ConcatView:
    """Row-wise concatenation of (memory-mapped) arrays with an optional row selection, without copying.

    Indexing (int, slice, int array, bool mask) gathers only the requested rows; ``np.asarray(view)`` copies all.
    """

    def __init__(self, parts: Sequence[np.ndarray], rows: np.ndarray | None = None):
        self.parts = list(parts)
        self.offsets = np.cumsum([0] + [len(p) for p in self.parts])
        self.rows = np.arange(self.offsets[-1]) if rows is None else np.asarray(rows, dtype=np.int64)
        tail = self.parts[0].shape[1:] if self.parts else ()
        self.shape = (len(self.rows), *tail)
        self.dtype = self.parts[0].dtype if self.parts else np.float32

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, idx) -> np.ndarray:
        if isinstance(idx, (int, np.integer)):
            return self._gather(self.rows[[idx]])[0]
        return self._gather(self.rows[idx])

    def _gather(self, rows: np.ndarray) -> np.ndarray:
        rows = np.atleast_1d(rows)
        out = np.empty((len(rows), *self.shape[1:]), dtype=self.dtype)
        part = np.searchsorted(self.offsets, rows, side="right") - 1
        for p in np.unique(part):
            sel = part == p
            local = rows[sel] - self.offsets[p]
            order = np.argsort(local)  # sorted reads are friendlier to mmap
            out[np.flatnonzero(sel)[order]] = self.parts[p][local[order]]
        return out

    def __array__(self, dtype=None, copy=None):
        arr = self._gather(self.rows)
        return arr if dtype is None else arr.astype(dtype)


class Zoo:
    """Read-only view of a zoo (open with :meth:`Zoo.open`).

    Attributes:
        root, domain, layout (:class:`PolicyLayout`), prompt (dims dict), config, synthetic, shards (entries).
    """

    def __init__(self, root: Path, index: dict, arrays: list[dict], meta: list[dict], rows: np.ndarray | None = None):
        self.root = root
        self.index = index
        self.domain = index["domain"]
        self.layout = PolicyLayout.from_dict(index["layout"])
        self.prompt = index["prompt"]
        self.config = index.get("config", {})
        self.synthetic = bool(index.get("synthetic", False))
        self.shards = index["shards"]
        self._arrays = arrays
        self._meta_all = meta
        self._rows = np.arange(len(meta)) if rows is None else np.asarray(rows, dtype=np.int64)

    @classmethod
    def open(cls, root: str | Path, check: bool = True) -> Zoo:
        """Open a zoo; with ``check`` the full :func:`validate` runs first and raises :class:`ZooError`."""
        root = Path(root)
        if check:
            problems = validate(root)
            if problems:
                raise ZooError(f"invalid zoo {root}:\n  " + "\n  ".join(problems))
        index = json.loads((root / "zoo.json").read_text())
        arrays, meta = [], []
        for entry in index["shards"]:
            d = root / entry["path"]
            arrays.append({k: np.load(d / f"{k}.npy", mmap_mode="r") for k in (*ARRAYS, *TRAJ_ARRAYS)
                           if (d / f"{k}.npy").is_file()})
            cols = json.loads((d / "shard.json").read_text())["meta"]
            meta.extend({k: cols[k][i] for k in cols} for i in range(entry["num_checkpoints"]))
        return cls(root, index, arrays, meta)

    # ----------------------------------------------------------------- selection
    @property
    def num_checkpoints(self) -> int:
        return len(self._rows)

    def __len__(self) -> int:
        return self.num_checkpoints

    @property
    def metadata(self) -> list[dict]:
        """Per-checkpoint dicts (task, run, seed, step, success/return, collector, ...), in row order."""
        return [self._meta_all[i] for i in self._rows]

    @property
    def tasks(self) -> list[str]:
        """Sorted task names present in this (possibly filtered) view."""
        return sorted({self._meta_all[i]["task"] for i in self._rows})

    def filter(self, tasks: Iterable[str] | None = None, min_success: float | None = None,
               min_return: float | None = None) -> Zoo:
        """A view restricted to ``tasks`` and checkpoints with ``success >= min_success`` / ``return >= ...``."""
        keep = []
        wanted = None if tasks is None else set(tasks)
        if wanted is not None and not wanted <= set(self.tasks):
            raise ZooError(f"unknown task(s) {sorted(wanted - set(self.tasks))}; zoo has {self.tasks}")
        for i in self._rows:
            m = self._meta_all[i]
            if wanted is not None and m["task"] not in wanted:
                continue
            if min_success is not None and (m.get("success") is None or m["success"] < min_success):
                continue
            if min_return is not None and (m.get("return") is None or m["return"] < min_return):
                continue
            keep.append(i)
        return Zoo(self.root, self.index, self._arrays, self._meta_all, np.asarray(keep, dtype=np.int64))

    def _view(self, key: str, task: str | None) -> ConcatView:
        rows = self._rows if task is None else self.filter(tasks=[task])._rows
        sizes = [e["num_checkpoints"] for e in self.shards]
        used = set(np.searchsorted(np.cumsum(sizes), rows, side="right").tolist())
        lacking = [self.shards[i]["name"] for i in sorted(used) if key not in self._arrays[i]]
        if lacking:
            raise ZooError(f"zoo {self.root}: shard(s) {lacking} have no {key!r} (collected without trajectories?)")
        have = next((a[key] for a in self._arrays if key in a), None)
        if have is None:
            raise ZooError(f"zoo {self.root}: no shard has {key!r}")
        parts = [a[key] if key in a else np.broadcast_to(np.zeros((), have.dtype), (n, *have.shape[1:]))
                 for a, n in zip(self._arrays, sizes)]
        return ConcatView(parts, rows)

    def params(self, task: str | None = None) -> ConcatView:
        """Flat parameters ``[N, P]`` float32 (memory-mapped; index to gather rows)."""
        return self._view("params", task)

    def prompts(self, task: str | None = None) -> tuple[ConcatView, ConcatView]:
        """``(h, v)``: ``[N, Dh]``, ``[N, Dv]`` (``[N, S, D*]`` for segmented prompts)."""
        return self._view("h", task), self._view("v", task)

    def trajectories(self, task: str | None = None) -> dict[str, ConcatView]:
        """``traj_obs`` ``[N, E, T, o]``, ``traj_act`` ``[N, E, T, a]``, ``traj_success`` ``[N, E, T]``."""
        return {k: self._view(k, task) for k in TRAJ_ARRAYS}


# --------------------------------------------------------------------------- validation
def _load_checked(path: Path, problems: list[str]) -> np.ndarray | None:
    if not path.is_file():
        problems.append(f"{path}: missing file")
        return None
    try:
        return np.load(path, mmap_mode="r")
    except (ValueError, OSError) as exc:
        problems.append(f"{path}: unreadable or truncated .npy ({exc})")
        return None


def _nonfinite(arr: np.ndarray, chunk: int = 256) -> int:
    return sum(int(np.sum(~np.isfinite(arr[i:i + chunk]))) for i in range(0, len(arr), chunk))


def _validate_shard(root: Path, entry: dict, layout: PolicyLayout, prompt: dict, problems: list[str]) -> None:
    d = root / entry.get("path", "")
    if not d.is_dir():
        problems.append(f"shard {entry.get('name')!r} listed in zoo.json but missing on disk ({d})")
        return
    n = entry.get("num_checkpoints")
    want = {"params": (n, layout.num_params), "h": _prompt_shape(prompt, n, "h"), "v": _prompt_shape(prompt, n, "v")}
    for key, shape in want.items():
        arr = _load_checked(d / f"{key}.npy", problems)
        if arr is None:
            continue
        if arr.dtype != np.float32:
            problems.append(f"{d / key}.npy: dtype {arr.dtype}, expected float32")
        if tuple(arr.shape) != tuple(shape):
            what = f" (layout {layout.name} has {layout.num_params} params)" if key == "params" else ""
            problems.append(f"{d / key}.npy: shape {list(arr.shape)}, expected {list(shape)}{what}")
        elif arr.dtype.kind == "f" and (bad := _nonfinite(arr)):
            problems.append(f"{d / key}.npy: {bad} non-finite values (NaN/inf)")
    if entry.get("has_trajectories"):
        for key in TRAJ_ARRAYS:
            arr = _load_checked(d / f"{key}.npy", problems)
            if arr is not None and (arr.ndim < 3 or arr.shape[0] != n):
                problems.append(f"{d / key}.npy: shape {list(arr.shape)}, expected [{n}, E, T, ...]")
    sj = d / "shard.json"
    if not sj.is_file():
        problems.append(f"{sj}: missing file")
        return
    try:
        cols = json.loads(sj.read_text())["meta"]
    except (ValueError, KeyError) as exc:
        problems.append(f"{sj}: unreadable metadata ({exc})")
        return
    for key in (*META_REQUIRED, "task"):
        if key not in cols:
            problems.append(f"{sj}: metadata missing key {key!r}")
    for key, vals in cols.items():
        if len(vals) != n:
            problems.append(f"{sj}: metadata {key!r} has {len(vals)} values, expected {n}")


def validate(root: str | Path) -> list[str]:
    """Check a zoo against the format; returns a list of problems (empty if valid).

    Detects: missing/unparsable ``zoo.json``, missing keys, unknown ``format_version``, bad layout, shards listed
    but missing, missing or truncated ``.npy`` files, wrong dtype, shapes that disagree with ``layout.num_params``
    or the prompt dims, NaN/inf values and metadata of the wrong length.
    """
    root = Path(root)
    index_path = root / "zoo.json"
    if not index_path.is_file():
        return [f"{index_path}: missing (not a zoo directory)"]
    try:
        index = json.loads(index_path.read_text())
    except ValueError as exc:
        return [f"{index_path}: not valid JSON ({exc})"]
    missing = [k for k in ("format_version", "domain", "layout", "prompt", "shards") if k not in index]
    if missing:
        return [f"{index_path}: missing key(s) {missing}"]
    if index["format_version"] not in SUPPORTED_VERSIONS:
        return [f"{index_path}: unknown format_version {index['format_version']!r}; supported {SUPPORTED_VERSIONS}"]
    try:
        layout = PolicyLayout.from_dict(index["layout"])
    except (LayoutError, TypeError) as exc:
        return [f"{index_path}: invalid layout ({exc})"]
    prompt = index["prompt"]
    need = ("kind", "obs_dim", "act_dim", "n", "m", "segments", "h_dim", "v_dim")
    if not isinstance(prompt, dict) or any(k not in prompt for k in need):
        return [f"{index_path}: prompt must be a dict with keys {list(need)}, got {prompt!r}"]
    problems: list[str] = []
    counts = Counter(entry.get("name") for entry in index["shards"])
    twice = sorted(n for n, c in counts.items() if c > 1)
    if twice:
        problems.append(f"{index_path}: shards listed more than once: {twice} (their checkpoints would be loaded once "
                        f"per listing); opening the zoo with ZooWriter (any collection on it) repairs the index")
    for entry in index["shards"]:
        _validate_shard(root, entry, layout, prompt, problems)
    return problems

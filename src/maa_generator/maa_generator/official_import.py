"""Import the official Make-An-Agent artifacts (dataset ``data.pt`` and checkpoints) into this project's formats.

Official dataset (facts from the released code: ``autoencoder/dataset.py``, ``behavior_embedding/config_embed.yaml``,
``dataset/process_data.py``): a ``torch.save``'d dict per file with

* ``param`` ``[N, 22664]``: flat MetaWorld SAC actor weights (39-128-128-8; the autoencoder splits it as
  ``[5120, 17544]`` = layer 0 | layers 1-2, i.e. per layer weight then bias, the same order as
  :class:`~maa_generator.layout.PolicyLayout`);
* ``traj`` ``[N, 1020]``: the trajectory prompt fed to the embedding's trajectory branch (``traj_dim: 1020``);
* ``task`` ``[N, 117]``: the success prompt fed to the "task" branch (``task_dim: 117``).

Interpretation (assumed, documented in ``docs/zoo_format.md``): ``117 = m * obs_dim = 3 * 39`` (the three full
39-d states after the first success), so ``task`` is our ``v``. ``1020 = 60 * 17`` is the first ``n = 60`` steps
with 17 numbers per step; 17 cannot be ``39 + 4`` (obs + action), so the official ``traj`` stores a reduced per-step
record whose exact composition is not stated in the released code. We store it verbatim as ``h`` with prompt kind
``official`` (``h_dim = 1020``, ``v_dim = 117``); it is only usable with an embedding built for those dims.

Checkpoint mapping never loads partial weights: :func:`map_state_dict` returns a :class:`MappingReport` (matched,
unmatched source keys, missing target keys, shape mismatches) and :func:`load_mapped` raises unless every target
tensor is matched with the right shape.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .layout import PolicyLayout, metaworld_sac_layout
from .zoo import ZooWriter, prompt_spec

OFFICIAL_PARAM_DIM = 22664
OFFICIAL_TRAJ_DIM = 1020
OFFICIAL_TASK_DIM = 117


class OfficialImportError(ValueError):
    """Raised for official files that do not have the expected keys/shapes or do not map onto our modules."""


# --------------------------------------------------------------------------- loading
def torch_load(path: str | Path, trust_pickle: bool = False):
    """``torch.load`` with ``weights_only=True``; ``trust_pickle`` allows full unpickling (trusted files only).

    Lightning checkpoints that pickled OmegaConf hyper-parameters cannot be read with ``weights_only``.
    """
    path = Path(path)
    if not path.is_file():
        raise OfficialImportError(f"file not found: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=not trust_pickle)
    except Exception as exc:  # noqa: BLE001 - unpickling raises many types
        hint = "" if trust_pickle else " (if you trust this file, retry with trust_pickle=True / --trust-pickle)"
        raise OfficialImportError(f"cannot load {path}: {type(exc).__name__}: {str(exc)[:300]}{hint}") from None


def _as_array(value, name: str, path) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().float().numpy()
    arr = np.asarray(value, dtype=np.float32)
    if not np.all(np.isfinite(arr)):
        raise OfficialImportError(f"{path}: {name} contains {int(np.sum(~np.isfinite(arr)))} non-finite values")
    return arr


def read_official_data(path: str | Path, trust_pickle: bool = False) -> dict[str, np.ndarray]:
    """Read and check an official ``data.pt``: ``param [N, 22664]``, ``traj [N, 1020]``, ``task [N, 117]``."""
    data = torch_load(path, trust_pickle)
    if not isinstance(data, Mapping):
        raise OfficialImportError(f"{path}: expected a dict with keys param/traj/task, got {type(data).__name__}")
    missing = [k for k in ("param", "traj", "task") if k not in data]
    if missing:
        raise OfficialImportError(f"{path}: missing key(s) {missing}; found {sorted(data)}")
    out = {k: _as_array(data[k], k, path) for k in ("param", "traj", "task")}
    n = out["param"].shape[0]
    for key, dim in (("param", OFFICIAL_PARAM_DIM), ("traj", OFFICIAL_TRAJ_DIM), ("task", OFFICIAL_TASK_DIM)):
        if out[key].shape != (n, dim):
            raise OfficialImportError(f"{path}: {key} has shape {list(out[key].shape)}, expected [{n}, {dim}]")
    return out


def _task_name(path: Path) -> str:
    name = re.sub(r"[^A-Za-z0-9_.\-]+", "-", path.stem).strip("-_.") or "task"
    return name.replace("__", "_")


def import_official_data(files: Sequence[str | Path], zoo_root: str | Path, tasks: Sequence[str] | None = None,
                         trust_pickle: bool = False) -> list[dict]:
    """Import official ``data.pt`` files (one per task) as shards ``<task>__official`` of a MetaWorld zoo.

    Args:
        files: official dataset files.
        zoo_root: zoo directory (created or extended; already imported shards are skipped).
        tasks: task name per file (default: the file stem).
    Returns:
        the shard entries written.
    """
    layout = metaworld_sac_layout()
    if layout.num_params != OFFICIAL_PARAM_DIM or layout.layer_slices()[0].stop != 5120:
        raise OfficialImportError("metaworld_sac_layout() no longer matches the official 22,664-parameter actor")
    spec = prompt_spec("official", obs_dim=39, act_dim=4, n=60, m=3, h_dim=OFFICIAL_TRAJ_DIM,
                       v_dim=OFFICIAL_TASK_DIM)
    config = {"source": "official Make-An-Agent data.pt", "files": [str(f) for f in files],
              "assumptions": {"h": "official traj [N, 1020] = 60 steps x 17 (per-step composition not stated)",
                              "v": "official task [N, 117] = 3 states x 39 after the first success"}}
    writer = ZooWriter(zoo_root, "metaworld", layout, spec, config=config)
    names = list(tasks) if tasks is not None else [_task_name(Path(f)) for f in files]
    if len(names) != len(files):
        raise OfficialImportError(f"got {len(files)} files but {len(names)} task names")
    written = []
    for f, task in zip(files, names):
        if writer.has_shard(task, "official"):
            continue
        d = read_official_data(f, trust_pickle)
        n = d["param"].shape[0]
        meta = {"seed": -1, "step": -1, "index": list(range(n)), "success": None, "collector": "official_import",
                "source_file": str(f)}
        written.append(writer.add_shard(task, "official", d["param"], d["traj"], d["task"], meta))
    return written


# --------------------------------------------------------------------------- checkpoint key mapping
@dataclass
class MappingReport:
    """Outcome of mapping a source state dict onto a target module's state dict."""

    matched: list[tuple[str, str]] = field(default_factory=list)
    unmatched_source: list[str] = field(default_factory=list)
    missing_target: list[str] = field(default_factory=list)
    shape_mismatch: list[tuple[str, str, list[int], list[int]]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.unmatched_source or self.missing_target or self.shape_mismatch)

    def __str__(self) -> str:
        lines = [f"matched {len(self.matched)} tensors"]
        if self.shape_mismatch:
            lines.append("shape mismatches (source -> target: source shape vs target shape):")
            lines += [f"  {s} -> {t}: {ss} vs {ts}" for s, t, ss, ts in self.shape_mismatch]
        if self.unmatched_source:
            lines.append(f"source keys with no target ({len(self.unmatched_source)}): {self.unmatched_source}")
        if self.missing_target:
            lines.append(f"target keys with no source ({len(self.missing_target)}): {self.missing_target}")
        return "\n".join(lines)


Rule = tuple[str, str]  # (regex on the source key, replacement giving the target key)


def extract_state_dict(obj, prefix: str = "model.") -> dict[str, torch.Tensor]:
    """The tensor dict inside an official checkpoint, with ``prefix`` stripped from keys that have it.

    Accepts a Lightning checkpoint (``state_dict``), a diffusion workspace checkpoint (``model``) or a plain dict.
    """
    if isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping):
        obj = obj["state_dict"]
    elif isinstance(obj, Mapping) and isinstance(obj.get("model"), Mapping):
        obj = obj["model"]
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise OfficialImportError("checkpoint does not contain a tensor state dict (looked at state_dict/model)")
    return {(k[len(prefix):] if prefix and k.startswith(prefix) else k): v for k, v in obj.items()}


def map_state_dict(source: Mapping[str, torch.Tensor], target: Mapping[str, torch.Tensor], rules: Sequence[Rule],
                   transforms: Mapping[str, Callable[[Mapping[str, torch.Tensor]], torch.Tensor]] | None = None,
                   ignore_source: Sequence[str] = ()) -> tuple[dict[str, torch.Tensor], MappingReport]:
    """Rename ``source`` keys with ``rules`` (first full-match regex wins) and check them against ``target``.

    Args:
        source: tensors from the official checkpoint (prefix already stripped).
        target: our module's ``state_dict()``.
        rules: ``(pattern, replacement)`` pairs applied with ``re.fullmatch``.
        transforms: ``{target_key: fn(source) -> tensor}`` for targets computed from several source tensors
            (e.g. normalizer scale/offset -> mean/std); their inputs should be listed in ``ignore_source``.
        ignore_source: regexes of source keys that are consumed by transforms or deliberately unused.
    """
    report = MappingReport()
    mapped: dict[str, torch.Tensor] = {}
    for key, value in source.items():
        if any(re.fullmatch(p, key) for p in ignore_source):
            continue
        dst = next((re.sub(p, r, key) for p, r in rules if re.fullmatch(p, key)), None)
        if dst is None or dst not in target:
            report.unmatched_source.append(key)
        elif tuple(value.shape) != tuple(target[dst].shape):
            report.shape_mismatch.append((key, dst, list(value.shape), list(target[dst].shape)))
        else:
            mapped[dst] = value
            report.matched.append((key, dst))
    for dst, fn in (transforms or {}).items():
        try:
            value = fn(source)
        except KeyError as exc:
            report.missing_target.append(f"{dst} (transform input {exc} missing)")
            continue
        if dst not in target or tuple(value.shape) != tuple(target[dst].shape):
            report.shape_mismatch.append((f"<transform {dst}>", dst, list(value.shape),
                                          list(target[dst].shape) if dst in target else []))
        else:
            mapped[dst] = value
            report.matched.append((f"<transform {dst}>", dst))
    report.missing_target += sorted(set(target) - set(mapped) - {s for _, s, _, _ in report.shape_mismatch})
    return mapped, report


def load_mapped(module: torch.nn.Module, source: Mapping[str, torch.Tensor], rules: Sequence[Rule],
                transforms=None, ignore_source: Sequence[str] = (), what: str = "checkpoint") -> MappingReport:
    """Map ``source`` onto ``module`` and load it strictly; raise :class:`OfficialImportError` with the report
    unless every target tensor is matched with the right shape and no source tensor is left over."""
    mapped, report = map_state_dict(source, module.state_dict(), rules, transforms, ignore_source)
    if not report.ok:
        raise OfficialImportError(f"{what} does not map onto {type(module).__name__}; nothing was loaded.\n{report}")
    module.load_state_dict({k: v.to(module.state_dict()[k].dtype) for k, v in mapped.items()}, strict=True)
    return report


# --------------------------------------------------------------------------- official -> our module rule tables
def autoencoder_rules(num_decoder_linears: int) -> list[Rule]:
    """Official ``EncoderDecoder`` -> our :class:`ParamAutoencoder` (one Linear per token each way).

    Only an autoencoder without hidden layers corresponds; the official ``ln_in`` (LayerNorm over the latent)
    and bias-free projections have no counterpart and are reported.
    """
    last = 0 if num_decoder_linears <= 1 else None
    rules = [(r"input_parameter_projections\.(\d+)\.0\.weight", r"encoders.\1.0.weight")]
    if last is not None:
        rules.append((r"output_parameter_projections\.(\d+)\.0\.weight", r"decoders.\1.0.weight"))
    return rules


def embedding_rules() -> tuple[list[Rule], dict, list[str]]:
    """Official behavior ``Embedding`` (+ Lightning ``LinearNormalizer``) -> our :class:`BehaviorEmbedding`.

    ``traj_embed`` (Linear-ReLU-Linear-ReLU-Linear) -> ``h_net``, ``task_embed`` (Linear-LayerNorm-Tanh-Linear) ->
    ``v_net``, ``W`` -> ``W``; the normalizer's ``x * scale + offset`` becomes ``(x - mean) / std`` with
    ``std = 1 / scale``, ``mean = -offset / scale``.
    """
    rules = [(r"traj_embed\.0\.(weight|bias)", r"h_net.0.\1"), (r"traj_embed\.2\.(weight|bias)", r"h_net.3.\1"),
             (r"traj_embed\.4\.(weight|bias)", r"h_net.6.\1"), (r"task_embed\.(0|1|3)\.(weight|bias)", r"v_net.\1.\2"),
             (r"W", "W")]
    norm = "normalizer.params_dict.{}.{}"
    transforms = {
        "h_mean": lambda s: -s[norm.format("traj", "offset")] / s[norm.format("traj", "scale")],
        "h_std": lambda s: 1.0 / s[norm.format("traj", "scale")],
        "v_mean": lambda s: -s[norm.format("task", "offset")] / s[norm.format("task", "scale")],
        "v_std": lambda s: 1.0 / s[norm.format("task", "scale")],
    }
    return rules, transforms, [r"normalizer\..*"]


def official_autoencoder_shapes(layout: PolicyLayout, chunks: Sequence[Sequence[int]], n_embd: int) -> dict:
    """Key -> shape of an official-style ``EncoderDecoder`` for ``layout`` (used to build synthetic test files)."""
    sl = layout.layer_slices()
    sizes = [sl[c[-1]].stop - sl[c[0]].start for c in chunks]
    shapes = {}
    for i, s in enumerate(sizes):
        shapes[f"model.input_parameter_projections.{i}.0.weight"] = (n_embd, s)
        shapes[f"model.output_parameter_projections.{i}.0.weight"] = (s, n_embd)
    shapes["model.ln_in.weight"] = (n_embd,)
    shapes["model.ln_in.bias"] = (n_embd,)
    return shapes


def diffusion_rules() -> list[Rule]:
    """Official ``ConditionalUnet1D`` (diffusion-policy style, ``model-best.torch['model']``) -> our
    :class:`LatentUNet1D`: no correspondence is known (different block structure, conditioning and token/channel
    axes), so every tensor is reported as unmatched and nothing is loaded."""
    return []


def map_official_checkpoints(gen, autoencoder: str | Path | None = None, embedding: str | Path | None = None,
                             diffusion: str | Path | None = None, trust_pickle: bool = False
                             ) -> dict[str, MappingReport]:
    """Map official checkpoints onto a :class:`~maa_generator.generator.Generator`; all-or-nothing.

    Every given file is mapped first; weights are loaded only if *all* of them map completely, otherwise
    :class:`OfficialImportError` lists each report and the generator is left untouched.
    """
    jobs = []
    if autoencoder is not None:
        n_dec = sum(isinstance(m, torch.nn.Linear) for m in gen.autoencoder.decoders[0])
        jobs.append(("autoencoder", gen.autoencoder, autoencoder, autoencoder_rules(n_dec), None, []))
    if embedding is not None:
        rules, transforms, ignore = embedding_rules()
        jobs.append(("embedding", gen.embedding, embedding, rules, transforms, ignore))
    if diffusion is not None:
        jobs.append(("diffusion", gen.diffusion.unet, diffusion, diffusion_rules(), None, []))
    if not jobs:
        raise OfficialImportError("no checkpoint given (autoencoder, embedding and/or diffusion)")
    reports, staged = {}, []
    for name, module, path, rules, transforms, ignore in jobs:
        source = extract_state_dict(torch_load(path, trust_pickle))
        mapped, report = map_state_dict(source, module.state_dict(), rules, transforms, ignore)
        reports[name] = report
        staged.append((module, mapped))
    bad = {k: r for k, r in reports.items() if not r.ok}
    if bad:
        text = "\n".join(f"[{k}] {r}" for k, r in bad.items())
        raise OfficialImportError(f"official checkpoints do not match this model config; nothing was loaded.\n{text}")
    for module, mapped in staged:
        module.load_state_dict(mapped, strict=True)
    if diffusion is not None:
        gen.diffusion.ema.load_state_dict(gen.diffusion.unet.state_dict())
    return reports

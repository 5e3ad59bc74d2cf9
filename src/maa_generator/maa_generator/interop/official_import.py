"""Import the official Make-An-Agent artifacts (dataset ``data.pt`` and checkpoints) into this project's formats.

Official dataset (facts from the released code: ``autoencoder/dataset.py``, ``behavior_embedding/config_embed.yaml``,
``dataset/process_data.py``): a ``torch.save``'d dict per file with

* ``param`` ``[N, 22664]``: flat MetaWorld SAC actor weights (39-128-128-8; the autoencoder splits it as
  ``[5120, 17544]`` = layer 0 | layers 1-2, i.e. per layer weight then bias, the same order as
  :class:`~maa_core.layout.PolicyLayout`);
* ``traj`` ``[N, 1020]``: the trajectory prompt fed to the embedding's trajectory branch (``traj_dim: 1020``);
* ``task`` ``[N, 117]``: the success prompt fed to the "task" branch (``task_dim: 117``).

Interpretation (assumed, documented in ``docs/zoo_format.md``): ``117 = m * obs_dim = 3 * 39`` (the three full
39-d states after the first success), so ``task`` is our ``v``. ``1020 = 60 * 17`` is the first ``n = 60`` steps
with 17 numbers per step; 17 cannot be ``39 + 4`` (obs + action), so the official ``traj`` stores a reduced per-step
record whose exact composition is not stated in the released code. We store it verbatim as ``h`` with prompt kind
``official`` (``h_dim = 1020``, ``v_dim = 117``); it is only usable with an embedding built for those dims.

Checkpoints: with the ``kind: official`` architecture variants (:mod:`maa_generator.interop.official_modules`,
``config/paper_official.yaml``) the official autoencoder Lightning checkpoint, the behavior-embedding Lightning
checkpoint and the diffusion workspace checkpoint (``model-best.torch``) map 1:1 (rule tables
``official_*_rules``; key/shape tables ``official_*_shapes``; facts in ``docs/official_checkpoints.md``).
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

from maa_core.layout import PolicyLayout, metaworld_sac_layout
from maa_generator.data.zoo import ZooWriter, prompt_spec

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


def official_autoencoder_shapes(layout: PolicyLayout, chunks: Sequence[Sequence[int]], n_embd: int,
                                depth: int = 1) -> dict[str, tuple[int, ...]]:
    """Key -> shape of an official ``EncoderDecoder`` Lightning ``state_dict`` for ``layout`` (``model.`` prefix).

    Per token ``i`` with chunk size ``s``: ``input_parameter_projections.i.{0,2,..}.weight`` (``[n_embd, s]``, then
    ``[n_embd, n_embd]``), ``output_parameter_projections.i.{0,2,..}.weight`` (``[n_embd, n_embd]``..., last
    ``[s, n_embd]``), and ``ln_in.{weight,bias}`` ``[n_embd]``. No biases.
    """
    sl = layout.layer_slices()
    sizes = [sl[c[-1]].stop - sl[c[0]].start for c in chunks]
    shapes = {}
    for i, s in enumerate(sizes):
        for j in range(depth):
            shapes[f"model.input_parameter_projections.{i}.{2 * j}.weight"] = (n_embd, s if j == 0 else n_embd)
            last = j == depth - 1
            shapes[f"model.output_parameter_projections.{i}.{2 * j}.weight"] = (s if last else n_embd, n_embd)
    shapes["model.ln_in.weight"] = (n_embd,)
    shapes["model.ln_in.bias"] = (n_embd,)
    return shapes


def _normalizer_shapes(fields: Mapping[str, int]) -> dict[str, tuple[int, ...]]:
    """Official ``LinearNormalizer`` entries: ``normalizer.params_dict.<field>.{scale,offset}`` and
    ``.input_stats.{min,max,mean,std}``, each ``[D]`` (fit with ``last_n_dims=1``)."""
    shapes = {}
    for name, dim in fields.items():
        for leaf in ("scale", "offset", "input_stats.min", "input_stats.max", "input_stats.mean", "input_stats.std"):
            shapes[f"normalizer.params_dict.{name}.{leaf}"] = (dim,)
    return shapes


def official_embedding_shapes(traj_dim: int = OFFICIAL_TRAJ_DIM, task_dim: int = OFFICIAL_TASK_DIM,
                              hidden_size: int = 1024, feature_dim: int = 128, task_hidden: int = 256,
                              param_dim: int = OFFICIAL_PARAM_DIM) -> dict[str, tuple[int, ...]]:
    """Key -> shape of the official behavior-embedding Lightning ``state_dict``.

    ``model.traj_embed.{0,2,4}`` (Linear ``traj_dim -> hidden -> hidden -> feature``, ReLU between),
    ``model.task_embed.{0,1,3}`` (Linear ``task_dim -> 256``, LayerNorm 256, Tanh, Linear ``256 -> feature``),
    ``model.W`` ``[feature, feature]`` and the normalizer entries ``param``/``traj``/``task``.
    """
    shapes: dict[str, tuple[int, ...]] = {}
    dims = [traj_dim, hidden_size, hidden_size, feature_dim]
    for j in range(3):
        shapes[f"model.traj_embed.{2 * j}.weight"] = (dims[j + 1], dims[j])
        shapes[f"model.traj_embed.{2 * j}.bias"] = (dims[j + 1],)
    shapes.update({"model.task_embed.0.weight": (task_hidden, task_dim), "model.task_embed.0.bias": (task_hidden,),
                   "model.task_embed.1.weight": (task_hidden,), "model.task_embed.1.bias": (task_hidden,),
                   "model.task_embed.3.weight": (feature_dim, task_hidden), "model.task_embed.3.bias": (feature_dim,),
                   "model.W": (feature_dim, feature_dim)})
    shapes.update(_normalizer_shapes({"param": param_dim, "traj": traj_dim, "task": task_dim}))
    return shapes


def _res_block_shapes(prefix: str, cin: int, cout: int, cond_dim: int, k: int) -> dict[str, tuple[int, ...]]:
    shapes = {}
    for b, c in ((0, cin), (1, cout)):
        shapes[f"{prefix}.blocks.{b}.block.0.weight"] = (cout, c, k)
        for leaf in ("block.0.bias", "block.1.weight", "block.1.bias"):
            shapes[f"{prefix}.blocks.{b}.{leaf}"] = (cout,)
    shapes[f"{prefix}.cond_encoder.1.weight"] = (2 * cout, cond_dim)
    shapes[f"{prefix}.cond_encoder.1.bias"] = (2 * cout,)
    if cin != cout:
        shapes[f"{prefix}.residual_conv.weight"] = (cout, cin, 1)
        shapes[f"{prefix}.residual_conv.bias"] = (cout,)
    return shapes


def official_unet_shapes(input_dim: int = 1024, global_cond_dim: int = 256,
                         down_dims: Sequence[int] = (512, 1024, 2048), kernel_size: int = 3,
                         step_embed_dim: int = 128) -> dict[str, tuple[int, ...]]:
    """Key -> shape of ``model-best.torch['model']`` (``PolicyGenerator.state_dict()``): the ``ConditionalUnet1D``
    under ``model.`` (film conditioning, two residual blocks per level/mid) plus the normalizer entries
    ``param`` ``[input_dim]``, ``traj`` and ``task`` ``[global_cond_dim / 2]``."""
    d, k = step_embed_dim, kernel_size
    cond = d + global_cond_dim
    shapes: dict[str, tuple[int, ...]] = {
        "model.diffusion_step_encoder.1.weight": (4 * d, d), "model.diffusion_step_encoder.1.bias": (4 * d,),
        "model.diffusion_step_encoder.3.weight": (d, 4 * d), "model.diffusion_step_encoder.3.bias": (d,)}
    dims = [input_dim, *down_dims]
    in_out = list(zip(dims[:-1], dims[1:]))
    for i, (cin, cout) in enumerate(in_out):
        shapes.update(_res_block_shapes(f"model.down_modules.{i}.0", cin, cout, cond, k))
        shapes.update(_res_block_shapes(f"model.down_modules.{i}.1", cout, cout, cond, k))
        if i < len(in_out) - 1:
            shapes[f"model.down_modules.{i}.2.conv.weight"] = (cout, cout, 2)
            shapes[f"model.down_modules.{i}.2.conv.bias"] = (cout,)
    for j in range(2):
        shapes.update(_res_block_shapes(f"model.mid_modules.{j}", dims[-1], dims[-1], cond, k))
    for i, (cin, cout) in enumerate(reversed(in_out[1:])):
        shapes.update(_res_block_shapes(f"model.up_modules.{i}.0", 2 * cout, cin, cond, k))
        shapes.update(_res_block_shapes(f"model.up_modules.{i}.1", cin, cin, cond, k))
        shapes[f"model.up_modules.{i}.2.conv.weight"] = (cin, cin, 2)  # ConvTranspose1d: [in, out, k]
        shapes[f"model.up_modules.{i}.2.conv.bias"] = (cin,)
    d0 = down_dims[0]
    shapes.update({"model.final_conv.0.block.0.weight": (d0, d0, k), "model.final_conv.0.block.0.bias": (d0,),
                   "model.final_conv.0.block.1.weight": (d0,), "model.final_conv.0.block.1.bias": (d0,),
                   "model.final_conv.1.weight": (input_dim, d0, 1), "model.final_conv.1.bias": (input_dim,)})
    half = global_cond_dim // 2
    shapes.update(_normalizer_shapes({"param": input_dim, "traj": half, "task": half}))
    return shapes


_STATS = r"normalizer\.params_dict\.\w+\.input_stats\..*"


def official_autoencoder_rules() -> list[Rule]:
    """Official ``EncoderDecoder`` -> :class:`OfficialParamAutoencoder`: identical
    key names (``input_parameter_projections``, ``output_parameter_projections``, ``ln_in``)."""
    return [(r"(input|output)_parameter_projections\.\d+\.\d+\.weight", r"\g<0>"), (r"ln_in\.(weight|bias)", r"\g<0>")]


def official_embedding_rules() -> tuple[list[Rule], dict, list[str]]:
    """Official ``Embedding`` + normalizer -> :class:`OfficialBehaviorEmbedding`:
    ``traj_embed.i`` -> ``h_net.i``, ``task_embed.i`` -> ``v_net.i``, ``W``, the traj/task ``scale``/``offset`` ->
    ``h_``/``v_scale``/``offset`` (1:1, no transform). The ``param`` normalizer and ``input_stats`` are unused."""
    rules = [(r"traj_embed\.(\d+)\.(weight|bias)", r"h_net.\1.\2"),
             (r"task_embed\.(\d+)\.(weight|bias)", r"v_net.\1.\2"),
             (r"W", "W"), (r"normalizer\.params_dict\.traj\.(scale|offset)", r"h_\1"),
             (r"normalizer\.params_dict\.task\.(scale|offset)", r"v_\1")]
    return rules, {}, [r"normalizer\.params_dict\.param\..*", _STATS]


def official_diffusion_rules() -> tuple[list[Rule], list[str]]:
    """``model-best.torch['model']`` -> :class:`~maa_generator.interop.official_modules.OfficialLatentDiffusion`:
    ``model.<unet key>`` -> ``unet.<same key>``; normalizer ``param``/``traj``/``task`` ``scale``/``offset`` ->
    ``<field>_<leaf>`` buffers (1:1); ``input_stats`` unused. The EMA copy is filled from the mapped UNet."""
    rules = [(r"(diffusion_step_encoder|down_modules|mid_modules|up_modules|final_conv)\..*", r"unet.\g<0>"),
             (r"normalizer\.params_dict\.(param|traj|task)\.(scale|offset)", r"\1_\2")]
    return rules, [_STATS]


def diffusion_rules() -> list[Rule]:
    """Official ``ConditionalUnet1D`` -> our default :class:`LatentUNet1D` (``diffusion.kind: maa``): no
    correspondence (different block structure and conditioning), so every tensor is reported as unmatched; use
    ``diffusion.kind: official`` (``config/paper_official.yaml``)."""
    return []


def _diffusion_source(obj) -> dict[str, torch.Tensor]:
    """Tensors of a diffusion workspace checkpoint; the top-level ``normalizer`` entry is used when the model
    state has no ``normalizer.`` keys."""
    source = extract_state_dict(obj)
    if not any(k.startswith("normalizer.") for k in source) and isinstance(obj, Mapping) \
            and isinstance(obj.get("normalizer"), Mapping):
        source.update({f"normalizer.{k}": v for k, v in obj["normalizer"].items() if isinstance(v, torch.Tensor)})
    return source


def _jobs(gen, autoencoder, embedding, diffusion) -> list[tuple]:
    """``(name, module, path, rules, transforms, ignore, target state)`` per given checkpoint."""
    cfg, jobs = gen.config, []
    if autoencoder is not None:
        if cfg.autoencoder.kind == "official":
            rules = official_autoencoder_rules()
        else:
            rules = autoencoder_rules(sum(isinstance(m, torch.nn.Linear) for m in gen.autoencoder.decoders[0]))
        jobs.append(("autoencoder", gen.autoencoder, autoencoder, rules, None, [], gen.autoencoder.state_dict()))
    if embedding is not None:
        rules, transforms, ignore = (official_embedding_rules() if cfg.embedding.kind == "official"
                                     else embedding_rules())
        jobs.append(("embedding", gen.embedding, embedding, rules, transforms, ignore, gen.embedding.state_dict()))
    if diffusion is not None:
        rules, ignore = official_diffusion_rules() if cfg.diffusion.kind == "official" else (diffusion_rules(), [])
        target = {k: v for k, v in gen.diffusion.state_dict().items()
                  if not k.startswith("ema.") and k != "ema_updates"}
        jobs.append(("diffusion", gen.diffusion, diffusion, rules, None, ignore, target))
    return jobs


def map_official_checkpoints(gen, autoencoder: str | Path | None = None, embedding: str | Path | None = None,
                             diffusion: str | Path | None = None, trust_pickle: bool = False
                             ) -> dict[str, MappingReport]:
    """Map official checkpoints onto a :class:`~maa_generator.models.generator.Generator`; all-or-nothing.

    The rules follow each stage's ``kind`` (``official``: 1:1 key mapping, see ``docs/official_checkpoints.md``).
    Every given file is mapped first; weights are loaded only if *all* of them map completely, otherwise
    :class:`OfficialImportError` lists each report and the generator is left untouched. The diffusion UNet
    weights also replace the EMA copy (the official workspace saves the non-EMA model).
    """
    jobs = _jobs(gen, autoencoder, embedding, diffusion)
    if not jobs:
        raise OfficialImportError("no checkpoint given (autoencoder, embedding and/or diffusion)")
    reports, staged = {}, []
    for name, module, path, rules, transforms, ignore, target in jobs:
        obj = torch_load(path, trust_pickle)
        source = _diffusion_source(obj) if name == "diffusion" else extract_state_dict(obj)
        mapped, report = map_state_dict(source, target, rules, transforms, ignore)
        reports[name] = report
        staged.append((name, module, mapped))
    bad = {k: r for k, r in reports.items() if not r.ok}
    if bad:
        text = "\n".join(f"[{k}] {r}" for k, r in bad.items())
        raise OfficialImportError(f"official checkpoints do not match this model config; nothing was loaded.\n{text}")
    for name, module, mapped in staged:
        full = module.state_dict()
        full.update({k: v.to(full[k].dtype) for k, v in mapped.items()})
        if name == "diffusion":
            full.update({f"ema.{k[len('unet.'):]}": v for k, v in full.items() if k.startswith("unet.")})
        module.load_state_dict(full, strict=True)
    return reports

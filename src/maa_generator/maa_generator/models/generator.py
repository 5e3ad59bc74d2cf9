"""The policy generator: behavior demonstration -> policy network weights.

``Generator`` bundles the policy layout, :class:`ParamAutoencoder`, :class:`BehaviorEmbedding` and
:class:`LatentDiffusion`::

    gen = Generator.load("runs/metaworld/generator")
    policies = gen.generate(trajectory, num_candidates=10, seed=0)
    action = policies[0].layout.forward_numpy(policies[0].flat, obs)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from maa_core.config import ConfigError
from maa_core.layout import LayoutError, PolicyLayout
from maa_core.prompt import PromptError, Trajectory, make_prompt, prompt_dims
from maa_generator.data.checkpoint import CheckpointError, load_checkpoint, load_state, read_metadata, save_checkpoint
from maa_generator.data.novelty import NoveltyReference
from maa_generator.interop.official_modules import (
    OfficialBehaviorEmbedding,
    OfficialLatentDiffusion,
    OfficialParamAutoencoder,
)
from maa_generator.models.autoencoder import ParamAutoencoder
from maa_generator.models.config import ModelConfig
from maa_generator.models.diffusion import LatentDiffusion
from maa_generator.models.embedding import BehaviorEmbedding

CHECKPOINT_KIND = "maa_generator"
#: state keys that a generation-only bundle leaves out (:meth:`Generator.save`)
GENERATION_ONLY_OMITS = ("autoencoder.encoders.", "diffusion.unet.")
UNSAVED_ID = "unsaved"
#: domain of generators saved before ``extra.domain`` was recorded, by the layout name of their policies
LAYOUT_DOMAINS = {"go2_wtw_actor": "go2", "metaworld_sac": "metaworld", "robosuite_sac": "robosuite"}


def checkpoint_domain(meta: dict) -> str:
    """The domain of a generator checkpoint, from its ``config.json`` (as parsed by ``read_metadata``).

    ``extra.domain`` when recorded (training writes the zoo's ``domain``); otherwise, for checkpoints written before
    it was recorded, derived from the policy layout's name via :data:`LAYOUT_DOMAINS` (e.g. the bundled
    ``models/go2/generator``: ``go2_wtw_actor`` -> ``go2``); ``""`` when neither says.
    """
    domain = (meta.get("extra") or {}).get("domain")
    if isinstance(domain, str) and domain:
        return domain
    return LAYOUT_DOMAINS.get(str((meta.get("layout") or {}).get("name", "")), "")


@dataclass
class GeneratedPolicy:
    """One generated policy: ``flat`` float32 ``[P]`` in ``layout``'s flat order."""

    layout: PolicyLayout
    flat: np.ndarray
    prompt_index: int
    candidate_index: int
    seed: int
    prompt_novelty: float | None = None  # see maa_generator.data.novelty (~1 in distribution); None: model has no bank


class Generator(nn.Module):
    """Layout + autoencoder + behavior embedding + latent diffusion.

    Attributes:
        layout: the generated policies' :class:`PolicyLayout`.
        config: the :class:`ModelConfig` it was built with.
        autoencoder, embedding, diffusion: the three stages.
        generator_id: ``"<checkpoint dir name>@<first 12 hex of the sha256 of model.safetensors>"`` for a loaded
            generator (names the model and the exact weights in every published policy); ``"unsaved"`` otherwise.
        domain: the domain of the zoo it was trained on (``"go2"``, ``"metaworld"``, ...; see
            :func:`checkpoint_domain`); ``""`` when unknown.
    """

    def __init__(
        self,
        layout: PolicyLayout,
        config: ModelConfig,
        autoencoder: ParamAutoencoder,
        embedding: BehaviorEmbedding,
        diffusion: LatentDiffusion,
    ):
        super().__init__()
        self.layout = layout
        self.config = config
        self.autoencoder = autoencoder
        self.embedding = embedding
        self.diffusion = diffusion
        self.novelty: NoveltyReference | None = None  # bank of training conditions (maa_generator.data.novelty)
        self.generator_id = UNSAVED_ID
        self.domain = ""
        self.generation_only = False  # loaded from a bundle without encoders / diffusion training copy

    # ------------------------------------------------------------------ construction
    @classmethod
    def build(cls, layout: PolicyLayout, config: ModelConfig) -> Generator:
        """Randomly initialized generator for ``layout`` (trajectory dims default to the layout's)."""
        official = {"autoencoder": config.autoencoder.kind == "official", "embedding":
                    config.embedding.kind == "official", "diffusion": config.diffusion.kind == "official"}
        ae = (OfficialParamAutoencoder if official["autoencoder"] else ParamAutoencoder)(layout, config.autoencoder)
        ecfg = config.embedding
        emb_cls = OfficialBehaviorEmbedding if official["embedding"] else BehaviorEmbedding
        emb = emb_cls(ecfg.obs_dim or layout.obs_dim, ecfg.act_dim or layout.action_dim, ecfg)
        diff_cls = OfficialLatentDiffusion if official["diffusion"] else LatentDiffusion
        diff = diff_cls(ae.latent_shape, emb.cond_dim, config.diffusion)
        return cls(layout, config, ae, emb, diff).eval()

    def stages(self) -> dict[str, nn.Module]:
        return {"autoencoder": self.autoencoder, "embedding": self.embedding, "diffusion": self.diffusion}

    def save(self, path: str | Path, extra: dict | None = None, half_autoencoder: bool = False,
             generation_only: bool = False) -> Path:
        """Write ``model.safetensors`` + ``config.json`` (+ ``novelty.safetensors`` when set) to directory ``path``.

        ``config.json``'s ``extra`` records ``kind`` and, when set, ``domain`` (``extra`` may override both).
        ``half_autoencoder`` stores the autoencoder's weight matrices (its bulk) as float16 for a small bundle; they
        load back as float32. Normalization buffers, biases and the other stages stay float32.
        ``generation_only`` leaves out what generating never uses: the autoencoder's encoders (about half of it) and
        the diffusion model's training copy (sampling uses the EMA copy). Such a bundle generates exactly what the
        full model does but cannot be trained or encode policies (``extra.generation_only`` records it)."""
        if generation_only and not isinstance(self.autoencoder, ParamAutoencoder):
            raise CheckpointError(f"generation_only: needs a 'maa' autoencoder, this one is "
                                  f"{type(self.autoencoder).__name__}")
        meta = {"kind": CHECKPOINT_KIND, **({"domain": self.domain} if self.domain else {}), **(extra or {}),
                **({"generation_only": True} if generation_only or self.generation_only else {})}
        half = (lambda key, value: key.startswith("autoencoder.") and key.endswith(".weight") and value.ndim == 2
                ) if half_autoencoder else None
        skip = (lambda key: key.startswith(GENERATION_ONLY_OMITS)) if generation_only else None
        out = save_checkpoint(path, self.stages(), self.config.to_dict(), meta, layout=self.layout.to_dict(),
                              half=half, skip=skip)
        if self.novelty is not None:
            self.novelty.save(out)
        return out

    @classmethod
    def load(cls, path: str | Path, map_location: str | torch.device = "cpu") -> Generator:
        """Load a generator saved by :meth:`save` (verifies checksum, format version, keys and shapes)."""
        meta = read_metadata(path)
        if meta.get("layout") is None:
            raise CheckpointError(f"{path}: checkpoint has no policy layout; not a generator checkpoint")
        try:
            layout = PolicyLayout.from_dict(meta["layout"])
            config = ModelConfig.from_mapping(meta["config"])
        except (LayoutError, ConfigError) as exc:
            raise CheckpointError(f"{path}: invalid generator metadata: {exc}") from None
        ckpt = load_checkpoint(path)
        with torch.device("meta"):  # no random init: every tensor comes from the checkpoint
            gen = cls.build(layout, config)
        if (meta.get("extra") or {}).get("generation_only"):
            gen.autoencoder.encoders = None  # not in the bundle: encode() and loss() say so
            gen.diffusion.unet = None
            gen.generation_only = True
        load_state(gen.stages(), ckpt.state, str(path), assign=True)
        gen.diffusion.ema.requires_grad_(False)
        gen.generator_id = f"{Path(path).resolve().name}@{str(meta['sha256'])[:12]}"  # sha256 verified by the load
        gen.domain = checkpoint_domain(meta)
        gen.novelty = NoveltyReference.load(path)
        if gen.novelty is not None and gen.novelty.cond_dim != gen.embedding.cond_dim:
            raise CheckpointError(f"{path}: novelty bank has condition width {gen.novelty.cond_dim}, the embedding "
                                  f"{gen.embedding.cond_dim}")
        return gen.to(map_location).eval()

    # ------------------------------------------------------------------ prompts
    def check_trajectory(self, traj: Trajectory, index: int = 0) -> None:
        """Raise :class:`PromptError` if ``traj`` does not fit this model (dims, NaN)."""
        if not isinstance(traj, Trajectory):
            raise PromptError(
                f"trajectory {index}: expected a maa_core.prompt.Trajectory, got {type(traj).__name__}"
            )
        emb = self.embedding
        ecfg = self.config.embedding
        if (emb.h_dim, emb.v_dim) != prompt_dims(emb.obs_dim, emb.act_dim, ecfg.n_steps, ecfg.m_states):
            raise PromptError(
                f"this model takes prompts of h_dim {emb.h_dim} / v_dim {emb.v_dim} (embedding.h_dim/v_dim "
                f"overrides, e.g. the official data format), which cannot be built from a raw trajectory; "
                f"pass prompts to generate_from_prompts()"
            )
        if traj.obs.ndim != 2 or traj.obs.shape[1] != emb.obs_dim:
            raise PromptError(
                f"trajectory {index}: expected obs_dim {emb.obs_dim} (layout {self.layout.name}), got "
                f"obs of shape {list(traj.obs.shape)}"
            )
        if traj.act.ndim != 2 or traj.act.shape[1] != emb.act_dim:
            raise PromptError(
                f"trajectory {index}: expected act_dim {emb.act_dim} (layout {self.layout.name}), got "
                f"act of shape {list(traj.act.shape)}"
            )
        if not (np.all(np.isfinite(traj.obs)) and np.all(np.isfinite(traj.act))):
            raise PromptError(f"trajectory {index}: contains non-finite values (NaN/inf)")
        if self.config.embedding.segments > traj.length:
            raise PromptError(
                f"trajectory {index}: {traj.length} steps is fewer than the "
                f"{self.config.embedding.segments} prompt segments"
            )

    def prompts(self, trajectories: Sequence[Trajectory]) -> tuple[torch.Tensor, torch.Tensor]:
        """Validated prompts ``h`` ``[B(, S), Dh]`` and ``v`` ``[B(, S), Dv]`` as float32 tensors."""
        ecfg = self.config.embedding
        hs, vs = [], []
        for i, traj in enumerate(trajectories):
            self.check_trajectory(traj, i)
            h, v = make_prompt(traj, ecfg.n_steps, ecfg.m_states, ecfg.segments)
            hs.append(h)
            vs.append(v)
        return torch.from_numpy(np.stack(hs)), torch.from_numpy(np.stack(vs))

    # ------------------------------------------------------------------ generation
    def generate(
        self, trajectories: Trajectory | Sequence[Trajectory], num_candidates: int = 1, seed: int = 0,
        guidance_scale: float | None = None,
    ) -> list[GeneratedPolicy]:
        """Generate ``num_candidates`` policies per trajectory, all ``B * K`` sampled in one batch.

        Args:
            trajectories: one :class:`Trajectory` or a list of ``B``.
            num_candidates: ``K`` >= 1 candidates per trajectory.
            seed: seeds the diffusion noise; the same inputs and seed give bitwise-identical weights.
            guidance_scale: classifier-free guidance weight (default: the model's ``diffusion.guidance_scale``).
        Returns:
            ``B * K`` :class:`GeneratedPolicy`, prompt-major.
        """
        trajs = [trajectories] if isinstance(trajectories, Trajectory) else list(trajectories)
        if not trajs:
            raise PromptError("generate() needs at least one trajectory, got none")
        if not isinstance(num_candidates, int) or num_candidates < 1:
            raise ValueError(f"num_candidates must be an int >= 1, got {num_candidates!r}")
        h, v = self.prompts(trajs)
        return self.generate_from_prompts(h, v, num_candidates, seed, guidance_scale)

    def generate_from_prompts(
        self, h: torch.Tensor | np.ndarray, v: torch.Tensor | np.ndarray, num_candidates: int = 1, seed: int = 0,
        guidance_scale: float | None = None,
    ) -> list[GeneratedPolicy]:
        """Generate from prompts ``h`` ``[B(, S), Dh]`` and ``v`` ``[B(, S), Dv]`` (e.g. the ``traj``/``task``
        rows of an official ``data.pt``); otherwise as :meth:`generate`."""
        h, v = torch.as_tensor(h, dtype=torch.float32), torch.as_tensor(v, dtype=torch.float32)
        if h.ndim not in (2, 3) or h.shape[0] < 1:
            raise PromptError(f"expected prompts h of shape [B, {self.embedding.h_dim}] with B >= 1, "
                              f"got {list(h.shape)}")
        if not isinstance(num_candidates, int) or num_candidates < 1:
            raise ValueError(f"num_candidates must be an int >= 1, got {num_candidates!r}")
        n_prompts = h.shape[0]
        was_training = self.training
        self.eval()
        try:
            with torch.inference_mode():
                device = self.diffusion.ema_updates.device
                cond = self.embedding.embed(h.to(device), v.to(device))
                novelty = self.novelty.score(cond).tolist() if self.novelty is not None else [None] * n_prompts
                latents = self.diffusion.sample(cond, num_candidates, seed, guidance_scale=guidance_scale)
                flat = self.autoencoder.decode(latents).float().cpu().numpy()
        finally:
            self.train(was_training)
        bad = ~np.isfinite(flat)
        if bad.any():
            raise FloatingPointError(
                f"generated parameters contain {int(bad.sum())} non-finite values; the "
                "checkpoint may be untrained or corrupt"
            )
        return [
            GeneratedPolicy(
                layout=self.layout, flat=flat[b * num_candidates + k], prompt_index=b, candidate_index=k, seed=seed,
                prompt_novelty=novelty[b],
            )
            for b in range(n_prompts)
            for k in range(num_candidates)
        ]

    def num_params(self) -> dict[str, int]:
        """Trainable parameter counts per stage (the diffusion count excludes its EMA copy)."""
        return {
            "autoencoder": sum(p.numel() for p in self.autoencoder.parameters()),
            "embedding": sum(p.numel() for p in self.embedding.parameters()),
            "diffusion": sum(p.numel() for p in (self.diffusion.unet or self.diffusion.ema).parameters()),
        }

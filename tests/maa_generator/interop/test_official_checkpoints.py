"""Official-compatible variants (``kind: official``): synthetic official-shaped checkpoints (key names/shapes from
docs/official_checkpoints.md) load 1:1, generation runs, mismatches refuse with the report, official zoos train."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml

from maa_core.config import ConfigError, from_dict
from maa_core.layout import PolicyLayout, metaworld_sac_layout
from maa_core.prompt import PromptError, Trajectory
from maa_generator.interop.official_import import (
    OfficialImportError,
    extract_state_dict,
    import_official_data,
    map_official_checkpoints,
    map_state_dict,
    official_autoencoder_rules,
    official_autoencoder_shapes,
    official_diffusion_rules,
    official_embedding_rules,
    official_embedding_shapes,
    official_unet_shapes,
)
from maa_generator.interop.official_modules import OfficialLatentDiffusion, OfficialParamAutoencoder
from maa_generator.models.config import ModelConfig
from maa_generator.models.diffusion import DiffusionError
from maa_generator.models.generator import Generator
from maa_generator.training.trainer import RunConfig, run_training

ROOT = Path(__file__).resolve().parents[3]
# small official-architecture sizes on the real MetaWorld layout (the CLI always uses metaworld_sac_layout)
SMALL = {
    "autoencoder": {"kind": "official", "chunks": [[0], [1, 2]], "latent_channels": 16},
    "embedding": {
        "kind": "official",
        "h_dim": 1020,
        "v_dim": 117,
        "hidden": [32, 32],
        "v_hidden": [16],
        "out_dim": 8,
        "embed_normalized": False,
    },
    "diffusion": {
        "kind": "official",
        "down_dims": [16, 32, 64],
        "kernel_size": 3,
        "n_groups": 8,
        "blocks_per_level": 2,
        "time_embed_dim": 16,
        "inference_steps": 4,
    },
}
UNET = {"input_dim": 16, "global_cond_dim": 16, "down_dims": (16, 32, 64), "kernel_size": 3, "step_embed_dim": 16}


def _random(shapes: dict, seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    out = {}
    for k, s in shapes.items():
        positive = k.endswith(".scale") or k.endswith("input_stats.std")
        out[k] = torch.rand(s, generator=g) + 0.5 if positive else 0.2 * torch.randn(s, generator=g)
    return out


def _official_files(tmp: Path, unet_kwargs: dict | None = None) -> tuple[dict, dict, dict, dict[str, Path]]:
    ae = _random(official_autoencoder_shapes(metaworld_sac_layout(), [[0], [1, 2]], 16), 1)
    emb = _random(official_embedding_shapes(hidden_size=32, feature_dim=8, task_hidden=16), 2)
    diff = _random(official_unet_shapes(**(unet_kwargs or UNET)), 3)
    paths = {
        "autoencoder": tmp / "autoencoder.ckpt",
        "embedding": tmp / "behavior_embedding.ckpt",
        "diffusion": tmp / "model-best.torch",
    }
    torch.save({"state_dict": ae, "epoch": 7, "global_step": 70}, paths["autoencoder"])  # Lightning layout
    torch.save({"state_dict": emb, "epoch": 3}, paths["embedding"])
    norm = {k[len("normalizer.") :]: v for k, v in diff.items() if k.startswith("normalizer.")}
    torch.save(
        {"model": diff, "optimizer": {"state": {}, "param_groups": []}, "normalizer": norm}, paths["diffusion"]
    )  # diffusion workspace layout
    return ae, emb, diff, paths


def _expected_targets(key: str) -> list[str]:
    """Where each official tensor must land in the Generator state dict (the documented 1:1 correspondence)."""
    stage, _, rest = key.partition(":")
    if stage == "autoencoder":
        return [f"autoencoder.{rest.removeprefix('model.')}"]
    if stage == "embedding":
        rest = rest.removeprefix("model.")
        for src, dst in (
            ("traj_embed.", "h_net."),
            ("task_embed.", "v_net."),
            ("normalizer.params_dict.traj.", "h_"),
            ("normalizer.params_dict.task.", "v_"),
        ):
            if rest.startswith(src):
                return [f"embedding.{dst}{rest[len(src) :]}"]
        return [f"embedding.{rest}"]
    if rest.startswith("normalizer.params_dict."):
        field, leaf = rest.split(".")[2:4]
        return [f"diffusion.{field}_{leaf}"]
    rest = rest.removeprefix("model.")
    return [f"diffusion.unet.{rest}", f"diffusion.ema.{rest}"]


def _used(key: str) -> bool:
    """Official tensors with a target (input_stats and the embedding's parameter normalizer are unused)."""
    return "input_stats" not in key and not (key.startswith("embedding:") and "params_dict.param." in key)


def test_real_size_official_shapes_map_completely_on_paper_official():
    """The full-size official key/shape tables map 1:1 onto config/paper_official.yaml (meta tensors, no memory)."""
    cfg = ModelConfig.from_yaml(ROOT / "config" / "paper_official.yaml")
    with torch.device("meta"):
        gen = Generator.build(metaworld_sac_layout(), cfg)
    ae_src = official_autoencoder_shapes(metaworld_sac_layout(), [[0], [1, 2]], 1024)
    jobs = [
        (ae_src, gen.autoencoder.state_dict(), official_autoencoder_rules(), []),
        (official_embedding_shapes(), gen.embedding.state_dict(), *official_embedding_rules()[::2]),
        (
            official_unet_shapes(),
            {k: v for k, v in gen.diffusion.state_dict().items() if not k.startswith("ema")},
            *official_diffusion_rules(),
        ),
    ]
    for shapes, target, rules, ignore in jobs:
        source = extract_state_dict({k: torch.empty(s, device="meta") for k, s in shapes.items()})
        _, report = map_state_dict(source, target, rules, ignore_source=ignore)
        assert report.ok, str(report)
    counts = gen.num_params()
    assert counts["autoencoder"] == 2 * 22664 * 1024 + 2 * 1024 == sum(math.prod(s) for s in ae_src.values())
    assert counts["embedding"] == 2306304
    unet = official_unet_shapes()
    assert counts["diffusion"] == 163048576 == sum(math.prod(s) for k, s in unet.items() if k.startswith("model."))


def test_synthetic_official_checkpoints_import_cli_and_generate(tmp_path):
    ae, emb, diff, paths = _official_files(tmp_path)
    cfg_path = tmp_path / "official_small.yaml"
    cfg_path.write_text(yaml.safe_dump(SMALL))
    out = tmp_path / "gen"
    res = subprocess.run(
        [
            sys.executable,
            str(ROOT / "training" / "import_official.py"),
            "checkpoints",
            "--config",
            str(cfg_path),
            "--out",
            str(out),
            "--autoencoder",
            str(paths["autoencoder"]),
            "--embedding",
            str(paths["embedding"]),
            "--diffusion",
            str(paths["diffusion"]),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert f"[autoencoder] matched {len(ae)} tensors" in res.stdout
    gen = Generator.load(out)
    state = gen.state_dict()
    covered = set()
    for stage, src in (("autoencoder", ae), ("embedding", emb), ("diffusion", diff)):
        for key, value in src.items():
            if not _used(f"{stage}:{key}"):
                continue
            for dst in _expected_targets(f"{stage}:{key}"):
                assert torch.equal(state[dst], value), dst  # exact, no transform
                covered.add(dst)
    assert set(state) - covered == {"diffusion.ema_updates"}  # every tensor came from the official files

    # forward semantics follow the official formulas
    x = torch.randn(3, 22664)
    lat = gen.autoencoder.encode(x)
    w0, w1 = ae["model.input_parameter_projections.0.0.weight"], ae["model.input_parameter_projections.1.0.weight"]
    tokens = torch.stack([x[:, :5120] @ w0.T, x[:, 5120:] @ w1.T], dim=1)
    ref = F.layer_norm(tokens, (16,), ae["model.ln_in.weight"], ae["model.ln_in.bias"])
    torch.testing.assert_close(lat, ref)
    dec = torch.cat(
        [
            lat[:, 0] @ ae["model.output_parameter_projections.0.0.weight"].T,
            lat[:, 1] @ ae["model.output_parameter_projections.1.0.weight"].T,
        ],
        dim=1,
    )
    torch.testing.assert_close(gen.autoencoder.decode(lat), dec)
    h, v = torch.randn(2, 1020), torch.randn(2, 117)
    he = F.linear(
        F.relu(
            F.linear(
                F.relu(F.linear(h, emb["model.traj_embed.0.weight"], emb["model.traj_embed.0.bias"])),
                emb["model.traj_embed.2.weight"],
                emb["model.traj_embed.2.bias"],
            )
        ),
        emb["model.traj_embed.4.weight"],
        emb["model.traj_embed.4.bias"],
    )
    torch.testing.assert_close(gen.embedding.embed(h, v)[:, :8], he)  # raw prompts (embed_normalized: false)
    z = torch.randn(4, 2, 16)
    scale, offset = diff["normalizer.params_dict.param.scale"], diff["normalizer.params_dict.param.offset"]
    torch.testing.assert_close(gen.diffusion.denormalize(z), (z - offset) / scale)

    pols = gen.generate_from_prompts(h.numpy(), v.numpy(), num_candidates=3, seed=5)
    assert len(pols) == 6 and all(p.flat.shape == (22664,) and np.isfinite(p.flat).all() for p in pols)
    again = gen.generate_from_prompts(h, v, num_candidates=3, seed=5)
    assert all(np.array_equal(a.flat, b.flat) for a, b in zip(pols, again))
    with pytest.raises(PromptError, match="generate_from_prompts"):
        gen.generate(Trajectory(np.zeros((70, 39)), np.zeros((70, 4)), np.zeros(70, bool)))


def _reference_unet(p: dict, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor, levels: int = 3) -> torch.Tensor:
    """The official ConditionalUnet1D forward (film), written functionally from the documented keys."""
    p = {k.removeprefix("model."): v for k, v in p.items()}

    def block(h, pre):
        w = p[f"{pre}.block.0.weight"]
        h = F.conv1d(h, w, p[f"{pre}.block.0.bias"], padding=w.shape[-1] // 2)
        return F.mish(F.group_norm(h, 8, p[f"{pre}.block.1.weight"], p[f"{pre}.block.1.bias"]))

    def res(h, g, pre):
        out = block(h, f"{pre}.blocks.0")
        e = F.linear(F.mish(g), p[f"{pre}.cond_encoder.1.weight"], p[f"{pre}.cond_encoder.1.bias"])
        c = out.shape[1]
        out = block(e[:, :c, None] * out + e[:, c:, None], f"{pre}.blocks.1")
        skip = (
            F.conv1d(h, p[f"{pre}.residual_conv.weight"], p[f"{pre}.residual_conv.bias"])
            if f"{pre}.residual_conv.weight" in p
            else h
        )
        return out + skip

    half = p["diffusion_step_encoder.1.weight"].shape[1] // 2
    freqs = torch.exp(torch.arange(half) * -(math.log(10000) / (half - 1)))
    temb = torch.cat([(t[:, None] * freqs).sin(), (t[:, None] * freqs).cos()], dim=-1)
    temb = F.linear(
        F.mish(F.linear(temb, p["diffusion_step_encoder.1.weight"], p["diffusion_step_encoder.1.bias"])),
        p["diffusion_step_encoder.3.weight"],
        p["diffusion_step_encoder.3.bias"],
    )
    g = torch.cat([temb, cond], dim=-1)
    h, skips = x.transpose(1, 2), []
    for i in range(levels):
        h = res(res(h, g, f"down_modules.{i}.0"), g, f"down_modules.{i}.1")
        skips.append(h)
        if i < levels - 1:
            h = F.conv1d(h, p[f"down_modules.{i}.2.conv.weight"], p[f"down_modules.{i}.2.conv.bias"], 2, 1)
    h = res(res(h, g, "mid_modules.0"), g, "mid_modules.1")
    for i in range(levels - 1):
        h = torch.cat([h, skips.pop()], dim=1)
        h = res(res(h, g, f"up_modules.{i}.0"), g, f"up_modules.{i}.1")
        h = F.conv_transpose1d(h, p[f"up_modules.{i}.2.conv.weight"], p[f"up_modules.{i}.2.conv.bias"], 2, 1)
    h = F.conv1d(block(h, "final_conv.0"), p["final_conv.1.weight"], p["final_conv.1.bias"])
    return h.transpose(1, 2)


def test_official_unet_matches_reference_forward(tmp_path):
    _, _, diff, paths = _official_files(tmp_path)
    gen = Generator.build(metaworld_sac_layout(), ModelConfig.from_mapping(SMALL))
    map_official_checkpoints(gen, diffusion=paths["diffusion"])
    x, t, cond = torch.randn(3, 2, 16), torch.tensor([0, 17, 99]), torch.randn(3, 16)
    with torch.no_grad():
        torch.testing.assert_close(
            gen.diffusion.unet(x, t, cond), _reference_unet(diff, x, t.float(), cond), rtol=1e-4, atol=1e-5
        )
        torch.testing.assert_close(gen.diffusion.ema(x, t, cond), gen.diffusion.unet(x, t, cond))


def test_mismatch_raises_full_report_and_loads_nothing(tmp_path):
    _, _, _, paths = _official_files(tmp_path, {**UNET, "kernel_size": 5})  # checkpoint trained with kernel 5
    src = torch.load(paths["embedding"], weights_only=True)
    src["state_dict"]["model.extra.weight"] = torch.zeros(1)
    del src["state_dict"]["model.W"]
    torch.save(src, paths["embedding"])
    gen = Generator.build(metaworld_sac_layout(), ModelConfig.from_mapping(SMALL))
    before = {k: v.clone() for k, v in gen.state_dict().items()}
    with pytest.raises(OfficialImportError) as exc:
        map_official_checkpoints(gen, **paths)
    text = str(exc.value)
    assert "nothing was loaded" in text and "[autoencoder]" not in text  # the autoencoder matched
    assert (
        "\n  down_modules.0.0.blocks.0.block.0.weight -> unet.down_modules.0.0.blocks.0.block.0.weight: "
        "[16, 16, 5] vs [16, 16, 3]" in text
    )
    assert "source keys with no target (1): ['extra.weight']" in text
    assert "target keys with no source (1): ['W']" in text
    assert all(torch.equal(v, before[k]) for k, v in gen.state_dict().items())


def test_official_modules_semantics():
    lay = PolicyLayout(obs_dim=5, action_dim=2, hidden=(6, 6))
    ae = OfficialParamAutoencoder(
        lay,
        from_dict(
            ModelConfig,
            {"autoencoder": {"kind": "official", "chunks": [[0], [1, 2]], "latent_channels": 8, "depth": 2}},
        ).autoencoder,
    )
    shapes = {k.removeprefix("model."): s for k, s in official_autoencoder_shapes(lay, [[0], [1, 2]], 8, 2).items()}
    assert {k: tuple(v.shape) for k, v in ae.state_dict().items()} == shapes
    loss, metrics = ae.train().loss(torch.randn(4, lay.num_params))
    loss.backward()
    assert math.isfinite(metrics["recon_mse"])
    cfg = from_dict(
        ModelConfig, {"diffusion": {"kind": "official", "down_dims": [8, 16], "time_embed_dim": 8}}
    ).diffusion
    diff = OfficialLatentDiffusion((2, 8), 6, cfg)
    lat, cond = 3 * torch.randn(10, 2, 8) + 1, torch.randn(10, 6) * 5
    diff.fit_latent_normalizer(lat)
    diff.fit_cond_normalizer(cond)
    z, c = diff.normalize(lat), diff.normalize_cond(cond)
    assert float(z.min()) == pytest.approx(-1) and float(z.max()) == pytest.approx(1)
    assert float(c.min()) == pytest.approx(-1) and float(c.max()) == pytest.approx(1)
    torch.testing.assert_close(diff.denormalize(z), lat)
    assert math.isfinite(diff.loss(lat, cond)[1]["diffusion_mse"])
    with pytest.raises(DiffusionError, match="2 tokens"):
        OfficialLatentDiffusion((3, 8), 6, cfg)


def _data_pt(path: Path, n: int, seed: int) -> Path:
    g = torch.Generator().manual_seed(seed)
    torch.save(
        {
            "param": 0.1 * torch.randn(n, 22664, generator=g),
            "traj": torch.randn(n, 1020, generator=g),
            "task": torch.randn(n, 117, generator=g),
        },
        path,
    )
    return path


@pytest.mark.parametrize("kind", ["official", "maa"])
def test_official_zoo_trains_with_prompt_dim_overrides(tmp_path, kind):
    zoo = tmp_path / "zoo"
    import_official_data([_data_pt(tmp_path / "reach.pt", 6, 0), _data_pt(tmp_path / "push.pt", 6, 1)], zoo)
    stage = {"steps": 2, "lr": 1e-3, "batch_size": 4}
    run = {
        "autoencoder": {"kind": kind, "chunks": [[0], [1, 2]], "latent_channels": 8, "hidden": [8]},
        "embedding": {"kind": kind, "h_dim": 1020, "v_dim": 117, "hidden": [16], "out_dim": 4},
        "diffusion": {"kind": kind, "down_dims": [8, 16], "time_embed_dim": 8, "cond_embed_dim": 16},
        "data": {"zoo": str(zoo), "val_fraction": 0.25},
        "train": {
            "batch_size": 4,
            "val_every": 2,
            "checkpoint_every": 2,
            "log_every": 1,
            "autoencoder": stage,
            "embedding": stage,
            "generator": stage,
        },
    }
    summary = run_training(from_dict(RunConfig, run), tmp_path / "run", stage="all")
    assert {k: v["step"] for k, v in summary["stages"].items()} == {"autoencoder": 2, "embedding": 2, "generator": 2}
    assert all(math.isfinite(v["best_val"]) for v in summary["stages"].values())
    gen = Generator.load(summary["generator"])
    assert (gen.embedding.h_dim, gen.embedding.v_dim) == (1020, 117)
    pols = gen.generate_from_prompts(torch.randn(1, 1020), torch.randn(1, 117), num_candidates=2)
    assert len(pols) == 2 and np.isfinite(pols[0].flat).all()
    del run["embedding"]["h_dim"], run["embedding"]["v_dim"]
    with pytest.raises(ConfigError, match="h_dim"):
        run_training(from_dict(RunConfig, run), tmp_path / "run2", stage="embedding")

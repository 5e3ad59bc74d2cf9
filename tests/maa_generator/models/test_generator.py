"""Generator: build/generate/save/load, determinism, bitwise round trip, input validation, preset sizes."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from maa_core.layout import PolicyLayout, metaworld_sac_layout
from maa_core.prompt import PromptError, Trajectory
from maa_generator.data.checkpoint import CONFIG_FILE, WEIGHTS_FILE, CheckpointError
from maa_generator.models.config import AutoencoderConfig, DiffusionConfig, EmbeddingConfig, ModelConfig
from maa_generator.models.generator import GeneratedPolicy, Generator

ROOT = Path(__file__).resolve().parents[3]
SMALL = PolicyLayout(obs_dim=6, action_dim=2, hidden=(16, 16), name="small")
CFG = ModelConfig(
    autoencoder=AutoencoderConfig(latent_channels=16, hidden=[32]),
    embedding=EmbeddingConfig(n_steps=10, m_states=2, hidden=[32], out_dim=16),
    diffusion=DiffusionConfig(
        down_dims=[16, 32], n_groups=8, kernel_size=3, blocks_per_level=1, time_embed_dim=16, cond_embed_dim=32
    ),
)


def _traj(seed=0, steps=30, obs_dim=6, act_dim=2):
    rng = np.random.default_rng(seed)
    success = np.zeros(steps, bool)
    success[steps // 2 :] = True
    return Trajectory(rng.normal(size=(steps, obs_dim)), rng.normal(size=(steps, act_dim)), success, task="t")


@pytest.fixture()
def gen():
    torch.manual_seed(0)
    g = Generator.build(SMALL, CFG)
    # non-trivial normalizers and EMA state so that the round trip covers every buffer
    g.autoencoder.fit_normalizer(torch.randn(8, SMALL.num_params) * 0.3 + 0.1)
    h, v = g.prompts([_traj(i) for i in range(4)])
    g.embedding.fit_normalizer(h, v)
    g.diffusion.fit_latent_normalizer(torch.randn(8, *g.autoencoder.latent_shape))
    with torch.no_grad():
        for p in g.diffusion.unet.parameters():
            p.add_(0.01)
    g.diffusion.update_ema()
    return g


def test_generate_shapes_and_order(gen):
    out = gen.generate([_traj(0), _traj(1)], num_candidates=3, seed=5)
    assert len(out) == 6 and all(isinstance(p, GeneratedPolicy) for p in out)
    assert [(p.prompt_index, p.candidate_index) for p in out] == [(b, k) for b in range(2) for k in range(3)]
    assert all(p.seed == 5 and p.layout == SMALL for p in out)
    assert out[0].flat.dtype == np.float32 and out[0].flat.shape == (SMALL.num_params,)
    action = SMALL.forward_numpy(out[4].flat, np.zeros((5, 6)))
    assert action.shape == (5, 2) and np.all(np.abs(action) <= 1)
    single = gen.generate(_traj(0))
    assert len(single) == 1
    assert gen.training is False


def test_seeded_generation_is_deterministic(gen):
    a = gen.generate(_traj(0), num_candidates=2, seed=3)
    b = gen.generate(_traj(0), num_candidates=2, seed=3)
    c = gen.generate(_traj(0), num_candidates=2, seed=4)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.flat, y.flat)
    assert not np.allclose(a[0].flat, c[0].flat)
    assert not np.allclose(a[0].flat, a[1].flat)  # candidates differ
    gen.train()  # generation forces eval mode (no AE noise) and restores the training flag
    np.testing.assert_array_equal(gen.generate(_traj(0), num_candidates=2, seed=3)[0].flat, a[0].flat)
    assert gen.training


def test_guidance_scale_reaches_the_sampler_and_is_saved(tmp_path):
    torch.manual_seed(0)
    cfg = dataclasses.replace(CFG, diffusion=dataclasses.replace(CFG.diffusion, cond_dropout=0.1, guidance_scale=1.5))
    g = Generator.build(SMALL, cfg)
    default = g.generate(_traj(0), seed=2)[0].flat
    np.testing.assert_array_equal(g.generate(_traj(0), seed=2, guidance_scale=1.5)[0].flat, default)
    assert not np.allclose(g.generate(_traj(0), seed=2, guidance_scale=1.0)[0].flat, default)
    prior = [g.generate(_traj(i), seed=2, guidance_scale=0.0)[0].flat for i in (0, 1)]  # prompt-blind
    np.testing.assert_allclose(prior[0], prior[1], rtol=0, atol=1e-6)
    g.save(tmp_path / "g")
    assert Generator.load(tmp_path / "g").config.diffusion.guidance_scale == 1.5
    with pytest.raises(ValueError, match="needs a model trained with diffusion.cond_dropout > 0"):
        Generator.build(SMALL, CFG).generate(_traj(0), guidance_scale=0.5)


def test_save_load_bitwise(gen, tmp_path):
    before = gen.generate([_traj(0), _traj(1)], num_candidates=2, seed=11)
    gen.save(tmp_path / "g", extra={"step": 3})
    meta = json.loads((tmp_path / "g" / CONFIG_FILE).read_text())
    assert meta["layout"] == SMALL.to_dict() and meta["extra"]["kind"] == "maa_generator"
    assert meta["config"]["autoencoder"]["latent_channels"] == 16
    loaded = Generator.load(tmp_path / "g")
    after = loaded.generate([_traj(0), _traj(1)], num_candidates=2, seed=11)
    for x, y in zip(before, after):
        np.testing.assert_array_equal(x.flat, y.flat)


def test_half_autoencoder_bundle_is_smaller_loads_as_float32_and_decodes_close(gen, tmp_path):
    from maa_generator.data import half_cli

    gen.save(tmp_path / "g", extra={"step": 3})
    full = (tmp_path / "g" / WEIGHTS_FILE).stat().st_size
    assert half_cli.main(["--generator", str(tmp_path / "g")]) == 0
    meta = json.loads((tmp_path / "g" / CONFIG_FILE).read_text())
    assert meta["half"] and all(k.startswith("autoencoder.") and k.endswith(".weight") for k in meta["half"])
    assert "autoencoder.param_mean" not in meta["half"] and meta["extra"]["step"] == 3  # extra survives
    halved = sum(int(np.prod(meta["tensors"][k])) for k in meta["half"])
    assert abs((full - (tmp_path / "g" / WEIGHTS_FILE).stat().st_size) - 2 * halved) < 1024  # 2 bytes per value saved
    loaded = Generator.load(tmp_path / "g")
    assert all(p.dtype == torch.float32 for p in loaded.autoencoder.state_dict().values())
    gap = half_cli.decoded_gap(gen, loaded)
    assert 0 < gap["rms_over_zoo_spread"] < 1e-3
    for x, y in zip(gen.generate([_traj(0)], 2, seed=4), loaded.generate([_traj(0)], 2, seed=4)):
        np.testing.assert_allclose(x.flat, y.flat, atol=1e-3)
    assert not list(tmp_path.glob("g.*"))  # no temporary or old copy left behind


def test_generation_only_bundle_generates_the_same_policies_without_encoders(gen, tmp_path):
    from maa_generator.data import half_cli

    full_dir = gen.save(tmp_path / "full")
    gen.save(tmp_path / "g")
    assert half_cli.main(["--generator", str(tmp_path / "g"), "--generation-only"]) == 0
    meta = json.loads((tmp_path / "g" / CONFIG_FILE).read_text())
    assert meta["extra"]["generation_only"] is True
    assert not [k for k in meta["tensors"] if k.startswith(("autoencoder.encoders.", "diffusion.unet."))]
    assert any(k.startswith("autoencoder.decoders.") for k in meta["tensors"])
    assert any(k.startswith("diffusion.ema.") for k in meta["tensors"])
    encoder_values = sum(p.numel() for p in gen.autoencoder.encoders.parameters())
    saved = (full_dir / WEIGHTS_FILE).stat().st_size - (tmp_path / "g" / WEIGHTS_FILE).stat().st_size
    assert saved > 4 * encoder_values  # the encoders (float32) are gone, plus the halved decoders

    bundle = Generator.load(tmp_path / "g")
    assert bundle.generation_only and not Generator.load(full_dir).generation_only
    full = Generator.load(full_dir)
    for x, y in zip(full.generate([_traj(0), _traj(1)], 2, seed=5), bundle.generate([_traj(0), _traj(1)], 2, seed=5)):
        np.testing.assert_allclose(x.flat, y.flat, atol=1e-3)  # only the float16 decoder matrices differ
    flat = torch.from_numpy(full.generate([_traj(0)], 1, seed=0)[0].flat[None])
    with pytest.raises(RuntimeError, match="generation-only bundle.*no encoders"):
        bundle.autoencoder.encode(flat)
    with pytest.raises(RuntimeError, match="generation-only bundle.*cannot be trained"):
        bundle.diffusion.loss(torch.zeros(1, *bundle.autoencoder.latent_shape),
                              torch.zeros(1, bundle.embedding.cond_dim))
    assert bundle.num_params()["diffusion"] == full.num_params()["diffusion"]
    bundle.save(tmp_path / "again")  # re-saving keeps the mark, so the copy loads too
    assert Generator.load(tmp_path / "again").generation_only


def test_load_errors(gen, tmp_path):
    d = gen.save(tmp_path / "g")
    meta = json.loads((d / CONFIG_FILE).read_text())
    cases = {
        "version": ({**meta, "format_version": 2}, "unknown checkpoint format_version 2"),
        "layout": ({**meta, "layout": {**meta["layout"], "obs_dim": 7}}, "expected shape"),
        "config_key": (
            {**meta, "config": {**meta["config"], "diffusion": {**meta["config"]["diffusion"], "bogus": 1}}},
            "unknown key",
        ),
        "no_layout": ({**meta, "layout": None}, "no policy layout"),
    }
    for bad, message in cases.values():
        (d / CONFIG_FILE).write_text(json.dumps(bad))
        with pytest.raises(CheckpointError, match=message):
            Generator.load(d)
    (d / CONFIG_FILE).write_text(json.dumps(meta))
    data = (d / WEIGHTS_FILE).read_bytes()
    (d / WEIGHTS_FILE).write_bytes(data[:-100])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        Generator.load(d)
    with pytest.raises(CheckpointError, match="not found"):
        Generator.load(tmp_path / "missing")


def test_input_validation(gen):
    with pytest.raises(PromptError, match="expected obs_dim 6 \\(layout small\\), got obs of shape \\[30, 39\\]"):
        gen.generate(_traj(obs_dim=39))
    with pytest.raises(PromptError, match="expected act_dim 2"):
        gen.generate(_traj(act_dim=4))
    t = _traj()
    t.obs[3, 2] = np.nan  # mutated after validation
    with pytest.raises(PromptError, match="non-finite"):
        gen.generate([_traj(1), t])
    with pytest.raises(PromptError, match="expected a maa_core.prompt.Trajectory"):
        gen.generate([np.zeros((3, 6))])
    with pytest.raises(PromptError, match="at least one trajectory"):
        gen.generate([])
    with pytest.raises(ValueError, match="num_candidates must be an int >= 1"):
        gen.generate(_traj(), num_candidates=0)


def test_segmented_prompts():
    cfg = ModelConfig.from_mapping({**CFG.to_dict(), "embedding": {**CFG.to_dict()["embedding"], "segments": 3}})
    g = Generator.build(SMALL, cfg)
    h, v = g.prompts([_traj(0), _traj(1)])
    assert h.shape == (2, 3, g.embedding.h_dim) and v.shape == (2, 3, g.embedding.v_dim)
    assert len(g.generate(_traj(0), num_candidates=2)) == 2
    with pytest.raises(PromptError, match="fewer than the 3 prompt segments"):
        g.generate(_traj(steps=2))


@pytest.mark.parametrize(
    "preset, ranges",
    [
        ("tiny", {"autoencoder": (1e5, 5e6), "embedding": (1e4, 1e6), "diffusion": (1e4, 1e6)}),
        ("default", {"autoencoder": (5e6, 20e6), "embedding": (5e5, 2e6), "diffusion": (1e6, 5e6)}),
        ("paper", {"autoencoder": (44e6, 48e6), "embedding": (2.1e6, 2.5e6), "diffusion": (155e6, 170e6)}),
    ],
)
def test_preset_sizes(preset, ranges, capsys):
    """Builds each preset on the meta device (no memory) for the MetaWorld layout and prints its sizes."""
    with torch.device("meta"):
        g = Generator.build(metaworld_sac_layout(), ModelConfig.from_yaml(ROOT / "config" / f"{preset}.yaml"))
    counts = g.num_params()
    with capsys.disabled():
        print(f"\n{preset}: latent {g.autoencoder.latent_shape}, params {counts}")
    for stage, (lo, hi) in ranges.items():
        assert lo <= counts[stage] <= hi, f"{preset} {stage}: {counts[stage]:,} params"


def _task_zoo(rng, n_tasks=3, per_task=4):
    """Per task: a base policy (+ small perturbations) and trajectories reaching a task-specific goal."""
    bases = rng.normal(scale=0.5, size=(n_tasks, SMALL.num_params))
    goals = rng.normal(size=(n_tasks, 6)) * 1.5
    flats, trajs, labels = [], [], []
    for k in range(n_tasks):
        for _ in range(per_task):
            flats.append(bases[k] + 0.02 * rng.normal(size=SMALL.num_params))
            trajs.append(_reach(rng, goals[k]))
            labels.append(k)
    return np.array(flats, np.float32), trajs, np.array(labels), bases, goals


def _reach(rng, goal, steps=40):
    x, obs, act = rng.normal(scale=0.3, size=6), [], []
    for _ in range(steps):
        obs.append(x.copy())
        act.append(np.clip(goal[:2] - x[:2], -1, 1))
        x = x + 0.2 * (goal - x) + 0.02 * rng.normal(size=6)
    success = np.linalg.norm(np.array(obs) - goal, axis=1) < 0.5
    return Trajectory(np.array(obs), np.array(act), np.roll(success, -1))


def _train(module_loss, params, steps, lr):
    opt = torch.optim.Adam(params, lr=lr)
    for _ in range(steps):
        loss = module_loss()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return float(loss.detach())


def test_tiny_preset_end_to_end():
    """Train all three stages of `tiny` on a 3-task toy zoo; generated weights land on the prompt's task."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    flats, trajs, labels, bases, goals = _task_zoo(rng)
    gen = Generator.build(SMALL, ModelConfig.from_yaml(ROOT / "config" / "tiny.yaml")).train()
    ae, emb, diff = gen.autoencoder, gen.embedding, gen.diffusion
    flat_t = torch.from_numpy(flats)
    ae.fit_normalizer(flat_t)
    _train(lambda: ae.loss(flat_t)[0], ae.parameters(), 200, 3e-3)
    h, v = gen.prompts(trajs)
    emb.fit_normalizer(h, v)
    _train(lambda: emb.loss(h, v)[0], emb.parameters(), 60, 3e-3)
    gen.eval()
    with torch.no_grad():
        latents, cond = ae.encode(flat_t), emb.embed(h, v)
    diff.fit_latent_normalizer(latents)
    diff.train()

    def diff_loss():
        loss = diff.loss(latents, cond)[0]
        diff.update_ema()
        return loss

    assert _train(diff_loss, diff.unet.parameters(), 300, 2e-3) < 0.05
    gen.eval()
    held_out = [_reach(rng, goals[k]) for k in range(3)]
    out = gen.generate(held_out, num_candidates=2, seed=0)
    for p in out:
        dist = np.linalg.norm(bases - p.flat, axis=1)
        assert dist.argmin() == p.prompt_index, f"prompt {p.prompt_index}: distances {dist}"
        assert dist.min() < 0.2 * np.sort(dist)[1]

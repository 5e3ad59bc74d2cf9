"""Training loop: config loading, exact resume (optimizer/step/RNG), atomic checkpoints, split, pipeline pieces."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from maa_core.config import ConfigError
from maa_generator.training.distributed import DistInfo
from maa_generator.training.trainer import (
    StageConfig,
    StageSpec,
    TrainConfig,
    _atomic_dir,
    _existing,
    _split,
    load_run_config,
    load_stage_weights,
    train_stage,
)

CONFIG_DIR = Path(__file__).resolve().parents[3] / "config"


def test_presets_load_and_reject_unknown_keys(tmp_path):
    for name in ("tiny", "default", "paper"):
        cfg = load_run_config(CONFIG_DIR / f"{name}.yaml")
        assert cfg.train.autoencoder.steps >= 1 and cfg.model.embedding.n_steps == 60
    cfg = load_run_config(CONFIG_DIR / "tiny.yaml", ["train.embedding.steps=7", "data.synthetic=true"])
    assert cfg.train.embedding.steps == 7 and cfg.data.synthetic is True
    with pytest.raises(ConfigError, match="unknown key"):
        load_run_config(CONFIG_DIR / "tiny.yaml", ["train.autoencoder.stepz=3"])
    with pytest.raises(ConfigError, match="expected int"):
        load_run_config(CONFIG_DIR / "tiny.yaml", ["train.batch_size=big"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  seed: 0\noptimizer: {}\n")
    with pytest.raises(ConfigError, match="optimizer"):
        load_run_config(bad)


class _Noisy(nn.Module):
    """Uses the global torch RNG in its loss, so an exact resume needs the RNG state restored."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 1)

    def loss(self, x, y):
        pred = self.lin(x + 0.1 * torch.randn_like(x))
        loss = ((pred.squeeze(-1) - y) ** 2).mean()
        return loss, {"mse": float(loss.detach())}


def _spec(module):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(40, 3, generator=g)
    y = x @ torch.tensor([1.0, -2.0, 0.5]) + 0.3
    return StageSpec("autoencoder", module, lambda m, a, b: m.loss(a, b), lambda r: (x[r], y[r]), 32,
                     lambda m: m.loss(x[32:], y[32:])[0])


def _run(out, stop_after=None, resume=False):
    torch.manual_seed(0)
    module = _Noisy()
    tcfg = TrainConfig(batch_size=8, checkpoint_every=5, val_every=5, log_every=5)
    scfg = StageConfig(steps=20, lr=0.05, warmup_steps=3)
    res = train_stage(_spec(module), scfg, tcfg, out, {"cfg": 1}, DistInfo(), resume=resume, stop_after=stop_after)
    return module, res


def test_interrupted_then_resumed_equals_uninterrupted(tmp_path):
    full, res_full = _run(tmp_path / "a")
    assert res_full["step"] == 20 and res_full["resumed_from"] == 0
    _, part = _run(tmp_path / "b", stop_after=12)  # steps 11-12 are lost: last checkpoint is step 10
    assert part["step"] == 12
    torch.manual_seed(999)  # the resumed run must restore the RNG itself
    resumed, res = _run(tmp_path / "b", resume=True)
    assert res["resumed_from"] == 10 and res["step"] == 20
    for a, b in zip(full.state_dict().values(), resumed.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    last = tmp_path / "b" / "stages" / "autoencoder" / "last"
    assert (last / "config.yaml").is_file() and (last / "model" / "config.json").is_file()
    assert torch.load(last / "state.pt", weights_only=True)["step"] == 20
    # a completed stage resumes as a no-op
    _, again = _run(tmp_path / "b", resume=True)
    assert again["step"] == 20 and again["resumed_from"] == 20
    # best weights load into a fresh module
    assert load_stage_weights(tmp_path / "b", "autoencoder", _Noisy()).name == "best"


def test_atomic_dir_survives_failed_write(tmp_path):
    dest = tmp_path / "last"
    _atomic_dir(dest, lambda d: (d / "state.pt").write_text("v1"))

    def dies(d):
        (d / "state.pt").write_text("partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _atomic_dir(dest, dies)
    assert (dest / "state.pt").read_text() == "v1"
    # killed between the two renames: the previous copy is still found
    dest.rename(tmp_path / ".old-last")
    assert _existing(dest) == tmp_path / ".old-last"


def test_split_is_deterministic_and_disjoint():
    tr, va = _split(50, 0.1, seed=3)
    tr2, va2 = _split(50, 0.1, seed=3)
    np.testing.assert_array_equal(tr, tr2)
    assert len(va) == 5 and not set(tr) & set(va) and len(tr) + len(va) == 50
    assert len(_split(4, 0.01, 0)[1]) == 2

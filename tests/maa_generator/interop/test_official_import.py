"""Official Make-An-Agent import: data.pt -> zoo, checkpoint key mapping (full match loads, mismatch refuses)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from maa_core.layout import PolicyLayout, metaworld_sac_layout
from maa_generator.data.zoo import Zoo
from maa_generator.interop.official_import import (
    OfficialImportError,
    embedding_rules,
    extract_state_dict,
    import_official_data,
    load_mapped,
    map_official_checkpoints,
    map_state_dict,
    official_autoencoder_shapes,
    read_official_data,
)
from maa_generator.models.config import AutoencoderConfig, EmbeddingConfig, ModelConfig
from maa_generator.models.embedding import BehaviorEmbedding
from maa_generator.models.generator import Generator

ROOT = Path(__file__).resolve().parents[3]


def _data_pt(path: Path, n: int = 6, seed: int = 0, **override) -> Path:
    g = torch.Generator().manual_seed(seed)
    data = {"param": torch.randn(n, 22664, generator=g), "traj": torch.randn(n, 1020, generator=g),
            "task": torch.randn(n, 117, generator=g)}
    data.update(override)
    torch.save(data, path)
    return path


def test_import_official_data_into_zoo(tmp_path):
    a = _data_pt(tmp_path / "door-open.pt", n=6, seed=0)
    b = _data_pt(tmp_path / "drawer-close.pt", n=4, seed=1)
    entries = import_official_data([a, b], tmp_path / "zoo")
    assert [e["name"] for e in entries] == ["door-open__official", "drawer-close__official"]
    z = Zoo.open(tmp_path / "zoo")
    assert z.layout == metaworld_sac_layout() and z.layout.num_params == 22664
    assert z.prompt["h_dim"] == 1020 and z.prompt["v_dim"] == 117 and z.prompt["kind"] == "official"
    src = torch.load(a, weights_only=True)
    np.testing.assert_array_equal(z.params("door-open")[:], src["param"].numpy())
    h, v = z.filter(tasks=["door-open"]).prompts()
    np.testing.assert_array_equal(h[:], src["traj"].numpy())
    np.testing.assert_array_equal(v[:], src["task"].numpy())
    assert z.metadata[0]["collector"] == "official_import" and z.metadata[0]["success"] is None
    # the flat order is ours: layer 0 weight is the first 39*128 numbers
    w0 = metaworld_sac_layout().unflatten(np.asarray(z.params()[0]))["layers.0.weight"]
    np.testing.assert_array_equal(w0.reshape(-1), src["param"][0, :39 * 128].numpy())
    assert import_official_data([a], tmp_path / "zoo") == []  # shard-level resume


@pytest.mark.parametrize("override, msg", [
    ({"traj": torch.zeros(6, 1000)}, r"traj has shape \[6, 1000\], expected \[6, 1020\]"),
    ({"param": torch.full((6, 22664), float("nan"))}, "non-finite"),
])
def test_read_official_data_rejects_bad_files(tmp_path, override, msg):
    with pytest.raises(OfficialImportError, match=msg):
        read_official_data(_data_pt(tmp_path / "x.pt", **override))
    torch.save({"param": torch.zeros(2, 22664)}, tmp_path / "y.pt")
    with pytest.raises(OfficialImportError, match=r"missing key\(s\) \['traj', 'task'\]"):
        read_official_data(tmp_path / "y.pt")


def test_pickled_objects_need_trust(tmp_path):
    import argparse

    from maa_generator.interop.official_import import torch_load

    # like a Lightning checkpoint with pickled hyper-parameters
    torch.save({"state_dict": {"model.W": torch.zeros(2)}, "hparams": argparse.Namespace(lr=1)}, tmp_path / "c.ckpt")
    with pytest.raises(OfficialImportError, match="trust_pickle"):
        torch_load(tmp_path / "c.ckpt")
    assert torch_load(tmp_path / "c.ckpt", trust_pickle=True)["hparams"].lr == 1


def _lightning(module: torch.nn.Module, rename=lambda k: k) -> dict:
    return {"state_dict": {f"model.{rename(k)}": v.clone() for k, v in module.state_dict().items()}, "epoch": 3}


def test_full_match_loads_and_mismatch_refuses():
    src_mod = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    dst_mod = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 2))
    rules = [(r"net\.0\.(.*)", r"0.\1"), (r"net\.2\.(.*)", r"2.\1")]
    source = extract_state_dict(_lightning(src_mod, lambda k: f"net.{k}"))
    report = load_mapped(dst_mod, source, rules)
    assert report.ok and len(report.matched) == 4
    for a, b in zip(src_mod.parameters(), dst_mod.parameters()):
        torch.testing.assert_close(a, b)
    before = [p.clone() for p in dst_mod.parameters()]
    bad = dict(source)
    bad["net.2.weight"] = torch.zeros(5, 3)
    bad["net.9.extra"] = torch.zeros(1)
    del bad["net.0.bias"]
    with pytest.raises(OfficialImportError) as exc:
        load_mapped(dst_mod, bad, rules)
    text = str(exc.value)
    assert "net.2.weight -> 2.weight: [5, 3] vs [2, 3]" in text and "net.9.extra" in text and "0.bias" in text
    assert "nothing was loaded" in text
    for a, b in zip(before, dst_mod.parameters()):
        torch.testing.assert_close(a, b)  # untouched


def test_embedding_rules_with_normalizer_transform():
    """An official-style embedding whose shapes fit our module maps completely, incl. scale/offset -> mean/std."""
    cfg = EmbeddingConfig(n_steps=2, m_states=1, hidden=[8], out_dim=4)
    ours = BehaviorEmbedding(obs_dim=3, act_dim=1, cfg=cfg)
    target = ours.state_dict()
    rules, transforms, ignore = embedding_rules()
    inverse = {"h_net.0": "traj_embed.0", "h_net.3": "traj_embed.2", "h_net.6": "traj_embed.4",
               "v_net.0": "task_embed.0", "v_net.1": "task_embed.1", "v_net.3": "task_embed.3"}
    source = {}
    for k, v in target.items():
        mod, _, leaf = k.rpartition(".")
        if mod in inverse:
            source[f"{inverse[mod]}.{leaf}"] = torch.randn_like(v)
    source["W"] = torch.randn(4, 4)
    for which, dim in (("traj", ours.h_dim), ("task", ours.v_dim)):
        source[f"normalizer.params_dict.{which}.scale"] = torch.rand(dim) + 0.5
        source[f"normalizer.params_dict.{which}.offset"] = torch.randn(dim)
    _, report = map_state_dict(source, target, rules, transforms, ignore)
    # our h branch has LayerNorms (h_net.1, h_net.4) that the official traj branch lacks: reported, not loaded
    assert not report.ok and report.missing_target == ["h_net.1.bias", "h_net.1.weight"]
    x = torch.randn(5, ours.h_dim)
    mapped, _ = map_state_dict(source, target, rules, transforms, ignore)
    scale, offset = source["normalizer.params_dict.traj.scale"], source["normalizer.params_dict.traj.offset"]
    torch.testing.assert_close((x - mapped["h_mean"]) / mapped["h_std"], x * scale + offset)


def test_official_checkpoints_on_generator_refuse_with_report(tmp_path):
    layout = PolicyLayout(obs_dim=5, action_dim=2, hidden=(6, 6))
    cfg = ModelConfig(autoencoder=AutoencoderConfig(chunks=[[0], [1, 2]], latent_channels=16, hidden=[]),
                      embedding=EmbeddingConfig(n_steps=4, m_states=2, hidden=[8], out_dim=4))
    gen = Generator.build(layout, cfg)
    shapes = official_autoencoder_shapes(layout, [[0], [1, 2]], 16)
    torch.save({"state_dict": {k: torch.randn(s) for k, s in shapes.items()}}, tmp_path / "ae.ckpt")
    before = {k: v.clone() for k, v in gen.state_dict().items()}
    with pytest.raises(OfficialImportError) as exc:
        map_official_checkpoints(gen, autoencoder=tmp_path / "ae.ckpt")
    text = str(exc.value)
    assert "ln_in.weight" in text and "encoders.0.0.bias" in text and "nothing was loaded" in text
    for k, v in gen.state_dict().items():
        torch.testing.assert_close(v, before[k])


def test_cli_import_data(tmp_path):
    f = _data_pt(tmp_path / "reach.pt", n=3)
    res = subprocess.run([sys.executable, str(ROOT / "training" / "import_official.py"), "data", "--zoo",
                          str(tmp_path / "zoo"), str(f)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert "wrote shard reach__official: 3 checkpoints" in res.stdout
    assert Zoo.open(tmp_path / "zoo").num_checkpoints == 3

"""save_checkpoint / load_checkpoint: exact round trip, no pickle, clear errors for every corruption."""

import json

import pytest
import torch
from torch import nn

from maa_generator.data.checkpoint import CONFIG_FILE, WEIGHTS_FILE, CheckpointError, load_checkpoint, save_checkpoint


def _modules(width=4):
    torch.manual_seed(0)
    a = nn.Sequential(nn.Linear(3, width), nn.LayerNorm(width))
    b = nn.BatchNorm1d(width)  # has an int64 buffer
    b.running_mean.normal_()
    return {"enc": a, "norm": b}


def test_roundtrip_exact(tmp_path):
    mods = _modules()
    save_checkpoint(tmp_path / "ck", mods, {"lr": 0.1}, {"step": 5}, layout={"obs_dim": 3})
    meta = json.loads((tmp_path / "ck" / CONFIG_FILE).read_text())
    assert meta["format_version"] == 1 and len(meta["sha256"]) == 64 and meta["layout"] == {"obs_dim": 3}
    assert meta["tensors"]["enc.0.weight"] == [4, 3]
    assert (tmp_path / "ck" / WEIGHTS_FILE).read_bytes()[8:9] == b"{"  # safetensors JSON header, not a pickle
    fresh = _modules()
    for m in fresh.values():
        for p in m.state_dict().values():
            p.zero_() if p.is_floating_point() else None
    ck = load_checkpoint(tmp_path / "ck", fresh)
    assert ck.config == {"lr": 0.1} and ck.extra == {"step": 5} and ck.layout == {"obs_dim": 3}
    for name, m in mods.items():
        for k, v in m.state_dict().items():
            assert torch.equal(fresh[name].state_dict()[k], v), f"{name}.{k}"
            assert torch.equal(ck.state[name][k], v)


def test_missing_and_version_errors(tmp_path):
    with pytest.raises(CheckpointError, match="metadata not found"):
        load_checkpoint(tmp_path / "nothing")
    d = save_checkpoint(tmp_path / "ck", _modules(), {})
    meta = json.loads((d / CONFIG_FILE).read_text())
    (d / CONFIG_FILE).write_text(json.dumps({**meta, "format_version": 99}))
    with pytest.raises(CheckpointError, match="unknown checkpoint format_version 99"):
        load_checkpoint(d)
    (d / CONFIG_FILE).write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_checkpoint(d)
    d = save_checkpoint(tmp_path / "ck2", _modules(), {})
    (d / WEIGHTS_FILE).unlink()
    with pytest.raises(CheckpointError, match="weights not found"):
        load_checkpoint(d)


def test_truncated_or_corrupt_weights(tmp_path):
    d = save_checkpoint(tmp_path / "ck", _modules(), {})
    data = (d / WEIGHTS_FILE).read_bytes()
    (d / WEIGHTS_FILE).write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(d)
    flipped = bytearray(data)
    flipped[-3] ^= 0xFF
    (d / WEIGHTS_FILE).write_bytes(bytes(flipped))
    with pytest.raises(CheckpointError, match="sha256 .* does not match"):
        load_checkpoint(d)


def test_key_and_shape_mismatches(tmp_path):
    d = save_checkpoint(tmp_path / "ck", _modules(), {})
    with pytest.raises(CheckpointError, match="shape"):
        load_checkpoint(d, _modules(width=8))
    extra = {**_modules(), "head": nn.Linear(2, 2)}
    with pytest.raises(CheckpointError, match=r"missing \['head'\]"):
        load_checkpoint(d, extra)
    fewer = _modules()
    fewer["enc"] = nn.Sequential(nn.Linear(3, 4))
    with pytest.raises(CheckpointError, match=r"unexpected tensor keys \['1.bias', '1.weight'\]"):
        load_checkpoint(d, fewer)
    more = _modules()
    more["enc"] = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, 4))
    with pytest.raises(CheckpointError, match=r"missing tensor keys \['2.bias', '2.weight'\]"):
        load_checkpoint(d, more)
    with pytest.raises(CheckpointError, match="contain no '.'"):
        save_checkpoint(tmp_path / "bad", {"a.b": nn.Linear(1, 1)}, {})


def test_half_tensors_load_as_float32_and_a_mislabelled_file_is_refused(tmp_path):
    mods = _modules(width=8)
    save_checkpoint(tmp_path / "ck", mods, {}, half=lambda key, value: key == "enc.0.weight")
    meta = json.loads((tmp_path / "ck" / CONFIG_FILE).read_text())
    assert meta["half"] == ["enc.0.weight"]
    ck = load_checkpoint(tmp_path / "ck")
    w = ck.state["enc"]["0.weight"]
    assert w.dtype == torch.float32 and torch.allclose(w, mods["enc"][0].weight, atol=1e-3)
    assert torch.equal(ck.state["enc"]["0.bias"], mods["enc"][0].bias)  # the rest stays exact
    meta["half"] = []  # a float16 tensor the metadata does not declare
    (tmp_path / "ck" / CONFIG_FILE).write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="float16 tensors disagree"):
        load_checkpoint(tmp_path / "ck")

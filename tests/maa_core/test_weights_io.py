"""The weights file format and the one safetensors reader: round trips, older actor files, broken files."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from maa_core.layout import PolicyLayout
from maa_core.weights_io import (
    FORMAT_TAG,
    WeightsError,
    checksum,
    load_weights_file,
    read_safetensors,
    save_weights_file,
)

ROOT = Path(__file__).resolve().parents[2]
COMMITTED_ACTOR = ROOT / "results" / "go2" / "actor_seed0_it475.safetensors"
LAYOUT = PolicyLayout(obs_dim=5, action_dim=2, hidden=(4,), activation="elu", output="linear", name="tiny")


def _flat(seed: int = 0) -> np.ndarray:
    """Random parameters ``[LAYOUT.num_params]`` float32."""
    return np.random.default_rng(seed).normal(size=LAYOUT.num_params).astype(np.float32)


def _save_old_actor(path: Path, layout: PolicyLayout, flat: np.ndarray, **meta) -> Path:
    """An actor file as the former ``maa_go2.checkpoints.save_actor`` wrote it: tensor ``flat``, metadata
    ``layout`` and every other entry JSON-encoded, no checksum."""
    md = {"layout": json.dumps(layout.to_dict()), **{k: json.dumps(v) for k, v in meta.items()}}
    save_file({"flat": flat}, str(path), metadata=md)
    return path


@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
def test_round_trip_with_extra(tmp_path, suffix):
    extra = {"iteration": 7, "seed": 3, "history_len": 15, "note": "x"}
    path = save_weights_file(tmp_path / f"a{suffix}", LAYOUT, _flat(), extra=extra)
    payload = load_weights_file(path)
    assert payload.layout == LAYOUT and payload.extra == extra and payload.source == str(path)
    np.testing.assert_array_equal(payload.flat, _flat())
    assert payload.checksum == checksum(_flat()) and payload.flat.dtype == np.float32
    assert [p.name for p in tmp_path.iterdir()] == [f"a{suffix}"]  # written atomically: no temp file left


def test_safetensors_layout_of_the_format(tmp_path):
    path = save_weights_file(tmp_path / "a.safetensors", LAYOUT, _flat(), extra={"iteration": 1})
    tensors, md = read_safetensors(path)
    assert list(tensors) == ["params"] and tensors["params"].shape == (LAYOUT.num_params,)
    assert md["format"] == FORMAT_TAG and md["checksum"] == checksum(_flat())
    assert PolicyLayout.from_dict(json.loads(md["layout"])) == LAYOUT and json.loads(md["extra"]) == {"iteration": 1}
    assert load_weights_file(save_weights_file(tmp_path / "b.safetensors", LAYOUT, _flat())).extra == {}


def test_old_flat_actor_files_load_the_same(tmp_path):
    old = _save_old_actor(tmp_path / "old.safetensors", LAYOUT, _flat(), iteration=4, seed=1, history_len=3)
    new = save_weights_file(tmp_path / "new.safetensors", LAYOUT, _flat(), extra={"iteration": 4, "seed": 1,
                                                                                  "history_len": 3})
    a, b = load_weights_file(old), load_weights_file(new)
    assert a.layout == b.layout and a.extra == b.extra == {"iteration": 4, "seed": 1, "history_len": 3}
    np.testing.assert_array_equal(a.flat, b.flat)
    assert a.checksum == b.checksum


def test_per_layer_tensors_load(tmp_path):
    path = tmp_path / "layers.safetensors"
    save_file(LAYOUT.unflatten(_flat()), str(path), metadata={"layout": json.dumps(LAYOUT.to_dict())})
    np.testing.assert_array_equal(load_weights_file(path).flat, _flat())


@pytest.mark.skipif(not COMMITTED_ACTOR.is_file(), reason="committed Go2 actor not present")
def test_committed_go2_actor_loads_and_resaves_identically(tmp_path):
    payload = load_weights_file(COMMITTED_ACTOR)
    assert payload.layout.dims == (77, 256, 128, 128, 12) and payload.flat.shape == (70924,)
    assert payload.extra == {"iteration": 475, "seed": 0, "history_len": 15}
    again = load_weights_file(save_weights_file(tmp_path / "a.safetensors", payload.layout, payload.flat,
                                                extra=payload.extra))
    assert again.layout == payload.layout and again.extra == payload.extra and again.checksum == payload.checksum


def _cut(path: Path, n: int) -> Path:
    """Copy of ``path`` truncated to its first ``n`` bytes (``n < 0``: drop the last ``-n``)."""
    data = path.read_bytes()
    out = path.with_name(f"cut{n}_{path.name}")
    out.write_bytes(data[:n])
    return out


@pytest.mark.parametrize("n, why", [(0, "truncated"), (5, "truncated"), (20, "truncated"), (-7, "truncated")])
def test_truncated_files(tmp_path, n, why):
    path = save_weights_file(tmp_path / "a.safetensors", LAYOUT, _flat())
    with pytest.raises(WeightsError, match=rf"cannot read policy weights file .*: {why} \("):
        load_weights_file(_cut(path, n))
    with pytest.raises(WeightsError, match=r"cannot read novelty bank: truncated"):
        read_safetensors(_cut(path, n), "novelty bank")


@pytest.mark.parametrize("data", [b"PK\x03\x04" + b"\0" * 64, b"hello, this is no safetensors file", b"\0" * 64])
def test_files_that_are_not_safetensors(tmp_path, data):
    path = tmp_path / "x.safetensors"
    path.write_bytes(data)
    with pytest.raises(WeightsError, match=r"x.safetensors: cannot read the thing: not a safetensors file"):
        read_safetensors(path, "the thing")


def test_corrupt_header(tmp_path):
    path = save_weights_file(tmp_path / "a.safetensors", LAYOUT, _flat())
    data = bytearray(path.read_bytes())
    data[9:12] = b"@@@"  # inside the JSON header
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="not a valid safetensors header"):
        load_weights_file(path)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(WeightsError, match="weights file not found: .*nope.safetensors"):
        load_weights_file(tmp_path / "nope.safetensors")
    with pytest.raises(WeightsError, match="Go2 thing not found"):
        read_safetensors(tmp_path / "nope.safetensors", "Go2 thing")
    (tmp_path / "d.safetensors").mkdir()
    with pytest.raises(WeightsError, match="expected weights file, found a directory"):
        load_weights_file(tmp_path / "d.safetensors")


def test_bit_flip_in_data_fails_the_checksum(tmp_path):
    path = save_weights_file(tmp_path / "a.safetensors", LAYOUT, _flat())
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x10
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="checksum mismatch"):
        load_weights_file(path)


@pytest.mark.parametrize("metadata, tensors, match", [
    ({}, None, "no 'layout' entry"),
    ({"layout": "{not json"}, None, "invalid layout metadata"),
    ({"layout": json.dumps({"obs_dim": 5})}, None, "invalid layout metadata"),
    ({"layout": "LAYOUT", "extra": "[1, 2]"}, None, "'extra' must be a JSON object"),
    ({"layout": "LAYOUT", "extra": "{oops"}, None, "'extra' is not JSON"),
    ({"layout": "LAYOUT", "checksum": "0" * 64}, None, "checksum mismatch"),
    ({"layout": "LAYOUT"}, {"params": np.zeros(3, np.float32)}, r"expected 34 parameters .* got shape \[3\]"),
    ({"layout": "LAYOUT"}, {"params": np.full(34, np.nan, np.float32)}, "34 non-finite"),
    ({"layout": "LAYOUT"}, {"weights": np.zeros(34, np.float32)}, "match neither 'params' nor the layout's"),
    ({"layout": "LAYOUT", "iteration": "not json"}, {"flat": None}, "'iteration' is not JSON"),
])
def test_wrong_or_missing_metadata(tmp_path, metadata, tensors, match):
    metadata = {k: json.dumps(LAYOUT.to_dict()) if v == "LAYOUT" else v for k, v in metadata.items()}
    tensors = {k: _flat() if v is None else v for k, v in (tensors or {"params": None}).items()}
    save_file(tensors, str(tmp_path / "a.safetensors"), metadata=metadata)
    with pytest.raises(WeightsError, match=match):
        load_weights_file(tmp_path / "a.safetensors")


def test_npz_errors(tmp_path):
    np.savez(tmp_path / "a.npz", params=_flat())
    with pytest.raises(WeightsError, match=r"missing arrays \['layout'\]"):
        load_weights_file(tmp_path / "a.npz")
    (tmp_path / "b.npz").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(WeightsError, match="cannot read npz weights file"):
        load_weights_file(tmp_path / "b.npz")


def test_save_rejections(tmp_path):
    with pytest.raises(WeightsError, match="unsupported weights file type '.pt'"):
        save_weights_file(tmp_path / "a.pt", LAYOUT, _flat())
    with pytest.raises(WeightsError, match="JSON-serializable"):
        save_weights_file(tmp_path / "a.safetensors", LAYOUT, _flat(), extra={"x": object()})
    with pytest.raises(ValueError, match="expected parameters of shape"):
        save_weights_file(tmp_path / "a.safetensors", LAYOUT, _flat()[:-1])
    assert not list(tmp_path.iterdir())


def test_read_safetensors_torch_tensors(tmp_path):
    torch = pytest.importorskip("torch")
    path = save_weights_file(tmp_path / "a.safetensors", LAYOUT, _flat())
    tensors, md = read_safetensors(path, framework="pt")
    assert isinstance(tensors["params"], torch.Tensor) and md["format"] == FORMAT_TAG
    np.testing.assert_array_equal(tensors["params"].numpy(), _flat())

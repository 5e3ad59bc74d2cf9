"""Go2 actor and adaptation-module files: the one reader for every on-disk format, the committed files, errors."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.numpy import save_file

from maa_core.layout import PolicyLayout
from maa_core.weights_io import FORMAT_TAG, WeightsError, load_weights_file, read_safetensors, save_weights_file
from maa_go2.actor_critic import AdaptationModule, go2_actor_layout
from maa_go2.checkpoints import adaptation_module, load_adaptation, read_adaptation, save_adaptation
from maa_go2.observation import OBS_DIM

ROOT = Path(__file__).resolve().parents[2]
COMMITTED_ADAPTATION = [ROOT / "models/go2/adaptation.safetensors", ROOT / "results/go2/adaptation_module.safetensors"]
COMMITTED_ACTOR = ROOT / "results/go2/actor_seed0_it475.safetensors"


def _module(history_len: int = 2, seed: int = 0) -> AdaptationModule:
    torch.manual_seed(seed)
    return AdaptationModule(history_len)


def _save_state_dict(path: Path, module: AdaptationModule, **metadata: str) -> Path:
    """The older adaptation file: the module's state dict with ``history_len`` / ``out_dim`` metadata."""
    sd = {k: v.numpy().copy() for k, v in module.state_dict().items()}
    md = {"history_len": str(module.history_len), "out_dim": str(module.out_dim), **metadata}
    save_file(sd, str(path), metadata={k: v for k, v in md.items() if v is not None})
    return path


def _same_module(a: AdaptationModule, b: AdaptationModule) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("path", COMMITTED_ADAPTATION, ids=lambda p: p.parent.name)
def test_committed_adaptation_modules(path):
    if not path.is_file():
        pytest.skip(f"{path} not present")
    payload = read_adaptation(path)
    assert payload.layout.dims == (15 * OBS_DIM, 256, 128, 7) and payload.extra == {"history_len": 15, "out_dim": 7}
    mod = load_adaptation(path)
    tensors, _ = read_safetensors(path)
    if "params" not in tensors:  # the older state-dict file: the module holds exactly its tensors
        assert all(np.array_equal(v.numpy(), tensors[k]) for k, v in mod.state_dict().items())
    x = np.random.default_rng(0).normal(size=(4, 15 * OBS_DIM)).astype(np.float32)
    np.testing.assert_allclose(payload.layout.forward_numpy(payload.flat, x), mod(torch.from_numpy(x)).numpy(),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.skipif(not COMMITTED_ACTOR.is_file(), reason="committed Go2 actor not present")
def test_committed_actor_fits_committed_adaptation_module():
    actor = load_weights_file(COMMITTED_ACTOR)
    assert actor.layout == go2_actor_layout() and actor.extra["history_len"] == 15
    assert actor.layout.obs_dim == OBS_DIM + read_adaptation(COMMITTED_ADAPTATION[0]).extra["out_dim"]


def test_save_adaptation_writes_the_weights_format_and_round_trips(tmp_path):
    mod = _module(history_len=3)
    path = save_adaptation(tmp_path / "a.safetensors", mod)
    tensors, md = read_safetensors(path)
    assert list(tensors) == ["params"] and md["format"] == FORMAT_TAG
    assert json.loads(md["extra"]) == {"history_len": 3, "out_dim": 7}
    back = load_adaptation(path)
    assert back.history_len == 3 and back.out_dim == 7 and _same_module(mod, back)
    assert not back.training and not any(p.requires_grad for p in back.parameters())


def test_old_state_dict_and_new_format_read_the_same(tmp_path):
    mod = _module()
    old = read_adaptation(_save_state_dict(tmp_path / "old.safetensors", mod))
    new = read_adaptation(save_adaptation(tmp_path / "new.safetensors", mod))
    assert old.layout == new.layout and old.extra == new.extra and old.checksum == new.checksum
    assert _same_module(adaptation_module(old), mod)


def test_npz_adaptation_weights_file(tmp_path):
    payload = read_adaptation(save_adaptation(tmp_path / "a.safetensors", _module()))
    path = save_weights_file(tmp_path / "a.npz", payload.layout, payload.flat)  # no extra: derived from the layout
    again = read_adaptation(path)
    assert again.extra == {"history_len": 2, "out_dim": 7} and again.checksum == payload.checksum


@pytest.mark.parametrize("metadata, match", [
    ({"history_len": None}, "neither 'layout' nor 'history_len' metadata"),
    ({"history_len": "two"}, "'history_len' must be an integer"),
    ({"history_len": "3"}, r"does not match history_len\*obs_dim = 3\*70"),
    ({"out_dim": "5"}, "metadata out_dim 5 but the last layer has 7"),
])
def test_old_format_metadata_errors(tmp_path, metadata, match):
    path = _save_state_dict(tmp_path / "a.safetensors", _module(), **metadata)
    with pytest.raises(WeightsError, match=match):
        read_adaptation(path)


def test_old_format_tensor_errors(tmp_path):
    sd = {k: v.numpy().copy() for k, v in _module().state_dict().items()}
    for name, tensors in [("unpaired", {k: v for k, v in sd.items() if k != "net.2.bias"}),
                          ("foreign", {**sd, "other.weight": np.zeros((2, 2), np.float32)}),
                          ("chain", {**sd, "net.2.weight": np.zeros((128, 99), np.float32)})]:
        save_file(tensors, str(tmp_path / f"{name}.safetensors"), metadata={"history_len": "2"})
    with pytest.raises(WeightsError, match=r"missing \['net.2.bias'\]"):
        read_adaptation(tmp_path / "unpaired.safetensors")
    with pytest.raises(WeightsError, match="expected only net.<k>.weight/bias tensors"):
        read_adaptation(tmp_path / "foreign.safetensors")
    with pytest.raises(WeightsError, match="do not chain"):
        read_adaptation(tmp_path / "chain.safetensors")


def test_broken_and_wrong_files(tmp_path):
    path = save_adaptation(tmp_path / "a.safetensors", _module())
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(WeightsError, match=r"cannot read Go2 adaptation module: truncated"):
        load_adaptation(cut)
    with pytest.raises(WeightsError, match="Go2 adaptation module not found"):
        read_adaptation(tmp_path / "missing.safetensors")
    layout = go2_actor_layout()
    actor = save_weights_file(tmp_path / "actor.safetensors", layout, np.zeros(layout.num_params, np.float32))
    with pytest.raises(WeightsError, match=r"input is history_len\*70; got input 77"):
        read_adaptation(actor)
    payload = read_adaptation(path)
    payload.layout = PolicyLayout.from_dict({**payload.layout.to_dict(), "activation": "tanh"})
    with pytest.raises(WeightsError, match="ELU MLP"):
        adaptation_module(payload)


def test_deploy_reads_the_adaptation_module_without_torch(go2_adaptation_file):
    code = ("import sys; import maa_deploy.loop; from maa_go2.checkpoints import read_adaptation; "
            f"p = read_adaptation({str(go2_adaptation_file)!r}); "
            "assert p.extra['history_len'] == 5, p.extra; assert 'torch' not in sys.modules, 'torch imported'")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]

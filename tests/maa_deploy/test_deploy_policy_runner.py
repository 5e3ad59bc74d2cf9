import types

import numpy as np
import pytest

from maa_core.layout import PolicyLayout
from maa_core.weights_codec import weights_fields
from maa_core.weights_io import WeightsError, load_weights_file, save_weights_file
from maa_deploy.policy_runner import PolicyRunner
from tests.maa_deploy.deploy_fakes import OBS_DIM, adaptation_payload, random_actor, small_actor_layout


@pytest.fixture
def runner():
    return PolicyRunner(small_actor_layout(), adaptation_payload())


def _good(tmp_path, runner, name="good.npz", seed=0):
    return save_weights_file(tmp_path / name, runner.actor_layout, random_actor(seed))


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
def test_file_roundtrip_and_forward(tmp_path, runner, suffix):
    flat = random_actor(3)
    path = save_weights_file(tmp_path / f"a{suffix}", runner.actor_layout, flat)
    payload = load_weights_file(path)
    np.testing.assert_array_equal(payload.flat, flat)
    runner.load(path)
    obs = np.random.default_rng(0).normal(size=OBS_DIM).astype(np.float32)
    action = runner.act(obs)
    hist = np.tile(obs, 3)  # first observation fills the whole history
    latent = runner.adaptation.layout.forward_numpy(runner.adaptation.flat, hist)
    expected = runner.actor_layout.forward_numpy(flat, np.concatenate([obs, latent]))
    np.testing.assert_allclose(action, expected, rtol=1e-6)


def _assert_rejected(runner, source, match):
    old = runner.active
    with pytest.raises(WeightsError, match=match):
        runner.load(source)
    assert runner.active is old and runner.last_error and runner.rejections >= 1


def test_bad_weights_keep_old_policy(tmp_path, runner):
    good = runner.load(_good(tmp_path, runner))
    layout = runner.actor_layout
    nan = random_actor(1)
    nan[5] = np.nan
    p = tmp_path / "nan.npz"
    np.savez(p, params=nan, layout=np.array(__import__("json").dumps(layout.to_dict())))
    _assert_rejected(runner, p, "non-finite")

    other = PolicyLayout(obs_dim=layout.obs_dim, action_dim=12, hidden=(64, 16), activation="elu", output="linear")
    wrong = save_weights_file(tmp_path / "wrong.safetensors", other, np.zeros(other.num_params, np.float32))
    _assert_rejected(runner, wrong, "layout mismatch")

    src = _good(tmp_path, runner, "c.npz", seed=2)
    with np.load(src) as d:
        arrays = dict(d)
    arrays["params"] = arrays["params"].copy()
    arrays["params"][0] += 1.0
    np.savez(tmp_path / "cs.npz", **arrays)
    _assert_rejected(runner, tmp_path / "cs.npz", "checksum mismatch")

    for suffix in (".npz", ".safetensors"):
        full = _good(tmp_path, runner, f"t{suffix}", seed=4).read_bytes()
        (tmp_path / f"trunc{suffix}").write_bytes(full[: len(full) // 2])
        _assert_rejected(runner, tmp_path / f"trunc{suffix}", "truncated")

    _assert_rejected(runner, tmp_path / "missing.npz", "not found")
    huge = save_weights_file(tmp_path / "huge.npz", layout, random_actor(5, std=5.0))
    _assert_rejected(runner, huge, "action screen failed")
    assert runner.active is good and runner.swaps == 1


def test_message_source(runner):
    flat = random_actor(7)
    msg = types.SimpleNamespace(**weights_fields(runner.actor_layout, flat))
    assert runner.load(msg).checksum == msg.checksum
    bad = types.SimpleNamespace(**weights_fields(runner.actor_layout, random_actor(8)))
    bad.data = np.array(bad.data).copy()
    bad.data[0] = 9.0
    _assert_rejected(runner, bad, "checksum mismatch")
    bad.layout_fingerprint = "0123456789abcdef"
    _assert_rejected(runner, bad, "layout_fingerprint")


def test_load_async_swaps_between_ticks(tmp_path, runner):
    runner.load(_good(tmp_path, runner))
    first = runner.active
    fut = runner.load_async(_good(tmp_path, runner, "next.npz", seed=9))
    new = fut.result(timeout=10)
    assert runner.active is new is not first and runner.swaps == 2
    assert runner.act(np.zeros(OBS_DIM)).shape == (12,)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(WeightsError):
        runner.load_async(bad).result(timeout=10)
    assert runner.active is new
    runner.close()


def test_act_without_policy_and_bad_obs(runner, tmp_path):
    with pytest.raises(RuntimeError, match="no policy loaded"):
        runner.act(np.zeros(OBS_DIM))
    runner.load(_good(tmp_path, runner))
    with pytest.raises(ValueError, match="shape"):
        runner.act(np.zeros(OBS_DIM + 1))


def test_adaptation_file_in_maa_go2_format(tmp_path):
    from safetensors.numpy import save_file

    from maa_go2.checkpoints import read_adaptation

    rng = np.random.default_rng(0)
    w0, b0 = rng.normal(size=(8, 2 * OBS_DIM)).astype(np.float32), rng.normal(size=8).astype(np.float32)
    w1, b1 = rng.normal(size=(3, 8)).astype(np.float32), rng.normal(size=3).astype(np.float32)
    path = tmp_path / "adapt.safetensors"
    save_file({"net.0.weight": w0, "net.0.bias": b0, "net.2.weight": w1, "net.2.bias": b1}, str(path),
              metadata={"history_len": "2", "out_dim": "3"})
    payload = read_adaptation(path)
    assert payload.layout.dims == (2 * OBS_DIM, 8, 3)
    x = rng.normal(size=2 * OBS_DIM).astype(np.float32)
    h = x @ w0.T + b0
    h = np.where(h > 0, h, np.expm1(np.minimum(h, 0)))
    np.testing.assert_allclose(payload.layout.forward_numpy(payload.flat, x), h @ w1.T + b1, rtol=1e-5, atol=1e-5)
    save_file({"net.0.weight": w0}, str(tmp_path / "bad.safetensors"), metadata={"history_len": "3"})
    with pytest.raises(WeightsError, match="do not chain|bias"):
        read_adaptation(tmp_path / "bad.safetensors")

"""training/train.py end to end: tiny preset on a synthetic zoo, kill -9 + --resume, 2-process gloo DDP."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from maa_core.prompt import Trajectory
from maa_generator.data.zoo import Zoo
from maa_generator.models.generator import Generator

ROOT = Path(__file__).resolve().parents[3]
TRAIN = [sys.executable, str(ROOT / "training" / "train.py"), "--config", str(ROOT / "config" / "tiny.yaml")]
SMALL = ["--set", "train.autoencoder.steps=30", "--set", "train.embedding.steps=30", "--set",
         "train.generator.steps=30", "--set", "data.synthetic_per_task=8"]


def _env():
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _run(cmd: list[str], timeout: float) -> subprocess.CompletedProcess:
    """Run in its own process group so a timeout also ends any worker processes it started."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"timed out after {timeout} s: {cmd}\n{out[-2000:]}\n{err[-2000:]}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _summary(stdout: str) -> dict:
    return json.loads([line for line in stdout.splitlines() if line.startswith("{")][-1])


def test_tiny_all_stages_produce_loadable_generator(tmp_path):
    out = tmp_path / "run"
    proc = _run([*TRAIN, "--synthetic", "--out", str(out), *SMALL], 120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = _summary(proc.stdout)
    assert {k: v["step"] for k, v in summary["stages"].items()} == {"autoencoder": 30, "embedding": 30,
                                                                    "generator": 30}
    assert Zoo.open(out / "synthetic_zoo").synthetic
    gen = Generator.load(out / "generator")
    assert gen.domain == "synthetic" and gen.generator_id.startswith("generator@")  # the zoo's domain is recorded
    t = Trajectory(obs=np.random.default_rng(0).normal(size=(80, 8)), act=np.zeros((80, 2)))
    a = gen.generate(t, num_candidates=2, seed=3)
    b = gen.generate(t, num_candidates=2, seed=3)
    assert len(a) == 2 and a[0].flat.shape == (gen.layout.num_params,)
    np.testing.assert_array_equal(a[1].flat, b[1].flat)
    for stage in ("autoencoder", "embedding", "generator"):
        assert (out / "stages" / stage / "best" / "config.yaml").is_file()
    assert any((out / "tb").iterdir())
    # re-running without --resume refuses to overwrite
    again = _run([*TRAIN, "--synthetic", "--out", str(out), *SMALL, "--stage", "embedding"], 60)
    assert again.returncode == 2 and "--resume" in again.stderr


def _last_step(out: Path) -> int:
    """The step a resume would start from: ``last``, or the previous copy a kill during its swap leaves behind
    (the trainer's own ``_existing``; reading only ``last`` saw 0 after a kill that landed mid-swap)."""
    from maa_generator.training.trainer import _existing

    found = _existing(out / "stages" / "autoencoder" / "last")
    state = found / "state.pt" if found is not None else None
    try:
        return int(torch.load(state, weights_only=True)["step"]) if state is not None and state.is_file() else 0
    except Exception:  # being replaced right now
        return 0


def test_sigkill_then_resume_continues_from_saved_step(tmp_path):
    out = tmp_path / "run"
    args = [*TRAIN, "--synthetic", "--out", str(out), "--stage", "autoencoder", "--set", "train.checkpoint_every=10",
            "--set", "data.synthetic_per_task=8"]
    proc = subprocess.Popen([*args, "--set", "train.autoencoder.steps=100000"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=_env())
    try:
        deadline = time.monotonic() + 60
        while _last_step(out) < 30 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    saved = _last_step(out)
    assert saved >= 30
    target = saved + 20
    res = _run([*args, "--resume", "--set", f"train.autoencoder.steps={target}"], 60)
    assert res.returncode == 0, res.stderr[-3000:]
    assert f"resuming from step {saved}" in res.stdout
    stage = _summary(res.stdout)["stages"]["autoencoder"]
    assert stage["resumed_from"] == saved and stage["step"] == target


def test_ddp_two_process_gloo(tmp_path):
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(_free_port()),
           *TRAIN[1:], "--synthetic", "--out", str(out), *SMALL, "--set", "train.autoencoder.steps=10",
           "--set", "train.embedding.steps=10", "--set", "train.generator.steps=10"]
    proc = _run(cmd, 120)
    assert proc.returncode == 0, (proc.stdout[-2000:], proc.stderr[-3000:])
    assert "world_size=2" in proc.stdout
    summary = _summary(proc.stdout)
    assert summary["stages"]["generator"]["step"] == 10
    Generator.load(out / "generator")
    assert not any(p.name.startswith(".tmp-") for p in (out / "stages" / "generator").iterdir())


@pytest.mark.parametrize("bad", [["--set", "train.nope=1"], ["--stage", "autoencoder"]])
def test_cli_errors_are_clear(tmp_path, bad):
    res = _run([*TRAIN, "--out", str(tmp_path / "r"), *bad], 60)
    assert res.returncode == 2
    assert "unknown key" in res.stderr or "no policy zoo" in res.stderr


def test_generator_stage_fine_tunes_another_runs_diffusion(tmp_path):
    """train.generator.init_from: a run on another zoo (other obs size, same latent shape) starts from run A's
    diffusion weights; a diffusion of another shape is refused with a clear error."""
    from maa_generator.data.checkpoint import load_checkpoint

    base = tmp_path / "a"
    assert _run([*TRAIN, "--synthetic", "--out", str(base), *SMALL], 120).returncode == 0
    other_zoo = ["--set", "data.synthetic_layout={obs_dim: 10, action_dim: 3, hidden: [32, 32]}"]
    tuned = tmp_path / "b"
    proc = _run([*TRAIN, "--synthetic", "--out", str(tuned), *SMALL, *other_zoo, "--set",
                 f"train.generator.init_from={base}", "--set", "train.generator.steps=1", "--set",
                 "train.generator.lr=1e-12", "--set", "train.generator.warmup_steps=0"], 120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"initialized from {base}" in proc.stdout

    def unet(run):
        state = load_checkpoint(run / "stages" / "generator" / "last" / "model").state["module"]
        # the network (not its EMA copy, which took one update, nor the top-level normalizers, refit on B's data)
        return {k: v for k, v in state.items() if "." in k and not k.startswith("ema.")}

    a, b = unet(base), unet(tuned)
    assert a.keys() == b.keys() and len(a) > 10
    assert max(float((a[k].float() - b[k].float()).abs().max()) for k in a) < 1e-6  # A's weights, not a fresh init
    bad = _run([*TRAIN, "--synthetic", "--out", str(tmp_path / "c"), *SMALL, "--set", "autoencoder.latent_channels=8",
                "--set", f"train.generator.init_from={base}"], 120)
    assert bad.returncode != 0 and "does not fit this one" in bad.stderr


def test_generator_stage_fine_tunes_from_a_saved_generation_only_generator(tmp_path):
    """train.generator.init_from may name a saved generator (e.g. the bundled one): a generation-only bundle's EMA
    denoiser initializes the network; a folder that is neither a run nor a generator is refused clearly."""
    from maa_generator.data.checkpoint import load_checkpoint
    from maa_generator.models.generator import Generator

    base = tmp_path / "a"
    assert _run([*TRAIN, "--synthetic", "--out", str(base), *SMALL], 120).returncode == 0
    bundle = Generator.load(base / "generator").save(tmp_path / "bundle", generation_only=True)
    tuned = tmp_path / "b"
    proc = _run([*TRAIN, "--synthetic", "--out", str(tuned), *SMALL, "--set", f"train.generator.init_from={bundle}",
                 "--set", "train.generator.steps=1", "--set", "train.generator.lr=1e-12", "--set",
                 "train.generator.warmup_steps=0"], 120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"initialized from {bundle}" in proc.stdout
    src = Generator.load(bundle).diffusion.ema.state_dict()
    got = load_checkpoint(tuned / "stages" / "generator" / "last" / "model").state["module"]
    net = {k[len("unet."):]: v for k, v in got.items() if k.startswith("unet.")}
    assert net.keys() == src.keys() and len(src) > 10
    assert max(float((net[k].float() - src[k].float()).abs().max()) for k in src) < 1e-6
    (tmp_path / "empty").mkdir()
    bad = _run([*TRAIN, "--synthetic", "--out", str(tmp_path / "c"), *SMALL, "--set",
                f"train.generator.init_from={tmp_path / 'empty'}"], 120)
    assert bad.returncode != 0 and "expected a training run directory" in bad.stderr

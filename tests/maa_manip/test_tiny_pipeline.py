"""The MetaWorld CI preset end to end, as a user runs it: collect -> train -> generate -> evaluate (~2 min).

Runs the three documented commands (docs/manipulation.md) as subprocesses into a temporary directory and checks
what each leaves behind: a zoo with recorded provenance, a loadable generator, and an evaluation whose numbers
are success rates of single policies for every method of the protocol.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
pytest.importorskip("metaworld")


def _run(*args: str, timeout: float = 300) -> str:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, f"{args[0]} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def test_collect_train_generate_evaluate(tmp_path):
    zoo, run, out = tmp_path / "zoo", tmp_path / "run", tmp_path / "eval"
    _run("training/collect_metaworld.py", "--config", "config/metaworld_tiny.yaml", "--root", str(zoo))
    from maa_generator.data.zoo import Zoo

    z = Zoo.open(zoo)
    assert z.num_checkpoints == 12 and z.tasks == ["reach"]  # 3 seeds x 4 DAgger iterations
    assert all(m["collector"].startswith("dagger") and "seed" in m and "step" in m for m in z.metadata)
    assert (zoo / "zoo.json").exists() and json.loads((zoo / "zoo.json").read_text())["config"]["tasks"] == ["reach"]

    _run("training/train.py", "--config", "config/tiny.yaml", "--zoo", str(zoo), "--out", str(run))
    from maa_generator.models.generator import Generator

    gen = Generator.load(run / "generator")
    assert gen.layout == z.layout and gen.domain == "metaworld"
    # the simulator-free training-fit check: generated vs reconstructed vs another checkpoint, latent distances
    last = _run("training/check_generator_fit.py", str(run), "--zoo", str(zoo), "--rows", "4", "--guidance", "1.0")
    fit = json.loads((run / "generator_fit.json").read_text())["tasks"][0]
    assert fit["task"] == "reach" and len(fit["rows"]) == 4 and len(set(fit["rows"])) == 4
    assert set(fit["action_mse"]) == {"other_checkpoint", "ae_reconstruction", "generated[default]", "generated[1]"}
    assert all(np.isfinite(x) and x >= 0 for x in [*fit["action_mse"].values(), *fit["latent"].values()])
    assert fit["latent"]["train_nn_median"] > 0  # a checkpoint's own latent is not its nearest neighbour
    assert json.loads(last.strip().splitlines()[-1])["bank"] == "cache/latents.npy"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    bad = subprocess.run([sys.executable, "training/check_generator_fit.py", str(run), "--zoo", str(zoo), "--guidance",
                          "2.0"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "needs a model trained with diffusion.cond_dropout" in bad.stderr

    last = _run("training/evaluate.py", "--config", "config/metaworld_eval_tiny.yaml", "--zoo", str(zoo),
                "--generator", str(run / "generator"), "--out", str(out), "--video", str(tmp_path / "clips"),
                "--video-prompts", "1", "--set", "save_policies=true").strip().splitlines()[-1]
    assert json.loads(last)["methods"] == ["bc", "maa", "random", "retrieval", "retrieval_noise", "source"]
    res = json.loads((out / "results.json").read_text())
    for method, by_task in res["results"]["seen"].items():
        m = by_task["reach"]
        assert m["num_policies"] == 4, method
        assert 0.0 <= m["qualified"] <= m["mean"] <= m["top10"] <= m["top5"] <= 1.0, method
    assert 1 <= res["prompts"]["reach"]["distinct_checkpoints"] <= 4 and res["prompts"]["reach"]["candidates"] == 12
    sim = res["similarity"]["reach"]
    assert sim["method"] == "maa" and -1.0 <= sim["cos_to_source_mean"] <= 1.0
    assert 0.0 < sim["cos_to_nearest_train_mean"] <= 1.0 + 1e-6
    assert (out / "results.md").read_text().count("| reach |") >= 1 and list((out / "plots").glob("reach_*.png"))
    assert np.isfinite(res["seconds"])
    clips = tmp_path / "clips"  # --video: a clip per method, side by side, hand paths, an index page
    index = (clips / "index.md").read_text()
    for method in ("maa", "retrieval", "source", "bc"):
        assert f"![{method}](reach_prompt0_{method}.gif)" in index and (clips / f"reach_prompt0_{method}.gif").is_file()
    assert (clips / "reach_prompt0_side_by_side.gif").is_file() and (clips / "reach_prompt0_paths.png").is_file()

    # the saved policies feed the memorization analysis with its rolled-out baselines
    mem_out = tmp_path / "memorization"
    last = _run("training/memorization_metaworld.py", "--eval", str(out), "--out", str(mem_out), "--per-task", "3",
                "--zoo", str(zoo), "--sample", "8", "--prefilter", "0").strip().splitlines()[-1]
    report = json.loads((mem_out / "memorization.json").read_text())
    assert json.loads(last)["seen"]["num_generated"] == 3 and set(report["summary"]) == {"seen", "all"}
    seen = report["summary"]["seen"]
    assert set(seen["success"]) == {"generated", "nearest", "noise_matched", "average2", "interpolation"}
    assert seen["frac_replica"] + seen["frac_interpolation"] + seen["frac_novel"] == 1.0
    saved = np.load(out / "policies" / "reach.npz")
    gen_success = saved["maa__success"].mean(1)
    assert [r["success_generated"] for r in report["policies"]] == [float(gen_success[i]) for i in (0, 2, 3)]
    assert all(r["nearest_task"] == "reach" for r in report["policies"])
    assert (mem_out / "memorization_seen.png").is_file() and (mem_out / "success.png").is_file()

    # per-task prompt seeding: a rerun reuses the finished tasks (resume) and reproduces the results exactly
    again = ["training/evaluate.py", "--config", "config/metaworld_eval_tiny.yaml", "--zoo", str(zoo), "--generator",
             str(run / "generator"), "--out", str(tmp_path / "resumable"), "--baselines", "retrieval", "--set",
             "prompt_seed_per_task=true", "--set", "plots=0"]
    _run(*again)
    first = json.loads((tmp_path / "resumable" / "results.json").read_text())
    assert (tmp_path / "resumable" / "tasks" / "reach.json").is_file()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, *again], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "reusing the finished task" in proc.stderr
    second = json.loads((tmp_path / "resumable" / "results.json").read_text())
    assert second["results"] == first["results"] and second["prompts"] == first["prompts"]


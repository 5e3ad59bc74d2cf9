"""Robosuite evaluation protocol: evaluate_policies_robosuite, the config, and training/evaluate_robosuite.py end to end
on a tiny Panda zoo collected by the DAgger collector (evaluated on Sawyer)."""
from __future__ import annotations

import importlib.util
import json
import logging
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("robosuite")

from maa_core.config import ConfigError  # noqa: E402
from maa_core.layout import metaworld_sac_layout  # noqa: E402
from maa_generator.data.zoo import Zoo, ZooWriter, prompt_spec  # noqa: E402
from maa_generator.models.config import ModelConfig  # noqa: E402
from maa_generator.models.generator import Generator  # noqa: E402
from maa_manip import robosuite_eval  # noqa: E402
from maa_manip.config import load_collect_config  # noqa: E402
from maa_manip.eval_protocol import load_task_policies  # noqa: E402
from maa_manip.evaluation import task_metrics  # noqa: E402
from maa_manip.jobs import open_writer, pending_jobs, run_serial  # noqa: E402
from maa_manip.robosuite_env import VecRobosuite, robosuite_sac_layout  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
METHODS = {"maa", "source", "retrieval", "retrieval_noise", "random", "bc"}


def _cli():
    spec = importlib.util.spec_from_file_location("evaluate_robosuite", ROOT / "training" / "evaluate_robosuite.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def panda_zoo(tmp_path_factory) -> Path:
    """3 DAgger checkpoints of Lift on Panda (30-step episodes, 1 stored episode each)."""
    root = tmp_path_factory.mktemp("panda_zoo")
    overrides = ["seeds=[0]", "episode_steps=30", "store_episodes=1", "tasks=[Lift]", "dagger.iterations=3",
                 "dagger.random_inits=0", "dagger.grad_steps=5"]
    cfg = load_collect_config(ROOT / "config" / "robosuite_dagger.yaml", overrides)
    writer = open_writer(cfg, root)
    run_serial(cfg, writer, pending_jobs(cfg, writer))
    return root


def _generator(path: Path, layout) -> Path:
    """An untrained tiny-preset generator (the evaluation's plumbing, not its quality, is under test)."""
    return Generator.build(layout, ModelConfig.from_yaml(ROOT / "config" / "tiny.yaml")).save(path)


def test_identical_policies_see_identical_configurations(panda_zoo, monkeypatch):
    made = []

    class Recording(VecRobosuite):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)
            self.resets, self.steps = [], [0] * self.num_envs
            for i, env in enumerate(self.envs):
                def step(a, i=i, env=env, real=env.step):
                    self.steps[i] += 1
                    obs, rew, done, succ = real(a)
                    return obs, rew, done, succ or (i == 0 and env.t >= 3)  # env 0 "succeeds" at its 3rd step

                env.step = step

        def reset(self):
            obs = super().reset()
            self.resets.append(obs.copy())
            return obs

    monkeypatch.setattr(robosuite_eval, "VecRobosuite", Recording)
    flat = np.asarray(Zoo.open(panda_zoo).params("Lift")[2], np.float32)
    other = flat.copy()
    other[-1] += 1e-6  # another policy (identical rows are rolled out once), with the same outcome here
    success = robosuite_eval.evaluate_policies_robosuite("Lift", "Panda", np.stack([flat, other]), episodes=2,
                                                         seed=1, steps=15)
    assert success.shape == (2, 2) and success.dtype == bool
    np.testing.assert_array_equal(success[0], success[1])
    assert success[:, 0].all()
    assert len(made) == 1 and made[0].num_envs == 2  # one vectorized env of `episodes` envs serves both policies
    assert [e.init_seed for e in made[0].envs] == [10007, 10008] and {e.init_mode for e in made[0].envs} == {"fixed"}
    r0, r1 = made[0].resets
    np.testing.assert_array_equal(r0, r1)  # every policy starts in the same configurations ...
    assert not np.allclose(r0[0, 14:17], r0[1, 14:17])  # ... which differ across episodes (cube position)
    assert made[0].steps == [2 * 3, 2 * 15]  # an env stops stepping once it succeeded
    with pytest.raises(ValueError, match="shape"):
        robosuite_eval.evaluate_policies_robosuite("Lift", "Panda", flat[None, :100], episodes=1, steps=1)


def test_identical_policies_are_rolled_out_once(panda_zoo, monkeypatch):
    rows = np.asarray(Zoo.open(panda_zoo).params("Lift")[:2], np.float32)
    first, copies = robosuite_eval.distinct_rows(rows[[1, 0, 1, 1, 0]])
    assert first.tolist() == [0, 1] and copies.tolist() == [0, 1, 0, 0, 1]
    resets = []

    class Counting(VecRobosuite):
        def reset(self):
            resets.append(1)
            return super().reset()

    class Bar:
        n = 0

        def update(self, k):
            self.n += k

    monkeypatch.setattr(robosuite_eval, "VecRobosuite", Counting)
    bar = Bar()
    success = robosuite_eval.evaluate_policies_robosuite("Lift", "Panda", rows[[1, 0, 1]], episodes=2, steps=20,
                                                         progress=bar)
    assert len(resets) == 2 and bar.n == 3 and success.shape == (3, 2)
    alone = robosuite_eval.evaluate_policies_robosuite("Lift", "Panda", rows[[0, 1]], episodes=2, steps=20)
    np.testing.assert_array_equal(success, alone[[1, 0, 1]])


def test_config_is_validated():
    load = robosuite_eval.load_robosuite_eval_config
    cfg = load(ROOT / "config" / "robosuite_eval.yaml")
    assert cfg.tasks == ["Lift", "NutAssemblySingle", "Door"] and cfg.eval_robot == "Sawyer" and cfg.num_prompts == 50
    assert load(ROOT / "config" / "robosuite_eval_joint.yaml").zoo == "data/robosuite_zoo"
    assert cfg.episodes == 5 and set(cfg.baselines) == {"retrieval", "retrieval_noise", "random", "bc"}
    assert load(ROOT / "config" / "robosuite_eval_tiny.yaml").tasks == ["Lift"]
    for item, match in (("tasks=[lift]", "unknown robosuite task"), ("eval_robot=UR5e", "eval_robot"),
                        ("baselines=[nn]", "unknown baselines"), ("episodes=0", "episodes"), ("bogus=1", "bogus")):
        with pytest.raises(ConfigError, match=match):
            load(ROOT / "config" / "robosuite_eval.yaml", [item])


@pytest.mark.filterwarnings("error:No artists with labels")  # summarize's plot: the legend is not left empty
def test_cli_evaluates_every_method_on_sawyer(panda_zoo, tmp_path, capsys):
    gen = _generator(tmp_path / "generator", robosuite_sac_layout())
    out = tmp_path / "eval"
    argv = ["--config", str(ROOT / "config" / "robosuite_eval_tiny.yaml"), "--zoo", str(panda_zoo), "--out", str(out),
            "--generator", str(gen), "--num-prompts", "2", "--episodes", "1", "--episode-steps", "10",
            "--set", "bc_steps=5"]
    # robosuite's hard reset (~1-2 s under load) per policy and episode dominates: K * E is kept small
    assert _cli().main(argv) == 0
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(last["methods"]) == METHODS and last["tasks"] == ["Lift"] and last["eval_robot"] == "Sawyer"
    res = json.loads((out / "results.json").read_text())
    assert res["results"]["unseen"] == {} and set(res["results"]["seen"]) == METHODS
    assert res["config"]["seen_tasks"] == ["Lift"] and res["config"]["unseen_tasks"] == []
    assert res["robots"] == {"zoo": "Panda", "prompt_zoo": "Panda", "eval": "Sawyer"}
    assert res["prompts"]["Lift"]["candidates"] == 3 and 1 <= res["prompts"]["Lift"]["distinct_checkpoints"] <= 2
    rows, saved = load_task_policies(out / "policies" / "Lift.npz")
    assert len(rows) == 2 and set(saved) == METHODS
    zoo = Zoo.open(panda_zoo)
    bank = np.asarray(zoo.params("Lift"))
    for method, (params, success) in saved.items():
        m = res["results"]["seen"][method]["Lift"]
        assert m["num_policies"] == 2 and params.shape == (2, 21646) and success.shape == (2, 1)
        assert 0 <= m["qualified"] <= m["mean"] <= m["top10"] <= m["top5"] <= 1
        assert task_metrics(success) == m  # the saved per-episode success is what was scored
    np.testing.assert_array_equal(saved["source"][0], bank[rows])
    assert all((bank == p).all(1).any() for p in saved["random"][0])  # random: training checkpoints as they are
    noise = saved["retrieval_noise"][0] - saved["retrieval"][0]
    assert abs(noise.std() - 0.01) < 0.001
    assert "| maa | Lift |" in (out / "results.md").read_text()
    # a run merges with training/summarize_eval.py
    from maa_manip.eval_protocol import summarize

    summary = summarize([out], tmp_path / "merged", "test", panda_zoo)
    assert summary["seen_top5_mean"] == round(res["results"]["seen"]["maa"]["Lift"]["top5"], 4)
    assert summary["checkpoints_per_task"] == {"Lift": 3}


def test_cli_resumes_task_by_task_with_per_task_prompt_seeds(panda_zoo, tmp_path, capsys, caplog):
    out = tmp_path / "eval"
    argv = ["--config", str(ROOT / "config" / "robosuite_eval_tiny.yaml"), "--zoo", str(panda_zoo), "--out", str(out),
            "--num-prompts", "2", "--episodes", "1", "--episode-steps", "5", "--baselines", "retrieval",
            "--set", "prompt_seed_per_task=true"]
    caplog.set_level(logging.INFO, logger="evaluate_robosuite")
    assert _cli().main(argv) == 0
    first = json.loads((out / "results.json").read_text())
    record = json.loads((out / "tasks" / "Lift.json").read_text())
    assert record["results"] == {m: first["results"]["seen"][m]["Lift"] for m in ("source", "retrieval")}
    caplog.clear()
    assert _cli().main(argv) == 0  # the same command again: the finished task is reused, not evaluated
    assert "reusing the finished task" in caplog.text and "Lift on Sawyer" not in caplog.text
    second = json.loads((out / "results.json").read_text())
    assert second["results"] == first["results"] and second["prompts"] == first["prompts"]
    caplog.clear()
    assert _cli().main([*argv, "--episode-steps", "6"]) == 0  # another protocol: the record is not reused
    assert "reusing" not in caplog.text and "Lift on Sawyer" in caplog.text


def _metaworld_zoo(root: Path) -> Path:
    layout = metaworld_sac_layout()
    writer = ZooWriter(root, "metaworld", layout, prompt_spec("success", 39, 4, 2, 1))
    writer.add_shard("Lift", "dagger-s0000", np.zeros((1, layout.num_params), np.float32), np.zeros((1, 86)),
                     np.zeros((1, 39)), {"seed": 0, "step": 0, "collector": "test", "success": 0.0})
    return root


@pytest.mark.parametrize("case", ["missing_zoo", "wrong_task", "metaworld_zoo", "metaworld_prompt_zoo",
                                  "metaworld_generator"])
def test_cli_errors(case, panda_zoo, tmp_path, capsys):
    argv = ["--config", str(ROOT / "config" / "robosuite_eval_tiny.yaml"), "--zoo", str(panda_zoo),
            "--out", str(tmp_path / "eval")]
    want = {
        "missing_zoo": (lambda: ["--zoo", str(tmp_path / "nowhere")], "zoo: no zoo at"),
        "wrong_task": (lambda: ["--tasks", "Lift,Door"], "no checkpoints of task(s) ['Door']"),
        "metaworld_zoo": (lambda: ["--zoo", str(_metaworld_zoo(tmp_path / "mw"))], "expected robosuite policies"),
        "metaworld_prompt_zoo": (lambda: ["--prompt-zoo", str(_metaworld_zoo(tmp_path / "mw"))], "prompt_zoo: "),
        "metaworld_generator": (lambda: ["--generator", str(_generator(tmp_path / "g", metaworld_sac_layout()))],
                                "generates layout metaworld_sac"),
    }
    make_extra, match = want[case]
    extra = make_extra()
    with pytest.raises(SystemExit) as exc:
        _cli().main(argv + extra)
    assert exc.value.code == 2
    assert match in capsys.readouterr().err
    assert not (tmp_path / "eval").exists()  # refused before any evaluation

"""Style specialists (issue 13): the style grid, each specialist's fine-tuning config, and the resumable driver."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from maa_core.config import ConfigError, from_dict
from maa_go2.styles import StyleSetConfig, StyleSpec

ROOT = Path(__file__).resolve().parents[2]


def test_grid_held_out_and_validation():
    cfg = StyleSetConfig(init_from="x.pt", gaits=["trot", "pronk"], body_heights=[-0.05, 0.0],
                         footswing_heights=[0.08], held_out=["pronk_h0_s80"])
    assert [s.name for s in cfg.grid()] == ["trot_h-50_s80", "trot_h0_s80", "pronk_h-50_s80",
                                            "pronk_h0_s80"]
    assert [s.name for s in cfg.held_out_styles()] == ["pronk_h0_s80"] and len(cfg.zoo_styles()) == 3
    for bad, match in (({"gaits": ["gallop"]}, "gallop"), ({"held_out": ["walk"]}, "not in the grid"),
                       ({"footswing_heights": [0.0]}, "footswing_heights"),
                       ({"observed": {"lin_vel_x": 1.0}}, "lin_vel_x"),
                       ({"gaits": ["trot"], "body_heights": [0.0], "footswing_heights": [0.08],
                         "held_out": ["trot_h0_s80"]}, "zoo would be empty")):
        with pytest.raises(ConfigError, match=match):
            from_dict(StyleSetConfig, bad)


def test_each_specialist_trains_its_style_while_observing_the_defaults():
    cfg = StyleSetConfig(init_from="runs/a/checkpoints/ckpt_00010.pt",
                         base_config=str(ROOT / "config/go2_agility.yaml"), num_envs=32, iterations=7,
                         save_interval=3, seed=5)
    style = StyleSpec("bound", -0.05, 0.11)
    train = cfg.train_config(style, index=2)
    c = train.env.commands
    assert c.gaits == ["bound"] and c.body_height == [-0.05, -0.05] and c.footswing_height == [0.11, 0.11]
    from maa_go2.train_config import load_train_config

    base = load_train_config(ROOT / "config/go2_agility.yaml").env.commands
    assert (c.lin_vel_x, c.ang_vel_yaw, c.gait_frequency) == (base.lin_vel_x, base.ang_vel_yaw, base.gait_frequency)
    assert train.env.fixed_observed_commands == {"gait_phase": 0.5, "gait_offset": 0.0, "gait_bound": 0.0,
                                                 "body_height": 0.0, "footswing_height": 0.08}
    assert not train.env.curriculum.enabled and train.env.num_envs == 32 and train.seed == 7
    assert (train.iterations, train.save_interval, train.keep_checkpoints) == (7, 3, 2)
    assert train.run_dir == str(Path("runs/go2_styles") / "bound_h-50_s110") and train.max_wall_clock_s == 0
    assert train.init_from == "runs/a/checkpoints/ckpt_00010.pt"
    with pytest.raises(ValueError, match="init_from"):
        StyleSetConfig().train_config(style, 0)


def test_shipped_style_grid_holds_out_one_style_per_gait():
    from maa_core.config import load_config

    cfg = load_config(StyleSetConfig, ROOT / "config/go2_styles.yaml", section="styles")
    assert len(cfg.grid()) == 24 and len(cfg.zoo_styles()) == 20
    assert sorted(s.gait for s in cfg.held_out_styles()) == ["bound", "pace", "pronk", "trot"]
    from maa_go2.collect import load_collect_config
    from maa_go2.teleop import TeleopConfig

    collect = load_collect_config(ROOT / "config/go2_collect_styles.yaml")
    per_style = (cfg.iterations - collect.styles_min_iteration) // cfg.save_interval
    assert len(cfg.zoo_styles()) * per_style >= 800 and collect.styles_index == f"{cfg.out}/styles.json"
    t, c = TeleopConfig(), collect.commands  # prompts are recorded with what the specialists observe: deploy defaults
    assert c.gaits == [t.gait] and c.body_height == [t.body_height] * 2
    assert c.footswing_height == [t.footswing_height] * 2 and c.gait_frequency == [t.gait_frequency] * 2


def test_sixth_run_styles_start_from_its_final_checkpoint_with_the_same_grid():
    import dataclasses

    from maa_core.config import load_config
    from maa_go2.collect import load_collect_config
    from maa_go2.train_config import load_train_config

    v2 = load_config(StyleSetConfig, ROOT / "config/go2_styles.yaml", section="styles")
    v6 = load_config(StyleSetConfig, ROOT / "config/go2_styles_v6.yaml", section="styles")
    assert dataclasses.replace(v6, base_config=v2.base_config, init_from=v2.init_from, out=v2.out) == v2
    run = load_train_config(ROOT / v6.base_config)
    assert v6.init_from == f"{run.run_dir}/checkpoints/ckpt_{run.iterations:05d}.pt"  # the run's final checkpoint
    c2 = load_collect_config(ROOT / "config/go2_collect_styles.yaml")
    c6 = load_collect_config(ROOT / "config/go2_collect_styles_v6.yaml")
    assert [str(r) for r in c6.runs] == [run.run_dir] and c6.styles_index == f"{v6.out}/styles.json"
    assert dataclasses.replace(c6, runs=c2.runs, styles_index=c2.styles_index, out=c2.out,
                               adaptation=c2.adaptation) == c2
    assert c6.adaptation == f"{run.run_dir}/adaptation/adaptation_{run.iterations:05d}.safetensors"
    assert str(c6.out) != str(c2.out)


def _style_set_on_agility_run(name: str):
    """``config/go2_styles_<name>.yaml`` and its base run's train config, after the checks every such set shares: the
    second run's grid, specialists of one gait each that start from ``init_from`` without its curriculum and on the
    run's randomization, and a zoo collected from the run with the adaptation module saved beside ``init_from``."""
    import dataclasses

    from maa_core.config import load_config
    from maa_go2.collect import load_collect_config
    from maa_go2.train_config import load_train_config

    v2 = load_config(StyleSetConfig, ROOT / "config/go2_styles.yaml", section="styles")
    styles = load_config(StyleSetConfig, ROOT / f"config/go2_styles_{name}.yaml", section="styles")
    assert dataclasses.replace(styles, base_config=v2.base_config, init_from=v2.init_from, out=v2.out) == v2
    run = load_train_config(ROOT / styles.base_config)
    spec = dataclasses.replace(styles, base_config=str(ROOT / styles.base_config))
    for style in spec.zoo_styles():
        train = spec.train_config(style, 0)
        assert train.init_from == styles.init_from and train.init_curriculum is False
        assert train.env.commands.gaits == [style.gait] and train.env.domain_rand == run.env.domain_rand
    zoo = load_collect_config(ROOT / f"config/go2_collect_styles_{name}.yaml")
    assert [str(r) for r in zoo.runs] == [run.run_dir] and zoo.styles_index == f"{styles.out}/styles.json"
    assert zoo.adaptation == styles.init_from.replace("checkpoints/ckpt_", "adaptation/adaptation_").replace(
        ".pt", ".safetensors")
    return styles, run


def test_seventh_run_styles_start_from_its_last_checkpoint_without_its_curriculum():
    """The seventh run fine-tunes with init_curriculum; its specialists must not inherit that (their gaits are one)."""
    styles, run = _style_set_on_agility_run("v7")
    assert run.init_curriculum and styles.init_from.startswith(f"{run.run_dir}/checkpoints/ckpt_")


def test_twelfth_run_styles_start_from_the_distilled_student():
    """The twelfth run is a distillation (its own config, with a distill: section); its specialists fine-tune the
    student's final checkpoint with PPO."""
    styles, run = _style_set_on_agility_run("v12")
    assert styles.init_from == f"{run.run_dir}/checkpoints/ckpt_{run.iterations:05d}.pt"


def _run(args, cwd):
    return subprocess.run([sys.executable, str(ROOT / "training/finetune_go2_styles.py"), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A 1-iteration tiny base run and the driver's output for two styles (pronk in the zoo, trot held out)."""
    from maa_go2.train import train
    from maa_go2.train_config import load_train_config

    tmp_path = tmp_path_factory.mktemp("styles")
    base = load_train_config(ROOT / "config/go2_tiny.yaml", [f"train.run_dir={tmp_path / 'base'}",
                                                           "train.iterations=1", "train.save_interval=1",
                                                           "train.env.num_envs=4"])
    train(base, progress=False)
    spec = {"styles": {"base_config": str(ROOT / "config/go2_tiny.yaml"),
                       "init_from": str(tmp_path / "base/checkpoints/ckpt_00001.pt"), "out": str(tmp_path / "styles"),
                       "gaits": ["pronk", "trot"], "body_heights": [0.0], "footswing_heights": [0.08],
                       "held_out": ["trot_h0_s80"], "iterations": 2, "save_interval": 1, "num_envs": 4}}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(spec))
    out = _run(["--config", str(tmp_path / "s.yaml")], tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    return tmp_path


def test_driver_trains_every_style_skips_finished_ones_and_indexes_them(world):
    tmp_path = world
    index = json.loads((tmp_path / "styles/styles.json").read_text())
    rows = {r["name"]: r for r in index["styles"]}
    assert rows["pronk_h0_s80"]["iterations"] == 2 and rows["pronk_h0_s80"]["in_zoo"]
    assert rows["trot_h0_s80"]["iterations"] == 2 and not rows["trot_h0_s80"]["in_zoo"]  # trained too
    assert index["train_wall_clock_s"] > 0
    run = tmp_path / "styles/pronk_h0_s80"
    assert len(list((run / "actors").glob("actor_*.safetensors"))) == 2
    assert len(list((run / "checkpoints").glob("ckpt_*.pt"))) == 2
    saved = yaml.safe_load((run / "config.yaml").read_text())["train"]
    assert saved["env"]["commands"]["gaits"] == ["pronk"] and saved["init_from"].endswith("ckpt_00001.pt")
    before = (run / "summary.json").read_text()
    again = _run(["--config", str(tmp_path / "s.yaml")], tmp_path)  # finished styles are skipped
    assert again.returncode == 0 and (run / "summary.json").read_text() == before
    bad = _run(["--config", str(tmp_path / "s.yaml"), "--set", "styles.held_out=[walk]"], tmp_path)
    assert bad.returncode == 2 and "not in the grid" in bad.stderr


def test_style_zoo_collection_and_evaluation_against_retrieval(world, tmp_path):
    """The zoo takes the zoo styles (not the held-out one) with their descriptors; the evaluation scores generated,
    screened, retrieved, random and source actors on the held-out and the seen style and writes the issue's keys."""
    from maa_go2.collect import CollectConfig, collect

    adaptation = str(world / "base/adaptation/adaptation_00001.safetensors")
    ccfg = CollectConfig(runs=[str(world / "base")], styles_index=str(world / "styles/styles.json"),
                         styles_min_iteration=2, adaptation=adaptation, out=str(tmp_path / "zoo"), seconds=4.0, n=40,
                         m=10, segments=5)
    assert collect(ccfg) == ["go2_walk__base", "go2_walk__pronk_h0_s80"]
    shard = tmp_path / "zoo/shards/go2_walk__pronk_h0_s80"
    meta = json.loads((shard / "shard.json").read_text())["meta"]
    assert meta["step"] == [2] and len(meta["behavior"]) == 1
    stamp = (shard / "shard.json").stat().st_mtime_ns
    assert collect(ccfg) == ["go2_walk__base", "go2_walk__pronk_h0_s80"]  # collected runs are skipped
    assert (shard / "shard.json").stat().st_mtime_ns == stamp
    with pytest.raises(FileNotFoundError, match="finetune_go2_styles"):
        collect(CollectConfig(runs=[], styles_index=str(tmp_path / "none.json"), adaptation=ccfg.adaptation,
                              out=str(tmp_path / "zoo2")))

    (tmp_path / "c.yaml").write_text(yaml.safe_dump({"collect": {"adaptation": adaptation, "seconds": 4.0}}))
    out = subprocess.run([sys.executable, str(ROOT / "training/evaluate_go2_styles.py"), "--generator",
                          str(ROOT / "models/go2/generator"), "--zoo", str(tmp_path / "zoo"), "--styles-index",
                          str(world / "styles/styles.json"), "--collect-config", str(tmp_path / "c.yaml"), "--out",
                          str(tmp_path / "res"), "--work", str(tmp_path / "work"), "--seen", "1",
                          "--prompts-per-style", "1", "--candidates", "2", "--behavior-seconds", "1",
                          "--behavior-envs", "2", "--sweep-seconds", "2", "--sweep-envs", "3"],
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    summary = json.loads((tmp_path / "res/summary.json").read_text())
    for key in ("seen_generated_behavior_match", "seen_source_behavior_match", "heldout_generated_behavior_match",
                "heldout_nn_behavior_match", "heldout_random_behavior_match", "heldout_generated_yaw_error",
                "heldout_nn_yaw_error", "heldout_generated_vx_error", "heldout_nn_vx_error",
                "heldout_generated_survival"):
        assert 0.0 <= summary[key] < 10.0, key
    assert summary["num_checkpoints"] == 2
    rows = summary["styles_eval"]["per_prompt"]
    assert [(r["split"], r["style"]) for r in rows] == [("heldout", "trot_h0_s80"), ("seen", "pronk_h0_s80")]
    assert all(len(r["candidates"]) == 2 and len(r["screen_scores"]) == 2 for r in rows)
    assert (tmp_path / "res/styles_eval.md").read_text().count("| heldout |") == 5
    assert (tmp_path / "res/styles_eval.png").stat().st_size > 1000


def _style_evaluator():
    import importlib.util

    sys.path.insert(0, str(ROOT / "training"))  # the script imports its sibling evaluate_go2_generator
    spec = importlib.util.spec_from_file_location("evaluate_go2_styles", ROOT / "training" / "evaluate_go2_styles.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_style_evaluation_picks_named_styles_and_keys_results_by_generator(tmp_path):
    ev = _style_evaluator()
    index = {"styles": [{"name": "trot_h0_s80", "gait": "trot", "in_zoo": False},
                        {"name": "pronk_h0_s80", "gait": "pronk", "in_zoo": True},
                        {"name": "pace_h0_s80", "gait": "pace", "in_zoo": True}]}
    assert [(s, r["name"]) for s, r in ev.eval_styles(index, seen=1)] == [("heldout", "trot_h0_s80"),
                                                                           ("seen", "pronk_h0_s80")]
    assert [(s, r["name"]) for s, r in ev.eval_styles(index, 1, ["pace_h0_s80", "trot_h0_s80"])] == [
        ("seen", "pace_h0_s80"), ("heldout", "trot_h0_s80")]
    with pytest.raises(ValueError, match="unknown styles \\['gallop'\\]"):
        ev.eval_styles(index, 1, ["gallop"])
    # a style's prompt seed depends on the style only, not on which other styles run with it
    assert ev.style_number(index, "pace_h0_s80") == 2
    for name, digest in (("a", "1" * 64), ("b", "2" * 64)):  # two generators' recorded weight checksums
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text(json.dumps({"format_version": 1, "config": {}, "tensors": {},
                                                                 "sha256": digest}))
    a, b = ev.generator_fingerprint(tmp_path / "a"), ev.generator_fingerprint(tmp_path / "b")
    assert a != b and a == "1" * 12


def test_describe_styles_reads_every_specialist_like_a_prompt(world, tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "training/describe_go2_styles.py"), "--styles-index",
                          str(world / "styles/styles.json"), "--base",
                          str(sorted((world / "base/actors").glob("actor_*.safetensors"))[-1]), "--adaptation",
                          str(world / "base/adaptation/adaptation_00001.safetensors"), "--out",
                          str(tmp_path / "gaits.md")], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    table = json.loads((tmp_path / "gaits.json").read_text())
    assert list(table) == ["base", "pronk_h0_s80", "trot_h0_s80"]
    assert table["trot_h0_s80"]["split"] == "held out" and table["pronk_h0_s80"]["split"] == "zoo"
    assert all(0.05 < r["stance_height"] < 0.5 and isinstance(r["fell"], bool) for r in table.values())
    md = (tmp_path / "gaits.md").read_text()
    assert md.startswith("Command: `python ") and md.count("\n| ") == 4  # header + 3 rows

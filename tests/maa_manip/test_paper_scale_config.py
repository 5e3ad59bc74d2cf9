"""Issue 16: the paper-scale collection config and script hold the paper's task split and outside validation tasks."""
import re
from pathlib import Path

from maa_manip.config import load_collect_config

ROOT = Path(__file__).resolve().parents[2]
PAPER_SEEN = {"window-open", "door-open", "drawer-open", "dial-turn", "faucet-close", "button-press", "door-unlock",
              "handle-press", "plate-slide", "reach"}
PAPER_UNSEEN = {"window-close", "door-close", "drawer-close", "faucet-open", "button-press-wall", "door-lock",
                "handle-press-side", "coffee-button", "reach-wall"}


def _script_list(name: str) -> set[str]:
    text = (ROOT / "scripts/reproduce_metaworld_paper.sh").read_text()
    return set(re.search(rf'^{name}="([^"]+)"', text, re.M).group(1).split())


def test_paper_scale_collection_has_the_paper_split_and_1000_checkpoints_per_seen_task():
    from maa_manip.envs import expert_policy

    cfg = load_collect_config(ROOT / "config/metaworld_paper_dagger.yaml")
    assert set(cfg.tasks) == PAPER_SEEN and cfg.collector == "dagger"
    assert len(cfg.seeds) * cfg.dagger.iterations >= 1000  # checkpoints per seen task
    unseen, validation = _script_list("UNSEEN"), _script_list("VALIDATION")
    assert unseen == PAPER_UNSEEN
    assert len(validation) <= 5 and not validation & (PAPER_SEEN | PAPER_UNSEEN)
    for task in sorted(PAPER_SEEN | unseen | validation):  # every task has the scripted expert DAgger learns from
        assert expert_policy(task) is not None, task


def test_generator_and_evaluation_configs_keep_the_split():
    from maa_generator.training.trainer import load_run_config
    from maa_manip.config import load_eval_config

    gen = load_run_config(ROOT / "config/metaworld_paper.yaml", [])
    assert set(gen.data.tasks) == PAPER_SEEN and gen.data.zoo == "data/metaworld_paper_zoo"  # unseen never trained on
    ev = load_eval_config(ROOT / "config/metaworld_eval_paper.yaml")
    assert set(ev.seen_tasks) == PAPER_SEEN and set(ev.unseen_tasks) == PAPER_UNSEEN and ev.num_prompts >= 50
    collect = load_collect_config(ROOT / "config/metaworld_paper_dagger.yaml")
    assert ev.prompt_max_iteration < collect.dagger.iterations // 2 and ev.prompt_needs_success  # early stage
    val = load_eval_config(ROOT / "config/metaworld_eval_paper_val.yaml")
    assert set(val.unseen_tasks) == _script_list("VALIDATION") and val.splits == ["unseen"]
    assert set(val.seen_tasks) == PAPER_SEEN  # same training set and retrieval bank as the reported evaluation


def test_eval_configs_share_the_prompt_protocol_checks():
    import pytest

    from maa_core.config import ConfigError
    from maa_manip.config import PromptProtocolConfig, load_eval_config
    from maa_manip.robosuite_eval import RobosuiteEvalConfig, load_robosuite_eval_config

    assert issubclass(RobosuiteEvalConfig, PromptProtocolConfig)
    for load, path in ((load_eval_config, "config/metaworld_eval_paper.yaml"),
                       (load_robosuite_eval_config, "config/robosuite_eval.yaml")):
        for item, match in (("prompt_min_success=1.5", "prompt_min_success must be in"),
                            ("prompt_max_iteration=-1", "prompt_max_iteration must be >= 0"),
                            ("baselines=[nn]", "unknown baselines"), ("bc_steps=0", "bc_steps must be >= 1"),
                            ("zoo=''", "zoo must name"), ("episode_steps=0", "episode_steps")):
            with pytest.raises(ConfigError, match=match):
                load(ROOT / path, [item])
    with pytest.raises(ConfigError, match="splits must be"):
        load_eval_config(ROOT / "config/metaworld_eval_paper.yaml", ["splits=[train]"])


def test_robosuite_zoo_is_collected_by_two_configs_into_one_zoo():
    """Lift and Door at 60 gradient steps per DAgger iteration, NutAssemblySingle at 500, into the zoo the robosuite
    generator trains on; together they cover its tasks, and the reproduce script runs both."""
    from maa_core.config import load_yaml

    main = load_collect_config(ROOT / "config/robosuite_dagger.yaml")
    nut = load_collect_config(ROOT / "config/robosuite_dagger_nut.yaml")
    assert (main.tasks, main.dagger.grad_steps) == (["Lift", "Door"], 60)
    assert (nut.tasks, nut.dagger.grad_steps) == (["NutAssemblySingle"], 500)
    assert main.root == nut.root and main.seeds == nut.seeds and main.dagger.iterations == nut.dagger.iterations
    generator = load_yaml(ROOT / "config/robosuite_paper.yaml")["data"]
    assert generator["zoo"] == main.root and set(generator["tasks"]) == set(main.tasks) | set(nut.tasks)
    script = (ROOT / "scripts/reproduce_metaworld_paper.sh").read_text()
    assert "config/robosuite_dagger.yaml" in script and "config/robosuite_dagger_nut.yaml" in script

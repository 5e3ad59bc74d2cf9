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

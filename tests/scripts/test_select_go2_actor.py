import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import select_go2_actor as sel  # noqa: E402

ACTOR = ROOT / "results" / "go2" / "actor_seed0_it475.safetensors"
ADAPTATION = ROOT / "results" / "go2" / "adaptation_module.safetensors"


def _targets(**values):
    """check_targets-like dict: every selection target met unless given as (value, met)."""
    out = {k: {"value": 0.0, "met": True} for k in sel.SELECTION_TARGETS}
    for k, (v, met) in values.items():
        out[k] = {"value": v, "met": met}
    return out


def test_more_targets_met_wins_then_the_smaller_shortfall():
    one_miss_far = _targets(fast_backward_success=(0.5, False))
    one_miss_near = _targets(yaw_error=(0.21, False))
    two_miss_near = _targets(yaw_error=(0.201, False), fast_backward_success=(0.89, False))
    assert abs(sel.shortfall(one_miss_near) - 0.05) < 1e-12  # |0.21 - 0.2| / 0.2
    assert abs(sel.shortfall(one_miss_far) - (0.9 - 0.5) / 0.9) < 1e-12
    ranked = sorted({"far": one_miss_far, "near": one_miss_near, "two": two_miss_near}.items(),
                    key=lambda kv: sel.rank_key(kv[1]))
    assert [name for name, _ in ranked] == ["near", "far", "two"]
    # the training budget does not count: every actor of a run has the same
    assert "train_wall_clock_s" not in sel.SELECTION_TARGETS


def test_selection_command_evaluates_resumes_and_names_the_chosen_actor(tmp_path):
    run = tmp_path / "run"
    (run / "actors").mkdir(parents=True)
    (run / "adaptation").mkdir()
    for it in (10, 20, 30):
        shutil.copy(ACTOR, run / "actors" / f"actor_{it:05d}.safetensors")
    shutil.copy(ADAPTATION, run / "adaptation" / "adaptation_00030.safetensors")
    out = tmp_path / "sel"
    done = str(run / "actors" / "actor_00020.safetensors")
    # actor 20 was evaluated by an earlier call (a record that meets every target); actor 30 is evaluated now
    out.with_suffix(".json").write_text(json.dumps({"run": str(run), "seed": 3, "randomization": "library defaults",
                                                    "targets": {done: _targets()}}))
    cmd = [sys.executable, str(ROOT / "scripts" / "select_go2_actor.py"), "--run", str(run), "--last", "2",
           "--seed", "3", "--num-envs", "6", "--episodes", "1", "--seconds", "2.5", "--randomization", "default",
           "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    saved = json.loads(out.with_suffix(".json").read_text())
    assert [Path(a).name for a in saved["targets"]] == ["actor_00020.safetensors", "actor_00030.safetensors"]
    fresh = saved["targets"][str(run / "actors" / "actor_00030.safetensors")]
    assert set(fresh) >= set(sel.SELECTION_TARGETS) and saved["targets"][done] == _targets()
    assert sel.rank_key(fresh) > sel.rank_key(_targets())  # the trained-for-trot actor misses some targets
    assert proc.stdout.strip().splitlines()[-1] == done
    md = out.with_suffix(".md").read_text()
    assert "`actor_00020.safetensors` (chosen)" in md and "`actor_00030.safetensors` |" in md
    other = subprocess.run(cmd[:cmd.index("--seed") + 1] + ["4"] + cmd[cmd.index("--seed") + 2:], capture_output=True,
                           text=True, timeout=60)
    assert other.returncode != 0 and "choose another --out" in other.stderr

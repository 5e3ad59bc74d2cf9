"""`make demo`, second part (issue 13): two bundled prompts of different styles, each generated and hot-swapped in
while the robot walks, with the walked gait measured next to what the prompt shows.

For each prompt file the demo sends ``/generate_policy`` a request that carries the prompt itself, waits for the
deploy node to activate the new actor (a hot swap between control ticks: the robot keeps walking at ``vx``), lets it
settle, records the deploy node's ``~/step`` (the observations the actor acted on), and measures both the prompt and
the walk with :func:`maa_go2.style_eval.observed_gait` (step frequency, leg lags behind FL, stance height), so the
two rows are read the same way. ``/cmd_vel`` is published from a timer the whole time, also while generating.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np

#: the bundled style prompts (scripts/reproduce_go2_styles.sh bundle): (label, file)
STYLE_PROMPTS = (("tall trot", "prompts/go2_style_tall_trot.npz"),
                 ("crouched pronk", "prompts/go2_style_crouched_pronk.npz"))
FIGURES = ("step_frequency", "lag_FR", "lag_RL", "lag_RR", "stance_height")


class StyleDemoError(RuntimeError):
    """A style prompt could not be generated, activated or walked (the message says which and why)."""


def bundled_style_prompts(root: Path) -> list[tuple[str, Path]]:
    """The style prompts that exist under ``root`` (the demo skips the style part when there are none)."""
    return [(label, root / rel) for label, rel in STYLE_PROMPTS if (root / rel).is_file()]


def _row(label: str, figures: dict) -> str:
    cells = " ".join(f"{figures[k]:6.3f}" if math.isfinite(figures[k]) else "   nan" for k in FIGURES)
    return f"    {label:<28} {cells}"


def walk_styles(node, prompts: list[tuple[str, Path]], events: list, modes: list, candidates: int, screen: bool,
                vx: float = 0.5, settle_s: float = 1.5, record_s: float = 5.0) -> list[dict]:
    """Generate from each prompt and hot-swap the actor in while walking at ``vx`` [m/s]; prints the figures.

    ``node`` must not spin elsewhere; the robot must already be walking under a policy (POLICY mode). Returns one
    ``{"style", "prompt", "walked", "swap_s"}`` per prompt (figures of :func:`observed_gait`).

    Raises:
        StyleDemoError: a generation failed, the deploy node did not activate the actor, or the walk stopped.
    """
    from geometry_msgs.msg import Twist

    from maa_core.prompt_io import load_prompt
    from maa_generator.ros.client import call_service, spin_until
    from maa_generator.ros.convert import trajectory_to_msg
    from maa_go2.style_eval import observed_gait
    from maa_msgs.msg import PolicyStep
    from maa_msgs.srv import GeneratePolicy

    cmd_pub = node.create_publisher(Twist, "/cmd_vel", 10)
    twist = Twist()
    twist.linear.x = vx
    timer = node.create_timer(0.05, lambda: cmd_pub.publish(twist))  # fires while call_service spins the node
    steps: list[np.ndarray] = []
    recording = {"on": False}

    def on_step(msg) -> None:
        if recording["on"]:
            steps.append(np.asarray(msg.observation, dtype=np.float64))

    sub = node.create_subscription(PolicyStep, "/maa_deploy/step", on_step, 200)
    print(f"  styles: two bundled prompts, each generated and hot-swapped in while walking at vx = {vx} m/s")
    print("    " + " " * 28 + " ".join(f"{k[:6]:>6}" for k in FIGURES) + "   (Hz, cycles behind FL, m)")
    results = []
    try:
        for label, path in prompts:
            traj = load_prompt(path)
            req = GeneratePolicy.Request(prompt=trajectory_to_msg(traj, source=f"file:{path}"),
                                         use_latest_prompt=False, num_candidates=candidates, seed=0, screen=screen)
            t0 = time.perf_counter()
            res = call_service(node, GeneratePolicy, "/generate_policy", req, timeout=300)
            if res.error_code != 0:
                raise StyleDemoError(f"{label}: generation failed: error_code={res.error_code}: {res.error_msg}")
            checksum = res.weights.checksum[:12]
            if not spin_until(node, lambda c=checksum: any("policy active" in e and c in e for e in events), 30):
                raise StyleDemoError(f"{label}: the deploy node did not activate {checksum}: {events[-3:]}")
            swap_s = time.perf_counter() - t0
            spin_until(node, lambda: False, timeout=settle_s)
            steps.clear()
            recording["on"] = True
            spin_until(node, lambda: False, timeout=record_s)
            recording["on"] = False
            if len(steps) < 50 or modes[-1:] != ["POLICY"]:
                raise StyleDemoError(f"{label}: {len(steps)} steps recorded, mode {modes[-1:]}, events {events[-3:]}: "
                                     "the walk did not go on under the new actor")
            prompt_fig, walked_fig = observed_gait(traj.obs), observed_gait(np.stack(steps))
            print(_row(f"{label} prompt", prompt_fig))
            print(_row(f"{label} actor {checksum[:6]}", walked_fig)
                  + f"   (generated + swapped in {swap_s:.1f} s, walked {len(steps)} ticks)")
            results.append({"style": label, "prompt": prompt_fig, "walked": walked_fig, "swap_s": round(swap_s, 2)})
    finally:
        node.destroy_timer(timer)
        node.destroy_subscription(sub)
    print("  styles result: " + json.dumps(results))
    return results

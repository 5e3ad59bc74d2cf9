"""Generator + deploy + simulated Go2 in separate processes over DDS, with the bundled models:
request a policy -> it is published -> the deploy node swaps it in while walking -> the Go2 walks; then the demo's
style part swaps in an actor generated from the bundled crouched-pronk prompt, and the robot walks that style."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from maa_generator.ros.client import call_service, loop_stats, spin_until, start_node, stop_node

pytestmark = pytest.mark.ros
ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT / "models/go2/generator"
ADAPTATION = ROOT / "models/go2/adaptation.safetensors"
PROMPT = ROOT / "prompts/go2_walk.npz"
STYLE_PROMPT = ROOT / "prompts/go2_style_crouched_pronk.npz"


def _demo_styles():
    import importlib.util

    spec = importlib.util.spec_from_file_location("demo_styles", ROOT / "scripts" / "demo_styles.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_policy_swapped_in_while_walking(ros_node):
    from diagnostic_msgs.msg import DiagnosticArray
    from geometry_msgs.msg import Twist, Vector3Stamped
    from std_msgs.msg import String
    from std_srvs.srv import Trigger

    from maa_core.prompt_io import load_prompt
    from maa_deploy.node import EVENTS_QOS, LATCHED
    from maa_generator.ros.convert import trajectory_to_msg
    from maa_msgs.srv import GeneratePolicy

    gen = start_node("maa_generator.ros.node", "-p", f"model_path:={GENERATOR}", "-p", "screen_domain:=none")
    # the simulated robot's watchdogs and real-time scheduling as in config/go2_sim.yaml (the graph `make demo` runs):
    # 100 ms stale-state and stale-command limits. The real robot's 40 / 50 ms are tested in test_deploy_sim.py and
    # test_deploy_unitree.py; here they latched damping in 2 of 12 runs on an otherwise idle 2-vCPU VM whose vCPUs
    # stalled 40-70 ms at times, which says nothing about hot swaps.
    deploy = start_node("maa_deploy.node", "-p", "autostart:=true", "-p", f"deploy.adaptation_path:={ADAPTATION}",
                        "-p", "deploy.rt_priority:=80", "-p", "deploy.sim_command_timeout_s:=0.1",
                        "-p", "deploy.safety.state_timeout_s:=0.1")
    try:
        events, modes, diags, vel = [], [], [], []
        ros_node.create_subscription(String, "/maa_deploy/events", lambda m: events.append(m.data), EVENTS_QOS)
        ros_node.create_subscription(String, "/maa_deploy/mode", lambda m: modes.append(m.data), LATCHED)
        ros_node.create_subscription(DiagnosticArray, "/diagnostics", diags.append, 10)
        ros_node.create_subscription(Vector3Stamped, "/maa_deploy/sim/base_velocity",
                                     lambda m: vel.append((time.monotonic(), m.vector.x)), 50)
        cmd = ros_node.create_publisher(Twist, "/cmd_vel", 10)
        prompt = trajectory_to_msg(load_prompt(PROMPT), source="test")

        def generate(seed: int) -> str:
            res = call_service(ros_node, GeneratePolicy, "/generate_policy",
                               GeneratePolicy.Request(prompt=prompt, num_candidates=1, seed=seed), timeout=60)
            assert res.error_code == 0, res.error_msg
            checksum = res.weights.checksum[:12]
            assert spin_until(ros_node, lambda: any("policy active" in e and checksum in e for e in events)), events
            return checksum

        generate(0)
        assert call_service(ros_node, Trigger, "/maa_deploy/stand", Trigger.Request()).success
        assert spin_until(ros_node, lambda: call_service(ros_node, Trigger, "/maa_deploy/start",
                                                         Trigger.Request()).success, 15)
        twist = Twist()
        twist.linear.x = 0.5

        def walk(seconds: float) -> None:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                cmd.publish(twist)
                spin_until(ros_node, lambda: False, timeout=0.1)

        walk(3.0)
        before = np.mean([v for t, v in vel if t > time.monotonic() - 2.0])
        diags.clear()
        spin_until(ros_node, lambda: diags, 5)
        missed_before = loop_stats(diags)["missed"]
        generate(1)  # hot swap while walking
        walk(2.0)
        # the demo's style part: generate from the crouched-pronk prompt and swap it in while walking (its own
        # /cmd_vel timer keeps the robot going), then read the walk from ~/step as the prompt is read
        style = _demo_styles().walk_styles(ros_node, [("crouched pronk", STYLE_PROMPT)], events, modes, candidates=1,
                                           screen=False, settle_s=1.0, record_s=3.0)[0]
        diags.clear()
        spin_until(ros_node, lambda: diags, 5)
        missed_during = loop_stats(diags)["missed"] - missed_before
        assert modes[-1] == "POLICY", f"left POLICY: {modes[-3:]}, events {events[-3:]}"
        speed = np.mean([v for t, v in vel if t > time.monotonic() - 3.0])
        assert speed > 0.2 and before > 0.2, f"not walking forward across the swaps: vx {before:.2f}, {speed:.2f} m/s"
        # the go2_walk actor stands ~0.29 m hip-to-foot; the crouched-pronk prompt shows ~0.24 m and its generated
        # actor walked 0.244 m in `make demo`: the style is in the generated weights, under the same commands
        assert style["walked"]["stance_height"] < 0.27, style
        assert abs(style["walked"]["step_frequency"] - 3.0) < 0.3, style
        # A tick missed now and then is scheduling on a loaded 2-core CI machine (the generator's torch threads share
        # it); the zero-miss target is a benchmark figure (bench/control_loop.py, idle machine), not a unit-test
        # assertion. On an otherwise idle 2-vCPU VM 0-14 were missed in 8 runs; 27 once there and 24 in a clean-clone
        # CI run when the host was slow; 41 beside a training job on both cores (2026-12-01/02). The bound is 10 % of
        # the ticks: it catches a swap that blocks the loop, not a noisy neighbour.
        assert missed_during <= 40, f"{missed_during} of ~400 control ticks missed around the two hot swaps"
    finally:
        codes = (stop_node(gen), stop_node(deploy))
    assert codes == (0, 0)

#!/usr/bin/env python3
"""Control-loop benchmark over real DDS: deploy node (simulated Go2, 50 Hz) + generator node in separate processes.

The robot walks under a policy for ``--seconds``; meanwhile ``--swaps`` policies are requested from
``/generate_policy`` (no screening) and hot-swapped by the deploy node. Figures: tick compute time and jitter
(from the deploy node's loop statistics on /diagnostics), ticks missed over the whole swap phase, and the latency
from sending the request to the deploy node reporting the new policy active (its ``~/events``).
With no bundled Go2 generator (models/go2/generator), the generator node is skipped and weights are published
directly, which the output states (``swap_source``).

    python bench/control_loop.py [--seconds 60] [--swaps 20]
Final line: JSON with tick_compute_ms_p50, tick_compute_ms_p99, jitter_ms_p99, missed_ticks_during_swaps,
swap_latency_ms_p50, ...
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from maa_generator.ros.client import call_service, loop_stats, spin_until, start_node, stop_node

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ.setdefault("ROS_DOMAIN_ID", str(150 + os.getpid() % 50))


def _args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--swaps", type=int, default=20)
    p.add_argument("--model", default=str(ROOT / "models/go2/generator"))
    p.add_argument("--adaptation", default=str(ROOT / "models/go2/adaptation.safetensors"))
    p.add_argument("--prompt", default=str(ROOT / "prompts/go2_walk.npz"))
    return p.parse_args()


def _fallback_adaptation(tmp: Path) -> str:
    from maa_go2.actor_critic import AdaptationModule
    from maa_go2.checkpoints import save_adaptation

    path = tmp / "adaptation.safetensors"
    save_adaptation(path, AdaptationModule(history_len=15))
    return str(path)


def main() -> int:
    args = _args()
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from std_msgs.msg import String
    from std_srvs.srv import Trigger

    from maa_deploy.node import EVENTS_QOS, LATCHED
    from maa_generator.ros.convert import trajectory_to_msg, weights_to_msg
    from maa_go2.actor_critic import go2_actor_layout
    from maa_msgs.msg import PolicyWeights
    from maa_msgs.srv import GeneratePolicy

    tmp = Path(tempfile.mkdtemp(prefix="maa_bench_"))
    adaptation = args.adaptation if Path(args.adaptation).is_file() else _fallback_adaptation(tmp)
    use_generator = Path(args.model).is_dir() and Path(args.prompt).is_file()
    # real-time scheduling as in config/go2_*.yaml (SCHED_FIFO where permitted; the outcome is in /diagnostics)
    procs = [start_node("maa_deploy.node", "-p", "autostart:=true", "-p", f"deploy.adaptation_path:={adaptation}",
                        "-p", "deploy.rt_priority:=80")]
    if use_generator:
        procs.append(start_node("maa_generator.ros.node", "-p", f"model_path:={args.model}",
                                "-p", "screen_domain:=none"))
    rclpy.init()
    node = rclpy.create_node("bench_control_loop")
    events, diags = [], []
    node.create_subscription(String, "/maa_deploy/events", lambda m: events.append((time.perf_counter(), m.data)),
                             EVENTS_QOS)
    node.create_subscription(DiagnosticArray, "/diagnostics", diags.append, 10)
    pub = node.create_publisher(PolicyWeights, "/maa/policy_weights", LATCHED)
    layout = go2_actor_layout()
    rng = np.random.default_rng(0)

    def direct_weights():
        return weights_to_msg(layout, rng.normal(scale=0.01, size=layout.num_params).astype(np.float32))

    def active_after(t0: float, checksum: str) -> float | None:
        for t, text in events:
            if t >= t0 and "policy active" in text and checksum[:12] in text:
                return t
        return None

    result = {"swap_source": "generator" if use_generator else "direct (no bundled Go2 generator)"}
    try:
        first = direct_weights()
        pub.publish(first)
        assert spin_until(node, lambda: active_after(0, first.checksum), 30), "initial policy not activated"
        assert call_service(node, Trigger, "/maa_deploy/stand", Trigger.Request()).success
        assert spin_until(node, lambda: call_service(node, Trigger, "/maa_deploy/start", Trigger.Request()).success,
                          15), "could not start the policy"
        prompt = None
        if use_generator:
            from maa_core.prompt_io import load_prompt

            prompt = trajectory_to_msg(load_prompt(args.prompt), source="bench")
        start = time.perf_counter()
        diags.clear()
        spin_until(node, lambda: len(diags) >= 1, 5)
        missed_before = loop_stats(diags).get("missed", 0)
        latencies = []
        period = args.seconds / max(args.swaps, 1)
        for k in range(args.swaps):
            t0 = time.perf_counter()
            if use_generator:
                res = call_service(node, GeneratePolicy, "/generate_policy",
                                   GeneratePolicy.Request(prompt=prompt, num_candidates=1, seed=k, screen=False))
                if res.error_code != 0:
                    raise RuntimeError(f"generation failed: {res.error_msg}")
                checksum = res.weights.checksum
            else:
                msg = direct_weights()
                pub.publish(msg)
                checksum = msg.checksum
            if spin_until(node, lambda c=checksum, t=t0: active_after(t, c), 10):
                latencies.append((active_after(t0, checksum) - t0) * 1e3)
            spin_until(node, lambda k=k: time.perf_counter() - start >= (k + 1) * period, period + 5)
        diags.clear()
        spin_until(node, lambda: len(diags) >= 1, 5)
        stats = loop_stats(diags)
        result.update({
            "seconds": round(time.perf_counter() - start, 1), "swaps_requested": args.swaps,
            "swaps_active": len(latencies), "ticks": stats.get("ticks"),
            "tick_compute_ms_p50": stats.get("compute_ms_p50"), "tick_compute_ms_p99": stats.get("compute_ms_p99"),
            "jitter_ms_p99": stats.get("jitter_ms_p99"),
            "missed_ticks_during_swaps": stats.get("missed", 0) - missed_before,
            "swap_latency_ms_p50": float(np.percentile(latencies, 50)) if latencies else None,
            "swap_latency_ms_p99": float(np.percentile(latencies, 99)) if latencies else None,
        })
    finally:
        node.destroy_node()
        rclpy.shutdown()
        for p in procs:
            stop_node(p)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

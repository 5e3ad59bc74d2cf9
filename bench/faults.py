#!/usr/bin/env python3
"""Fault matrix of the deploy path (issue 14): what reaches the motors after a fault, and how fast.

Three parts, one final JSON line:

1. ``unitree``: the real-robot backend against the stand-in Go2 on the wire (``maa_deploy.fault_matrix``: NaN,
   frozen/jumping tick, zero quaternion, bad CRC, joint out of range, remote e-stop, lowstate pause, a second
   ``rt/lowcmd`` writer, a publisher-thread exception, a NaN command), over Cyclone DDS on loopback.
2. ``sim``: the full deploy stack (``build_stack``: controller, safety, supervisor) walking the MuJoCo Go2 with the
   committed PPO actor; faults: NaN in the measured state, a policy that outputs inf, a policy beyond action_clip,
   a physics-thread exception, a control tick that raises (dead loop), a control tick that hangs (stalled loop).
   "Frames" are the commands the simulated motors apply; unsafe = a PD command applied after detection.
3. ``oversized``: a running deploy node and generator node (real DDS) are sent 20 oversized weights messages
   (4x the limit) and 20 oversized prompts; their resident memory is read before and after.

    python bench/faults.py [--skip-unitree] [--skip-oversized]

Targets: unsafe_frames 0, unhandled_thread_deaths 0, damping_latency_ms_max <= 60, rss_growth_mb_max <= 100.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ACTOR = ROOT / "results/go2/actor_seed0_it475.safetensors"
ADAPTATION = ROOT / "models/go2/adaptation.safetensors"


# --------------------------------------------------------------------------------------------- 1. unitree wire
def unitree_part() -> list[dict]:
    domain = int(np.random.default_rng().integers(150, 230))
    out = subprocess.run([sys.executable, "-m", "maa_deploy.fault_matrix", str(domain)], capture_output=True,
                         text=True, timeout=300)
    if out.returncode != 0:
        raise RuntimeError(f"fault matrix failed: {out.stderr[-2000:]}")
    data = json.loads(out.stdout.strip().splitlines()[-1])
    for s in data["scenarios"]:
        s["backend"] = "unitree"
        s["thread_deaths"] = 0
    data["scenarios"][-1]["thread_deaths"] = len(data["thread_health"]["dead"])
    return data["scenarios"]


# ------------------------------------------------------------------------------------------------- 2. sim stack
class CommandLog:
    """Wraps a SimBackend: logs (time the command was issued, PD?) of every command the simulated motors take."""

    def __init__(self, sim):
        self.sim, self.log, self.lock = sim, [], threading.Lock()
        write, damp = sim.write_command, sim.damping

        def write_command(*args, **kwargs):
            issued = time.monotonic()
            write(*args, **kwargs)
            self._record(issued)

        def damping():
            issued = time.monotonic()
            damp()
            self._record(issued)

        sim.write_command, sim.damping = write_command, damping

    def _record(self, issued: float) -> None:
        with self.lock:
            self.log.append((issued, bool(self.sim._cmd[1].any())))

    def since(self, t: float) -> list[tuple[float, bool]]:
        with self.lock:
            return [e for e in self.log if e[0] >= t]


def _walking_stack():
    from maa_deploy.loop import DeployConfig, build_stack
    from maa_deploy.state_machine import Mode
    from maa_deploy.supervisor import Supervisor

    cfg = DeployConfig.from_mapping({"adaptation_path": str(ADAPTATION), "initial_policy_path": str(ACTOR),
                                     "sim_realtime": True, "state_machine": {"stand_duration_s": 0.5},
                                     "safety": {"state_timeout_s": 0.1}})
    controller, loop = build_stack(cfg)
    log = CommandLog(controller.backend)
    fatal: list[str] = []
    sup = Supervisor(loop, controller, grace_s=0.5, stall_s=0.2, on_fatal=fatal.append)
    loop.start()
    sup.start()
    controller.request_mode(Mode.STAND)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            controller.request_mode(Mode.POLICY)
            break
        except Exception:  # noqa: BLE001 - still standing up
            time.sleep(0.05)
    time.sleep(0.5)
    return controller, loop, sup, log


def _detection_time(controller, sup, onset: float, timeout: float = 2.0) -> tuple[float | None, float | None]:
    """(first time any part of the stack flagged the fault, first time the simulated motors held damping)."""
    from maa_deploy.state_machine import Mode

    detected = damped = None
    deadline = onset + timeout
    while time.monotonic() < deadline and (detected is None or damped is None):
        now = time.monotonic()
        if detected is None and (controller.sm.mode == Mode.DAMPING or controller.backend.fault.latched
                                 or sup.fatal):
            detected = now
        if damped is None and not controller.backend._cmd[1].any():
            damped = now
        time.sleep(0.0005)
    return detected, damped


def _inject_sim(controller, loop, kind: str):
    sim = controller.backend
    if kind == "nan_state":
        read = sim.read_state

        def bad_state():
            state = read()
            state.q[0] = np.nan
            return state

        sim.read_state = bad_state
    elif kind in ("inf_action", "action_beyond_clip"):
        act, scale = controller.runner.act, (np.inf if kind == "inf_action" else 1e3)
        controller.runner.act = lambda obs: act(obs) * scale
    elif kind == "physics_exception":
        step = sim._step
        sim._step = lambda n: (_ for _ in ()).throw(FloatingPointError("injected physics error"))
        return step
    elif kind == "dead_control_loop":
        def boom():
            raise RuntimeError("injected tick failure")

        loop.tick = boom
    elif kind == "stalled_control_loop":
        def hang():
            time.sleep(3.0)

        loop.tick = hang
    return None


SIM_FAULTS = ("nan_state", "inf_action", "action_beyond_clip", "physics_exception", "dead_control_loop",
              "stalled_control_loop")


def sim_scenario(kind: str) -> dict:
    controller, loop, sup, log = _walking_stack()
    try:
        walking = log.since(time.monotonic() - 0.3)
        assert any(pd for _, pd in walking), "not walking before the fault"
        onset = time.monotonic()
        _inject_sim(controller, loop, kind)
        detected, damped = _detection_time(controller, sup, onset, timeout=2.0)
        time.sleep(0.4)
        after = log.since(onset)
        first_damp = damped
        reason = sup.fatal or controller.sm.latched_reason or controller.backend.fault.reason
        return {"backend": "sim", "fault": kind, "detected": detected is not None, "reason": reason,
                "detection_ms": None if detected is None else (detected - onset) * 1e3,
                "damping_latency_ms": None if first_damp is None else (first_damp - onset) * 1e3,
                "unsafe_frames": sum(pd and t > detected for t, pd in after) if detected else None,
                "thread_deaths": len(controller.backend.health()["threads"].get("dead", [])),
                "unhandled": sup.fatal is None and kind in ("dead_control_loop", "stalled_control_loop")}
    finally:
        sup.stop()
        loop.stop(timeout=4.0)
        controller.backend.close()


# -------------------------------------------------------------------------------------------- 3. oversized inputs
def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def _start(module: str, *params: str) -> subprocess.Popen:
    """A node process with ``-p`` parameters, started from the repository root (relative model paths)."""
    from maa_generator.ros.client import start_node

    return start_node(module, *[a for p in params for a in ("-p", p)], cwd=str(ROOT))


def _oversized_impl(messages: int = 20) -> dict:
    import rclpy
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

    from maa_generator.ros.client import stop_node
    from maa_generator.ros.convert import weights_to_msg
    from maa_go2.actor_critic import go2_actor_layout
    from maa_msgs.msg import PolicyWeights, Trajectory

    layout = go2_actor_layout()
    limit = layout.num_params
    deploy = _start("maa_deploy.node", "autostart:=true", f"deploy.adaptation_path:={ADAPTATION}",
                    "weights_topic:=/bench/weights",
                    f"trust.max_weights_floats:={limit}")
    gen = _start("maa_generator.ros.node", "prompt_topic:=/bench/prompt", "max_prompt_steps:=1000")
    rclpy.init()
    node = rclpy.create_node("bench_oversized")
    try:
        time.sleep(1.0)
        base = {"deploy": _rss_mb(deploy.pid), "generator": _rss_mb(gen.pid)}
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        wpub = node.create_publisher(PolicyWeights, "/bench/weights", latched)
        ppub = node.create_publisher(Trajectory, "/bench/prompt", 10)
        big = weights_to_msg(layout, np.zeros(layout.num_params, np.float32))
        big.data = np.zeros(4 * limit, np.float32)
        big.num_params = 4 * limit
        prompt = Trajectory(domain="go2", task="big", obs_dim=70, action_dim=12, num_steps=40_000, dt=0.02)
        prompt.observations = np.zeros(40_000 * 70, np.float32)
        prompt.actions = np.zeros(40_000 * 12, np.float32)
        peak = dict(base)
        for _ in range(messages):
            wpub.publish(big)
            ppub.publish(prompt)
            rclpy.spin_once(node, timeout_sec=0.1)
            time.sleep(0.2)
            peak = {"deploy": max(peak["deploy"], _rss_mb(deploy.pid)),
                    "generator": max(peak["generator"], _rss_mb(gen.pid))}
        time.sleep(1.0)
        end = {"deploy": _rss_mb(deploy.pid), "generator": _rss_mb(gen.pid)}
        return {"messages": messages, "weights_floats": 4 * limit, "prompt_steps": 40_000, "rss_mb_before": base,
                "rss_mb_peak": peak, "rss_mb_after": end,
                "rss_growth_mb": {k: end[k] - base[k] for k in base},
                "rss_peak_growth_mb": {k: peak[k] - base[k] for k in base}}
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
        stop_node(deploy)
        stop_node(gen)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-unitree", action="store_true", help="no Unitree SDK here: skip the wire part")
    parser.add_argument("--skip-oversized", action="store_true", help="skip the DDS oversized-input part")
    args = parser.parse_args()
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    scenarios = [] if args.skip_unitree else unitree_part()
    for kind in SIM_FAULTS:
        scenarios.append(sim_scenario(kind))
    for s in scenarios:
        latency = s["damping_latency_ms"]
        print(f"{s['backend']:8s} {s['fault']:22s} detected={s['detected']!s:5s} "
              f"latency={'-' if latency is None else round(latency, 1)} ms unsafe={s['unsafe_frames']}  "
              f"{s.get('reason') or ''}"[:200], flush=True)
    oversized = None if args.skip_oversized else _oversized_impl()
    if oversized:
        print(f"oversized: {json.dumps(oversized)}", flush=True)
    latencies = [s["damping_latency_ms"] for s in scenarios if s["damping_latency_ms"] is not None]
    summary = {
        "scenarios": len(scenarios),
        "detected": sum(bool(s["detected"]) for s in scenarios),
        "unsafe_frames": sum(s["unsafe_frames"] or 0 for s in scenarios),
        "undetected": [f"{s['backend']}/{s['fault']}" for s in scenarios if not s["detected"]],
        "unhandled_thread_deaths": sum(bool(s.get("unhandled")) for s in scenarios),
        "backend_thread_deaths": sum(s.get("thread_deaths", 0) for s in scenarios),
        "damping_latency_ms_max": round(max(latencies), 1) if latencies else None,
        "damping_latency_ms_median": round(float(np.median(latencies)), 1) if latencies else None,
        "rss_growth_mb_max": None if oversized is None else round(max(
            [*oversized["rss_growth_mb"].values(), *oversized["rss_peak_growth_mb"].values()]), 1),
    }
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

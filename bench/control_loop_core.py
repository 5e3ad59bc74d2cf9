"""ROS-free control-loop benchmark: the 50 Hz deploy loop with a Go2-sized actor and hot swaps.

Runs ``DeployController`` (sim backend: MuJoCo Go2 from maa_go2, stepped once per tick) inside the absolute-
deadline ``DeadlineLoop`` for ``--seconds`` (60 by default): PASSIVE -> STAND -> POLICY with a random actor of the Go2
layout (70 obs + 7 latent -> 256 -> 128 -> 128 -> 12, ELU, linear) and a random adaptation module (15 x 70 -> 256 ->
128 -> 7). During the run, ``--swaps`` new actor files are hot-swapped (file -> validated -> active on the loader
thread while the loop keeps running). Attitude limits are opened wide so that a falling robot (random weights) does
not latch DAMPING: the policy runs every tick.

Final line: JSON with ``tick_compute_ms_p50``, ``tick_compute_ms_p99``, ``jitter_ms_p99``,
``missed_ticks_during_swaps``, ``swap_latency_ms_p50`` (+ context fields).
"""
from __future__ import annotations

import os

# One BLAS thread, set before numpy loads: multithreaded OpenBLAS on a busy machine turns a 0.2 ms batch forward
# into tens of ms (measured 40 ms for the 16-observation action screen on the 2-core dev machine).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from maa_core.layout import PolicyLayout  # noqa: E402
from maa_core.weights_io import WeightsPayload, checksum, save_weights_file  # noqa: E402
from maa_deploy.backends.sim import SimBackend  # noqa: E402
from maa_deploy.loop import DeadlineLoop, DeployController  # noqa: E402
from maa_deploy.policy_runner import Go2ObservationBuilder, PolicyRunner  # noqa: E402
from maa_deploy.safety import SafetyConfig, SafetyLayer  # noqa: E402
from maa_deploy.state_machine import Mode, StateMachine, StateMachineConfig  # noqa: E402
from maa_go2.observation import OBS_DIM  # noqa: E402
from maa_go2.randomization import PRIV_DIM  # noqa: E402

HISTORY_LEN = 15


def actor_layout() -> PolicyLayout:
    return PolicyLayout(obs_dim=OBS_DIM + PRIV_DIM, action_dim=12, hidden=(256, 128, 128), activation="elu",
                        output="linear", name="go2_wtw_actor")


def random_flat(layout: PolicyLayout, rng: np.random.Generator) -> np.ndarray:
    parts = []
    for name, shape in layout.param_shapes():
        fan_in = shape[1] if len(shape) == 2 else 1
        std = 0.3 / np.sqrt(fan_in) if name.endswith("weight") else 0.0
        parts.append(rng.normal(0.0, std, int(np.prod(shape))))
    return np.concatenate(parts).astype(np.float32)


def build(rng: np.random.Generator) -> tuple[DeployController, SimBackend]:
    adapt_layout = PolicyLayout(obs_dim=HISTORY_LEN * OBS_DIM, action_dim=PRIV_DIM, hidden=(256, 128),
                                activation="elu", output="linear", name="go2_adaptation")
    adapt_flat = random_flat(adapt_layout, rng)
    runner = PolicyRunner(actor_layout(), WeightsPayload(adapt_layout, adapt_flat, checksum(adapt_flat), "random"))
    first = random_flat(runner.actor_layout, rng)
    runner.load(WeightsPayload(runner.actor_layout, first, checksum(first), "random-initial"))
    backend = SimBackend()
    controller = DeployController(backend, StateMachine(StateMachineConfig(stand_duration_s=0.5)),
                                  SafetyLayer(SafetyConfig(max_roll=3.2, max_pitch=1.6)), runner,
                                  Go2ObservationBuilder(), clock=backend.clock)
    return controller, backend


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--swaps", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    controller, backend = build(rng)
    runner = controller.runner
    with tempfile.TemporaryDirectory() as tmp:
        files = [save_weights_file(Path(tmp) / f"actor_{i}.safetensors", runner.actor_layout,
                                   random_flat(runner.actor_layout, rng)) for i in range(args.swaps)]
        loop = DeadlineLoop(controller.tick, period=0.02, on_stop=backend.damping)
        loop.start(duration=args.seconds)
        time.sleep(0.05)
        controller.request_mode(Mode.STAND)
        while True:
            try:
                time.sleep(0.1)
                controller.request_mode(Mode.POLICY)
                break
            except Exception:  # noqa: BLE001 - stand interpolation not finished yet
                continue
        latencies, missed_during = [], 0
        start = time.monotonic()
        span = max(args.seconds - (start - loop.start_time) - 1.0, 0.1)
        for i, path in enumerate(files):
            target = start + (i + 1) * span / (args.swaps + 1)
            time.sleep(max(0.0, target - time.monotonic()))
            missed0 = loop.stats.missed
            t0 = time.perf_counter()
            runner.load_async(path).result()
            latencies.append((time.perf_counter() - t0) * 1e3)
            time.sleep(0.04)  # the two ticks after the swap count as "during"
            missed_during += loop.stats.missed - missed0
        loop._thread.join()
        runner.close()
    stats = loop.stats.summary()
    result = {
        "tick_compute_ms_p50": round(stats["compute_ms_p50"], 4),
        "tick_compute_ms_p99": round(stats["compute_ms_p99"], 4),
        "jitter_ms_p99": round(stats["jitter_ms_p99"], 4),
        "missed_ticks_during_swaps": int(missed_during),
        "swap_latency_ms_p50": round(float(np.median(latencies)), 3) if latencies else None,
        "swap_latency_ms_max": round(float(np.max(latencies)), 3) if latencies else None,
        "swaps": runner.swaps - 1,
        "ticks": stats["ticks"],
        "missed_ticks_total": stats["missed"],
        "tick_compute_ms_max": round(stats["compute_ms_max"], 4),
        "jitter_ms_p50": round(stats["jitter_ms_p50"], 4),
        "final_mode": controller.sm.mode.value,
        "safety_counters": controller.safety.counters,
        "backend": backend.name,
        "seconds": args.seconds,
        "actor_params": runner.actor_layout.num_params,
        "host": f"{platform.machine()} {os.cpu_count()} cpu",
        "threads": threading.active_count(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()

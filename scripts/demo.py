#!/usr/bin/env python3
"""`make demo`: the main job on the embedded default (simulated Go2, local DDS, bundled small models).

Until the bundled Go2 generator exists this runs the most complete pipeline available and says so.
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    print("maa demo: the bundled Go2 generator is not available yet; running the transport pipeline instead:")
    print("  a GeneratePolicy server process over local DDS answers a request carrying a MetaWorld-sized prompt")
    server = ROOT / "tests" / "ros_helpers" / "generate_policy_echo_server.py"
    proc = subprocess.Popen([sys.executable, str(server)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "READY"
        import numpy as np
        import rclpy

        from maa_msgs.msg import Trajectory
        from maa_msgs.srv import GeneratePolicy

        rclpy.init()
        node = rclpy.create_node("maa_demo_client")
        client = node.create_client(GeneratePolicy, "generate_policy")
        if not client.wait_for_service(timeout_sec=20):
            print("error: /generate_policy did not appear", file=sys.stderr)
            return 1
        obs = np.random.default_rng(0).normal(size=(60, 39)).astype(np.float32)
        prompt = Trajectory(domain="metaworld", task="reach", obs_dim=39, action_dim=4, num_steps=60, dt=0.0125)
        prompt.observations, prompt.actions = obs.reshape(-1), np.zeros(240, np.float32)
        t0 = time.perf_counter()
        future = client.call_async(GeneratePolicy.Request(prompt=prompt, num_candidates=4, seed=1))
        while not future.done():
            rclpy.spin_once(node, timeout_sec=0.1)
        res = future.result()
        print(f"  response: error_code={res.error_code} params={res.weights.num_params} "
              f"checksum={res.weights.checksum[:12]} in {1e3 * (time.perf_counter() - t0):.1f} ms")
        node.destroy_node()
        rclpy.shutdown()
        return 0 if res.error_code == 0 else 1
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())

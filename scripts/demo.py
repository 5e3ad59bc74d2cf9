#!/usr/bin/env python3
"""`make demo`: the main job on the embedded default (simulated Go2, local DDS, bundled small models).

1. start the Go2 graph (generator node, deploy node on the MuJoCo Go2, prompt source) exactly as
   `launch_go2 robot:=sim` / `ros2 launch maa_deploy go2.launch.py robot:=sim` would;
2. the prompt source plays the bundled behavior prompt (prompts/go2_walk.npz) on /maa/prompt;
3. /generate_policy generates K candidate actors from it, screens them in simulation and publishes the best;
4. the deploy node validates and activates it; the demo stands the robot up, starts the policy and commands
   vx = 0.5 m/s on /cmd_vel for 10 s;
5. it prints velocity-tracking figures, then SIGINT leaves the robot in damping;
6. it renders what the robot did (offline, in this process, after the graph stopped: the deploy loop never waits
   for it): a clip with a follow camera and a top view of the commanded vs walked path, in ``--media-dir``
   (default runs/demo/), from the ``joint_states`` and ``~/sim/base_pose`` recorded during the walk. ``--no-render``
   or ``MAA_NO_RENDER=1`` switches it off; ``--viewer`` opens MuJoCo's interactive viewer on the running simulation
   (a desktop is needed). See docs/visuals.md.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
os.chdir(ROOT)  # the params file uses repo-relative model paths
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ.setdefault("ROS_DOMAIN_ID", str(100 + os.getpid() % 100))

REQUIRED = ("models/go2/generator/model.safetensors", "models/go2/adaptation.safetensors", "prompts/go2_walk.npz")


def _args():
    p = argparse.ArgumentParser(description="maa demo on the simulated Go2")
    p.add_argument("--seconds", type=float, default=10.0, help="walking time")
    p.add_argument("--vx", type=float, default=0.5, help="commanded forward speed, m/s")
    p.add_argument("--candidates", type=int, default=4)
    p.add_argument("--no-screen", action="store_true", help="skip simulation screening of the candidates")
    p.add_argument("--no-render", action="store_true", help="no clip / path plot (also: MAA_NO_RENDER=1)")
    p.add_argument("--media-dir", default="runs/demo", help="where the clip and the path plot go")
    p.add_argument("--clip-fps", type=float, default=20.0, help="clip frame rate, Hz")
    p.add_argument("--clip-size", default="320x240", help="clip frame size WxH, pixels (at most 640x480)")
    p.add_argument("--viewer", action="store_true",
                   help="open MuJoCo's interactive viewer on the simulated robot (needs a desktop)")
    args = p.parse_args()
    try:
        args.clip_w, args.clip_h = (int(v) for v in args.clip_size.lower().split("x"))
    except ValueError:
        p.error(f"--clip-size must look like 320x240, got {args.clip_size!r}")
    if not (0 < args.clip_w <= 640 and 0 < args.clip_h <= 480 and args.clip_fps > 0):
        p.error("--clip-size must be within 640x480 and --clip-fps > 0")
    return args


def _render(motion, args) -> None:
    """Clip + top-view plot of the recorded walk in ``args.media_dir``; prints the files and what it cost."""
    from maa_core.atomic_io import atomic_path
    from maa_generator.media import RenderError, configure_gl

    t0 = time.perf_counter()
    t, qpos = motion.arrays()
    if len(t) < 2:
        print("  rendering skipped: no base pose / joint state samples were recorded during the walk", file=sys.stderr)
        return
    try:
        backend = configure_gl()
        from maa_go2.rendering import plot_top_view, render_clip

        out = Path(args.media_dir)
        clip, plot, data = out / "go2_walk.gif", out / "go2_path.png", out / "go2_walk_motion.npz"
        stats = render_clip(t, qpos, clip, args.clip_fps, args.clip_w, args.clip_h)
        figures = plot_top_view(t, qpos, (args.vx, 0.0, 0.0), plot)
        with atomic_path(data) as tmp, open(tmp, "wb") as f:
            np.savez(f, t=t, qpos=qpos, command=np.array([args.vx, 0.0, 0.0]))
    except RenderError as exc:
        print(f"  rendering skipped: {exc}", file=sys.stderr)
        return
    except Exception as exc:  # noqa: BLE001 - the pictures are an extra: they never change the demo's outcome
        print(f"  rendering failed ({type(exc).__name__}: {exc}); the figures above are unaffected", file=sys.stderr)
        return
    print(f"  clip: {clip} ({stats.frames} frames at {args.clip_fps:g} fps, follow camera, {len(t)} recorded "
          f"samples); path: {plot} (walked {figures['walked_m']:.2f} m of {figures['commanded_m']:.2f} m "
          f"commanded, drift {figures['lateral_drift_m']:+.2f} m); motion: {data}")
    print(f"  rendering added {time.perf_counter() - t0:.1f} s ({backend}: {stats.ms_per_frame:.0f} ms per frame, "
          f"GIF {stats.encode_s:.1f} s); off with --no-render or MAA_NO_RENDER=1")


def _walk(node, seconds: float, vx: float, velocities: list, modes: list) -> dict:
    from geometry_msgs.msg import Twist

    from maa_generator.ros.client import spin_until

    cmd_pub = node.create_publisher(Twist, "/cmd_vel", 10)
    twist = Twist()
    twist.linear.x = vx
    start = time.perf_counter()
    velocities.clear()
    while time.perf_counter() - start < seconds:
        cmd_pub.publish(twist)
        spin_until(node, lambda: False, timeout=0.1)
    measured = np.array([(t - start, v) for t, v in velocities if t - start > 2.0])  # 2 s to reach speed
    fell = any(m == "DAMPING" for m in modes)
    if measured.size == 0:
        return {"fell": fell, "samples": 0}
    return {"commanded_vx": vx, "measured_vx_mean": float(measured[:, 1].mean()),
            "vx_tracking_error_mean": float(np.abs(measured[:, 1] - vx).mean()), "samples": int(len(measured)),
            "walk_seconds": seconds, "fell": fell}


def transport_demo() -> int:
    """Fallback while the bundled Go2 models are missing: the GeneratePolicy transport over local DDS."""
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


def main() -> int:
    args = _args()
    from maa_generator.media import ViewerUnavailable, no_render_requested, require_display

    render = not (args.no_render or no_render_requested())
    if args.viewer:
        try:
            require_display("--viewer")
        except ViewerUnavailable as exc:
            print(f"maa demo: error: {exc}", file=sys.stderr)
            return 2
    missing = [p for p in REQUIRED if not (ROOT / p).is_file()]
    if missing:
        print(f"maa demo: the bundled Go2 models are missing ({', '.join(missing)}); running the most complete "
              "pipeline that exists instead:")
        print("  a GeneratePolicy server process over local DDS answers a request carrying a MetaWorld-sized prompt")
        return transport_demo()
    import rclpy
    from geometry_msgs.msg import PoseStamped, Vector3Stamped
    from sensor_msgs.msg import JointState
    from std_msgs.msg import String
    from std_srvs.srv import Trigger

    from maa_deploy.graph import LIFECYCLE_STARTUP, go2_graph
    from maa_deploy.node import EVENTS_QOS, LATCHED
    from maa_generator.ros.client import call_service, change_lifecycle_state, spin_until, start_node, stop_node
    from maa_go2.rendering import MotionLog
    from maa_msgs.srv import GeneratePolicy

    print("maa demo: simulated Go2 (MuJoCo), local DDS, bundled models (models/go2/MODEL_CARD.md)")
    procs = []
    specs = go2_graph("sim")
    for spec in specs:
        if args.viewer and spec.lifecycle:
            spec.parameters["deploy.sim_viewer"] = True  # the viewer runs in the deploy node, on the live simulation
        print(f"  starting {spec.name} ({spec.package}/{spec.executable})")
        procs.append(start_node(spec.module, *spec.ros_args()[1:], ready_text=spec.ready_text))
    rclpy.init()
    node = rclpy.create_node("maa_demo")
    for spec in specs:
        if spec.lifecycle:  # as the launch file does
            print(f"  {spec.name}: lifecycle {' -> '.join(LIFECYCLE_STARTUP)}")
            change_lifecycle_state(node, f"/{spec.name}", LIFECYCLE_STARTUP, timeout=60)
    events, modes, velocities = [], [], []
    node.create_subscription(String, "/maa_deploy/events", lambda m: events.append(m.data), EVENTS_QOS)
    node.create_subscription(String, "/maa_deploy/mode", lambda m: modes.append(m.data), LATCHED)
    node.create_subscription(Vector3Stamped, "/maa_deploy/sim/base_velocity",
                             lambda m: velocities.append((time.perf_counter(), m.vector.x)), 50)
    motion = MotionLog()  # what an offline replay needs: base pose + joint angles of the same stamp
    if render:
        def stamp(m) -> float:
            return m.header.stamp.sec + 1e-9 * m.header.stamp.nanosec

        node.create_subscription(PoseStamped, "/maa_deploy/sim/base_pose", lambda m: motion.add_pose(
            stamp(m), (m.pose.position.x, m.pose.position.y, m.pose.position.z),
            (m.pose.orientation.w, m.pose.orientation.x, m.pose.orientation.y, m.pose.orientation.z)), 100)
        node.create_subscription(JointState, "/joint_states", lambda m: motion.add_joints(stamp(m), m.position), 100)
    code = 1
    try:
        req = GeneratePolicy.Request(use_latest_prompt=True, num_candidates=args.candidates, seed=0,
                                     screen=not args.no_screen)
        res = None
        for _ in range(20):  # the prompt source publishes every 2 s; wait for the first one to arrive
            res = call_service(node, GeneratePolicy, "/generate_policy", req, timeout=300)
            if res.error_code != GeneratePolicy.Response.NO_PROMPT:
                break
            spin_until(node, lambda: False, timeout=1.0)
        if res.error_code != 0:
            print(f"  generation failed: error_code={res.error_code}: {res.error_msg}", file=sys.stderr)
            return 1
        scores = [round(s, 3) for s in res.candidate_scores]
        print(f"  generated {args.candidates} candidate actors in {res.generation_time_s:.2f} s"
              + (f"; screening scores {scores}, selected #{res.weights.candidate_index}" if scores else "")
              + (f"; prompt novelty {res.prompt_novelty:.2f}" if math.isfinite(res.prompt_novelty) else ""))
        checksum = res.weights.checksum[:12]
        if not spin_until(node, lambda: any("policy active" in e and checksum in e for e in events), 30):
            print(f"  the deploy node did not activate the policy: {events[-3:]}", file=sys.stderr)
            return 1
        print(f"  deploy node: policy {checksum} active")
        assert call_service(node, Trigger, "/maa_deploy/stand", Trigger.Request()).success
        if not spin_until(node, lambda: call_service(node, Trigger, "/maa_deploy/start", Trigger.Request()).success,
                          15):
            print("  could not start the policy", file=sys.stderr)
            return 1
        print(f"  standing, then walking at vx = {args.vx} m/s for {args.seconds:.0f} s ...")
        motion.clear()
        figures = _walk(node, args.seconds, args.vx, velocities, modes)
        print("  result: " + json.dumps(figures))
        if figures["fell"]:
            print("  deploy node events: " + " | ".join(events[-4:]))
        code = 0 if not figures["fell"] and figures.get("samples", 0) > 0 else 1
    finally:
        node.destroy_node()
        rclpy.shutdown()
        for p in reversed(procs):
            stop_node(p)
        print("  graph stopped (SIGINT): the robot was left in damping")
    if render:
        _render(motion, args)
    return code


if __name__ == "__main__":
    sys.exit(main())

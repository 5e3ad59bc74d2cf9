#!/usr/bin/env python3
"""`make demo`: the main job on the embedded default (simulated Go2, local DDS, bundled small models).

1. start the Go2 graph (generator node, deploy node on the MuJoCo Go2, prompt source) exactly as
   `launch_go2 robot:=sim` / `ros2 launch maa_deploy go2.launch.py robot:=sim` would;
2. the prompt source plays the bundled behavior prompt (prompts/go2_walk.npz) on /maa/prompt;
3. /generate_policy generates K candidate actors from it, screens them in simulation and publishes the best;
4. the deploy node validates and activates it; the demo stands the robot up, starts the policy and walks a
   square (``--route square``, default: 1.5 m sides, three left turns) by publishing /cmd_vel from a waypoint
   follower that reads the simulated base pose (``maa_go2.routes``), or walks straight at ``--vx`` for
   ``--seconds`` (``--route straight``);
5. it prints vx and yaw-rate tracking figures; then, still walking, it generates from the two bundled style prompts
   in turn and hot-swaps each actor in, printing its walked gait figures next to the prompt's (``demo_styles.py``;
   ``--no-styles`` skips this part); SIGINT leaves the robot in damping;
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
    p.add_argument("--vx", type=float, default=0.5, help="commanded forward speed, m/s (--route straight)")
    p.add_argument("--route", choices=("square", "straight"), default="square",
                   help="walk a square through /cmd_vel (turns) or straight at --vx for --seconds")
    p.add_argument("--side", type=float, default=1.5, help="side of the square, m")
    p.add_argument("--route-timeout", type=float, default=60.0, help="give up on the square after this long, s")
    p.add_argument("--candidates", type=int, default=4)
    p.add_argument("--no-screen", action="store_true", help="skip simulation screening of the candidates")
    p.add_argument("--no-styles", action="store_true",
                   help="skip the second part: two style prompts, generated and hot-swapped in while walking")
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
    if not (args.side > 0 and args.route_timeout > 0 and args.seconds > 0):
        p.error("--side, --route-timeout and --seconds must be > 0")
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
        route = getattr(args, "route_waypoints", None)
        figures = plot_top_view(t, qpos, (args.vx, 0.0, 0.0) if route is None else (0.0, 0.0, 0.0), plot,
                                route=route, title=None if route is None else
                                f"square of {args.side:g} m through /cmd_vel: {t[-1] - t[0]:.0f} s")
        with atomic_path(data) as tmp, open(tmp, "wb") as f:
            np.savez(f, t=t, qpos=qpos, command=np.array([args.vx, 0.0, 0.0]))
    except RenderError as exc:
        print(f"  rendering skipped: {exc}", file=sys.stderr)
        return
    except Exception as exc:  # noqa: BLE001 - the pictures are an extra: they never change the demo's outcome
        print(f"  rendering failed ({type(exc).__name__}: {exc}); the figures above are unaffected", file=sys.stderr)
        return
    walked = (f"walked {figures['walked_m']:.2f} m of {figures['commanded_m']:.2f} m commanded, drift "
              f"{figures['lateral_drift_m']:+.2f} m") if route is None else "route and walked path"
    print(f"  clip: {clip} ({stats.frames} frames at {args.clip_fps:g} fps, follow camera, {len(t)} recorded "
          f"samples); path: {plot} ({walked}); motion: {data}")
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


def _walk_route(node, follower, timeout: float, pose: dict, velocities: list, modes: list) -> dict:
    """Publish /cmd_vel from ``follower`` (a ``maa_go2.routes.RouteFollower``) at 20 Hz until the route is done,
    ``timeout`` s pass or the robot falls; returns vx and yaw-rate tracking figures."""
    from geometry_msgs.msg import Twist

    from maa_generator.ros.client import spin_until

    cmd_pub = node.create_publisher(Twist, "/cmd_vel", 10)
    start = time.perf_counter()
    sent, yaws = [], []
    velocities.clear()
    while time.perf_counter() - start < timeout and not follower.done and "DAMPING" not in modes[-1:]:
        if "xy" in pose:
            vx, vy, wz = follower.command(pose["xy"], pose["yaw"])
            twist = Twist()
            twist.linear.x, twist.linear.y, twist.angular.z = vx, vy, wz
            cmd_pub.publish(twist)
            now = time.perf_counter()
            sent.append((now, vx, wz))
            yaws.append((now, pose["yaw"]))
        spin_until(node, lambda: False, timeout=0.05)
    return route_figures(np.array(sent), np.array(yaws), np.array(velocities), start, follower,
                         fell=any(m == "DAMPING" for m in modes))


def route_figures(sent: np.ndarray, yaws: np.ndarray, velocities: np.ndarray, start: float, follower,
                  fell: bool, settle_s: float = 2.0) -> dict:
    """Tracking over a route walk: commanded ``sent [T, 3]`` (t, vx, yaw rate) against the measured body vx
    (``velocities [V, 2]``: t, vx) and yaw rate (finite differences of ``yaws [T, 2]``: t, heading), after
    ``settle_s``."""
    out = {"route_done": follower.done, "waypoints_reached": f"{follower.index}/{len(follower.waypoints)}",
           "walk_seconds": round(float(sent[-1, 0] - start), 1) if len(sent) else 0.0, "fell": fell}
    keep = sent[:, 0] - start > settle_s if len(sent) else np.zeros(0, bool)
    if keep.sum() < 3 or len(velocities) < 3:
        return {**out, "samples": 0}
    heading = np.unwrap(yaws[:, 1])
    yaw_rate = np.gradient(heading, yaws[:, 0])
    t = sent[keep, 0]
    vx_meas = np.interp(t, velocities[:, 0], velocities[:, 1])
    wz_meas = np.interp(t, yaws[:, 0], yaw_rate)
    return {**out, "vx_tracking_error_mean": round(float(np.abs(vx_meas - sent[keep, 1]).mean()), 3),
            "yaw_tracking_error_mean": round(float(np.abs(wz_meas - sent[keep, 2]).mean()), 3),
            "commanded_yaw_abs_mean": round(float(np.abs(sent[keep, 2]).mean()), 3),
            "turned_rad": round(float(heading[-1] - heading[0]), 2), "samples": int(keep.sum())}


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
    from demo_styles import StyleDemoError, bundled_style_prompts, walk_styles  # scripts/ is on sys.path
    from geometry_msgs.msg import PoseStamped, Vector3Stamped
    from sensor_msgs.msg import JointState
    from std_msgs.msg import String
    from std_srvs.srv import Trigger

    from maa_core.rotations import yaw_of
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
    pose: dict = {}  # the latest simulated base pose, for the route follower

    def stamp(m) -> float:
        return m.header.stamp.sec + 1e-9 * m.header.stamp.nanosec

    def on_pose(m) -> None:
        q = m.pose.orientation
        pose.update(xy=(m.pose.position.x, m.pose.position.y), yaw=float(yaw_of(np.array([q.w, q.x, q.y, q.z]))))
        if render:
            motion.add_pose(stamp(m), (m.pose.position.x, m.pose.position.y, m.pose.position.z),
                            (q.w, q.x, q.y, q.z))

    node.create_subscription(PoseStamped, "/maa_deploy/sim/base_pose", on_pose, 100)
    if render:
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
        motion.clear()
        if args.route == "square":
            from maa_go2.routes import RouteFollower, square

            if not spin_until(node, lambda: "xy" in pose, 10):
                print("  no ~/sim/base_pose from the deploy node", file=sys.stderr)
                return 1
            args.route_waypoints = square(args.side, start=pose["xy"], heading=pose["yaw"])
            print(f"  standing, then walking a {args.side:g} m square through /cmd_vel (up to "
                  f"{args.route_timeout:.0f} s) ...")
            figures = _walk_route(node, RouteFollower(args.route_waypoints), args.route_timeout, pose, velocities,
                                  modes)
        else:
            print(f"  standing, then walking at vx = {args.vx} m/s for {args.seconds:.0f} s ...")
            figures = _walk(node, args.seconds, args.vx, velocities, modes)
        print("  result: " + json.dumps(figures))
        if figures["fell"]:
            print("  deploy node events: " + " | ".join(events[-4:]))
        code = 0 if not figures["fell"] and figures.get("samples", 0) > 0 else 1
        styles = [] if args.no_styles else bundled_style_prompts(ROOT)
        if code == 0 and styles:
            try:
                walk_styles(node, styles, events, modes, args.candidates, not args.no_screen)
            except StyleDemoError as exc:
                print(f"  styles: {exc}", file=sys.stderr)
                code = 1
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

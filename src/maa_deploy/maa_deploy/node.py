"""ROS 2 deploy node: runs generated Go2 actors with the pretrained adaptation module, safely.

Interfaces (names relative to the node, ``~`` = ``/maa_deploy``):
* subscribes ``weights_topic`` (maa_msgs/PolicyWeights, latched QoS): validated off the control thread, hot-swapped
  between ticks; a rejected message keeps the running policy and is reported on ``~/events`` and diagnostics;
* subscribes ``cmd_vel`` (geometry_msgs/Twist): velocity command, zeroed after ``teleop.timeout_s``;
* services (std_srvs/Trigger): ``~/stand``, ``~/start`` (policy), ``~/stop`` (back to stand), ``~/estop``
  (damping, latched), ``~/reset`` (clear the latch -> passive);
* publishes ``joint_states``, ``~/action``, ``~/observation``, ``~/step`` (obs + action of every policy tick; all
  std_msgs/Float32MultiArray), ``~/mode`` (latched),
  ``~/events`` (std_msgs/String), ``/diagnostics``, and with the sim backend ``~/sim/base_velocity``.
The control loop (:mod:`maa_deploy.loop`) runs on its own deadline-paced thread; the node only wires ROS to it.
SIGINT or any exit leaves the robot in damping.
"""
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # a multi-threaded BLAS adds ms of jitter to a 0.2 ms actor

import collections  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402

import numpy as np  # noqa: E402
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue  # noqa: E402
from geometry_msgs.msg import Twist, Vector3Stamped  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import JointState  # noqa: E402
from std_msgs.msg import Float32MultiArray, MultiArrayDimension, String  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from maa_deploy.loop import DeployConfig, build_stack  # noqa: E402
from maa_deploy.state_machine import Mode, TransitionError  # noqa: E402
from maa_deploy.teleop import TeleopConfig, VelocityCommand  # noqa: E402
from maa_generator.config import ConfigError  # noqa: E402
from maa_generator.ros_params import declare_config  # noqa: E402
from maa_generator.ros_run import run_node  # noqa: E402
from maa_go2.joint_order import JOINT_NAMES  # noqa: E402
from maa_msgs.msg import PolicyWeights  # noqa: E402

LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
#: the last 20 events stay readable by late subscribers (operators' tools, tests)
EVENTS_QOS = QoSProfile(depth=20, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)


@dataclass
class DeployNodeConfig:
    """ROS-side parameters of the deploy node (the control stack's are :class:`DeployConfig`'s, same names)."""

    weights_topic: str = "/maa/policy_weights"
    cmd_vel_topic: str = "/cmd_vel"
    publish_hz: float = 50.0         # joint_states / action / observation
    diagnostics_hz: float = 2.0
    network_interface: str = ""      # overrides unitree.interface when set (launch argument)
    auto_start: bool = False         # stand up, then walk as soon as a valid policy is active
    deploy: DeployConfig = field(default_factory=DeployConfig)
    teleop: TeleopConfig = field(default_factory=TeleopConfig)

    def __post_init__(self) -> None:
        if not (self.publish_hz > 0 and self.diagnostics_hz > 0):
            raise ConfigError("publish_hz and diagnostics_hz must be > 0")
        if self.network_interface:
            self.deploy.unitree.interface = self.network_interface


def step_message(obs: np.ndarray, action: np.ndarray) -> Float32MultiArray:
    """One policy tick as ``[observation..., action...]`` with labelled dimensions (for prompt recording)."""
    msg = Float32MultiArray(data=np.concatenate([obs, action]).astype(np.float32).tolist())
    msg.layout.dim = [MultiArrayDimension(label="observation", size=int(obs.size), stride=int(obs.size)),
                      MultiArrayDimension(label="action", size=int(action.size), stride=int(action.size))]
    return msg


class DeployNode(Node):
    def __init__(self) -> None:
        super().__init__("maa_deploy")
        self.cfg: DeployNodeConfig = declare_config(self, DeployNodeConfig)
        self.controller, self.loop = build_stack(self.cfg.deploy)
        self.runner = self.controller.runner
        self.velocity = VelocityCommand(self.cfg.teleop)
        self.controller.obs_builder.set_commands(self.velocity.commands(time.monotonic()))
        self._steps: collections.deque = collections.deque(maxlen=256)  # (obs, action) of each POLICY tick
        self.loop.tick = self._tick_and_capture

        self.joint_pub = self.create_publisher(JointState, "joint_states", 10)
        self.action_pub = self.create_publisher(Float32MultiArray, "~/action", 10)
        self.obs_pub = self.create_publisher(Float32MultiArray, "~/observation", 10)
        self.step_pub = self.create_publisher(Float32MultiArray, "~/step", 50)
        self.mode_pub = self.create_publisher(String, "~/mode", LATCHED)
        self.events_pub = self.create_publisher(String, "~/events", EVENTS_QOS)
        self.diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.vel_pub = (self.create_publisher(Vector3Stamped, "~/sim/base_velocity", 10)
                        if hasattr(self.controller.backend, "data") else None)
        self.create_subscription(PolicyWeights, self.cfg.weights_topic, self.on_weights, LATCHED)
        self.create_subscription(Twist, self.cfg.cmd_vel_topic, self.on_cmd_vel, 10)
        for name, target in (("stand", Mode.STAND), ("start", Mode.POLICY), ("stop", Mode.STAND),
                             ("estop", None), ("reset", None)):
            self.create_service(Trigger, f"~/{name}", self._mode_service(name, target))
        self.create_timer(1.0 / self.cfg.publish_hz, self.publish_state)
        self.create_timer(1.0 / self.cfg.diagnostics_hz, self.publish_diagnostics)
        self._last_mode = None
        self._scheduling_reported = False
        # Everything allocated so far (torch, MuJoCo, ROS) is long-lived: move it out of the collector's reach so
        # a full collection cannot stall the 50 Hz loop (or the simulated robot's physics thread) for ~100 ms.
        gc.collect()
        gc.freeze()
        self.loop.start()
        self.get_logger().info(f"ready: backend {self.cfg.deploy.backend}, {self.cfg.deploy.rate_hz:.0f} Hz, "
                               f"weights on {self.cfg.weights_topic}, mode {self.controller.sm.mode.value}")

    def _tick_and_capture(self) -> None:
        """The control tick, plus a copy of each POLICY tick's (observation, action) for ``~/step``."""
        self.controller.tick()
        if self.controller.sm.mode == Mode.POLICY and self.controller.last_obs is not None:
            self._steps.append((self.controller.last_obs, np.array(self.controller.last_action, np.float32)))

    # ------------------------------------------------------------------ inputs
    def _event(self, text: str, error: bool = False) -> None:
        # rclpy ties a severity to each call site, so the two levels need two call sites
        if error:
            self.get_logger().error(text)
        else:
            self.get_logger().info(text)
        self.events_pub.publish(String(data=text))

    def on_weights(self, msg: PolicyWeights) -> None:
        future = self.runner.load_async(msg)
        future.add_done_callback(lambda f: self._on_loaded(f, msg))

    def _on_loaded(self, future, msg: PolicyWeights) -> None:
        exc = future.exception()
        if exc is not None:
            self._event(f"rejected policy weights ({msg.layout_name}, {msg.checksum[:12]}): {exc}", error=True)
            return
        self._event(f"policy active: {msg.layout_name} from {msg.generator_id or 'file'} "
                    f"(task {msg.task or '?'}, checksum {msg.checksum[:12]})")
        if self.cfg.auto_start:
            self._auto_start()

    def _auto_start(self) -> None:
        sm = self.controller.sm
        try:
            if sm.mode == Mode.PASSIVE:
                self.controller.request_mode(Mode.STAND)
        except TransitionError as exc:
            self._event(f"auto start: {exc}", error=True)

    def on_cmd_vel(self, msg: Twist) -> None:
        try:
            self.velocity.set(msg.linear.x, msg.linear.y, msg.angular.z, time.monotonic())
        except ValueError as exc:
            self._event(f"ignored cmd_vel: {exc}", error=True)

    def _mode_service(self, name: str, target: Mode | None):
        def handle(request, response):
            try:
                if name == "estop":
                    self.controller.estop("operator e-stop (service)")
                elif name == "reset":
                    self.controller.reset()
                else:
                    self.controller.request_mode(target)
                response.success, response.message = True, f"mode {self.controller.sm.mode.value}"
            except TransitionError as exc:
                response.success, response.message = False, str(exc)
            self._event(f"{name}: {response.message}", error=not response.success)
            return response

        return handle

    # ----------------------------------------------------------------- outputs
    def publish_state(self) -> None:
        now = time.monotonic()
        self.controller.obs_builder.set_commands(self.velocity.commands(now))
        if self.cfg.auto_start and self.controller.sm.mode == Mode.STAND and self.runner.active is not None:
            try:
                self.controller.request_mode(Mode.POLICY)
            except TransitionError:
                pass  # still interpolating to the stand pose
        state = self.controller.backend.read_state()
        stamp = self.get_clock().now().to_msg()
        js = JointState(name=list(JOINT_NAMES), position=np.asarray(state.q, float).tolist(),
                        velocity=np.asarray(state.dq, float).tolist(), effort=np.asarray(state.tau_est, float).tolist())
        js.header.stamp = stamp
        self.joint_pub.publish(js)
        self.action_pub.publish(Float32MultiArray(data=np.asarray(self.controller.last_action, np.float32).tolist()))
        if self.controller.last_obs is not None:
            self.obs_pub.publish(Float32MultiArray(data=np.asarray(self.controller.last_obs, np.float32).tolist()))
        while self._steps:
            self.step_pub.publish(step_message(*self._steps.popleft()))
        if self.vel_pub is not None:
            self._publish_sim_velocity(stamp)
        mode = self.controller.sm.mode.value
        if mode != self._last_mode:
            self._last_mode = mode
            self.mode_pub.publish(String(data=mode))
            reason = self.controller.sm.latched_reason
            if reason:
                self._event(f"DAMPING latched: {reason}", error=True)

    def _publish_sim_velocity(self, stamp) -> None:
        data = self.controller.backend.data
        w, x, y, z = data.qpos[3:7]
        rot = np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])
        v_body = rot.T @ np.asarray(data.qvel[0:3])  # world -> body frame, m/s
        msg = Vector3Stamped()
        msg.header.stamp = stamp
        msg.vector.x, msg.vector.y, msg.vector.z = (float(v) for v in v_body)
        self.vel_pub.publish(msg)

    def publish_diagnostics(self) -> None:
        d = self.controller.diagnostics()
        stats = self.loop.stats.summary()
        level = DiagnosticStatus.OK if d["latched_reason"] is None else DiagnosticStatus.ERROR
        status = DiagnosticStatus(level=level, name="maa_deploy: control", hardware_id=self.cfg.deploy.backend,
                                  message=d["latched_reason"] or f"mode {d['mode']}")
        flat = {"mode": d["mode"], "policy": json.dumps(d["policy"]), "policy_swaps": d["policy_swaps"],
                "policy_last_error": d["policy_last_error"] or "", "safety": json.dumps(d["safety"]),
                "cmd_vel_timeouts": self.velocity.timeouts, "loop": json.dumps(stats),
                "scheduling": self.loop.scheduling}
        sim_scheduling = getattr(self.controller.backend, "scheduling", None)
        if sim_scheduling is not None:
            flat["sim_physics_scheduling"] = sim_scheduling
        if not self._scheduling_reported and self.loop.scheduling != "not started":
            self._scheduling_reported = True
            if "refused" in self.loop.scheduling:
                self.get_logger().warning(f"control thread: {self.loop.scheduling}")
            else:
                self.get_logger().info(f"control thread: {self.loop.scheduling}")
        status.values = [KeyValue(key=k, value=str(v)) for k, v in flat.items()]
        arr = DiagnosticArray(status=[status])
        arr.header.stamp = self.get_clock().now().to_msg()
        self.diag_pub.publish(arr)

    def shutdown(self) -> None:
        """Stop the loop (its on_stop commands damping), then close the backend."""
        self.loop.stop()
        self.controller.backend.damping()
        self.controller.backend.close()


def main(args=None) -> int:
    return run_node(DeployNode, "maa_deploy", num_threads=2, args=args)


if __name__ == "__main__":
    sys.exit(main())

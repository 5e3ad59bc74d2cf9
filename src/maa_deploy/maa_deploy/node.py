"""ROS 2 deploy node: runs generated Go2 actors with the pretrained adaptation module, safely.

A lifecycle (managed) node, driven by the launch file / ``launch_go2`` or ``ros2 lifecycle set``:

* ``configure``: build the stack (backend, adaptation module, safety limits, trust) and the ROS interfaces; the
  robot backend starts and holds damping; mode services refuse ("not active");
* ``activate``: start the 50 Hz control loop and its supervisor (the robot is PASSIVE: damping until ``~/stand``);
* ``deactivate``: stop the loop, damping (the safe state); ``cleanup``: close the backend; ``shutdown``: damping
  and close, from any state. ``autostart:=true`` configures and activates at start-up (tests, scripts).

Interfaces (names relative to the node, ``~`` = ``/maa_deploy``):
* subscribes ``weights_topic`` (maa_msgs/PolicyWeights, latched QoS): size-bounded, signature-checked
  (:mod:`maa_deploy.trust`) and validated off the control thread, then hot-swapped between ticks, or staged until
  ``~/activate_staged`` when ``trust.require_activation``; a rejected message keeps the running policy and is
  reported on ``~/events`` and diagnostics;
* subscribes ``cmd_vel`` (geometry_msgs/Twist): velocity command, zeroed after ``teleop.timeout_s`` by the control
  thread itself; heading control on the IMU yaw (``teleop.heading_gain``, 0 = off; :mod:`maa_go2.teleop`);
* services (std_srvs/Trigger): ``~/stand``, ``~/start`` (policy), ``~/stop`` (back to stand), ``~/estop``
  (damping, latched), ``~/reset`` (clear the latch -> passive; only in DAMPING with the robot at rest; logged),
  ``~/activate_staged``;
* publishes ``joint_states``, ``~/action``, ``~/observation`` (std_msgs/Float32MultiArray), ``~/step``
  (maa_msgs/PolicyStep: obs + action of every policy tick with the tick's sequence number), ``~/mode`` (latched),
  ``~/events`` (std_msgs/String), ``/diagnostics``, and with the sim backend ``~/sim/base_velocity`` (body frame)
  and ``~/sim/base_pose`` (geometry_msgs/PoseStamped, frame ``world``: what an offline replay of the motion needs,
  together with ``joint_states`` of the same stamp; ``maa_go2.rendering``).
The control loop (:mod:`maa_deploy.loop`) runs on its own deadline-paced thread, watched by a
:class:`~maa_deploy.supervisor.Supervisor`: a dead thread latches damping, turns diagnostics ERROR, refuses
``~/start`` and makes the process exit 1 after ``supervisor_grace_s``. SIGINT or any exit leaves the robot in damping.
"""
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # a multi-threaded BLAS adds ms of jitter to a 0.2 ms actor

import collections  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402

import numpy as np  # noqa: E402
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue  # noqa: E402
from geometry_msgs.msg import PoseStamped, Twist, Vector3Stamped  # noqa: E402
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn  # noqa: E402
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import JointState  # noqa: E402
from std_msgs.msg import Float32MultiArray, String  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from maa_core.config import ConfigError  # noqa: E402
from maa_core.rotations import world_to_body  # noqa: E402
from maa_core.weights_io import WeightsError  # noqa: E402
from maa_deploy.loop import DeployConfig, build_stack  # noqa: E402
from maa_deploy.state_machine import Mode, TransitionError  # noqa: E402
from maa_deploy.supervisor import Supervisor  # noqa: E402
from maa_deploy.trust import TrustConfig, WeightsGate  # noqa: E402
from maa_generator.ros.params import declare_config  # noqa: E402
from maa_generator.ros.run import run_node  # noqa: E402
from maa_go2.joint_order import JOINT_NAMES  # noqa: E402
from maa_go2.teleop import TeleopConfig, VelocityCommand, parse_gait_request  # noqa: E402
from maa_msgs.msg import PolicyStep, PolicyWeights  # noqa: E402

LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
#: the last 20 events stay readable by late subscribers (operators' tools, tests)
EVENTS_QOS = QoSProfile(depth=20, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)


@dataclass
class DeployNodeConfig:
    """ROS-side parameters of the deploy node (the control stack's are :class:`DeployConfig`'s, same names)."""

    weights_topic: str = "/maa/policy_weights"
    cmd_vel_topic: str = "/cmd_vel"
    gait_topic: str = "/maa/gait"    # std_msgs/String "pace" or "bound gait_frequency=2.5 footswing_height=0.1"
    publish_hz: float = 50.0         # joint_states / action / observation
    diagnostics_hz: float = 2.0
    network_interface: str = ""      # overrides unitree.interface when set (launch argument)
    autostart: bool = False          # lifecycle: configure and activate at start-up (else the launcher does)
    auto_start: bool = False         # stand up, then walk as soon as a valid policy is active
    cmd_vel_queue_depth: int = 10    # subscription depths (bounded inputs)
    step_queue_depth: int = 50
    supervisor_grace_s: float = 1.0  # a dead deploy thread -> ERROR at once, process exit 1 after this, s
    supervisor_stall_s: float = 0.5  # a control loop without a tick for this long counts as dead, s
    deploy: DeployConfig = field(default_factory=DeployConfig)
    teleop: TeleopConfig = field(default_factory=TeleopConfig)
    trust: TrustConfig = field(default_factory=TrustConfig)

    def __post_init__(self) -> None:
        if not (self.publish_hz > 0 and self.diagnostics_hz > 0):
            raise ConfigError("publish_hz and diagnostics_hz must be > 0")
        if not (self.cmd_vel_queue_depth > 0 and self.step_queue_depth > 0):
            raise ConfigError("cmd_vel_queue_depth and step_queue_depth must be > 0")
        if not (self.supervisor_grace_s >= 0 and self.supervisor_stall_s > 0):
            raise ConfigError("supervisor_grace_s must be >= 0 and supervisor_stall_s > 0")
        if self.network_interface:
            self.deploy.unitree.interface = self.network_interface


def step_message(sequence: int, obs: np.ndarray, action: np.ndarray) -> PolicyStep:
    """One policy tick as ``maa_msgs/PolicyStep`` (for recording prompts; ``sequence`` = control tick count)."""
    return PolicyStep(sequence=int(sequence), observation=np.asarray(obs, np.float32).ravel(),
                      action=np.asarray(action, np.float32).ravel())


#: a guarded callback's answer once a lifecycle cleanup has begun (the entities it would use are being destroyed)
SHUTTING_DOWN = "the deploy node is shutting down (lifecycle cleanup)"


def _refuse_service(args: tuple, message: str):
    """A guarded callback's return: a service's (request, response) is answered ``success=False`` with
    ``message``; a subscription or timer callback returns None."""
    if len(args) == 2:
        args[1].success, args[1].message = False, message
        return args[1]
    return None


class DeployNode(LifecycleNode):
    def __init__(self) -> None:
        super().__init__("maa_deploy")
        self.cfg: DeployNodeConfig = declare_config(self, DeployNodeConfig)
        #: set when the node must exit non-zero (a dead deploy thread); ``run_node`` watches it
        self.exit_requested = threading.Event()
        self.active = False
        self.controller = self.loop = self.supervisor = None
        self._entities: list = []
        self._closing = False  # True from the start of a cleanup until the next configure
        self.callback_errors: dict[str, int] = {}
        self._configure_error = ""
        if self.cfg.autostart:
            if self.trigger_configure() != TransitionCallbackReturn.SUCCESS:
                raise RuntimeError(self._configure_error or "configure failed")
            self.trigger_activate()
        else:
            self.get_logger().info("unconfigured: waiting for the lifecycle transitions configure, activate "
                                   "(the launchers send them; or: ros2 lifecycle set /maa_deploy configure)")

    # --------------------------------------------------------------- lifecycle
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self._build()
        except (ConfigError, ValueError, OSError, RuntimeError) as exc:
            self._configure_error = f"configure failed: {exc}"
            self.get_logger().error(self._configure_error)
            self._teardown()
            return TransitionCallbackReturn.FAILURE
        self.get_logger().info(f"configured: backend {self.cfg.deploy.backend} holds damping")
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        # Everything allocated so far (torch, MuJoCo, ROS) is long-lived: move it out of the collector's reach so
        # a full collection cannot stall the 50 Hz loop (or the simulated robot's physics thread) for ~100 ms.
        gc.collect()
        gc.freeze()
        self.loop.start()
        self.supervisor.start()
        self.active = True
        trust = self.cfg.trust
        self.get_logger().info(f"ready: backend {self.cfg.deploy.backend}, {self.cfg.deploy.rate_hz:.0f} Hz, "
                               f"weights on {self.cfg.weights_topic} ({len(trust.trusted_keys)} trusted key(s), "
                               f"{'signed only' if trust.require_signed else 'unsigned accepted'}, "
                               f"{'staged' if trust.require_activation else 'hot swap'}), "
                               f"mode {self.controller.sm.mode.value}")
        return TransitionCallbackReturn.SUCCESS

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_loop()
        self._event("deactivated: control loop stopped, damping")
        return TransitionCallbackReturn.SUCCESS

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._teardown()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.shutdown()
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.shutdown()
        return TransitionCallbackReturn.SUCCESS

    def _build(self) -> None:
        """The stack and the ROS interfaces (configure)."""
        self._closing = False
        self.gate = WeightsGate(self.cfg.trust)
        self.controller, self.loop = build_stack(self.cfg.deploy)
        self.runner = self.controller.runner
        self.velocity = VelocityCommand(self.cfg.teleop)
        self.controller.command_source = self.velocity.commands
        self.controller.obs_builder.set_commands(self.velocity.commands(time.monotonic()))
        self._steps: collections.deque = collections.deque(maxlen=256)  # (tick, obs, action) of each POLICY tick
        self.loop.tick = self._tick_and_capture
        self.supervisor = Supervisor(self.loop, self.controller, grace_s=self.cfg.supervisor_grace_s,
                                     stall_s=self.cfg.supervisor_stall_s, on_fatal=self._on_fatal)
        self.supervisor.exit_requested = self.exit_requested

        pub = self._keep
        self.joint_pub = pub(self.create_publisher(JointState, "joint_states", 10))
        self.action_pub = pub(self.create_publisher(Float32MultiArray, "~/action", 10))
        self.obs_pub = pub(self.create_publisher(Float32MultiArray, "~/observation", 10))
        self.step_pub = pub(self.create_publisher(PolicyStep, "~/step", self.cfg.step_queue_depth))
        self.mode_pub = pub(self.create_publisher(String, "~/mode", LATCHED))
        self.events_pub = pub(self.create_publisher(String, "~/events", EVENTS_QOS))
        self.diag_pub = pub(self.create_publisher(DiagnosticArray, "/diagnostics", 10))
        sim = hasattr(self.controller.backend, "data")
        self.vel_pub = pub(self.create_publisher(Vector3Stamped, "~/sim/base_velocity", 10)) if sim else None
        self.pose_pub = pub(self.create_publisher(PoseStamped, "~/sim/base_pose", 10)) if sim else None
        pub(self.create_subscription(PolicyWeights, self.cfg.weights_topic, self._guarded("weights", self.on_weights),
                                     LATCHED))
        pub(self.create_subscription(Twist, self.cfg.cmd_vel_topic, self._guarded("cmd_vel", self.on_cmd_vel),
                                     self.cfg.cmd_vel_queue_depth))
        pub(self.create_subscription(String, self.cfg.gait_topic, self._guarded("gait", self.on_gait), 10))
        for name, target in (("stand", Mode.STAND), ("start", Mode.POLICY), ("stop", Mode.STAND),
                             ("estop", None), ("reset", None), ("activate_staged", None)):
            pub(self.create_service(Trigger, f"~/{name}", self._guarded(name, self._mode_service(name, target))))
        pub(self.create_timer(1.0 / self.cfg.publish_hz, self._guarded("publish_state", self.publish_state)))
        pub(self.create_timer(1.0 / self.cfg.diagnostics_hz, self._guarded("diagnostics", self.publish_diagnostics)))
        self._last_mode = None
        self._scheduling_reported = False
        self._tick_count = 0

    def _keep(self, entity):
        self._entities.append(entity)
        return entity

    def _stop_loop(self) -> None:
        """Stop the supervisor and the loop (its on_stop commands damping); damping again from here."""
        self.active = False
        if self.supervisor is not None:
            self.supervisor.stop()
        if self.loop is not None:
            self.loop.stop()
        if self.controller is not None:
            self.controller.backend.damping()
            self.controller.sm.deactivate("lifecycle deactivate: control loop stopped")

    def _teardown(self) -> None:
        """Undo :meth:`_build` (cleanup): damping, close the backend, destroy the ROS interfaces."""
        self._closing = True
        self._stop_loop()
        if self.controller is not None:
            self.controller.backend.close()
            if self.controller.runner is not None:
                self.controller.runner.close()
        for entity in reversed(self._entities):
            kind = type(entity).__name__
            destroy = {"Publisher": self.destroy_publisher, "Subscription": self.destroy_subscription,
                       "Service": self.destroy_service, "Timer": self.destroy_timer}.get(kind)
            if destroy is not None:
                destroy(entity)
        self._entities.clear()
        self.controller = self.loop = self.supervisor = None

    def _tick_and_capture(self) -> None:
        """The control tick, plus a copy of each POLICY tick's (observation, action) for ``~/step``."""
        self.controller.tick()
        self._tick_count += 1
        if self.controller.sm.mode == Mode.POLICY and self.controller.last_obs is not None:
            self._steps.append((self._tick_count, self.controller.last_obs,
                                np.array(self.controller.last_action, np.float32)))

    @property
    def exit_reason(self) -> str | None:
        return self.supervisor.fatal if self.supervisor is not None else None

    def _guarded(self, name: str, callback):
        """Wrap an executor callback: an unexpected exception is counted, reported and latches damping (e-stop)
        instead of killing the executor thread that serves the operator's services."""

        def run(*args):
            if self._closing:  # cleanup is destroying what the callback would use; the robot is already damped
                return _refuse_service(args, SHUTTING_DOWN)
            try:
                return callback(*args)
            except Exception as exc:  # noqa: BLE001 - counted, damped, reported
                if self._closing:  # raced with cleanup (e.g. publishing on a just-destroyed publisher)
                    return _refuse_service(args, SHUTTING_DOWN)
                self.callback_errors[name] = self.callback_errors.get(name, 0) + 1
                self.controller.estop(f"callback {name} failed: {exc!r}")
                self._event(f"callback {name} failed ({exc!r}): DAMPING latched", error=True)
                return _refuse_service(args, f"internal error: {exc!r}; DAMPING latched")

        return run

    def _on_fatal(self, reason: str) -> None:
        """Supervisor callback (its thread): report; the supervisor has already latched damping."""
        self._event(f"FATAL: {reason}; damping latched, exiting in {self.cfg.supervisor_grace_s:g} s", error=True)

    # ------------------------------------------------------------------ inputs
    def _event(self, text: str, error: bool = False) -> None:
        # rclpy ties a severity to each call site, so the two levels need two call sites
        if error:
            self.get_logger().error(text)
        else:
            self.get_logger().info(text)
        self.events_pub.publish(String(data=text))

    def on_weights(self, msg: PolicyWeights) -> None:
        try:
            self.gate.check_size(msg)  # before anything else reads the data
        except WeightsError as exc:
            self._event(f"rejected policy weights: {exc}", error=True)
            return
        stage = self.cfg.trust.require_activation
        future = self.runner.load_async(msg, stage=stage, check=self.gate.check)
        future.add_done_callback(lambda f: self._on_loaded(f, msg, stage))

    def _on_loaded(self, future, msg: PolicyWeights, staged: bool) -> None:
        exc = future.exception()
        if exc is not None:
            self._event(f"rejected policy weights ({msg.layout_name}, {msg.checksum[:12]}): {exc}", error=True)
            return
        signer = f", signed by {msg.key_id} seq {msg.sequence}" if len(msg.signature) else ", unsigned"
        what = "policy staged (call ~/activate_staged to run it)" if staged else "policy active"
        self._event(f"{what}: {msg.layout_name} from {msg.generator_id or 'file'} "
                    f"(task {msg.task or '?'}, checksum {msg.checksum[:12]}{signer})")
        if self.cfg.auto_start and not staged:
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

    def on_gait(self, msg: String) -> None:
        try:
            gait, style = parse_gait_request(msg.data)
            self.velocity.set_gait(gait, **style)
        except ValueError as exc:
            self._event(f"ignored gait request {msg.data!r}: {exc}", error=True)
            return
        self._event(f"gait: {msg.data.strip()}")

    def _mode_service(self, name: str, target: Mode | None):
        def handle(request, response):
            try:
                if not self.active and name not in ("estop", "reset"):
                    raise TransitionError(f"{name} refused: the deploy node is not active (lifecycle); activate it "
                                          "first (ros2 lifecycle set /maa_deploy activate)")
                if name == "estop":
                    self.controller.estop("operator e-stop (service)")
                    message = f"mode {self.controller.sm.mode.value}"
                elif name == "reset":
                    message = self.controller.reset()
                elif name == "activate_staged":
                    policy = self.runner.activate_staged()
                    message = f"policy active: {policy.source} (checksum {policy.checksum[:12]})"
                else:
                    self.controller.request_mode(target)
                    message = f"mode {self.controller.sm.mode.value}"
                response.success, response.message = True, message
            except (TransitionError, WeightsError) as exc:
                response.success, response.message = False, str(exc)
            self._event(f"{name}: {response.message}", error=not response.success)
            return response

        return handle

    # ----------------------------------------------------------------- outputs
    def publish_state(self) -> None:
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
            msg = step_message(*self._steps.popleft())
            msg.header.stamp = stamp
            self.step_pub.publish(msg)
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
        v_body = world_to_body(data.qpos[3:7], data.qvel[0:3])  # m/s
        msg = Vector3Stamped()
        msg.header.stamp = stamp
        msg.vector.x, msg.vector.y, msg.vector.z = (float(v) for v in v_body)
        self.vel_pub.publish(msg)
        pose = self.controller.backend.base_pose()  # [7]: x, y, z (m, world), w, x, y, z
        out = PoseStamped()
        out.header.stamp, out.header.frame_id = stamp, "world"
        p, o = out.pose.position, out.pose.orientation
        p.x, p.y, p.z = (float(v) for v in pose[0:3])
        o.w, o.x, o.y, o.z = (float(v) for v in pose[3:7])
        self.pose_pub.publish(out)

    def publish_diagnostics(self) -> None:
        d = self.controller.diagnostics()
        stats = self.loop.stats.summary()
        problem = d["fatal"] or d["latched_reason"] or d["backend"]["fault"]
        level = DiagnosticStatus.OK if problem is None else DiagnosticStatus.ERROR
        status = DiagnosticStatus(level=level, name="maa_deploy: control", hardware_id=self.cfg.deploy.backend,
                                  message=(f"FATAL: {d['fatal']}" if d["fatal"] else problem) or f"mode {d['mode']}")
        flat = {"mode": d["mode"], "fatal": d["fatal"] or "", "backend": json.dumps(d["backend"]),
                "staged_policy": json.dumps(d["staged_policy"]), "weights_refused": self.gate.refused,
                "callback_errors": json.dumps(self.callback_errors),
                "policy": json.dumps(d["policy"]), "policy_swaps": d["policy_swaps"],
                "policy_last_error": d["policy_last_error"] or "", "safety": json.dumps(d["safety"]),
                "cmd_vel_timeouts": self.velocity.timeouts, "gait": self.velocity.gait, "loop": json.dumps(stats),
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
        """Damping and release everything, from any lifecycle state (SIGINT, process exit)."""
        self._teardown()


def main(args=None) -> int:
    return run_node(DeployNode, "maa_deploy", num_threads=2, args=args)


if __name__ == "__main__":
    sys.exit(main())

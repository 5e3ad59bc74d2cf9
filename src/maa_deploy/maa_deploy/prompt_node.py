"""Behavior prompt source: plays back a prompt file, or records the robot's own trajectory, as maa_msgs/Trajectory.

Parameters: ``mode`` = ``playback`` | ``record``; ``topic`` (output); ``prompt_file`` (playback input, or where a
recording is saved); ``period_s`` (playback: republish period, 0 = once); ``num_steps`` and ``dt`` (record);
``step_topic`` (record: the deploy node's ``~/step``, ``maa_msgs/PolicyStep`` = tick sequence number + observation +
action of each policy tick).

Recording keeps ``num_steps`` consecutive ticks: a gap in the sequence numbers (a dropped message) is logged as a
warning and restarts the recording; duplicate / old ticks and messages of the wrong size are ignored with a warning.
The recording is saved without overwriting anything: to ``prompt_file`` if it does not exist, else to
``<stem>-1<suffix>``, ``-2``, ... (the path written is logged).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass

from rclpy.node import Node

from maa_core.config import ConfigError
from maa_core.prompt_io import load_prompt, save_prompt_new
from maa_deploy.prompt_recorder import PromptRecorder
from maa_generator.ros.convert import trajectory_to_msg
from maa_generator.ros.params import declare_config
from maa_generator.ros.run import run_node
from maa_msgs.msg import PolicyStep
from maa_msgs.msg import Trajectory as TrajectoryMsg


@dataclass
class PromptSourceConfig:
    mode: str = "playback"
    topic: str = "/maa/prompt"
    prompt_file: str = ""
    period_s: float = 2.0
    num_steps: int = 250
    dt: float = 0.02
    task: str = "recorded"
    step_topic: str = "/maa_deploy/step"

    def __post_init__(self) -> None:
        if self.mode not in ("playback", "record"):
            raise ConfigError(f"mode must be 'playback' or 'record', got {self.mode!r}")
        if self.mode == "playback" and not self.prompt_file:
            raise ConfigError("playback needs prompt_file")


class PromptSource(Node):
    def __init__(self) -> None:
        super().__init__("maa_prompt_source")
        self.cfg: PromptSourceConfig = declare_config(self, PromptSourceConfig)
        self.pub = self.create_publisher(TrajectoryMsg, self.cfg.topic, 10)
        if self.cfg.mode == "playback":
            traj = load_prompt(self.cfg.prompt_file)
            self.msg = trajectory_to_msg(traj, source=f"file:{self.cfg.prompt_file}")
            self.publish()
            if self.cfg.period_s > 0:
                self.create_timer(self.cfg.period_s, self.publish)
            self.get_logger().info(f"ready: playing {self.cfg.prompt_file} ({traj.length} steps, {traj.domain}/"
                                   f"{traj.task}) on {self.cfg.topic}")
        else:
            self.recorder = PromptRecorder(self.cfg.num_steps, self.cfg.dt, task=self.cfg.task)
            self.sizes: tuple[int, int] | None = None  # (obs, action) lengths of the first accepted tick
            self.create_subscription(PolicyStep, self.cfg.step_topic, self.on_step, 100)
            self.get_logger().info(f"ready: recording {self.cfg.num_steps} steps from {self.cfg.step_topic}")

    def publish(self) -> None:
        self.msg.header.stamp = self.get_clock().now().to_msg()
        self.pub.publish(self.msg)

    def _sizes_ok(self, msg: PolicyStep) -> bool:
        """Non-empty observation and action whose lengths match the first accepted tick (warns otherwise)."""
        sizes = (len(msg.observation), len(msg.action))
        if 0 in sizes or (self.sizes is not None and sizes != self.sizes):
            want = "non-empty" if self.sizes is None else f"{self.sizes[0]} / {self.sizes[1]}"
            self.get_logger().warning(f"ignored step {msg.sequence}: observation / action lengths {sizes[0]} / "
                                      f"{sizes[1]}, expected {want}")
            return False
        self.sizes = sizes
        return True

    def on_step(self, msg: PolicyStep) -> None:
        rec = self.recorder
        if rec.done or not self._sizes_ok(msg):
            return
        gaps, old = rec.num_gaps, rec.out_of_order
        done = rec.add(msg.observation, msg.action, sequence=msg.sequence)
        if rec.num_gaps > gaps:
            expected, got = rec.gaps[-1]
            self.get_logger().warning(f"step sequence gap: expected {expected}, got {got} ({got - expected} ticks "
                                      f"dropped); recording restarted ({rec.summary()})")
        if rec.out_of_order > old:
            self.get_logger().warning(f"ignored duplicate / out-of-order step {msg.sequence} (last "
                                      f"{rec.last_sequence})")
        if done:
            self.finish()

    def finish(self) -> None:
        """Save (never overwriting) and publish the completed recording."""
        traj = self.recorder.trajectory()
        source = f"recorded:maa_deploy {self.recorder.summary()}"
        if self.cfg.prompt_file:
            path = save_prompt_new(self.cfg.prompt_file, traj, source=source)
            self.get_logger().info(f"saved recording to {path}")
        self.msg = trajectory_to_msg(traj, source=source)
        self.publish()
        self.get_logger().info(f"recorded {traj.length} steps ({self.recorder.summary()}); published on "
                               f"{self.cfg.topic}")


def main(args=None) -> int:
    return run_node(PromptSource, "maa_prompt_source", num_threads=1, args=args)


if __name__ == "__main__":
    sys.exit(main())

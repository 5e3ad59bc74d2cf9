"""Behavior prompt source: plays back a prompt file, or records the robot's own trajectory, as maa_msgs/Trajectory.

Parameters: ``mode`` = ``playback`` | ``record``; ``topic`` (output); ``prompt_file`` (playback input, or where a
recording is saved); ``period_s`` (playback: republish period, 0 = once); ``num_steps`` and ``dt`` (record);
``step_topic`` (record: the deploy node's ``~/step``, observation + action of each policy tick).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass

from rclpy.node import Node
from std_msgs.msg import Float32MultiArray

from maa_deploy.prompt_recorder import PromptRecorder
from maa_generator.config import ConfigError
from maa_generator.prompt_io import load_prompt, save_prompt
from maa_generator.ros_convert import trajectory_to_msg
from maa_generator.ros_params import declare_config
from maa_generator.ros_run import run_node
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
            self.create_subscription(Float32MultiArray, self.cfg.step_topic, self.on_step, 100)
            self.get_logger().info(f"ready: recording {self.cfg.num_steps} steps from {self.cfg.step_topic}")

    def publish(self) -> None:
        self.msg.header.stamp = self.get_clock().now().to_msg()
        self.pub.publish(self.msg)

    def on_step(self, msg: Float32MultiArray) -> None:
        if self.recorder.done:
            return
        dims = {d.label: d.size for d in msg.layout.dim}
        if set(dims) != {"observation", "action"} or dims["observation"] + dims["action"] != len(msg.data):
            self.get_logger().warning(f"ignored step message with layout {dims} and {len(msg.data)} values")
            return
        n = dims["observation"]
        if self.recorder.add(msg.data[:n], msg.data[n:]):
            traj = self.recorder.trajectory()
            if self.cfg.prompt_file:
                save_prompt(self.cfg.prompt_file, traj, source="recorded:maa_deploy")
            self.msg = trajectory_to_msg(traj, source="recorded:maa_deploy")
            self.publish()
            self.get_logger().info(f"recorded {traj.length} steps; published on {self.cfg.topic}")


def main(args=None) -> int:
    return run_node(PromptSource, "maa_prompt_source", num_threads=1, args=args)


if __name__ == "__main__":
    sys.exit(main())

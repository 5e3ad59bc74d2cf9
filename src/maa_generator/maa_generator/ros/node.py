"""ROS 2 generator node: prompts in, generated policy weights out.

* subscribes ``prompt_topic`` (maa_msgs/Trajectory) and keeps the latest valid prompts;
* serves ``/generate_policy`` (maa_msgs/srv/GeneratePolicy) on its own callback group, so prompts keep flowing
  while a request is generating;
* serves the same work as the action ``/generate_policy_action`` (maa_msgs/action/GeneratePolicy): feedback after
  sampling and after each screened candidate, cancel between candidates (result code CANCELED);
* publishes the selected policy on ``weights_topic`` (maa_msgs/PolicyWeights; reliable, transient local, depth 1),
  so a deploy node that starts later still receives the latest policy;
* with ``signing_key`` set, signs every weights message it publishes or returns (:mod:`maa_generator.signing`);
* rejects prompts above ``max_prompt_steps`` / ``max_prompt_dim`` before converting their arrays.
All logic lives in :mod:`maa_generator.service`.
"""
from __future__ import annotations

import math
import os
import sys

from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

from maa_core.prompt import PromptError
from maa_core.weights_codec import PolicyMeta
from maa_generator.ros.convert import trajectory_from_msg, weights_to_msg
from maa_generator.ros.params import declare_config
from maa_generator.ros.run import run_node
from maa_generator.service import GenerationRequest, GenerationService, GeneratorNodeConfig, ResultCode
from maa_generator.signing import SignatureError, Signer
from maa_msgs.action import GeneratePolicy as GeneratePolicyAction
from maa_msgs.msg import PolicyWeights
from maa_msgs.msg import Trajectory as TrajectoryMsg
from maa_msgs.srv import GeneratePolicy

LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)


class GeneratorNode(Node):
    def __init__(self) -> None:
        super().__init__("maa_generator")
        self.cfg: GeneratorNodeConfig = declare_config(self, GeneratorNodeConfig)
        self.signer = self._load_signer()  # before the (slow) model: a bad key fails fast
        import torch

        torch.set_num_threads(self.cfg.torch_threads)
        generator = self._load_generator()
        self.service = GenerationService(
            generator, default_candidates=self.cfg.num_candidates, default_seed=self.cfg.seed,
            max_candidates=self.cfg.max_candidates, screener=self._make_screener(generator),
            keep_prompts=self.cfg.keep_prompts, limits=self.cfg.prompt_limits)
        self.generator_id = getattr(generator, "generator_id", self.cfg.model_path)
        self.weights_pub = self.create_publisher(PolicyWeights, self.cfg.weights_topic, LATCHED)
        self.create_subscription(TrajectoryMsg, self.cfg.prompt_topic, self.on_prompt, self.cfg.prompt_queue_depth,
                                 callback_group=MutuallyExclusiveCallbackGroup())
        self.create_service(GeneratePolicy, self.cfg.service_name, self.on_generate,
                            callback_group=MutuallyExclusiveCallbackGroup())
        # the same work as a goal with feedback and cancel (screening can take minutes); its own callback group so a
        # cancel request is served while the goal executes
        self.action_server = ActionServer(
            self, GeneratePolicyAction, self.cfg.action_name, execute_callback=self.on_goal,
            goal_callback=lambda goal: GoalResponse.ACCEPT, cancel_callback=lambda goal_handle: CancelResponse.ACCEPT,
            callback_group=MutuallyExclusiveCallbackGroup())
        self.get_logger().info(f"ready: service {self.cfg.service_name}, prompts on {self.cfg.prompt_topic}, "
                               f"weights on {self.cfg.weights_topic}, model {self.cfg.model_path or '(none)'}")

    def _load_signer(self) -> Signer | None:
        path = self.cfg.signing_key
        if not path:
            self.get_logger().warning("parameter signing_key is empty: publishing UNSIGNED policy weights; a deploy "
                                      "node that requires signed weights (trust.require_signed, the real-robot "
                                      "setting) will refuse them (create a key with maa_keygen)")
            return None
        try:
            signer = Signer.from_file(path)
        except SignatureError as exc:
            raise SignatureError(f"parameter signing_key: {exc}") from None
        mode = os.stat(os.path.expanduser(path)).st_mode & 0o777
        if mode & 0o077:
            self.get_logger().warning(f"signing key {path} is accessible to other users (mode {mode:o}); "
                                      f"run: chmod 600 {path}")
        self.get_logger().info(f"signing policy weights with key {signer.key_id} ({path})")
        return signer

    def _load_generator(self):
        if not self.cfg.model_path:
            self.get_logger().error("parameter model_path is empty: requests will fail with GENERATOR_NOT_READY")
            return None
        from maa_generator.models.generator import Generator

        try:
            return Generator.load(self.cfg.model_path, map_location=self.cfg.device)
        except (OSError, ValueError) as exc:
            self.get_logger().error(f"cannot load generator from {self.cfg.model_path}: {exc}")
            return None

    def _make_screener(self, generator):
        if generator is None:
            return None
        from maa_generator.screening import make_screener

        domain = self.cfg.screen_domain or getattr(generator, "domain", "")
        try:
            return make_screener(domain, seconds=self.cfg.screen_seconds, adaptation_path=self.cfg.adaptation_path)
        except (ImportError, OSError, ValueError) as exc:
            self.get_logger().warning(f"screening unavailable for domain {domain!r}: {exc}")
            return None

    def on_prompt(self, msg: TrajectoryMsg) -> None:
        try:
            self.service.add_prompt(trajectory_from_msg(msg, self.service.limits))
        except PromptError as exc:
            self.get_logger().warning(f"rejected prompt from {msg.source or 'unknown source'}: {exc}")

    def on_generate(self, request: GeneratePolicy.Request, response: GeneratePolicy.Response):
        return self._serve(request, response)

    def on_goal(self, goal_handle):
        """Action ``GeneratePolicy``: the service's work, with feedback after sampling and after each screened
        candidate, and cancel between candidates."""
        goal = goal_handle.request

        def progress(stage: str, done: int, total: int) -> None:
            fb = GeneratePolicyAction.Feedback(stage=stage, num_candidates=total, candidates_generated=total,
                                               candidates_screened=done if stage == "screening" else 0)
            goal_handle.publish_feedback(fb)

        result = self._serve(goal, GeneratePolicyAction.Result(), progress, lambda: goal_handle.is_cancel_requested)
        if result.error_code == int(ResultCode.CANCELED):
            goal_handle.canceled()
        elif result.error_code == int(ResultCode.NONE):
            goal_handle.succeed()
        else:
            goal_handle.abort()
        return result

    def _serve(self, request, response, progress=None, cancelled=None):
        """Fill ``response`` (a service response or an action result: same field names) for ``request``."""
        prompt = None
        if not request.use_latest_prompt:
            try:
                prompt = trajectory_from_msg(request.prompt, self.service.limits)
            except PromptError as exc:
                response.error_code, response.error_msg = int(ResultCode.INVALID_PROMPT), str(exc)
                return response
        result = self.service.handle(GenerationRequest(
            prompt=prompt, use_latest_prompt=request.use_latest_prompt, num_candidates=request.num_candidates,
            seed=request.seed, screen=request.screen), progress=progress, cancelled=cancelled)
        response.error_code, response.error_msg = int(result.code), result.message
        response.generation_time_s = float(result.elapsed_s)
        response.candidate_scores = [float(s) for s in result.scores]
        if not result.ok:
            self.get_logger().warning(f"generation failed ({result.code.name}): {result.message}")
            return response
        score = float(result.scores[result.selected]) if result.scores.size else math.nan
        meta = PolicyMeta(generator_id=str(self.generator_id), domain=result.prompt.domain, task=result.prompt.task,
                          seed=result.seed, candidate_index=result.selected, score=score)
        msg = weights_to_msg(result.layout, result.flat, meta)
        msg.header.stamp = self.get_clock().now().to_msg()
        if self.signer is not None:  # last: the signature covers the filled fields
            try:
                self.signer.sign_message(msg)
            except SignatureError as exc:
                response.error_code, response.error_msg = int(ResultCode.UNKNOWN), f"cannot sign the weights: {exc}"
                self.get_logger().error(response.error_msg)
                return response
        response.weights = msg
        response.prompt_novelty = float(result.prompt_novelty)
        if result.prompt_novelty > self.cfg.novelty_warn:  # NaN (no bank) compares False
            self.get_logger().warning(
                f"prompt novelty {result.prompt_novelty:.1f} > {self.cfg.novelty_warn:g}: this behavior is unlike the "
                "generator's training prompts; the generated policy is unreliable (screen it before deploying)")
        self.weights_pub.publish(msg)
        self.get_logger().info(f"generated {len(result.candidates)} candidate(s) for {meta.domain}/{meta.task} in "
                               f"{result.elapsed_s * 1e3:.0f} ms; published candidate {result.selected}")
        return response


def main(args=None) -> int:
    return run_node(GeneratorNode, "maa_generator", num_threads=3, args=args)


if __name__ == "__main__":
    sys.exit(main())

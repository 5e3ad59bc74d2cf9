"""A stand-alone rclpy process serving maa_msgs/srv/GeneratePolicy for transport tests.

It answers with a PolicyWeights message derived deterministically from the request, so the
caller can check that every field crossed DDS intact. Prints READY when the service is up.
"""
from __future__ import annotations

import hashlib
import sys

import numpy as np
import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node

from maa_msgs.srv import GeneratePolicy


class EchoGenerator(Node):
    def __init__(self) -> None:
        super().__init__("generate_policy_echo_server")
        self.create_service(GeneratePolicy, "generate_policy", self.on_request)

    def on_request(self, request, response):
        prompt = request.prompt
        if prompt.num_steps * prompt.obs_dim != len(prompt.observations):
            response.error_code = GeneratePolicy.Response.INVALID_PROMPT
            response.error_msg = (f"observations has {len(prompt.observations)} values, expected "
                                  f"num_steps*obs_dim = {prompt.num_steps * prompt.obs_dim}")
            return response
        data = np.asarray(prompt.observations, dtype=np.float32)[: 8] * 2.0 + float(request.seed)
        w = response.weights
        w.layout_name = "echo"
        w.obs_dim, w.action_dim = prompt.obs_dim, prompt.action_dim
        w.layer_sizes = [prompt.obs_dim, prompt.action_dim]
        w.num_params = int(data.size)
        w.data = data.tolist()
        w.checksum = hashlib.sha256(data.astype("<f4").tobytes()).hexdigest()
        w.task, w.domain, w.seed = prompt.task, prompt.domain, request.seed
        response.candidate_scores = [float(i) for i in range(request.num_candidates)]
        response.error_code = GeneratePolicy.Response.NONE
        return response


def main() -> None:
    rclpy.init()
    node = EchoGenerator()
    try:
        print("READY", flush=True)
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    sys.exit(0)


if __name__ == "__main__":
    main()

"""``generate_policy``: command-line equivalent of ``ros2 service call /generate_policy ...``.

    generate_policy --prompt prompts/go2_walk.npz -k 8 --seed 0 [--screen] [--out policy.npz]
    generate_policy --latest                      # use the latest trajectory the node received

Prints the result code and figures; with ``--out`` saves the selected weights (.npz or .safetensors) with their
layout. Exit status: 0 on success, 1 on a service error code, 2 on bad arguments or no service.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np


def _args(argv):
    p = argparse.ArgumentParser(prog="generate_policy", description=__doc__.split("\n\n")[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--prompt", help="prompt file (.npz, maa.prompt/1) to send as the behavior prompt")
    src.add_argument("--latest", action="store_true", help="use the latest prompt received by the node")
    p.add_argument("-k", "--num-candidates", type=int, default=0, help="candidates to sample (0: node default)")
    p.add_argument("--seed", type=int, default=-1, help="sampling seed (-1: node default)")
    p.add_argument("--screen", action="store_true", help="screen candidates in simulation, return the best")
    p.add_argument("--service", default="/generate_policy")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the service and the answer")
    p.add_argument("--out", help="save the selected weights here (.npz or .safetensors)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = _args(sys.argv[1:] if argv is None else argv)
    import rclpy

    from maa_core.prompt import PromptError
    from maa_core.prompt_io import load_prompt
    from maa_generator.ros.client import ServiceTimeout, ServiceUnavailable, call_service
    from maa_generator.ros.convert import trajectory_to_msg, weights_from_msg
    from maa_msgs.srv import GeneratePolicy

    request = GeneratePolicy.Request(use_latest_prompt=args.latest, num_candidates=args.num_candidates,
                                     seed=args.seed, screen=args.screen)
    if args.prompt:
        try:
            request.prompt = trajectory_to_msg(load_prompt(args.prompt), source=f"file:{args.prompt}")
        except PromptError as exc:
            print(f"generate_policy: {exc}", file=sys.stderr)
            return 2
    rclpy.init()
    node = rclpy.create_node("generate_policy_cli")
    try:
        timing: dict = {}
        try:
            res = call_service(node, GeneratePolicy, args.service, request, timeout=args.timeout,
                               wait_timeout=min(args.timeout, 30.0), timing=timing)
        except ServiceUnavailable:
            print(f"generate_policy: service {args.service} is not available (is the generator node running?)",
                  file=sys.stderr)
            return 2
        except ServiceTimeout:
            print(f"generate_policy: no answer within {args.timeout} s", file=sys.stderr)
            return 2
        names = {v: k for k, v in vars(GeneratePolicy.Response).items() if k.isupper() and isinstance(v, int)}
        if res.error_code != GeneratePolicy.Response.NONE:
            print(f"error_code={res.error_code} ({names.get(res.error_code, '?')}): {res.error_msg}")
            return 1
        layout, flat, meta = weights_from_msg(res.weights)
        scores = np.asarray(res.candidate_scores)
        print(f"ok: {layout.name} {list(layout.dims)} ({layout.num_params} params), candidate {meta.candidate_index}"
              f", seed {meta.seed}, generation {res.generation_time_s * 1e3:.0f} ms, round trip "
              f"{timing['call_s'] * 1e3:.0f} ms" + (f", scores {np.round(scores, 3).tolist()}" if scores.size else "")
              + (f", prompt novelty {res.prompt_novelty:.2f}" if np.isfinite(res.prompt_novelty) else ""))
        if args.out:
            from maa_core.weights_io import save_weights_file

            print(f"saved {save_weights_file(args.out, layout, flat)}")
        return 0
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    sys.exit(main())

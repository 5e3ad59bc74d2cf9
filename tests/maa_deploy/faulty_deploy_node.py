"""Test double: the real deploy node whose control tick raises after ``MAA_TEST_DIE_AFTER_TICKS`` ticks (a control
thread that dies mid-run), started like the real node with ``run_node``. Run as ``python faulty_deploy_node.py
--ros-args ...``."""
from __future__ import annotations

import os
import sys

from maa_deploy.node import DeployNode
from maa_generator.ros.run import run_node


class DyingDeployNode(DeployNode):
    def _tick_and_capture(self) -> None:
        if self._tick_count >= int(os.environ.get("MAA_TEST_DIE_AFTER_TICKS", "50")):
            raise RuntimeError("injected control-thread failure")
        super()._tick_and_capture()


if __name__ == "__main__":
    sys.exit(run_node(DyingDeployNode, "maa_deploy", num_threads=2, args=sys.argv))

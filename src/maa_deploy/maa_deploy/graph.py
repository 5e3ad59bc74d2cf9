"""The single description of the Go2 ROS graph, used by both ``launch/go2.launch.py`` (ros2 launch) and
``maa_deploy.pip_launch`` (the pip-only launcher for machines without the ``launch`` packages).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

ROBOTS = ("sim", "real")
#: transitions the launchers send to managed nodes once they are up
LIFECYCLE_STARTUP = ("configure", "activate")
#: DDS domain of the real-robot graph unless ``domain_id`` says otherwise: not the default 0, so a stray ROS 2 process
#: on the robot's network (a laptop on the same LAN) does not join the graph that drives the motors by accident
REAL_ROBOT_DOMAIN_ID = 42


@dataclass
class NodeSpec:
    """One node of the graph.

    Attributes:
        package / executable: what ``ros2 launch`` starts (console script installed by colcon).
        module: the same entry point as ``python -m module`` (pip-only launcher).
        name: node name. params_files: ROS parameter YAML files. parameters: overrides (highest priority).
        env: environment variables the node needs (e.g. ``ROS_DOMAIN_ID``), on top of the launcher's.
        lifecycle: a managed node: the launcher configures and activates it (:data:`LIFECYCLE_STARTUP`).
    """

    package: str
    executable: str
    module: str
    name: str
    params_files: list[str] = field(default_factory=list)
    parameters: dict = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    lifecycle: bool = False

    @property
    def ready_text(self) -> str:
        """What the node prints once it is up (a managed node: before its transitions)."""
        return "unconfigured" if self.lifecycle else "ready"

    def ros_args(self) -> list[str]:
        """Command-line ``--ros-args`` equivalent of this spec."""
        args = ["--ros-args", "-r", f"__node:={self.name}"]
        for f in self.params_files:
            args += ["--params-file", f]
        for key, value in self.parameters.items():
            args += ["-p", f"{key}:={_param_literal(value)}"]
        return args


def _param_literal(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def default_config_dir() -> Path:
    """``config/`` of the source tree, else the installed share directory of maa_deploy."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "config" / "go2_sim.yaml").is_file():
            return parent / "config"
    try:
        from ament_index_python.packages import get_package_share_directory

        return Path(get_package_share_directory("maa_deploy")) / "config"
    except (ImportError, LookupError) as exc:
        raise FileNotFoundError("cannot find maa's config directory (source tree or installed share)") from exc


def go2_graph(robot: str = "sim", params_file: str | None = None, network_interface: str = "",
              with_prompt_source: bool = True, domain_id: int | None = None) -> list[NodeSpec]:
    """Nodes for driving a Go2 with generated actors.

    Args:
        robot: ``sim`` (MuJoCo Go2 in the deploy node) or ``real`` (Unitree SDK over Cyclone DDS).
        params_file: ROS parameter YAML for all nodes; default ``config/go2_<robot>.yaml``.
        network_interface: NIC connected to the robot (``real`` only), e.g. ``enp3s0``.
        with_prompt_source: also start the prompt source (plays back the configured prompt file).
        domain_id: ``ROS_DOMAIN_ID`` of every node; default: the caller's environment for ``sim`` (the demo and the
            tests choose their own), :data:`REAL_ROBOT_DOMAIN_ID` for ``real``.
    """
    if robot not in ROBOTS:
        raise ValueError(f"robot must be one of {ROBOTS}, got {robot!r}")
    if params_file is None:
        params_file = str(default_config_dir() / f"go2_{robot}.yaml")
    if not os.path.isfile(params_file):
        raise FileNotFoundError(f"params file {params_file} does not exist")
    if domain_id is None and robot == "real":
        domain_id = REAL_ROBOT_DOMAIN_ID
    if domain_id is not None and not 0 <= int(domain_id) <= 232:
        raise ValueError(f"domain_id must be a ROS domain id in [0, 232], got {domain_id}")
    env = {} if domain_id is None else {"ROS_DOMAIN_ID": str(int(domain_id))}
    deploy_params = {"backend": "unitree" if robot == "real" else "sim"}
    if network_interface:
        deploy_params["network_interface"] = network_interface
    nodes = [
        NodeSpec("maa_generator", "generator_node", "maa_generator.ros.node", "maa_generator", [params_file], env=env),
        NodeSpec("maa_deploy", "deploy_node", "maa_deploy.node", "maa_deploy", [params_file], deploy_params, env,
                 lifecycle=True),
    ]
    if with_prompt_source:
        nodes.append(NodeSpec("maa_deploy", "prompt_source", "maa_deploy.prompt_node", "maa_prompt_source",
                              [params_file], env=env))
    return nodes

"""The single graph description and the pip-only launcher (same nodes and parameters as go2.launch.py)."""
from __future__ import annotations

import ast
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from maa_deploy.graph import go2_graph
from maa_deploy.pip_launch import parse_args
from maa_generator.ros.client import call_service, spin_until

ROOT = Path(__file__).resolve().parents[2]


def test_graph_for_both_robots():
    sim = {n.name: n for n in go2_graph("sim")}
    real = {n.name: n for n in go2_graph("real", network_interface="enp3s0")}
    assert set(sim) == set(real) == {"maa_generator", "maa_deploy", "maa_prompt_source"}
    assert sim["maa_deploy"].parameters == {"backend": "sim"}
    assert real["maa_deploy"].parameters == {"backend": "unitree", "network_interface": "enp3s0"}
    assert real["maa_deploy"].params_files[0].endswith("config/go2_real.yaml")
    args = sim["maa_deploy"].ros_args()
    assert args[:3] == ["--ros-args", "-r", "__node:=maa_deploy"] and "backend:=sim" in args
    with pytest.raises(ValueError, match="robot must be one of"):
        go2_graph("hardware")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        go2_graph("sim", params_file="/nonexistent.yaml")


def test_params_files_name_the_graph_nodes():
    for robot in ("sim", "real"):
        data = yaml.safe_load((ROOT / f"config/go2_{robot}.yaml").read_text())
        assert set(data) == {n.name for n in go2_graph(robot)}
        assert all("ros__parameters" in section for section in data.values())


def test_launch_file_uses_the_graph_description():
    tree = ast.parse((ROOT / "launch/go2.launch.py").read_text())
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert "go2_graph" in names and "generate_launch_description" in {
        n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}


def test_parse_args_rejects_unknown():
    assert parse_args(["robot:=real"])["robot"] == "real"
    with pytest.raises(SystemExit, match="unknown argument"):
        parse_args(["robots:=sim"])


@pytest.mark.ros
def test_pip_launcher_starts_and_stops_the_graph(tmp_path, go2_adaptation_file, ros_node):
    from std_srvs.srv import Trigger

    from maa_generator.models.config import ModelConfig
    from maa_generator.models.generator import Generator
    from maa_go2.actor_critic import go2_actor_layout
    from maa_msgs.srv import GeneratePolicy

    model = tmp_path / "gen"
    Generator.build(go2_actor_layout(), ModelConfig.from_yaml(ROOT / "config/tiny.yaml")).save(model)
    params = yaml.safe_load((ROOT / "config/go2_sim.yaml").read_text())
    params["maa_generator"]["ros__parameters"].update(model_path=str(model), adaptation_path=str(go2_adaptation_file))
    params["maa_deploy"]["ros__parameters"]["deploy"]["adaptation_path"] = str(go2_adaptation_file)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    proc = subprocess.Popen([sys.executable, "-m", "maa_deploy.pip_launch", "robot:=sim", f"params_file:={path}",
                             "prompt_source:=false"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        res = call_service(ros_node, GeneratePolicy, "/generate_policy", GeneratePolicy.Request(use_latest_prompt=True),
                           timeout=60)
        assert res.error_code == GeneratePolicy.Response.NO_PROMPT
        standing = spin_until(ros_node, lambda: call_service(ros_node, Trigger, "/maa_deploy/stand",
                                                             Trigger.Request(), timeout=60).success, 60)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert standing, out[-4000:]
    assert proc.returncode == 0, out
    assert out.count("[launch_go2] starting") == 2
    assert "[launch_go2] maa_deploy: configure -> activate" in out  # the launcher drove the lifecycle


@pytest.mark.ros
@pytest.mark.parametrize("robot", ["sim", "real"])
def test_params_files_load_into_the_node_configs(robot):
    """Every key of config/go2_<robot>.yaml is a known, valid node parameter (unknown keys are errors)."""
    from maa_core.config import from_dict
    from maa_deploy.node import DeployNodeConfig
    from maa_generator.service import GeneratorNodeConfig

    data = yaml.safe_load((ROOT / f"config/go2_{robot}.yaml").read_text())
    deploy = from_dict(DeployNodeConfig, data["maa_deploy"]["ros__parameters"])
    generator = from_dict(GeneratorNodeConfig, data["maa_generator"]["ros__parameters"])
    assert deploy.deploy.screen_prompt_path == "prompts/go2_walk.npz"
    if robot == "real":  # the real robot runs only the operator's signed weights, staged, on a non-zero domain
        assert deploy.trust.require_signed and deploy.trust.require_activation and deploy.trust.trusted_keys
        assert generator.signing_key and go2_graph("real")[0].env["ROS_DOMAIN_ID"] != "0"
    else:
        assert not deploy.trust.require_signed and go2_graph("sim")[0].env == {}


@pytest.mark.ros
def test_pip_launcher_stops_the_graph_when_a_node_cannot_configure(tmp_path):
    params = yaml.safe_load((ROOT / "config/go2_sim.yaml").read_text())
    params["maa_generator"]["ros__parameters"]["model_path"] = ""  # no model: the generator still starts
    params["maa_deploy"]["ros__parameters"]["deploy"]["adaptation_path"] = str(tmp_path / "missing.safetensors")
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    proc = subprocess.run([sys.executable, "-m", "maa_deploy.pip_launch", "robot:=sim", f"params_file:={path}",
                           "prompt_source:=false"], capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out[-3000:]
    assert "refused the lifecycle transition 'configure'" in out and "stopping the graph" in out

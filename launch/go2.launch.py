"""ros2 launch maa_deploy go2.launch.py robot:=sim|real [params_file:=...] [network_interface:=enp3s0] [domain_id:=N]

Starts the generator node, the Go2 deploy node and the prompt source, as described once in
``maa_deploy.graph.go2_graph`` (the pip-only launcher ``launch_go2`` starts the same graph).
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from maa_deploy.graph import go2_graph


def _nodes(context):
    robot = LaunchConfiguration("robot").perform(context)
    params_file = LaunchConfiguration("params_file").perform(context) or None
    nic = LaunchConfiguration("network_interface").perform(context)
    prompt = LaunchConfiguration("prompt_source").perform(context).lower() in ("1", "true", "yes")
    domain = LaunchConfiguration("domain_id").perform(context)
    return [
        Node(package=spec.package, executable=spec.executable, name=spec.name, output="screen",
             parameters=[*spec.params_files, spec.parameters], additional_env=spec.env)
        for spec in go2_graph(robot, params_file, nic, prompt, int(domain) if domain else None)
    ]


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument("robot", default_value="sim", description="sim (MuJoCo Go2) or real (Unitree SDK)"),
        DeclareLaunchArgument("params_file", default_value="", description="ROS parameter YAML for all nodes "
                              "(default: config/go2_<robot>.yaml installed with maa_deploy)"),
        DeclareLaunchArgument("network_interface", default_value="", description="NIC wired to the robot (real)"),
        DeclareLaunchArgument("prompt_source", default_value="true", description="start the prompt source node"),
        DeclareLaunchArgument("domain_id", default_value="", description="ROS_DOMAIN_ID of the nodes (default: "
                              "the environment's for sim, 42 for real)"),
        OpaqueFunction(function=_nodes),
    ])

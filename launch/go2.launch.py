"""ros2 launch maa_deploy go2.launch.py robot:=sim|real [params_file:=...] [network_interface:=enp3s0] [domain_id:=N]

Starts the generator node, the Go2 deploy node and the prompt source, as described once in
``maa_deploy.graph.go2_graph`` (the pip-only launcher ``launch_go2`` starts the same graph). The deploy node is a
managed (lifecycle) node: this file configures it once it is up and activates it once it is inactive
(``maa_deploy.graph.LIFECYCLE_STARTUP``), as ``launch_go2`` does.
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, EmitEvent, OpaqueFunction, RegisterEventHandler
from launch.events import matches_action
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import LifecycleNode, Node
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState
from lifecycle_msgs.msg import Transition

from maa_deploy.graph import go2_graph


def _managed(spec):
    """A lifecycle node plus the events that configure it, then activate it when it reaches 'inactive'."""
    node = LifecycleNode(package=spec.package, executable=spec.executable, name=spec.name, namespace="",
                         output="screen", parameters=[*spec.params_files, spec.parameters], additional_env=spec.env)

    def change(transition_id):
        return EmitEvent(event=ChangeState(lifecycle_node_matcher=matches_action(node), transition_id=transition_id))

    activate = RegisterEventHandler(OnStateTransition(target_lifecycle_node=node, start_state="configuring",
                                                      goal_state="inactive",
                                                      entities=[change(Transition.TRANSITION_ACTIVATE)]))
    return [node, activate, change(Transition.TRANSITION_CONFIGURE)]


def _nodes(context):
    robot = LaunchConfiguration("robot").perform(context)
    params_file = LaunchConfiguration("params_file").perform(context) or None
    nic = LaunchConfiguration("network_interface").perform(context)
    prompt = LaunchConfiguration("prompt_source").perform(context).lower() in ("1", "true", "yes")
    domain = LaunchConfiguration("domain_id").perform(context)
    actions = []
    for spec in go2_graph(robot, params_file, nic, prompt, int(domain) if domain else None):
        if spec.lifecycle:
            actions += _managed(spec)
        else:
            actions.append(Node(package=spec.package, executable=spec.executable, name=spec.name, output="screen",
                                parameters=[*spec.params_files, spec.parameters], additional_env=spec.env))
    return actions


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

"""legged_gym configuration of the Go2 walk-these-ways task (Isaac Gym backend).

``Go2WTWCfg(LeggedRobotCfg)`` / ``Go2WTWCfgPPO(LeggedRobotCfgPPO)`` follow legged_gym's nesting (env, terrain,
commands, init_state, control, asset, domain_rand, rewards, normalization, noise, sim) and take every number from
the shared definitions (``maa_go2.control``, ``commands``, ``observation``, ``rewards``, ``randomization``), so the
GPU and CPU engines train the same task. Without legged_gym installed the classes still exist (on a small local
stand-in for ``BaseConfig``) so their values can be inspected and tested.
"""
from __future__ import annotations

import inspect

from maa_go2 import control
from maa_go2.commands import NUM_COMMANDS, CommandRanges
from maa_go2.joint_order import JOINT_NAMES
from maa_go2.observation import COMMAND_SCALES, DOF_VEL_SCALE, OBS_DIM
from maa_go2.randomization import PRIV_DIM, RandomizationConfig
from maa_go2.rewards import DEFAULT_SCALES

try:  # pragma: no cover - only with legged_gym installed
    from legged_gym.envs.base.legged_robot_config import LeggedRobotCfg, LeggedRobotCfgPPO

    HAVE_LEGGED_GYM = True
except ImportError:
    HAVE_LEGGED_GYM = False

    class _BaseConfig:
        """Stand-in for legged_gym's BaseConfig: instantiates nested config classes recursively."""

        def __init__(self) -> None:
            _init_members(self)

    def _init_members(obj) -> None:
        for key in dir(obj):
            if key == "__class__":
                continue
            var = getattr(obj, key)
            if inspect.isclass(var):
                inst = var()
                setattr(obj, key, inst)
                _init_members(inst)

    class LeggedRobotCfg(_BaseConfig):  # type: ignore[no-redef]
        pass

    class LeggedRobotCfgPPO(_BaseConfig):  # type: ignore[no-redef]
        pass

_CMD = CommandRanges()
_DR = RandomizationConfig()


class Go2WTWCfg(LeggedRobotCfg):
    class env:
        num_envs = 4096
        num_observations = OBS_DIM
        num_privileged_obs = PRIV_DIM
        num_actions = 12
        env_spacing = 3.0
        send_timeouts = True
        episode_length_s = 20

    class terrain:
        mesh_type = "plane"
        measure_heights = False
        static_friction = 1.0
        dynamic_friction = 1.0
        restitution = 0.0
        curriculum = False

    class commands:
        curriculum = False
        num_commands = NUM_COMMANDS
        resampling_time = 10.0
        heading_command = False

        class ranges:
            lin_vel_x = list(_CMD.lin_vel_x)
            lin_vel_y = list(_CMD.lin_vel_y)
            ang_vel_yaw = list(_CMD.ang_vel_yaw)
            body_height = list(_CMD.body_height)
            gait_frequency = list(_CMD.gait_frequency)
            gait_duration = list(_CMD.gait_duration)
            footswing_height = list(_CMD.footswing_height)
            body_pitch = list(_CMD.body_pitch)
            body_roll = list(_CMD.body_roll)
            stance_width = list(_CMD.stance_width)
            stance_length = list(_CMD.stance_length)
            aux_reward_coef = list(_CMD.aux_reward_coef)
            gaits = list(_CMD.gaits)

    class init_state:
        pos = [0.0, 0.0, 0.42]
        rot = [0.0, 0.0, 0.0, 1.0]
        lin_vel = [0.0, 0.0, 0.0]
        ang_vel = [0.0, 0.0, 0.0]
        default_joint_angles = {n: float(v) for n, v in zip(JOINT_NAMES, control.DEFAULT_JOINT_POS)}

    class control:
        control_type = "P"
        stiffness = {"joint": control.KP}
        damping = {"joint": control.KD}
        action_scale = control.ACTION_SCALE
        hip_scale_reduction = control.HIP_SCALE_REDUCTION
        decimation = control.DECIMATION

    class asset:
        file = "{LEGGED_GYM_ROOT_DIR}/resources/robots/go2/urdf/go2.urdf"
        name = "go2"
        foot_name = "foot"
        penalize_contacts_on = ["thigh", "calf"]
        terminate_after_contacts_on = ["base"]
        self_collisions = 1
        flip_visual_attachments = True

    class domain_rand:
        randomize_friction = True
        friction_range = list(_DR.friction)
        randomize_restitution = True
        restitution_range = list(_DR.restitution)
        randomize_base_mass = True
        added_mass_range = list(_DR.added_mass)
        randomize_motor_strength = True
        motor_strength_range = list(_DR.motor_strength)
        randomize_kp_factor = True
        kp_factor_range = list(_DR.kp_factor)
        randomize_kd_factor = True
        kd_factor_range = list(_DR.kd_factor)
        latency_prob = _DR.latency_prob
        push_robots = True
        push_interval_s = _DR.push_interval_s
        max_push_vel_xy = _DR.push_max_vel

    class rewards:
        only_positive_rewards = True
        only_positive_rewards_ji22_style = True
        sigma_rew_neg = 0.02
        soft_dof_pos_limit = 0.9
        base_height_target = 0.30

        class scales:
            pass

    class normalization:
        class obs_scales:
            dof_pos = 1.0
            dof_vel = DOF_VEL_SCALE
            commands = [float(s) for s in COMMAND_SCALES]

        clip_observations = 100.0
        clip_actions = 10.0

    class noise:
        add_noise = True
        noise_level = 1.0

        class noise_scales:
            gravity = 0.05
            dof_pos = 0.01
            dof_vel = 1.5

    class sim:
        dt = control.SIM_DT
        substeps = 1
        gravity = [0.0, 0.0, -9.81]
        up_axis = 1


for _name, _scale in DEFAULT_SCALES.items():
    setattr(Go2WTWCfg.rewards.scales, _name, _scale)


class Go2WTWCfgPPO(LeggedRobotCfgPPO):
    class policy:
        init_noise_std = 1.0
        actor_hidden_dims = [256, 128, 128]
        critic_hidden_dims = [256, 128, 128]
        adaptation_module_hidden_dims = [256, 128]
        activation = "elu"

    class algorithm:
        value_loss_coef = 1.0
        use_clipped_value_loss = True
        clip_param = 0.2
        entropy_coef = 0.01
        num_learning_epochs = 5
        num_mini_batches = 4
        learning_rate = 1.0e-3
        schedule = "adaptive"
        gamma = 0.99
        lam = 0.95
        desired_kl = 0.01
        max_grad_norm = 1.0

    class runner:
        policy_class_name = "ActorCritic"
        algorithm_class_name = "PPO"
        num_steps_per_env = 24
        max_iterations = 1500
        save_interval = 50
        experiment_name = "go2_wtw"
        run_name = ""
        resume = False
        load_run = -1
        checkpoint = -1
        history_len = 15

"""legged_gym configuration of the Go2 walk-these-ways task (Isaac Gym backend).

``Go2WTWCfg(LeggedRobotCfg)`` / ``Go2WTWCfgPPO(LeggedRobotCfgPPO)`` follow legged_gym's nesting (env, terrain,
commands, init_state, control, asset, domain_rand, rewards, normalization, noise, viewer, sim) and take every number
from the shared definitions (``maa_go2.control``, ``commands``, ``observation``, ``rewards``, ``randomization``), so
the GPU and CPU engines train the same task.

Every nested class derives from its ``LeggedRobotCfg.<name>`` parent, so the defaults that ``LeggedRobot`` reads and
this file does not set (the thirteen asset options, ``normalization.obs_scales.lin_vel``, ``env.test``,
``sim.physx``, the viewer, ...) are inherited. Two nested classes deliberately do not derive: ``commands.ranges`` and
``rewards.scales`` hold exactly the shared command ranges and reward terms (legged_gym's own ``heading`` range and
reward terms such as ``feet_air_time`` are not part of this task).

Without legged_gym installed the classes still exist, on a local stand-in for ``LeggedRobotCfg`` whose nested classes
are empty, so their values can be inspected and tested. The module runs on Python 3.8 (Isaac Gym Preview 4).
"""
from __future__ import annotations

import inspect

from maa_go2 import control
from maa_go2.commands import NUM_COMMANDS, CommandRanges
from maa_go2.curriculum import CurriculumConfig
from maa_go2.joint_order import JOINT_NAMES
from maa_go2.observation import COMMAND_SCALES, DOF_VEL_SCALE, OBS_DIM
from maa_go2.randomization import NOMINAL, PRIV_DIM, RandomizationConfig
from maa_go2.rewards import DEFAULT_SCALES, RewardConfig

try:  # pragma: no cover - only with legged_gym installed
    from legged_gym.envs.base.legged_robot_config import LeggedRobotCfg, LeggedRobotCfgPPO

    HAVE_LEGGED_GYM = True
except ImportError:
    HAVE_LEGGED_GYM = False

    def _init_members(obj) -> None:
        """Instantiate nested config classes recursively (what legged_gym's ``BaseConfig.__init__`` does)."""
        for key in dir(obj):
            if key == "__class__":
                continue
            var = getattr(obj, key)
            if inspect.isclass(var):
                inst = var()
                setattr(obj, key, inst)
                _init_members(inst)

    class _BaseConfig:
        """Stand-in for legged_gym's BaseConfig: instantiates nested config classes recursively."""

        def __init__(self) -> None:
            _init_members(self)

    class LeggedRobotCfg(_BaseConfig):  # type: ignore[no-redef]
        """Empty parents, so that ``Go2WTWCfg``'s nested classes can name them without legged_gym."""

        class env:
            pass

        class terrain:
            pass

        class commands:
            pass

        class init_state:
            pass

        class control:
            pass

        class asset:
            pass

        class domain_rand:
            pass

        class rewards:
            pass

        class normalization:
            class obs_scales:
                pass

        class noise:
            class noise_scales:
                pass

        class viewer:
            pass

        class sim:
            class physx:
                pass

    class LeggedRobotCfgPPO(_BaseConfig):  # type: ignore[no-redef]
        class policy:
            pass

        class algorithm:
            pass

        class runner:
            pass

_CMD = CommandRanges()
#: CommandRanges fields that are settings, not [lo, hi] ranges: they live on ``cfg.commands`` itself
_COMMAND_SCALARS = ("zero_below", "single_axis_fraction")
_CUR = CurriculumConfig()
_DR = RandomizationConfig()
INIT_HEIGHT = 0.33  #: = EnvConfig.init_height
INIT_JOINT_NOISE = 0.1  #: = EnvConfig.init_joint_noise
FALL_GRAVITY_Z = -0.5  #: = EnvConfig.fall_gravity_z
FALL_HEIGHT = 0.12  #: = EnvConfig.fall_height
HISTORY_LEN = 15  #: = EnvConfig.history_len


class Go2WTWCfg(LeggedRobotCfg):
    """The Go2 walk-these-ways task for legged_gym (values: the shared modules and ``EnvConfig`` defaults)."""

    class env(LeggedRobotCfg.env):
        num_envs = 4096
        num_observations = OBS_DIM
        num_privileged_obs = PRIV_DIM  #: the critic's extra input (the actor-critic concatenates it to the obs)
        num_actions = 12
        env_spacing = 3.0
        send_timeouts = True
        episode_length_s = 20
        test = False  #: read by unitree_rl_gym's LeggedRobot.step (real-time pacing for play)
        history_len = HISTORY_LEN  #: observations in the adaptation module's history
        fall_gravity_z = FALL_GRAVITY_Z  #: terminate when projected gravity z exceeds this
        fall_height = FALL_HEIGHT  #: terminate when the base is lower than this [m]

    class terrain(LeggedRobotCfg.terrain):
        mesh_type = "plane"
        measure_heights = False
        static_friction = 1.0
        dynamic_friction = 1.0
        restitution = 0.0
        curriculum = False

    class commands(LeggedRobotCfg.commands):
        curriculum = False
        num_commands = NUM_COMMANDS
        resampling_time = 10.0
        heading_command = False
        zero_below = _CMD.zero_below  #: CommandRanges.zero_below
        single_axis_fraction = _CMD.single_axis_fraction  #: CommandRanges.single_axis_fraction
        fixed_observed = {}  #: EnvConfig.fixed_observed_commands (style specialists observe these constants)

        class ranges:  #: exactly maa_go2.commands.CommandRanges (no legged_gym ``heading``)
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

        class wtw_curriculum:  #: maa_go2.curriculum.CurriculumConfig (legged_gym's own ``curriculum`` stays off)
            enabled = _CUR.enabled
            cells_vx = _CUR.cells_vx
            cells_yaw = _CUR.cells_yaw
            initial_vx = list(_CUR.initial_vx)
            initial_yaw = list(_CUR.initial_yaw)
            max_lin_error = _CUR.max_lin_error
            max_yaw_error = _CUR.max_yaw_error
            step = _CUR.step
            gaits_initial = _CUR.gaits_initial  #: gait curriculum over ``gaits`` (0 = all gaits from the start)
            gait_contact_match = _CUR.gait_contact_match
            gait_ema = _CUR.gait_ema
            gait_open_after_env_steps = _CUR.gait_open_after_env_steps  #: 0: the next gait opens by contact match only
            initial_gait_frequency = list(_CUR.initial_gait_frequency)  #: step-frequency stage ([] = none)
            full_gait_frequency_after_env_steps = _CUR.full_gait_frequency_after_env_steps
            min_contact_match = _CUR.min_contact_match  #: a cell widens only where the gait is walked (0 = off)
            per_gait = _CUR.per_gait  #: one (vx, yaw) grid per gait
            per_gait_restart = list(_CUR.per_gait_restart)
            ungated_gaits = list(_CUR.ungated_gaits)  #: per-gait grids that widen on tracking alone
            error_priority = _CUR.error_priority  #: fraction of draws weighted by a cell's tracking error (0 = off)
            error_ema = _CUR.error_ema

    class init_state(LeggedRobotCfg.init_state):
        pos = [0.0, 0.0, INIT_HEIGHT]  #: reset pose: base at init_height above the env origin, upright, at rest
        rot = [0.0, 0.0, 0.0, 1.0]
        lin_vel = [0.0, 0.0, 0.0]
        ang_vel = [0.0, 0.0, 0.0]
        default_joint_angles = {n: float(v) for n, v in zip(JOINT_NAMES, control.DEFAULT_JOINT_POS)}
        joint_noise = INIT_JOINT_NOISE  #: reset joints: default pose + uniform(-joint_noise, joint_noise) [rad]

    class control(LeggedRobotCfg.control):
        control_type = "P"
        stiffness = {"joint": control.KP}
        damping = {"joint": control.KD}
        action_scale = control.ACTION_SCALE
        hip_scale_reduction = control.HIP_SCALE_REDUCTION
        decimation = control.DECIMATION

    class asset(LeggedRobotCfg.asset):
        file = "{LEGGED_GYM_ROOT_DIR}/resources/robots/go2/urdf/go2.urdf"
        name = "go2"
        foot_name = "foot"
        penalize_contacts_on = ["thigh", "calf"]
        terminate_after_contacts_on = ["base"]
        self_collisions = 1

    class domain_rand(LeggedRobotCfg.domain_rand):
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
        randomize_joint_damping = True
        joint_damping_range = list(_DR.joint_damping)
        randomize_joint_friction = True
        joint_friction_range = list(_DR.joint_friction)
        randomize_torque_limit_scale = True
        torque_limit_scale_range = list(_DR.torque_limit_scale)
        randomize_actuation_delay = True
        actuation_delay_ms_range = list(_DR.actuation_delay_ms)
        randomize_engine_joint_damping = True  #: per model variant; explicit here (effort-mode DOF damping is inert)
        engine_joint_damping_range = list(_DR.engine_joint_damping)
        latency_prob = _DR.latency_prob
        num_model_variants = _DR.num_model_variants  #: friction/restitution/mass/damping sets drawn at reset (MuJoCo)
        push_robots = True
        push_interval_s = _DR.push_interval_s
        max_push_vel_xy = _DR.push_max_vel

    class rewards(LeggedRobotCfg.rewards):
        only_positive_rewards = True
        only_positive_rewards_ji22_style = True
        sigma_rew_neg = 0.02
        tracking_sigma = 0.25  #: legged_gym's own field; the shared RewardConfig.tracking_sigma
        soft_dof_pos_limit = 0.9
        base_height_target = 0.30

        class scales:  #: exactly the shared reward terms (maa_go2.rewards.DEFAULT_SCALES), set below
            pass

    class normalization(LeggedRobotCfg.normalization):
        class obs_scales(LeggedRobotCfg.normalization.obs_scales):
            dof_pos = 1.0
            dof_vel = DOF_VEL_SCALE
            commands = [float(s) for s in COMMAND_SCALES]

        clip_observations = 100.0
        clip_actions = 10.0

    class noise(LeggedRobotCfg.noise):
        add_noise = True  #: EnvConfig.obs_noise
        noise_level = 1.0

        class noise_scales(LeggedRobotCfg.noise.noise_scales):
            gravity = 0.05
            dof_pos = 0.01
            dof_vel = 1.5

    class viewer(LeggedRobotCfg.viewer):
        pass

    class sim(LeggedRobotCfg.sim):
        dt = control.SIM_DT
        substeps = 1
        gravity = [0.0, 0.0, -9.81]
        up_axis = 1

        class physx(LeggedRobotCfg.sim.physx):
            pass


for _name, _scale in DEFAULT_SCALES.items():
    setattr(Go2WTWCfg.rewards.scales, _name, _scale)


class Go2WTWCfgPPO(LeggedRobotCfgPPO):
    """PPO settings (the project's PPO, ``maa_go2.ppo.PPOConfig`` defaults) in legged_gym's nesting."""

    class policy(LeggedRobotCfgPPO.policy):
        init_noise_std = 1.0
        actor_hidden_dims = [256, 128, 128]
        critic_hidden_dims = [256, 128, 128]
        adaptation_module_hidden_dims = [256, 128]
        activation = "elu"

    class algorithm(LeggedRobotCfgPPO.algorithm):
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

    class runner(LeggedRobotCfgPPO.runner):
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
        history_len = HISTORY_LEN


def apply_env_config(cfg: Go2WTWCfg, env) -> Go2WTWCfg:
    """Copy a :class:`maa_go2.env_config.EnvConfig` (the YAML the MuJoCo engine trains on) into ``cfg``.

    Command ranges, the command curriculum, reward scales and the ji22 combination, episode length, resampling time,
    the randomization ranges, the reset pose, the termination thresholds, PD gains, action clip, observation noise
    and the history length come from ``env``, so one YAML file configures both engines. ``num_envs`` is left to the
    caller (GPU runs use thousands of envs). Returns ``cfg``.
    """
    cfg.env.episode_length_s = env.episode_length_s
    cfg.env.history_len = env.history_len
    cfg.env.fall_gravity_z = env.fall_gravity_z
    cfg.env.fall_height = env.fall_height
    cfg.commands.resampling_time = env.resampling_time_s
    for key in _COMMAND_SCALARS:
        setattr(cfg.commands, key, getattr(env.commands, key))
    cfg.commands.fixed_observed = dict(env.fixed_observed_commands)
    for key, value in vars(env.commands).items():
        if key not in _COMMAND_SCALARS:
            setattr(cfg.commands.ranges, key, list(value))
    for key, value in vars(env.curriculum).items():
        setattr(cfg.commands.wtw_curriculum, key, list(value) if isinstance(value, list) else value)
    cfg.rewards.scales = type("scales", (), {})()  # exactly the YAML's terms, none of the class defaults
    for key, value in env.rewards.scales.items():
        setattr(cfg.rewards.scales, key, value)
    cfg.rewards.sigma_rew_neg = env.rewards.sigma_rew_neg
    cfg.rewards.tracking_sigma = env.rewards.tracking_sigma
    cfg.rewards.only_positive_rewards_ji22_style = env.rewards.only_positive_ji22
    _apply_domain_rand(cfg.domain_rand, env.domain_rand)
    cfg.init_state.pos = [0.0, 0.0, float(env.init_height)]
    cfg.init_state.joint_noise = env.init_joint_noise
    cfg.control.stiffness = {"joint": float(env.kp)}
    cfg.control.damping = {"joint": float(env.kd)}
    cfg.normalization.clip_actions = env.clip_actions
    cfg.noise.add_noise = bool(env.obs_noise)
    return cfg


def _apply_domain_rand(out, dr: RandomizationConfig) -> None:
    for name in _DR_FLAGS:
        setattr(out, f"{name}_range", list(getattr(dr, name)))
    for flag in (*_DR_FLAGS.values(), "push_robots"):
        setattr(out, flag, dr.enabled)
    out.latency_prob = dr.latency_prob if dr.enabled else 0.0
    out.num_model_variants = dr.num_model_variants
    out.push_interval_s = dr.push_interval_s
    out.max_push_vel_xy = dr.push_max_vel


# ------------------------------------------------------------------------------ legged_gym cfg -> shared configs
_DR_FLAGS = {"friction": "randomize_friction", "restitution": "randomize_restitution",
             "added_mass": "randomize_base_mass", "motor_strength": "randomize_motor_strength",
             "kp_factor": "randomize_kp_factor", "kd_factor": "randomize_kd_factor",
             "joint_damping": "randomize_joint_damping", "joint_friction": "randomize_joint_friction",
             "torque_limit_scale": "randomize_torque_limit_scale", "actuation_delay_ms": "randomize_actuation_delay",
             "engine_joint_damping": "randomize_engine_joint_damping"}


def cfg_members(obj) -> dict:
    """Public attributes of a legged_gym config node (class attributes included, as legged_gym's class_to_dict)."""
    return {k: getattr(obj, k) for k in dir(obj) if not k.startswith("_")}


def command_ranges(cfg) -> CommandRanges:
    """The shared :class:`CommandRanges` of ``cfg.commands`` (ranges + the scalars of :data:`_COMMAND_SCALARS`)."""
    ranges = {k: list(v) for k, v in cfg_members(cfg.commands.ranges).items()}
    scalars = {k: float(getattr(cfg.commands, k, getattr(_CMD, k))) for k in _COMMAND_SCALARS}
    return CommandRanges(**ranges, **scalars)


def curriculum_config(cfg) -> CurriculumConfig:
    """The shared :class:`CurriculumConfig` of ``cfg.commands.wtw_curriculum``."""
    return CurriculumConfig(**cfg_members(cfg.commands.wtw_curriculum))


def reward_config(cfg) -> RewardConfig:
    """The shared :class:`RewardConfig` of ``cfg.rewards`` (scales, sigma_rew_neg, ji22 combination, tracking sigma)."""
    return RewardConfig(scales=dict(cfg_members(cfg.rewards.scales)), sigma_rew_neg=cfg.rewards.sigma_rew_neg,
                        only_positive_ji22=bool(cfg.rewards.only_positive_rewards_ji22_style),
                        tracking_sigma=float(cfg.rewards.tracking_sigma))


def randomization_config(cfg) -> RandomizationConfig:
    """The shared :class:`RandomizationConfig` of ``cfg.domain_rand``.

    All ``randomize_*`` flags off (and no latency): ``enabled=False`` (nominal values, as MuJoCo with
    ``domain_rand.enabled: false``). Otherwise a parameter whose flag is off gets the range ``[nominal, nominal]``.
    """
    dr = cfg.domain_rand
    flags = {name: bool(getattr(dr, flag, False)) for name, flag in _DR_FLAGS.items()}  # older cfgs lack some
    enabled = any(flags.values()) or dr.latency_prob > 0
    ranges = {name: (list(getattr(dr, f"{name}_range")) if on else [NOMINAL[name]] * 2) for name, on in flags.items()}
    return RandomizationConfig(enabled=enabled, latency_prob=float(dr.latency_prob),
                               push_interval_s=float(dr.push_interval_s), push_max_vel=float(dr.max_push_vel_xy),
                               num_model_variants=int(dr.num_model_variants), **ranges)


__all__ = ["Go2WTWCfg", "Go2WTWCfgPPO", "HAVE_LEGGED_GYM", "apply_env_config", "cfg_members", "command_ranges",
           "curriculum_config", "randomization_config", "reward_config"]

"""Gait-conditioned walk-these-ways rewards, shared by the MuJoCo engine and the Isaac Gym task.

Every ``reward_<name>(s)`` takes a :class:`RewardState` (numpy arrays or torch tensors, batch ``N``) and returns an
unscaled ``[N]`` term; :func:`compute_rewards` multiplies by ``scale * dt`` and combines positive and negative parts
as WTW's ``only_positive_rewards_ji22_style``: ``r = r_pos * exp(r_neg / sigma_rew_neg)``, where a scaled term
belongs to ``r_neg`` when its *value* is negative (WTW sorts by the sign of the value, not of the scale: the gait
contact terms and ``jump`` have positive scales and non-positive values, so a gait or body-height mismatch scales
the whole step's reward down instead of costing a small bonus).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from maa_go2._xp import like, xp_of
from maa_go2.commands import NOMINAL_BASE_HEIGHT
from maa_go2.control import JOINT_LOWER, JOINT_UPPER

TRACKING_SIGMA = 0.25
GAIT_FORCE_SIGMA = 100.0
GAIT_VEL_SIGMA = 10.0
FOOT_RADIUS = 0.022
SOFT_DOF_POS_LIMIT = 0.9


@dataclass
class RewardState:
    """Inputs of the reward terms (body frame = base frame; world z up). Shapes with batch ``N``."""

    base_lin_vel: object  #: [N,3] m/s, body frame
    base_ang_vel: object  #: [N,3] rad/s, body frame
    projected_gravity: object  #: [N,3]
    base_height: object  #: [N] m
    dof_pos: object  #: [N,12] rad
    dof_vel: object  #: [N,12] rad/s
    torques: object  #: [N,12] N.m
    actions: object  #: [N,12]
    last_actions: object  #: [N,12]
    last_last_actions: object  #: [N,12]
    foot_pos_body: object  #: [N,4,3] foot positions relative to the base, yaw-aligned frame, m
    foot_height: object  #: [N,4] m (world z of the foot centre)
    foot_vel: object  #: [N,4,3] m/s world frame
    foot_force: object  #: [N,4] N normal contact force
    collision_force: object  #: [N,4] N thigh contact force
    commands: object  #: [N,15]
    foot_indices: object  #: [N,4]
    desired_contact: object  #: [N,4]


def reward_tracking_lin_vel(s, sigma=TRACKING_SIGMA):
    """``exp(-|v_xy command - v_xy|^2 / sigma)``; ``sigma`` [m^2/s^2] (:attr:`RewardConfig.tracking_sigma`)."""
    err = ((s.commands[:, :2] - s.base_lin_vel[:, :2]) ** 2).sum(-1)
    return xp_of(err).exp(-err / sigma)


def reward_tracking_ang_vel(s, sigma=TRACKING_SIGMA):
    """``exp(-(yaw command - yaw rate)^2 / sigma)``; ``sigma`` [rad^2/s^2] (:attr:`RewardConfig.tracking_sigma`)."""
    err = (s.commands[:, 2] - s.base_ang_vel[:, 2]) ** 2
    return xp_of(err).exp(-err / sigma)


def reward_lin_vel_z(s):
    return s.base_lin_vel[:, 2] ** 2


def reward_ang_vel_xy(s):
    return (s.base_ang_vel[:, :2] ** 2).sum(-1)


def reward_orientation_control(s):
    xp = xp_of(s.commands)
    desired_x = xp.sin(s.commands[:, 10])
    desired_y = -xp.sin(s.commands[:, 11])
    return (s.projected_gravity[:, 0] - desired_x) ** 2 + (s.projected_gravity[:, 1] - desired_y) ** 2


def reward_torques(s):
    return (s.torques ** 2).sum(-1)


def reward_dof_vel(s):
    return (s.dof_vel ** 2).sum(-1)


def reward_action_rate(s):
    return ((s.actions - s.last_actions) ** 2).sum(-1)


def reward_action_smoothness_2(s):
    return ((s.actions - 2 * s.last_actions + s.last_last_actions) ** 2).sum(-1)


def reward_collision(s):
    return (s.collision_force > 0.1).sum(-1) * 1.0


def reward_dof_pos_limits(s):
    lo, hi = like(s.dof_pos, JOINT_LOWER), like(s.dof_pos, JOINT_UPPER)
    mid, half = (lo + hi) / 2, (hi - lo) / 2 * SOFT_DOF_POS_LIMIT
    below = (mid - half - s.dof_pos).clip(0.0, None)
    above = (s.dof_pos - (mid + half)).clip(0.0, None)
    return (below + above).sum(-1)


def reward_tracking_contacts_shaped_force(s):
    """Swing feet (desired contact 0) that carry force, in [-1, 0] (0 = every swing foot unloaded)."""
    xp = xp_of(s.foot_force)
    return -((1 - s.desired_contact) * (1 - xp.exp(-s.foot_force ** 2 / GAIT_FORCE_SIGMA))).sum(-1) / 4


def reward_tracking_contacts_shaped_vel(s):
    """Stance feet (desired contact 1) that move, in [-1, 0] (0 = every stance foot still)."""
    xp = xp_of(s.foot_vel)
    v2 = (s.foot_vel ** 2).sum(-1)
    return -(s.desired_contact * (1 - xp.exp(-v2 / GAIT_VEL_SIGMA))).sum(-1) / 4


def reward_feet_slip(s):
    contact = (s.foot_force > 1.0) * 1.0
    return (contact * (s.foot_vel[..., :2] ** 2).sum(-1)).sum(-1)


def reward_feet_clearance_cmd_linear(s):
    phases = 1 - abs(1.0 - (s.foot_indices * 2.0 - 1.0).clip(0.0, 1.0) * 2.0)
    target = s.commands[:, 9:10] * phases + 0.02
    return ((target - (s.foot_height - FOOT_RADIUS)) ** 2 * (1 - s.desired_contact)).sum(-1)


def reward_jump(s):
    return -((s.base_height - (NOMINAL_BASE_HEIGHT + s.commands[:, 3])) ** 2)


def reward_raibert_heuristic(s):
    c = s.commands
    width, length, freq = c[:, 12:13], c[:, 13:14], c[:, 4:5]
    sign_y = like(c, [1.0, -1.0, 1.0, -1.0])
    sign_x = like(c, [1.0, 1.0, -1.0, -1.0])
    phases = abs(1 - s.foot_indices * 2.0) - 0.5
    y_vel = c[:, 2:3] * length / 2
    ys_off = phases * y_vel * (0.5 / freq) * like(c, [1.0, 1.0, -1.0, -1.0])
    xs_off = phases * c[:, 0:1] * (0.5 / freq)
    des_y = sign_y * width / 2 + ys_off
    des_x = sign_x * length / 2 + xs_off
    err = (des_x - s.foot_pos_body[..., 0]) ** 2 + (des_y - s.foot_pos_body[..., 1]) ** 2
    return err.sum(-1)


#: Default scales (walk-these-ways Go1 values); multiplied by the policy dt in :func:`compute_rewards`.
DEFAULT_SCALES = {
    "tracking_lin_vel": 1.0, "tracking_ang_vel": 0.5, "lin_vel_z": -0.02, "ang_vel_xy": -0.001,
    "orientation_control": -5.0, "torques": -1e-4, "dof_vel": -1e-4, "action_rate": -0.01,
    "action_smoothness_2": -0.01, "collision": -5.0, "dof_pos_limits": -10.0,
    "tracking_contacts_shaped_force": 4.0, "tracking_contacts_shaped_vel": 4.0, "feet_slip": -0.04,
    "feet_clearance_cmd_linear": -30.0, "jump": 10.0, "raibert_heuristic": -10.0,
}
REWARD_FUNCTIONS = {name: globals()[f"reward_{name}"] for name in DEFAULT_SCALES}
#: the terms that take :attr:`RewardConfig.tracking_sigma`
TRACKING_TERMS = ("tracking_lin_vel", "tracking_ang_vel")


@dataclass
class RewardConfig:
    """Reward scales (unknown names are errors), the ji22-style negative-reward sigma, the velocity-tracking width."""

    scales: dict = field(default_factory=lambda: dict(DEFAULT_SCALES))
    sigma_rew_neg: float = 0.02
    only_positive_ji22: bool = True
    #: width of the velocity-tracking terms (legged_gym's ``rewards.tracking_sigma``): at 0.25 an error of 0.1 m/s
    #: still earns 96 % of the term, so a robot that runs a little slow is hardly pushed to run faster
    tracking_sigma: float = TRACKING_SIGMA

    def __post_init__(self) -> None:
        if not self.tracking_sigma > 0:
            raise ValueError(f"rewards.tracking_sigma: expected a width > 0, got {self.tracking_sigma!r}")
        unknown = sorted(set(self.scales) - set(REWARD_FUNCTIONS))
        if unknown:
            raise ValueError(f"rewards.scales: unknown term(s) {unknown}; "
                             f"expected names from {sorted(REWARD_FUNCTIONS)}")


def compute_rewards(s: RewardState, cfg: RewardConfig, dt: float):
    """Return ``(total [N], {term: scaled [N]})``. Terms with scale 0 are skipped."""
    terms, pos, neg = {}, 0.0, 0.0
    for name, scale in cfg.scales.items():
        if scale == 0:
            continue
        fn = REWARD_FUNCTIONS[name]
        val = (fn(s, cfg.tracking_sigma) if name in TRACKING_TERMS else fn(s)) * (scale * dt)
        terms[name] = val
        # By the value's sign, per element. WTW sorts a whole term by the sign of its batch sum; every term here
        # has one sign for all states (tracking >= 0; penalties, contact terms and jump <= 0), so the two agree.
        pos = pos + val.clip(0.0, None)
        neg = neg + val.clip(None, 0.0)
    if cfg.only_positive_ji22:
        xp = xp_of(pos)
        total = pos * xp.exp(neg / cfg.sigma_rew_neg)  # >= 0: staying alive always pays
    else:
        total = pos + neg
    return total, terms

"""Go2 MJCF facts: mass, joint order/limits, torque limits, standing under PD, explicit joint damping."""
import copy

import mujoco
import numpy as np
import pytest

from maa_go2 import control
from maa_go2.engines.mujoco_engine import load_model
from maa_go2.joint_order import JOINT_NAMES

FACT_LIMITS = {"hip": (-1.0472, 1.0472), "thigh_F": (-1.5708, 3.4907), "thigh_R": (-0.5236, 4.5379),
               "calf": (-2.7227, -0.8378)}
FACT_TORQUE = {"hip": 23.7, "thigh": 23.7, "calf": 35.55}


@pytest.fixture(scope="module")
def model():
    return load_model()


def test_mass_and_timestep(model):
    assert abs(model.body_mass.sum() - 15.0) < 1.0
    assert model.opt.timestep == pytest.approx(0.005)


def test_joint_order_maps_to_joint_order_module(model):
    names = [model.joint(i).name for i in range(1, model.njnt)]
    assert names == list(JOINT_NAMES)
    assert [model.actuator(i).name + "_joint" for i in range(model.nu)] == list(JOINT_NAMES)
    # qpos address of policy joint i is 7 + i (after the free joint)
    assert [int(model.jnt_qposadr[i + 1]) for i in range(12)] == list(range(7, 19))


def test_joint_and_torque_limits_match_facts(model):
    for i, name in enumerate(JOINT_NAMES):
        leg, jtype = name.split("_")[:2]
        key = f"thigh_{leg[0]}" if jtype == "thigh" else jtype
        np.testing.assert_allclose(model.jnt_range[i + 1], FACT_LIMITS[key], atol=1e-4)
        np.testing.assert_allclose(model.actuator_ctrlrange[i], [-FACT_TORQUE[jtype], FACT_TORQUE[jtype]])
        assert model.actuator_gainprm[i, 0] == 1.0 and model.actuator_biastype[i] == 0  # plain torque motor
    np.testing.assert_allclose(control.JOINT_LOWER, model.jnt_range[1:, 0], atol=1e-4)
    np.testing.assert_allclose(control.JOINT_UPPER, model.jnt_range[1:, 1], atol=1e-4)
    np.testing.assert_allclose(control.TORQUE_LIMITS, model.actuator_ctrlrange[:, 1])


def test_standing_under_default_pd_is_stable(model):
    d = mujoco.MjData(model)
    d.qpos[2], d.qpos[3], d.qpos[7:] = 0.33, 1.0, control.DEFAULT_JOINT_POS
    heights = []
    target = control.action_to_target(np.zeros((1, 12)))[0]
    for _ in range(400):  # 2 s
        d.ctrl[:] = control.pd_torque(target[None], d.qpos[None, 7:], d.qvel[None, 6:])[0]
        mujoco.mj_step(model, d)
        heights.append(d.qpos[2])
    h = np.array(heights[-100:])
    # Kp=20 sags ~0.3 rad at the calves under 15 kg: the Go2 settles at ~0.25 m (nominal pose geometry: 0.33 m)
    assert 0.22 < h.mean() < 0.34
    assert h.max() - h.min() < 0.03
    assert abs(d.qpos[0]) < 0.1 and abs(d.qpos[1]) < 0.1
    assert d.qpos[3] > 0.98  # upright quaternion


def _standing_data(model):
    d = mujoco.MjData(model)
    d.qpos[2], d.qpos[3], d.qpos[7:] = 0.33, 1.0, control.DEFAULT_JOINT_POS
    target = control.action_to_target(np.zeros((1, 12)))[0]
    for _ in range(200):
        d.ctrl[:] = control.pd_torque(target[None], d.qpos[None, 7:], d.qvel[None, 6:])[0]
        mujoco.mj_step(model, d)
    return d


def _step_with_damping(model, data, damping, in_model):
    """qvel after one step from ``data`` with ``damping`` [N.m.s/rad] on the legs, in the model or as torque."""
    m, d = copy.copy(model), copy.copy(data)
    rng = np.random.default_rng(0)
    d.qvel[6:] = rng.uniform(-4.0, 4.0, 12)
    tau = rng.uniform(-5.0, 5.0, 12)
    m.dof_damping[6:] = damping if in_model else 0.0
    d.ctrl[:] = tau if in_model else tau - damping * d.qvel[6:]
    mujoco.mj_step(m, d)
    return d.qvel.copy()


def test_model_joint_damping_acts_as_the_explicit_torque(model):
    """Damping in the model (the model-error case, ``engine_joint_damping``) is the torque ``-d qd`` of the training's
    ``joint_damping``, feet in contact: no implicit re-solve after the contact forces (``eulerdamp`` off)."""
    assert model.opt.disableflags & mujoco.mjtDisableBit.mjDSBL_EULERDAMP
    data = _standing_data(model)
    assert data.ncon >= 4  # on its feet
    for d in (0.5, 2.0):
        np.testing.assert_allclose(_step_with_damping(model, data, d, True), _step_with_damping(model, data, d, False),
                                   atol=1e-9)
    # what the flag changes: Euler's implicit damping moves the velocities away from the explicit torque's
    implicit = copy.copy(model)
    implicit.opt.disableflags &= ~int(mujoco.mjtDisableBit.mjDSBL_EULERDAMP)
    gap = np.abs(_step_with_damping(implicit, data, 2.0, True) - _step_with_damping(implicit, data, 2.0, False)).max()
    assert gap > 1e-3

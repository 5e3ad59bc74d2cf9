from __future__ import annotations

import numpy as np
import pytest

from maa_go2.commands import COMMAND_NAMES
from maa_go2.teleop import TeleopConfig, VelocityCommand


def test_clamp_timeout_and_gait():
    cmd = VelocityCommand(TeleopConfig(vx_range=[-1.0, 1.0], timeout_s=0.5))
    assert cmd.set(2.0, -0.1, 0.2, now=10.0).tolist() == [1.0, -0.1, 0.2]
    c = cmd.commands(10.4)
    assert c[:3].tolist() == [1.0, -0.1, 0.2]
    assert c[COMMAND_NAMES.index("gait_frequency")] == 3.0 and c[COMMAND_NAMES.index("gait_phase")] == 0.5
    assert np.all(cmd.commands(10.6)[:3] == 0.0) and cmd.timeouts == 1


def test_rejects_bad_input():
    with pytest.raises(ValueError, match="finite"):
        VelocityCommand(TeleopConfig()).set(np.nan, 0, 0, now=0.0)
    with pytest.raises(ValueError, match="gait"):
        TeleopConfig(gait="gallop")


def test_full_command_space_limits_are_asymmetric_in_vx():
    cmd = VelocityCommand(TeleopConfig())
    assert cmd.set(3.0, 1.0, -2.0, now=0.0).tolist() == [1.5, 0.6, -1.5]
    assert cmd.set(-3.0, -1.0, 2.0, now=0.0).tolist() == [-1.0, -0.6, 1.5]
    with pytest.raises(ValueError, match="vx_range"):
        TeleopConfig(vx_range=[0.5, 1.0])


@pytest.mark.parametrize("gait", ["trot", "pronk", "pace", "bound"])
def test_gait_switch_at_run_time(gait):
    from maa_go2.commands import GAITS

    cmd = VelocityCommand(TeleopConfig())
    cmd.set(0.5, 0.0, 0.0, now=0.0)
    cmd.set_gait(gait, gait_frequency=2.5, footswing_height=0.1)
    c = cmd.commands(0.1)
    assert tuple(c[5:8]) == GAITS[gait] and cmd.gait == gait
    assert c[COMMAND_NAMES.index("gait_frequency")] == 2.5 and c[COMMAND_NAMES.index("footswing_height")] == 0.1
    assert c[0] == 0.5  # the velocity command is kept


def test_bad_gait_changes_nothing():
    cmd = VelocityCommand(TeleopConfig(gait="pace"))
    before = cmd.commands(0.0)
    with pytest.raises(ValueError, match="gait must be one of"):
        cmd.set_gait("gallop")
    with pytest.raises(ValueError, match="gait_frequency must be in"):
        cmd.set_gait("trot", gait_frequency=9.0)
    with pytest.raises(ValueError, match="unknown gait style field"):
        cmd.set_gait("trot", stride=1.0)
    np.testing.assert_array_equal(cmd.commands(0.0), before)
    assert cmd.gait == "pace"

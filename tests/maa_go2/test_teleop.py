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


def test_heading_control_holds_the_heading_while_walking_straight():
    cmd = VelocityCommand(TeleopConfig(heading_gain=2.0, heading_max_correction=0.5))
    cmd.set(-1.0, 0.0, 0.0, now=0.0)
    assert cmd.commands(0.0, heading=1.0)[2] == 0.0  # target: 1.0 rad
    assert cmd.commands(0.02, heading=1.1)[2] == pytest.approx(-0.2)  # drifted left: turn back right
    assert cmd.commands(0.04, heading=0.7)[2] == pytest.approx(0.5)  # clipped to heading_max_correction
    assert cmd.commands(0.06)[2] == 0.0  # no heading measured: the command passes through


def test_heading_control_tracks_the_commanded_turn():
    cmd = VelocityCommand(TeleopConfig(heading_gain=2.0, heading_max_correction=0.5, heading_max_error=0.5,
                                       timeout_s=10.0))
    cmd.set(0.0, 0.0, 1.0, now=0.0)
    assert cmd.commands(0.0, heading=0.0)[2] == pytest.approx(1.0)
    # 0.1 s later the target is 0.1 rad: a robot that turned 0.2 rad is slowed, one that turned 0.0 is sped up
    assert cmd.commands(0.1, heading=0.2)[2] == pytest.approx(1.0 - 0.2)
    assert cmd.commands(0.2, heading=0.2)[2] == pytest.approx(1.0 + 0.0)  # target 0.2: on track
    assert cmd.commands(0.3, heading=0.2)[2] == pytest.approx(1.0 + 0.2)
    # a robot that cannot keep up: the target stays within heading_max_error, so no windup
    for k in range(4, 40):
        cmd.commands(k * 0.1, heading=0.2)
    assert cmd.commands(4.0, heading=0.2)[2] == pytest.approx(1.5)  # 1.0 + 0.5, within max_yaw 1.5
    assert cmd.commands(4.1, heading=0.75)[2] == pytest.approx(1.0 + 2.0 * (0.2 + 0.5 + 0.1 - 0.75))


def test_heading_control_wraps_and_is_released_by_stopping_or_timeout():
    cmd = VelocityCommand(TeleopConfig(timeout_s=0.5))
    cmd.set(1.0, 0.0, 0.0, now=0.0)
    cmd.commands(0.0, heading=np.pi - 0.05)
    assert cmd.commands(0.02, heading=-np.pi + 0.05)[2] == pytest.approx(-0.2)  # across +-pi: 0.1 rad, not 6.2
    cmd.set(0.0, 0.0, 0.0, now=0.1)  # stop: standing still never turns
    assert cmd.commands(0.1, heading=3.0)[2] == 0.0
    cmd.set(0.0, 0.5, 0.0, now=0.2)  # moving again: the heading now is the new target
    assert cmd.commands(0.2, heading=1.0)[2] == 0.0 and cmd.commands(0.22, heading=0.9)[2] == pytest.approx(0.2)
    assert np.all(cmd.commands(1.0, heading=2.0)[:3] == 0.0)  # stale: every velocity zero, no correction


def test_heading_control_off_and_bad_settings():
    cmd = VelocityCommand(TeleopConfig(heading_gain=0.0))
    cmd.set(1.0, 0.0, 0.3, now=0.0)
    cmd.commands(0.0, heading=0.0)
    assert cmd.commands(0.02, heading=0.9)[2] == pytest.approx(0.3)
    with pytest.raises(ValueError, match="heading_gain"):
        TeleopConfig(heading_gain=-1.0)
    for name in ("heading_max_correction", "heading_max_error"):
        with pytest.raises(ValueError, match=name):
            TeleopConfig(**{name: 0.0})


def test_a_changing_yaw_rate_passes_through_and_restarts_the_target():
    """A waypoint follower steers continuously: its yaw rate goes through unchanged (it closes the heading loop)."""
    cmd = VelocityCommand(TeleopConfig(heading_gain=2.0))
    for k, rate in enumerate((0.3, 0.5, 0.2, -0.4)):
        cmd.set(0.8, 0.0, rate, now=k * 0.02)
        assert cmd.commands(k * 0.02, heading=0.3 * k)[2] == pytest.approx(rate)
    cmd.set(0.8, 0.0, -0.4, now=0.08)  # steady from here: the target restarted at 0.9 rad and integrates -0.4 rad/s
    assert cmd.commands(0.08, heading=0.9)[2] == pytest.approx(-0.4 + 2.0 * (-0.4 * 0.02))
    with pytest.raises(ValueError, match="heading_steady_tolerance"):
        TeleopConfig(heading_steady_tolerance=-1.0)

from __future__ import annotations

import numpy as np
import pytest

from maa_deploy.teleop import TeleopConfig, VelocityCommand
from maa_go2.commands import COMMAND_NAMES


def test_clamp_timeout_and_gait():
    cmd = VelocityCommand(TeleopConfig(max_vx=1.0, timeout_s=0.5))
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

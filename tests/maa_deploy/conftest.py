"""Fixtures for the maa_deploy tests (helpers live in deploy_fakes.py)."""
import sys
from pathlib import Path

import pytest

# deploy_fakes / dds_scenarios are plain modules next to the tests: importable in any pytest import mode
sys.path.insert(0, str(Path(__file__).resolve().parent))

from deploy_fakes import FakeClock, FakeTestBackend  # noqa: E402


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def backend(clock):
    return FakeTestBackend(clock)

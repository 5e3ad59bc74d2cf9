"""The one conftest: DDS isolation, the `ros` marker, and the fixtures shared across test packages."""
from __future__ import annotations

import os
import random

import pytest

# Each test session talks DDS in its own domain on this host only, so parallel runs never cross.
os.environ.setdefault("ROS_DOMAIN_ID", str(random.Random(os.getpid()).randint(1, 100)))
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """Tests share 2 cores with other processes; torch's intra-op threads only add contention here."""
    try:
        import torch
    except ImportError:  # pragma: no cover
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def ros_available() -> tuple[bool, str]:
    try:
        import rclpy  # noqa: F401

        import maa_msgs.srv  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the environment
        return False, f"rclpy / colcon-built maa_msgs not importable ({exc}); run `source scripts/env.sh`"
    return True, ""


def pytest_collection_modifyitems(config, items):
    ok, why = ros_available()
    if ok:
        return
    if os.environ.get("MAA_REQUIRE_ROS") == "1":
        raise pytest.UsageError(f"MAA_REQUIRE_ROS=1 but {why}")
    skip = pytest.mark.skip(reason=why)
    for item in items:
        if "ros" in item.keywords:
            item.add_marker(skip)


@pytest.fixture()
def ros_node():
    """An rclpy node in this test process (rclpy initialized for the test, shut down after it)."""
    import rclpy

    rclpy.init()
    node = rclpy.create_node(f"maa_test_client_{os.getpid()}")
    yield node
    node.destroy_node()
    rclpy.shutdown()


@pytest.fixture(scope="session")
def go2_adaptation_file(tmp_path_factory):
    """A (randomly initialized) Go2 adaptation module file, history length 5."""
    from maa_go2.actor_critic import AdaptationModule
    from maa_go2.checkpoints import save_adaptation

    path = tmp_path_factory.mktemp("go2") / "adaptation.safetensors"
    save_adaptation(path, AdaptationModule(history_len=5))
    return path


@pytest.fixture
def clock():
    """A manually advanced monotonic clock (deploy tests)."""
    from tests.maa_deploy.deploy_fakes import FakeClock

    return FakeClock()


@pytest.fixture
def backend(clock):
    """A scripted fake robot backend on ``clock`` (deploy tests)."""
    from tests.maa_deploy.deploy_fakes import FakeTestBackend

    return FakeTestBackend(clock)


@pytest.fixture
def fsynced(monkeypatch):
    """Paths passed to os.fsync, in call order (resolved through /proc/self/fd)."""
    seen: list[str] = []
    real = os.fsync

    def spy(fd):
        seen.append(os.readlink(f"/proc/self/fd/{fd}"))
        return real(fd)

    monkeypatch.setattr(os, "fsync", spy)
    return seen

"""Make the PyPI ``unitree-sdk2`` 1.0.1 wheel (import name ``unitree_sdk2py``) usable, and fill its gaps.

The wheel is incomplete (see ``scripts/fix_unitree_sdk.sh``, which patches the missing ``b2`` import):

* ``utils/crc.py`` loads ``utils/lib/crc_amd64.so`` / ``crc_aarch64.so``, which the wheel does not ship:
  :func:`import_sdk` routes the SDK's ``CRC`` class to :mod:`maa_deploy.unitree_wire` (pure Python/numpy);
* there is no ``comm.motion_switcher`` client: :class:`MotionSwitcher` talks to the robot's ``motion_switcher``
  RPC service through the SDK's generic RPC ``Client`` (service name, API version and ids are Unitree's).

Nothing here runs at import time; ``import maa_deploy.sdk_compat`` works without the SDK installed.
"""
from __future__ import annotations

import importlib
import json
import time
from types import ModuleType

from maa_deploy import unitree_wire

MOTION_SWITCHER_SERVICE = "motion_switcher"
MOTION_SWITCHER_API_VERSION = "1.0.0.1"
API_CHECK_MODE = 1001
API_SELECT_MODE = 1002
API_RELEASE_MODE = 1003


class SdkUnavailable(ImportError):
    """The unitree SDK (or Cyclone DDS) cannot be imported; the message says how to install it."""


_HINT = ("install it with `bash scripts/fix_unitree_sdk.sh` inside the active venv "
         "(apt cyclonedds-dev + cyclonedds==0.10.2 + unitree-sdk2==1.0.1, patched)")


def _pure_crc32(self, data) -> int:  # replaces CRC._CRC__Crc32 (name-mangled private method)
    return unitree_wire.crc32_core(data)


def _patch_crc(crc_module: ModuleType) -> None:
    cls = crc_module.CRC
    if getattr(cls, "_maa_patched", False):
        return
    original_init = cls.__init__

    def __init__(self):  # noqa: N807 - same name as the patched method
        try:
            original_init(self)
        except OSError:  # the .so is missing: pack formats are set before the load, so only the lib is absent
            self.platform = "maa-pure"

    cls.__init__ = __init__
    cls._CRC__Crc32 = _pure_crc32
    cls._maa_patched = True


def import_sdk() -> ModuleType:
    """Import ``unitree_sdk2py`` with the CRC routed to maa's implementation.

    Raises:
        SdkUnavailable: the SDK or cyclonedds is not installed or fails to import (with the reason).
    """
    try:
        sdk = importlib.import_module("unitree_sdk2py")
        crc_module = importlib.import_module("unitree_sdk2py.utils.crc")
    except Exception as exc:  # ImportError, OSError from libddsc, AttributeError from the b2 import...
        raise SdkUnavailable(f"unitree_sdk2py is not importable ({type(exc).__name__}: {exc}); {_HINT}") from exc
    _patch_crc(crc_module)
    return sdk


def sdk_crc_matches_pure() -> bool:
    """Self-check: the SDK's ``CRC().Crc`` on a filled LowCmd equals :func:`unitree_wire.lowcmd_crc`."""
    import_sdk()
    from unitree_sdk2py.idl.default import unitree_go_msg_dds__LowCmd_
    from unitree_sdk2py.utils.crc import CRC

    cmd = unitree_wire.fill_lowcmd(unitree_go_msg_dds__LowCmd_(), [0.1 * i for i in range(12)], 20.0, 0.5)
    return CRC().Crc(cmd) == cmd.crc == unitree_wire.lowcmd_crc(cmd)


def make_motion_switcher(timeout_s: float = 5.0):
    """Build a :class:`MotionSwitcher` (after ``ChannelFactoryInitialize``)."""
    import_sdk()
    from unitree_sdk2py.rpc.client import Client

    class MotionSwitcher(Client):
        """Client of the robot's ``motion_switcher`` service (sport mode <-> user low-level control)."""

        def __init__(self):
            super().__init__(MOTION_SWITCHER_SERVICE, False)

        def Init(self):  # noqa: N802 - SDK naming
            self._SetApiVerson(MOTION_SWITCHER_API_VERSION)
            for api in (API_CHECK_MODE, API_SELECT_MODE, API_RELEASE_MODE):
                self._RegistApi(api, 0)

        def check_mode(self) -> tuple[int, dict]:
            """``(code, {"form": ..., "name": <active mode or "">})``; code 0 = success."""
            code, data = self._Call(API_CHECK_MODE, json.dumps({}))
            return code, (json.loads(data) if code == 0 and data else {})

        def release_mode(self) -> int:
            code, _ = self._Call(API_RELEASE_MODE, json.dumps({}))
            return code

    client = MotionSwitcher()
    client.SetTimeout(timeout_s)
    client.Init()
    return client


def release_sport_mode(client, attempts: int = 10, wait_s: float = 0.5) -> None:
    """Release whatever high-level mode is active until ``check_mode`` reports none.

    Raises:
        RuntimeError: the service did not answer or the mode could not be released.
    """
    for _ in range(attempts):
        code, info = client.check_mode()
        if code != 0:
            raise RuntimeError(f"motion_switcher CheckMode failed with code {code} (is the robot reachable and the "
                               f"network interface right?)")
        if not info.get("name"):
            return
        client.release_mode()
        time.sleep(wait_s)
    raise RuntimeError(f"could not release sport mode {info.get('name')!r} after {attempts} attempts")

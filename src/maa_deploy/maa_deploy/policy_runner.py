"""Run a generated Go2 actor with the pretrained adaptation module; validate and hot-swap actor weights.

Per tick (:meth:`PolicyRunner.act`): push the observation ``[obs_dim]`` into the history, ``latent =
adaptation(history [history_len * obs_dim])``, ``action = actor([obs, latent])`` — numpy forwards through
``PolicyLayout.forward_numpy``. The generated part is the actor only; the adaptation module is fixed.

Hot swap: :meth:`PolicyRunner.prepare` (call it off the control thread, or use :meth:`load_async`) loads, validates
(actor layout fingerprint, checksum, finite values, action magnitude on canned observations *and* on recorded real
observations, run through the adaptation module as on the robot) and builds an immutable :class:`LoadedPolicy`;
:meth:`swap` is a single reference assignment, and :meth:`act` reads that reference once per tick, so a tick always
runs entirely on the old or entirely on the new policy. A rejected candidate leaves the active policy untouched and
is reported in :attr:`PolicyRunner.last_error`. On a real robot a validated policy can be *staged*
(:meth:`stage`) and made active only by an operator (:meth:`activate_staged`).
"""
from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from maa_core.layout import PolicyLayout
from maa_core.rotations import projected_gravity
from maa_core.weights_io import WeightsError, WeightsPayload, load_weights_file, payload_from_message
from maa_deploy.backends.base import RobotState
from maa_go2 import commands as go2_commands
from maa_go2.control import DEFAULT_JOINT_POS, POLICY_DT, action_to_target
from maa_go2.observation import OBS_DIM, ObservationHistory, build_observation
from maa_go2.teleop import TeleopConfig, VelocityCommand


class ObservationBuilder(Protocol):
    """Builds the policy observation ``[obs_dim]`` from a measured state and the last action ``[12]``."""

    obs_dim: int

    def build(self, state: RobotState, action: np.ndarray) -> np.ndarray: ...

    def reset(self) -> None: ...


class Go2ObservationBuilder:
    """The walk-these-ways Go2 observation (``maa_go2.observation``) for one robot.

    ``commands`` ``[15]`` (``maa_go2.commands.COMMAND_NAMES``) may be replaced at any time (e.g. by a ROS topic);
    the gait clock advances by ``dt`` per :meth:`build` call.
    """

    obs_dim = OBS_DIM

    def __init__(self, commands: np.ndarray | None = None, dt: float = POLICY_DT):
        self.dt = dt
        self.commands = np.zeros(go2_commands.NUM_COMMANDS) if commands is None else np.asarray(commands, float)
        self.reset()

    def reset(self) -> None:
        self.gait_index = np.zeros(1)
        self.last_action = np.zeros(12)

    def set_commands(self, commands: np.ndarray) -> None:
        commands = np.asarray(commands, dtype=np.float64)
        if commands.shape != (go2_commands.NUM_COMMANDS,) or not np.all(np.isfinite(commands)):
            raise ValueError(f"commands must be finite with shape [{go2_commands.NUM_COMMANDS}], got "
                             f"{list(commands.shape)}")
        self.commands = commands

    def build(self, state: RobotState, action: np.ndarray) -> np.ndarray:
        """``[70]`` float32 observation; ``action`` is the action applied this tick (before scaling)."""
        cmd = self.commands[None]
        self.gait_index = go2_commands.advance_gait(self.gait_index, cmd, self.dt)
        clock = go2_commands.clock_inputs(go2_commands.foot_indices(self.gait_index, cmd))
        obs = build_observation(projected_gravity(state.quat)[None], cmd, np.asarray(state.q)[None],
                                np.asarray(state.dq)[None], np.asarray(action)[None], self.last_action[None], clock)
        self.last_action = np.asarray(action, dtype=np.float64).copy()
        return obs[0].astype(np.float32)


def canned_screen_observations(rng: np.random.Generator, count: int = 15) -> np.ndarray:
    """``[count, 70]`` plausible Go2 observations for the action screen: a robot near its stand pose (base tilted
    up to ~0.1 rad, joints within ~0.15 rad of the default, moderate joint speeds and actions), commanded a random
    velocity within the teleop limits with the deploy-default gait, at a random gait phase. Built with the one
    observation layout (:func:`maa_go2.observation.build_observation`), so every feature is scaled as a policy
    sees it; random values in every feature instead (random gravity, commands and clock) are nothing a robot
    observes and made well-trained actors fail the screen."""
    teleop = TeleopConfig()
    cmds = []
    for _ in range(count):
        velocity = VelocityCommand(teleop)
        velocity.set(rng.uniform(*teleop.vx_range), rng.uniform(-teleop.max_vy, teleop.max_vy),
                     rng.uniform(-teleop.max_yaw, teleop.max_yaw), now=0.0)
        cmds.append(velocity.commands(0.0))
    cmds = np.stack(cmds)
    tilt = rng.normal(0.0, 0.1, (count, 2))
    gravity = np.concatenate([tilt, -np.ones((count, 1))], 1)
    gravity /= np.linalg.norm(gravity, axis=1, keepdims=True)
    q = DEFAULT_JOINT_POS + rng.normal(0.0, 0.15, (count, 12))
    clock = go2_commands.clock_inputs(go2_commands.foot_indices(rng.uniform(0.0, 1.0, count), cmds))
    return build_observation(gravity, cmds, q, rng.normal(0.0, 1.0, (count, 12)), rng.normal(0.0, 1.0, (count, 12)),
                             rng.normal(0.0, 1.0, (count, 12)), clock).astype(np.float32)


@dataclass(frozen=True)
class LoadedPolicy:
    """An immutable, validated actor ready to run."""

    layout: PolicyLayout
    flat: np.ndarray
    checksum: str
    source: str
    screen_max_abs_action: float
    prepared_at: float


class PolicyRunner:
    """Actor + adaptation module execution with validated, atomic hot swap.

    Args:
        actor_layout: the layout every generated actor must have (input ``obs_dim + latent_dim``).
        adaptation: the pretrained adaptation module (``[history_len * obs_dim] -> [latent_dim]``, output linear).
        obs_dim: observation size (70 for the Go2).
        max_screen_action: reject candidates whose |action| on the screening observations exceeds this.
        screen_seed: seed of the canned observations.
        screen_observations: ``[T, obs_dim]`` consecutive real observations (e.g. a recorded prompt); each step's
            history of the previous ``history_len`` observations goes through the adaptation module as on the robot.
            They are screened in addition to the zero observation and 15 canned ones
            (:func:`canned_screen_observations`).
    """

    def __init__(self, actor_layout: PolicyLayout, adaptation: WeightsPayload, obs_dim: int = OBS_DIM,
                 max_screen_action: float = 10.0, screen_seed: int = 0,
                 screen_observations: np.ndarray | None = None):
        self.actor_layout = actor_layout
        self.adaptation = adaptation
        self.obs_dim = obs_dim
        ad = adaptation.layout
        if ad.output != "linear" or ad.obs_dim % obs_dim:
            raise WeightsError(f"adaptation module must be linear-output with input history_len*{obs_dim}, got "
                               f"{ad.to_dict()}")
        self.history_len = ad.obs_dim // obs_dim
        self.latent_dim = ad.action_dim
        if actor_layout.obs_dim != obs_dim + self.latent_dim:
            raise WeightsError(f"actor input must be obs_dim + latent_dim = {obs_dim} + {self.latent_dim}, "
                               f"got actor obs_dim {actor_layout.obs_dim}")
        self.max_screen_action = max_screen_action
        rng = np.random.default_rng(screen_seed)
        if obs_dim != OBS_DIM:
            raise WeightsError(f"the action screen builds Go2 observations ({OBS_DIM} values), got obs_dim {obs_dim}")
        self._screen_obs = np.concatenate([np.zeros((1, obs_dim), np.float32), canned_screen_observations(rng)])
        self._screen_latent = adaptation.layout.forward_numpy(
            adaptation.flat, np.tile(self._screen_obs, (1, self.history_len)))
        if screen_observations is not None:
            real_obs, real_latent = self._recorded_screen(np.asarray(screen_observations, dtype=np.float32))
            self._screen_obs = np.concatenate([self._screen_obs, real_obs])
            self._screen_latent = np.concatenate([self._screen_latent, real_latent])
        self.num_screen_observations = len(self._screen_obs)
        self._history = ObservationHistory(1, self.history_len, obs_dim)
        self._history_primed = False
        self._active: LoadedPolicy | None = None
        self._staged: LoadedPolicy | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self.last_error: str | None = None
        self.swaps = 0
        self.rejections = 0

    def _recorded_screen(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(obs [T, obs_dim], latent [T, latent_dim])`` for recorded observations, histories as on the robot."""
        if obs.ndim != 2 or obs.shape[1] != self.obs_dim or len(obs) < 1 or not np.all(np.isfinite(obs)):
            raise WeightsError(f"screen observations must be finite with shape [T >= 1, {self.obs_dim}], got "
                               f"{list(obs.shape)}")
        history = ObservationHistory(1, self.history_len, self.obs_dim)
        history.reset(np.array([0]), obs[:1])
        stacked = np.concatenate([history.push(o[None]) for o in obs])
        return obs, self.adaptation.layout.forward_numpy(self.adaptation.flat, stacked)

    # ------------------------------------------------------------------ state
    @property
    def active(self) -> LoadedPolicy | None:
        return self._active

    @property
    def staged(self) -> LoadedPolicy | None:
        """A validated policy waiting for an operator's :meth:`activate_staged` (real robot)."""
        return self._staged

    def stage(self, policy: LoadedPolicy) -> None:
        """Hold a validated policy until :meth:`activate_staged` (replaces an earlier staged one)."""
        self._staged = policy

    def activate_staged(self) -> LoadedPolicy:
        """Make the staged policy active (operator action).

        Raises:
            WeightsError: nothing is staged.
        """
        policy, self._staged = self._staged, None
        if policy is None:
            raise WeightsError("no staged policy: publish signed weights first")
        self.swap(policy)
        return policy

    def reset_history(self) -> None:
        """Forget past observations (call when entering POLICY); the next observation fills the history."""
        self._history_primed = False

    # ---------------------------------------------------------------- loading
    def prepare(self, source: str | Path | WeightsPayload | Any) -> LoadedPolicy:
        """Load and validate a candidate actor without touching the active one.

        Args:
            source: a weights file path, a :class:`WeightsPayload`, or a ``maa_msgs/PolicyWeights``-like object.
        Raises:
            WeightsError: unreadable/truncated file, layout mismatch, checksum mismatch, NaN/inf, or actions whose
                magnitude exceeds ``max_screen_action`` on the canned observations.
        """
        if isinstance(source, (str, Path)):
            payload = load_weights_file(source)
        elif isinstance(source, WeightsPayload):
            payload = source
        else:
            payload = payload_from_message(source, self.actor_layout)
        if payload.layout.fingerprint() != self.actor_layout.fingerprint():
            want, got = self.actor_layout, payload.layout
            raise WeightsError(f"{payload.source}: layout mismatch: this robot runs actor {list(want.dims)} "
                               f"({want.activation}, {want.output}, fingerprint {want.fingerprint()}), got "
                               f"{list(got.dims)} ({got.activation}, {got.output}, fingerprint {got.fingerprint()})")
        actions = self.actor_layout.forward_numpy(payload.flat, np.concatenate([self._screen_obs, self._screen_latent],
                                                                               axis=1))
        peak = float(np.max(np.abs(actions))) if np.all(np.isfinite(actions)) else math.inf
        if not peak <= self.max_screen_action:
            raise WeightsError(f"{payload.source}: action screen failed: max |action| on canned observations is "
                               f"{peak:.3g} > {self.max_screen_action}")
        return LoadedPolicy(self.actor_layout, payload.flat, payload.checksum, payload.source, peak, time.monotonic())

    def swap(self, policy: LoadedPolicy) -> None:
        """Make ``policy`` active (one reference assignment; safe while :meth:`act` runs on another thread)."""
        self._active = policy
        self.swaps += 1

    def load(self, source, stage: bool = False, check: Callable[[Any], object] | None = None) -> LoadedPolicy:
        """``check(source)`` (e.g. a signature check; raise to refuse), :meth:`prepare`, then :meth:`swap` (or
        :meth:`stage` when ``stage``). On failure the active policy is kept and the error re-raised."""
        try:
            if check is not None:
                check(source)
            policy = self.prepare(source)
        except (WeightsError, ValueError) as exc:
            self.rejections += 1
            self.last_error = str(exc)
            raise
        if stage:
            self.stage(policy)
        else:
            self.swap(policy)
        self.last_error = None
        return policy

    def load_async(self, source, stage: bool = False, check: Callable[[Any], object] | None = None) -> Future:
        """Run :meth:`load` on a background thread; the future gives the :class:`LoadedPolicy` or the error."""
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="policy-loader")
        return self._executor.submit(self.load, source, stage, check)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)

    # ---------------------------------------------------------------- running
    def act(self, obs: np.ndarray) -> np.ndarray:
        """Action ``[action_dim]`` for observation ``[obs_dim]``.

        Raises:
            RuntimeError: no policy loaded. ValueError: wrong observation shape.
        """
        policy = self._active  # read once: the whole tick uses one policy
        if policy is None:
            raise RuntimeError("no policy loaded: call load() with generated weights first")
        obs = np.asarray(obs, dtype=np.float32)
        if obs.shape != (self.obs_dim,):
            raise ValueError(f"observation must have shape [{self.obs_dim}], got {list(obs.shape)}")
        if not self._history_primed:
            self._history.reset(np.array([0]), obs[None])
            self._history_primed = True
        history = self._history.push(obs[None])
        latent = self.adaptation.layout.forward_numpy(self.adaptation.flat, history)[0]
        return policy.layout.forward_numpy(policy.flat, np.concatenate([obs, latent]))

    @staticmethod
    def action_to_q_des(action: np.ndarray) -> np.ndarray:
        """Policy action ``[12]`` -> joint targets ``[12]`` rad (``maa_go2.control.action_to_target``)."""
        return action_to_target(np.asarray(action, dtype=np.float64)[None])[0]

"""The generation service behind ``/generate_policy`` (ROS-free; the node only wires it to ROS).

It keeps the latest prompts received on the trajectory topic, serves one generation request at a time
(others get ``BUSY``), samples K candidates with the generator, optionally screens them in simulation, and
returns the best with nav2-style result codes.
"""
from __future__ import annotations

import collections
import enum
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from maa_core.config import ConfigError
from maa_core.layout import PolicyLayout
from maa_core.prompt import PromptError, Trajectory


class ResultCode(enum.IntEnum):
    """Mirrors the constants of ``maa_msgs/srv/GeneratePolicy`` (a test keeps them equal)."""

    NONE = 0
    UNKNOWN = 900
    NO_PROMPT = 901
    INVALID_PROMPT = 902
    GENERATOR_NOT_READY = 903
    GENERATION_FAILED = 904
    SCREENING_FAILED = 905
    BUSY = 906
    TIMEOUT = 907
    CANCELED = 908


#: ``screener(layout, flats [K, P], trajectory) -> scores [K]`` (higher is better, NaN = candidate failed). The
#: service calls it with one candidate at a time (K = 1), so a score must not depend on the other candidates.
Screener = Callable[[PolicyLayout, np.ndarray, Trajectory], np.ndarray]
#: ``progress(stage, done, total)``: stage "generated" (done = total = K) or "screening" (done = candidates screened)
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class PromptLimits:
    """Bounds on a prompt's size, checked before its arrays are converted (memory/CPU guard).

    ``max_steps`` bounds ``num_steps`` (T); ``max_dim`` bounds ``obs_dim`` and ``action_dim``. The messages name the
    generator parameters (``max_prompt_steps``, ``max_prompt_dim``) that raise the limits.
    """

    max_steps: int = 2000
    max_dim: int = 512

    def check(self, num_steps: int, obs_dim: int, action_dim: int, *, num_observations: int | None = None,
              num_actions: int | None = None, num_success: int | None = None) -> None:
        """Raise :class:`PromptError` when the declared sizes, or the array lengths (values), exceed the limits."""
        if num_steps > self.max_steps:
            raise PromptError(f"prompt has num_steps={num_steps}, above the limit max_prompt_steps="
                              f"{self.max_steps} (raise the generator parameter max_prompt_steps to accept it)")
        for name, dim in (("obs_dim", obs_dim), ("action_dim", action_dim)):
            if dim > self.max_dim:
                raise PromptError(f"prompt has {name}={dim}, above the limit max_prompt_dim={self.max_dim} "
                                  "(raise the generator parameter max_prompt_dim to accept it)")
        cap = self.max_steps * self.max_dim
        for name, count, limit in (("observations", num_observations, cap), ("actions", num_actions, cap),
                                   ("success", num_success, self.max_steps)):
            if count is not None and count > limit:
                raise PromptError(f"prompt {name} has {count} values, above the limit {limit} set by "
                                  "max_prompt_steps / max_prompt_dim (generator parameters)")


@dataclass
class GenerationRequest:
    prompt: Trajectory | None = None
    use_latest_prompt: bool = False
    num_candidates: int = 0          # 0 -> service default
    seed: int = -1                   # -1 -> service default
    screen: bool = False


@dataclass
class GenerationResult:
    code: ResultCode
    message: str = ""
    layout: PolicyLayout | None = None
    flat: np.ndarray | None = None          # [P] the selected policy
    candidates: np.ndarray | None = None    # [K, P]
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    selected: int = 0
    seed: int = -1
    prompt: Trajectory | None = None
    elapsed_s: float = 0.0
    prompt_novelty: float = math.nan        # data.novelty score of the prompt; NaN when the model has none

    @property
    def ok(self) -> bool:
        return self.code == ResultCode.NONE


class GenerationService:
    """Thread-safe request handling around a loaded generator.

    Args:
        generator: a :class:`~maa_generator.models.generator.Generator` (or any object with ``layout``,
            ``check_trajectory(traj)`` and ``generate(trajectories, num_candidates, seed)``); ``None`` until loaded.
        default_candidates: K used when a request asks for 0.
        default_seed: seed used when a request passes -1.
        max_candidates: upper bound on K (memory guard).
        screener: optional simulation screener, used when a request sets ``screen``.
        keep_prompts: how many received prompts to keep (older ones are dropped).
        limits: bounds on a prompt's size (:class:`PromptLimits`); checked for every prompt, kept or requested.
    """

    def __init__(self, generator=None, *, default_candidates: int = 1, default_seed: int = 0,
                 max_candidates: int = 256, screener: Screener | None = None, keep_prompts: int = 8,
                 limits: PromptLimits | None = None):
        if keep_prompts < 1:
            raise ValueError(f"keep_prompts must be >= 1, got {keep_prompts}")
        self.generator = generator
        self.limits = limits or PromptLimits()
        self.default_candidates = default_candidates
        self.default_seed = default_seed
        self.max_candidates = max_candidates
        self.screener = screener
        self._prompts: collections.deque[Trajectory] = collections.deque(maxlen=keep_prompts)
        self._prompt_lock = threading.Lock()
        self._busy = threading.Lock()

    # ------------------------------------------------------------------ prompts
    def check_prompt(self, traj: Trajectory) -> None:
        """Raise :class:`PromptError` if ``traj`` is over the size limits or cannot condition the loaded generator."""
        self.limits.check(traj.length, traj.obs_dim, traj.act_dim)
        if self.generator is not None:
            self.generator.check_trajectory(traj)

    def add_prompt(self, traj: Trajectory) -> None:
        """Validate and keep a received prompt (raises :class:`PromptError` when it is unusable)."""
        self.check_prompt(traj)
        with self._prompt_lock:
            self._prompts.append(traj)

    @property
    def latest_prompt(self) -> Trajectory | None:
        with self._prompt_lock:
            return self._prompts[-1] if self._prompts else None

    # ----------------------------------------------------------------- requests
    def handle(self, req: GenerationRequest, progress: Progress | None = None,
               cancelled: Callable[[], bool] | None = None) -> GenerationResult:
        """Serve one request; never raises (errors become result codes).

        Args:
            progress: called after sampling and after each screened candidate (for action feedback).
            cancelled: polled between candidates; when it returns True the request ends with ``CANCELED`` (the
                scores so far are kept, the rest NaN).
        """
        if not self._busy.acquire(blocking=False):
            return GenerationResult(ResultCode.BUSY, "another generation request is being served; retry later")
        start = time.perf_counter()
        try:
            result = self._handle(req, progress or (lambda *_: None), cancelled or (lambda: False))
        except Exception as exc:  # the service must answer, whatever failed inside
            result = GenerationResult(ResultCode.UNKNOWN, f"{type(exc).__name__}: {exc}")
        finally:
            self._busy.release()
        result.elapsed_s = time.perf_counter() - start
        return result

    def _handle(self, req: GenerationRequest, progress: Progress, cancelled: Callable[[], bool]) -> GenerationResult:
        gen = self.generator
        if gen is None:
            return GenerationResult(ResultCode.GENERATOR_NOT_READY, "no generator model is loaded")
        prompt = self.latest_prompt if req.use_latest_prompt else req.prompt
        if prompt is None:
            why = "no trajectory received on the prompt topic yet" if req.use_latest_prompt else "request has no prompt"
            return GenerationResult(ResultCode.NO_PROMPT, why)
        try:
            self.check_prompt(prompt)
        except PromptError as exc:
            return GenerationResult(ResultCode.INVALID_PROMPT, str(exc))
        k = req.num_candidates or self.default_candidates
        if not 1 <= k <= self.max_candidates:
            return GenerationResult(ResultCode.INVALID_PROMPT, f"num_candidates must be in [1, {self.max_candidates}]"
                                                               f", got {k}")
        seed = self.default_seed if req.seed < 0 else int(req.seed)
        try:
            policies = gen.generate([prompt], num_candidates=k, seed=seed)
            flats = np.stack([np.asarray(p.flat, dtype=np.float32) for p in policies])
        except (PromptError, ValueError, FloatingPointError) as exc:
            return GenerationResult(ResultCode.GENERATION_FAILED, str(exc))
        if not np.all(np.isfinite(flats)):
            return GenerationResult(ResultCode.GENERATION_FAILED, "generator produced non-finite weights")
        novelty = getattr(policies[0], "prompt_novelty", None)
        result = GenerationResult(ResultCode.NONE, layout=gen.layout, candidates=flats, seed=seed, prompt=prompt,
                                  prompt_novelty=math.nan if novelty is None else float(novelty))
        progress("generated", k, k)
        if cancelled():
            return GenerationResult(ResultCode.CANCELED, f"canceled after sampling {k} candidate(s)", scores=np.full(
                k, np.nan, np.float32), seed=seed, prompt=prompt)
        if req.screen:
            if self.screener is None:
                return GenerationResult(ResultCode.SCREENING_FAILED, "screening requested but no screener is "
                                                                     "configured for this generator's domain")
            scores = self._screen(gen.layout, flats, prompt, progress, cancelled)
            if isinstance(scores, GenerationResult):
                return scores
            if not np.any(np.isfinite(scores)):
                return GenerationResult(ResultCode.SCREENING_FAILED, f"all {k} candidates failed screening")
            result.scores = scores
            result.selected = int(np.nanargmax(scores))
        result.flat = flats[result.selected]
        return result

    def _screen(self, layout: PolicyLayout, flats: np.ndarray, prompt: Trajectory, progress: Progress,
                cancelled: Callable[[], bool]) -> np.ndarray | GenerationResult:
        """Scores ``[K]``, one candidate at a time (progress after each, cancel between them)."""
        k = len(flats)
        scores = np.full(k, np.nan, np.float32)
        for i in range(k):
            if cancelled():
                return GenerationResult(ResultCode.CANCELED, f"canceled after screening {i} of {k} candidate(s)",
                                        scores=scores, prompt=prompt)
            one = np.asarray(self.screener(layout, flats[i:i + 1], prompt), dtype=np.float32).reshape(-1)
            if one.shape != (1,):
                return GenerationResult(ResultCode.SCREENING_FAILED, f"screener returned {one.shape} for one "
                                                                     "candidate, expected (1,)")
            scores[i] = one[0]
            progress("screening", i + 1, k)
        return scores


@dataclass
class GeneratorNodeConfig:
    """Parameters of the generator node (ROS parameters of the same names; see ``config/generator.yaml``)."""

    model_path: str = ""                 # directory written by training/train.py (Generator.save)
    device: str = "cpu"                  # "cpu" | "cuda" | "cuda:N"
    torch_threads: int = 1               # CPU intra-op threads (1 keeps latency stable beside a control loop)
    num_candidates: int = 1              # default K when a request passes 0
    max_candidates: int = 256
    seed: int = 0                        # default seed when a request passes -1
    screen_domain: str = ""              # "" (the model's domain); screening.available_domains() have a screener
    screen_seconds: float = 4.0          # simulated seconds per candidate when screening
    adaptation_path: str = ""            # go2: pretrained adaptation module used by the screener
    prompt_topic: str = "/maa/prompt"
    weights_topic: str = "/maa/policy_weights"
    service_name: str = "/generate_policy"
    action_name: str = "/generate_policy_action"  # the same as an action (feedback + cancel; maa_msgs/action)
    keep_prompts: int = 8                # received prompts kept (the latest is used by use_latest_prompt)
    novelty_warn: float = 3.0            # log a warning when a prompt's novelty exceeds this (in-distribution ~1)
    signing_key: str = ""                # operator private key (maa_keygen); "" = publish unsigned weights
    max_prompt_steps: int = 2000         # prompts (topic or request) with more steps are rejected
    max_prompt_dim: int = 512            # prompts with a larger obs_dim or action_dim are rejected
    prompt_queue_depth: int = 10         # prompt subscription queue depth

    def __post_init__(self) -> None:
        if not 1 <= self.num_candidates <= self.max_candidates:
            raise ValueError(f"num_candidates must be in [1, max_candidates={self.max_candidates}], "
                             f"got {self.num_candidates}")
        if self.torch_threads < 1:
            raise ValueError(f"torch_threads must be >= 1, got {self.torch_threads}")
        if not self.novelty_warn > 0:
            raise ValueError(f"novelty_warn must be > 0, got {self.novelty_warn}")
        if self.screen_seconds <= 0:
            raise ValueError(f"screen_seconds must be > 0, got {self.screen_seconds}")
        if not (self.device == "cpu" or self.device.startswith("cuda")):
            raise ValueError(f"device must be 'cpu' or 'cuda[:N]', got {self.device!r}")
        for name in ("keep_prompts", "max_prompt_steps", "max_prompt_dim", "prompt_queue_depth"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")

    @property
    def prompt_limits(self) -> PromptLimits:
        return PromptLimits(max_steps=self.max_prompt_steps, max_dim=self.max_prompt_dim)

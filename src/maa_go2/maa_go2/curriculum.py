"""Command curriculum of the Go2 walk-these-ways task, shared by every engine.

A grid over (vx, yaw rate) cells in the full command box. Training starts in the cells inside ``initial`` and
widens where the policy succeeds: when an env's segment (the time between two command resamplings) in a cell
tracks both vx/vy and yaw well enough, that cell and its neighbours become (more) likely. This is the
reward-threshold grid curriculum of walk-these-ways (Margolis & Agrawal, 2022), on tracking *errors* so that the
thresholds are in physical units. Everything here is numpy on the host; an engine calls :meth:`sample` when it
resamples commands and :meth:`update` with the segment's mean tracking errors.

The gait curriculum (``gaits_initial > 0``) opens ``commands.gaits`` in their listed order: training starts with
the first ``gaits_initial`` of them, and the next one joins once every open gait's contact match (the fraction of
foot-steps whose contact agrees with the commanded schedule, averaged over finished command segments, smoothed by
an exponential moving average) reaches ``gait_contact_match``, or, with ``gait_open_after_env_steps``, once the open
set has trained that many env steps unchanged (so one gait stuck below the threshold does not keep the rest out
forever).

Two gates make the box widen only where the commanded gait is walked (walk-these-ways gates its grid on the
contact-tracking rewards too, and keeps one grid per gait): ``min_contact_match`` requires a segment's contact match
as well as its tracking, and ``per_gait`` keeps one (vx, yaw) grid per gait, each widened by its own segments.
Without them (2026-12-03 pilots) a pace actor's box widened on tracking alone, 0.1 -> 0.68 of the cells in 69
iterations, while its contact match stayed at 0.56. A single gait is learned in a few hundred
iterations on this machine (a trot-only actor walked its schedule with 0.90 contact match at 5.8M env steps),
where four gaits sampled from the start were not (0.52-0.64 after 36M).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class CurriculumConfig:
    """Grid curriculum over (vx, yaw). Disabled: commands are uniform over the command ranges."""

    enabled: bool = False
    cells_vx: int = 10  #: number of cells along vx over ``commands.lin_vel_x``
    cells_yaw: int = 12  #: number of cells along yaw over ``commands.ang_vel_yaw``
    initial_vx: list[float] = field(default_factory=lambda: [-0.5, 0.5])  #: cells inside start active [m/s]
    initial_yaw: list[float] = field(default_factory=lambda: [-0.5, 0.5])  #: [rad/s]
    max_lin_error: float = 0.2  #: success if mean |v_xy error| below this [m/s] ...
    max_yaw_error: float = 0.3  #: ... and mean |yaw error| below this [rad/s]
    step: float = 0.2  #: weight added to a successful cell and its 8 neighbours (weights capped at 1)
    gaits_initial: int = 0  #: gaits (of ``commands.gaits``, in order) open at the start; 0 = all (no gait curriculum)
    gait_contact_match: float = 0.75  #: open the next gait when every open gait's smoothed contact match reaches this
    gait_ema: float = 0.02  #: weight of each batch of finished segments in a gait's moving average
    #: also open the next gait once the open set has trained this many env steps unchanged (0: by contact match only)
    gait_open_after_env_steps: int = 0
    #: step-frequency stage: commands draw ``gait_frequency`` from this narrower range [Hz] until the task has taken
    #: ``full_gait_frequency_after_env_steps`` env steps, then from ``commands.gait_frequency``; [] = no stage
    initial_gait_frequency: list[float] = field(default_factory=list)
    full_gait_frequency_after_env_steps: int = 0
    #: a segment widens its cell only if its mean contact match also reaches this (0: tracking errors only)
    min_contact_match: float = 0.0
    #: one (vx, yaw) grid per gait of ``commands.gaits``, each widened by its own gait's segments
    per_gait: bool = False
    #: with ``per_gait``, the gaits whose grid restarts from the initial box when the curriculum state loaded is a
    #: shared grid (a checkpoint of a run without ``per_gait``); the other gaits start from that grid
    per_gait_restart: list[str] = field(default_factory=list)
    #: with ``per_gait``, the gaits whose grid widens on tracking alone, without ``min_contact_match``
    ungated_gaits: list[str] = field(default_factory=list)
    #: fraction of the (vx, yaw) draws taken in proportion to a cell's weight times its smoothed tracking error
    #: (see :class:`CommandCurriculum`), so that training dwells where the opened box is tracked worst; 0: in
    #: proportion to the weights alone (walk-these-ways' rule)
    error_priority: float = 0.0
    error_ema: float = 0.1  #: weight of each update's segments in a cell's smoothed tracking error

    def __post_init__(self) -> None:
        if self.cells_vx < 1 or self.cells_yaw < 1:
            raise ValueError(f"curriculum: cells_vx and cells_yaw must be >= 1, got {self.cells_vx}, {self.cells_yaw}")
        if not (0 < self.step <= 1) or self.max_lin_error <= 0 or self.max_yaw_error <= 0:
            raise ValueError(f"curriculum: need 0 < step <= 1 and positive error thresholds, got step={self.step}, "
                             f"max_lin_error={self.max_lin_error}, max_yaw_error={self.max_yaw_error}")
        if self.gaits_initial < 0 or not (0 < self.gait_contact_match <= 1) or not (0 < self.gait_ema <= 1):
            raise ValueError(f"curriculum: need gaits_initial >= 0, 0 < gait_contact_match <= 1 and 0 < gait_ema <= 1, "
                             f"got {self.gaits_initial}, {self.gait_contact_match}, {self.gait_ema}")
        if self.gait_open_after_env_steps < 0:
            raise ValueError(f"curriculum.gait_open_after_env_steps: expected >= 0 env steps (0 = off), "
                             f"got {self.gait_open_after_env_steps}")
        for name in ("initial_vx", "initial_yaw"):
            lo, hi = getattr(self, name)
            if lo > hi:
                raise ValueError(f"curriculum.{name}: expected [lo, hi] with lo <= hi, got {[lo, hi]}")
        f = self.initial_gait_frequency
        if f and (len(f) != 2 or not 0 < f[0] <= f[1]):
            raise ValueError(f"curriculum.initial_gait_frequency: expected [] or [lo, hi] with 0 < lo <= hi [Hz], "
                             f"got {f}")
        if self.full_gait_frequency_after_env_steps < 0:
            raise ValueError("curriculum.full_gait_frequency_after_env_steps must be >= 0, "
                             f"got {self.full_gait_frequency_after_env_steps}")
        if not 0.0 <= self.min_contact_match <= 1.0:
            raise ValueError(f"curriculum.min_contact_match: expected a fraction in [0, 1] (0 = off), "
                             f"got {self.min_contact_match}")
        if not (0.0 <= self.error_priority <= 1.0 and 0.0 < self.error_ema <= 1.0):
            raise ValueError(f"curriculum: need 0 <= error_priority <= 1 and 0 < error_ema <= 1, got "
                             f"error_priority={self.error_priority}, error_ema={self.error_ema}")
        from maa_go2.commands import GAITS  # local: commands imports nothing from here

        for name in ("per_gait_restart", "ungated_gaits"):
            unknown = [g for g in getattr(self, name) if g not in GAITS]
            if unknown:
                raise ValueError(f"curriculum.{name}: unknown gait(s) {unknown}; expected names of {sorted(GAITS)}")


#: cap of a cell's smoothed normalized tracking error (:class:`CommandCurriculum`)
MAX_CELL_ERROR = 2.0


class CommandCurriculum:
    """Cell weights over the (vx, yaw) box ``vx_range x yaw_range``; see the module docstring.

    Each cell also keeps a smoothed tracking error of its segments, ``|v_xy error| / max_lin_error + |yaw error| /
    max_yaw_error`` (1 = at the success thresholds; capped at :data:`MAX_CELL_ERROR` so that a command the robot
    cannot reach does not draw every sample; 1 before a cell's first segment). With ``error_priority`` > 0 that
    fraction of the draws is in proportion to weight x error instead of weight alone.
    """

    def __init__(self, cfg: CurriculumConfig, vx_range: list[float], yaw_range: list[float]):
        self.cfg = cfg
        self.vx_edges = np.linspace(vx_range[0], vx_range[1], cfg.cells_vx + 1)
        self.yaw_edges = np.linspace(yaw_range[0], yaw_range[1], cfg.cells_yaw + 1)
        vx_c = 0.5 * (self.vx_edges[:-1] + self.vx_edges[1:])
        yaw_c = 0.5 * (self.yaw_edges[:-1] + self.yaw_edges[1:])
        inside = ((vx_c[:, None] >= cfg.initial_vx[0]) & (vx_c[:, None] <= cfg.initial_vx[1])
                  & (yaw_c[None, :] >= cfg.initial_yaw[0]) & (yaw_c[None, :] <= cfg.initial_yaw[1]))
        if not inside.any():  # an initial box narrower than one cell: start from the cell holding its centre
            inside[self._cell_index(np.array([np.mean(cfg.initial_vx)]), np.array([np.mean(cfg.initial_yaw)]))] = True
        self.weights = inside.astype(np.float64)  #: [cells_vx, cells_yaw] in [0, 1]
        self.cell_error = np.ones_like(self.weights)  #: [cells_vx, cells_yaw] smoothed normalized tracking error

    def _cell_index(self, vx: np.ndarray, yaw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        i = np.clip(np.searchsorted(self.vx_edges, vx, side="right") - 1, 0, self.cfg.cells_vx - 1)
        j = np.clip(np.searchsorted(self.yaw_edges, yaw, side="right") - 1, 0, self.cfg.cells_yaw - 1)
        return i, j

    def cell_probabilities(self) -> np.ndarray:
        """``[cells_vx * cells_yaw]`` probability of drawing each cell (flattened row-major)."""
        p = self.weights / self.weights.sum()
        f = self.cfg.error_priority
        if f > 0:
            q = self.weights * self.cell_error
            if q.sum() > 0:
                p = (1.0 - f) * p + f * q / q.sum()
        return p.ravel()

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``[n, 2]`` (vx, yaw) drawn from cells by :meth:`cell_probabilities`, uniform inside a cell."""
        p = self.cell_probabilities()
        cells = rng.choice(p.size, size=n, p=p)
        i, j = np.unravel_index(cells, self.weights.shape)
        vx = rng.uniform(self.vx_edges[i], self.vx_edges[i + 1])
        yaw = rng.uniform(self.yaw_edges[j], self.yaw_edges[j + 1])
        return np.stack([vx, yaw], axis=1)

    def update(self, vx_cmd: np.ndarray, yaw_cmd: np.ndarray, lin_error: np.ndarray, yaw_error: np.ndarray,
               contact_match: np.ndarray | None = None) -> None:
        """Raise the weight of the cells (and neighbours) where a segment tracked well.

        Args:
            vx_cmd, yaw_cmd: ``[M]`` commands of the finished segments.
            lin_error: ``[M]`` mean |v_xy command - measured| over each segment [m/s].
            yaw_error: ``[M]`` mean |yaw command - measured| over each segment [rad/s].
            contact_match: ``[M]`` mean contact match of each segment; with ``min_contact_match`` > 0 a segment
                also needs this to reach it.
        """
        lin_error, yaw_error = np.asarray(lin_error, dtype=np.float64), np.asarray(yaw_error, dtype=np.float64)
        self._smooth_cell_error(np.asarray(vx_cmd), np.asarray(yaw_cmd),
                                lin_error / self.cfg.max_lin_error + yaw_error / self.cfg.max_yaw_error)
        ok = (lin_error < self.cfg.max_lin_error) & (yaw_error < self.cfg.max_yaw_error)
        if self.cfg.min_contact_match > 0 and contact_match is not None:
            ok &= np.asarray(contact_match) >= self.cfg.min_contact_match
        if not ok.any():
            return
        i, j = self._cell_index(np.asarray(vx_cmd)[ok], np.asarray(yaw_cmd)[ok])
        for di in (-1, 0, 1):
            for dj in (-1, 0, 1):
                ii = np.clip(i + di, 0, self.cfg.cells_vx - 1)
                jj = np.clip(j + dj, 0, self.cfg.cells_yaw - 1)
                np.add.at(self.weights, (ii, jj), self.cfg.step)
        np.minimum(self.weights, 1.0, out=self.weights)

    def _smooth_cell_error(self, vx_cmd: np.ndarray, yaw_cmd: np.ndarray, error: np.ndarray) -> None:
        """Move each cell's smoothed error toward the mean ``error [M]`` of this update's segments in it."""
        if not error.size:
            return
        i, j = self._cell_index(vx_cmd, yaw_cmd)
        flat = np.ravel_multi_index((i, j), self.weights.shape)
        counts = np.bincount(flat, minlength=self.weights.size)
        sums = np.bincount(flat, weights=np.minimum(error, MAX_CELL_ERROR), minlength=self.weights.size)
        seen = counts > 0
        cell_error = self.cell_error.reshape(-1)  # a view: edits land in self.cell_error
        cell_error[seen] += self.cfg.error_ema * (sums[seen] / counts[seen] - cell_error[seen])

    def coverage(self) -> float:
        """Fraction of the command box's cells with full weight (1.0 = the whole box is trained)."""
        return float((self.weights >= 1.0).mean())

    def state_dict(self) -> dict:
        return {"weights": self.weights.copy(), "cell_error": self.cell_error.copy()}

    def load_state_dict(self, state: dict) -> None:
        """Weights, and the smoothed cell errors where the state has them (older checkpoints: 1 everywhere)."""
        w = np.asarray(state["weights"], dtype=np.float64)
        if w.shape != self.weights.shape:
            raise ValueError(f"curriculum state has {list(w.shape)} cells, this config has {list(self.weights.shape)}")
        self.weights = w.copy()
        if "cell_error" in state:
            e = np.asarray(state["cell_error"], dtype=np.float64)
            if e.shape != w.shape:
                raise ValueError(f"curriculum state has cell errors of shape {list(e.shape)}, its weights "
                                 f"{list(w.shape)}")
            self.cell_error = e.copy()


class GaitwiseCurriculum:
    """One :class:`CommandCurriculum` per gait (``curriculum.per_gait``); rows are routed by their gait index, and
    the grids of ``ungated_gaits`` widen without the contact-match gate."""

    def __init__(self, cfg: CurriculumConfig, vx_range: list[float], yaw_range: list[float], gaits: list[str]):
        self.cfg, self.gaits = cfg, list(gaits)
        self.grids = [CommandCurriculum(cfg, vx_range, yaw_range) for _ in self.gaits]

    def sample(self, rng: np.random.Generator, gait: np.ndarray) -> np.ndarray:
        """``[n, 2]`` (vx, yaw), each row from the grid of its gait (``gait [n]``, indices into ``gaits``)."""
        gait = np.asarray(gait)
        out = np.zeros((gait.size, 2))
        for g in np.unique(gait):
            rows = gait == g
            out[rows] = self.grids[int(g)].sample(rng, int(rows.sum()))
        return out

    def update(self, gait: np.ndarray, vx_cmd, yaw_cmd, lin_error, yaw_error, contact_match=None) -> None:
        """:meth:`CommandCurriculum.update` of each gait's grid with its own segments (``gait [M]``; -1 rows
        skipped); the other arguments as there."""
        gait = np.asarray(gait)
        cols = [np.asarray(a) for a in (vx_cmd, yaw_cmd, lin_error, yaw_error)]
        for g in np.unique(gait[gait >= 0]):
            rows = gait == g
            ungated = contact_match is None or self.gaits[int(g)] in self.cfg.ungated_gaits
            match = None if ungated else np.asarray(contact_match)[rows]
            self.grids[int(g)].update(*(c[rows] for c in cols), contact_match=match)

    def coverage(self) -> float:
        """Mean over the gaits of :meth:`CommandCurriculum.coverage`."""
        return float(np.mean([grid.coverage() for grid in self.grids]))

    def state_dict(self) -> dict:
        return {"weights": np.stack([grid.weights for grid in self.grids]),
                "cell_error": np.stack([grid.cell_error for grid in self.grids])}

    def load_state_dict(self, state: dict) -> None:
        """Per-gait weights ``[G, cells_vx, cells_yaw]``, or one shared grid ``[cells_vx, cells_yaw]`` (a run without
        ``per_gait``): every gait starts from it except those in ``per_gait_restart``, which keep the initial box."""
        w = np.asarray(state["weights"], dtype=np.float64)
        if w.ndim == 2:
            for gait, grid in zip(self.gaits, self.grids):
                if gait not in self.cfg.per_gait_restart:
                    grid.load_state_dict({"weights": w})
            return
        if w.shape[0] != len(self.grids):
            raise ValueError(f"curriculum state has grids for {w.shape[0]} gaits, this config has {len(self.grids)}")
        errors = state.get("cell_error")
        for g, (grid, weights) in enumerate(zip(self.grids, w)):
            grid.load_state_dict({"weights": weights, **({"cell_error": errors[g]} if errors is not None else {})})


def gait_index(commands: np.ndarray, table: np.ndarray) -> np.ndarray:
    """``[M]`` row of ``table`` (``[G, 3]`` phase, offset, bound) matching each command row's columns 5:8; -1 for
    none."""
    hit = np.all(np.abs(np.asarray(commands)[:, None, 5:8] - table[None]) < 1e-6, axis=-1)
    return np.where(hit.any(1), hit.argmax(1), -1)


class GaitCurriculum:
    """Which of ``gaits`` (names, in the order they open) are open, and each one's smoothed contact match."""

    def __init__(self, cfg: CurriculumConfig, gaits: list[str]):
        from maa_go2.commands import GAITS  # local: commands imports nothing from here

        self.cfg = cfg
        self.table = np.array([GAITS[g] for g in gaits], dtype=np.float64)  #: [G, 3] phase, offset, bound
        self.open = min(cfg.gaits_initial, len(gaits))
        self.match = np.zeros(len(gaits))  #: [G] moving average of the segments' contact match
        self.opened_at = 0  #: env steps (the sampler's clock) when the open set last changed

    def gait_of(self, commands: np.ndarray) -> np.ndarray:
        """``[M]`` index into ``gaits`` of each command row's (phase, offset, bound); -1 for none of them."""
        return gait_index(commands, self.table)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``[n, 3]`` (phase, offset, bound), uniform over the open gaits."""
        return self.table[rng.integers(0, self.open, size=n)]

    def update(self, commands: np.ndarray, contact_match: np.ndarray, env_steps: int = 0) -> None:
        """Fold finished segments (``commands [M, 15]``, mean ``contact_match [M]``) into the averages; open the next
        gait when every open one has reached ``gait_contact_match``, or when ``env_steps`` (the sampler's clock) is
        ``gait_open_after_env_steps`` past the last opening."""
        gait = self.gait_of(np.asarray(commands))
        a = self.cfg.gait_ema
        for g in np.unique(gait[gait >= 0]):
            self.match[g] += a * (float(np.mean(contact_match[gait == g])) - self.match[g])
        if self.open >= len(self.match):
            return
        matched = np.all(self.match[:self.open] >= self.cfg.gait_contact_match)
        wait = self.cfg.gait_open_after_env_steps
        if matched or (wait > 0 and env_steps - self.opened_at >= wait):
            self.open += 1
            self.opened_at = env_steps

    def state_dict(self) -> dict:
        return {"gaits_open": np.array(self.open), "gait_match": self.match.copy(),
                "gait_opened_at": np.array(self.opened_at)}

    def load_state_dict(self, state: dict) -> None:
        if "gaits_open" not in state:  # a checkpoint from before the gait curriculum: keep the configured start
            return
        match = np.asarray(state["gait_match"], dtype=np.float64)
        if match.shape != self.match.shape:
            raise ValueError(f"curriculum state has {match.size} gaits, this config has {self.match.size}")
        self.open, self.match = int(state["gaits_open"]), match.copy()
        if "gait_opened_at" in state:
            self.opened_at = int(state["gait_opened_at"])


class CommandSampler:
    """Per-engine command source: uniform ranges, with (vx, yaw) from the curriculum when it is enabled.

    Both engines use it the same way: :meth:`track` every policy step with the measured body velocities,
    :meth:`finish` when an env's segment ends (``completed`` True at a resample, False at a fall or time-out
    reset), then :meth:`sample` for the envs' new commands.
    """

    def __init__(self, ranges, cfg: CurriculumConfig, rng: np.random.Generator, num_envs: int):
        from maa_go2.commands import keep_single_axis, sample_commands  # local: commands imports nothing from here

        self._sample_uniform, self._keep_single_axis = sample_commands, keep_single_axis
        self.ranges, self.cfg, self.rng = ranges, cfg, rng
        from maa_go2.commands import GAITS

        self.curriculum: CommandCurriculum | GaitwiseCurriculum | None = None
        if cfg.enabled:
            self.curriculum = (GaitwiseCurriculum(cfg, ranges.lin_vel_x, ranges.ang_vel_yaw, ranges.gaits)
                               if cfg.per_gait else CommandCurriculum(cfg, ranges.lin_vel_x, ranges.ang_vel_yaw))
        self.gaits = GaitCurriculum(cfg, ranges.gaits) if 0 < cfg.gaits_initial < len(ranges.gaits) else None
        self.gait_table = np.array([GAITS[g] for g in ranges.gaits], dtype=np.float64)  #: [G, 3] of commands.gaits
        self.err_sum = np.zeros((num_envs, 3))  #: per env: summed |v_xy error| [m/s], |yaw error| [rad/s], match
        self.steps = np.zeros(num_envs)
        self.env_steps = 0  #: env steps tracked so far (all envs; the step-frequency stage's clock, checkpointed)

    def sample(self, n: int) -> np.ndarray:
        """``[n, 15]`` commands (float64)."""
        out = self._sample_uniform(self.rng, n, self.ranges)
        per_gait = isinstance(self.curriculum, GaitwiseCurriculum)
        if self.gaits is not None and per_gait:  # the gait first: it picks the grid
            out[:, 5:8] = self.gaits.sample(self.rng, n)
        if self.curriculum is not None:
            vx_yaw = (self.curriculum.sample(self.rng, gait_index(out, self.gait_table)) if per_gait
                      else self.curriculum.sample(self.rng, n))
            out[:, 0], out[:, 2] = vx_yaw[:, 0], vx_yaw[:, 1]
            small = np.abs(out[:, 2]) < self.ranges.zero_below
            out[small, 2] = 0.0
        if self.gaits is not None and not per_gait:
            out[:, 5:8] = self.gaits.sample(self.rng, n)
        if self.frequency_staged():
            out[:, 4] = self.rng.uniform(*self.cfg.initial_gait_frequency, size=n)
        return self._keep_single_axis(self.rng, out, self.ranges.single_axis_fraction)

    def frequency_staged(self) -> bool:
        """True while commands use ``curriculum.initial_gait_frequency`` instead of the full range."""
        return bool(self.cfg.initial_gait_frequency) and self.env_steps < self.cfg.full_gait_frequency_after_env_steps

    def gaits_open(self) -> int:
        """How many of ``commands.gaits`` are trained now."""
        return self.gaits.open if self.gaits is not None else len(self.ranges.gaits)

    def track(self, commands, base_lin_vel, base_ang_vel, contact_match=None) -> None:
        """Accumulate this step's tracking errors and contact match; inputs ``[N,15]``, ``[N,3]``, ``[N,3]``,
        ``[N]`` (numpy or torch). Without a curriculum nothing reads them, so nothing is computed (no per-step host
        copy on the Isaac Gym path)."""
        self.env_steps += len(commands)
        if self.curriculum is None and self.gaits is None:
            return
        lin = ((commands[:, :2] - base_lin_vel[:, :2]) ** 2).sum(-1) ** 0.5
        yaw = abs(commands[:, 2] - base_ang_vel[:, 2])
        match = contact_match if contact_match is not None else yaw * 0.0
        if not isinstance(lin, np.ndarray):  # torch (Isaac Gym): one small host copy per step
            lin, yaw, match = (x.detach().float().cpu().numpy() for x in (lin, yaw, match))
        self.err_sum[:, 0] += lin
        self.err_sum[:, 1] += yaw
        self.err_sum[:, 2] += match
        self.steps += 1

    def finish(self, ids: np.ndarray, commands: np.ndarray, completed: bool, min_steps: int = 25) -> None:
        """End the segments of ``ids``; completed ones of at least ``min_steps`` steps update the curriculum.

        Args:
            ids: ``[M]`` env indices. commands: ``[M, 15]`` their commands during the segment (numpy).
        """
        ids = np.asarray(ids, dtype=np.int64)
        if (self.curriculum is not None or self.gaits is not None) and completed and ids.size:
            long_enough = self.steps[ids] >= min_steps
            if long_enough.any():
                sel = ids[long_enough]
                mean = self.err_sum[sel] / self.steps[sel, None]
                c = np.asarray(commands)[long_enough]
                if isinstance(self.curriculum, GaitwiseCurriculum):
                    self.curriculum.update(gait_index(c, self.gait_table), c[:, 0], c[:, 2], mean[:, 0], mean[:, 1],
                                           mean[:, 2])
                elif self.curriculum is not None:
                    self.curriculum.update(c[:, 0], c[:, 2], mean[:, 0], mean[:, 1], mean[:, 2])
                if self.gaits is not None:
                    self.gaits.update(c, mean[:, 2], self.env_steps)
        self.err_sum[ids] = 0.0
        self.steps[ids] = 0.0

    def restart_gait_wait(self) -> None:
        """Count ``gait_open_after_env_steps`` from now (a run that starts from another run's curriculum)."""
        if self.gaits is not None:
            self.gaits.opened_at = self.env_steps

    def state_dict(self) -> dict:
        out = self.curriculum.state_dict() if self.curriculum is not None else {}
        out = {**out, **(self.gaits.state_dict() if self.gaits is not None else {})}
        clocked = self.cfg.initial_gait_frequency or self.cfg.gait_open_after_env_steps
        return {**out, "env_steps": np.array(self.env_steps)} if clocked else out

    def load_state_dict(self, state: dict) -> None:
        if "env_steps" in state:
            self.env_steps = int(state["env_steps"])
        if self.curriculum is not None and state:
            self.curriculum.load_state_dict(state)
        if self.gaits is not None and state:
            self.gaits.load_state_dict(state)
            if "gait_opened_at" not in state:  # written before the record existed: the wait starts now
                self.gaits.opened_at = self.env_steps

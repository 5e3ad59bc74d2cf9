"""Memorization analysis: are generated policies replicas, interpolations of training checkpoints, or new?

After Zeng et al. 2025, "Generative modeling of weights: generalization or memorization?": a weight generator can
score well simply by reproducing (or averaging) the checkpoints it was trained on. This module measures, per
generated policy ``g`` (flat parameters ``[P]`` in a :class:`~maa_core.layout.PolicyLayout`):

* ``d(g)``: the parameter distance to its nearest training checkpoint ``c1`` *after aligning hidden-unit
  permutations* (:mod:`maa_generator.data.weight_alignment`: weight matching as in Ainsworth et al., "Git
  Re-Basin"), compared with the same nearest-neighbour distance between training checkpoints
  (``pairwise_bank_distances``); the ratio of medians is ``maa_nn_param_distance_ratio``;
* the behavior distance to ``c1`` (:func:`behavior_distance`: mean L2 between action sequences on the same states);
* the fair baselines at the same distance: ``c1`` plus Gaussian noise of norm ``d(g)`` (:func:`noise_matched`), and
  interpolations / averages of its nearest checkpoints (:func:`interpolate`, :func:`average_of_nearest`,
  :func:`interpolation_distance`, :func:`best_interpolation`);
* a label per policy, ``replica`` / ``interpolation`` / ``novel`` (:func:`classify`; rules in ``docs/memorization.md``).

:func:`analyze` runs everything and :func:`plot_memorization` draws the result. The unaligned analogue of the ratio
is the prompt-novelty score of :mod:`maa_generator.data.novelty` applied to raw parameters; :func:`analyze` reports
it as ``raw_ratio`` to show how much the permutation alignment matters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from maa_core.layout import PolicyLayout
from maa_generator.data.novelty import DEFAULT_BANK_ROWS, NoveltyReference
from maa_generator.data.weight_alignment import (
    align_to,
    aligned_distance,
    nearest_checkpoints,
    nn_param_distance_ratio,
    pairwise_bank_distances,
)

LABELS = ("replica", "interpolation", "novel")
#: default thresholds of :func:`classify` (see its docstring and docs/memorization.md)
REPLICA_QUANTILE = 0.25
INTERP_QUANTILE = 0.25
INTERP_MARGIN = 0.8
BEHAVIOR_TOL = 0.1



# --------------------------------------------------------------------------- baselines
def noise_matched(bank_flat: np.ndarray, target_distance, rng: np.random.Generator) -> np.ndarray:
    """Checkpoint(s) ``[P]`` or ``[N, P]`` plus isotropic Gaussian noise rescaled to L2 norm ``target_distance``
    (scalar or ``[N]``); returns float64 of the input's shape (so the distance is exact to round-off)."""
    base = np.asarray(bank_flat, np.float64)
    noise = rng.standard_normal(base.shape)
    norm = np.linalg.norm(noise, axis=-1, keepdims=True)
    target = np.asarray(target_distance, np.float64)
    if np.any(target < 0):
        raise ValueError(f"target distance must be >= 0, got {target_distance}")
    return base + noise / norm * (target[..., None] if target.ndim else target)


def interpolate(a: np.ndarray, b: np.ndarray, alpha: float, layout: PolicyLayout) -> np.ndarray:
    """``(1 - alpha) * a + alpha * align_to(a, b)`` ``[P]`` float32: linear interpolation after alignment."""
    a32 = layout.check_flat(a)
    return ((1.0 - alpha) * a32 + alpha * align_to(a32, b, layout)).astype(np.float32)


def average_of_nearest(bank, idx, layout: PolicyLayout) -> np.ndarray:
    """Mean ``[P]`` float32 of ``bank[idx]`` after aligning every checkpoint to ``bank[idx[0]]``."""
    idx = [int(i) for i in np.atleast_1d(idx)]
    ref = layout.check_flat(np.asarray(bank[idx[0]]))
    aligned = [ref] + [align_to(ref, np.asarray(bank[i]), layout) for i in idx[1:]]
    return np.mean(np.stack(aligned).astype(np.float64), 0).astype(np.float32)


def _project(g: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Distance from ``g`` to the segment ``[a, b]`` (all ``[P]`` float64) and the closest point's ``alpha``."""
    span = b - a
    denom = float(np.dot(span, span))
    alpha = 0.0 if denom == 0 else float(np.clip(np.dot(g - a, span) / denom, 0.0, 1.0))
    return float(np.linalg.norm(g - (a + alpha * span))), alpha


def interpolation_distance(g: np.ndarray, c1: np.ndarray, c2: np.ndarray,
                           layout: PolicyLayout) -> tuple[float, float]:
    """Distance from ``g`` ``[P]`` to the closest point of the segment between checkpoints ``c1`` and ``c2`` (each
    aligned to ``g``), and that point's ``alpha`` in [0, 1] (0: ``c1``, 1: ``c2``)."""
    g64 = layout.check_flat(g).astype(np.float64)
    return _project(g64, align_to(g64, c1, layout).astype(np.float64), align_to(g64, c2, layout).astype(np.float64))


def best_interpolation(g: np.ndarray, candidates: np.ndarray,
                       layout: PolicyLayout) -> tuple[float, tuple[int, int], float]:
    """The segment between two of ``candidates`` ``[m, P]`` (m >= 2, each aligned to ``g``) closest to ``g`` ``[P]``.

    Returns ``(distance, (i, j), alpha)`` with ``i < j`` rows of ``candidates`` and ``alpha`` the position on the
    segment (0: ``candidates[i]``, 1: ``candidates[j]``). With the nearest checkpoints as candidates this also finds
    an average of checkpoints from different runs, whose two nearest checkpoints are often from the same run.
    """
    g64 = layout.check_flat(g).astype(np.float64)
    aligned = [align_to(g64, c, layout).astype(np.float64) for c in np.asarray(candidates)]
    if len(aligned) < 2:
        raise ValueError(f"need at least 2 candidates, got {len(aligned)}")
    best = (np.inf, (0, 1), 0.0)
    for i in range(len(aligned)):
        for j in range(i + 1, len(aligned)):
            dist, alpha = _project(g64, aligned[i], aligned[j])
            if dist < best[0]:
                best = (dist, (i, j), alpha)
    return best


# --------------------------------------------------------------------------- behavior
def behavior_distance(traj_a: np.ndarray, traj_b: np.ndarray) -> float:
    """Mean over time steps (and any leading episode dims) of the L2 norm of the difference of two trajectories
    ``[..., T, D]`` of the same shape, e.g. the action sequences of two policies from the same initial states
    (closed loop) or their actions on the same recorded states (open loop, :func:`policy_behavior_distance`)."""
    a, b = np.asarray(traj_a, np.float64), np.asarray(traj_b, np.float64)
    if a.shape != b.shape or a.ndim < 2:
        raise ValueError(f"trajectories must have the same shape [..., T, D], got {list(a.shape)} and {list(b.shape)}")
    return float(np.mean(np.linalg.norm(a - b, axis=-1)))


def policy_behavior_distance(layout: PolicyLayout, a: np.ndarray, b: np.ndarray, obs: np.ndarray) -> float:
    """Open-loop behavior distance: :func:`behavior_distance` between the deterministic actions of flat policies
    ``a`` and ``b`` ``[P]`` on the same observations ``obs`` ``[N, obs_dim]`` (e.g. states the checkpoint visited)."""
    return behavior_distance(layout.forward_numpy(a, obs), layout.forward_numpy(b, obs))


# --------------------------------------------------------------------------- classification
def classify(param_dist: np.ndarray, bank_nn: np.ndarray, interp_dist: np.ndarray,
             behavior: np.ndarray | None = None, replica_quantile: float = REPLICA_QUANTILE,
             interp_quantile: float = INTERP_QUANTILE, interp_margin: float = INTERP_MARGIN,
             behavior_tol: float = BEHAVIOR_TOL) -> np.ndarray:
    """Label each generated policy ``replica`` / ``interpolation`` / ``novel`` -> ``[G]`` str.

    Args:
        param_dist: ``[G]`` aligned distance to the nearest training checkpoint.
        bank_nn: ``[S]`` the bank's own aligned nearest-neighbour distances (:func:`pairwise_bank_distances`).
        interp_dist: ``[G]`` distance to the closest segment between two of the nearest checkpoints
            (:func:`best_interpolation`; :func:`interpolation_distance` for just the two nearest).
        behavior: ``[G]`` behavior distance to the nearest checkpoint, or None to judge on parameters only.
        replica_quantile: ``tau_r = quantile(bank_nn, replica_quantile)``.
        interp_quantile: ``tau_i = quantile(bank_nn, interp_quantile)``.
        interp_margin: the segment must be this much closer than the nearest checkpoint.
        behavior_tol: largest behavior distance of a replica (mean L2 between actions in [-1, 1]^a).
    Rules (first match wins):
        ``replica``: ``param_dist <= tau_r`` and (no behavior or ``behavior <= behavior_tol``): as close to a
        checkpoint as the closest quarter of training checkpoints are to each other, and acting like it;
        ``interpolation``: ``interp_dist <= tau_i`` and ``interp_dist <= interp_margin * param_dist``: near a
        segment between two of its nearest checkpoints, and clearly nearer to it than to either end;
        ``novel``: everything else.
    """
    param_dist, interp_dist = np.asarray(param_dist, np.float64), np.asarray(interp_dist, np.float64)
    tau_r = float(np.quantile(bank_nn, replica_quantile))
    tau_i = float(np.quantile(bank_nn, interp_quantile))
    replica = param_dist <= tau_r
    if behavior is not None:
        replica &= np.asarray(behavior, np.float64) <= behavior_tol
    interp = ~replica & (interp_dist <= tau_i) & (interp_dist <= interp_margin * param_dist)
    return np.where(replica, "replica", np.where(interp, "interpolation", "novel"))


# --------------------------------------------------------------------------- full analysis
ObsSource = np.ndarray | Callable[[int], np.ndarray] | None


def _obs_for(obs: ObsSource, index: int) -> np.ndarray | None:
    """Observations ``[N, o]`` for bank checkpoint ``index``: shared ``[N, o]``, per-checkpoint ``[K, N, o]`` or
    a callable ``index -> [N, o]``."""
    if obs is None:
        return None
    if callable(obs):
        return np.asarray(obs(index))
    arr = np.asarray(obs) if not hasattr(obs, "ndim") else obs
    return np.asarray(arr[index]) if arr.ndim == 3 else np.asarray(arr)


@dataclass
class MemorizationReport:
    """Per generated policy (``[G]``) results of :func:`analyze` plus the bank reference ``bank_nn`` ``[S]``."""

    nearest: np.ndarray  # [G, m] bank indices of the m nearest checkpoints (aligned distance), nearest first
    param_dist: np.ndarray  # [G] aligned distance to nearest[:, 0]
    raw_dist: np.ndarray  # [G] raw (unaligned) distance to nearest[:, 0]
    interp_dist: np.ndarray  # [G] distance to the closest segment between two of the m nearest checkpoints
    interp_pair: np.ndarray  # [G, 2] bank indices of that segment's ends
    interp_alpha: np.ndarray  # [G] position on that segment (0: interp_pair[:, 0], 1: interp_pair[:, 1])
    bank_nn: np.ndarray  # [S] bank -> nearest other bank checkpoint (aligned)
    labels: np.ndarray  # [G] replica / interpolation / novel
    ratio: float  # maa_nn_param_distance_ratio (aligned)
    raw_ratio: float  # median raw novelty of the parameters (NoveltyReference on raw params, no alignment)
    noise_param_dist: np.ndarray  # [G] aligned distance of the noise-matched baseline to its checkpoint
    average_param_dist: np.ndarray  # [G] aligned distance of the two-nearest average to nearest[:, 0]
    behavior: np.ndarray | None = None  # [G] behavior distance to nearest[:, 0]
    noise_behavior: np.ndarray | None = None  # [G] behavior distance of the noise-matched baseline
    average_behavior: np.ndarray | None = None  # [G] behavior distance of the two-nearest average
    thresholds: dict = field(default_factory=dict)

    def summary(self) -> dict:
        """JSON-friendly summary: label counts and fractions, ratios, medians, thresholds."""
        g = len(self.labels)
        out = {"num_generated": g, "num_bank_sampled": len(self.bank_nn),
               "maa_nn_param_distance_ratio": self.ratio, "raw_nn_param_distance_ratio": self.raw_ratio,
               "median_param_dist": float(np.median(self.param_dist)),
               "median_bank_nn": float(np.median(self.bank_nn)), "thresholds": dict(self.thresholds)}
        for label in LABELS:
            n = int(np.sum(self.labels == label))
            out[f"num_{label}"], out[f"frac_{label}"] = n, n / max(g, 1)
        for key in ("behavior", "noise_behavior", "average_behavior"):
            value = getattr(self, key)
            out[f"median_{key}"] = None if value is None else float(np.median(value))
        return out


def _interpolations(generated: np.ndarray, bank, layout: PolicyLayout, nearest: np.ndarray) -> dict[str, np.ndarray]:
    """:func:`best_interpolation` of each generated policy among its ``nearest`` ``[G, m]`` bank checkpoints."""
    out = {"interp_dist": np.zeros(len(generated)), "interp_alpha": np.zeros(len(generated)),
           "interp_pair": np.zeros((len(generated), 2), int)}
    for g, row in enumerate(nearest):
        dist, (i, j), alpha = best_interpolation(generated[g], np.stack([np.asarray(bank[int(c)]) for c in row]),
                                                 layout)
        out["interp_dist"][g], out["interp_alpha"][g], out["interp_pair"][g] = dist, alpha, (row[i], row[j])
    return out


def _baselines(generated, bank, layout, nearest, param_dist, obs, rng) -> dict[str, np.ndarray | None]:
    """Noise-matched and two-nearest-average baselines and behavior distances to the nearest checkpoint (``[G]``)."""
    g_count = len(generated)
    out = {k: np.zeros(g_count) for k in ("noise_param_dist", "average_param_dist")}
    behave = {k: np.zeros(g_count) for k in ("behavior", "noise_behavior", "average_behavior")}
    for g in range(g_count):
        c1 = layout.check_flat(np.asarray(bank[int(nearest[g, 0])]))
        noisy = layout.check_flat(noise_matched(c1, param_dist[g], rng).astype(np.float32))
        average = average_of_nearest(bank, nearest[g, :2], layout)
        out["noise_param_dist"][g] = aligned_distance(c1, noisy, layout)
        out["average_param_dist"][g] = aligned_distance(c1, average, layout)
        states = _obs_for(obs, int(nearest[g, 0]))
        if states is not None:
            for key, policy in (("behavior", generated[g]), ("noise_behavior", noisy), ("average_behavior", average)):
                behave[key][g] = policy_behavior_distance(layout, policy, c1, states)
    out.update({k: (v if obs is not None else None) for k, v in behave.items()})
    return out


def _raw_ratio(generated: np.ndarray, bank, seed: int) -> float:
    """Median novelty (nearest raw distance / median raw bank NN distance) via :class:`NoveltyReference`."""
    rows = np.arange(len(bank))
    if len(bank) > DEFAULT_BANK_ROWS:  # gather only the rows the reference keeps
        rows = np.sort(np.random.default_rng(seed).choice(len(bank), DEFAULT_BANK_ROWS, replace=False))
    ref = NoveltyReference.fit(torch.from_numpy(np.asarray(bank[rows], np.float32)), seed=seed)
    return float(ref.score(torch.from_numpy(generated)).median())


def analyze(generated: np.ndarray, bank, layout: PolicyLayout, obs: ObsSource = None, sample: int | None = 256,
            prefilter: int | None = 32, generated_prefilter: int | None = None, interp_candidates: int = 16,
            seed: int = 0, **thresholds) -> MemorizationReport:
    """Run the whole memorization analysis.

    Args:
        generated: ``[G, P]`` generated flat policies.
        bank: ``[K, P]`` training checkpoints (K >= 3).
        obs: states for behavior distances (None: parameters only): ``[N, obs_dim]`` shared, ``[K, N, obs_dim]``
            per bank checkpoint (e.g. its recorded ``traj_obs``), or a callable ``bank index -> [N, obs_dim]``.
        sample, prefilter, seed: the bank's nearest-neighbour distribution (:func:`pairwise_bank_distances`);
            a checkpoint's nearest neighbour is almost always from its own run, which the raw prefilter finds.
        generated_prefilter: ``prefilter`` of :func:`nearest_checkpoints` for the generated policies; the default
            ``None`` aligns every generated policy with the whole bank (``G * K`` alignments, a few ms each at
            128 units with one BLAS thread), because an average of checkpoints from different runs is far from
            both in raw distance and would be missed by a prefilter.
        interp_candidates: ``m``: interpolations are sought between pairs of the ``m`` nearest checkpoints
            (``m = 2``: only between the two nearest). Raise it when runs hold many checkpoints: all ``m`` can
            then come from one run and miss the other end of a cross-run average.
        thresholds: keyword arguments of :func:`classify`.
    """
    generated = layout.check_flat(np.atleast_2d(generated), batched=True)
    if len(bank) < 3:
        raise ValueError(f"need at least 3 bank checkpoints, got {len(bank)}")
    m = min(max(int(interp_candidates), 2), len(bank))
    nearest, dist = nearest_checkpoints(generated, bank, layout, k=m, prefilter=generated_prefilter)
    bank_nn = pairwise_bank_distances(bank, layout, sample=sample, prefilter=prefilter, seed=seed)
    base = _baselines(generated, bank, layout, nearest, dist[:, 0], obs, np.random.default_rng(seed))
    base.update(_interpolations(generated, bank, layout, nearest))
    labels = classify(dist[:, 0], bank_nn, base["interp_dist"], base["behavior"], **thresholds)
    raw = np.array([np.linalg.norm(generated[g].astype(np.float64) - np.asarray(bank[int(nearest[g, 0])]))
                    for g in range(len(generated))])
    used = {"replica_quantile": REPLICA_QUANTILE, "interp_quantile": INTERP_QUANTILE,
            "interp_margin": INTERP_MARGIN, "behavior_tol": BEHAVIOR_TOL, **thresholds}
    used["tau_replica"] = float(np.quantile(bank_nn, used["replica_quantile"]))
    used["tau_interp"] = float(np.quantile(bank_nn, used["interp_quantile"]))
    return MemorizationReport(nearest=nearest, param_dist=dist[:, 0], raw_dist=raw, bank_nn=bank_nn, labels=labels,
                              ratio=nn_param_distance_ratio(dist[:, 0], bank_nn),
                              raw_ratio=_raw_ratio(generated, bank, seed), thresholds=used, **base)


# --------------------------------------------------------------------------- plot
COLORS = {"replica": "tab:red", "interpolation": "tab:orange", "novel": "tab:green"}


def _plot_histograms(ax, report: MemorizationReport) -> None:
    """Panel 1: generated -> nearest vs bank -> nearest (aligned) distance histograms, with ``tau_replica``."""
    values = np.concatenate([report.bank_nn, report.param_dist, report.noise_param_dist])
    bins = np.linspace(0.0, float(values.max()) * 1.05 + 1e-12, 30)
    ax.hist(report.bank_nn, bins=bins, alpha=0.5, label="training -> nearest other training", color="tab:blue")
    ax.hist(report.param_dist, bins=bins, alpha=0.5, label="generated -> nearest training", color="tab:purple")
    ax.hist(report.average_param_dist, bins=bins, histtype="step", label="avg of 2 nearest -> nearest", color="k")
    ax.axvline(report.thresholds.get("tau_replica", np.nan), ls="--", color="tab:red", label="replica threshold")
    ax.set(xlabel="aligned parameter distance", ylabel="count",
           title=f"NN distances (ratio {report.ratio:.2f}, unaligned {report.raw_ratio:.2f})")
    ax.legend(fontsize=7)


def _plot_behavior(ax, report: MemorizationReport) -> None:
    """Panel 2: parameter vs behavior distance for generated policies (by label) and both baselines."""
    if report.behavior is None:
        ax.text(0.5, 0.5, "no observations given:\nbehavior not measured", ha="center", va="center")
        ax.set_axis_off()
        return
    for label in LABELS:
        mask = report.labels == label
        ax.scatter(report.param_dist[mask], report.behavior[mask], s=14, color=COLORS[label], label=label)
    ax.scatter(report.noise_param_dist, report.noise_behavior, s=14, marker="x", color="gray",
               label="noise-matched checkpoint")
    ax.scatter(report.average_param_dist, report.average_behavior, s=14, marker="^", color="k",
               label="avg of 2 nearest")
    ax.axhline(report.thresholds.get("behavior_tol", np.nan), ls=":", color="tab:red")
    ax.axvline(report.thresholds.get("tau_replica", np.nan), ls="--", color="tab:red")
    ax.set(xlabel="aligned distance to nearest checkpoint", ylabel="behavior distance to it",
           title="parameter vs behavior distance")
    ax.legend(fontsize=7)


def _plot_interpolation(ax, report: MemorizationReport) -> None:
    """Panel 3: distance to the nearest checkpoint vs to the segment of the two nearest, with the rule's lines."""
    for label in LABELS:
        mask = report.labels == label
        ax.scatter(report.param_dist[mask], report.interp_dist[mask], s=14, color=COLORS[label], label=label)
    top = float(max(report.param_dist.max(), report.interp_dist.max(), 1e-12)) * 1.05
    margin = report.thresholds.get("interp_margin", INTERP_MARGIN)
    ax.plot([0, top], [0, top], color="gray", lw=0.8, label="equal")
    ax.plot([0, top], [0, margin * top], color="tab:orange", ls="--", lw=0.8, label=f"{margin} x")
    ax.axhline(report.thresholds.get("tau_interp", np.nan), ls=":", color="tab:orange")
    ax.set(xlabel="aligned distance to nearest checkpoint", ylabel="distance to closest segment of 2 near checkpoints",
           title="interpolation test")
    ax.legend(fontsize=7)


def plot_memorization(report: MemorizationReport, path: str | Path) -> Path:
    """Write a three-panel PNG (histograms, parameter vs behavior, interpolation test) and return its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6))
    _plot_histograms(axes[0], report)
    _plot_behavior(axes[1], report)
    _plot_interpolation(axes[2], report)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

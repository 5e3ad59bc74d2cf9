"""Memorization analysis: are generated policies replicas, interpolations of training checkpoints, or new?

After Zeng et al. 2025, "Generative modeling of weights: generalization or memorization?": a weight generator can
score well simply by reproducing (or averaging) the checkpoints it was trained on. This module measures, per
generated policy ``g`` (flat parameters ``[P]`` in a :class:`~maa_core.layout.PolicyLayout`):

* ``d(g)``: the parameter distance to its nearest training checkpoint ``c1`` *after aligning hidden-unit
  permutations* (:func:`align_to`, weight matching as in Ainsworth et al., "Git Re-Basin"), compared with the same
  nearest-neighbour distance between training checkpoints (:func:`pairwise_bank_distances`); the ratio of medians
  is ``maa_nn_param_distance_ratio`` (:func:`nn_param_distance_ratio`);
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
from scipy.optimize import linear_sum_assignment

from maa_core.layout import PolicyLayout
from maa_generator.data.novelty import DEFAULT_BANK_ROWS, NoveltyReference

LABELS = ("replica", "interpolation", "novel")
METRICS = ("l2", "cosine")
#: default thresholds of :func:`classify` (see its docstring and docs/memorization.md)
REPLICA_QUANTILE = 0.25
INTERP_QUANTILE = 0.25
INTERP_MARGIN = 0.8
BEHAVIOR_TOL = 0.1

Layers = list[tuple[np.ndarray, np.ndarray]]


# --------------------------------------------------------------------------- permutation alignment
def _layers(flat: np.ndarray, layout: PolicyLayout) -> Layers:
    """Flat ``[P]`` -> ``[(W [out, in], b [out]) per linear layer]`` as float64 copies."""
    p = layout.unflatten(flat)
    return [(p[f"layers.{i}.weight"].astype(np.float64), p[f"layers.{i}.bias"].astype(np.float64))
            for i in range(layout.num_layers)]


def _flat(layers: Layers) -> np.ndarray:
    """Inverse of :func:`_layers`: ``[P]`` float64."""
    return np.concatenate([part.reshape(-1) for w, b in layers for part in (w, b)])


def _permute(layers: Layers, perms: list[np.ndarray]) -> Layers:
    """Reorder hidden units: new unit ``j`` of hidden layer ``l`` is old unit ``perms[l][j]`` (same function)."""
    out = []
    for i, (w, b) in enumerate(layers):
        rows = perms[i] if i < len(perms) else np.arange(w.shape[0])
        cols = perms[i - 1] if i > 0 else np.arange(w.shape[1])
        out.append((w[rows][:, cols], b[rows]))
    return out


def _incoming_similarity(ref: Layers, oth: Layers, perms: list[np.ndarray], layer: int) -> np.ndarray:
    """``[n_ref, n_oth]`` inner products of the incoming weights + bias of a hidden layer (inputs permuted)."""
    (wr, br), (wo, bo) = ref[layer], oth[layer]
    cols = perms[layer - 1] if layer > 0 else np.arange(wo.shape[1])
    return wr @ wo[:, cols].T + np.outer(br, bo)


def _similarity(ref: Layers, oth: Layers, perms: list[np.ndarray], layer: int) -> np.ndarray:
    """``[n_ref, n_oth]``: incoming similarity plus the inner products of the outgoing weights (next layer)."""
    wr2, wo2 = ref[layer + 1][0], oth[layer + 1][0]
    rows = perms[layer + 1] if layer + 1 < len(perms) else np.arange(wo2.shape[0])
    return _incoming_similarity(ref, oth, perms, layer) + wr2.T @ wo2[rows]


def _objective(ref: Layers, oth: Layers, perms: list[np.ndarray]) -> float:
    """Sum of inner products between ``ref`` and permuted ``oth`` (maximizing it minimizes the L2 distance)."""
    return float(sum(np.sum(wr * wp) + np.dot(br, bp) for (wr, br), (wp, bp) in zip(ref, _permute(oth, perms))))


def _greedy_perms(ref: Layers, oth: Layers) -> list[np.ndarray]:
    """Input-to-output pass matching each hidden layer on incoming weights + bias only (exact for permuted copies)."""
    perms: list[np.ndarray] = []
    for layer in range(len(ref) - 1):
        perms.append(linear_sum_assignment(_incoming_similarity(ref, oth, perms, layer), maximize=True)[1])
    return perms


def _refine(ref: Layers, oth: Layers, perms: list[np.ndarray], max_iter: int) -> list[np.ndarray]:
    """Coordinate ascent over hidden layers (Git Re-Basin weight matching); each accepted step raises the objective."""
    order = np.random.default_rng(0)
    for _ in range(max_iter):
        changed = False
        for layer in order.permutation(len(perms)):
            sim = _similarity(ref, oth, perms, layer)
            new = linear_sum_assignment(sim, maximize=True)[1]
            rows = np.arange(len(new))
            gain = sim[rows, new].sum() - sim[rows, perms[layer]].sum()
            if gain > 1e-10 * (1.0 + abs(sim[rows, new].sum())):
                perms[layer], changed = new, True
        if not changed:
            break
    return perms


def alignment_permutations(reference_flat: np.ndarray, other_flat: np.ndarray, layout: PolicyLayout,
                           max_iter: int = 50) -> list[np.ndarray]:
    """Hidden-unit permutations (one index array ``[hidden[l]]`` per hidden layer) that align ``other`` to
    ``reference``: the better of identity and a greedy incoming-weight matching, refined by weight matching."""
    ref, oth = _layers(reference_flat, layout), _layers(other_flat, layout)
    identity = [np.arange(h) for h in layout.hidden]
    greedy = _greedy_perms(ref, oth)
    start = greedy if _objective(ref, oth, greedy) > _objective(ref, oth, identity) else identity
    return _refine(ref, oth, [p.copy() for p in start], max_iter)


def permute_flat(flat: np.ndarray, perms: list[np.ndarray], layout: PolicyLayout) -> np.ndarray:
    """Apply hidden-unit permutations to a flat ``[P]`` vector -> ``[P]`` float32 computing the same function."""
    p = layout.unflatten(flat)
    layers = [(p[f"layers.{i}.weight"], p[f"layers.{i}.bias"]) for i in range(layout.num_layers)]
    return _flat(_permute(layers, perms)).astype(np.float32)


def align_to(reference_flat: np.ndarray, other_flat: np.ndarray, layout: PolicyLayout,
             max_iter: int = 50) -> np.ndarray:
    """Permute the hidden units of ``other`` ``[P]`` to best match ``reference`` ``[P]``; returns ``[P]`` float32.

    The aligned network computes exactly the same function as ``other`` (activations are element-wise) and its
    L2 distance to ``reference`` is never larger than before alignment.
    """
    other = layout.check_flat(other_flat)
    aligned = permute_flat(other, alignment_permutations(reference_flat, other, layout, max_iter), layout)
    ref = layout.check_flat(reference_flat).astype(np.float64)
    if np.linalg.norm(ref - aligned) > np.linalg.norm(ref - other):  # guard against float round-off only
        return other.copy()
    return aligned


def _distance(a: np.ndarray, b: np.ndarray, metric: str) -> float:
    """Distance between two ``[P]`` vectors: ``l2`` (Euclidean) or ``cosine`` (1 - cosine similarity)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if metric == "l2":
        return float(np.linalg.norm(a - b))
    if metric == "cosine":
        return float(1.0 - np.dot(a, b) / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-30))
    raise ValueError(f"unknown metric {metric!r}; expected one of {METRICS}")


def aligned_distance(a: np.ndarray, b: np.ndarray, layout: PolicyLayout, metric: str = "l2") -> float:
    """Distance between flat ``a`` ``[P]`` and ``b`` ``[P]`` after aligning ``b``'s hidden units to ``a``."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; expected one of {METRICS}")
    return _distance(a, align_to(a, b, layout), metric)


# --------------------------------------------------------------------------- nearest checkpoints
def raw_distances(a: np.ndarray, b: np.ndarray, chunk: int = 256) -> np.ndarray:
    """Euclidean distances ``[G, K]`` between rows of ``a`` ``[G, P]`` and ``b`` ``[K, P]`` (no alignment)."""
    a = np.asarray(a, np.float64)
    out = np.empty((a.shape[0], len(b)))
    a2 = np.sum(a * a, 1)[:, None]
    for s in range(0, len(b), chunk):
        blk = np.asarray(b[s:s + chunk], np.float64)
        out[:, s:s + len(blk)] = a2 + np.sum(blk * blk, 1)[None] - 2.0 * a @ blk.T
    return np.sqrt(np.maximum(out, 0.0))


def invariant_signature(flat: np.ndarray, layout: PolicyLayout) -> np.ndarray:
    """Permutation-invariant summary of networks ``[..., P]`` -> ``[..., S]``: the norm of every unit's incoming
    weights + bias, sorted within each hidden layer (output units keep their order).

    The Euclidean distance between two signatures is a lower bound on the L2 distance between the networks under
    *any* hidden-unit permutation (per row ``|‖x‖ - ‖y‖| <= ‖x - y‖``; sorted norms are the best matching of norms),
    so it finds permuted copies that the raw distance misses and lets :func:`nearest_checkpoints` skip candidates.
    """
    flat = np.asarray(flat, np.float64)
    parts, start = [], 0
    for i, (o, n) in enumerate(layout.layer_shapes()):
        w = flat[..., start:start + o * n].reshape(*flat.shape[:-1], o, n)
        b = flat[..., start + o * n:start + o * n + o]
        norms = np.sqrt(np.sum(w * w, -1) + b * b)
        parts.append(np.sort(norms, -1) if i < layout.num_layers - 1 else norms)
        start += o * n + o
    return np.concatenate(parts, -1)


def _search_order(raw: np.ndarray, lower: np.ndarray, prefilter: int | None, exclude: int) -> np.ndarray:
    """Bank indices ``[C]`` to try for one policy: the raw-nearest first (a good early bound), then by ascending
    lower bound; with ``prefilter`` only the ``prefilter`` nearest by raw distance or by lower bound."""
    raw, lower = raw.copy(), lower.copy()
    if exclude >= 0:
        raw[exclude] = lower[exclude] = np.inf
    by_lower = np.argsort(lower, kind="stable")
    if prefilter is not None:
        keep = np.concatenate([np.argsort(raw, kind="stable")[:prefilter], by_lower[:prefilter]])
        by_lower = by_lower[np.isin(by_lower, keep)]
    first = int(np.argmin(raw))
    order = np.concatenate([[first], by_lower[by_lower != first]])
    return order[order != exclude]


def _nearest_one(g_flat: np.ndarray, bank, layout: PolicyLayout, order: np.ndarray, lower: np.ndarray, k: int,
                 metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Branch and bound over ``order``: stop once the lower bound (L2 only) reaches the current ``k``-th best."""
    found: list[tuple[float, int]] = []
    for pos, c in enumerate(order):
        if metric == "l2" and len(found) >= k and pos > 0 and lower[c] >= found[k - 1][0]:
            break
        found.append((aligned_distance(g_flat, np.asarray(bank[int(c)]), layout, metric), int(c)))
        found.sort()
    return np.array([c for _, c in found[:k]]), np.array([d for d, _ in found[:k]])


def nearest_checkpoints(generated: np.ndarray, bank, layout: PolicyLayout, k: int = 1, prefilter: int | None = 32,
                        metric: str = "l2", exclude: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest bank checkpoints of each generated policy, by aligned distance.

    Candidates are aligned in order of the permutation-invariant lower bound (:func:`invariant_signature`), after
    the raw-nearest one, and the search stops as soon as the bound exceeds the ``k``-th best aligned distance found,
    so with ``prefilter=None`` the result equals aligning against the whole bank (for ``metric="l2"``).

    Args:
        generated: ``[G, P]`` flat policies.
        bank: ``[K, P]`` training checkpoints (array or :class:`~maa_generator.data.zoo.ConcatView`).
        k: neighbours to return (``k <= K``).
        prefilter: consider only the ``prefilter`` nearest candidates by raw Euclidean distance plus the
            ``prefilter`` nearest by the lower bound; ``None``: the whole bank.
        metric: see :func:`aligned_distance` (``cosine`` disables the early stop).
        exclude: ``[G]`` bank index to skip per row (``-1``: none), e.g. the row itself for bank-to-bank distances.
    Returns:
        ``(indices [G, k] int, distances [G, k] float64)`` sorted by distance.
    """
    generated = layout.check_flat(np.atleast_2d(generated), batched=True)
    exclude = np.full(len(generated), -1) if exclude is None else np.asarray(exclude, int)
    if not 1 <= k <= len(bank) - (exclude >= 0).any():
        raise ValueError(f"need 1 <= k <= {len(bank)} bank checkpoints, got k={k}")
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; expected one of {METRICS}")
    prefilter = None if prefilter is None else max(int(prefilter), k)
    raw = raw_distances(generated, bank)
    bank_sig = np.concatenate([invariant_signature(bank[s:s + 256], layout) for s in range(0, len(bank), 256)])
    lower = raw_distances(invariant_signature(generated, layout), bank_sig)
    idx, dist = np.zeros((len(generated), k), int), np.zeros((len(generated), k))
    for g in range(len(generated)):
        order = _search_order(raw[g], lower[g], prefilter, int(exclude[g]))
        idx[g], dist[g] = _nearest_one(generated[g], bank, layout, order, lower[g], k, metric)
    return idx, dist


def pairwise_bank_distances(bank, layout: PolicyLayout, sample: int | None = 256, prefilter: int | None = 32,
                            seed: int = 0, metric: str = "l2") -> np.ndarray:
    """Aligned distance from each of ``sample`` random bank checkpoints to its nearest *other* checkpoint ``[S]``
    (all ``K`` rows when ``sample`` is None or >= K): the bank's own nearest-neighbour distance distribution."""
    k_bank = len(bank)
    if k_bank < 2:
        raise ValueError(f"need at least 2 bank checkpoints, got {k_bank}")
    rows = np.arange(k_bank)
    if sample is not None and sample < k_bank:
        rows = np.sort(np.random.default_rng(seed).choice(k_bank, sample, replace=False))
    chosen = np.stack([np.asarray(bank[int(r)]) for r in rows])
    return nearest_checkpoints(chosen, bank, layout, 1, prefilter, metric, exclude=rows)[1][:, 0]


def nn_param_distance_ratio(generated_nn: np.ndarray, bank_nn: np.ndarray) -> float:
    """``maa_nn_param_distance_ratio`` = median(generated -> nearest training) / median(training -> nearest other
    training); zero bank distances (duplicated checkpoints) are ignored as in :mod:`maa_generator.data.novelty`."""
    bank_nn = np.asarray(bank_nn, np.float64)
    positive = bank_nn[bank_nn > 0]
    if positive.size == 0:
        raise ValueError("bank nearest-neighbour distances are all zero (duplicated checkpoints only)")
    return float(np.median(generated_nn) / np.median(positive))


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

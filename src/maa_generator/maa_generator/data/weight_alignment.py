"""Hidden-unit permutation alignment of MLP policies and the nearest training checkpoint after alignment.

Two MLPs that differ only by a permutation of their hidden units compute the same function, yet their flat
parameter vectors are far apart. :func:`align_to` permutes one network's hidden units to best match another
(weight matching as in Ainsworth et al., "Git Re-Basin", with Hungarian assignment), without changing the function
it computes; :func:`aligned_distance` and :func:`nearest_checkpoints` measure distances after that alignment, and
:func:`pairwise_bank_distances` gives the training checkpoints' own nearest-neighbour distances. Used by
:mod:`maa_generator.data.memorization`.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from maa_core.layout import PolicyLayout

METRICS = ("l2", "cosine")

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

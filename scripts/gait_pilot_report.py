#!/usr/bin/env python
"""Gait pilots of the eighth agility run (issue 12): does pace learn alone, and do trot and pace separate together?

    python scripts/gait_pilot_report.py   # after the two pilots in config/go2_gait_pilot_*.yaml have trained

Reads the training contact match of ``runs/go2_gait_pilot_pace`` (pace alone), ``runs/go2_gait_pilot_trot_pace``
(trot and pace from the first iteration) and the sixth run's trot-only stage (``runs/go2_agility_v6``, before pronk
opened), and writes ``results/go2/gait_pilots.{json,md,png}``. Per-gait figures are the gait curriculum's moving
average (``train/gait_match_<gait>`` in TensorBoard, EMA 0.02 over each iteration's finished command segments);
the curriculum folds in finished segments as they end, so it trails by only a few iterations. The pace-only run has
no gait curriculum (one gait): its figure is the curve's per-iteration match, averaged over the last 10 iterations.
"""
from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results/go2/gait_pilots"
EMA = 0.02
MARKS = (100, 200, 300)


def curve(run: str) -> list[dict]:
    return [json.loads(line) for line in (ROOT / run / "curve.jsonl").read_text().splitlines() if line.strip()]


def tb_series(run: str, tag: str) -> dict[int, float]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(ROOT / run / "tb"), size_guidance={"scalars": 0})
    acc.Reload()
    return {e.step: e.value for e in acc.Scalars(tag)}


def rolling_curve(rows: list[dict], window: int = 10) -> dict[int, float]:
    vals = [r["contact_match"] for r in rows]
    return {r["iteration"]: sum(vals[max(0, i - window + 1):i + 1]) / len(vals[max(0, i - window + 1):i + 1])
            for i, r in enumerate(rows)}


def main() -> None:
    series = {
        "pace alone: pace": rolling_curve(curve("runs/go2_gait_pilot_pace")),
        "trot + pace together: trot": tb_series("runs/go2_gait_pilot_trot_pace", "train/gait_match_trot"),
        "trot + pace together: pace": tb_series("runs/go2_gait_pilot_trot_pace", "train/gait_match_pace"),
        "sixth run, trot alone: trot": {k: v for k, v in tb_series("runs/go2_agility_v6", "train/gait_match_trot")
                                        .items() if k <= max(MARKS)},
    }
    table = {name: {str(m): round(s[min(s, key=lambda k: abs(k - m))], 3) for m in MARKS} for name, s in series.items()}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "gait_pilots.json").write_text(json.dumps({"ema": EMA, "iterations": MARKS, "match": table}, indent=1))
    how = (f"`python scripts/gait_pilot_report.py`; smoothed training contact match (gait curriculum EMA {EMA}; "
           f"pace alone: 10-iteration mean) at iterations {', '.join(map(str, MARKS))}.")
    lines = ["# Gait pilots (eighth agility run)", "", how, "",
             "| run: gait | " + " | ".join(map(str, MARKS)) + " |", "|---|" + "---|" * len(MARKS)]
    lines += [f"| {name} | " + " | ".join(f"{v:.3f}" for v in row.values()) + " |" for name, row in table.items()]
    (OUT / "gait_pilots.md").write_text("\n".join(lines) + "\n")
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, s in series.items():
        ax.plot(list(s), list(s.values()), label=name)
    ax.set(xlabel="iteration (12,288 env steps each)", ylabel="training contact match (smoothed)", ylim=(0.4, 0.85))
    ax.axhline(0.75, color="grey", lw=0.8, ls="--")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(OUT / "gait_pilots.png", dpi=120)
    print("\n".join(lines))


if __name__ == "__main__":
    main()

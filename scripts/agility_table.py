#!/usr/bin/env python
"""One markdown table comparing agility reports (``training/evaluate_go2_agility.py`` JSON files), with the 95 %
interval of every rate, so docs quote the reports instead of copying figures by hand.

    python scripts/agility_table.py "eighth run=results/go2/agility_v8_6000.json" \\
        "sixth run=results/go2/agility_v6_6000.json" [--out table.md]

Each argument is ``label=path``. Rates show ``value (lo-hi)``: the Wilson interval over the robots or episodes the
report counted (:data:`maa_go2.agility.RATE_SAMPLES`; reports before 2026-12-03 carry the counts too).
"""
from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
from pathlib import Path

from maa_core.atomic_io import atomic_write_text
from maa_core.stats import rate_interval
from maa_go2.agility import RATE_SAMPLES

HEADER = ("| actor | robots | vx / vy / yaw error (worst yaw) | survival | push recovery | contact match trot / pace / "
          "pronk / bound | turn in place | fast backward | open loop: turn / backward | slalom | model error, all at "
          "once | model error, lowest case | episodes / robots |")


def load_report(spec: str) -> tuple[str, dict]:
    """``label=path`` -> ``(label, report)``; says what is wrong with a malformed spec or file."""
    label, sep, path = spec.partition("=")
    if not sep or not label or not path:
        raise SystemExit(f"agility_table: expected label=path/to/report.json, got {spec!r}")
    try:
        report = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise SystemExit(f"agility_table: cannot read the report {path}: {e}") from None
    missing = [k for k in ("vx_error", "survival_rate", "num_envs", "episodes", "mismatch") if k not in report]
    if missing:
        raise SystemExit(f"agility_table: {path} is not an agility report (no {', '.join(missing)})")
    return label, report


def rate(value, n: int) -> str:
    """``"0.85 (0.64-0.95)"``: a rate over ``n`` robots or episodes with its 95 % interval; ``-`` when missing."""
    if not isinstance(value, float) or math.isnan(value):
        return "-"
    lo, hi = rate_interval(value, n)
    return f"{value:.2f} ({lo:.2f}-{hi:.2f})"


def row(label: str, report: dict) -> str:
    """One table row for ``report``."""
    def of(key: str) -> str:  # a rate of the report, over the count RATE_SAMPLES names for it
        return rate(report.get(key), report[RATE_SAMPLES[key]])

    match = report.get("gait_contact_match", {})
    gaits = " / ".join(f"{match[g]:.2f}" if g in match else "-" for g in ("trot", "pace", "pronk", "bound"))
    robots = str(report.get("randomization", {}).get("source", "?"))
    every = report["mismatch"].get("all", {}).get("survival_rate")  # the all-at-once case, not the lowest case
    cases = {name: r["survival_rate"] for name, r in report["mismatch"].items()}
    lowest = min(cases, key=cases.get) if cases else None
    return " | ".join([
        f"| {label}", robots,
        f"{report['vx_error']:.3f} / {report['vy_error']:.3f} / {report['yaw_error']:.3f} "
        f"({report.get('yaw_error_worst', math.nan):.2f})",
        of("survival_rate"), of("push_recovery_rate"), gaits, of("turn_in_place_success"), of("fast_backward_success"),
        " / ".join(of(f"{task}_open_loop_success") for task in ("turn_in_place", "fast_backward")),
        of("slalom_mat_success"), rate(every, report[RATE_SAMPLES["mismatch_survival_rate"]]),
        f"{of('mismatch_survival_rate')} ({lowest})" if lowest else "-",
        f"{report['episodes']} / {report['num_envs']} |"])


def table(specs: list[str]) -> str:
    """The markdown table for ``label=path`` specs, in the given order."""
    rows = [row(*load_report(spec)) for spec in specs]
    return "\n".join([HEADER, "|" + "---|" * HEADER.count(" | ") + "---|", *rows]) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("reports", nargs="+", metavar="LABEL=PATH", help="agility report JSON files with a label each")
    ap.add_argument("--out", help="also write the table, after the command that made it, to this markdown file")
    args = ap.parse_args()
    text = table(args.reports)
    if args.out:  # the file says how it was made
        command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
        atomic_write_text(Path(args.out), f"Command: `{command}`\n\n{text}")
    print(text, end="")


if __name__ == "__main__":
    main()

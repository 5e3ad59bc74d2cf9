import json
import subprocess
import sys
from pathlib import Path

import pytest

from maa_core.stats import wilson_interval

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import agility_table  # noqa: E402

REPORT = ROOT / "results" / "go2" / "agility_v8_6000.json"


def test_table_quotes_the_committed_report_with_intervals():
    report = json.loads(REPORT.read_text())
    text = agility_table.table([f"eighth run={REPORT}"])
    header, rule, row = text.splitlines()
    assert header.count("|") == rule.count("|") == row.count("|")
    assert row.startswith("| eighth run | runs/go2_agility_v8/config.yaml | ")
    assert f"{report['vx_error']:.3f} / {report['vy_error']:.3f} / {report['yaw_error']:.3f}" in row
    lo, hi = wilson_interval(round(report["turn_in_place_success"] * 20), 20)  # the report's 20 episodes
    assert report["episodes"] == 20 and f"{report['turn_in_place_success']:.2f} ({lo:.2f}-{hi:.2f})" in row
    every = report["mismatch"]["all"]["survival_rate"]
    assert f"| {every:.2f} (" in row and row.endswith(f"| {report['episodes']} / {report['num_envs']} |")
    lowest = min(report["mismatch"], key=lambda k: report["mismatch"][k]["survival_rate"])
    assert f"{report['mismatch_survival_rate']:.2f} (" in row and f") ({lowest}) |" in row


def test_table_marks_rates_a_report_lacks(tmp_path):
    report = json.loads(REPORT.read_text())
    for key in ("turn_in_place_open_loop_success", "fast_backward_open_loop_success"):
        del report[key]
    del report["mismatch"]["all"]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(report))
    row = agility_table.table([f"old={path}"]).splitlines()[-1]
    assert "| - / - |" in row and row.count("| - |") == 1


@pytest.mark.parametrize("spec, message", [("no-label", "expected label=path"),
                                           ("x=/nonexistent/report.json", "cannot read the report"),
                                           ("x={bad}", "is not an agility report")])
def test_bad_arguments_say_what_was_expected(tmp_path, spec, message):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"vx_error": 0.1}))
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "agility_table.py"), spec.format(bad=bad)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and message in proc.stderr


def test_out_file_starts_with_the_command(tmp_path):
    out = tmp_path / "table.md"
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "agility_table.py"), f"eighth run={REPORT}",
                           "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    first, blank, header = out.read_text().splitlines()[:3]
    assert first.startswith("Command: `python ") and "'eighth run=" in first and blank == ""
    assert header.startswith("| actor | robots |") and header in proc.stdout

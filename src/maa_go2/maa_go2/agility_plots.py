"""PNG figures of the Go2 agility report and of a training run's learning curve."""
from __future__ import annotations

import numpy as np

TARGETS = {"vx_error": 0.15, "vy_error": 0.15, "yaw_error": 0.2}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_agility(report: dict, path: str) -> None:
    """Tracking sweeps (error per commanded value), gait contact match, scenario success and model-error survival."""
    plt = _plt()
    fig, ax = plt.subplots(2, 3, figsize=(15, 8))
    for i, (name, unit) in enumerate((("vx", "m/s"), ("vy", "m/s"), ("yaw", "rad/s"))):
        by = np.array(report.get(f"{name}_error_by_cmd") or np.zeros((0, 2)))
        a = ax[0, i]
        if by.size:
            a.plot(by[:, 0], by[:, 1], "o-")
        a.axhline(TARGETS[f"{name}_error"], color="r", ls="--", label=f"target {TARGETS[f'{name}_error']}")
        a.set_xlabel(f"commanded {name} [{unit}]")
        a.set_ylabel(f"mean |{name} error| [{unit}]")
        a.set_title(f"{name} sweep: mean {report[f'{name}_error']:.3f}")
        a.legend()
    gaits = report["gait_contact_match"]
    ax[1, 0].bar(list(gaits), list(gaits.values()))
    ax[1, 0].axhline(0.8, color="r", ls="--")
    ax[1, 0].set_ylim(0, 1)
    ax[1, 0].set_title("gait contact match (2/3/4 Hz, vx 0.5)")
    names = ["turn_in_place_success", "fast_backward_success", "slalom_mat_success", "survival_rate",
             "push_recovery_rate"]
    ax[1, 1].bar(range(len(names)), [report[k] for k in names])
    ax[1, 1].set_xticks(range(len(names)), [n.replace("_success", "").replace("_rate", "") for n in names],
                        rotation=25, ha="right")
    ax[1, 1].axhline(0.9, color="r", ls="--")
    ax[1, 1].set_ylim(0, 1.05)
    ax[1, 1].set_title(f"scenarios ({report['episodes']} randomized episodes each)")
    mis = report["mismatch"]
    ax[1, 2].bar(range(len(mis)), [v["survival_rate"] for v in mis.values()])
    ax[1, 2].set_xticks(range(len(mis)), list(mis), rotation=30, ha="right")
    ax[1, 2].axhline(0.95, color="r", ls="--")
    ax[1, 2].set_ylim(0, 1.05)
    ax[1, 2].set_title("survival under model error")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_curve(rows: list[dict], path: str, title: str = "") -> None:
    """Training-distribution tracking errors, contact match and curriculum coverage against env steps."""
    plt = _plt()
    steps = np.array([r["env_steps"] for r in rows], dtype=float) / 1e6
    fig, ax = plt.subplots(1, 2, figsize=(12, 4))
    for key, label in (("vx_abs_error", "|vx error| m/s"), ("vy_abs_error", "|vy error| m/s"),
                       ("yaw_abs_error", "|yaw error| rad/s")):
        ax[0].plot(steps, [r[key] for r in rows], label=label)
    ax[0].set_xlabel("env steps [M]")
    ax[0].set_ylabel("mean abs error over the training commands")
    ax[0].legend()
    ax[0].set_title(title or "learning curve")
    for key in ("contact_match", "curriculum_coverage"):
        ax[1].plot(steps, [r[key] for r in rows], label=key)
    ax[1].set_xlabel("env steps [M]")
    ax[1].set_ylim(0, 1.05)
    ax[1].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)

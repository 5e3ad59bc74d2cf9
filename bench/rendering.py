#!/usr/bin/env python
"""Cost of the offline pictures (docs/visuals.md): ms per frame of the Go2 replay renderer and of MetaWorld episode
frames, and GIF encoding, with each headless GL backend (EGL, OSMesa) and with the one chosen automatically.

Each backend is measured in its own child process (MuJoCo fixes its GL backend per process). The Go2 motion is a
synthetic 10 s trot-like replay (the renderer's cost does not depend on the motion); MetaWorld: door-open, a random
policy, 320 x 240 frames every 4 steps (20 fps). Prints one JSON line per backend, then the final JSON line:
``{"auto_backend", "<backend>_go2_ms_per_frame", "<backend>_metaworld_ms_per_frame", "<backend>_gif_s_per_100",
...}``. About a minute on the 2-core machine.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def measure(width: int, height: int) -> dict:
    from maa_core.layout import metaworld_sac_layout
    from maa_generator.media import RenderStats, configure_gl, frame_times, write_clip
    from maa_go2.rendering import Go2Renderer, stand_qpos
    from maa_manip.rendering import render_episode

    backend = configure_gl()
    t = np.arange(501) * 0.02
    qpos = np.stack([stand_qpos(0.5 * s, 0.03 * np.sin(s)) for s in t])
    qpos[:, 7:] += 0.25 * np.sin(2 * np.pi * 3.0 * t)[:, None]
    stats = RenderStats()
    t0 = time.perf_counter()
    with Go2Renderer(width, height) as renderer:
        setup_s = time.perf_counter() - t0
        frames = renderer.frames(qpos[frame_times(t, 20.0)], stats=stats)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        write_clip(frames, Path(tmp) / "go2.gif", 20.0)
        gif_s = time.perf_counter() - t0
        gif_mb = (Path(tmp) / "go2.gif").stat().st_size / 1e6
    flat = np.random.default_rng(0).normal(0, 0.3, metaworld_sac_layout().num_params).astype(np.float32)
    ep = render_episode("door-open", flat, 0, steps=240, fps=20.0, width=width, height=height)
    return {"backend": backend, "go2_frames": stats.frames, "go2_ms_per_frame": round(stats.ms_per_frame, 1),
            "go2_renderer_setup_s": round(setup_s, 2), "gif_s_per_100": round(100 * gif_s / len(frames), 2),
            "go2_gif_mb_10s": round(gif_mb, 2), "metaworld_frames": ep.stats.frames,
            "metaworld_ms_per_frame": round(ep.stats.ms_per_frame, 1), "size": f"{width}x{height}"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--child", action="store_true", help="measure in this process (MUJOCO_GL as set)")
    ap.add_argument("--size", default="320x240")
    args = ap.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    if args.child:
        print(json.dumps(measure(width, height)))
        return 0
    from maa_generator.media import AUTO_BACKENDS, configure_gl, probe_backend

    t0 = time.perf_counter()
    env = {k: v for k, v in os.environ.items() if k != "MUJOCO_GL"}
    auto = configure_gl() if "MUJOCO_GL" not in os.environ else os.environ["MUJOCO_GL"]
    summary: dict = {"auto_backend": auto, "choice_s": round(time.perf_counter() - t0, 2)}
    for backend in AUTO_BACKENDS:
        ok, why = probe_backend(backend)
        if not ok:
            summary[f"{backend}_error"] = why
            continue
        out = subprocess.run([sys.executable, __file__, "--child", "--size", args.size],
                             env={**env, "MUJOCO_GL": backend}, capture_output=True, text=True, timeout=600)
        if out.returncode != 0:
            summary[f"{backend}_error"] = (out.stderr.strip().splitlines() or ["?"])[-1]
            continue
        res = json.loads(out.stdout.strip().splitlines()[-1])
        print(json.dumps(res), flush=True)
        for key in ("go2_ms_per_frame", "metaworld_ms_per_frame", "gif_s_per_100", "go2_gif_mb_10s"):
            summary[f"{backend}_{key}"] = res[key]
    summary.update({"size": args.size, "host": f"{os.uname().machine} {os.cpu_count()} cpu"})
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())

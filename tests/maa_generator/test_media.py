"""maa_generator.media: the GL backend choice, clip files, labelled side-by-side clips, the clip index page and the
viewer's clear refusal without a display."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from maa_generator import media


def _frames(n: int, h: int = 24, w: int = 32, value: int = 0) -> np.ndarray:
    f = np.full((n, h, w, 3), value, np.uint8)
    for k in range(n):
        f[k, :, k % w] = (255, 40, 40)  # a moving red column
    return f


def test_configure_gl_picks_a_backend_that_renders():
    backend = media.configure_gl()
    assert backend == os.environ["MUJOCO_GL"]
    assert media.configure_gl() == backend  # chosen once per process
    assert media.probe_backend(backend)[0]


def test_automatic_choice_falls_back_to_osmesa_then_says_what_to_install(monkeypatch):
    monkeypatch.setattr(media, "_chosen", None)  # restored after the test, as is MUJOCO_GL
    monkeypatch.delenv("MUJOCO_GL", raising=False)
    monkeypatch.setattr(media, "_bind_loaded_mujoco", lambda backend: None)  # keep this process's GL as it is
    monkeypatch.setattr(media, "probe_backend", lambda b: (b == "osmesa", "" if b == "osmesa" else "no EGL device"))
    assert media.configure_gl() == "osmesa" and os.environ["MUJOCO_GL"] == "osmesa"
    monkeypatch.setattr(media, "_chosen", None)
    monkeypatch.delenv("MUJOCO_GL")
    monkeypatch.setattr(media, "probe_backend", lambda b: (False, f"{b} is broken"))
    with pytest.raises(media.RenderError, match=r"egl: egl is broken; osmesa: osmesa is broken.*libosmesa6"):
        media.configure_gl()
    assert "MUJOCO_GL" not in os.environ


def test_probe_reports_a_backend_that_does_not_exist():
    ok, why = media.probe_backend("no-such-gl")
    assert not ok and "MUJOCO_GL" in why


def test_a_process_that_set_up_opengl_for_another_platform_gets_a_clear_error():
    code = ("import os; os.environ['PYOPENGL_PLATFORM'] = 'osmesa'\n"
            "import OpenGL.GL, mujoco\n"
            "os.environ['MUJOCO_GL'] = 'egl'\n"
            "from maa_generator.media import RenderError, configure_gl\n"
            "try:\n    configure_gl()\nexcept RenderError as exc:\n    print('RenderError:', exc)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={k: v for k, v in os.environ.items() if k not in ("MUJOCO_GL", "PYOPENGL_PLATFORM")})
    assert "RenderError:" in out.stdout and "MUJOCO_GL=osmesa" in out.stdout, out.stdout + out.stderr


def test_write_clip_round_trip(tmp_path):
    from PIL import Image

    path = media.write_clip(_frames(7), tmp_path / "clip.gif", fps=20)
    with Image.open(path) as im:
        assert im.size == (32, 24) and im.n_frames == 7 and im.info["duration"] == 50
        im.seek(3)
        assert np.asarray(im.convert("RGB"))[0, 3].tolist() == [255, 40, 40]
    with pytest.raises(media.RenderError, match=".gif"):
        media.write_clip(_frames(2), tmp_path / "clip.mp4")
    with pytest.raises(media.RenderError, match="no frames"):
        media.write_clip([], tmp_path / "empty.gif")


def test_tile_clips_holds_the_last_frame_of_shorter_clips():
    tiled = media.tile_clips([("a", _frames(5, value=10)), ("b", _frames(3, value=200))])
    assert tiled.shape == (5, 24, 64, 3)
    np.testing.assert_array_equal(tiled[4, 12:, 32:], tiled[2, 12:, 32:])  # b held (below its label)
    assert not np.array_equal(tiled[4, 12:, :32], tiled[2, 12:, :32])  # a still moving
    assert not np.array_equal(tiled[0, :12, :32], _frames(1, value=10)[0, :12])  # the label, top-left
    with pytest.raises(ValueError, match="frame size"):
        media.tile_clips([("a", _frames(2)), ("b", _frames(2, h=10))])


def test_frame_times_picks_the_nearest_samples():
    t = np.arange(0, 1.001, 0.02)  # 50 Hz for 1 s
    idx = media.frame_times(t, 10)
    assert idx.tolist() == list(range(0, 51, 5))
    assert media.frame_times(np.array([3.0]), 20).tolist() == [0]


def test_clip_index_page(tmp_path):
    page = media.write_clip_index(tmp_path / "index.md", "clips", [
        {"heading": "task, prompt 0", "clips": {"maa": "p0_maa.gif", "retrieval": "p0_retrieval.gif"},
         "notes": {"maa": "success at 0.90 s"}, "images": ["p0_side_by_side.gif", "p0_paths.png"]}])
    text = page.read_text()
    assert "| maa | retrieval |" in text and "![maa](p0_maa.gif)" in text and "success at 0.90 s" in text
    assert "![p0_paths](p0_paths.png)" in text


def test_viewer_without_a_display_fails_with_a_clear_message(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(media.ViewerUnavailable, match="needs a desktop: neither DISPLAY"):
        media.require_display("--viewer")


@pytest.mark.parametrize(("value", "off"), [("1", True), ("true", True), ("0", False), ("", False)])
def test_no_render_switch(monkeypatch, value, off):
    monkeypatch.setenv("MAA_NO_RENDER", value)
    assert media.no_render_requested() is off

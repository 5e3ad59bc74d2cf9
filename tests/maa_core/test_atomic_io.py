"""Crash-safe writes (temp + fsync + rename + directory fsync), no-overwrite creation, pickle-free torch files."""
from __future__ import annotations

import os
import threading

import numpy as np
import pytest
import torch

from maa_core import atomic_io
from maa_core.atomic_io import (
    UnsafeFileError,
    atomic_torch_save,
    atomic_write_bytes,
    from_torch_plain,
    to_torch_plain,
    torch_load_safe,
    write_new_file,
)


def test_failure_during_write_keeps_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "f.bin"
    atomic_write_bytes(path, b"old")

    def dying_save(obj, f):
        with open(f, "wb") as fh:
            fh.write(b"PK\x03\x04half")  # part of a file, then the disk fills up
        raise OSError("No space left on device")

    monkeypatch.setattr(torch, "save", dying_save)
    with pytest.raises(OSError, match="No space"):
        atomic_torch_save({"x": torch.ones(3)}, path)
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.bin"]


def test_failing_rename_keeps_old_file(tmp_path, monkeypatch):
    path = tmp_path / "f.bin"
    atomic_write_bytes(path, b"old")

    def boom(src, dst):
        raise OSError("simulated crash before rename")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="simulated"):
        atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"old" and len(list(tmp_path.iterdir())) == 1


def test_write_fsyncs_file_before_rename_and_directory_after(tmp_path, fsynced, monkeypatch):
    order = []
    real_replace = os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: (order.append(("replace", len(fsynced))), real_replace(a, b)))
    atomic_write_bytes(tmp_path / "f.bin", b"data")
    assert len(fsynced) == 2
    assert ".f.bin.tmp-" in fsynced[0] and order == [("replace", 1)]  # temp file fsynced before the rename
    assert fsynced[1] == str(tmp_path)  # directory fsynced after it
    assert (tmp_path / "f.bin").read_bytes() == b"data"


def test_write_new_file_never_overwrites(tmp_path):
    a = write_new_file(tmp_path / "rec.npz", lambda p: p.write_bytes(b"1"))
    b = write_new_file(tmp_path / "rec.npz", lambda p: p.write_bytes(b"2"))
    c = write_new_file(tmp_path / "rec.npz", lambda p: p.write_bytes(b"3"))
    assert [p.name for p in (a, b, c)] == ["rec.npz", "rec-1.npz", "rec-2.npz"]
    assert [p.read_bytes() for p in (a, b, c)] == [b"1", b"2", b"3"]
    assert len(list(tmp_path.iterdir())) == 3  # no temp files left


def test_write_new_file_concurrent_writers_get_distinct_names(tmp_path):
    out, barrier = [], threading.Barrier(8)

    def writer(i):
        def write(p):
            p.write_bytes(str(i).encode())
            barrier.wait()  # all claim a name at the same time

        out.append(write_new_file(tmp_path / "p.npz", write))

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({p.name for p in out}) == 8
    assert sorted(p.read_bytes() for p in out) == sorted(str(i).encode() for i in range(8))


def test_write_new_file_without_hard_links(tmp_path, monkeypatch):
    def no_links(src, dst):
        raise PermissionError("hard links not supported")

    monkeypatch.setattr(atomic_io.os, "link", no_links)
    a = write_new_file(tmp_path / "x.bin", lambda p: p.write_bytes(b"1"))
    b = write_new_file(tmp_path / "x.bin", lambda p: p.write_bytes(b"2"))
    assert (a.read_bytes(), b.read_bytes(), b.name) == (b"1", b"2", "x-1.bin")


def test_plain_round_trip_loads_weights_only(tmp_path):
    rng = np.random.default_rng(0)
    obj = {"arrays": [rng.normal(size=(2, 3)).astype(np.float32), np.array([True, False])],
           "meta": [{"seed": np.int64(3), "success": np.float64(0.5), "note": None}], "tuple": (1, 2)}
    path = atomic_torch_save({"plain": to_torch_plain(obj), "rng": rng.bit_generator.state}, tmp_path / "s.pt")
    back = torch_load_safe(path)
    plain = from_torch_plain(back["plain"])
    np.testing.assert_array_equal(plain["arrays"][0], obj["arrays"][0])
    assert plain["arrays"][1].dtype == bool and plain["meta"] == [{"seed": 3, "success": 0.5, "note": None}]
    assert type(plain["meta"][0]["seed"]) is int and plain["tuple"] == [1, 2]
    rng2 = np.random.default_rng(1)
    rng2.bit_generator.state = back["rng"]
    assert rng2.uniform() == rng.uniform()
    with pytest.raises(TypeError, match="pickle-free"):
        to_torch_plain({"x": object()})


def test_load_safe_refuses_pickled_objects_and_names_corrupt_files(tmp_path):
    old = tmp_path / "old.pt"
    torch.save({"a": np.zeros(3)}, old)  # numpy objects: only unpickling could load it
    with pytest.raises(UnsafeFileError, match=r"older maa version.*delete it or retrain"):
        torch_load_safe(old, "thing")
    bad = tmp_path / "bad.pt"
    atomic_torch_save({"a": torch.zeros(100)}, bad)
    bad.write_bytes(bad.read_bytes()[:50])
    with pytest.raises(UnsafeFileError, match=r"bad.pt is unreadable \(truncated or corrupt"):
        torch_load_safe(bad, "thing")
    bad.write_bytes(b"garbage" * 20)
    with pytest.raises(UnsafeFileError, match="truncated or corrupt"):
        torch_load_safe(bad, "thing")
    with pytest.raises(FileNotFoundError):
        torch_load_safe(tmp_path / "none.pt")

"""Prompt recording from ~/step ticks: sequence gaps, duplicates, restarts, atomic no-overwrite saving."""
from __future__ import annotations

import numpy as np
import pytest

from maa_core.prompt_io import load_prompt, save_prompt_new
from maa_deploy.prompt_recorder import MAX_GAPS, PromptRecorder


def _tick(k: int, o: int = 4, a: int = 2):
    return np.full(o, k, np.float32), np.full(a, -k, np.float32)


def _feed(rec: PromptRecorder, seqs) -> bool:
    done = False
    for s in seqs:
        done = rec.add(*_tick(s), sequence=s)
    return done


def test_consecutive_ticks_complete_a_recording():
    rec = PromptRecorder(5, 0.02)
    assert _feed(rec, range(10, 15))
    traj = rec.trajectory()
    np.testing.assert_array_equal(traj.obs[:, 0], [10, 11, 12, 13, 14])
    np.testing.assert_array_equal(traj.act[:, 0], [-10, -11, -12, -13, -14])
    assert rec.gaps == [] and rec.num_gaps == rec.out_of_order == rec.restarts == 0
    assert "ticks=10..14 gaps=0" in rec.summary()


def test_gap_is_reported_and_restarts_the_recording():
    rec = PromptRecorder(4, 0.02)
    assert not _feed(rec, [0, 1, 2, 5, 6, 7])  # 3 and 4 dropped
    assert rec.gaps == [(3, 5)] and rec.num_gaps == 1 and rec.restarts == 1 and len(rec) == 3
    assert _feed(rec, [8])
    np.testing.assert_array_equal(rec.trajectory().obs[:, 0], [5, 6, 7, 8])  # only consecutive ticks
    assert "gaps=1" in rec.summary() and "ticks=5..8" in rec.summary()


def test_duplicate_and_backwards_ticks_are_ignored_and_counted():
    rec = PromptRecorder(4, 0.02)
    assert not _feed(rec, [0, 1, 1, 0, 2])
    assert rec.out_of_order == 2 and rec.gaps == [] and rec.restarts == 0 and len(rec) == 3
    assert _feed(rec, [3])
    np.testing.assert_array_equal(rec.trajectory().obs[:, 0], [0, 1, 2, 3])


def test_non_finite_sample_restarts_and_sizes_are_checked():
    rec = PromptRecorder(3, 0.02)
    _feed(rec, [0, 1])
    assert not rec.add(np.array([np.nan, 0, 0, 0]), np.zeros(2), sequence=2)
    assert rec.restarts == 1 and len(rec) == 0
    assert _feed(rec, [3, 4, 5]) and rec.gaps == []  # 2 was received (non-finite), so 3 is not a gap
    with pytest.raises(ValueError, match="non-empty"):
        PromptRecorder(3, 0.02).add(np.zeros(0), np.zeros(2))
    rec = PromptRecorder(3, 0.02)
    rec.add(*_tick(0), sequence=0)
    with pytest.raises(ValueError, match="sizes changed"):
        rec.add(np.zeros(5), np.zeros(2), sequence=1)


def test_memory_is_bounded():
    rec = PromptRecorder(3, 0.02)
    for i in range(MAX_GAPS + 20):  # a gap at every tick
        rec.add(*_tick(2 * i), sequence=2 * i)
    assert rec.num_gaps == MAX_GAPS + 19 and len(rec.gaps) == MAX_GAPS and len(rec) == 1
    assert rec.gaps[-1] == (2 * (MAX_GAPS + 18) + 1, 2 * (MAX_GAPS + 19))  # the latest are kept
    _feed(rec, range(1000, 1010))
    assert len(rec) == 3 and rec.done


def test_without_sequence_numbers_behaves_as_before():
    rec = PromptRecorder(2, 0.02)
    rec.add(*_tick(5))
    assert rec.add(*_tick(9)) and rec.gaps == []


def test_save_never_overwrites_and_both_files_load(tmp_path):
    rec = PromptRecorder(4, 0.02, task="walk")
    _feed(rec, range(4))
    traj = rec.trajectory()
    first = save_prompt_new(tmp_path / "rec.npz", traj, source=f"recorded {rec.summary()}")
    second = save_prompt_new(tmp_path / "rec.npz", traj, source="again")
    assert (first.name, second.name) == ("rec.npz", "rec-1.npz")
    for p in (first, second):
        back = load_prompt(p)
        np.testing.assert_array_equal(back.obs, traj.obs)
        assert back.task == "walk" and back.dt == 0.02
    with np.load(first) as data:
        assert "gaps=0" in str(data["source"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rec-1.npz", "rec.npz"]  # no temp files

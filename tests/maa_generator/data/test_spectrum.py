"""The autoencoder width check: PCA explained variance per policy layer."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from maa_core.layout import PolicyLayout
from maa_generator.data.spectrum import explained_variance, layer_spectra
from maa_generator.data.synthetic_zoo import make_synthetic_zoo

ROOT = Path(__file__).resolve().parents[3]


def test_explained_variance_finds_the_rank():
    rng = np.random.default_rng(0)
    low_rank = rng.normal(size=(200, 5)) @ rng.normal(size=(5, 40))
    low_rank[:, 3] = 7.0  # a constant column carries no variance and must not break the standardization
    ev = explained_variance(low_rank, [2, 5, 50])
    assert ev[2] < 0.9 and ev[5] == pytest.approx(1.0) and ev[50] == pytest.approx(1.0)
    assert explained_variance(np.ones((4, 3)), [1]) == {1: 1.0}
    with pytest.raises(ValueError, match="expected"):
        explained_variance(np.ones(5), [1])


def test_layer_spectra_cover_every_layer():
    layout = PolicyLayout(obs_dim=4, action_dim=2, hidden=(8,))
    params = np.random.default_rng(1).normal(size=(30, layout.num_params)).astype(np.float32)
    spectra = layer_spectra(params, layout, [1, 10])
    assert [s["shape"] for s in spectra] == [list(s) for s in layout.layer_shapes()] and len(spectra) == 2
    assert all(0 < s["explained"][1] < s["explained"][10] <= 1 + 1e-9 for s in spectra)


def test_cli_prints_and_writes(tmp_path, capsys):
    layout = PolicyLayout(obs_dim=4, action_dim=2, hidden=(8,))
    zoo = make_synthetic_zoo(tmp_path / "zoo", layout, n=5, m=2, num_tasks=2, per_task=6)
    spec = importlib.util.spec_from_file_location("zoo_spectrum", ROOT / "training" / "zoo_spectrum.py")
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    assert cli.main(["--zoo", str(zoo), "--ks", "1", "4", "--out", str(tmp_path / "s.json")]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["rows"] == 12 and len(printed["layers"]) == 2
    assert json.loads((tmp_path / "s.json").read_text()) == printed

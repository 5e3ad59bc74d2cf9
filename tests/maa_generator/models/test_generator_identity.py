"""Generator identity: ``generator_id`` (checkpoint name + weights hash) and ``domain``, for the bundled models and a
saved-then-modified one; screening is offered only for domains whose screener works."""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
import torch

from maa_core.layout import PolicyLayout
from maa_generator.data.checkpoint import WEIGHTS_FILE, read_metadata
from maa_generator.models.config import AutoencoderConfig, DiffusionConfig, EmbeddingConfig, ModelConfig
from maa_generator.models.generator import UNSAVED_ID, Generator, checkpoint_domain
from maa_generator.screening import available_domains, make_screener

ROOT = Path(__file__).resolve().parents[3]
BUNDLED = [(ROOT / "models" / "go2" / "generator", "go2"), (ROOT / "models" / "metaworld" / "generator", "metaworld")]
TINY_CFG = ModelConfig(
    autoencoder=AutoencoderConfig(latent_channels=4, hidden=[8]),
    embedding=EmbeddingConfig(n_steps=4, m_states=2, hidden=[8], out_dim=8, segments=1),
    diffusion=DiffusionConfig(down_dims=[8, 16], n_groups=4, kernel_size=3, blocks_per_level=1, time_embed_dim=8,
                              cond_embed_dim=8),
)


def _file_sha12(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


@pytest.mark.parametrize("model_dir, domain", BUNDLED, ids=[d for _, d in BUNDLED])
def test_bundled_generators_report_name_hash_and_domain(model_dir, domain):
    gen = Generator.load(model_dir)
    assert re.fullmatch(r"generator@[0-9a-f]{12}", gen.generator_id), gen.generator_id
    assert gen.generator_id.split("@")[1] == _file_sha12(model_dir / WEIGHTS_FILE)  # the file's own hash
    assert gen.domain == domain


def test_the_two_bundled_generators_have_different_ids():
    ids = {Generator.load(d).generator_id for d, _ in BUNDLED}
    assert len(ids) == 2


def test_id_follows_the_weights_file_and_domain_is_saved(tmp_path):
    torch.manual_seed(0)
    gen = Generator.build(PolicyLayout(obs_dim=3, action_dim=2, hidden=(4,), name="toy"), TINY_CFG)
    assert gen.generator_id == UNSAVED_ID and gen.domain == ""
    gen.domain = "metaworld"
    out = tmp_path / "toy_generator"
    gen.save(out)
    first = Generator.load(out)
    assert first.generator_id == f"toy_generator@{_file_sha12(out / WEIGHTS_FILE)}"
    assert first.domain == "metaworld" and read_metadata(out)["extra"]["domain"] == "metaworld"
    with torch.no_grad():
        next(gen.diffusion.unet.parameters()).add_(0.5)  # new weights, same directory
    gen.save(out)
    second = Generator.load(out)
    assert second.generator_id.startswith("toy_generator@")
    assert second.generator_id != first.generator_id
    assert second.generator_id.split("@")[1] == _file_sha12(out / WEIGHTS_FILE)
    gen.save(tmp_path / "other", extra={"domain": "go2"})  # an explicit extra.domain wins over the attribute
    assert Generator.load(tmp_path / "other").domain == "go2"


def test_domain_of_checkpoints_saved_before_it_was_recorded():
    legacy = {"extra": {"kind": "maa_generator"}, "layout": {"name": "go2_wtw_actor"}}
    assert checkpoint_domain(legacy) == "go2"
    assert checkpoint_domain({"extra": {}, "layout": {"name": "metaworld_sac"}}) == "metaworld"
    assert checkpoint_domain({"extra": {"domain": "robosuite"}, "layout": {"name": "metaworld_sac"}}) == "robosuite"
    assert checkpoint_domain({"extra": {}, "layout": {"name": "policy"}}) == ""  # unknown: no guess
    assert checkpoint_domain({"extra": None, "layout": None}) == ""


@pytest.mark.parametrize("domain", ["metaworld", "robosuite", "synthetic", "none", ""])
def test_screening_is_refused_for_domains_without_a_working_screener(domain):
    with pytest.raises(ValueError, match=r"screening is available for: go2\b") as err:
        make_screener(domain, adaptation_path="unused.safetensors")
    assert ("domain is unknown" in str(err.value)) == (domain == "")


def test_every_advertised_domain_has_a_screener():
    assert "go2" in available_domains()  # declared by maa_go2's setup.py (entry point maa.screeners)
    for domain in available_domains():  # without inputs they ask for them, never "no simulation screener"
        with pytest.raises(ValueError) as err:
            make_screener(domain)
        assert "no simulation screener" not in str(err.value) and "available for" not in str(err.value)


def test_bundled_metaworld_generator_is_not_offered_screening():
    """What the generator node does at start-up: a screener for the model's own domain, or none with the reason."""
    gen = Generator.load(BUNDLED[1][0])
    with pytest.raises(ValueError, match="no simulation screener for domain 'metaworld'"):
        make_screener(gen.domain, adaptation_path="models/go2/adaptation.safetensors")

"""Typed configs: strict keys/types, validation messages, presets."""

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from maa_core.config import ConfigError, from_dict, load_yaml, to_dict
from maa_generator.models.config import AutoencoderConfig, DiffusionConfig, EmbeddingConfig, ModelConfig

ROOT = Path(__file__).resolve().parents[3]


def test_from_dict_nested_and_roundtrip():
    cfg = from_dict(
        ModelConfig,
        {
            "autoencoder": {"chunks": [[0], [1, 2]], "latent_channels": 32},
            "diffusion": {"ema_decay": 0, "down_dims": [16, 32]},
        },
    )
    assert cfg.autoencoder.chunks == [[0], [1, 2]] and cfg.autoencoder.latent_channels == 32
    assert isinstance(cfg.diffusion.ema_decay, float)  # int accepted for float fields
    assert cfg.embedding == EmbeddingConfig()  # defaults
    assert from_dict(ModelConfig, to_dict(cfg)) == cfg
    # values that convert losslessly are converted, as on the command line (maa_core.config, "Types")
    lenient = from_dict(ModelConfig, {"autoencoder": {"latent_channels": "64"}, "diffusion": {"clip_sample": 0}})
    assert lenient.autoencoder.latent_channels == 64 and lenient.diffusion.clip_sample is False


@pytest.mark.parametrize(
    "data, message",
    [
        ({"autoencoder": {"latent_channels": "sixty"}}, "autoencoder.latent_channels: expected int, got str"),
        ({"autoencoder": {"latent_channels": True}}, "autoencoder.latent_channels: expected int, got bool"),
        ({"autoencoder": {"hidden": [64, "x"]}}, r"autoencoder.hidden\[1\]: expected int, got str"),
        ({"autoencoder": {"chunks": [0, 1]}}, r"autoencoder.chunks"),
        ({"embedding": {"temperature": "hot"}}, "embedding.temperature: expected float, got str"),
        ({"embedding": {"obs_dim": 1.5}}, "embedding.obs_dim: expected"),
        ({"diffusion": {"clip_sample": "maybe"}}, "diffusion.clip_sample: expected bool, got str"),
        ({"diffusion": {"bogus": 1}}, r"diffusion: unknown key\(s\) \['bogus'\]"),
        ({"training": {}}, r"unknown key\(s\) \['training'\]"),
        ({"embedding": [1, 2]}, "embedding: expected a mapping"),
    ],
)
def test_rejects_bad_types_and_unknown_keys(data, message):
    with pytest.raises(ConfigError, match=message):
        from_dict(ModelConfig, data)


@pytest.mark.parametrize(
    "cls, kwargs, message",
    [
        (AutoencoderConfig, {"chunks": [[0], [2]]}, "cover layers"),
        (AutoencoderConfig, {"latent_channels": 0}, "latent_channels must be > 0"),
        (AutoencoderConfig, {"activation": "swish"}, "activation"),
        (EmbeddingConfig, {"n_steps": 0}, "n_steps must be > 0"),
        (DiffusionConfig, {"n_groups": 3, "down_dims": [8, 16]}, "n_groups=3 must divide"),
        (DiffusionConfig, {"kernel_size": 4}, "positive odd"),
        (DiffusionConfig, {"inference_steps": 200}, "inference_steps must be in 1..100"),
        (DiffusionConfig, {"beta_schedule": "cosine"}, "beta_schedule"),
        (DiffusionConfig, {"ema_decay": 1.0}, "ema_decay"),
    ],
)
def test_value_validation(cls, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        from_dict(cls, kwargs)


def test_generic_from_dict_on_other_dataclass():
    @dataclass
    class Inner:
        lr: float = 1e-3
        tags: tuple[str, ...] = ()

    @dataclass
    class Outer:
        name: str
        inner: Inner = field(default_factory=Inner)
        steps: int | None = None

    out = from_dict(Outer, {"name": "x", "inner": {"lr": 1, "tags": ["a", "b"]}})
    assert out.inner.lr == 1.0 and out.inner.tags == ("a", "b") and out.steps is None
    with pytest.raises(ConfigError, match="inner.lr: expected float, got str"):
        from_dict(Outer, {"name": "x", "inner": {"lr": "fast"}})
    with pytest.raises(ConfigError, match="name"):
        from_dict(Outer, {})  # missing required field


@pytest.mark.parametrize("preset", ["tiny", "default", "paper"])
def test_presets_load(preset, tmp_path):
    path = ROOT / "config" / f"{preset}.yaml"
    cfg = ModelConfig.from_yaml(path)
    assert cfg.diffusion.train_timesteps == 100 and cfg.diffusion.prediction_type == "sample"
    assert cfg.diffusion.beta_schedule == "squaredcos_cap_v2" and cfg.diffusion.clip_sample
    assert cfg.embedding.n_steps == 60 and cfg.embedding.m_states == 3
    # other top-level sections (data, training) are ignored by the model loader ...
    text = path.read_text() + "\ntraining:\n  steps: 3\n"
    (tmp_path / "p.yaml").write_text(text)
    assert ModelConfig.from_yaml(tmp_path / "p.yaml") == cfg
    # ... but an unknown key inside a model section is an error that names the file
    (tmp_path / "bad.yaml").write_text(text.replace("  n_steps: 60", "  n_step: 60"))
    with pytest.raises(ConfigError, match=r"bad.yaml: embedding: unknown key\(s\) \['n_step'\]"):
        ModelConfig.from_yaml(tmp_path / "bad.yaml")


def test_load_yaml_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_yaml(tmp_path / "missing.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_yaml(tmp_path / "list.yaml")
    (tmp_path / "empty.yaml").write_text("")
    assert load_yaml(tmp_path / "empty.yaml") == {}

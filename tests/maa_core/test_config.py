"""maa_core.config: YAML composition, dotted overrides, typed dataclasses, and errors that name file and key."""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from maa_core.config import (
    ConfigError,
    add_config_arguments,
    dataclass_from_mapping,
    from_dict,
    load_config,
    load_yaml,
    load_yaml_mapping,
    override,
    require,
    resolve_path,
    shorthand_overrides,
    to_dict,
)


@dataclass
class Optim:
    lr: float = 1e-3
    steps: int = 10
    betas: tuple[float, float] = (0.9, 0.999)

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ConfigError(f"optim.steps must be >= 1, got {self.steps}")


@dataclass
class Job:
    name: str = "job"
    tasks: list[str] = field(default_factory=lambda: ["reach"])
    chunks: list[list[int]] | None = None
    limit: int | None = None
    scales: dict = field(default_factory=lambda: {"a": 1.0, "b": 2.0})
    optim: Optim = field(default_factory=Optim)


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# --------------------------------------------------------------------------- composition
def test_base_is_deep_merged_lists_replaced_and_resolved_relative_to_the_file(tmp_path):
    _write(tmp_path / "shared" / "root.yaml", "name: root\ntasks: [a, b]\noptim: {lr: 0.5, steps: 3}\n")
    _write(tmp_path / "shared" / "mid.yaml", "base: root.yaml\noptim: {steps: 4}\n")  # relative to shared/
    child = _write(tmp_path / "child.yaml", "base: shared/mid.yaml\ntasks: [c]\nlimit: 7\n")
    cfg = load_config(Job, child)
    assert cfg == Job(name="root", tasks=["c"], limit=7, optim=Optim(lr=0.5, steps=4))
    assert load_yaml(child) == {"name": "root", "tasks": ["c"], "limit": 7, "optim": {"lr": 0.5, "steps": 4}}


def test_a_list_of_bases_merges_in_order(tmp_path):
    _write(tmp_path / "one.yaml", "name: one\nlimit: 1\n")
    _write(tmp_path / "two.yaml", "name: two\n")
    cfg = load_config(Job, _write(tmp_path / "c.yaml", "base: [one.yaml, two.yaml]\n"))
    assert (cfg.name, cfg.limit) == ("two", 1)


def test_composition_cycle_is_an_error(tmp_path):
    _write(tmp_path / "a.yaml", "base: b.yaml\nname: a\n")
    _write(tmp_path / "b.yaml", "base: a.yaml\nname: b\n")
    with pytest.raises(ConfigError, match=r"composition cycle: .*a\.yaml -> .*b\.yaml -> .*a\.yaml"):
        load_config(Job, tmp_path / "a.yaml")
    _write(tmp_path / "self.yaml", "base: self.yaml\n")
    with pytest.raises(ConfigError, match="composition cycle"):
        load_yaml(tmp_path / "self.yaml")


def test_missing_base_file_names_the_including_file(tmp_path):
    child = _write(tmp_path / "child.yaml", "base: nowhere.yaml\n")
    with pytest.raises(ConfigError, match=r"child\.yaml: base: file 'nowhere\.yaml' not found"):
        load_config(Job, child)
    with pytest.raises(ConfigError, match="expected a file name or a list of file names"):
        load_yaml(_write(tmp_path / "bad.yaml", "base: {x: 1}\n"))


def test_missing_or_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(Job, tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="expected a mapping at the top level"):
        load_yaml(_write(tmp_path / "list.yaml", "- 1\n- 2\n"))
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_yaml(_write(tmp_path / "broken.yaml", "a: [1\n"))
    assert load_yaml(_write(tmp_path / "empty.yaml", "")) == {}


# --------------------------------------------------------------------------- overrides
def test_dotted_overrides_apply_in_order_with_yaml_values(tmp_path):
    path = _write(tmp_path / "c.yaml", "name: file\noptim: {lr: 0.1}\n")
    cfg = load_config(Job, path, ["optim.steps=5", "tasks=[x, y]", "limit=null", "limit=3", "name=a=b",
                                  "optim.betas=[0.5, 0.6]", "chunks=[[0], [1, 2]]"])
    assert cfg.optim == Optim(lr=0.1, steps=5, betas=(0.5, 0.6))
    assert (cfg.tasks, cfg.limit, cfg.name, cfg.chunks) == (["x", "y"], 3, "a=b", [[0], [1, 2]])
    assert load_config(Job, None, [override("name", "with spaces: and [brackets]")]).name == \
        "with spaces: and [brackets]"


def test_override_errors_name_the_override(tmp_path):
    path = _write(tmp_path / "c.yaml", "name: x\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: override 'optim\.stepz=3': optim: unknown key\(s\) \['stepz'\] "
                                          r"for Optim; expected a subset of \['betas', 'lr', 'steps'\]"):
        load_config(Job, path, ["optim.stepz=3"])
    with pytest.raises(ConfigError, match=r"override 'optim\.steps=big': optim\.steps: expected int, got str 'big'"):
        load_config(Job, path, ["optim.steps=big"])
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        load_config(Job, path, ["optim.steps"])
    with pytest.raises(ConfigError, match=r"with overrides \['optim\.steps=0'\]: optim\.steps must be >= 1, got 0"):
        load_config(Job, path, ["optim.steps=0"])


def test_sections_and_their_overrides(tmp_path):
    path = _write(tmp_path / "c.yaml", "job: {name: in-section}\nevaluate: {seconds: 2}\n")
    cfg = load_config(Job, path, ["job.limit=4", "evaluate.seconds=9"], section="job")
    assert (cfg.name, cfg.limit) == ("in-section", 4)  # evaluate.* belongs to the file's other section
    with pytest.raises(ConfigError, match=r"'jbo' is not a key path into the 'job' section of .*c\.yaml"):
        load_config(Job, path, ["jbo.limit=4"], section="job")
    with pytest.raises(ConfigError, match=r"override 'job=3': 'job' is not a key path into the 'job' section"):
        load_config(Job, path, ["job=3"], section="job")
    with pytest.raises(ConfigError, match=r"job\.optim\.lr: expected float, got str 'fast'"):
        load_config(Job, path, ["job.optim.lr=fast"], section="job")
    with pytest.raises(ConfigError, match="no 'train' section"):
        load_config(Job, path, section="train")
    assert load_yaml_mapping(path, "evaluate") == {"seconds": 2} and load_yaml_mapping(path, "train") == {}


def test_plain_dict_fields_are_replaced_by_files_but_updated_by_overrides(tmp_path):
    path = _write(tmp_path / "c.yaml", "scales: {a: 5.0}\n")
    assert load_config(Job, path).scales == {"a": 5.0}
    assert load_config(Job, None, ["scales.b=3.0"]).scales == {"a": 1.0, "b": 3.0}


# --------------------------------------------------------------------------- types and messages
@pytest.mark.parametrize(
    "text, message",
    [
        ("optim: {stepz: 3}\n", r"bad\.yaml: optim: unknown key\(s\) \['stepz'\] for Optim"),
        ("nmae: x\n", r"bad\.yaml: unknown key\(s\) \['nmae'\] for Job; expected a subset of \['chunks', 'limit'"),
        ("optim: {steps: 1.5}\n", r"bad\.yaml: optim\.steps: expected int, got float 1\.5"),
        ("optim: {steps: true}\n", r"optim\.steps: expected int, got bool True"),
        ("optim: {betas: [0.1, x]}\n", r"optim\.betas: expected tuple\[float, float\], got list \[0\.1, 'x'\]"),
        ("optim: [1, 2]\n", r"bad\.yaml: optim: expected a mapping for Optim, got list \[1, 2\]"),
        ("chunks: [0, 1]\n", r"chunks: expected list\[list\[int\]\] \| None, got list \[0, 1\]"),
        ("limit: [1]\n", r"limit: expected int \| None, got list \[1\]"),
        ("optim: {steps: 0}\n", r"bad\.yaml: optim\.steps must be >= 1, got 0"),
    ],
)
def test_errors_name_the_file_the_key_and_what_was_expected(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_config(Job, _write(tmp_path / "bad.yaml", text))


def test_lenient_scalar_conversion():
    cfg = from_dict(Job, {"limit": "64", "optim": {"lr": 1, "steps": "3"}})
    assert cfg.limit == 64 and cfg.optim.steps == 3
    assert isinstance(cfg.optim.lr, float) and cfg.optim.lr == 1.0


def test_from_dict_prefix_source_and_round_trip():
    job = from_dict(Job, {"optim": {"betas": [0.1, 0.2]}, "chunks": [[0], [1]]})
    assert job.optim.betas == (0.1, 0.2) and from_dict(Job, to_dict(job)) == job
    assert to_dict(job)["optim"]["betas"] == [0.1, 0.2]  # tuples become lists for YAML/JSON
    assert from_dict(Job, None) == Job()
    with pytest.raises(ConfigError, match=r"^run\.yaml: deploy\.optim: unknown key\(s\) \['x'\]"):
        from_dict(Job, {"optim": {"x": 1}}, "deploy", source="run.yaml")
    with pytest.raises(ConfigError, match=r"^safety: unknown key\(s\) \['bogus'\]"):
        dataclass_from_mapping(Job, {"bogus": 1}, "safety")
    with pytest.raises(ConfigError, match="expected a mapping, got list"):
        from_dict(Job, [1, 2])

    @dataclass
    class Required:
        name: str
        steps: int = 1

    with pytest.raises(ConfigError, match="name: missing value"):
        from_dict(Required, {"steps": 2})
    with pytest.raises(TypeError, match="not a dataclass"):
        from_dict(dict, {})


def test_add_config_arguments():
    parser = argparse.ArgumentParser()
    add_config_arguments(parser, default="config/x.yaml")
    args = parser.parse_args(["--set", "a.b=1", "--set", "c=[1, 2]"])
    assert args.config == "config/x.yaml" and args.overrides == ["a.b=1", "c=[1, 2]"]
    required = argparse.ArgumentParser()
    add_config_arguments(required)
    with pytest.raises(SystemExit):
        required.parse_args([])
    assert override("a.b", [1, "x"]) == 'a.b=[1, "x"]'


def test_shorthand_overrides_copy_given_flags_and_split_lists():
    args = argparse.Namespace(zoo="data/z", out=None, episodes=3, tasks="a, b,", baselines="none")
    items = shorthand_overrides(args, ("zoo", "out", "episodes"), ("tasks", "baselines"))
    assert items == ['zoo="data/z"', "episodes=3", 'tasks=["a", "b"]', "baselines=[]"]

    @dataclass
    class Cfg:
        zoo: str = ""
        out: str = "o"
        episodes: int = 1
        tasks: list[str] = field(default_factory=list)
        baselines: list[str] = field(default_factory=lambda: ["x"])

    cfg = load_config(Cfg, None, items)
    assert (cfg.zoo, cfg.out, cfg.episodes, cfg.tasks, cfg.baselines) == ("data/z", "o", 3, ["a", "b"], [])


def test_require_and_resolve_path(tmp_path):
    require(True, "never raised")
    with pytest.raises(ConfigError, match="episodes must be >= 1"):
        require(False, "episodes must be >= 1, got 0")
    assert resolve_path("runs/x", tmp_path) == tmp_path / "runs/x"
    assert resolve_path(tmp_path / "abs", "/elsewhere") == tmp_path / "abs"

"""Contract of the Isaac Gym task with legged_gym / Isaac Gym, checked against the stand-in in ``isaac_standin/``.

The stand-in reads every config attribute and creates every buffer legged_gym's (and unitree_rl_gym's)
``LeggedRobot`` does, enforces the Isaac Gym tensor protocol (acquire after ``prepare_sim``, refresh to see new
states, ``set_*`` to change them) and accepts only the attributes the real value classes have. Its method signatures
and value classes are compared with the ``isaacgym-stubs`` package when it is installed (``requirements/dev.txt``).
"""
from __future__ import annotations

import ast
import inspect
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from maa_go2.observation import NOISE_VECTOR, OBS_DIM, build_observation
from maa_go2.randomization import PRIV_DIM, privileged_obs

from .isaac_standin import ROOT as STANDIN_ROOT
from .isaac_standin import activate, make_task, sim_params_for

REPO = Path(__file__).resolve().parents[2]
ENGINES = REPO / "src" / "maa_go2" / "maa_go2" / "engines"
N = 5
#: nested classes that hold exactly the shared sets instead of extending legged_gym's (documented in the config)
NOT_INHERITED = {("commands", "ranges"), ("rewards", "scales")}


@pytest.fixture
def isaac():
    """``(task module, config module)`` imported against the stand-in."""
    with activate() as task_module:
        from maa_go2.engines import legged_gym_config

        yield task_module, legged_gym_config


def small_cfg(config_module, **env):
    cfg = config_module.Go2WTWCfg()
    cfg.env.num_envs = N
    for key, value in env.items():
        setattr(cfg.env, key, value)
    return cfg


def nested(cls):
    return {k: v for k, v in vars(cls).items() if inspect.isclass(v)}


# ------------------------------------------------------------------------------------------ configuration
def test_config_classes_inherit_every_legged_gym_default(isaac):
    """Each nested class extends its LeggedRobotCfg parent and so has every attribute LeggedRobot may read."""
    _, config = isaac
    from legged_gym.envs.base.legged_robot_config import LeggedRobotCfg, LeggedRobotCfgPPO

    for ours_root, base_root in ((config.Go2WTWCfg, LeggedRobotCfg), (config.Go2WTWCfgPPO, LeggedRobotCfgPPO)):
        assert issubclass(ours_root, base_root)
        for name, base in nested(base_root).items():
            ours = getattr(ours_root, name)
            assert issubclass(ours, base), f"{ours_root.__name__}.{name} does not extend {base.__qualname__}"
            for sub, base_sub in nested(base).items():
                if (name, sub) in NOT_INHERITED:
                    continue
                assert issubclass(getattr(ours, sub), base_sub), f"{name}.{sub} does not extend its parent"
            missing = [a for a in dir(base) if not a.startswith("_") and not hasattr(ours, a)]
            assert not missing, f"{name} lacks {missing}"
    cfg = config.Go2WTWCfg()
    assert cfg.asset.default_dof_drive_mode == 3 and cfg.asset.collapse_fixed_joints is True
    assert cfg.normalization.obs_scales.lin_vel == 2.0 and cfg.env.test is False
    assert cfg.sim.physx.contact_collection == 2 and cfg.viewer.ref_env == 0
    assert config.cfg_members(cfg.rewards.scales).keys() == config.DEFAULT_SCALES.keys()
    assert "heading" not in config.cfg_members(cfg.commands.ranges)


def test_sim_params_parse_from_the_config(isaac):
    """legged_gym's parse_sim_params copies cfg.sim (with its physx block) into gymapi.SimParams."""
    _, config = isaac
    sp = sim_params_for(config.Go2WTWCfg())
    assert sp.dt == 0.005 and sp.substeps == 1 and sp.physx.num_position_iterations == 4
    assert sp.physx.contact_collection == 2 and sp.physx.max_gpu_contact_pairs == 2**23


# ------------------------------------------------------------------------------------------ buffers and stepping
def test_task_builds_every_legged_gym_buffer_and_steps(isaac):
    task_module, config = isaac
    task = make_task(task_module, small_cfg(config))
    shapes = {"obs_buf": (N, OBS_DIM), "privileged_obs_buf": (N, PRIV_DIM), "rew_buf": (N,), "reset_buf": (N,),
              "episode_length_buf": (N,), "time_out_buf": (N,), "root_states": (N, 13), "dof_state": (N * 12, 2),
              "dof_pos": (N, 12), "dof_vel": (N, 12), "contact_forces": (N, 17, 3), "rigid_body_states": (N, 17, 13),
              "base_quat": (N, 4), "rpy": (N, 3), "base_lin_vel": (N, 3), "base_ang_vel": (N, 3),
              "projected_gravity": (N, 3), "gravity_vec": (N, 3), "forward_vec": (N, 3), "torques": (N, 12),
              "p_gains": (12,), "d_gains": (12,), "actions": (N, 12), "last_actions": (N, 12),
              "last_last_actions": (N, 12), "last_dof_vel": (N, 12), "last_root_vel": (N, 6), "commands": (N, 15),
              "commands_scale": (3,), "feet_air_time": (N, 4), "last_contacts": (N, 4), "default_dof_pos": (1, 12),
              "noise_scale_vec": (OBS_DIM,), "feet_indices": (4,), "penalised_contact_indices": (8,),
              "termination_contact_indices": (1,), "leg_contact_indices": (4, 2), "gait_index": (N,),
              "dof_pos_limits": (12, 2), "torque_limits": (12,), "env_origins": (N, 3), "obs_history": (N, 15, 70)}
    for name, shape in shapes.items():
        assert tuple(getattr(task, name).shape) == shape, name
    assert task.dt == pytest.approx(0.02) and task.max_steps == 1000 and task.num_privileged_obs == PRIV_DIM
    gen = torch.Generator().manual_seed(0)
    for _ in range(6):
        obs, priv, rew, done, extras = task.step(torch.randn(N, 12, generator=gen) * 0.5)
        assert obs.shape == (N, OBS_DIM) and priv.shape == (N, PRIV_DIM) and rew.shape == (N,)
        assert torch.isfinite(obs).all() and torch.isfinite(rew).all() and done.dtype == torch.bool
        assert {"time_outs", "fell", "contact_match", "commands"} <= set(extras)
    assert task.gym.calls.count("simulate") == 6 * 4


def test_legged_robot_base_methods_accept_the_task_config(isaac):
    """Base-class code paths the task does not override still find their config (env.test, clip_observations,
    noise scales, resampling_time, push_interval, rpy termination)."""
    task_module, config = isaac
    from legged_gym.envs.base.legged_robot import LeggedRobot

    task = make_task(task_module, small_cfg(config))
    LeggedRobot.step(task, torch.zeros(N, 12))  # unitree_rl_gym's step reads cfg.env.test
    vec = LeggedRobot._get_noise_scale_vec(task, task.cfg)
    assert vec.shape == (OBS_DIM,)
    LeggedRobot._post_physics_step_callback(task)
    LeggedRobot.check_termination(task)
    task.cfg.env.test = True
    LeggedRobot.step(task, torch.zeros(N, 12))


def test_rigid_body_states_are_acquired_and_refreshed(isaac):
    task_module, config = isaac
    task = make_task(task_module, small_cfg(config))
    task.step(torch.zeros(N, 12))
    assert "acquire_body" in task.gym.calls and "refresh_body" in task.gym.calls
    torch.testing.assert_close(task.rigid_body_states.reshape(-1, 13), task.sim.body)
    feet = task.rigid_body_states[:, task.feet_indices, :3]
    assert torch.all(feet[..., 2] < task.root_states[:, None, 2] - 0.2), "feet come from the refreshed body states"


@pytest.mark.parametrize("add_noise", [False, True])
def test_noise_flag_is_set_by_the_noise_vector_override(isaac, add_noise):
    task_module, config = isaac
    cfg = small_cfg(config)
    cfg.noise.add_noise = add_noise
    task = make_task(task_module, cfg)
    assert task.add_noise is add_noise
    task.step(torch.zeros(N, 12))
    idx = task_module.cmds.foot_indices(task.gait_index, task.commands)
    clean = build_observation(task.projected_gravity, task.commands, task.dof_pos, task.dof_vel, task.actions,
                              task.last_actions, task_module.cmds.clock_inputs(idx))
    diff = (task.obs_buf - clean).abs()
    if add_noise:
        assert diff.max() > 0 and torch.all(diff <= torch.as_tensor(NOISE_VECTOR, dtype=torch.float) + 1e-6)
    else:
        assert diff.max() == 0


def test_privileged_buffer_holds_the_critic_input(isaac):
    task_module, config = isaac
    task = make_task(task_module, small_cfg(config))
    task.root_states[:, 7:10] = torch.tensor([0.3, -0.1, 0.05])
    task.gym.set_actor_root_state_tensor(task.sim, _unwrap(task.root_states))
    _, priv, *_ = task.step(torch.zeros(N, 12))
    expected = privileged_obs(task.params, task.base_lin_vel.double().numpy())
    np.testing.assert_allclose(priv.numpy(), expected, atol=1e-6)
    assert np.all(np.abs(expected[:, :4]) > 0) and task.privileged_obs_buf is priv


def test_the_seed_comes_from_the_config(isaac):
    task_module, config = isaac
    runs = []
    for seed in (1, 1, 2):
        cfg = small_cfg(config)
        cfg.seed = seed
        runs.append(make_task(task_module, cfg).commands.clone())
    assert torch.equal(runs[0], runs[1]) and not torch.equal(runs[0], runs[2])


def test_registration_with_legged_gyms_task_registry(isaac):
    from legged_gym.utils.task_registry import task_registry

    from maa_go2.engines import register_isaac

    register_isaac.register(env_cfg=small_cfg(isaac[1]))
    assert task_registry.get_task_class("go2_wtw") is isaac[0].Go2WTW
    env = register_isaac.make_env("go2_wtw", ["--sim_device", "cpu", "--pipeline", "cpu", "--headless",
                                              "--num_envs", "3"])
    assert env.num_envs == 3 and env.device == "cpu" and env.obs_buf.shape == (3, OBS_DIM)
    assert env.seed == task_registry.train_cfgs["go2_wtw"].seed


def test_the_real_backend_is_still_absent_outside_the_standin():
    from maa_go2.engines import isaacgym_go2

    assert not isaacgym_go2.HAVE_ISAACGYM
    with pytest.raises(ImportError, match="isaacgym"):
        from maa_go2.engines import register_isaac

        register_isaac.default_registry()


# ------------------------------------------------------------------------------------------ the real API (stubs)
def _stub_file() -> Path | None:
    from importlib import metadata

    try:
        files = metadata.files("isaacgym-stubs") or []
    except metadata.PackageNotFoundError:
        return None
    found = [f.locate() for f in files if str(f).endswith("gymapi.pyi")]
    return Path(found[0]) if found else None


def _stub_classes() -> dict:
    """``{class name: {"methods": {name: [params without self]}, "attrs": set}}`` from gymapi.pyi."""
    path = _stub_file()
    if path is None:
        pytest.skip("isaacgym-stubs is not installed (requirements/dev.txt)")
    out = {}
    source = path.read_text().replace("def lambda(", "def lambda_(")  # the stubs name one property 'lambda'
    for node in ast.parse(source).body:
        if isinstance(node, ast.ClassDef):
            methods = {f.name: None if f.args.vararg else [a.arg for a in f.args.args[1:]]  # None: (*args)
                       for f in node.body if isinstance(f, ast.FunctionDef)}
            attrs = {a.target.id for a in node.body if isinstance(a, ast.AnnAssign)}
            out[node.name] = {"methods": methods, "attrs": attrs}
    return out


def _gym_calls(path: Path) -> dict:
    """``{method: positional argument count}`` of every ``self.gym.<method>(...)`` call in ``path``."""
    calls = {}
    for node in ast.walk(ast.parse(path.read_text())):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Attribute) and node.func.value.attr == "gym"):
            calls[node.func.attr] = (len(node.args), [k.arg for k in node.keywords])
    return calls


def test_task_gym_calls_exist_in_isaac_gym_with_these_arguments():
    gym = _stub_classes()["Gym"]["methods"]
    calls = _gym_calls(ENGINES / "isaacgym_go2.py")
    assert {"acquire_rigid_body_state_tensor", "refresh_rigid_body_state_tensor", "set_actor_rigid_shape_properties",
            "set_actor_rigid_body_properties", "refresh_net_contact_force_tensor"} <= set(calls)
    for name, (npos, keywords) in calls.items():
        assert name in gym, f"Gym has no method {name}"
        if gym[name] is not None:
            assert npos <= len(gym[name]) and set(keywords) <= set(gym[name]), f"{name}{tuple(gym[name])}"


def test_standin_matches_the_isaac_gym_signatures_and_value_classes():
    stubs = _stub_classes()
    with activate():
        from isaacgym import gymapi

        for name, fn in inspect.getmembers(gymapi.Gym, inspect.isfunction):
            if name.startswith("_"):
                continue
            params = list(inspect.signature(fn).parameters)[1:]
            real = stubs["Gym"]["methods"][name]
            assert real is None or params == real, f"stand-in Gym.{name}{tuple(params)}, Isaac Gym {real}"
        for cls in (gymapi.AssetOptions, gymapi.RigidShapeProperties, gymapi.RigidBodyProperties,
                    gymapi.PlaneParams, gymapi.PhysXParams, gymapi.SimParams, gymapi.Vec3, gymapi.Transform):
            assert set(cls._FIELDS) <= stubs[cls.__name__]["attrs"], cls.__name__
        assert set(gymapi.AssetOptions._FIELDS) == stubs["AssetOptions"]["attrs"]
        assert set(gymapi.PhysXParams._FIELDS) == stubs["PhysXParams"]["attrs"]


def test_standin_rejects_what_isaac_gym_rejects(isaac):
    from isaacgym import gymapi, gymtorch

    with pytest.raises(AttributeError):
        gymapi.AssetOptions().default_dof_drive_modes = 3
    task_module, config = isaac
    task = make_task(task_module, small_cfg(config))
    with pytest.raises(TypeError, match="int32"):
        task.gym.set_dof_state_tensor_indexed(task.sim, gymtorch.unwrap_tensor(task.dof_state),
                                              gymtorch.unwrap_tensor(torch.arange(2)), 2)
    with pytest.raises(RuntimeError):
        task.gym.create_env(task.sim, gymapi.Vec3(), gymapi.Vec3(), 1)


# ------------------------------------------------------------------------------------------ Python 3.8
ISAAC_ENTRY = ("maa_go2.engines.isaacgym_go2", "maa_go2.engines.register_isaac", "maa_go2.engines.isaac_runner")
ONLY_ON_310 = {"maa_core.config"}  #: imported only under ``sys.version_info >= (3, 10)``
PEP585 = {"list", "dict", "tuple", "set", "frozenset", "type"}


def _module_file(name: str) -> Path:
    package = name.split(".")[0]
    base = REPO / "src" / package / Path(*name.split("."))
    return base.with_suffix(".py") if base.with_suffix(".py").is_file() else base / "__init__.py"


def isaac_closure() -> dict:
    """``{module: file}`` of every maa module the Isaac path imports (at any depth, function-level included)."""
    todo, seen = list(ISAAC_ENTRY), {}
    while todo:
        name = todo.pop()
        if name in seen or name in ONLY_ON_310:
            continue
        path = _module_file(name)
        seen[name] = path
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            todo += [n for n in names if n.split(".")[0].startswith("maa_") and _module_file(n).is_file()]
    return seen


def _py39_plus_uses(tree: ast.Module) -> list[str]:
    """Runtime uses of 3.9+ typing syntax (``list[int]``, ``int | None`` outside annotations)."""
    annotations = set()
    for node in ast.walk(tree):
        for ann in ([node.annotation] if isinstance(node, (ast.AnnAssign, ast.arg)) and node.annotation else []) + (
                [node.returns] if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.returns else []):
            annotations.update(id(n) for n in ast.walk(ann))
    bad = []
    for node in ast.walk(tree):
        if id(node) in annotations:
            continue
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id in PEP585:
            bad.append(f"line {node.lineno}: {node.value.id}[...]")
        if isinstance(node, ast.Attribute) and node.attr in ("removeprefix", "removesuffix"):
            bad.append(f"line {node.lineno}: str.{node.attr}")
        if isinstance(node, ast.keyword) and node.arg in ("strict", "kw_only", "slots"):
            bad.append(f"line {getattr(node.value, 'lineno', 0)}: {node.arg}=")
    return bad


def test_isaac_path_is_python38_syntax():
    closure = isaac_closure()
    assert {"maa_go2.actor_critic", "maa_go2.ppo", "maa_core.layout", "maa_go2.rewards"} <= set(closure)
    for name, path in closure.items():
        source = path.read_text()
        tree = ast.parse(source, feature_version=(3, 8))
        uses_new_annotations = "|" in source or any(f"{t}[" in source for t in PEP585)
        if uses_new_annotations:
            assert "from __future__ import annotations" in source, f"{name}: annotations evaluated on 3.8"
        assert not _py39_plus_uses(tree), f"{name}: {_py39_plus_uses(tree)}"


def _python38() -> str | None:
    """A Python 3.8 interpreter that runs (pyenv's shims may name one that is not installed)."""
    pyenv = sorted(Path(os.path.expanduser("~/.pyenv/versions")).glob("3.8*/bin/python3.8"))
    for exe in [str(p) for p in pyenv] + [shutil.which("python3.8")]:
        if exe and subprocess.run([exe, "-c", "pass"], capture_output=True, timeout=30).returncode == 0:
            return exe
    return None


def test_isaac_path_compiles_under_a_real_python38():
    exe = _python38()
    if exe is None:
        pytest.skip("no Python 3.8 interpreter on this machine")
    files = [str(p) for p in isaac_closure().values()]
    code = "import sys\nfor f in sys.argv[1:]:\n    compile(open(f).read(), f, 'exec')\nprint(sys.version_info[:2])"
    out = subprocess.run([exe, "-c", code, *files], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "(3, 8)" in out.stdout, out.stderr[-2000:]


def test_standin_is_what_the_tests_load():
    assert (STANDIN_ROOT / "isaacgym" / "gymapi.py").is_file()
    with activate():
        import isaacgym

        assert isaacgym.STANDIN


def _unwrap(t):
    from isaacgym import gymtorch

    return gymtorch.unwrap_tensor(t)

"""Each package.xml lists exactly what its package imports, and the ament_python setup.py files share one template.

Runtime imports (the package's modules, plus the launch files it installs) must be ``exec_depend`` (or ``depend``);
imports that only its tests (``tests/<package>/``) make must be ``test_depend``; nothing else may be declared.
Modules map to package.xml keys through :data:`KEYS`, written once here. A dependency declared with a ``condition``
(REP 149) counts as declared: that is how an optional backend that no registry provides (Isaac Gym) is listed.
"""
from __future__ import annotations

import ast
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"

#: top-level module (or dotted submodule, longest prefix wins) -> package.xml key(s). ROS packages use their package
#: name; Python libraries use rosdep's python3-* keys (pip keys where no system package exists, e.g. python3-torch).
KEYS: dict[str, tuple[str, ...]] = {
    # ROS 2
    "rclpy": ("rclpy",), "rcl_interfaces": ("rcl_interfaces",), "ament_index_python": ("ament_index_python",),
    "launch": ("launch",), "launch_ros": ("launch_ros",), "lifecycle_msgs": ("lifecycle_msgs",),
    "action_msgs": ("action_msgs",), "builtin_interfaces": ("builtin_interfaces",), "std_msgs": ("std_msgs",),
    "std_srvs": ("std_srvs",), "geometry_msgs": ("geometry_msgs",), "sensor_msgs": ("sensor_msgs",),
    "diagnostic_msgs": ("diagnostic_msgs",),
    # this repository
    "maa_msgs": ("maa_msgs",), "maa_core": ("maa_core",), "maa_generator": ("maa_generator",), "maa_go2": ("maa_go2",),
    "maa_manip": ("maa_manip",), "maa_deploy": ("maa_deploy",),
    # Python libraries
    "numpy": ("python3-numpy",), "yaml": ("python3-yaml",), "omegaconf": ("python3-omegaconf",),
    "cryptography": ("python3-cryptography",),
    "matplotlib": ("python3-matplotlib",), "PIL": ("python3-pil",), "tqdm": ("python3-tqdm",),
    "scipy": ("python3-scipy",),
    "pytest": ("python3-pytest",),
    "torch": ("python3-torch",), "torch.utils.tensorboard": ("python3-torch", "python3-tensorboard"),
    "safetensors": ("python3-safetensors",), "diffusers": ("python3-diffusers",), "mujoco": ("python3-mujoco",),
    "metaworld": ("python3-metaworld",), "robosuite": ("python3-robosuite",), "ray": ("python3-ray",),
    "cyclonedds": ("python3-cyclonedds",), "unitree_sdk2py": ("python3-unitree-sdk2py",),
    "isaacgym": ("python3-isaacgym",), "legged_gym": ("python3-legged-gym",),
}
#: dependencies that no Python import shows, with the reason they are needed
NOT_IMPORTED = {
    "maa_deploy": {"ros2launch": "`ros2 launch maa_deploy go2.launch.py` runs the installed launch file"},
}
#: imports that are known to point the wrong way and are deliberately not declared (a package cycle breaks colcon)
UNDECLARED: dict[tuple[str, str], str] = {}  # none left: screeners are plugins (entry points), not imports
#: maa_msgs is ament_cmake, with no Python sources
PYTHON_PACKAGES = ["maa_core", "maa_deploy", "maa_generator", "maa_go2", "maa_manip"]
DEPEND_TAGS = {"exec": ("exec_depend", "depend"), "test": ("test_depend",)}


def imported_modules(paths: list[Path]) -> dict[str, list[str]]:
    """Absolute imports in ``paths``, as dotted names -> the files (relative to the repository) that import them."""
    found: dict[str, list[str]] = {}
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name, []).append(str(path.relative_to(ROOT)))
    return found


def keys_of(modules: dict[str, list[str]], local: set[str]) -> tuple[dict[str, set[str]], list[str]]:
    """package.xml keys -> the files that need them, and the modules missing from :data:`KEYS`."""
    keys: dict[str, set[str]] = {}
    unknown = []
    for name, files in modules.items():
        top = name.split(".")[0]
        if top in sys.stdlib_module_names or top in local:
            continue
        prefixes = [".".join(name.split(".")[:i]) for i in range(name.count(".") + 1, 0, -1)]
        match = next((p for p in prefixes if p in KEYS), None)
        if match is None:
            unknown.append(f"{name} ({files[0]})")
            continue
        for key in KEYS[match]:
            keys.setdefault(key, set()).update(files)
    return keys, unknown


def declared(package: str) -> dict[str, set[str]]:
    root = ET.parse(SRC / package / "package.xml").getroot()
    return {kind: {e.text.strip() for tag in tags for e in root.iter(tag)} for kind, tags in DEPEND_TAGS.items()}


def runtime_sources(package: str) -> list[Path]:
    pkg = SRC / package
    return sorted((pkg / package).rglob("*.py")) + sorted((pkg / "launch").glob("*.py"))


def test_every_import_maps_to_a_key():
    unknown = []
    for package in PYTHON_PACKAGES:
        tests = ROOT / "tests" / package
        unknown += keys_of(imported_modules(runtime_sources(package)), {package})[1]
        unknown += keys_of(imported_modules(sorted(tests.rglob("*.py"))),
                           {package, "tests"} | {p.stem for p in tests.rglob("*.py")})[1]
    assert not unknown, f"add these modules to KEYS in {Path(__file__).name}: {unknown}"


@pytest.mark.parametrize("package", PYTHON_PACKAGES)
def test_package_xml_lists_exactly_what_the_package_imports(package):
    tests = ROOT / "tests" / package
    runtime, _ = keys_of(imported_modules(runtime_sources(package)), {package})
    test_only, _ = keys_of(imported_modules(sorted(tests.rglob("*.py"))),
                           {package, "tests"} | {p.stem for p in tests.rglob("*.py")})
    for (pkg, key), _why in UNDECLARED.items():
        if pkg == package:
            assert key in runtime, f"UNDECLARED entry ({pkg}, {key}) is stale: {pkg} no longer imports {key}"
            runtime.pop(key)
            test_only.pop(key, None)
    test_only = {k: v for k, v in test_only.items() if k not in runtime}
    have = declared(package)
    extra_ok = set(NOT_IMPORTED.get(package, {}))
    problems = []
    for key in sorted(set(runtime) - have["exec"]):
        problems.append(f"missing <exec_depend>{key}</exec_depend> (imported by {sorted(runtime[key])[:3]})")
    for key in sorted(have["exec"] - set(runtime) - extra_ok):
        problems.append(f"unused <exec_depend>{key}</exec_depend>: no module of {package} imports it"
                        + (" (only its tests do: make it a test_depend)" if key in test_only else ""))
    for key in sorted(set(test_only) - have["test"]):
        problems.append(f"missing <test_depend>{key}</test_depend> (imported by {sorted(test_only[key])[:3]})")
    for key in sorted(have["test"] - set(test_only)):
        problems.append(f"unused <test_depend>{key}</test_depend>: "
                        + ("already an exec_depend" if key in runtime else f"no test in tests/{package} imports it"))
    assert not problems, f"src/{package}/package.xml:\n  " + "\n  ".join(problems)


def test_not_imported_dependencies_are_declared():
    for package, deps in NOT_IMPORTED.items():
        assert set(deps) <= declared(package)["exec"], f"{package}: {sorted(set(deps) - declared(package)['exec'])}"


# ---------------------------------------------------------------------------------------------------------- setup.py
BEGIN = "# ---- declared by this package"
END = "# ---- shared template"
DECLARED_NAMES = {"CONSOLE_SCRIPTS", "SHARE_DIRS", "PLUGINS"}


def _split_setup(package: str) -> tuple[str, str, str]:
    text = (SRC / package / "setup.py").read_text()
    assert text.count(BEGIN) == 1 and text.count(END) == 1, f"src/{package}/setup.py: markers {BEGIN!r}, {END!r}"
    head, rest = text.split(BEGIN)
    block, tail = rest.split(END)
    return head, block.split("\n", 1)[1], tail


def test_setup_py_files_are_one_template_plus_a_declared_block():
    parts = {p: _split_setup(p) for p in PYTHON_PACKAGES}
    ref = PYTHON_PACKAGES[0]
    for package, (head, block, tail) in parts.items():
        assert head == parts[ref][0] and tail == parts[ref][2], (
            f"src/{package}/setup.py differs from src/{ref}/setup.py outside the declared block; change the template "
            f"in every setup.py, or declare what differs (CONSOLE_SCRIPTS, SHARE_DIRS, PLUGINS)")
        values = {}
        for stmt in ast.parse(block).body:
            assert isinstance(stmt, ast.Assign) and len(stmt.targets) == 1, f"{package}: only assignments, got {stmt}"
            values[stmt.targets[0].id] = ast.literal_eval(stmt.value)
        assert set(values) == DECLARED_NAMES, f"{package}: declared block sets {sorted(values)}"
        for script in values["CONSOLE_SCRIPTS"]:  # "name = module:function" into this package, function defined
            name, target = (s.strip() for s in script.split("="))
            module, func = target.split(":")
            path = SRC / package / (module.replace(".", "/") + ".py")
            assert module.split(".")[0] == package and path.is_file(), f"{package}: {script}: no {path}"
            assert func in {n.name for n in ast.parse(path.read_text()).body if isinstance(n, ast.FunctionDef)}
        for pattern in values["SHARE_DIRS"].values():
            assert list((SRC / package).glob(pattern)), f"{package}: SHARE_DIRS pattern {pattern} matches nothing"

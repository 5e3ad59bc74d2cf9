"""Install this ament_python package with colcon or plain pip.

Only the declared block differs between the packages' setup.py files; the rest is one template, checked by
tests/test_package_manifests.py. Name, version, description, maintainer and license come from package.xml.
Declared: CONSOLE_SCRIPTS (console entry points), SHARE_DIRS ({subdirectory of share/<package>: glob of the files
to install there, relative to this directory}) and PLUGINS ({entry-point group: ["name = module:object"]}, e.g. the
``maa.screeners`` a domain package registers for the generator).
"""
import os
import xml.etree.ElementTree as ET
from glob import glob

from setuptools import find_packages, setup

# ---- declared by this package -------------------------------------------------------------------------------------
CONSOLE_SCRIPTS = []
SHARE_DIRS = {}
PLUGINS = {}
# ---- shared template: identical in every src/*/setup.py ------------------------------------------------------------
HERE = os.path.dirname(os.path.abspath(__file__))
MANIFEST = ET.parse(os.path.join(HERE, "package.xml")).getroot()
PACKAGE = MANIFEST.findtext("name")


def _rel(pattern):
    return [os.path.relpath(p, HERE) for p in glob(os.path.join(HERE, pattern), recursive=True) if os.path.isfile(p)]


setup(
    name=PACKAGE,
    version=MANIFEST.findtext("version"),
    packages=find_packages(exclude=["test", "tests"]),
    package_data={PACKAGE: ["assets/*", "assets/**/*"]},
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + PACKAGE]),
        ("share/" + PACKAGE, ["package.xml"]),
        *[("share/" + PACKAGE + "/" + target, _rel(pattern)) for target, pattern in SHARE_DIRS.items()],
    ],
    install_requires=["numpy", "pyyaml"],
    zip_safe=False,
    maintainer=MANIFEST.findtext("maintainer").strip(),
    maintainer_email=MANIFEST.find("maintainer").get("email"),
    description=" ".join(MANIFEST.findtext("description").split()),
    license=MANIFEST.findtext("license"),
    python_requires=">=3.10",
    entry_points={"console_scripts": CONSOLE_SCRIPTS, **PLUGINS},
)

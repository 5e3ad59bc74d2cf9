"""Install maa_generator with colcon (ament_python) or plain pip."""
import os
from glob import glob

from setuptools import find_packages, setup

PACKAGE = "maa_generator"
HERE = os.path.dirname(os.path.abspath(__file__))


def _rel(pattern):
    return [os.path.relpath(p, HERE) for p in glob(os.path.join(HERE, pattern), recursive=True) if os.path.isfile(p)]


setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "tests"]),
    package_data={PACKAGE: ["assets/*", "assets/**/*"]},
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + PACKAGE]),
        ("share/" + PACKAGE, ["package.xml"]),
        ("share/" + PACKAGE + "/launch", _rel("launch/*.py")),
    ],
    install_requires=["numpy", "pyyaml"],
    zip_safe=False,
    maintainer="maa maintainers",
    maintainer_email="maintainers@maa-robotics.org",
    description=open(os.path.join(HERE, "package.xml")).read().split("<description>")[1].split("</description>")[0],
    license="Apache-2.0",
    python_requires=">=3.10",
    entry_points={
        "console_scripts": [
            "generator_node = maa_generator.node:main",
            "generate_policy = maa_generator.cli:main",
            "maa_keygen = maa_generator.keygen_cli:main",
        ],
    },
)

"""Install maa_deploy with colcon (ament_python) or plain pip."""
import os
from glob import glob

from setuptools import find_packages, setup

PACKAGE = "maa_deploy"
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
        ("share/" + PACKAGE + "/config", _rel("config/*.yaml")),
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
            "deploy_node = maa_deploy.node:main",
            "prompt_source = maa_deploy.prompt_node:main",
            "launch_go2 = maa_deploy.pip_launch:main",
        ],
    },
)

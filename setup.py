"""The console scripts (pyproject.toml has the rest): the mock's only when its package is in the tree being
built, so the image, built without mock_server/ (.dockerignore), has no `brightpearl-mock` on its PATH."""

from pathlib import Path

from setuptools import setup

console_scripts = ["source-brightpearl = source_brightpearl.run:run"]
if (Path(__file__).parent / "mock_server").is_dir():
    console_scripts.append("brightpearl-mock = mock_server.cli:main")

setup(entry_points={"console_scripts": console_scripts})

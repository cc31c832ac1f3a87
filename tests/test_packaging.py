"""environment.yml stays equivalent to pyproject.toml; the Make targets the README names exist."""

from __future__ import annotations

import re
import tomllib

import yaml

from tests.conftest import ROOT

CONDA_NAMES = {"pyyaml": "pyyaml"}


def _name(req: str) -> str:
    return re.split(r"[<>=!~ \[]", req, maxsplit=1)[0].lower()


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = {
        _name(r): r.replace(" ", "")
        for r in project["dependencies"] + project["optional-dependencies"]["dev"]
    }
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    conda = {_name(d): d.replace(" ", "") for d in env["dependencies"] if isinstance(d, str)}
    # packages conda-forge may lack come from PyPI through the pip section
    pip = [d for d in env["dependencies"] if isinstance(d, dict)]
    conda |= {_name(r): r.replace(" ", "") for p in pip for r in p["pip"] if not r.startswith("-")}
    for name, req in wanted.items():
        assert name in conda, f"{name} missing from environment.yml"
        # conda has no extras: conda-forge's dask package carries what dask[dataframe] adds
        assert conda[name] == re.sub(r"\[.*?\]", "", req), f"{conda[name]} != {req}"
    extra = set(conda) - set(wanted) - {"python", "pip"}
    assert not extra, f"environment.yml has packages pyproject.toml lacks: {extra}"


def test_readme_leads_with_the_two_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    head = readme[:1500]
    assert "make report" in head and "make test" in head
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for target in ("report:", "test:", "lab:"):
        assert target in makefile
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")

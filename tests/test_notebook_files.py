"""Notebooks are jupytext-paired, committed without outputs, and papermill-ready.

Executing them is the job of nbmake (``make test`` runs ``pytest --nbmake tests notebooks``).
"""

from __future__ import annotations

import json

import jupytext
import pytest

from tests.conftest import ROOT

NOTEBOOKS = ROOT / "notebooks"
SCRIPTS = sorted(NOTEBOOKS.glob("*.py"))
IPYNBS = sorted(NOTEBOOKS.glob("*.ipynb"))


def test_every_notebook_is_paired():
    assert SCRIPTS, "no notebooks"
    assert {p.stem for p in SCRIPTS} == {p.stem for p in IPYNBS}


@pytest.mark.parametrize("ipynb", IPYNBS, ids=lambda p: p.name)
def test_committed_without_outputs(ipynb):
    nb = json.loads(ipynb.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"{ipynb.name} has outputs: run jupytext --sync"
            assert cell.get("execution_count") is None


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_pair_in_sync_and_parameters_first(script):
    from_py = jupytext.read(script)
    from_ipynb = jupytext.read(script.with_suffix(".ipynb"))
    assert [c.source for c in from_py.cells] == [c.source for c in from_ipynb.cells], (
        f"{script.name} and its .ipynb differ: run `jupytext --sync {script}`"
    )
    code = [c for c in from_py.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", []), "first code cell must be `parameters`"

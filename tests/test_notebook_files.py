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
            assert cell.get("outputs") == [], f"{ipynb.name} has outputs: run make clean-notebooks"
            assert cell.get("execution_count") is None, (
                f"{ipynb.name} was run and saved: run make clean-notebooks"
            )


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_pair_in_sync_and_parameters_first(script):
    from_py = jupytext.read(script)
    from_ipynb = jupytext.read(script.with_suffix(".ipynb"))
    assert [c.source for c in from_py.cells] == [c.source for c in from_ipynb.cells], (
        f"{script.name} and its .ipynb differ: run `make clean-notebooks` "
        f"(or `jupytext --sync {script}`)"
    )
    code = [c for c in from_py.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", []), "first code cell must be `parameters`"


def test_library_progress_bars_do_not_warn_in_notebooks():
    """tqdm.auto warns "IProgress not found" (stderr, red) in a kernel without ipywidgets; the
    library's bars are for terminals only, so it uses tqdm.std."""
    offenders = [
        p.name
        for p in (ROOT / "kenolib").rglob("*.py")
        if "tqdm.auto" in p.read_text(encoding="utf-8").replace("tqdm.auto warns", "")
    ]
    assert not offenders, offenders


def test_notebooks_run_without_stderr_and_leave_reports_alone(tmp_path, monkeypatch):
    """No red output (warnings, progress bars) in any notebook; reports go to a temporary folder."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("KENOLIB_REPORTS_DIR", str(tmp_path / "reports"))
    noisy = []
    for ipynb in IPYNBS:
        nb = nbformat.read(ipynb, as_version=4)
        nbclient.NotebookClient(
            nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": NOTEBOOKS}}
        ).execute()
        for i, cell in enumerate(nb.cells):
            for out in cell.get("outputs", []):
                if out.get("name") == "stderr" or out.get("output_type") == "error":
                    noisy.append(f"{ipynb.name} cell {i}: {str(out.get('text', ''))[:200]}")
    assert not noisy, "\n".join(noisy)
    assert (tmp_path / "reports").is_dir()

"""The README runs as written: its Python examples (one namespace, in order) and its CLI tour."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run(capsys) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 2
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    assert namespace["votes"].shape == (8, 2)
    assert namespace["scores"].shape == (4, 2) and namespace["store"].verify() == []
    assert "[]" in capsys.readouterr().out


def test_readme_shows_the_two_commands() -> None:
    text = README.read_text()
    assert "make demo" in text and "make test" in text


def _cli_tour() -> list[str]:
    section = README.read_text().split("## The CLI", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, flags=re.S).group(1)
    return [line.split("   #")[0].strip() for line in block.splitlines() if line.strip()]


def test_readme_cli_tour_is_in_order() -> None:
    lines = _cli_tour()
    first = {
        cmd: next(i for i, x in enumerate(lines) if x.startswith(cmd))
        for cmd in ("backpack diff", "backpack tag", "backpack query", "backpack import")
    }
    second_build = next(i for i, x in enumerate(lines) if "--add-task" in x)
    assert first["backpack diff"] > second_build and first["backpack tag"] > second_build
    queries = next(i for i, x in enumerate(lines) if "queries.npy" in x and x.startswith("python"))
    assert queries < first["backpack query"]
    learns = [x for x in lines if x.startswith("backpack learn")]
    assert learns and all("--limit 100" in x for x in learns)  # the table's few-label setting


@pytest.mark.slow  # the whole tour as written: about 5 minutes on 2 cores
def test_readme_cli_tour_runs_top_to_bottom(tmp_path: Path) -> None:
    import os
    import shlex
    import subprocess
    import sys

    env = {**os.environ, "OMP_NUM_THREADS": "1", "DGLBACKEND": "pytorch"}
    env["PYTHONPATH"] = os.pathsep.join([str(README.parent), env.get("PYTHONPATH", "")])
    for line in _cli_tour():
        argv = shlex.split(line)
        if argv[0] == "backpack":
            argv = [sys.executable, "-m", "backpack.cli.main", *argv[1:]]
        elif argv[0] == "python":
            argv = [sys.executable, *argv[1:]]
        proc = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, (line, proc.stderr[-2000:])
    assert (tmp_path / "pictures" / "retrieved_ar.png").is_file()
    assert (tmp_path / "curves" / "curves_oscc.png").is_file()

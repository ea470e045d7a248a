"""Progress in logs, CLI words and cheap checks, and the figures' labels, titles and footers."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from backpack.cli.main import cli


def _runner() -> CliRunner:
    try:
        return CliRunner(mix_stderr=False)  # click < 8.2
    except TypeError:
        return CliRunner()


# -- progress -------------------------------------------------------------------------------
def test_progress_in_a_log_is_plain_lines() -> None:
    from backpack.progress import Progress

    buf = io.StringIO()  # not a terminal
    bar = Progress(3, "epochs", enabled=True, interval=0, stream=buf)
    for i in range(3):
        bar.set_postfix(f"loss {1.0 - i / 10:.3f}")
        bar.update(1)
    bar.close()
    text = buf.getvalue()
    assert "\r" not in text and "\x1b" not in text
    assert text.splitlines() == [
        "epochs: 1/3 (33%) loss 1.000",
        "epochs: 2/3 (67%) loss 0.900",
        "epochs: 3/3 (100%) loss 0.800",
    ]


def test_progress_is_periodic_and_always_ends_and_can_be_silenced() -> None:
    from backpack.progress import Progress

    buf = io.StringIO()
    bar = Progress(1000, "build", unit="clips", interval=3600, stream=buf)
    for _ in range(1000):
        bar.update(1)
    assert buf.getvalue().splitlines() == ["build: 1000/1000 clips (100%)"]  # the last line only
    quiet = io.StringIO()
    off = Progress(5, "build", enabled=False, interval=0, stream=quiet)
    off.update(5)
    assert quiet.getvalue() == ""


# -- CLI words and cheap checks -------------------------------------------------------------
def test_did_you_mean() -> None:
    r = _runner().invoke(cli, ["bild"])
    assert r.exit_code == 2 and "Did you mean 'build'?" in r.stderr


def test_summaries_are_not_cut_at_abbreviations() -> None:
    r = _runner().invoke(cli, ["--help"])
    commands = r.stdout.split("Commands:")[1]
    assert r.exit_code == 0 and "..." not in commands and "(Fig. 6)" in commands


def test_python_hints_become_cli_words() -> None:
    from backpack.cli._common import cli_words

    msg = cli_words("'x' is not a backpack store: it has no 'root'. Create one with Backpack.create().")
    assert "Backpack.create" not in msg and "backpack build" in msg
    missing = "a.json: 2 clip(s) have no feature file. Pass skip_missing=True (--skip-missing) to drop them."
    import click

    with_flag = click.Command(
        "train", params=[click.Option(["--skip-missing", "skip_missing"], is_flag=True)]
    )
    assert cli_words(missing, with_flag).endswith("Pass --skip-missing to drop them.")
    without = cli_words(missing, click.Command("learn"))
    assert "skip" not in without and "Add the missing feature files" in without


def _fake_run(path: Path, learner: bool = False) -> Path:
    path.mkdir(parents=True)
    (path / "config.json").write_text("{}")
    if learner:
        (path / "learner.json").write_text("{}")
    return path


def test_learn_refuses_store_with_no_backpack(tmp_path: Path) -> None:
    run = _fake_run(tmp_path / "mtl")
    args = [
        "learn",
        "--task",
        "oscc",
        "--data",
        str(tmp_path),
        "--from",
        str(run),
        "--out",
        str(tmp_path / "o"),
    ]
    r = _runner().invoke(cli, [*args, "--store", "s/", "--no-backpack"])
    assert r.exit_code == 2 and "exclude each other" in r.stderr


def test_learn_from_a_learn_run_says_from_takes_a_train_run(tmp_path: Path) -> None:
    run = _fake_run(tmp_path / "ego", learner=True)
    args = [
        "learn",
        "--task",
        "oscc",
        "--data",
        str(tmp_path),
        "--from",
        str(run),
        "--out",
        str(tmp_path / "o"),
    ]
    r = _runner().invoke(cli, [*args, "--no-backpack"])
    assert r.exit_code == 2 and "Expected a run of `backpack train`" in r.stderr
    assert not (tmp_path / "o").exists()


def test_learn_task_is_a_choice_and_k_has_the_query_spelling(tmp_path: Path) -> None:
    run = _fake_run(tmp_path / "mtl")
    base = [
        "learn",
        "--data",
        str(tmp_path),
        "--from",
        str(run),
        "--out",
        str(tmp_path / "o"),
        "--no-backpack",
    ]
    r = _runner().invoke(cli, [*base, "--task", "osc"])
    assert r.exit_code == 2 and "'osc' is not one of" in r.stderr
    help_text = _runner().invoke(cli, ["learn", "--help"]).stdout
    assert "-k, --k" in help_text or "--k, -k" in help_text


def test_build_onto_a_file_fails_before_any_work(tmp_path: Path) -> None:
    run = _fake_run(tmp_path / "mtl")
    store = tmp_path / "store.txt"
    store.write_text("not a store")
    r = _runner().invoke(cli, ["build", str(run), "--data", str(tmp_path), "--store", str(store)])
    assert r.exit_code == 2 and "is a file" in r.stderr and "Traceback" not in r.stderr


def test_explain_on_a_train_run_is_refused(tmp_path: Path) -> None:
    run = _fake_run(tmp_path / "mtl")
    r = _runner().invoke(cli, ["explain", str(run), "--data", str(tmp_path), "--out", str(tmp_path / "p")])
    assert r.exit_code == 2 and "Expected a run of `backpack learn`" in r.stderr


# -- figures --------------------------------------------------------------------------------
def _texts(fig) -> list[str]:  # type: ignore[no-untyped-def]
    return [t.get_text() for t in fig.texts]


def test_retrieval_figure_names_what_it_shows() -> None:
    from backpack.pipeline.explain import retrieval_figure

    counts = np.array([[5, 3, 0], [1, 1, 8]])
    fig = retrieval_figure(
        counts,
        ["cut", "take", "put"],
        ["yes (8 samples)", "no (10 samples)"],
        np.array([0.3, 0.3, 0.4]),
        "oscc (val, 18 samples): which ar prototypes it retrieves\nk = 4 per layer, depth 2, store version 3",
        "predicted oscc state (all)",
        {"run": "oscc", "store": "store@3", "split": "val"},
    )
    ax = fig.axes[0]
    legend = ax.get_legend()
    assert legend.get_title().get_text() == "predicted oscc state (all)"
    labels = [t.get_text() for t in legend.get_texts()]
    assert "chance (uniform retrieval)" in labels and "yes (8 samples)" in labels
    assert legend.get_bbox_to_anchor().x0 > ax.get_window_extent().x1 - 1  # right of the axes
    assert "k = 4" in ax.get_title() and "store version 3" in ax.get_title()
    assert _texts(fig) == ["run oscc   store store@3   split val"]
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_confusion_has_no_rest_and_a_labelled_colour_bar() -> None:
    from backpack.pipeline.explain import confusion_figure, confusion_top

    target = torch.tensor([0, 0, 1, 1, 2, 3, -1])
    pred = torch.tensor([0, 1, 1, 1, 3, 0, 2])
    mat, classes = confusion_top(target, pred, top=2)
    assert classes == [0, 1] and mat.tolist() == [[1, 1], [0, 2]]  # other classes left out
    fig = confusion_figure(mat, ["cut", "take"], "AR verbs", {"run": "ar", "split": "val"})
    ax, bar = fig.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cut", "take"]
    assert bar.get_ylabel() == "fraction of the true class's samples"
    assert ax.get_xlabel() == "predicted class" and "run ar" in _texts(fig)[0]
    import matplotlib.pyplot as plt

    plt.close(fig)


def _history(path: Path, losses: list[float], acc: list[float]) -> Path:
    path.mkdir(parents=True)
    lines = [
        {"epoch": i + 1, "loss": lo, "train_loss": {"oscc": lo}, "val": {"oscc": {"accuracy": a}}}
        for i, (lo, a) in enumerate(zip(losses, acc))
    ]
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    return path


def test_curves_overlay_runs_with_units_and_a_footer(tmp_path: Path) -> None:
    from backpack.pipeline.figures import curve_figures

    a = _history(tmp_path / "ft", [0.7, 0.6], [50.0, 55.0])
    b = _history(tmp_path / "ego", [0.72, 0.58], [48.0, 60.0])
    figs = curve_figures([a, b], ["MTL+FT", "EgoPack"])
    assert list(figs) == ["oscc"]
    loss_ax, acc_ax = figs["oscc"].axes
    assert loss_ax.get_xlabel() == "epoch" and acc_ax.get_ylabel() == "accuracy (%)"
    assert [t.get_text() for t in acc_ax.get_legend().get_texts()] == ["MTL+FT", "EgoPack"]
    assert acc_ax.lines[1].get_ydata().tolist() == [48.0, 60.0]
    # the run folders by name (not their absolute paths)
    assert _texts(figs["oscc"]) == ["runs ft, ego   split val"]
    import matplotlib.pyplot as plt

    plt.close("all")


def test_curves_command_writes_each_format(tmp_path: Path) -> None:
    run = _history(tmp_path / "r", [0.7, 0.6], [50.0, 55.0])
    for fmt in ("png", "svg", "pdf"):
        r = _runner().invoke(
            cli, ["curves", str(run), "--out", str(tmp_path / fmt), "--format", fmt, "--json"]
        )
        assert r.exit_code == 0, r.stderr
        files = json.loads(r.stdout)["files"]
        assert [Path(f).name for f in files] == [f"curves_oscc.{fmt}"] and Path(files[0]).stat().st_size > 0
    r = _runner().invoke(
        cli, ["curves", str(run), "--out", str(tmp_path / "x"), "--label", "a", "--label", "b"]
    )
    assert r.exit_code == 2 and "once per RUN" in r.stderr


def test_similarity_map_labels_verb_groups_and_flags_collapse(tmp_path: Path) -> None:
    from backpack.pipeline.report import COLLAPSED_COSINE, cosine_spread, similarity_figure, store_summary
    from backpack.store import Backpack

    rng = np.random.default_rng(0)
    bp = Backpack.create(tmp_path / "s", verbs=["cut", "take", "put"], nouns=["cup", "knife"])
    keys = np.array([[v, n] for v in range(3) for n in range(2)], dtype=np.int64)
    base = rng.normal(size=(1, 8))
    with bp.new_version(message="m") as v:
        v.add_task("ar", rng.normal(size=(6, 8)).astype(np.float32), keys, np.ones(6, dtype=np.int64))
        flat = (base + 1e-3 * rng.normal(size=(6, 8))).astype(np.float32)
        v.add_task("pnr", flat, keys, np.ones(6, dtype=np.int64))
    assert cosine_spread(flat)["median"] > COLLAPSED_COSINE
    summary = store_summary(bp)
    assert {t["name"]: t["collapsed"] for t in summary["tasks"]} == {"ar": False, "pnr": True}
    fig = similarity_figure(bp, "pnr")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["cut", "take", "put"]
    assert "COLLAPSED" in ax.get_title() and "median pairwise cosine" in ax.get_title()
    lo, hi = ax.images[0].get_clim()
    assert lo > 0.9  # the colours span the data, not [-1, 1]
    assert fig.axes[1].get_ylabel().startswith("cosine similarity")
    assert _texts(fig) == ["store s@1   task pnr"]  # the store's name and version, not its path
    import matplotlib.pyplot as plt

    plt.close(fig)
    r = _runner().invoke(cli, ["inspect", str(tmp_path / "s")])
    assert r.exit_code == 0 and "warning: task 'pnr' has collapsed" in r.stdout and "parent -" in r.stdout


@pytest.mark.parametrize("fmt", ["svg"])
def test_inspect_plot_format(tmp_path: Path, fmt: str) -> None:
    from backpack.store import Backpack

    bp = Backpack.create(tmp_path / "s", verbs=["cut", "take"], nouns=["cup"])
    keys = np.array([[0, 0], [1, 0]], dtype=np.int64)
    with bp.new_version(message="m") as v:
        v.add_task("ar", np.eye(2, 4, dtype=np.float32), keys, np.ones(2, dtype=np.int64))
    r = _runner().invoke(
        cli, ["inspect", str(tmp_path / "s"), "--plot", str(tmp_path / "m"), "--format", fmt]
    )
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "m" / f"ar.{fmt}").is_file()


def test_synth_folder_is_readable_by_others(tmp_path: Path) -> None:
    import os
    import stat

    from backpack.data.synthetic_write import write_synthetic

    umask = os.umask(0o022)
    try:
        out = write_synthetic(tmp_path / "data", seed=0, size="small")
    finally:
        os.umask(umask)
    mode = stat.S_IMODE(out.stat().st_mode)
    assert mode & stat.S_IROTH and mode & stat.S_IXOTH, oct(mode)


def test_nproc_sets_omp_threads_so_torchrun_prints_no_banner(monkeypatch: pytest.MonkeyPatch) -> None:
    import backpack.cli.launch as launch_mod

    seen: list[dict[str, str]] = []
    monkeypatch.setattr(launch_mod, "_run", lambda cmd, env, timeout: seen.append(env) or 0)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert launch_mod.launch(["build"], 2) == 0
    assert int(seen[0]["OMP_NUM_THREADS"]) >= 1  # torchrun warns only when it is unset

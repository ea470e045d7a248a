"""``--storage-option`` on build, learn, evaluate and explain: an S3 store whose endpoint and
credentials are given only on the command line, never by AWS_* variables, and never written anywhere.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

pytest.importorskip("torch")
pytest.importorskip("s3fs")
pytestmark = pytest.mark.s3

from backpack.cli.main import cli  # noqa: E402

AWS_VARS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_PROFILE",
)
# moto accepts any credentials: these unique ones are looked for in every file written
KEY_ID = f"AKID{uuid.uuid4().hex[:16].upper()}"
SECRET = f"s3cr3t-{uuid.uuid4().hex}"


def _run(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(cli, list(args))
    return res.exit_code, res.stdout, res.stderr


@pytest.fixture(scope="module")
def mtl_run(tiny_data: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1-epoch multi-task run (ar, pnr) on the tiny data (seed 0)."""
    from backpack.pipeline import train_run

    out = tmp_path_factory.mktemp("so") / "mtl"
    train_run(
        tiny_data,
        "ar,pnr",
        out,
        epochs=1,
        hidden=16,
        layers=1,
        feat_dim=8,
        batch_size=8,
        device="cpu",
        progress=False,
        seed=0,
    )
    return out


@pytest.fixture
def no_aws_env(
    s3_server: str, monkeypatch: pytest.MonkeyPatch, torch_one_thread: None
) -> Iterator[list[str]]:
    """No AWS_* credentials nor endpoint; a closed proxy for any non-local address (nothing leaves
    the machine).

    Yields the ``--storage-option`` arguments that reach the local S3 server.
    """
    for name in AWS_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance-metadata credentials either
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # NO_PROXY (set by s3_server) keeps 127.0.0.1 direct
    import s3fs

    # fsspec caches filesystems by their arguments, not by the environment they were made in: one
    # made here without credentials must not be handed to a later test that has them (and back).
    s3fs.S3FileSystem.clear_instance_cache()
    yield [
        "--storage-option",
        f"endpoint_url={s3_server}",
        "--storage-option",
        f"key={KEY_ID}",
        "--storage-option",
        f"secret={SECRET}",
        "--storage-option",
        'client_kwargs={"region_name": "us-east-1"}',
    ]
    s3fs.S3FileSystem.clear_instance_cache()


def _s3_objects(url: str, endpoint: str) -> dict[str, bytes]:
    import s3fs

    fs = s3fs.S3FileSystem(
        endpoint_url=endpoint,
        key=KEY_ID,
        secret=SECRET,
        use_listings_cache=False,
        client_kwargs={"region_name": "us-east-1"},
    )
    return {p: fs.cat_file(p) for p in fs.find(url)}


def _assert_no_secret(blobs: dict[str, bytes]) -> None:
    assert blobs
    for name, data in blobs.items():
        assert KEY_ID.encode() not in data and SECRET.encode() not in data, name


def test_build_learn_evaluate_explain_on_s3_with_only_storage_options(
    mtl_run: Path, tiny_data: Any, s3_url: str, s3_server: str, no_aws_env: list[str], tmp_path: Path
) -> None:
    so = no_aws_env
    data = str(tiny_data)
    code, out, err = _run(
        "build", str(mtl_run), "--data", data, "--store", s3_url, "--tag", "v1", *so, "--json"
    )
    assert code == 0, err
    assert json.loads(out) == {
        "store": s3_url,
        "version": 1,
        "tag": "v1",
        "added_task": None,
        "skipped": False,
    }

    # the environment alone does not reach the store: the options did the work
    code, _, err = _run(
        "learn",
        "--task",
        "oscc",
        "--data",
        data,
        "--from",
        str(mtl_run),
        "--store",
        f"{s3_url}@v1",
        "--out",
        str(tmp_path / "nope"),
        "--epochs",
        "1",
    )
    assert code == 2 and "NoCredentialsError" in err and not (tmp_path / "nope").exists()

    ego = tmp_path / "ego"
    code, out, err = _run(
        "learn",
        "--task",
        "oscc",
        "--data",
        data,
        "--from",
        str(mtl_run),
        "--store",
        f"{s3_url}@v1",
        "--out",
        str(ego),
        "--k",
        "2",
        "--epochs",
        "1",
        "--batch-size",
        "8",
        *so,
        "--json",
    )
    assert code == 0, err
    learned = json.loads(out)["val"]["oscc"]["accuracy"]
    recorded = json.loads((ego / "learner.json").read_text())
    assert recorded["store_url"] == s3_url and recorded["store_version"] == 1
    assert recorded["store_tasks"] == ["ar", "pnr"]

    # evaluate reopens the recorded s3 store: with the options it gives the same metrics, without it fails
    code, out, err = _run("evaluate", str(ego), "--data", data, *so, "--json")
    assert code == 0, err
    assert json.loads(out) == {"oscc": {"accuracy": learned}}
    code, out, err = _run("evaluate", str(ego), "--data", data, "--json")
    assert code == 2 and out == "" and "NoCredentialsError" in err

    pictures = tmp_path / "pictures"
    code, out, err = _run("explain", str(ego), "--data", data, "--out", str(pictures), *so, "--json")
    assert code == 0, err
    assert sorted(Path(f).name for f in json.loads(out)["files"]) == ["retrieved_ar.png", "retrieved_pnr.png"]

    code, out, err = _run(
        "build", str(ego), "--data", data, "--store", s3_url, "--add-task", "oscc", *so, "--json"
    )
    assert code == 0, err
    assert json.loads(out)["version"] == 2

    # the credentials are in no file that build/learn/explain wrote: run folder, pictures, store objects
    written = {str(p): p.read_bytes() for folder in (ego, pictures) for p in folder.rglob("*") if p.is_file()}
    _assert_no_secret(written)
    objects = _s3_objects(s3_url, s3_server)
    assert any(name.endswith("backpack.json") for name in objects)
    _assert_no_secret(objects)


@pytest.mark.parametrize("command", ["build", "learn", "evaluate", "explain"])
def test_malformed_storage_option_exits_2(command: str, tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()  # RUN must exist (click checks it first); its content is never read
    args = {
        "build": ["build", str(tmp_path / "run"), "--data", str(tmp_path), "--store", "s3://b/p"],
        "learn": [
            "learn",
            "--task",
            "oscc",
            "--data",
            str(tmp_path),
            "--from",
            str(tmp_path / "run"),
            "--store",
            "s3://b/p",
            "--out",
            str(tmp_path / "out"),
        ],
        "evaluate": ["evaluate", str(tmp_path / "run"), "--data", str(tmp_path)],
        "explain": [
            "explain",
            str(tmp_path / "run"),
            "--data",
            str(tmp_path),
            "--out",
            str(tmp_path / "pics"),
        ],
    }[command]
    code, out, err = _run(*args, "--storage-option", "nonsense")
    assert code == 2 and out == ""
    assert "Invalid value for '--storage-option'. Expected KEY=VALUE. Got 'nonsense'." in err
    assert not (tmp_path / "out").exists() and not (tmp_path / "pics").exists()


def test_unknown_storage_option_is_named(
    mtl_run: Path, tiny_data: Any, s3_url: str, s3_server: str, no_aws_env: list[str], tmp_path: Path
) -> None:
    # `endpoint` (for endpoint_url) would be swallowed by s3fs and the request sent to AWS: refused instead
    code, out, err = _run(
        "learn",
        "--task",
        "oscc",
        "--data",
        str(tiny_data),
        "--from",
        str(mtl_run),
        "--store",
        s3_url,
        "--out",
        str(tmp_path / "out"),
        "--storage-option",
        f"endpoint={s3_server}",
        "--storage-option",
        f"secret={SECRET}",
    )
    assert code == 2 and out == ""
    assert "storage_options" in err and "['endpoint']" in err and "endpoint_url" in err
    assert SECRET not in err  # the message names keys, never values
    assert not (tmp_path / "out").exists()


def test_evaluate_refuses_storage_option_for_a_multitask_run(mtl_run: Path, tiny_data: Any) -> None:
    code, out, err = _run("evaluate", str(mtl_run), "--data", str(tiny_data), "--storage-option", "anon=true")
    assert code == 2 and out == ""
    assert "--storage-option applies only to runs of `backpack learn`" in err


# --- --nproc N: the options reach every torchrun worker through its environment, not its command line ---


def test_hide_and_restore_storage_options_round_trip() -> None:
    from backpack.cli.launch import HIDDEN_ARGS_VAR, hide_storage_options
    from backpack.cli.worker import restore_storage_options

    argv = [
        "build",
        "--storage-option",
        "key=K",
        "--store",
        "s3://b/p",
        f"--storage-option=secret={SECRET}",
        "--",
        "--storage-option",
        "-run-named-like-an-option",
    ]
    shown, hidden = hide_storage_options(argv)
    assert shown == ["build", "--store", "s3://b/p", "--", "--storage-option", "-run-named-like-an-option"]
    assert hidden == ["key=K", f"secret={SECRET}"]
    restored = restore_storage_options(shown, {HIDDEN_ARGS_VAR: json.dumps(hidden)})
    assert restored == [
        "build",
        "--storage-option",
        "key=K",
        "--storage-option",
        f"secret={SECRET}",
        *shown[1:],
    ]
    assert restore_storage_options(shown, {}) == shown
    with pytest.raises(ValueError, match=HIDDEN_ARGS_VAR):
        restore_storage_options(shown, {HIDDEN_ARGS_VAR: json.dumps({"key": "K"})})


def test_nproc_passes_storage_options_in_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import backpack.cli.launch as launch_mod

    seen: list[tuple[list[str], dict[str, str]]] = []
    monkeypatch.setattr(launch_mod, "_run", lambda cmd, env, timeout: seen.append((cmd, env)) or 0)
    monkeypatch.setenv(launch_mod.HIDDEN_ARGS_VAR, json.dumps(["stale=1"]))  # never inherited
    (tmp_path / "run").mkdir()  # RUN must exist (click checks it); the workers are never started here
    code, _, err = _run(
        "build",
        str(tmp_path / "run"),
        "--data",
        str(tmp_path),
        "--store",
        "s3://b/p",
        "--storage-option",
        "key=K",
        "--storage-option",
        f"secret={SECRET}",
        "--nproc",
        "2",
    )
    assert code == 0, err
    ((cmd, env),) = seen
    assert SECRET not in " ".join(cmd) and "--storage-option" not in cmd
    assert cmd[cmd.index(launch_mod.WORKER_MODULE) + 1 :] == [
        "build",
        "--data",
        str(tmp_path),
        "--store",
        "s3://b/p",
        "--device",
        "auto",
        "--graph-engine",
        "auto",
        "--batch-size",
        "64",
        "--select",
        "last",
        str(tmp_path / "run"),
    ]
    assert json.loads(env[launch_mod.HIDDEN_ARGS_VAR]) == ["key=K", f"secret={SECRET}"]
    # another entry (a test script) does not know to restore them: its argv is left as it is
    seen.clear()
    launch_mod.launch(["job", "--storage-option", "key=K"], 2, env={}, entry=["script.py"])
    assert (
        seen[0][0][-3:] == ["job", "--storage-option", "key=K"]
        and launch_mod.HIDDEN_ARGS_VAR not in seen[0][1]
    )


def test_worker_restores_the_options_and_builds_on_s3(
    mtl_run: Path, tiny_data: Any, s3_url: str, no_aws_env: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from backpack.cli.launch import HIDDEN_ARGS_VAR
    from backpack.cli.worker import main
    from backpack.store import Backpack

    monkeypatch.setenv(HIDDEN_ARGS_VAR, json.dumps(no_aws_env[1::2]))  # what launch() hands every rank
    assert main(["build", str(mtl_run), "--data", str(tiny_data), "--store", s3_url, "--json"]) == 0
    options = dict(o.split("=", 1) for o in no_aws_env[1:6:2])
    bp = Backpack.open(s3_url, storage_options={**options, "client_kwargs": {"region_name": "us-east-1"}})
    assert bp.version == 1 and sorted(bp.task_names) == ["ar", "pnr"]


def test_build_with_two_processes_on_s3_with_only_storage_options(
    mtl_run: Path, tiny_data: Any, s3_url: str, no_aws_env: list[str]
) -> None:
    import os
    import subprocess
    import sys

    env = dict(
        os.environ,
        DGLBACKEND="pytorch",
        BACKPACK_DIST_BACKEND="gloo",
        CUDA_VISIBLE_DEVICES="",
        OMP_NUM_THREADS="1",
        TQDM_DISABLE="1",
        PYTHONWARNINGS="ignore",
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "backpack.cli.main",
            "build",
            str(mtl_run),
            "--data",
            str(tiny_data),
            "--store",
            s3_url,
            *no_aws_env,
            "--nproc",
            "2",
            "--json",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=150,
    )  # a normal run takes ~10 s
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout)["version"] == 1  # one JSON document, from rank 0
    assert SECRET not in proc.stderr

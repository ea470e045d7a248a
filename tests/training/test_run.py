"""Run folders: config round trip, loading, and every bad-input case refused with a clear error."""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path

import pytest
import torch

from backpack._io import sha256_file
from backpack.errors import ConfigError, DataError, RunError
from backpack.pipeline import RunConfig, load_run, train_run
from backpack.pipeline.checkpoint import load_checkpoint, save_checkpoint
from backpack.pipeline.evaluate import evaluate_run


@pytest.fixture
def run_copy(tiny_run: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(tiny_run, tmp_path / "run"))


def test_config_round_trip_and_unknown_fields() -> None:
    cfg = RunConfig(tasks=("ar", "pnr"), in_dim=32, limit={"pnr": 3}, data_fingerprint="f" * 64)
    assert RunConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    with pytest.raises(RunError, match="'fields'.*'colour'"):
        RunConfig.from_dict({**cfg.to_dict(), "colour": "red"})
    with pytest.raises(RunError, match="'in_dim'"):
        RunConfig.from_dict({k: v for k, v in cfg.to_dict().items() if k != "in_dim"})


def test_load_run_gives_the_trained_model(tiny_run: Path) -> None:
    run = load_run(tiny_run)
    assert run.config.tasks == ("ar", "lta", "oscc", "pnr") and run.epoch == 2
    assert len(run.metrics_history) == 2 and len(run.taxonomy.verbs) == 6
    assert not run.model.training


def test_evaluate_run_matches_last_validation(tiny_run: Path, tiny_data: Path) -> None:
    metrics = evaluate_run(tiny_run, tiny_data, split="val", device="cpu", engine="native")
    last = json.loads((tiny_run / "metrics.jsonl").read_text().splitlines()[-1])["val"]
    assert set(metrics) == {"ar", "lta", "oscc", "pnr"}
    for task, values in metrics.items():
        assert values == pytest.approx(last[task], nan_ok=True), task  # LTA: NaN without a window


@pytest.mark.parametrize("name", ["config.json", "checkpoint.json"])
def test_incompatible_format_version_is_refused(run_copy: Path, name: str) -> None:
    path = run_copy / name
    d = json.loads(path.read_text())
    d["format_version"] = 99
    path.write_text(json.dumps(d))
    with pytest.raises(RunError, match=f"'format_version' in '.*{name}'. Expected 1. Got 99"):
        load_run(run_copy)


@pytest.mark.parametrize("name", ["config.json", "vocabulary.json", "weights.safetensors", "checkpoint.json"])
def test_missing_file_is_named(run_copy: Path, name: str) -> None:
    (run_copy / name).unlink()
    with pytest.raises(RunError, match=name):
        load_run(run_copy)


def test_missing_run_folder(tmp_path: Path) -> None:
    with pytest.raises(RunError, match="does not exist"):
        load_run(tmp_path / "nope")


def test_tampered_weights_fail_the_checksum(run_copy: Path) -> None:
    path = run_copy / "weights.safetensors"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(RunError, match="'sha256'.*weights.safetensors"):
        load_run(run_copy)


class _Evil:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (f"touch {self.marker}",))


def test_crafted_pickle_checkpoint_is_never_unpickled(run_copy: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = run_copy / "weights.safetensors"
    path.write_bytes(pickle.dumps({"w": _Evil(str(marker))}))
    # even with a matching checksum (an attacker can rewrite checkpoint.json too) it is refused
    info = json.loads((run_copy / "checkpoint.json").read_text())
    info["sha256"]["weights.safetensors"] = sha256_file(path)
    (run_copy / "checkpoint.json").write_text(json.dumps(info))
    with pytest.raises(RunError, match="not a valid safetensors file"):
        load_run(run_copy)
    assert not marker.exists()


def test_weights_of_another_model_are_refused(run_copy: Path) -> None:
    cfg = json.loads((run_copy / "config.json").read_text())
    cfg["hidden"] = 48
    (run_copy / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(RunError, match="do not fit the model"):
        load_run(run_copy)


def test_checkpoint_round_trip_restores_adam_exactly(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(3):
        opt.zero_grad()
        model(torch.randn(5, 4)).pow(2).sum().backward()
        opt.step()
    save_checkpoint(tmp_path, model, opt, 3, [{"epoch": 3}], {"note": "x"})
    model2 = torch.nn.Linear(4, 3)
    opt2 = torch.optim.Adam(model2.parameters(), lr=0.5)
    epoch, history, extra = load_checkpoint(tmp_path, model2, opt2)
    assert (epoch, history, extra) == (3, [{"epoch": 3}], {"note": "x"})
    assert opt2.param_groups[0]["lr"] == 0.01
    for p, q in zip(opt.state.values(), opt2.state.values()):
        assert all(torch.equal(torch.as_tensor(p[k]), torch.as_tensor(q[k])) for k in p)
    x = torch.randn(2, 4)
    assert torch.equal(model(x), model2(x))


def test_out_folder_in_use_is_refused(tiny_data: Path, run_copy: Path, tiny_kw: dict) -> None:
    before = sha256_file(run_copy / "weights.safetensors")
    with pytest.raises(RunError, match="not empty.*--resume"):
        train_run(tiny_data, "ar", run_copy, epochs=1, progress=False, device="cpu", **tiny_kw)
    assert sha256_file(run_copy / "weights.safetensors") == before  # nothing overwritten


def test_resume_with_other_settings_is_refused(tiny_data: Path, run_copy: Path, tiny_kw: dict) -> None:
    with pytest.raises(RunError, match="settings differ in .*'hidden'"):
        train_run(
            tiny_data,
            "ar,lta,oscc,pnr",
            run_copy,
            epochs=3,
            resume=True,
            progress=False,
            device="cpu",
            engine="native",
            **{**tiny_kw, "hidden": 64},
        )


def test_resume_without_a_run_is_refused(tiny_data: Path, tmp_path: Path, tiny_kw: dict) -> None:
    with pytest.raises(RunError, match="config.json"):
        train_run(
            tiny_data,
            "ar",
            tmp_path / "empty",
            epochs=1,
            resume=True,
            progress=False,
            device="cpu",
            **tiny_kw,
        )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(tasks="ar,xyz"), "Unknown task 'xyz'"),
        (dict(limit={"oscc": 3}), "'limit'"),
        (dict(limit={"ar": 0}), "'limit'"),
        (dict(epochs=0), "'epochs'"),
        (dict(lr=-1.0), "'lr'"),
        (dict(colour="red"), "'options'"),
        (dict(device="tpu"), "'device'"),
    ],
)
def test_bad_training_options(tiny_data: Path, tmp_path: Path, kwargs: dict, match: str) -> None:
    args = {"tasks": "ar", **kwargs}
    with pytest.raises(ConfigError, match=match):
        train_run(tiny_data, args.pop("tasks"), tmp_path / "r", progress=False, **args)
    assert not (tmp_path / "r" / "weights.safetensors").exists()


def test_evaluate_on_data_with_another_vocabulary(tiny_run: Path, tiny_data: Path, tmp_path: Path) -> None:
    other = Path(shutil.copytree(tiny_data, tmp_path / "other"))
    tax = other / "annotations" / "fho_lta_taxonomy.json"
    d = json.loads(tax.read_text())
    d["verbs"][0] = "renamed"
    tax.write_text(json.dumps(d))
    with pytest.raises(DataError, match="taxonomy .* differs from the vocabulary"):
        evaluate_run(tiny_run, other, device="cpu")

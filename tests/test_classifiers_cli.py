"""Tests for classifiers.cli and the serving API: train → evaluate → classify round trip on a small sample."""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from classifiers.cli import register
from classifiers.default_model import DATA_DIR
from classifiers.persistence import BUNDLE_FILE
from classifiers.triage_model import ModelUnavailable, load_model
from tests.tiket_fixtures import assert_runs_without_scikit_learn

BREACH_ROW = 7


class FakeSettings:
    """The two things the handlers use from the application settings."""

    def __init__(self, data_dir: Path, **triage: Any) -> None:
        self.data_dir = data_dir
        self._triage = MappingProxyType(
            {
                "model_dir": "",
                "target_precision": 0.9,
                "min_class_examples": 30,
                "build_default": False,
                **triage,
            }
        )

    def section(self, name: str) -> Mapping[str, Any]:
        assert name == "triage"
        return self._triage


def run(argv: list[str], settings: FakeSettings) -> int:
    parser = argparse.ArgumentParser(prog="tiket")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.handler(args, settings)
    return code


def _sample(name: str, rows: int, step: int) -> list[dict[str, str]]:
    with gzip.open(DATA_DIR / name, "rt", encoding="utf-8", newline="") as handle:
        return [row for i, row in enumerate(csv.DictReader(handle)) if i % step == 0][:rows]


def _write(path: Path, rows: list[dict[str, str]], fields: list[str]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("triage")


@pytest.fixture(scope="module")
def sample_csv(workdir: Path) -> Path:
    """500 synthetic tickets (kind, priority) + 400 weakly labelled tickets (category; rare classes < 30)."""
    rows = _sample("support_tickets.csv.gz", 500, 25) + _sample("it_categories.csv.gz", 400, 60)
    rows[BREACH_ROW] = {
        **rows[BREACH_ROW],
        "subject": "Ransomware",
        "body": "All our files are encrypted and a ransom note appeared.",
    }
    return _write(
        workdir / "sample.csv", rows, ["subject", "body", "type", "category", "priority", "group"]
    )


@pytest.fixture(scope="module")
def model_dir(workdir: Path, sample_csv: Path) -> Path:
    target = workdir / "model"
    assert (
        run(
            ["train", "--data", str(sample_csv), "--model-dir", str(target), "--quiet"],
            FakeSettings(workdir),
        )
        == 0
    )
    return target


def test_train_writes_bundle_and_card(model_dir: Path, sample_csv: Path) -> None:
    """The card records versions, data sha256, per-head CV metrics and thresholds with precision/coverage."""
    card = json.loads((model_dir / "model_card.json").read_text())
    assert set(card["heads"]) == {"kind", "category", "priority"}
    assert card["data"][0]["path"] == str(sample_csv) and len(card["data"][0]["sha256"]) == 64
    assert card["library_versions"]["scikit-learn"]
    for head in card["heads"].values():
        assert {
            "per_class",
            "precision",
            "coverage",
            "checked_precision",
            "checked_coverage",
        } <= set(head["threshold"])
        assert set(head["threshold"]["per_class"]) <= set(head["class_counts"])
        assert 0.0 <= head["cv"]["macro_f1"] <= 1.0
    assert card["priority_mode"] == "direct"
    assert not list(model_dir.parent.glob(".model.new-*"))


def test_rare_classes_are_learnt_but_never_applied(model_dir: Path) -> None:
    """Categories with fewer than 30 rows are learnt (suggested) but get no threshold: never applied."""
    card = json.loads((model_dir / "model_card.json").read_text())
    category = card["heads"]["category"]
    rare = {label for label, n in category["class_counts"].items() if n < 30}
    assert rare and rare == set(category["not_applied_classes"])
    assert not rare & set(category["threshold"]["per_class"])
    from classifiers.persistence import read_bundle

    bundle, _ = read_bundle(model_dir)
    assert rare <= set(bundle["heads"]["category"]["classes"])


def test_evaluate_reports_each_head(
    model_dir: Path, sample_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """evaluate --json gives accuracy, macro-F1, per-class scores and precision/coverage at threshold."""
    capsys.readouterr()
    assert (
        run(
            ["evaluate", "--data", str(sample_csv), "--model-dir", str(model_dir), "--json"],
            FakeSettings(model_dir),
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert set(report["heads"]) == {"kind", "category", "priority"}
    kind = report["heads"]["kind"]
    assert kind["accuracy"] > 0.7 and kind["rows"] == 500
    assert {"precision", "coverage", "threshold"} <= set(kind["at_threshold"])
    assert set(kind["per_class"]) == {"incident", "request"}
    for row in kind["per_class"].values():
        assert {"precision", "recall", "f1", "threshold", "applied_precision", "coverage"} <= set(
            row
        )


def test_classify_data_prints_json_lines_in_order(
    model_dir: Path, sample_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One JSON object per row, in input order; the breach row is P1, applied, flagged."""
    capsys.readouterr()
    assert (
        run(
            ["classify", "--data", str(sample_csv), "--model-dir", str(model_dir), "--json"],
            FakeSettings(model_dir),
        )
        == 0
    )
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 900
    assert list(lines[0])[:4] == ["kind", "category", "priority", "breach_suspected"]
    flagged = [i for i, line in enumerate(lines) if line["breach_suspected"]]
    assert BREACH_ROW in flagged
    assert lines[BREACH_ROW]["priority"] == {"label": "P1", "confidence": 1.0, "applied": True}


def test_classify_reads_an_eml_from_stdin(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An RFC 822 message on stdin is parsed for subject and text body."""
    raw = (
        b"From: a@example.com\r\nTo: desk@example.com\r\nSubject: Data breach on CRM\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nWe found customer records online.\r\n"
    )
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(raw)))
    capsys.readouterr()
    assert run(["classify", "--model-dir", str(model_dir), "--json"], FakeSettings(model_dir)) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["breach_suspected"] and "data_breach" in result["breach_reasons"]
    assert result["kind"]["label"] in {"incident", "request"}


def test_missing_column_exits_2_naming_file_and_column(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A CSV without body: exit 2, and the message names the file and the column."""
    bad = workdir / "nobody.csv"
    bad.write_text("subject,type\nx,incident\n", encoding="utf-8")
    assert (
        run(
            ["train", "--data", str(bad), "--model-dir", str(workdir / "m2")], FakeSettings(workdir)
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "nobody.csv" in err and "'body'" in err


def test_head_without_labels_is_absent(workdir: Path, sample_csv: Path) -> None:
    """Training on type only gives a kind head; category and priority are None, never applied."""
    rows = list(csv.DictReader(sample_csv.open(encoding="utf-8")))[:500]
    kind_only = _write(workdir / "kind_only.csv", rows, ["subject", "body", "type"])
    target = workdir / "kind_model"
    assert (
        run(
            ["train", "--data", str(kind_only), "--model-dir", str(target), "--quiet"],
            FakeSettings(workdir),
        )
        == 0
    )
    result = load_model(target).suggest(
        "VPN down", "The VPN fails with error 809 since this morning."
    )
    assert [h.head for h in result.heads] == ["kind", "category", "priority"]
    assert result.heads[0].label in {"incident", "request"}
    assert result.heads[1].label is None and not result.heads[1].applied
    assert result.heads[2].label is None and result.model_version.startswith("custom-")


def test_default_model_dir_comes_from_settings(
    workdir: Path, model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --model-dir: [triage].model_dir, else data_dir/model."""
    capsys.readouterr()
    assert (
        run(["classify", "--data", str(workdir / "sample.csv"), "--json"], FakeSettings(workdir))
        == 0
    )
    assert (
        run(
            ["classify", "--data", str(workdir / "sample.csv"), "--json"],
            FakeSettings(Path("/nonexistent"), model_dir=str(model_dir)),
        )
        == 0
    )
    assert (
        run(["classify", "--data", str(workdir / "sample.csv")], FakeSettings(workdir / "nowhere"))
        == 1
    )


def test_load_model_refuses_corrupt_or_mismatched_bundles(model_dir: Path, tmp_path: Path) -> None:
    """Missing, truncated, or other-version bundles raise ModelUnavailable."""
    with pytest.raises(ModelUnavailable):
        load_model(tmp_path / "absent")
    corrupt = shutil.copytree(model_dir, tmp_path / "corrupt")
    data = (corrupt / BUNDLE_FILE).read_bytes()
    (corrupt / BUNDLE_FILE).write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelUnavailable, match="sha256"):
        load_model(corrupt)
    other = shutil.copytree(model_dir, tmp_path / "other")
    card = json.loads((other / "model_card.json").read_text())
    card["library_versions"]["numpy"] = "0.1"  # the serving form depends on Python and NumPy only
    (other / "model_card.json").write_text(json.dumps(card))
    with pytest.raises(ModelUnavailable, match="built with"):
        load_model(other)


def test_serving_imports_neither_scikit_learn_nor_scipy(model_dir: Path) -> None:
    """Loading a bundle and triaging mails (as intake does) needs NumPy only: no scikit-learn, no SciPy."""
    assert_runs_without_scikit_learn(f"""
from pathlib import Path
from pipeline.edges.model_triager import ModelTriager
triager = ModelTriager(Path({str(model_dir)!r}), build_default=False, progress=False)
outcomes = triager.suggest_many([("Printer jammed", "The printer on level 2 is jammed.")])
assert triager.failure is None and len(outcomes) == 1, triager.failure
from classifiers import load_model
model = load_model(Path({str(model_dir)!r}))
results = model.suggest_many([("Printer jammed", "The printer on level 2 is jammed."),
                              ("VPN down", "I cannot connect to the VPN since this morning."),
                              ("", "")])
assert [r.head("kind").label is not None for r in results] == [True, True, True], results
""")


@pytest.mark.parametrize("command", ["train", "evaluate", "classify"])
def test_help_ends_with_an_example(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Every subcommand's help ends with an example invocation."""
    with pytest.raises(SystemExit):
        run([command, "--help"], FakeSettings(Path(".")))
    help_text = capsys.readouterr().out.rstrip()
    assert "example" in help_text
    assert help_text.splitlines()[-1].strip().startswith(f"tiket {command}")


def test_merged_categories_are_reported_under_their_new_key(model_dir: Path) -> None:
    """load_model(category_merge=…) reports every merged key as its target."""
    from classifiers import load_model

    classes = json.loads((model_dir / "model_card.json").read_text())["heads"]["category"][
        "class_counts"
    ]
    model = load_model(model_dir, category_merge={key: "merged" for key in classes})
    results = model.suggest_many([("Printer jammed", "The printer on level 2 is jammed.")] * 2)
    assert {r.head("category").label for r in results} == {"merged"}

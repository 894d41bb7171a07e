"""L1 decisions teach the next model: `tiket train --with-feedback` learns a class it never knew."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest

from classifiers import load_model
from pipeline.app import Tiket
from pipeline.cli import main
from pipeline.edges import models as m
from tests.test_lifecycle_e2e import UnsureModel
from tests.tiket_fixtures import test_settings

DATA = Path(__file__).resolve().parent.parent / "classifiers" / "data"
PRINTER = [
    "printer on floor {n} jams",
    "the printer in room {n} prints blank pages",
    "toner empty on printer {n}",
    "printer {n} shows paper jam error",
    "cannot print to the floor {n} printer",
    "printer {n} is offline again",
    "the big printer near desk {n} smudges every page",
]


def small_training_csv(path: Path, rows: int = 1500) -> Path:
    """A slice of the shipped default data (kind and category), to keep the test fast."""
    out = []
    for name in ("support_tickets.csv.gz", "it_categories.csv.gz"):
        with gzip.open(DATA / name, "rt", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            out.extend(row for _, row in zip(range(rows), reader))
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(
            handle, fieldnames=["subject", "body", "type", "category", "priority", "group"]
        )
        writer.writeheader()
        writer.writerows({k: r.get(k, "") for k in writer.fieldnames} for r in out)
    return path


def test_feedback_teaches_a_category_the_model_never_predicted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """35 printer tickets corrected to 'Printing' (a category the desk added) in review: the retrained
    model suggests it."""
    settings = test_settings(
        tmp_path, extra={"triage": {"categories": {"Printing": {"name": "Printing"}}}}
    )
    config = str(tmp_path / "tiket.toml")
    base = small_training_csv(tmp_path / "base.csv")
    model_dir = tmp_path / "model"
    assert (
        main(
            [
                "--config",
                config,
                "train",
                "--data",
                str(base),
                "--model-dir",
                str(model_dir),
                "--quiet",
            ]
        )
        == 0
    )
    before = load_model(model_dir).suggest(
        "Printer on floor 9 jams", "The printer on floor 9 jams."
    )
    assert dict((h.head, h.label) for h in before.heads)["category"] != "Printing"

    maildir = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    for n in range(35):
        text = PRINTER[n % len(PRINTER)].format(n=n)
        (maildir / "new" / f"p{n}").write_bytes(
            f"From: u{n}@example.com\r\nSubject: {text}\r\nMessage-ID: <p{n}@example.com>\r\n\r\n"
            f"Hello, {text}. Please help.\r\n".encode()
        )
    (Tiket.open(settings, triager=UnsureModel())).run_once()
    for ticket in m.Ticket.select():
        assert (
            main(["--config", config, "review", "set", ticket.ref, "--category", "Printing"]) == 0
        )
    capsys.readouterr()

    assert (
        main(
            [
                "--config",
                config,
                "train",
                "--data",
                str(base),
                "--with-feedback",
                "--model-dir",
                str(model_dir),
                "--quiet",
            ]
        )
        == 0
    )
    assert "35 from L1 feedback" in capsys.readouterr().out
    card = json.loads((model_dir / "model_card.json").read_text())
    assert card["feedback_rows"] == 35
    after = load_model(model_dir).suggest("Printer on floor 9 jams", "The printer on floor 9 jams.")
    assert dict((h.head, h.label) for h in after.heads)["category"] == "Printing"

"""Parser work vs an older tree: the same ParsedMail (or error) for every mail, and the CPU it costs.

    python benchmarks/parse_equivalence.py --old-tree DIR [--rounds 7]

DIR holds the older pipeline package, e.g. `git archive REV pipeline | tar -x -C DIR`. Both trees'
pipeline/stages/parsing.py are loaded into this process (the old one under another name; what they
import comes from this tree, so the script refuses trees whose records.py or addresses.py differ).
Mails: the 2,000 benchmark mails (mailgen, seed 42), every .eml under /work/shared/data/emails and
under tests/data. Each is parsed by both trees with `random` seeded alike (mail-parser names an
unnamed attachment at random) and the results compared with == (errors: type and message).
CPU: time.process_time of parse_mail over the 2,000 benchmark mails, the trees interleaved in slices
of 50 mails in turn, per round; printed as medians and the median of the per-round ratios.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from mailgen import generate_mails

AT = datetime(2026, 11, 26, tzinfo=UTC)
LIMITS = {"received_at": AT, "max_mail_bytes": 26_214_400, "max_attachment_bytes": 10_485_760}
SHARED = [*sorted(Path("/work/shared/data/emails").rglob("*.eml"))]


def load(tree: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, tree / "pipeline/stages/parsing.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def outcome(module: ModuleType, raw: bytes) -> Any:
    random.seed(1234)
    try:
        return module.parse_mail(raw, **LIMITS)
    except Exception as exc:
        return (type(exc).__name__, str(exc))


def compare(old: ModuleType, new: ModuleType, mails: list[bytes]) -> int:
    differ = 0
    for raw in mails:
        if outcome(old, raw) != outcome(new, raw):
            differ += 1
    return differ


def cpu_rounds(modules: list[ModuleType], mails: list[bytes], rounds: int) -> list[list[float]]:
    per_round: list[list[float]] = [[] for _ in modules]
    for _ in range(rounds):
        spent = [0.0] * len(modules)
        for turn, start in enumerate(range(0, len(mails), 50)):
            for i in range(len(modules)) if turn % 2 == 0 else reversed(range(len(modules))):
                started = time.process_time()
                for raw in mails[start : start + 50]:
                    modules[i].parse_mail(raw, **LIMITS)
                spent[i] += time.process_time() - started
        for i, seconds in enumerate(spent):
            per_round[i].append(seconds / len(mails) * 1000)
    return per_round


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old-tree", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    for shared in ("pipeline/records.py", "pipeline/stages/addresses.py"):
        if (args.old_tree / shared).read_bytes() != (ROOT / shared).read_bytes():
            sys.exit(f"{shared} differs between the trees: compare in two processes instead")
    logging.disable(logging.CRITICAL)  # mail-parser warns about every unhandled part
    old, new = load(args.old_tree, "parsing_old"), load(ROOT, "parsing_new")
    generated = generate_mails(2000, seed=42)
    files = SHARED + sorted(p for p in (ROOT / "tests/data").rglob("*.eml"))
    mails = generated + [p.read_bytes() for p in files]
    print(f"equivalence: {len(mails)} mails compared, {compare(old, new, mails)} differ")
    old_ms, new_ms = cpu_rounds([old, new], generated, args.rounds)
    ratio = statistics.median(n / o for o, n in zip(old_ms, new_ms))
    for name, spent in (("old tree", old_ms), ("this tree", new_ms)):
        rounds = " ".join(f"{ms:.3f}" for ms in spent)
        print(f"{name}: median {statistics.median(spent):.3f} ms/mail (rounds: {rounds})")
    print(f"this / old: {ratio:.3f} (median of the per-round ratios)")


if __name__ == "__main__":
    main()

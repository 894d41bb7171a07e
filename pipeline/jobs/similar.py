"""Similar tickets (EDGE): the nearest resolved tickets by text, with how they were solved.

Texts are hashed into a fixed 2**18-dimension TF-IDF-free, L2-normalised bag of words and
bigrams (what scikit-learn's HashingVectorizer did, here in NumPy and the standard library:
no vocabulary to fit or store, and neither scikit-learn nor SciPy imported), kept as one sparse
matrix in CSR arrays that grow as tickets are resolved. A query is one vectorised pass over the
non-zeros (gather the query's weights, multiply, sum per row) and a partial sort.
benchmarks/similar.py's 1 M generated tickets (~28 distinct terms each) make 28 M non-zeros
(223 MB as float32 + int32), built in ~30 s, and a query takes ~0.1 s median on one core (SciPy's
sparse product took ~0.3 s); at ~40 terms a ticket that is ~40 M non-zeros, ~320 MB. The index
is rebuilt from the database in each process on first use (never saved) and extended
incrementally, so it is never a second source of truth and its hash need match nothing else.
"""

from __future__ import annotations

import re
import threading
import zlib
from collections.abc import Sequence
from datetime import datetime
from itertools import chain, filterfalse
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from pipeline.edges.store import Store
from pipeline.records import SimilarTicket
from pipeline.stages.english_stop_words import ENGLISH_STOP_WORDS

N_FEATURES = 2**18
MIN_SCORE = 0.15
TOKEN = re.compile(r"(?u)\b[^\W\d_]{2,}\b")  # words of 2+ letters (no digits, no underscore)
BLOCK = 2**20  # non-zeros scored at a time: bounds a query's scratch memory (4 MB)

Indices = NDArray[np.int32]
Values = NDArray[np.float32]
Offsets = NDArray[np.int64]
Item = TypeVar("Item", bound=np.generic)


def terms(text: str) -> list[str]:
    """Lower-cased words minus English stop words, then the bigrams of what is left."""
    words = list(filterfalse(ENGLISH_STOP_WORDS.__contains__, TOKEN.findall(text.lower())))
    return words + list(map(" ".join, zip(words, words[1:])))


def vectorise(texts: Sequence[str]) -> tuple[Offsets, Indices, Values]:
    """CSR rows (indptr, indices, data) of the texts: each term hashed (CRC-32 of its UTF-8)
    into N_FEATURES buckets, counted, each row L2-normalised; indices sorted within a row."""
    per_text = [terms(text) for text in texts]
    flat = list(chain.from_iterable(per_text))
    hashes = np.fromiter(map(zlib.crc32, map(str.encode, flat)), np.int64, len(flat))
    rows = np.repeat(np.arange(len(texts), dtype=np.int64), [len(t) for t in per_text])
    keys, counts = np.unique(rows * N_FEATURES + (hashes & (N_FEATURES - 1)), return_counts=True)
    row_of = keys // N_FEATURES
    squares = np.bincount(row_of, weights=counts.astype(np.float64) ** 2, minlength=len(texts))
    data = (counts / np.sqrt(squares)[row_of]).astype(np.float32)
    indptr = np.zeros(len(texts) + 1, np.int64)
    np.cumsum(np.bincount(row_of, minlength=len(texts)), out=indptr[1:])
    return indptr, (keys % N_FEATURES).astype(np.int32), data


def row_scores(indptr: Offsets, indices: Indices, data: Values, query: str) -> Values:
    """Cosine similarity of the query with each CSR row (rows are L2-normalised): the query's
    weights gathered at the rows' non-zeros, multiplied and summed per row, a block at a time."""
    q_indptr, q_indices, q_data = vectorise([query])
    dense = np.zeros(N_FEATURES, np.float32)
    dense[q_indices] = q_data
    n_rows, nnz = len(indptr) - 1, len(indices)
    scores = np.zeros(n_rows, np.float32)
    if q_indptr[-1] == 0 or nnz == 0:
        return scores
    scratch = np.empty(min(nnz, BLOCK) + 1, np.float32)
    row = 0
    while row < n_rows:
        # the rows whose non-zeros start within BLOCK of this row's (at least one row)
        end = max(row + 1, int(np.searchsorted(indptr, indptr[row] + BLOCK, "right")) - 1)
        end = min(end, n_rows)
        lo, hi = int(indptr[row]), int(indptr[end])
        if hi - lo + 1 > len(scratch):  # one row longer than BLOCK
            scratch = np.empty(hi - lo + 1, np.float32)
        part = scratch[: hi - lo + 1]
        np.take(dense, indices[lo:hi], out=part[:-1])
        part[:-1] *= data[lo:hi]
        part[-1] = 0.0  # so an empty last row (start == hi) sums nothing
        np.add.reduceat(part, indptr[row:end] - lo, out=scores[row:end])
        row = end
    scores[indptr[1:] == indptr[:-1]] = 0.0  # reduceat gives an empty row its next value
    return scores


def extend(buffer: NDArray[Item], used: int, values: NDArray[Item]) -> NDArray[Item]:
    """`values` written after the first `used` items, the buffer doubled when full."""
    need = used + len(values)
    if need > len(buffer):
        grown = np.empty(max(need, 2 * len(buffer)), buffer.dtype)
        grown[:used] = buffer[:used]
        buffer = grown
    buffer[used:need] = values
    return buffer


class SimilarIndex:
    """Resolved tickets as rows of a CSR matrix; thread-safe refresh and query."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.indptr: Offsets = np.zeros(1, np.int64)  # rows + 1 used, as the rest: capacity
        self.indices: Indices = np.empty(0, np.int32)
        self.data: Values = np.empty(0, np.float32)
        self.nnz = 0
        self.ids: list[int] = []
        self.refs: list[str] = []
        self.subjects: list[str] = []
        self.notes: list[str] = []
        self.position: dict[int, int] = {}  # ticket id -> its current row
        self.stale: set[int] = set()  # rows of tickets resolved again since (never returned)
        self.after: tuple[datetime, int] | None = None  # (resolved_at, id) of the last row read
        self.lock = threading.Lock()

    def refresh(self, chunk: int = 20000) -> int:
        """Add tickets resolved since the last refresh (by resolution time, so one resolved late
        is found too; a ticket resolved again replaces its old row); returns how many were added."""
        added = 0
        with self.lock:
            while True:
                rows = self.store.resolved_texts(self.after, chunk)
                if not rows:
                    return added
                indptr, indices, data = vectorise([text for _, _, text, _, _ in rows])
                n_rows = len(self.ids)
                self.indptr = extend(self.indptr, n_rows + 1, indptr[1:] + self.nnz)
                self.indices = extend(self.indices, self.nnz, indices)
                self.data = extend(self.data, self.nnz, data)
                self.nnz += len(indices)
                for ticket_id, ref, text, note, _ in rows:
                    if ticket_id in self.position:
                        self.stale.add(self.position[ticket_id])
                    self.position[ticket_id] = len(self.ids)
                    self.ids.append(ticket_id)
                    self.refs.append(ref)
                    self.subjects.append(text.split("\n", 1)[0])
                    self.notes.append(note)
                self.after = (rows[-1][4], rows[-1][0])
                added += len(rows)

    def like_ticket(
        self, ticket_id: int, subject: str, conversation: Sequence[tuple[str, str, str, str]]
    ) -> tuple[SimilarTicket, ...]:
        """The resolved tickets most like a ticket, by its subject and first message (`conversation`
        as `Store.conversation` gives it), the ticket itself left out; refreshed first."""
        self.refresh()
        first = conversation[0][3] if conversation else ""
        return self.query(f"{subject}\n{first}", exclude=(ticket_id,))

    def query(
        self, text: str, k: int = 3, exclude: Sequence[int] = ()
    ) -> tuple[SimilarTicket, ...]:
        """The k most similar resolved tickets (cosine similarity above MIN_SCORE)."""
        with self.lock:
            if not self.ids:
                return ()
            scores = row_scores(
                self.indptr[: len(self.ids) + 1],
                self.indices[: self.nnz],
                self.data[: self.nnz],
                text,
            )
            if self.stale:  # superseded rows of tickets resolved again
                scores[list(self.stale)] = -1.0
            take = min(len(scores), k + len(exclude))
            best = np.argpartition(-scores, take - 1)[:take]
            best = best[np.argsort(-scores[best])]
            found = [
                SimilarTicket(
                    ref=self.refs[i],
                    subject=self.subjects[i],
                    score=float(scores[i]),
                    resolution_note=self.notes[i],
                )
                for i in best
                if scores[i] >= MIN_SCORE and self.ids[i] not in exclude
            ]
        return tuple(found[:k])

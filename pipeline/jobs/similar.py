"""Similar tickets (EDGE): the nearest resolved tickets by text, with how they were solved.

Texts are hashed into a fixed 2**18-dimension TF-IDF-free, L2-normalised bag of words and
bigrams (scikit-learn's HashingVectorizer: no vocabulary to fit or store), kept as one sparse
matrix that grows as tickets are resolved. A query is one sparse matrix-vector product and a
partial sort: for 1 M resolved tickets of about 40 distinct terms each the matrix holds ~40 M
non-zeros (~320 MB as float32 + int32) and a query takes well under a second on one core
(benchmarks/similar.py measures it). The index is rebuilt from the database on start and
extended incrementally, so it is never a second source of truth.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer

from pipeline.edges.store import Store
from pipeline.records import SimilarTicket

N_FEATURES = 2**18
MIN_SCORE = 0.15


def make_vectorizer() -> HashingVectorizer:
    """The one text representation for the index and for queries."""
    return HashingVectorizer(
        n_features=N_FEATURES,
        ngram_range=(1, 2),
        alternate_sign=False,
        norm="l2",
        lowercase=True,
        stop_words="english",
        token_pattern=r"(?u)\b[^\W\d_]{2,}\b",
        dtype=np.float32,
    )


class SimilarIndex:
    """Resolved tickets as rows of a sparse matrix; thread-safe refresh and query."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.vectorizer = make_vectorizer()
        self.matrix: sp.csr_matrix = sp.csr_matrix((0, N_FEATURES), dtype=np.float32)
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
                vectors = self.vectorizer.transform([text for _, _, text, _, _ in rows])
                self.matrix = sp.vstack([self.matrix, vectors], format="csr")
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

    def query(
        self, text: str, k: int = 3, exclude: Sequence[int] = ()
    ) -> tuple[SimilarTicket, ...]:
        """The k most similar resolved tickets (cosine similarity above MIN_SCORE)."""
        with self.lock:
            if self.matrix.shape[0] == 0:
                return ()
            scores = (self.matrix @ self.vectorizer.transform([text]).T).toarray().ravel()
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

"""Serving form of the model: the TF-IDF vectorizer and the linear heads in plain NumPy (pure).

Training fits scikit-learn objects; a bundle stores what serving needs from them as plain data (dicts,
tuples and NumPy arrays, see ``vectorizer_state`` and ``head_state``), so loading and serving a model
import neither scikit-learn nor SciPy (~100 MB and ~1 CPU-second less per process).

``TfidfServing.transform`` gives exactly what the fitted ``TfidfVectorizer.transform`` gives, value for
value: lowercase, the same token regex, stop words dropped before n-grams, word 1-2-grams, counts of
in-vocabulary terms, ``1 + log(tf)`` in the vectorizer's dtype, times idf, rows divided by their l2
norm (summed in double in column order, as scikit-learn's C loop does). The vocabulary is held as
words and word pairs: a dict of the ~20,000 words, the column of each word as a unigram, and the
sorted int64 keys ``first * n_words + second`` of the ~180,000 bigrams (a fifth of the memory of a
200,000-string dict, and a tenth of its unpickling). ``LinearHead`` keeps one contiguous row of
coefficients per output (a gather of a batch's columns from one row, then a bincount per output: half
the CPU and a ninth of the transient memory of gathering (n_features x outputs) rows for a 9-class
head) and sums ``value * coef`` in column order in double, as SciPy's sparse product does; binary
heads give two columns ``(-s/2, s/2)``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "KIND_CUE_WEIGHT",
    "LinearHead",
    "Rows",
    "TfidfServing",
    "head_state",
    "kind_shift",
    "softmax",
    "vectorizer_state",
]

VECTORIZER_KIND = "tfidf-word-ngrams"
HEAD_KIND = "linear-tempered"
# scikit-learn's default token pattern (words of two or more word characters), the one training uses.
DEFAULT_TOKEN_PATTERN = r"(?u)\b\w\w+\b"
_LETTERS_AND_SPACES = re.compile(r"[a-z ]*")
KIND_CUE_WEIGHT = 1.0  # score units: a LinearSVC margin of 1 is a confident call


@dataclass(frozen=True, slots=True)
class Rows:
    """Sparse rows in CSR form: row ``i`` holds ``data[indptr[i]:indptr[i + 1]]`` at ``indices[...]``
    (ascending); ``row_of`` is the row of each stored value."""

    indptr: npt.NDArray[np.intp]
    indices: npt.NDArray[np.intp]
    data: npt.NDArray[np.floating[Any]]
    row_of: npt.NDArray[np.intp]
    n_columns: int

    @property
    def n_rows(self) -> int:
        return int(self.indptr.size - 1)

    def toarray(self) -> npt.NDArray[np.floating[Any]]:
        """Dense copy (tests and small inputs only)."""
        out = np.zeros((self.n_rows, self.n_columns), dtype=self.data.dtype)
        out[self.row_of, self.indices] = self.data
        return out


def softmax(scores: npt.NDArray[np.float64], temperature: float) -> npt.NDArray[np.float64]:
    """Row-wise softmax of ``temperature * scores``."""
    z = scores * temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: npt.NDArray[np.float64] = e / e.sum(axis=1, keepdims=True)
    return out


def kind_shift(votes: npt.NDArray[np.float64], classes: Sequence[str]) -> npt.NDArray[np.float64]:
    """Score shift per row and class for the kind cue: +w/2 to incident and -w/2 to request per +1 vote."""
    shift = np.zeros((votes.size, len(classes)), dtype=np.float64)
    for column, label in enumerate(classes):
        sign = {"incident": 0.5, "request": -0.5}.get(label, 0.0)
        shift[:, column] = sign * KIND_CUE_WEIGHT * votes
    return shift


class TfidfServing:
    """A fitted word-n-gram TF-IDF vectorizer from its ``vectorizer_state``; ``transform`` only."""

    def __init__(self, state: Mapping[str, Any]) -> None:
        if state.get("kind") != VECTORIZER_KIND:
            raise ValueError(f"not a serving vectorizer state: {state.get('kind')!r}")
        self.n_features = int(state["n_features"])
        self._words: dict[str, int] = dict(state["words"])
        self._unigrams = np.asarray(state["unigram_columns"], dtype=np.intp)
        self._bigram_keys = np.asarray(state["bigram_keys"], dtype=np.int64)
        self._bigram_columns = np.asarray(state["bigram_columns"], dtype=np.intp)
        idf = state["idf"]
        self._dtype = np.dtype(str(state["dtype"]))
        self._idf = None if idf is None else np.asarray(idf)
        self._lowercase = bool(state["lowercase"])
        self._tokens = re.compile(str(state["token_pattern"]))
        self._default_tokens = self._tokens.pattern == DEFAULT_TOKEN_PATTERN
        self._stop_words = frozenset(state["stop_words"])
        self._ngrams = (int(state["ngram_range"][0]), int(state["ngram_range"][1]))
        self._sublinear = bool(state["sublinear_tf"])
        self._norm = state["norm"]

    def _word_ids(self, texts: Sequence[str]) -> tuple[npt.NDArray[np.int64], list[int]]:
        """Word id per token (-1 outside the vocabulary's words), all texts in a row; tokens per text."""
        get, stop = self._words.get, self._stop_words
        ids: list[int] = []
        lengths: list[int] = []
        for text in texts:
            tokens = self._tokenize(text.lower() if self._lowercase else text)
            if stop:
                tokens = [token for token in tokens if token not in stop]
            ids.extend(map(get, tokens, repeat(-1)))
            lengths.append(len(tokens))
        return np.asarray(ids, dtype=np.int64), lengths

    def _tokenize(self, text: str) -> list[str]:
        """``token_pattern``'s matches in ``text``. On prepared text (words of a-z and spaces, see
        ``classifiers.features``) the default pattern's tokens are its words of two letters or more:
        ``split`` finds them in half the time of the regex."""
        if self._default_tokens and _LETTERS_AND_SPACES.fullmatch(text):
            return [word for word in text.split() if len(word) > 1]
        found: list[str] = self._tokens.findall(text)
        return found

    def transform(self, texts: Sequence[str]) -> Rows:
        """TF-IDF rows of ``texts`` (what ``TfidfVectorizer.transform`` gives, as ``Rows``)."""
        n = len(texts)
        ids, lengths = self._word_ids(texts)
        doc = np.repeat(np.arange(n, dtype=np.intp), lengths)
        rows: list[npt.NDArray[np.intp]] = []
        columns: list[npt.NDArray[np.intp]] = []
        if self._ngrams[0] == 1:
            known = ids >= 0
            unigram = self._unigrams[ids[known]]
            kept = unigram >= 0
            rows.append(doc[known][kept])
            columns.append(unigram[kept])
        if self._ngrams[1] == 2 and ids.size > 1 and self._bigram_keys.size:
            first, second = ids[:-1], ids[1:]
            pairs = (doc[:-1] == doc[1:]) & (first >= 0) & (second >= 0)
            keys = first[pairs] * len(self._words) + second[pairs]
            at = np.minimum(np.searchsorted(self._bigram_keys, keys), self._bigram_keys.size - 1)
            hit = self._bigram_keys[at] == keys
            rows.append(doc[:-1][pairs][hit])
            columns.append(self._bigram_columns[at[hit]])
        flat = (
            np.concatenate(rows) * self.n_features + np.concatenate(columns)
            if rows
            else np.zeros(0, dtype=np.intp)
        )
        cells, counts = np.unique(flat, return_counts=True)  # sorted: by row, then column
        row_of = (cells // self.n_features).astype(np.intp)
        indices = (cells % self.n_features).astype(np.intp)
        indptr = np.zeros(n + 1, dtype=np.intp)
        np.cumsum(np.bincount(row_of, minlength=n), out=indptr[1:])
        data = counts.astype(self._dtype)
        if self._sublinear:
            np.log(data, out=data)
            data += 1.0
        if self._idf is not None:
            data *= self._idf[indices]
        if self._norm == "l2" and data.size:
            # scikit-learn: per row, sum of (value * value) in the dtype, accumulated in double.
            squares = np.bincount(row_of, weights=(data * data).astype(np.float64), minlength=n)
            norms = np.sqrt(squares)
            norms[squares == 0.0] = 1.0
            data = (data / norms[row_of]).astype(self._dtype)
        return Rows(
            indptr=indptr, indices=indices, data=data, row_of=row_of, n_columns=self.n_features
        )


class LinearHead:
    """A fitted linear classifier with a softmax temperature, from its ``head_state``."""

    def __init__(self, state: Mapping[str, Any]) -> None:
        if state.get("kind") != HEAD_KIND:
            raise ValueError(f"not a serving head state: {state.get('kind')!r}")
        self.coef = np.ascontiguousarray(state["coef"])  # (n_outputs, n_features)
        self.intercept = np.asarray(state["intercept"])
        self.temperature = float(state["temperature"])
        self.classes_: tuple[str, ...] = tuple(str(c) for c in state["classes"])
        if self.coef.ndim != 2 or self.intercept.shape != (self.coef.shape[0],):
            raise ValueError("head coefficients and intercept do not agree")

    def decision_function(self, x: Rows) -> npt.NDArray[np.float64]:
        """One score column per class in ``classes_`` order (two for a binary model: ``-s/2, s/2``)."""
        if x.n_columns != self.coef.shape[1]:
            raise ValueError(f"{x.n_columns} features, the head reads {self.coef.shape[1]}")
        n, outputs = x.n_rows, self.coef.shape[0]
        values = x.data.astype(np.float64)
        scores = np.empty((n, outputs), dtype=np.float64)
        for output, coef in enumerate(self.coef):  # bincount adds in column order, as SciPy does
            scores[:, output] = np.bincount(x.row_of, weights=coef[x.indices] * values, minlength=n)
        scores += self.intercept
        if outputs == 1:
            return np.column_stack([-scores[:, 0] / 2.0, scores[:, 0] / 2.0])
        return scores

    def probabilities(
        self, x: Rows, shift: npt.NDArray[np.float64] | None = None
    ) -> npt.NDArray[np.float64]:
        """``softmax(temperature * (scores + shift))``, columns in ``classes_`` order."""
        scores = self.decision_function(x)
        return softmax(scores if shift is None else scores + shift, self.temperature)


# Conversion from the fitted scikit-learn objects (duck-typed: reading their attributes imports nothing).

_SUPPORTED = {
    "analyzer": "word",
    "input": "content",
    "preprocessor": None,
    "tokenizer": None,
    "binary": False,
}


def vectorizer_state(vectorizer: Any) -> dict[str, Any]:
    """The serving state of a fitted ``TfidfVectorizer`` (word 1-2-grams, no accent stripping).

    Raises ValueError for a configuration ``TfidfServing`` does not reproduce.
    """
    params = vectorizer.get_params()
    unsupported = {k: params.get(k) for k, v in _SUPPORTED.items() if params.get(k) != v}
    if params.get("strip_accents"):
        unsupported["strip_accents"] = params["strip_accents"]
    ngram_range = tuple(params["ngram_range"])
    if ngram_range not in ((1, 1), (1, 2), (2, 2)):
        unsupported["ngram_range"] = ngram_range
    if params.get("norm") not in ("l2", None):
        unsupported["norm"] = params.get("norm")
    if re.compile(params["token_pattern"]).groups > 1:
        unsupported["token_pattern"] = params["token_pattern"]
    if unsupported:
        raise ValueError(f"vectorizer settings the serving form does not reproduce: {unsupported}")
    terms = [(term.split(" "), int(column)) for term, column in vectorizer.vocabulary_.items()]
    words: dict[str, int] = {}
    for parts, _ in terms:
        for part in parts:
            words.setdefault(part, len(words))
    unigram_columns = np.full(len(words), -1, dtype=np.int32)
    pairs: list[tuple[int, int]] = []
    for parts, column in terms:
        if len(parts) == 1:
            unigram_columns[words[parts[0]]] = column
        elif len(parts) == 2:
            pairs.append((words[parts[0]] * len(words) + words[parts[1]], column))
        else:
            raise ValueError(f"vocabulary term of {len(parts)} words: {' '.join(parts)!r}")
    pairs.sort()
    use_idf = bool(params.get("use_idf", True))
    stop_words = vectorizer.get_stop_words()
    return {
        "kind": VECTORIZER_KIND,
        "n_features": len(vectorizer.vocabulary_),
        "words": words,
        "unigram_columns": unigram_columns,
        "bigram_keys": np.asarray([key for key, _ in pairs], dtype=np.int64),
        "bigram_columns": np.asarray([column for _, column in pairs], dtype=np.int32),
        "idf": np.array(vectorizer.idf_) if use_idf else None,
        "dtype": np.dtype(params["dtype"]).name,
        "lowercase": bool(params["lowercase"]),
        "token_pattern": str(params["token_pattern"]),
        "stop_words": tuple(sorted(stop_words or ())),
        "ngram_range": ngram_range,
        "sublinear_tf": bool(params["sublinear_tf"]),
        "norm": params["norm"],
    }


def head_state(classifier: Any, columns: npt.NDArray[np.intp], n_features: int) -> dict[str, Any]:
    """The serving state of a fitted ``TemperedLinear`` reading ``columns`` of the shared matrix: its
    coefficients widened to ``n_features`` columns (zero on the columns it does not read), in their dtype."""
    coef = np.asarray(classifier.estimator_.coef_)
    wide = np.zeros((coef.shape[0], n_features), dtype=coef.dtype)
    wide[:, np.asarray(columns, dtype=np.intp)] = coef
    return {
        "kind": HEAD_KIND,
        "coef": wide,
        "intercept": np.array(classifier.estimator_.intercept_, dtype=coef.dtype),
        "temperature": float(classifier.temperature),
        "classes": tuple(str(c) for c in classifier.classes_),
    }

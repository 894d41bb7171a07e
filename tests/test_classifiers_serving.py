"""The serving form (classifiers/serving.py) computes what the fitted scikit-learn objects compute."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from classifiers.estimators import TemperedLinear, build_vectorizer, head_columns
from classifiers.serving import LinearHead, TfidfServing, head_state, vectorizer_state

CORPUS = [
    "Printer on level 2 is jammed again",
    "VPN not working since this morning, cannot connect",
    "Please reset my password for Outlook",
    "New laptop request for the new hire",
    "Outlook keeps crashing when I open attachments",
    "The printer prints blank pages",
    "Request access to the finance share drive",
    "Wi-Fi drops every few minutes in building B",
    "I can't log in: my account's locked",
    "Café naïve résumé: Ünïcödé straße ﬁle",
    "Order 12345 and ticket INC0012 are 3.14 v2 x86_64",
    "the the the a an of and",
] * 3

TRICKY = [
    "",
    "   ",
    "a b c",  # single letters are no tokens
    "Ünïcödé ÇAFÉ naïve résumé straße STRASSE İstanbul ǅ ﬁle",
    "don't can't it's the user's o'clock rock'n'roll account's",
    "12 345 6789 v2 x86_64 a1b2 __init__ 3.14 INC0012",
    "printer printer printer jammed jammed",  # repeated terms: sublinear tf
    "the the the",  # only stop words / df-pruned terms
    "zzzz qqqq unseen words only",
    " ".join(["printer vpn outlook password café"] * 4000),  # very long
    "line\nbreaks\tand\r\ntabs, punctuation!!! (brackets) [x] {y} <z>",
    "emoji 🙂 and CJK 打印机 故障 and Arabic طابعة",
]


def _configs() -> list[TfidfVectorizer]:
    return [
        build_vectorizer().set_params(max_df=0.95),  # the served configuration (max_df pruning too)
        TfidfVectorizer(ngram_range=(1, 2), stop_words="english", dtype=np.float32),
        TfidfVectorizer(ngram_range=(1, 1), sublinear_tf=False),  # float64, raw tf
        TfidfVectorizer(ngram_range=(2, 2), norm=None, use_idf=False, lowercase=False),
    ]


@pytest.mark.parametrize(
    "vectorizer", _configs(), ids=["served", "stop_words", "unigrams", "bigrams"]
)
def test_serving_vectorizer_equals_sklearn_transform(vectorizer: TfidfVectorizer) -> None:
    """Same cells, same values, same dtype, bit for bit, on a table of tricky texts."""
    vectorizer.fit(CORPUS)
    serving = TfidfServing(vectorizer_state(vectorizer))
    texts = TRICKY + CORPUS[:12]
    expected = vectorizer.transform(texts).tocsr()
    got = serving.transform(texts)
    assert got.n_columns == expected.shape[1]
    assert got.data.dtype == expected.dtype
    np.testing.assert_array_equal(got.indptr, expected.indptr)
    np.testing.assert_array_equal(got.indices, expected.indices)
    np.testing.assert_array_equal(got.data, expected.data)
    assert serving.transform([]).n_rows == 0


def test_unsupported_vectorizer_is_refused() -> None:
    with pytest.raises(ValueError, match="strip_accents"):
        vectorizer_state(TfidfVectorizer(strip_accents="unicode").fit(CORPUS))


@pytest.mark.parametrize("classes", [2, 4], ids=["binary", "multiclass"])
def test_linear_head_equals_tempered_linear(classes: int) -> None:
    """Scores and probabilities (with and without a shift) equal TemperedLinear on the head's columns."""
    vectorizer = build_vectorizer().fit(CORPUS)
    x = vectorizer.transform(CORPUS).tocsr()
    labels = np.asarray([f"c{i % classes}" for i in range(len(CORPUS))])
    columns = head_columns(vectorizer.vocabulary_, frozenset({"the", "a", "of"}))
    classifier: Any = TemperedLinear(temperature=2.5).fit(x[:, columns], labels)
    head = LinearHead(head_state(classifier, columns, x.shape[1]))
    rows = TfidfServing(vectorizer_state(vectorizer)).transform(CORPUS)
    assert head.coef.dtype == classifier.estimator_.coef_.dtype
    assert head.classes_ == tuple(classifier.classes_)
    np.testing.assert_allclose(
        head.decision_function(rows),
        classifier.decision_function(x[:, columns]),
        rtol=0,
        atol=1e-12,
    )
    shift = np.linspace(-1, 1, len(CORPUS) * len(head.classes_)).reshape(len(CORPUS), -1)
    for s in (None, shift):
        np.testing.assert_allclose(
            head.probabilities(rows, s),
            classifier.predict_proba(x[:, columns], s),
            rtol=0,
            atol=1e-12,
        )

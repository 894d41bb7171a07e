"""Tests for classifiers.cues (impact, urgency, kind cues) and classifiers.labelling (weak category rules)."""

from __future__ import annotations

import sys

import pytest

from classifiers.cues import kind_vote, read_impact, read_priority, read_urgency
from classifiers.features import prepare_mail
from classifiers.labelling import CATEGORIES, KEY_PHRASES, label_category

IMPACT = [
    # (text, level, explicit)
    ("The payroll system is down for the whole Finance department.", "high", True),
    ("All users at HQ cannot send mail.", "high", True),
    ("Customers can't complete checkout on the online store.", "high", True),
    ("Rangkaian terputus di seluruh bangunan Blok B.", "high", True),
    ("Sistem gaji tidak dapat diakses oleh semua staf.", "high", True),
    ("The Penang branch is completely offline.", "high", True),
    ("Several people in our team are locked out.", "medium", True),
    ("None of us in the audit team can log in.", "medium", True),
    ("Beberapa orang staf di unit kami tidak boleh log masuk.", "medium", True),
    ("Semua orang dalam team kami tak boleh access folder.", "medium", True),
    ("My laptop won't boot.", "low", True),
    ("Saya tidak boleh log masuk.", "low", True),
    ("Printer jammed on level 2.", "low", False),
]

URGENCY = [
    # (text, kind, level, explicit)
    ("I can't do any work until it's unlocked.", None, "high", True),
    ("Salaries must be processed today.", None, "high", True),
    ("Please treat as urgent.", None, "high", True),
    ("Mohon tindakan segera.", None, "high", True),
    ("The form has to be filed before 3 pm.", None, "high", True),
    ("Saya tak boleh buat kerja langsung.", None, "high", True),
    ("My laptop shows a black screen.", "incident", "high", True),
    ("VPN drops every hour but I can still work.", "incident", "medium", True),
    ("Monitor flicker kadang-kadang, masih boleh guna.", "incident", "medium", True),
    ("Could you reset it? No rush.", "request", "low", True),
    ("Bila ada masa tolong tengok.", "incident", "low", True),
    ("Not urgent, it cannot print colour today.", "incident", "low", True),
    ("Please add me to the distribution list.", "request", "low", False),
    ("The printer prints faded pages.", "incident", "medium", False),
]

KIND = [
    # (text, vote)
    ("Outlook crashes every time I open it.", 1),
    ("Pencetak rosak.", 1),
    ("Webcam tak detect dalam Teams.", 1),
    ("Please install Visio on my PC.", -1),
    ("Mohon pasang perisian Adobe Reader.", -1),
    ("Could you create a shared mailbox for our team?", -1),
    ("The button is greyed out, could you please add me to the approvers?", 0),
    ("Question about the canteen menu.", 0),
]


@pytest.mark.parametrize(("text", "level", "explicit"), IMPACT)
def test_impact_is_read_from_how_many_people_are_affected(
    text: str, level: str, explicit: bool
) -> None:
    """Department/site/company/customers → high, a team → medium, the writer → low."""
    cue = read_impact(text)
    assert (cue.level, cue.explicit) == (level, explicit)


@pytest.mark.parametrize(("text", "kind", "level", "explicit"), URGENCY)
def test_urgency_is_read_from_how_much_work_has_stopped(
    text: str, kind: str | None, level: str, explicit: bool
) -> None:
    """Work stopped, a deadline today or "urgent" → high; degraded → medium; "no rush" → low."""
    cue = read_urgency(text, kind=kind)
    assert (cue.level, cue.explicit) == (level, explicit)


@pytest.mark.parametrize(("text", "vote"), KIND)
def test_kind_vote_says_fault_or_ask(text: str, vote: int) -> None:
    """A fault votes incident (+1), an ask votes request (-1), both or neither abstain (0)."""
    assert kind_vote(text) == vote


@pytest.mark.parametrize(
    ("text", "label", "explicit"),
    [
        ("Email is down for the whole company. Nobody can send or receive since 8:30.", "P1", True),
        ("Sistem kaunter di semua cawangan tidak berfungsi. Mohon tindakan segera!", "P1", True),
        ("Our team cannot open the shared drive, urgent please.", "P2", True),
        ("My laptop won't boot and I have a deadline today.", "P3", True),
        ("Wi-Fi is a bit slow in my room.", "P4", True),
        ("Please add a printer to my laptop.", "P4", False),
    ],
)
def test_priority_goes_through_the_matrix(text: str, label: str, explicit: bool) -> None:
    """Impact x urgency → P1-P4 by the default matrix; explicit only when both were read."""
    cue = read_priority(text, kind="request" if text.startswith("Please") else "incident")
    assert (cue.label, cue.explicit) == (label, explicit)


LABELLED = [
    ("Printer on floor 3 is jammed", "", "printing"),
    ("Outlook keeps crashing", "Outlook crashes when I open a calendar invite.", "email"),
    ("VPN not connecting", "The VPN client says authentication failed.", "network"),
    ("Laptop won't boot", "Black screen after the update, the laptop fan spins.", "hardware"),
    ("Locked out", "My account is locked after a password change.", "access"),
    ("Install Visio", "Please install Visio, licence approved.", "software"),
    ("Payroll down", "The payroll system is down for Finance.", "business_apps"),
    (
        "Restore folder",
        "Please restore the deleted folder on the shared drive from backup.",
        "storage",
    ),
    ("Laptop stolen", "My laptop was stolen from my car.", "security"),
    ("Phishing", "I clicked a phishing link in an email.", "security"),
    ("Pencetak rosak", "Pencetak di tingkat 2 tidak berfungsi.", "printing"),
    ("Akaun dikunci", "Akaun saya dikunci, kata laluan tamat tempoh.", "access"),
    ("Help", "Something is not right, please call me.", None),
]


@pytest.mark.parametrize(("subject", "body", "label"), LABELLED)
def test_weak_labelling_rules(subject: str, body: str, label: str | None) -> None:
    """Each category's key phrases label a typical ticket; a text with no phrase abstains."""
    mail = prepare_mail(subject, body)
    weak = label_category(mail.subject_text, mail.model_text[len(mail.subject_text) :])
    assert weak.label == label


def test_a_tie_abstains_and_a_tag_can_veto() -> None:
    """Two categories with the same score give no label; a contradicting tag removes one of them."""
    assert label_category("", "printer laptop").label is None
    assert label_category("", "printer laptop", tag="HR Support").label is None
    assert label_category("", "laptop order purchase", tag="Purchase").label == "hardware"
    assert (
        label_category("", "vpn outlook", tag="Purchase").label is None
    )  # email and network vetoed
    assert set(KEY_PHRASES) == set(CATEGORIES)


def test_lower_gives_its_own_output_back() -> None:
    """read_priority lower-cases once for both cues, which is read_impact's and read_urgency's own
    lower-casing only because str.lower is idempotent: every code point, and final sigma in context."""
    assert all(c.lower().lower() == c.lower() for c in map(chr, range(sys.maxunicode + 1)))
    for text in ("ΟΔΟΣ Σ", "ΣΑΣ. Σ", "İstanbul ſ \u212a", "AΣ\u0301 b"):
        assert text.lower().lower() == text.lower()


def test_priority_is_impact_and_urgency() -> None:
    for text in (
        "WHOLE DEPARTMENT is down İ",
        "no rush, ſometime",
        "my printer \u212aeeps jamming",
    ):
        cue = read_priority(text, kind="request")
        assert cue.impact == read_impact(text)
        assert cue.urgency == read_urgency(text, kind="request")

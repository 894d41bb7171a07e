"""Tests for classifiers.breach: the data-breach fast path rules (English and Malay), table-driven."""

from __future__ import annotations

import random
import re
from re import _constants as _c  # the parse tree of a pattern, to generate strings it matches
from re import _parser
from typing import Any

import pytest

from classifiers.breach import BREACH_RULES, BreachRule, detect_breach

FLAGGED = [
    ("Data breach", "We think we have a data breach on the CRM server.", "data_breach"),
    ("", "Our admin passwords were leaked on a public paste site.", "leaked_credentials"),
    (
        "Account hacked",
        "My email account has been compromised and is sending spam.",
        "leaked_credentials",
    ),
    (
        "Help!!",
        "All files on the shared drive are encrypted and there is a ransom note on the desktop.",
        "ransomware",
    ),
    ("", "Ransomware popped up on the finance PC.", "ransomware"),
    (
        "Phishing",
        "I clicked a phishing link this morning and entered my password on the page.",
        "phished_credentials",
    ),
    (
        "Fwd: Action required: your mailbox will be suspended - I clicked it",
        "I got the e-mail below, clicked the link and typed in my e-mail address and password on the\n"
        "page before I realised the address wasn't ours.\n\n---------- Forwarded message ---------\n"
        "From: IT Helpdesk <it@secure-mailbox.example.net>\nDate: today\n\nValidate your mailbox now.",
        "credentials_entered_after_link",
    ),
    ("Help", "I clicked a link and entered my password.", "credentials_entered_after_link"),
    (
        "",
        "Sorry, I typed my credentials into a fake login page this morning.",
        "credentials_entered_after_link",
    ),
    (
        "Microsoft login?",
        "I put my username and password into the page, then saw the domain was not ours.",
        "credentials_entered_after_link",
    ),
    (
        "",
        "Clicked the button in the DocuSign mail and entered my Office 365 password, now I get\n"
        "strange bounce messages.",
        "credentials_entered_after_link",
    ),
    ("Tolong", "Saya klik pautan dan masukkan kata laluan.", "kata_laluan_dimasukkan_di_pautan"),
    (
        "",
        "Saya telah klik pautan dalam emel itu dan memasukkan kata laluan saya.",
        "kata_laluan_dimasukkan_di_pautan",
    ),
    (
        "",
        "Saya menaip kata laluan saya di laman log masuk palsu semalam.",
        "kata_laluan_dimasukkan_di_pautan",
    ),
    ("", "Customer data exposed: the export folder was publicly accessible.", "data_exposed"),
    (
        "Wrong recipient",
        "I sent the payroll spreadsheet with personal data to the wrong recipient.",
        "misdirected_personal_data",
    ),
    (
        "Lost laptop",
        "I lost my laptop on the train; it has customer data on it.",
        "lost_device_with_data",
    ),
    ("Kebocoran data", "Terdapat kebocoran data pelanggan dari sistem CRM.", "kebocoran_data"),
    ("", "Kata laluan saya telah bocor di internet.", "kata_laluan_bocor"),
    ("Serangan", "Komputer kami dijangkiti perisian tebusan pagi tadi.", "perisian_tebusan"),
    (
        "",
        "Komputer riba saya telah dicuri, ada maklumat pelanggan di dalamnya.",
        "komputer_hilang_dengan_data",
    ),
    ("", "Fail gaji telah dihantar kepada penerima yang salah.", "salah_penerima_data_peribadi"),
    (
        "Sign-in",
        "Someone signed into my account from Russia an hour ago. I'm in KL.",
        "suspicious_sign_in",
    ),
    ("Alert", "Unusual sign-in activity on my account - it was not me.", "suspicious_sign_in"),
    (
        "Caller",
        "A man called saying he was from IT and I gave him my password and the code from my phone.",
        "credentials_given_away",
    ),
    (
        "",
        "Filled in my username and password on a page after clicking a link in an SMS.",
        "credentials_given_away",
    ),
    ("", "Dapat alert ada login ke akaun saya dari Vietnam, bukan saya.", "log_masuk_mencurigakan"),
    ("Akaun", "Rasanya akaun emel saya kena hack.", "akaun_digodam"),
    (
        "",
        "The customer database backup was publicly accessible on the internet for two weeks.",
        "publicly_exposed_data",
    ),
    (
        "",
        "Someone broke into my car and took my laptop with the client files.",
        "lost_device_with_data",
    ),
    (
        "",
        "I attached the wrong file: the spreadsheet with our employees' bank details went to a supplier.",
        "misdirected_personal_data",
    ),
    ("", "Screen says my files are encrypted and I must pay in bitcoin.", "ransomware"),
    (
        "",
        "Tadi saya tersalah hantar fail gaji staf kepada vendor luar.",
        "salah_penerima_data_peribadi",
    ),
]

NOT_FLAGGED = [
    ("Password reset", "How do I reset my password? I forgot it after the holidays."),
    ("Password expired", "My password expired and I cannot log in to Outlook."),
    ("Question", "How can we prevent a data breach? Please send the security policy."),
    ("Training", "Please enrol our team in the phishing awareness training."),
    ("Laptop", "I lost my laptop charger, can I get a new one?"),
    ("Email", "I sent the meeting invite to the wrong address, please recall it."),
    ("Kata laluan", "Bagaimana untuk menukar kata laluan saya?"),
    ("Printer", "The printer on level 3 is jammed."),
    ("Re: ticket", "Thanks, fixed now.\n\n> On Monday we found a data breach in the old system."),
    ("Reset", "I clicked the password reset link and entered my new password but it still fails."),
    ("Locked", "I clicked the link you sent and entered my password, still locked out."),
    ("Suspicious mail", "The login page looks fake to me, should I enter my password?"),
    ("Phishing report", "I received a phishing email with a link, I did not click it."),
    ("Login", "I entered my password three times and now my account is locked."),
    ("Set semula", "Saya klik pautan set semula dan masukkan kata laluan baharu tetapi gagal."),
    ("Pautan", "Saya terima emel mencurigakan dengan pautan, saya tidak klik."),
    ("Awareness", "October cyber security month - ransomware"),
    ("Badge", "I lost my access badge, can I get a new one?"),
    ("Print", "I sent my print job to the wrong printer, can you cancel it?"),
    ("Invite", "I sent the party invite to the wrong distribution list, please recall it."),
    ("Abroad", "Will the VPN work from abroad? I travel to Japan next week."),
    ("Not me", "The room was booked under my name but it was not me who booked it."),
    ("Locked", "I typed my password wrong too many times and now I'm locked out."),
    ("Safe?", "Is it safe to type my password into the new HR app?"),
    ("Export", "Please give me access to export customer data from the CRM."),
    ("Kad", "Kad akses saya hilang, macam mana nak dapatkan yang baru?"),
]


@pytest.mark.parametrize(("subject", "body", "rule"), FLAGGED, ids=[case[2] for case in FLAGGED])
def test_breach_is_flagged_with_reason(subject: str, body: str, rule: str) -> None:
    """Each breach pattern flags the mail and names its rule."""
    verdict = detect_breach(subject, body)
    assert verdict.flagged
    assert rule in verdict.reasons


@pytest.mark.parametrize(("subject", "body"), NOT_FLAGGED, ids=[case[0] for case in NOT_FLAGGED])
def test_ordinary_security_mail_is_not_flagged(subject: str, body: str) -> None:
    """Password resets, expiries, questions and quoted history are not breaches."""
    verdict = detect_breach(subject, body)
    assert not verdict.flagged, verdict.reasons


def test_every_rule_is_exercised() -> None:
    """The table above covers every rule, so a new rule needs a new row."""
    assert {rule.name for rule in BREACH_RULES} == {case[2] for case in FLAGGED}


def _rows(name: str) -> list[dict[str, str]]:
    import csv
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "classifiers" / "data" / name
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("name", ["eval_it_mails.csv", "breach_check_mails.csv"])
def test_hand_written_breach_reports_are_all_caught_with_few_false_alarms(name: str) -> None:
    """On the hand-written IT mails every breach report is flagged and at most 5 % of the others are."""
    rows = _rows(name)
    verdicts = [
        (row["breach"] == "yes", detect_breach(row["subject"], row["body"])) for row in rows
    ]
    missed = [
        row["subject"] for row, (b, v) in zip(rows, verdicts, strict=True) if b and not v.flagged
    ]
    false_alarms = sum(1 for b, v in verdicts if v.flagged and not b)
    assert not missed
    assert false_alarms <= 0.05 * sum(1 for b, _ in verdicts if not b)


# One row per branch a rule's prefilter words (``BreachRule.needs``) must let through, the rarest first:
# a word missing from a group would drop exactly these mails.
BRANCHES = [
    ("leaked_credentials", "Somebody posted online our api keys yesterday."),
    ("leaked_credentials", "My mailbox might have been taken over."),
    ("leaked_credentials", "Looks like I got hacked."),
    ("leaked_credentials", "Someone has reset my password."),
    ("leaked_credentials", "People got e-mails that I didn't send."),
    ("leaked_credentials", "I did not send them, honestly."),
    ("ransomware", "The files on my pc are renamed and ask me to pay to decrypt them."),
    ("ransomware", "A message wants btc or my files stay locked."),
    ("ransomware", "All my documents were decrypted? no, encrypted, and a ransom is asked."),
    ("phished_credentials", "I submitted my credentials there, then saw it was spoofed."),
    ("credentials_entered_after_link", "I entered my one-time code on a look-alike page."),
    ("credentials_entered_after_link", "I typed my mfa code on that page but it was not legit."),
    (
        "credentials_entered_after_link",
        "I gave my sign-in details to a site that is not our real site.",
    ),
    ("credentials_entered_after_link", "The bogus login form asked and I filled in my login info."),
    ("kata_laluan_dimasukkan_di_pautan", "Saya isi kata laluan di laman bukan rasmi."),
    ("data_exposed", "Unauthorized person viewed customer records last night."),
    ("data_exposed", "Patient data files were accessed without consent."),
    ("suspicious_sign_in", "There was a login to my account, it wasn't me."),
    ("suspicious_sign_in", "Someone signed in to my account and I didn't do that."),
    ("suspicious_sign_in", "My account shows a log-in from an unfamiliar device."),
    ("credentials_given_away", "The caller asked and I read out my one-time password."),
    ("publicly_exposed_data", "Fail gaji boleh diakses oleh orang awam."),
    ("publicly_exposed_data", "The salary sheet is open to anyone with the link."),
    ("log_masuk_mencurigakan", "Ada login dari Rusia, bukan saya."),
    (
        "log_masuk_mencurigakan",
        "Someone tried to log in from Lagos but I haven't travelled at all.",
    ),
    ("log_masuk_mencurigakan", "Login from Paris at 3am while I'm in Penang."),
    ("log_masuk_mencurigakan", "Kata laluan saya ditukar oleh orang lain."),
    ("akaun_digodam", "Emel saya dah kena godam."),
    ("misdirected_personal_data", "I emailed the client list to an external vendor in error."),
    ("misdirected_personal_data", "The payroll file was forwarded by mistake to a supplier."),
    ("misdirected_personal_data", "I accidentally cc'd all staff on the salary review."),
    ("lost_device_with_data", "Someone snatched my work tablet with patient files on it."),
    ("lost_device_with_data", "I dropped my usb stick on the bus, it has customer data."),
    ("lost_device_with_data", "Thieves broke into my car overnight; the laptop had client files."),
    ("kebocoran_data", "Maklumat pelanggan telah terdedah."),
    ("kata_laluan_bocor", "Akaun kewangan telah dicerobohi."),
    ("perisian_tebusan", "Fail kami dikunci dan mereka minta bayaran."),
    ("komputer_hilang_dengan_data", "Laptop saya kena curi, ada data pelanggan."),
    ("salah_penerima_data_peribadi", "Slip gaji pekerja dihantar kepada penerima yang salah."),
    ("salah_penerima_data_peribadi", "Saya tersalah emel fail gaji staf."),
]


@pytest.mark.parametrize(
    ("rule", "body"), BRANCHES, ids=[f"{r}-{i}" for i, (r, _) in enumerate(BRANCHES)]
)
def test_prefilter_lets_every_branch_through(rule: str, body: str) -> None:
    """The rule flags the mail, through its prefilter: a prefilter word missing would fail here."""
    (named,) = [r for r in BREACH_RULES if r.name == rule]
    whole = " ".join(body.lower().split())
    assert named.possible(whole)
    assert rule in detect_breach("", body).reasons


def _sample(pattern: re.Pattern[str], rng: random.Random) -> str | None:
    """A random string ``pattern`` matches, built from its parse tree (None if 20 tries do not match)."""

    def category(code: Any) -> str:
        return {_c.CATEGORY_SPACE: rng.choice(" \n"), _c.CATEGORY_DIGIT: "7"}.get(
            code, rng.choice("abcxyz")
        )

    def build(items: Any) -> str:
        out: list[str] = []
        for op, av in items:
            if op is _c.LITERAL:
                out.append(chr(av))
            elif op is _c.NOT_LITERAL:
                out.append("q")
            elif op is _c.ANY:
                out.append(rng.choice("a ."))
            elif op is _c.IN and any(o is _c.NEGATE for o, _ in av):
                out.append("q")
            elif op is _c.IN:
                o, a = rng.choice(list(av))
                out.append(
                    chr(a) if o is _c.LITERAL else chr(a[0]) if o is _c.RANGE else category(a)
                )
            elif op is _c.BRANCH:
                out.append(build(rng.choice(av[1])))
            elif op is _c.SUBPATTERN:
                out.append(build(av[3]))
            elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT):
                low, high, sub = av
                count = rng.randint(low, low + 3 if high is _c.MAXREPEAT else min(high, low + 3))
                out.extend(build(sub) for _ in range(count))
            elif op is _c.CATEGORY:
                out.append(category(av))
            # AT (\b) and lookarounds add nothing; the search below keeps only real matches
        return "".join(out)

    tree = _parser.parse(pattern.pattern, pattern.flags)
    for _ in range(20):
        text = build(tree)
        if pattern.search(text):
            return text
    return None


@pytest.mark.parametrize("rule", BREACH_RULES, ids=[rule.name for rule in BREACH_RULES])
def test_prefilter_lets_random_matches_through(rule: BreachRule) -> None:
    """Strings generated from the rule's own pattern (and ``also``), any branch, pass its prefilter."""
    rng = random.Random(rule.name)  # fixed per rule: the same strings every run
    tried = 0
    for _ in range(400):
        match = _sample(rule.pattern, rng)
        also = _sample(rule.also, rng) if rule.also else ""
        if match is None or also is None:
            continue
        tried += 1
        assert rule.possible(" ".join(f"{match} . {also}".split())), (match, also)
    assert tried > 300

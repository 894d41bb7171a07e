"""Issue 11: only a verified agent acts on a ticket; strangers cannot join a thread or inject RCPTs.

Every test replays a reproduction from the issue against real Dovecot and the SMTP sink; each
forged mail is paired with the same mail done right (a verified agent), so the tests can fail.
"""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email import policy
from pathlib import Path
from typing import Any

import pytest

from pipeline.app import Tiket
from pipeline.edges import models as m
from pipeline.jobs.intake import NoTriage
from tests.servers import ImapUser, SmtpSink
from tests.test_intake_imap import mailbox_entry
from tests.tiket_fixtures import test_settings

AGENT = "alice@example.org"
REQUESTER = "ann@example.com"
MX = "mx.example.org"
pytestmark = pytest.mark.servers


def auth_results(result: str = "pass", server: str = MX, domain: str = "example.org") -> str:
    """The Authentication-Results header a receiving server prepends (RFC 8601)."""
    return f"Authentication-Results: {server}; dmarc={result} header.from={domain}\r\n"


def agent_mail(
    n: int, body: str, *, sender: str = f"Alice <{AGENT}>", thread: str = "", top: str = ""
) -> bytes:
    headers = f"In-Reply-To: {thread}\r\nReferences: {thread}\r\n" if thread else ""
    return (
        f"{top}From: {sender}\r\nTo: support@example.org\r\nSubject: Re: [TKT-000001] VPN down\r\n"
        f"Message-ID: <agent-{n}@example.org>\r\n{headers}\r\n{body}\r\n"
    ).encode()


class Desk:
    """A desk on Dovecot and the SMTP sink with ticket TKT-000001 from ann, escalated to L2."""

    def __init__(self, tmp_path: Path, imap: ImapUser, sink: SmtpSink, **extra: Any) -> None:
        sections: dict[str, dict[str, Any]] = {
            "tiers.L2": {"members": [AGENT], "group": "l2@example.org"},
            "security": {"trusted_authserv_id": MX},
        }
        for key, values in extra.items():
            sections.setdefault(key.replace("__", "."), {}).update(values)
        self.settings = test_settings(
            tmp_path,
            mailboxes=[mailbox_entry(imap, tmp_path)],
            outbox_url=f"smtp://127.0.0.1:{sink.port}",
            extra=sections,
        )
        self.imap = imap
        self.sink = sink
        self.runtime = Tiket.open(self.settings, triager=NoTriage())
        self.deliver(
            f"From: Ann <{REQUESTER}>\r\nTo: support@example.org\r\nSubject: VPN down\r\n"
            "Message-ID: <ann-1@example.com>\r\n\r\nThe VPN does not connect.\r\n".encode()
        )
        self.runtime.desk.assign("TKT-000001", "L2", "l1.carol", datetime.now(UTC))
        self.runtime.run_once()
        [escalation] = self.mails_to("l2@example.org")
        self.token_id = str(escalation["Message-ID"])

    def deliver(self, raw: bytes) -> None:
        self.imap.append("INBOX", raw)
        self.runtime.run_once()

    def mails_to(self, address: str) -> list[email.message.EmailMessage]:
        return [
            email.message_from_bytes(raw, policy=policy.default)  # type: ignore[misc]
            for meta, raw in self.sink.messages()
            if address in meta["rcpt_tos"]
        ]

    def ticket(self) -> m.Ticket:
        return m.Ticket.get_by_id(1)

    def audit(self, action: str) -> list[str]:
        return [a.detail for a in m.AuditRow.select().where(m.AuditRow.action == action)]


@pytest.fixture
def desk(tmp_path: Path, imap_user: ImapUser, smtp_sink: SmtpSink) -> Desk:
    return Desk(tmp_path, imap_user, smtp_sink)


def assert_untouched(desk: Desk, requester_mails: int = 2) -> None:
    """Ticket 1 is still open at L2 with no label; ann got only the ack and the escalation note."""
    ticket = desk.ticket()
    assert (ticket.status, ticket.tier, ticket.priority, ticket.category) == (
        "open",
        "L2",
        None,
        None,
    )
    assert len(desk.mails_to(REQUESTER)) == requester_mails
    assert m.Decision.select().count() == 0


def test_a_verified_agent_resolves_by_mail_end_to_end(desk: Desk) -> None:
    """Control: a reply to the escalation mail, passed by the desk's MTA, runs #resolve."""
    desk.deliver(
        agent_mail(
            1,
            "Fixed the profile.\r\n#resolve new VPN profile",
            thread=desk.token_id,
            top=auth_results(),
        )
    )
    assert desk.ticket().status == "resolved"
    texts = [str(msg["Subject"]) for msg in desk.mails_to(REQUESTER)]
    assert (
        any("Resolved" in s for s in texts) and len(texts) == 4
    )  # ack, passed to L2, answer, resolved


def test_from_header_alone_with_a_subject_tag_runs_nothing(desk: Desk) -> None:
    """From: alice + [TKT-000001] + #priority P1 #category poison #escalate #assign L3: nothing
    happens, the attempt is audited, and the real alice is told."""
    body = "#priority P1\r\n#category hacked-label-poison\r\n#escalate\r\n#assign L3"
    desk.deliver(agent_mail(1, body, top=auth_results()))
    assert_untouched(desk)
    [refused] = desk.audit("agent_mail_refused")
    assert "no Message-ID of ours" in refused and "#category" in refused
    [notice] = desk.mails_to(AGENT)
    assert "not acted on" in str(notice["Subject"])


def test_a_guessed_message_id_of_ours_proves_nothing(desk: Desk) -> None:
    """In-Reply-To: <TKT-000001@tiket.example.org> and #resolve: the ticket stays open."""
    desk.deliver(
        agent_mail(1, "#resolve pwned", thread="<TKT-000001@tiket.example.org>", top=auth_results())
    )
    assert_untouched(desk)
    assert desk.audit("agent_mail_refused")


def test_a_valid_token_with_dmarc_failing_at_our_server_runs_nothing(desk: Desk) -> None:
    """The token was leaked or the mail forged: the trusted server says dmarc=fail."""
    desk.deliver(agent_mail(1, "#resolve", thread=desk.token_id, top=auth_results("fail")))
    assert_untouched(desk)
    [refused] = desk.audit("agent_mail_refused")
    assert "dmarc=fail" in refused


def test_authentication_results_of_another_server_are_ignored(desk: Desk) -> None:
    """A forged header from the attacker's own 'server' saying pass does not count."""
    forged = auth_results(server="mx.attacker.test")
    desk.deliver(agent_mail(1, "#close", thread=desk.token_id, top=forged))
    assert_untouched(desk)
    [refused] = desk.audit("agent_mail_refused")
    assert f"no Authentication-Results header from {MX}" in refused


@pytest.mark.parametrize(
    "sender",
    [
        "alice@example.org <mallory@attacker.test>",
        '"alice@example.org" <mallory@attacker.test>',
        "alice@example.org, mallory@attacker.test",
    ],
    ids=["bare-name", "quoted-name", "two-addresses"],
)
def test_display_name_tricks_and_two_addresses_are_never_an_agent(desk: Desk, sender: str) -> None:
    """Valid token, DMARC pass, but the From names two mailboxes: no command runs."""
    desk.deliver(agent_mail(1, "#resolve", sender=sender, thread=desk.token_id, top=auth_results()))
    assert_untouched(desk)
    assert not any(a.actor == AGENT for a in m.StatusChange.select())


def test_a_token_issued_for_another_ticket_does_not_act_on_this_one(desk: Desk) -> None:
    """A token is bound to its ticket: a valid id of TKT-000001 cannot act on TKT-000002."""
    desk.deliver(
        b"From: Bo <bo@example.com>\r\nTo: support@example.org\r\nSubject: Printer\r\n"
        b"Message-ID: <bo-1@example.com>\r\n\r\nPrinter broken.\r\n"
    )
    forged = agent_mail(1, "#close", thread=desk.token_id, top=auth_results()).replace(
        b"[TKT-000001]", b"[TKT-000002]"
    )
    desk.deliver(forged.replace(b"References:", b"X-Old-References:"))
    assert m.Ticket.get_by_id(2).status == "new"


def test_invented_category_and_disallowed_commands_are_refused(
    tmp_path: Path, imap_user: ImapUser, smtp_sink: SmtpSink
) -> None:
    """A verified agent still cannot invent a category (a training label) or use a command
    their tier may not use by mail."""
    desk = Desk(
        tmp_path, imap_user, smtp_sink, tiers__L2={"mail_commands": ["resolve", "category"]}
    )
    desk.deliver(
        agent_mail(1, "#category hacked-label-poison", thread=desk.token_id, top=auth_results())
    )
    desk.deliver(agent_mail(2, "#close", thread=desk.token_id, top=auth_results()))
    assert_untouched(desk)
    refused = desk.audit("agent_command_refused")
    assert any("unknown category" in r for r in refused)
    assert any("#close is not allowed" in r for r in refused)


def test_possession_alone_mode_runs_commands_without_authentication_results(
    tmp_path: Path, imap_user: ImapUser, smtp_sink: SmtpSink
) -> None:
    """agent_mail_auth = "token": a desk whose server adds no header runs on the token."""
    desk = Desk(tmp_path, imap_user, smtp_sink, security={"agent_mail_auth": "token"})
    desk.deliver(agent_mail(1, "#resolve done", thread=desk.token_id))
    assert desk.ticket().status == "resolved"


def test_a_stranger_cannot_join_a_ticket_by_its_thread(desk: Desk) -> None:
    """In-Reply-To a guessed id, and even the real escalation id: a stranger's mail opens a new
    ticket linked to ticket 1, which stays as it was (no reopen, no forward, no participant)."""
    for n, thread in enumerate(("<TKT-000001@tiket.example.org>", desk.token_id)):
        desk.deliver(
            f"From: Eve <eve@attacker.test>\r\nTo: support@example.org\r\nSubject: Re: VPN\r\n"
            f"Message-ID: <eve-{n}@attacker.test>\r\nIn-Reply-To: {thread}\r\n\r\nHi\r\n".encode()
        )
    participants = {p.address for p in m.Participant.select().where(m.Participant.ticket == 1)}
    assert participants == {REQUESTER}
    assert m.Message.select().where(m.Message.ticket == 1).count() == 1
    assert len(desk.mails_to("l2@example.org")) == 1  # only the escalation
    linked = [t for t in m.Ticket.select() if t.linked_to_id == 1]
    assert len(linked) == 1  # the real id proves the thread: linked; the guessed one does not
    assert any("does not take part" in d for d in desk.audit("linked"))
    # the requester herself, answering our acknowledgement, still joins her ticket
    ack = desk.mails_to(REQUESTER)[0]
    desk.deliver(
        f"From: Ann <{REQUESTER}>\r\nTo: support@example.org\r\nSubject: Re: VPN\r\n"
        f"Message-ID: <ann-2@example.com>\r\nIn-Reply-To: {ack['Message-ID']}\r\n\r\nStill.\r\n".encode()
    )
    assert m.Message.select().where(m.Message.ticket == 1).count() == 2


def test_our_message_ids_carry_a_token_bound_to_their_recipient(desk: Desk) -> None:
    """No id we send is the guessable <REF.purpose@domain> of old: each ends in a token."""
    ids = [str(msg["Message-ID"]) for (msg,) in ((x,) for x in desk.mails_to(REQUESTER))]
    ids.append(desk.token_id)
    for message_id in ids:
        local = message_id.strip("<>").split("@")[0]
        assert len(local.rsplit(".", 1)[1]) == 24, message_id


def test_a_quoted_from_with_commas_never_becomes_several_rcpts(desk: Desk) -> None:
    """From: "x,victim1@corp.example,victim2@other.example,y"@attacker.test: the sink sees no
    victim; every mail it got went to exactly one RCPT; the ticket is recorded unanswered."""
    before = len(desk.sink.messages())
    desk.deliver(
        b'From: "x,victim1@corp.example,victim2@other.example,y"@attacker.test\r\n'
        b"To: support@example.org\r\nSubject: hello\r\nMessage-ID: <inj-1@attacker.test>\r\n\r\n"
        b"Hi\r\n"
    )
    desk.deliver(
        b"From: Bo <bo@example.com>\r\nTo: support@example.org\r\nSubject: Printer\r\n"
        b"Message-ID: <bo-1@example.com>\r\n\r\nPrinter broken.\r\n"
    )
    new = desk.sink.messages()[before:]
    assert [meta["rcpt_tos"] for meta, _ in new] == [["bo@example.com"]]
    assert m.Ticket.select().count() == 3
    [held] = desk.audit("not_acknowledged")
    assert "has_no_sender" in held


def test_the_outbox_refuses_a_recipient_that_is_not_one_mailbox(desk: Desk) -> None:
    """Even a row that reached the outbox goes nowhere when its address is not one mailbox."""
    from pipeline.records import OutgoingMail

    bad = '"x,victim1@corp.example,y"@attacker.test'
    raw = b"From: support@example.org\r\nTo: x\r\nSubject: t\r\n\r\nt\r\n"
    desk.runtime.store.queue_mails(
        [
            OutgoingMail(message_id="<t1@x>", template="t", to=(bad,), subject="t", raw=raw),
            OutgoingMail(
                message_id="<t2@x>", template="t", to=("ok@example.com",), subject="t", raw=raw
            ),
        ],
        datetime.now(UTC),
    )
    before = len(desk.sink.messages())
    stats = desk.runtime.deliver_outbox()
    assert (stats.sent, stats.failed) == (1, 1)
    assert [meta["rcpt_tos"] for meta, _ in desk.sink.messages()[before:]] == [["ok@example.com"]]
    row = m.OutboxRow.get(m.OutboxRow.message_id == "<t1@x>")
    assert row.status == "failed" and "not exactly one mailbox" in row.last_error

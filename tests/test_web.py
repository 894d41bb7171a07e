"""The web console through its WSGI app (Flask's test client): sign-in, sessions, CSRF, the queue,
the ticket page, every action through the desk, stale saves, safe attachments, and the CLI twins."""

from __future__ import annotations

import email
import re
from email import policy
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from pipeline.app import Tiket
from pipeline.cli import main
from pipeline.edges import models as m
from pipeline.web import create_app
from tests.tiket_fixtures import test_settings  # noqa: F401  (runs each test on both backends)
from tests.web_fixtures import ANNA, BOB, BOSS, desk_settings, link_in, seed_tickets


def R(n: int) -> str:
    """The ref of the ticket made from seed mail n (refs follow the Maildir's order, not n)."""
    return str(m.Ticket.get(m.Ticket.requester == f"user{n}@example.com").ref)


def outbox_mails(tmp_path: Path) -> list[email.message.EmailMessage]:
    folder = tmp_path / "outbox"
    return (
        [
            email.message_from_bytes(p.read_bytes(), policy=policy.default)  # type: ignore[misc]
            for p in sorted(folder.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
        ]
        if folder.exists()
        else []
    )


def mails_to(tmp_path: Path, address: str) -> list[email.message.EmailMessage]:
    return [msg for msg in outbox_mails(tmp_path) if address in str(msg["To"])]


def text(msg: email.message.EmailMessage) -> str:
    body = msg.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def pre(client: FlaskClient, path: str = "/signin") -> str:
    page = client.get(path).get_data(as_text=True)
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found
    return found.group(1)


def ask_link(client: FlaskClient, address: str) -> int:
    return client.post("/signin", data={"address": address, "csrf": pre(client)}).status_code


def sign_in(client: FlaskClient, tmp_path: Path, address: str) -> str:
    """Ask for a link, take it from the outbox, use it; returns the session's CSRF token."""
    ask_link(client, address)
    link = link_in(text(mails_to(tmp_path, address)[-1]))
    path = link.split("://", 1)[1].split("/", 1)[1]
    response = client.post("/" + path, data={"csrf": pre(client, "/" + path)})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    page = client.get("/").get_data(as_text=True)
    found = re.search(r'data-csrf="([^"]+)"', page)
    assert found
    return found.group(1)


@pytest.fixture
def desk(tmp_path: Path) -> tuple[Tiket, FlaskClient]:
    settings = desk_settings(tmp_path)
    app = seed_tickets(settings, tmp_path)
    flask = create_app(app, lambda: app.deliver_outbox() and None)
    flask.testing = True
    return app, flask.test_client()


def test_without_a_session_everything_is_refused(desk: Any) -> None:
    """No session: pages redirect to sign-in, fragments and actions get 401, nothing changes."""
    app, client = desk
    assert client.get("/").status_code == 302
    assert client.get(f"/t/{R(1)}").headers["Location"] == "/signin"
    assert client.get("/rows", headers={"HX-Request": "true"}).status_code == 401
    assert client.post(f"/t/{R(1)}/accept", data={"csrf": "x"}).status_code == 401
    assert app.store.ticket_state(f"{R(1)}").needs_review


def test_a_link_signs_an_agent_in_once_and_csrf_guards_every_post(
    desk: Any, tmp_path: Path
) -> None:
    """The mailed link works once; the session cookie is HttpOnly+Lax; a POST without the token fails."""
    app, client = desk
    csrf = sign_in(client, tmp_path, ANNA)
    cookie = client.get_cookie("tiket_session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
    assert m.SignInRequest.select().where(m.SignInRequest.token_hash.is_null(False)).count() == 1
    token = link_in(text(mails_to(tmp_path, ANNA)[-1])).rsplit("/", 1)[1]
    assert not m.SignInRequest.select().where(m.SignInRequest.token_hash == token).exists()
    other = app_client(app)
    again = other.post(f"/signin/{token}", data={"csrf": pre(other, f"/signin/{token}")})
    assert again.status_code == 403 and other.get_cookie("tiket_session") is None
    assert client.post(f"/t/{R(1)}/accept", data={"version": "1"}).status_code == 403
    assert client.post(f"/t/{R(1)}/accept", data={"csrf": "forged"}).status_code == 403
    assert app.store.ticket_state(f"{R(1)}").needs_review
    done = client.post(f"/t/{R(1)}/accept", data={"csrf": csrf})
    assert done.status_code == 303 and not app.store.ticket_state(f"{R(1)}").needs_review
    assert m.Decision.select().where(m.Decision.agent == ANNA).count() == 3


def app_client(app: Tiket) -> FlaskClient:
    flask = create_app(app, lambda: app.deliver_outbox() and None)
    flask.testing = True
    return flask.test_client()


def test_an_expired_link_and_a_strangers_address_get_nothing(desk: Any, tmp_path: Path) -> None:
    """A link past 15 minutes is refused; a stranger gets no mail and the same answer as an agent."""
    app, client = desk
    before = len(outbox_mails(tmp_path))
    agent_page = client.post("/signin", data={"address": ANNA, "csrf": pre(client)})
    stranger_page = client.post(
        "/signin", data={"address": "eve@evil.example", "csrf": pre(client)}
    )
    assert agent_page.get_data(as_text=True) == stranger_page.get_data(as_text=True)
    assert len(outbox_mails(tmp_path)) == before + 1 and not mails_to(tmp_path, "eve@evil.example")
    m.SignInRequest.update(expires_at=m.SignInRequest.created_at).execute()
    token = link_in(text(mails_to(tmp_path, ANNA)[-1])).rsplit("/", 1)[1]
    refused = client.post(f"/signin/{token}", data={"csrf": pre(client, f"/signin/{token}")})
    assert refused.status_code == 403 and client.get("/").status_code == 302


def test_links_are_rate_limited_per_address(tmp_path: Path) -> None:
    """After [web] links_per_address requests in an hour, no further link is mailed."""
    app = seed_tickets(desk_settings(tmp_path, links_per_address=2), tmp_path, count=1)
    client = app_client(app)
    for _ in range(4):
        assert ask_link(client, ANNA) == 200
    app.deliver_outbox()
    assert len(mails_to(tmp_path, ANNA)) == 2


def test_the_queue_sorts_filters_searches_and_counts(desk: Any, tmp_path: Path) -> None:
    """The queue shows review tickets with their unsure suggestions; filters and search narrow it."""
    app, client = desk
    sign_in(client, tmp_path, ANNA)
    page = client.get("/").get_data(as_text=True)
    assert (
        page.count('<tr data-ref="TKT-') == 11 and "62%" in page and "11 waiting for review" in page
    )
    assert "Content-Security-Policy" in client.get("/").headers
    printing = client.get("/rows?category=printing").get_data(as_text=True)
    assert printing.count('<tr data-ref="TKT-') == 2
    found = client.get("/rows?q=bulging").get_data(as_text=True)  # a word of a mail body
    assert re.findall(r'data-ref="(TKT-\d+)"', found) == [f"{R(5)}"]
    assert client.get("/rows?q=vpn").get_data(as_text=True).count('data-ref="') == 1
    assert client.get("/rows?mine=1").get_data(as_text=True).count('data-ref="') == 0


def test_a_stale_save_is_refused_and_the_agents_text_is_kept(desk: Any, tmp_path: Path) -> None:
    """Two agents load the same ticket; the second save is a conflict and nothing is lost."""
    app, anna = desk
    bob = app_client(app)
    anna_csrf = sign_in(anna, tmp_path, ANNA)
    bob_csrf = sign_in(bob, tmp_path, BOB)
    version = app.store.ticket_state(f"{R(2)}").version
    first = anna.post(
        f"/t/{R(2)}/note", data={"csrf": anna_csrf, "version": version, "text": "called her"}
    )
    assert first.status_code == 303
    second = bob.post(
        f"/t/{R(2)}/note",
        data={
            "csrf": bob_csrf,
            "version": version,
            "text": "my long careful note",
            "action_name": "note",
        },
    )
    body = second.get_data(as_text=True)
    assert second.status_code == 409 and "changed by someone else" in body
    assert "my long careful note" in body
    notes = [msg.body for msg in m.Message.select().where(m.Message.direction == "note")]
    assert notes == ["called her"]


def test_ticket_page_sanitises_html_and_serves_attachments_as_downloads(
    desk: Any, tmp_path: Path
) -> None:
    """The HTML part is cleaned (no script, no remote image); attachments download, nosniff, clean name."""
    app, client = desk
    sign_in(client, tmp_path, ANNA)
    page = client.get(f"/t/{R(2)}").get_data(as_text=True)
    assert "<b>desk</b>" in page and "alert(" not in page and "tracker.example" not in page
    page3 = client.get(f"/t/{R(3)}").get_data(as_text=True)
    link = re.search(rf'href="(/t/{R(3)}/attachment/\d+)"', page3)
    assert link
    response = client.get(link.group(1))
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Type"] == "application/octet-stream"
    disposition = response.headers["Content-Disposition"]
    assert (
        disposition.startswith("attachment;") and "/" not in disposition and "<" not in disposition
    )


def test_actions_go_through_the_desk_with_the_agents_identity(desk: Any, tmp_path: Path) -> None:
    """Reply mails the requester threaded; a note mails nobody; merge moves messages and tells the
    requester; escalation needs a reason; assign to one agent; every step audited as the agent."""
    app, client = desk
    csrf = sign_in(client, tmp_path, ANNA)

    def post(ref: str, action: str, **data: str) -> Any:
        version = str(app.store.ticket_state(ref).version)
        return client.post(f"/t/{ref}/{action}", data=dict(data, csrf=csrf, version=version))

    before = len(outbox_mails(tmp_path))
    assert post(f"{R(1)}", "note", text="checked the tray").status_code == 303
    app.deliver_outbox()
    assert len(outbox_mails(tmp_path)) == before
    assert post(f"{R(1)}", "reply", text="We are sending a technician.").status_code == 303
    app.deliver_outbox()
    [answer] = mails_to(tmp_path, "user1@example.com")[-1:]
    assert "technician" in text(answer) and answer["In-Reply-To"] == "<web-1@example.com>"
    assert post(f"{R(11)}", "merge", into=f"{R(1)}").status_code == 303
    app.deliver_outbox()
    assert f"{R(1)}" in text(mails_to(tmp_path, "user11@example.com")[-1])
    assert app.store.ticket_state(f"{R(11)}").status == "closed"
    assert len(app.store.conversation(app.store.ticket_state(f"{R(1)}").id)) == 4
    assert post(f"{R(4)}", "escalate", text="", confirm="yes").status_code == 422
    assert post(f"{R(4)}", "escalate", text="needs L2 rights", confirm="yes").status_code == 303
    assert app.store.ticket_state(f"{R(4)}").tier == "L2"
    assert post(f"{R(5)}", "assign", agent=BOB).status_code == 303
    assert app.store.ticket_state(f"{R(5)}").assignee == BOB
    assert post(f"{R(6)}", "resolve", text="").status_code == 422
    assert (
        post(f"{R(6)}", "fields", category="software", kind="incident", priority="P2").status_code
        == 303
    )
    state = app.store.ticket_state(f"{R(6)}")
    assert state.priority == "P2" and state.needs_review  # saving fields accepts nothing else
    actors = {
        e.actor
        for e in m.AuditRow.select()
        if e.action
        in ("note_added", "replied", "merged", "escalated", "assigned_agent", "fields_changed")
    }
    assert actors == {ANNA}


def test_bulk_accept_and_sessions_can_be_listed_and_revoked(
    desk: Any, tmp_path: Path, capsys: Any
) -> None:
    """Bulk accept on selected rows; `tiket web sessions revoke` ends a session at once."""
    app, client = desk
    csrf = sign_in(client, tmp_path, BOSS)
    picked = [f"{R(n)}:{app.store.ticket_state(f'{R(n)}').version}" for n in (7, 8)]
    client.post("/bulk", data={"csrf": csrf, "action": "accept", "ticket": picked})
    assert not app.store.ticket_state(f"{R(7)}").needs_review
    assert not app.store.ticket_state(f"{R(8)}").needs_review
    config = str(tmp_path / "tiket.toml")
    assert main(["--config", config, "web", "sessions", "list", "--json"]) == 0
    assert BOSS in capsys.readouterr().out
    assert main(["--config", config, "web", "sessions", "revoke", "--agent", BOSS]) == 0
    assert client.get("/").status_code == 302


def test_the_cli_has_the_same_actions(desk: Any, tmp_path: Path, capsys: Any) -> None:
    """tickets reply/note/merge/assign --agent go through the same desk code."""
    app, _ = desk
    config = str(tmp_path / "tiket.toml")
    answer = tmp_path / "answer.txt"
    answer.write_text("Please restart the router.")
    assert (
        main(
            [
                "--config",
                config,
                "tickets",
                "reply",
                f"{R(7)}",
                "--agent",
                ANNA,
                "--body-file",
                str(answer),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "--config",
                config,
                "tickets",
                "note",
                f"{R(7)}",
                "--agent",
                ANNA,
                "--body-file",
                str(answer),
            ]
        )
        == 0
    )
    assert (
        main(["--config", config, "tickets", "assign", f"{R(7)}", "--agent", BOB, "--by", ANNA])
        == 0
    )
    assert main(["--config", config, "tickets", "merge", f"{R(11)}", "--into", f"{R(1)}"]) == 0
    assert (
        main(["--config", config, "tickets", "assign", f"{R(7)}", "--agent", "eve@x.example"]) == 1
    )
    state = app.store.ticket_state(f"{R(7)}")
    assert state.assignee == BOB and state.first_response_at is not None
    assert (
        mails_to(tmp_path, "user7@example.com")
        and app.store.ticket_state(f"{R(11)}").status == "closed"
    )


def test_two_web_processes_share_sign_in_and_sessions(tmp_path: Path) -> None:
    """A link asked for through one console works on another; its session is valid on both."""
    settings = desk_settings(tmp_path)
    first = seed_tickets(settings, tmp_path, count=2)
    second = Tiket(settings)
    one, two = app_client(first), app_client(second)
    ask_link(one, ANNA)
    token = link_in(text(mails_to(tmp_path, ANNA)[-1])).rsplit("/", 1)[1]
    assert (
        two.post(f"/signin/{token}", data={"csrf": pre(two, f"/signin/{token}")}).status_code == 302
    )
    cookie = two.get_cookie("tiket_session")
    assert cookie is not None
    one.set_cookie("tiket_session", cookie.value)
    assert one.get("/").status_code == 200 and ANNA in one.get("/").get_data(as_text=True)


def test_a_trusted_proxys_user_header_signs_in_and_an_untrusted_one_does_not(
    tmp_path: Path,
) -> None:
    """[web] trusted_user_header is believed only from [web] trusted_proxies, only for agents."""
    settings = desk_settings(
        tmp_path, trusted_user_header="X-Forwarded-User", trusted_proxies=["10.0.0.0/24"]
    )
    app = seed_tickets(settings, tmp_path, count=1)
    client = app_client(app)
    proxy = {"REMOTE_ADDR": "10.0.0.7"}
    elsewhere = {"REMOTE_ADDR": "192.0.2.9"}
    header = {"X-Forwarded-User": ANNA}
    assert client.get("/", headers=header, environ_base=elsewhere).status_code == 302
    stranger = {"X-Forwarded-User": "eve@evil.example"}
    assert client.get("/", headers=stranger, environ_base=proxy).status_code == 302
    page = client.get("/", headers=header, environ_base=proxy)
    assert page.status_code == 200 and ANNA in page.get_data(as_text=True)
    assert [s["via"] for s in app.console.sessions()] == ["header"]

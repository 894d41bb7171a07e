"""Console (orchestrator): what the web console shows and who may use it.

The queue and the ticket page (rows from the console store, SLA clocks from the pure SLA code),
sign-in links (single use, 15 minutes, only the token's hash stored, rate-limited), server-side
sessions and the trusted proxy header. Ticket changes are not here: the skin calls app.desk.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import ipaddress
import logging
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from pipeline.edges.console_store import ConsoleStore, Deadlines, QueuePage, QueueQuery
from pipeline.stages.agent_actions import fill_canned, sign_in_mail
from pipeline.stages.sla import ClockFacts, clock_view
from pipeline.vocabulary import CLOCKS, OPEN_STATES

if TYPE_CHECKING:
    from pipeline.app import Tiket

log = logging.getLogger(__name__)


PAGES_FRESH = timedelta(seconds=3)
"""How long a queue page is shared by agents with the same view (another process's change shows
within this; this process's own changes at once)."""
COUNTS_FRESH = timedelta(seconds=5)
"""How long the queue's counts are reused (per agent and scope) before they are counted again."""


def token_hash(token: str) -> str:
    """What is stored of a sign-in link's or a session's token (never the token itself)."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class WebSettings:
    """[web], validated."""

    listen: str
    enabled: bool
    base_url: str
    admins: frozenset[str]
    trusted_user_header: str
    trusted_proxies: tuple[str, ...]
    session_hours: float
    link_minutes: int
    links_per_address: int
    links_per_ip: int
    threads: int
    page_size: int
    refresh_seconds: int

    @classmethod
    def from_section(cls, section: Any) -> WebSettings:
        """From settings.section("web")."""
        return cls(
            listen=str(section["listen"]),
            enabled=bool(section["enabled"]),
            base_url=str(section["base_url"]).rstrip("/"),
            admins=frozenset(str(a).lower() for a in section["admins"]),
            trusted_user_header=str(section["trusted_user_header"]),
            trusted_proxies=tuple(str(p) for p in section["trusted_proxies"]),
            session_hours=float(section["session_hours"]),
            link_minutes=int(section["link_minutes"]),
            links_per_address=int(section["links_per_address"]),
            links_per_ip=int(section["links_per_ip"]),
            threads=int(section["threads"]),
            page_size=int(section["page_size"]),
            refresh_seconds=int(section["refresh_seconds"]),
        )

    def is_trusted_proxy(self, address: str) -> bool:
        """True when the peer is one of [web] trusted_proxies (addresses or networks)."""
        try:
            peer = ipaddress.ip_address(address)
        except ValueError:
            return False
        for entry in self.trusted_proxies:
            try:
                if peer in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                continue
        return False


@dataclass(frozen=True, slots=True, kw_only=True)
class Agent:
    """A signed-in agent: their address, tiers (empty for a manager) and session."""

    address: str
    tiers: tuple[str, ...]
    admin: bool
    session_id: int
    csrf: str


class Console:
    """The web console's reads, sign-in and sessions (one per Tiket)."""

    def __init__(self, app: Tiket) -> None:
        self.app = app
        self.settings = app.settings
        self.web = WebSettings.from_section(app.settings.section("web"))
        sla = app.settings.sla
        self._pages: dict[QueueQuery, tuple[datetime, QueuePage]] = {}
        self._counts: dict[tuple[str, tuple[str, ...] | None], tuple[datetime, dict[str, int]]] = {}
        self.data = ConsoleStore(
            app.store,
            Deadlines(
                first_response=sla.first_response_hours,
                resolution=sla.resolution_hours,
                default_priority=sla.default_priority,
            ),
        )

    # -- who is an agent ------------------------------------------------------------------------
    def tiers_of(self, address: str) -> tuple[str, ...]:
        """The tiers an address is a member of (empty: not an agent)."""
        address = address.lower()
        return tuple(k for k, t in self.settings.tiers.items() if address in t.members)

    def is_agent(self, address: str) -> bool:
        """A tier member or a console admin."""
        return bool(self.tiers_of(address)) or address.lower() in self.web.admins

    def agent(self, address: str, session_id: int, csrf: str) -> Agent:
        """The Agent record of a session."""
        admin = address in self.web.admins
        return Agent(
            address=address,
            tiers=self.tiers_of(address),
            admin=admin,
            session_id=session_id,
            csrf=csrf,
        )

    # -- sign-in links --------------------------------------------------------------------------
    def request_link(self, address: str, ip: str, base_url: str) -> None:
        """Mail a one-time sign-in link to an agent. The caller tells everyone the same thing:
        a stranger's address, or one over its rate limit, gets no link and no different answer."""
        now = self.app.clock()
        address = address.strip().lower()[:254]
        window = now - timedelta(hours=1)
        by_address, by_ip = self.data.sign_in_requests(address, ip, window)
        expires = now + timedelta(minutes=self.web.link_minutes)
        if by_ip >= self.web.links_per_ip or by_address >= self.web.links_per_address:
            log.warning("sign_in=refused reason=rate_limit ip=%s", ip)
            return
        if not self.is_agent(address):
            self.data.record_sign_in(address, ip, None, now, expires, None)
            log.info("sign_in=refused reason=not_an_agent ip=%s", ip)
            return
        token = secrets.token_urlsafe(32)
        link = f"{self.web.base_url or base_url.rstrip('/')}/signin/{token}"
        mail = self.app.desk.render_loose_mail(
            sign_in_mail(address, link, self.web.link_minutes), now
        )
        self.data.record_sign_in(address, ip, token_hash(token), now, expires, mail)
        log.info("sign_in=link_queued agent=%s ip=%s", address, ip)

    def redeem_link(self, token: str) -> str | None:
        """The agent a link signs in (once, within its lifetime), or None."""
        address = self.data.redeem_sign_in(token_hash(token), self.app.clock())
        if address is None or not self.is_agent(address):
            return None
        return address

    # -- sessions -------------------------------------------------------------------------------
    def open_session(self, address: str, via: str, ip: str, user_agent: str) -> str:
        """A new session for an agent; returns the cookie's token (only its hash is stored)."""
        now = self.app.clock()
        token = secrets.token_urlsafe(32)
        with self.app.store.db.atomic():
            self.data.create_session(
                token_hash=token_hash(token),
                agent=address.lower(),
                csrf=secrets.token_urlsafe(24),
                via=via,
                ip=ip,
                user_agent=user_agent,
                now=now,
                expires=now + timedelta(hours=self.web.session_hours),
            )
        log.info("session=opened agent=%s via=%s ip=%s", address, via, ip)
        return token

    def session_agent(self, token: str) -> Agent | None:
        """The agent of a live session cookie, or None."""
        if not token:
            return None
        found = self.data.session(token_hash(token), self.app.clock())
        if found is None:
            return None
        session_id, address, csrf = found
        if not self.is_agent(address):  # removed from the tiers since: the session is void
            return None
        return self.agent(address, session_id, csrf)

    def close_session(self, session_id: int) -> None:
        """Sign out (revoke this session)."""
        self.data.revoke_session(session_id, self.app.clock())

    def sessions(self) -> list[dict[str, Any]]:
        """Live sessions (for `tiket web sessions list`)."""
        return self.data.sessions(self.app.clock())

    def revoke(self, session_id: int | None = None, agent: str = "") -> int:
        """Revoke one session or every session of an agent; returns how many."""
        return self.data.revoke_session(session_id, self.app.clock(), agent)

    # -- pages ----------------------------------------------------------------------------------
    def queue(self, query: QueueQuery) -> QueuePage:
        """One page of the queue, each row with its next due time (exact, from the SLA code)."""
        now = self.app.clock()
        key = replace(query, agent="") if not query.mine else query  # shared by a tier's agents
        cached = self._pages.get(key)
        if cached is not None and timedelta(0) <= now - cached[0] < PAGES_FRESH:
            found = cached[1]
        else:
            found = self.data.queue(query, now, self._cached_counts(query, now))
            self._pages[key] = (now, found)
        counts = dict(found.counts)
        if query.tiers is not None or query.mine:  # "mine" is the agent's own
            counts.update(self._cached_counts(query, now))
        changes = self.data.status_changes([r["id"] for r in found.rows])
        rows = []
        for original in found.rows:
            row = dict(original)
            row["due"], row["late"] = self._next_due(row, changes[row["id"]], now)
            row["age"] = now - row["created_at"]
            rows.append(row)
        return QueuePage(rows=tuple(rows), total=found.total, counts=counts)

    def forget(self) -> None:
        """Something changed through this process: the next queue page is read afresh."""
        self._pages.clear()
        self._counts.clear()

    def _cached_counts(self, query: QueueQuery, now: datetime) -> dict[str, int]:
        """The counts above the queue, shared for a few seconds by every page of one scope (they
        cost a scan of the open tickets; the queue refreshes itself anyway)."""
        key = (query.agent, query.tiers)
        cached = self._counts.get(key)
        if cached is not None and timedelta(0) <= now - cached[0] < COUNTS_FRESH:
            return cached[1]
        counts = self.data.counts(query, now)
        self._counts[key] = (now, counts)
        return counts

    def _next_due(
        self, row: dict[str, Any], changes: list[tuple[datetime, str, str]], now: datetime
    ) -> tuple[datetime | None, bool]:
        if row["status"] not in OPEN_STATES:
            return None, False
        facts = ClockFacts(  # as lifecycle.clock_facts: a suspected breach runs on P1 clocks
            created_at=row["created_at"],
            priority="P1" if row["breach_suspected"] else row["priority"],
            first_response_at=row["first_response_at"],
            resolved_at=None,
            changes=tuple(changes),
        )
        views = [clock_view(c, facts, self.app.policy.sla, now) for c in CLOCKS]
        running = [v for v in views if v.stopped_at is None and v.due is not None]
        if not running:
            return None, False
        first = min(running, key=lambda v: v.due or now)
        return first.due, first.breached

    @cached_property
    def categories(self) -> list[str]:
        """The category pick-list (read once per process: it changes with a new model)."""
        return sorted(set(self.data.known_categories()) | self.app.categories)

    def ticket(self, ref: str) -> dict[str, Any]:
        """Everything the ticket page shows except the similar tickets (loaded on their own)."""
        data = self.app.show_ticket(ref, similar=False)
        state = self.app.store.ticket_state(ref)
        data["id"] = state.id
        data["version"] = state.version
        data["assignee"] = state.assignee
        attachments = self.data.attachments_of(state.id)
        data["messages"] = [
            dict(msg, attachments=attachments.get(msg["id"], []), html=self._html_of(msg))
            for msg in self.data.messages(state.id)
        ]
        return data

    def _html_of(self, message: dict[str, Any]) -> str:
        """A received mail's HTML part, sanitised (nh3), or "" when it has none."""
        if message["direction"] != "in" or not message["inbound_id"]:
            return ""
        import nh3

        raw = self.data.raw_mail(int(message["inbound_id"]))
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        part = parsed.get_body(preferencelist=("html",))
        if part is None:
            return ""
        try:
            html = str(part.get_content())
        except (LookupError, ValueError):
            return ""
        tags = set(nh3.ALLOWED_TAGS) - {"img"}  # no remote images: no tracking pixels
        return str(nh3.clean(html, tags=tags, link_rel="noopener noreferrer nofollow"))

    def canned(self, ref: str, agent: str) -> list[dict[str, Any]]:
        """The canned replies, each filled in for this ticket and agent."""
        state = self.app.store.ticket_state(ref)
        values = {
            "ref": state.ref,
            "subject": state.subject,
            "requester_name": state.requester_name or state.requester,
            "requester": state.requester,
            "agent": agent,
            "agent_name": agent.split("@")[0].replace(".", " ").title(),
            "desk_name": self.settings.desk.name,
        }
        return [
            dict(c, filled=fill_canned(str(c["body"]), values)) for c in self.data.canned_replies()
        ]

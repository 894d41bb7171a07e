"""The console's WSGI application: routes, sign-in, sessions, CSRF and security headers (skin).

Each route parses the request, makes one call into the application object and renders the
result. Ticket actions go to app.desk with the version the agent loaded (a stale save is refused
with a conflict and the agent's text is shown again); pages read through app.console.
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, abort, g, redirect, render_template, request, send_file
from jinja2 import StrictUndefined
from werkzeug.exceptions import HTTPException

from pipeline.app import Tiket
from pipeline.edges.console_store import QueueQuery
from pipeline.errors import Conflict, InvalidAction, NotFound
from pipeline.jobs.console import Agent
from pipeline.vocabulary import KINDS, PRIORITIES, STATES, TIERS

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "tiket_session"
PRE_COOKIE = "tiket_pre"  # double-submit CSRF token for the sign-in forms (no session yet)
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
FILTERS = ("status", "tier", "kind", "category", "priority", "breached", "review", "mine", "q")
SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")


def create_app(tiket: Tiket, deliver: Callable[[], None] = lambda: None) -> Flask:
    """The console for one Tiket; `deliver` is called after an action queued mail."""
    flask = Flask(
        __name__,
        template_folder=str(HERE / "templates"),
        static_folder=str(HERE / "static"),
    )
    flask.jinja_env.undefined = StrictUndefined
    flask.jinja_env.globals.update(KINDS=KINDS, PRIORITIES=PRIORITIES, TIERS=TIERS, STATES=STATES)
    flask.jinja_env.filters["ago"] = human_span
    flask.jinja_env.filters["due_in"] = due_in
    flask.jinja_env.filters["when"] = when
    flask.config.update(TIKET=tiket, DELIVER=deliver, MAX_CONTENT_LENGTH=2 * 1024 * 1024)
    console = tiket.console

    @flask.context_processor
    def defaults() -> dict[str, Any]:
        return {"message": "", "error": "", "agent": g.get("agent")}

    @flask.before_request
    def authenticate() -> Any:
        g.peer_trusted = console.web.is_trusted_proxy(request.remote_addr or "")
        g.ip = client_ip()
        g.now = tiket.clock()
        g.agent = console.session_agent(request.cookies.get(SESSION_COOKIE, ""))
        g.new_session = None
        header = console.web.trusted_user_header
        if header and g.peer_trusted and request.headers.get(header):
            user = request.headers[header].strip().lower()
            if (g.agent is None or g.agent.address != user) and console.is_agent(user):
                g.new_session = console.open_session(
                    user, "header", g.ip, request.headers.get("User-Agent", "")
                )
                g.agent = console.session_agent(g.new_session)
        if request.endpoint in ("static", "signin", "signin_link", "health"):
            return None
        if g.agent is None:
            if request.method == "GET" and not request.headers.get("HX-Request"):
                return redirect("/signin")
            abort(401)
        if request.method == "POST" and not csrf_ok(g.agent.csrf):
            abort(403)
        return None

    @flask.after_request
    def secure(response: Response) -> Response:
        if request.method == "POST":
            console.forget()  # something changed here: the next queue page is read afresh
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"  # sign-in tokens stay out of logs
        response.headers["X-Frame-Options"] = "DENY"
        if request.endpoint != "static":
            response.headers["Cache-Control"] = "no-store"
        if getattr(g, "new_session", None):
            set_session_cookie(response, g.new_session)
        return response

    @flask.errorhandler(NotFound)
    def not_found(exc: NotFound) -> tuple[str, int]:
        return render_template("error.html", message=str(exc), agent=g.get("agent")), 404

    @flask.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[str, int]:
        messages = {
            401: "Sign in first.",
            403: "This request was refused (its form token is missing or stale: reload the page).",
        }
        code = exc.code or 500
        text = messages.get(code, exc.description or "error")
        return render_template("error.html", message=text, agent=g.get("agent")), code

    # -- sign-in --------------------------------------------------------------------------------
    @flask.route("/health")
    def health() -> str:
        return "ok"

    @flask.route("/signin", methods=["GET", "POST"])
    def signin() -> Any:
        if request.method == "POST":
            if not pre_csrf_ok():
                abort(403)
            address = request.form.get("address", "")
            if "@" in address:
                console.request_link(address, g.ip, request.host_url)
                deliver()
            return render_template("signin.html", sent=True, pre=pre_token(), agent=None)
        response = Response(render_template("signin.html", sent=False, pre=pre_token(), agent=None))
        return with_pre_cookie(response)

    @flask.route("/signin/<token>", methods=["GET", "POST"])
    def signin_link(token: str) -> Any:
        if request.method == "GET":  # a mail scanner's GET must not use the link up
            response = Response(render_template("signin_confirm.html", pre=pre_token(), agent=None))
            return with_pre_cookie(response)
        if not pre_csrf_ok():
            abort(403)
        address = console.redeem_link(token)
        if address is None:
            page = render_template("signin.html", sent=False, pre=pre_token(), agent=None, bad=True)
            return with_pre_cookie(Response(page, status=403))
        cookie = console.open_session(address, "link", g.ip, request.headers.get("User-Agent", ""))
        done = redirect("/")
        set_session_cookie(done, cookie)
        return done

    @flask.route("/signout", methods=["POST"])
    def signout() -> Any:
        console.close_session(g.agent.session_id)
        response = redirect("/signin")
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    # -- the queue ------------------------------------------------------------------------------
    def queue_context() -> dict[str, Any]:
        agent: Agent = g.agent
        args = request.args
        query = QueueQuery(
            agent=agent.address,
            tiers=None if agent.admin else agent.tiers,
            status=args.get("status", "") if args.get("status", "") in STATES else "",
            tier=args.get("tier", "") if args.get("tier", "") in TIERS else "",
            kind=args.get("kind", "") if args.get("kind", "") in KINDS else "",
            category=args.get("category", "")[:64],
            priority=args.get("priority", "") if args.get("priority", "") in PRIORITIES else "",
            breached=args.get("breached") == "1",
            review=args.get("review") == "1",
            mine=args.get("mine") == "1",
            text=args.get("q", "")[:200],
            sort=args.get("sort", "due"),
            page=max(1, int(args.get("page", "1") or 1) if args.get("page", "1").isdigit() else 1),
            page_size=console.web.page_size,
        )
        page = console.queue(query)
        current = {k: args[k] for k in (*FILTERS, "sort") if args.get(k)}
        pages = max(1, -(-page.total // query.page_size))
        return {
            "agent": agent,
            "page": page,
            "query": query,
            "current": current,
            "qs": urlencode(current),
            "pages": pages,
            "page_link": lambda n: "/?" + urlencode(dict(current, page=n)),
            "views": console.data.saved_views(agent.address),
            "categories": console.categories,
            "refresh": console.web.refresh_seconds,
            "now": g.now,
            "message": args.get("ok", "")[:300],
            "error": args.get("err", "")[:300],
        }

    @flask.route("/")
    def queue() -> str:
        return render_template("queue.html", **queue_context())

    @flask.route("/rows")
    def rows() -> str:
        return render_template("queue_rows.html", **queue_context())

    @flask.route("/bulk", methods=["POST"])
    def bulk() -> Any:
        action = request.form.get("action", "")
        picked = [
            (ref, int(version) if version.isdigit() else None)
            for ref, _, version in (
                item.partition(":") for item in request.form.getlist("ticket")[:200]
            )
        ]
        if action not in ("accept", "assign", "close") or not picked:
            return back_to_queue(err="pick tickets and an action")
        done, failed = 0, []
        for ref, version in picked:
            try:
                bulk_action(tiket, g.agent.address, action, ref, version, request.form)
                done += 1
            except (InvalidAction, NotFound) as exc:
                failed.append(f"{ref}: {exc}")
        deliver()
        if request.headers.get("HX-Request") or request.headers.get("X-Requested-With"):
            return {"done": done, "failed": failed}
        return back_to_queue(ok=f"{action}: {done} done", err="; ".join(failed)[:300])

    def back_to_queue(ok: str = "", err: str = "") -> Any:
        target = request.form.get("back", "") or "/"
        if not target.startswith("/") or target.startswith("//"):
            target = "/"
        sep = "&" if "?" in target else "?"
        extra = urlencode({k: v for k, v in (("ok", ok), ("err", err)) if v})
        return redirect(target + (sep + extra if extra else ""), code=303)

    @flask.route("/views", methods=["POST"])
    def save_view() -> Any:
        name = request.form.get("name", "").strip()[:64]
        query = request.form.get("query", "")[:1000]
        if not name:
            return back_to_queue(err="a saved view needs a name")
        console.data.save_view(g.agent.address, name, query, g.now)
        return redirect("/?" + query, code=303)

    @flask.route("/views/<int:view_id>/delete", methods=["POST"])
    def delete_view(view_id: int) -> Any:
        console.data.delete_view(g.agent.address, view_id)
        return redirect("/", code=303)

    # -- the ticket page ------------------------------------------------------------------------
    def ticket_page(ref: str, status: int = 200, **extra: Any) -> tuple[str, int]:
        data = console.ticket(ref)
        context = {
            "agent": g.agent,
            "t": data,
            "categories": sorted(
                set(console.categories)
                | {s["label"] for s in data["suggestions"] if s["label"]}
                | ({data["category"]} if data["category"] else set())
            ),
            "canned": console.canned(ref, g.agent.address),
            "agents": sorted(tiket.desk.agent_tiers()),
            "suggested": {s["head"]: s for s in data["suggestions"]},
            "now": g.now,
            "message": request.args.get("ok", "")[:300],
            "error": request.args.get("err", "")[:300],
            "kept": {},
        }
        context.update(extra)
        return render_template("ticket.html", **context), status

    @flask.route("/t/<ref>")
    def ticket(ref: str) -> tuple[str, int]:
        return ticket_page(ref)

    @flask.route("/t/<ref>/similar")
    def similar(ref: str) -> str:
        return render_template("similar.html", similar=tiket.similar_to(ref))

    @flask.route("/t/<ref>/attachment/<int:attachment_id>")
    def attachment(ref: str, attachment_id: int) -> Response:
        name, _content_type, digest = console.data.attachment(ref, attachment_id)
        path = tiket.store.blob_path(digest)
        if not path.exists():
            abort(404)
        response = send_file(
            path,
            mimetype="application/octet-stream",  # never rendered by the browser
            as_attachment=True,
            download_name=clean_filename(name),
        )
        response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
        return response

    @flask.route("/t/<ref>/<action>", methods=["POST"])
    def act(ref: str, action: str) -> Any:
        form = request.form
        version = int(form["version"]) if form.get("version", "").isdigit() else None
        try:
            text = ticket_action(tiket, g.agent.address, ref, action, version, form)
        except Conflict as exc:
            return ticket_page(ref, 409, error=str(exc), kept=dict(form))
        except InvalidAction as exc:
            return ticket_page(ref, 422, error=str(exc), kept=dict(form))
        deliver()
        if action in ("accept", "merge") or form.get("next") == "queue":
            return back_to_queue(ok=text)
        return redirect(f"/t/{ref}?" + urlencode({"ok": text}), code=303)

    # -- canned replies -------------------------------------------------------------------------
    @flask.route("/canned", methods=["GET", "POST"])
    def canned() -> Any:
        if request.method == "POST":
            name = request.form.get("name", "").strip()[:64]
            body = request.form.get("body", "").strip()[:20000]
            if not name or not body:
                return redirect("/canned?" + urlencode({"err": "name and text are needed"}), 303)
            console.data.save_canned(name, body, g.agent.address, g.now)
            return redirect("/canned?" + urlencode({"ok": f"saved {name}"}), code=303)
        return render_template(
            "canned.html",
            agent=g.agent,
            replies=console.data.canned_replies(),
            message=request.args.get("ok", ""),
            error=request.args.get("err", ""),
        )

    @flask.route("/canned/<int:reply_id>/delete", methods=["POST"])
    def delete_canned(reply_id: int) -> Any:
        console.data.delete_canned(reply_id)
        return redirect("/canned", code=303)

    # -- request helpers ------------------------------------------------------------------------
    def client_ip() -> str:
        peer = request.remote_addr or ""
        forwarded = request.headers.get("X-Forwarded-For", "")
        if g.peer_trusted and forwarded:
            return forwarded.split(",")[-1].strip()[:64]
        return peer

    def is_https() -> bool:
        if g.peer_trusted and request.headers.get("X-Forwarded-Proto"):
            return request.headers["X-Forwarded-Proto"].lower() == "https"
        return request.scheme == "https"

    def set_session_cookie(response: Any, token: str) -> None:
        response.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=int(console.web.session_hours * 3600),
            httponly=True,
            samesite="Lax",
            secure=is_https(),
            path="/",
        )

    def pre_token() -> str:
        token = request.cookies.get(PRE_COOKIE, "")
        if not re.fullmatch(r"[A-Za-z0-9_-]{20,64}", token):
            token = g.get("pre") or secrets.token_urlsafe(24)
        g.pre = token
        return token

    def with_pre_cookie(response: Response) -> Response:
        response.set_cookie(
            PRE_COOKIE, g.pre, httponly=True, samesite="Strict", secure=is_https(), path="/"
        )
        return response

    def pre_csrf_ok() -> bool:
        cookie = request.cookies.get(PRE_COOKIE, "")
        sent = request.form.get("csrf", "")
        return bool(cookie) and hmac.compare_digest(cookie, sent)

    def csrf_ok(expected: str) -> bool:
        sent = request.form.get("csrf") or request.headers.get("X-CSRF-Token", "")
        return bool(sent) and hmac.compare_digest(expected, sent)

    return flask


def bulk_action(
    tiket: Tiket, agent: str, action: str, ref: str, version: int | None, form: Any
) -> None:
    """One row of a bulk action: accept, assign (to a tier) or close."""
    now = tiket.clock()
    if action == "accept":
        tiket.desk.accept_all(ref, agent, now, version=version)
    elif action == "assign":
        tiket.desk.assign(ref, form.get("tier", ""), agent, now, version=version)
    else:
        tiket.desk.set_status(ref, "closed", agent, form.get("note", ""), now, version=version)


def ticket_action(
    tiket: Tiket, agent: str, ref: str, action: str, version: int | None, form: Any
) -> str:
    """One ticket action from the ticket page: one call into the desk; returns what to tell."""
    desk, now = tiket.desk, tiket.clock()
    text = form.get("text", "")
    if action in ("accept", "fields"):
        return save_fields(tiket, agent, ref, action, version, form)
    if action == "reply":
        desk.reply(ref, agent, text, now, version=version)
        return "reply sent to the requester"
    if action == "note":
        desk.note(ref, agent, text, now, version=version)
        return "note added (not mailed)"
    if action in ("pending", "resolve", "close", "reopen"):
        if action in ("pending", "resolve") and not text.strip():
            raise InvalidAction(
                "a resolution note is required" if action == "resolve" else "ask a question"
            )
        target = {"pending": "pending", "resolve": "resolved", "close": "closed", "reopen": "open"}
        desk.set_status(ref, target[action], agent, text.strip(), now, version=version)
        return f"{ref} is {target[action]}"
    if action == "escalate":
        if not text.strip() or form.get("confirm") != "yes":
            raise InvalidAction("an escalation needs a reason and a confirmation")
        desk.escalate(ref, agent, text.strip(), now, version=version)
        return f"{ref} escalated"
    if action == "assign":
        if form.get("agent"):
            desk.assign_agent(ref, form["agent"], agent, now, version=version)
            return f"{ref} assigned to {form['agent']}"
        desk.assign(ref, form.get("tier", ""), agent, now, version=version)
        return f"{ref} assigned to {form.get('tier', '')}"
    if action == "merge":
        into = form.get("into", "").strip().upper()
        desk.merge(ref, into, agent, now, version=version)
        return f"{ref} merged into {into}"
    if action == "breach":
        desk.flag_breach(ref, agent, text.strip() or f"flagged by {agent}", now)
        return f"{ref} flagged as a suspected data breach"
    raise NotFound(f"no action {action!r}")


def save_fields(
    tiket: Tiket, agent: str, ref: str, action: str, version: int | None, form: Any
) -> str:
    """accept: L1's review with the pick-lists' values as corrections (what the agent saw);
    fields: set exactly the fields the agent changed, nothing else is accepted."""
    state = tiket.store.ticket_state(ref)
    chosen = {h: form.get(h, "").strip() for h in ("kind", "category", "priority")}
    now = tiket.clock()
    if action == "accept":
        if not state.needs_review:
            raise InvalidAction(f"{ref} is not waiting for review")
        suggestions = tiket.store.suggestions(state.id)
        suggested = {s.head: s.label for s in suggestions}
        current = {h: getattr(state, h) for h in chosen}
        corrections = {
            h: v for h, v in chosen.items() if v and v != (suggested.get(h) or current[h])
        }
        accept = tuple(
            s.head for s in suggestions if s.label and not s.applied and s.head not in corrections
        )
        tiket.desk.review(ref, corrections, agent, now, accept=accept, version=version)
        fixed = f" (corrected {', '.join(corrections)})" if corrections else ""
        return f"{ref} accepted{fixed}"
    changes = {h: v for h, v in chosen.items() if v and v != getattr(state, h)}
    if not changes:
        raise InvalidAction("nothing changed")
    tiket.desk.set_fields(ref, changes, agent, now, version=version)
    return f"{ref}: saved {', '.join(changes)}"


def clean_filename(name: str) -> str:
    """An attachment's name safe for Content-Disposition (no path, no control characters)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = SAFE_NAME.sub("_", base).strip(" .")[:120]
    return cleaned or "attachment"


def human_span(span: timedelta) -> str:
    """'3d', '5h', '12m' for an age."""
    seconds = int(span.total_seconds())
    if seconds >= 86400:
        return f"{seconds // 86400}d"
    if seconds >= 3600:
        return f"{seconds // 3600}h"
    return f"{max(seconds, 0) // 60}m"


def when(value: object) -> str:
    """A stored time (datetime or ISO text, UTC) as 'YYYY-MM-DD HH:MM UTC'."""
    text = str(value or "-").replace("T", " ")
    return text[:16] + " UTC" if len(text) >= 16 and text[:4].isdigit() else text


def due_in(due: datetime | None, now: datetime) -> str:
    """'in 2h', '45m late' for a due time; '-' when no clock runs."""
    if due is None:
        return "-"
    span = due - now
    if span.total_seconds() < 0:
        return f"{human_span(-span)} late"
    return f"in {human_span(span)}"

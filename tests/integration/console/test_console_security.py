"""Who may see and do what in the console: login, cookie, CSRF, scopes, headers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from gateway.api.auth import unverified_claims
from gateway.console.access import CSP
from gateway.console.session import COOKIE, Session, SessionKeys
from gateway.store import deliveries
from gateway.store.database import Database
from gateway.store.events import insert_batch
from testkit.factories import event, subscriber
from testkit.tokens import mint
from tests.integration.api.conftest import api_config
from tests.integration.console.conftest import Client, csrf_of, log_in, settle_due


async def _dead_letter(db: Database) -> str:
    await subscriber(db)
    await insert_batch(db, [event("wh-1")])
    await settle_due(db)
    [dead] = await deliveries.list_deliveries(db, status="dead")
    return dead.id


async def test_a_page_without_a_session_sends_to_the_login_page(console: Client) -> None:
    answer = await console.get("/console/dead-letters?source=shop", allow_redirects=False)
    assert answer.status == 303
    location = urlsplit(answer.headers["Location"])
    assert location.path == "/console/login"
    assert parse_qs(location.query) == {"next": ["/console/dead-letters?source=shop"]}
    bare = await console.get("/console", allow_redirects=False)
    assert (bare.status, bare.headers["Location"]) == (301, "/console/")


async def test_every_console_answer_has_a_strict_csp_and_refuses_framing(
    console: Client, logged_in: Callable[..., Any]
) -> None:
    pages = ["/console/login", "/console/static/console.css", "/console/no-such-page"]
    await logged_in("read")
    for path in [*pages, "/console/", "/console/events", "/console/dead-letters"]:
        answer = await console.get(path)
        assert answer.headers["Content-Security-Policy"] == CSP, path
        assert answer.headers["X-Frame-Options"] == "DENY", path
        assert answer.headers["X-Content-Type-Options"] == "nosniff", path
    assert "script-src 'self';" in CSP
    assert "unsafe-inline" not in CSP
    assert "frame-ancestors 'none'" in CSP


async def test_logging_in_sets_an_httponly_strict_cookie_that_expires_with_the_token(
    console: Client,
) -> None:
    form = await console.get("/console/login")
    answer = await console.post(
        "/console/login?",
        data={"csrf": csrf_of(await form.text()), "token": mint("read", ttl=900)},
        allow_redirects=False,
    )
    assert answer.status == 303
    assert answer.headers["Location"] == "/console/"
    cookie = answer.cookies[COOKIE]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    assert cookie["path"] == "/console"
    assert 890 <= int(cookie["max-age"]) <= 900
    assert "eyJ" not in answer.headers.get("Location", "")


async def test_a_bad_token_is_refused_at_the_door(console: Client) -> None:
    form = await console.get("/console/login")
    forged = mint("admin")[:-4] + "AAAA"
    answer = await console.post(
        "/console/login", data={"csrf": csrf_of(await form.text()), "token": forged}
    )
    assert answer.status == 401
    assert "not valid" in await answer.text()
    assert (await console.get("/console/", allow_redirects=False)).status == 303


async def test_a_post_without_the_sessions_csrf_token_is_refused(
    console: Client, db: Database, logged_in: Callable[..., Any]
) -> None:
    dead = await _dead_letter(db)
    await logged_in("admin")
    missing = await console.post("/console/dead-letters/act", data={"action": "retry", "id": dead})
    assert missing.status == 403
    other = SessionKeys(b"k" * 32).csrf_token(Session(nonce="someone-else"))
    wrong = await console.post(
        "/console/dead-letters/act", data={"csrf": other, "action": "retry", "id": dead}
    )
    assert wrong.status == 403
    assert "expired or did not come from this console" in await wrong.text()
    assert (await deliveries.get_delivery(db, dead)).status == "dead"


async def test_the_login_form_itself_needs_its_csrf_token(console: Client) -> None:
    await console.get("/console/login")
    answer = await console.post("/console/login", data={"token": mint("admin")})
    assert answer.status == 403


async def test_a_read_session_sees_no_retry_button_and_a_forged_retry_is_forbidden(
    console: Client, db: Database, logged_in: Callable[..., Any]
) -> None:
    dead = await _dead_letter(db)
    csrf = await logged_in("read")
    page = await (await console.get("/console/dead-letters")).text()
    assert dead in page  # the dead letter is shown
    assert "Retry selected" not in page
    assert 'name="id"' not in page
    event_id = (await deliveries.get_delivery(db, dead)).event_id
    event_page = await (await console.get(f"/console/events/{event_id}")).text()
    assert "Retry" not in event_page
    for path in ("/console/dead-letters/act", "/console/dead-letters/retry-all"):
        answer = await console.post(path, data={"csrf": csrf, "action": "retry", "id": dead})
        assert answer.status == 403, path
        assert "replay" in await answer.text()
    assert (await deliveries.get_delivery(db, dead)).status == "dead"


async def test_a_replay_session_may_retry_but_not_pause(
    console: Client, db: Database, logged_in: Callable[..., Any]
) -> None:
    sub = await subscriber(db)
    csrf = await logged_in("read", "replay")
    page = await (await console.get(f"/console/subscribers/{sub.id}")).text()
    assert "Pause" not in page
    answer = await console.post(f"/console/subscribers/{sub.id}/pause", data={"csrf": csrf})
    assert answer.status == 403


async def test_a_token_without_read_cannot_open_a_session(console: Client) -> None:
    form = await console.get("/console/login")
    answer = await console.post(
        "/console/login", data={"csrf": csrf_of(await form.text()), "token": mint("write")}
    )
    assert answer.status == 403


async def test_a_tampered_or_expired_session_is_no_session(console: Client) -> None:
    keys = SessionKeys.from_config(api_config())
    expired_token = mint("admin", ttl=-3600)
    sealed = keys.seal(Session(nonce="n", token=expired_token, expires=2**40))
    console.session.cookie_jar.update_cookies({COOKIE: sealed})
    assert (await console.get("/console/", allow_redirects=False)).status == 303
    good = keys.seal(Session(nonce="n", token=mint("admin"), expires=2**40))
    console.session.cookie_jar.clear()
    console.session.cookie_jar.update_cookies({COOKIE: good[:-2] + "xx"})
    assert (await console.get("/console/", allow_redirects=False)).status == 303
    console.session.cookie_jar.clear()
    console.session.cookie_jar.update_cookies({COOKIE: good})
    assert (await console.get("/console/", allow_redirects=False)).status == 200


async def test_logging_out_ends_the_session_and_voids_its_forms(
    console: Client, db: Database
) -> None:
    dead = await _dead_letter(db)
    csrf = await log_in(console, mint("admin"))
    answer = await console.post("/console/logout", data={"csrf": csrf}, allow_redirects=False)
    assert (answer.status, answer.headers["Location"]) == (303, "/console/login")
    assert (await console.get("/console/", allow_redirects=False)).status == 303
    await log_in(console, mint("admin"))
    stale = await console.post(
        "/console/dead-letters/act", data={"csrf": csrf, "action": "retry", "id": dead}
    )
    assert stale.status == 403


async def test_after_login_the_operator_lands_where_they_were_going_but_never_off_site(
    console: Client,
) -> None:
    for target, expected in [
        ("/console/dead-letters?source=shop", "/console/dead-letters?source=shop"),
        ("https://evil.example/", "/console/"),
        ("//evil.example/console/", "/console/"),
        ("/console//evil.example", "/console/"),
    ]:
        console.session.cookie_jar.clear()
        form = await console.get("/console/login")
        answer = await console.post(
            "/console/login",
            data={"csrf": csrf_of(await form.text()), "token": mint("read"), "next": target},
            allow_redirects=False,
        )
        assert answer.headers["Location"] == expected, target


async def test_odd_input_gets_a_page_never_an_error(
    console: Client, logged_in: Callable[..., Any]
) -> None:
    await logged_in("read")
    for path, status in [
        ("/console/events?q=%00wh-1%00&source=%00&type=%00", 200),
        ("/console/dead-letters?source=%00&after=%00&subscriber_id=%00", 200),
        ("/console/events?hours=nope", 200),
        ("/console/events/evt_%00x", 404),
        ("/console/events/evt_missing", 404),
        ("/console/subscribers/sub_missing", 404),
        ("/console/jobs/job_missing", 404),
    ]:
        answer = await console.get(path)
        assert answer.status == status, path
        assert answer.content_type == "text/html", path


async def test_a_session_ends_when_its_token_is_revoked_and_the_token_cannot_log_in_again(
    console: Client,
) -> None:
    token = mint("read")
    await log_in(console, token)
    revoked = await console.post(
        "/api/v1/tokens/revoked",
        json={"jti": unverified_claims(token)["jti"]},
        headers={"Authorization": f"Bearer {mint('admin')}"},
    )
    assert revoked.status == 200, await revoked.text()

    home = await console.get("/console/", allow_redirects=False)
    assert home.status == 303
    assert urlsplit(home.headers["Location"]).path == "/console/login"
    form = await console.get("/console/login")
    again = await console.post(
        "/console/login", data={"csrf": csrf_of(await form.text()), "token": token}
    )
    assert again.status == 401

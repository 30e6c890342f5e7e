"""Cookie sessions and forms without a browser (fast): what signs a browser in, what a
forged or stale cookie or form gets, and that the API keeps to bearer tokens."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from grader.service.web import SESSION_COOKIE, issue_session, read_session, session_key
from tests.service.helpers import LAYERS, Service, embedded_service
from tests.service.test_extensions import chosen_database

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def sign_in(s: Service, who: str, next_page: str = "/me") -> TestClient:
    form = s.client.get("/signin")
    found = CSRF.search(form.text)
    assert found is not None, form.text
    response = s.client.post(
        "/signin",
        data={"token": s.tokens[who], "csrf_token": found[1], "next": next_page},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return s.client


def page_csrf(client: TestClient, path: str = "/me") -> str:
    found = CSRF.search(client.get(path).text)
    assert found is not None
    return found[1]


@pytest.fixture
def service(tmp_path: Path):  # type: ignore[no-untyped-def]
    with embedded_service(tmp_path, grading=False) as s:
        yield s


def test_pages_redirect_to_sign_in_and_back(service: Service) -> None:
    c = service.client
    away = c.get("/me?x=1", follow_redirects=False)
    assert away.status_code == 303
    assert away.headers["location"] == "/signin?next=/me%3Fx%3D1"
    signed = c.post(
        "/signin",
        data={
            "token": service.tokens["alice"],
            "csrf_token": CSRF.search(c.get("/signin").text)[1],  # type: ignore[index]
            "next": "/me",
        },
        follow_redirects=False,
    )
    assert signed.headers["location"] == "/me"
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie
    assert service.tokens["alice"] not in cookie
    assert c.get("/me").status_code == 200
    assert c.get("/signin", follow_redirects=False).headers["location"] == "/me"


def test_sign_in_refuses_a_bad_token_a_forged_form_and_a_foreign_next(service: Service) -> None:
    c = service.client
    token = CSRF.search(c.get("/signin").text)[1]  # type: ignore[index]
    bad = c.post("/signin", data={"token": "dlg_nope", "csrf_token": token})
    assert bad.status_code == 401
    assert "Unknown or revoked token." in bad.text
    # A form posted from elsewhere has no nonce cookie to match (login CSRF).
    c.cookies.clear()
    forged = c.post("/signin", data={"token": service.tokens["alice"], "csrf_token": token})
    assert forged.status_code == 403
    assert SESSION_COOKIE not in c.cookies
    for target in ("//evil.example/x", "https://evil.example", "/\\evil.example"):
        c.cookies.clear()
        token = CSRF.search(c.get("/signin").text)[1]  # type: ignore[index]
        went = c.post(
            "/signin",
            data={"token": service.tokens["alice"], "csrf_token": token, "next": target},
            follow_redirects=False,
        )
        assert went.headers["location"] == "/me", target


def test_revoking_the_token_ends_the_session(service: Service) -> None:
    c = sign_in(service, "alice")
    assert c.get("/me").status_code == 200
    tokens = c.get("/api/v1/admin/tokens", headers=service.headers("root")).json()
    alice = next(t for t in tokens if t["user"] == "alice")
    c.delete(f"/api/v1/admin/tokens/{alice['id']}", headers=service.headers("root"))
    assert c.get("/me", follow_redirects=False).status_code == 303


def test_forged_expired_and_tampered_cookies_sign_no_one_in(service: Service) -> None:
    key = session_key(service.settings)
    good = issue_session(key, 1)
    assert read_session(key, good) is not None
    assert read_session(b"another host's key", good) is None
    assert read_session(key, good.replace("1.", "2.", 1)) is None  # another token's id
    assert read_session(key, issue_session(key, 1, now=time.time() - 13 * 3600)) is None
    for junk in ("", "x", "1.2.3", "a.b.c.d", "." * 300):
        assert read_session(key, junk) is None
    service.client.cookies.set(SESSION_COOKIE, good.replace("1.", "2.", 1))
    assert service.client.get("/me", follow_redirects=False).status_code == 303


def test_forms_need_the_sessions_csrf_token(service: Service) -> None:
    c = sign_in(service, "tina")
    for token in ("", "x" * 43):
        refused = c.post("/signout", data={"csrf_token": token}, follow_redirects=False)
        assert refused.status_code == 403
        assert "form has expired" in refused.text
    # Another session's token does not do either.
    other = TestClient(c.app)
    other.cookies.set(SESSION_COOKIE, c.cookies[SESSION_COOKIE])
    theirs = page_csrf(other)
    c.cookies.set(SESSION_COOKIE, issue_session(session_key(service.settings), 3))
    assert c.post("/signout", data={"csrf_token": theirs}).status_code == 403
    out = c.post("/signout", data={"csrf_token": page_csrf(c)}, follow_redirects=False)
    assert out.status_code == 303
    assert 'dlgrader_session=""' in out.headers["set-cookie"]


def test_signing_out_ends_every_copy_of_the_session(service: Service) -> None:
    c = sign_in(service, "alice")
    copied = c.cookies[SESSION_COOKIE]
    elsewhere = TestClient(c.app)  # the same cookie in another browser (a shared machine)
    elsewhere.cookies.set(SESSION_COOKIE, copied)
    assert elsewhere.get("/me").status_code == 200
    c.post("/signout", data={"csrf_token": page_csrf(c)}, follow_redirects=False)
    assert elsewhere.get("/me", follow_redirects=False).status_code == 303
    # The next sign-in holds, and a stale copy cannot sign it out.
    again = sign_in(service, "alice")
    assert again.get("/me").status_code == 200
    stale = TestClient(c.app)
    stale.cookies.set(SESSION_COOKIE, copied)
    refused = stale.post("/signout", data={"csrf_token": "x"}, follow_redirects=False)
    assert refused.headers["location"].startswith("/signin")
    assert again.get("/me").status_code == 200


def test_the_api_keeps_to_bearer_tokens(service: Service) -> None:
    c = sign_in(service, "alice")
    assert c.get("/api/v1/submissions").status_code == 401
    # A page session does not carry an API upload past the body guard.
    upload = c.post(
        "/api/v1/submissions", files={"file": ("layers.py", LAYERS)}, data={"assignment": "x"}
    )
    assert upload.status_code == 401
    # A page form with no session is sent to sign in before its body is read.
    c.cookies.clear()
    blind = c.post("/staff/assignments/cnn-layers/regrade", data={"wait_s": "0"})
    assert blind.status_code == 303 or blind.url.path == "/signin"


def test_a_student_is_kept_off_staff_pages_and_others_submissions(service: Service) -> None:
    mine = service.submit("alice", LAYERS).json()["id"]
    bob = sign_in(service, "bob")
    assert bob.get("/staff").status_code == 403
    assert bob.get(f"/submissions/{mine}").status_code == 404
    posted = bob.post("/staff/assignments/cnn-layers/regrade", data={"csrf_token": page_csrf(bob)})
    assert posted.status_code == 403


def test_in_flight_pages_refresh_themselves(service: Service) -> None:
    queued = service.submit("alice", LAYERS).json()["id"]  # nothing grades here
    c = sign_in(service, "alice")
    for page in ("/me", f"/submissions/{queued}"):
        html = c.get(page).text
        assert '<meta http-equiv="refresh" content="3">' in html, page
        assert 'id="live"' in html
    assert "http-equiv" not in c.get("/leaderboards").text


def test_the_report_takes_the_page_session(service: Service) -> None:
    queued = service.submit("alice", LAYERS).json()["id"]
    c = sign_in(service, "alice")
    # Reached with the cookie (a 409: this one has no report), not refused as anonymous.
    assert c.get(f"/api/v1/submissions/{queued}/report.html").json()["code"] == "no_report"
    c.cookies.clear()
    assert c.get(f"/api/v1/submissions/{queued}/report.html").status_code == 401
    # A browser whose session has expired is sent to sign in, then back to the report.
    expired = c.get(
        f"/api/v1/submissions/{queued}/report.html",
        headers={"accept": "text/html"},
        follow_redirects=False,
    )
    assert expired.status_code == 303
    assert expired.headers["location"] == f"/signin?next=/api/v1/submissions/{queued}/report.html"
    with_bearer = c.get(
        f"/api/v1/submissions/{queued}/report.html", headers=service.headers("alice")
    )
    assert with_bearer.json()["code"] == "no_report"


def test_what_students_name_is_escaped(service: Service) -> None:
    name = "<img src=x onerror=alert(1)>.py"
    service.submit("alice", LAYERS, name=name)
    html = sign_in(service, "alice").get("/me").text
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;.py" in html


def test_a_bad_form_field_is_a_page_and_the_api_keeps_json(service: Service) -> None:
    c = sign_in(service, "tina")
    bad = c.post(
        "/staff/assignments/cnn-layers/regrade",
        data={"csrf_token": page_csrf(c), "wait_s": "abc"},
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("text/html")
    assert "wait_s" in bad.text
    api = c.post(
        "/api/v1/admin/assignments/cnn-layers/regrade",
        params={"wait_s": "abc"},
        headers=service.headers("tina"),
    )
    assert api.status_code == 422
    assert api.json()["code"] == "invalid_request"


@pytest.fixture
def on_database(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    with embedded_service(tmp_path, grading=False, database_url=chosen_database(request)) as s:
        yield s


@pytest.mark.parametrize("on_database", ["sqlite", "postgres"], indirect=True)
def test_a_nul_anywhere_is_a_clean_answer_on_either_database(on_database: Service) -> None:
    """PostgreSQL refuses a NUL in text (a 500 before); every route answers one alike: a
    path with one 404, a value 422, as JSON under /api/ and as a page elsewhere."""
    s = on_database
    c = sign_in(s, "alice")
    for path in ("/submissions/%00", "/submissions/a%00b"):
        page = c.get(path)
        assert page.status_code == 404, path
        assert page.headers["content-type"].startswith("text/html")
    for path in ("/api/v1/submissions/%00", "/api/v1/submissions/%00/report.html"):
        api = c.get(path, headers=s.headers("alice"))
        assert (api.status_code, api.json()["code"]) == (404, "not_found"), path
    query = c.get("/api/v1/submissions", params={"assignment": "a\0b"}, headers=s.headers("alice"))
    assert (query.status_code, query.json()["code"]) == (422, "invalid_request")
    body = c.put(
        "/api/v1/admin/assignments/cnn-layers/extensions/alice",
        json={"reason": "a\0b"},
        headers=s.headers("tina"),
    )
    assert (body.status_code, body.json()["code"]) == (422, "invalid_request")
    c.cookies.clear()
    sign_in(s, "tina")
    token = page_csrf(c, "/staff")
    for fields in ({"user": "al\0ice"}, {"user": "alice", "reason": "a\0b"}):
        form = c.post(
            "/staff/gradebook/cnn-layers/extensions", data={"csrf_token": token, **fields}
        )
        assert form.status_code == 422, fields
        assert "NUL" in form.text
    assert (
        c.post(
            "/staff/gradebook/cnn-layers/extensions/a%00b/revoke", data={"csrf_token": token}
        ).status_code
        == 404
    )
    assert (
        c.post(
            "/staff/submissions/%00/regrade", data={"csrf_token": token, "wait_s": "0"}
        ).status_code
        == 404
    )
    assert c.get("/staff/gradebook/cnn-layers", params={"user": "\0"}).status_code == 422
    assert c.get("/staff/gradebook/cnn-layers").status_code == 200


def test_html_responses_carry_the_security_headers(service: Service) -> None:
    """One middleware: every HTML response loads nothing from elsewhere and cannot be
    framed; the API docs may run their own inline script; nothing is sniffed."""
    mine = service.submit("alice", LAYERS).json()["id"]
    c = sign_in(service, "alice")
    for path in ("/", "/me", f"/submissions/{mine}", "/leaderboards", "/staff", "/nowhere/x"):
        page = c.get(path)
        if not page.headers["content-type"].startswith("text/html"):
            continue  # the unknown path is the API's JSON 404
        csp = page.headers["content-security-policy"]
        assert "default-src 'self'" in csp, path
        assert "frame-ancestors 'none'" in csp, path
        assert "script-src" not in csp  # scripts from default-src 'self': none inline
        assert "http" not in csp
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["referrer-policy"] == "same-origin"
    docs = c.get("/docs").headers["content-security-policy"]
    assert "script-src 'self' 'unsafe-inline'" in docs
    assert "http" not in docs
    api = c.get("/api/v1/submissions", headers=service.headers("alice"))
    assert api.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in api.headers

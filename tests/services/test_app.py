"""``keyholder app``, the app as a native public client, end to end against the
real provider: the installed command prints the address, a user agent signs
in and is sent to the app's loopback port, the app redeems the code with
PKCE, verifies the ID token and says who is signed in; the tokens it keeps
are the app channel's (no OneDrive, which is for the web only)."""

from __future__ import annotations

import json
import re
import socket
import stat

import pytest
import requests

from keyholder.demo.data import PEOPLE
from tests.services.rp_support import app_login, claims_of, keyholder_app, run_app, usage_api
from tests.support.ports import free_port

BY_NAME = {p.name: p for p in PEOPLE}
PHILIP, MARY, THOMAS = BY_NAME["Philip Smith"], BY_NAME["Mary Jones"], BY_NAME["Thomas Taylor"]


@pytest.fixture
def app_port() -> int:
    return free_port()


@pytest.fixture
def api(provider, tmp_path):
    with usage_api(provider, tmp_path) as served_api:
        yield served_api


@pytest.fixture
def native(provider, app_port):
    """The app's client: its redirect URI names the port the app listens on
    (the provider matches redirect URIs exactly, port included)."""
    return provider.register("Keyholder app", "native",
                             redirect_uris=[f"http://127.0.0.1:{app_port}/callback"])


def test_an_administrator_signs_in_in_the_app(provider, native, app_port, tmp_path):
    state_dir = tmp_path / "app-state"
    login = app_login(provider.url, native.client_id, app_port, state_dir,
                      email=PHILIP.email, password=PHILIP.password)
    assert login.returncode == 0, login.stderr
    assert "Name: Philip Smith\n" in login.stdout
    assert "Customer number: 123456789\n" in login.stdout
    assert "Role: administrator\n" in login.stdout
    assert "You are signed in to the app" in login.callback_page
    # The address it printed: code flow, PKCE S256, state, nonce, the loopback redirect.
    url = next(line.strip() for line in login.stdout.splitlines()
               if line.strip().startswith("http"))
    for part in ("response_type=code", "code_challenge_method=S256", "state=", "nonce=",
                 f"redirect_uri=http%3A%2F%2F127.0.0.1%3A{app_port}%2Fcallback"):
        assert part in url
    # The token file: the folder and the file are the owner's only.
    token_file = state_dir / "tokens.json"
    assert stat.S_IMODE(state_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    stored = json.loads(token_file.read_text())
    assert stored["issuer"] == provider.url and stored["client_id"] == native.client_id
    access = claims_of(stored["access_token"])
    assert access["client_id"] == native.client_id and access["role"] == "administrator"
    # The app channel: everything an administrator has, except OneDrive (web only).
    assert "onedrive" not in access["entitlements"]
    assert {"usage:all", "bills", "tv"} <= set(access["entitlements"])
    assert claims_of(stored["id_token"])["name"] == PHILIP.name
    assert stored["refresh_token"]


def test_a_user_sees_her_role(provider, native, app_port, tmp_path):
    login = app_login(provider.url, native.client_id, app_port, tmp_path / "state",
                      email=MARY.email, password=MARY.password)
    assert login.returncode == 0, login.stderr
    assert "Name: Mary Jones\nCustomer number: 123456789\nRole: user\n" in login.stdout


def test_the_customer_option_chooses_the_customer(provider, native, app_port, tmp_path):
    # Thomas is a user at work and the administrator at home.
    login = app_login(provider.url, native.client_id, app_port, tmp_path / "state",
                      email=THOMAS.email, password=THOMAS.password,
                      extra=("--customer", "987 654 321"))
    assert login.returncode == 0, login.stderr
    assert "Customer number: 987654321\nRole: administrator\n" in login.stdout


def test_a_refused_consent_is_reported_and_nothing_is_stored(provider, app_port, tmp_path):
    third_party = provider.register("Other app", "native", first_party=False,
                                    redirect_uris=[f"http://127.0.0.1:{app_port}/callback"])
    login = app_login(provider.url, third_party.client_id, app_port, tmp_path / "state",
                      email=MARY.email, password=MARY.password, consent="deny")
    assert login.returncode == 1
    assert "Error: The sign-in was not completed: access_denied" in login.stderr
    assert not (tmp_path / "state" / "tokens.json").exists()


def test_an_answer_with_another_state_is_refused(provider, native, app_port, tmp_path):
    process = keyholder_app("login", "--issuer", provider.url, "--client-id", native.client_id,
                            "--port", str(app_port), "--no-browser", "--timeout", "30",
                            "--state-dir", str(tmp_path / "state"), home=tmp_path)
    for line in process.stdout:
        if line.strip().startswith("http"):
            break
    forged = requests.get(f"http://127.0.0.1:{app_port}/callback", timeout=10,
                          params={"code": "stolen", "state": "forged", "iss": provider.url})
    assert forged.status_code == 200
    _, err = process.communicate(timeout=30)
    assert process.returncode == 1
    assert "state mismatch" in err
    assert not (tmp_path / "state" / "tokens.json").exists()


def test_no_answer_in_time(provider, native, app_port, tmp_path):
    result = run_app("login", "--issuer", provider.url, "--client-id", native.client_id,
                     "--port", str(app_port), "--no-browser", "--timeout", "1",
                     "--state-dir", str(tmp_path / "state"), home=tmp_path)
    assert result.returncode == 1
    assert "No answer from the browser within 1 seconds." in result.stderr


def test_the_port_is_taken(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = run_app("login", "--client-id", "x", "--no-browser", "--port", str(port),
                         "--state-dir", str(tmp_path / "state"), home=tmp_path)
    assert result.returncode == 1
    assert f"Cannot listen on 127.0.0.1:{port}" in result.stderr


@pytest.mark.parametrize(("args", "message"), [
    (("--customer", "12345"), "A customer number has exactly 9 digits; this has 5."),
    (("--port", "70000"), "70000 is not in the range 0<=x<=65535"),
])
def test_bad_options(tmp_path, args, message):
    result = run_app("login", "--client-id", "x", "--no-browser", *args, home=tmp_path)
    assert result.returncode == 2
    assert message in re.sub(r"\s+", " ", result.stderr)


def test_usage_before_signing_in(tmp_path):
    result = run_app("usage", "--api", "http://127.0.0.1:9", "--state-dir",
                     str(tmp_path / "state"), home=tmp_path)
    assert result.returncode == 1
    assert "not signed in: run `keyholder app login` first" in result.stderr


def sign_in_for_the_api(provider, native, app_port, api, state_dir, person):
    login = app_login(provider.url, native.client_id, app_port, state_dir, email=person.email,
                      password=person.password, extra=("--resource", api.url))
    assert login.returncode == 0, login.stderr
    return state_dir / "tokens.json"


def test_usage_in_the_app_shows_a_user_her_own_mobile(provider, native, app_port, api,
                                                      tmp_path):
    state_dir = tmp_path / "state"
    sign_in_for_the_api(provider, native, app_port, api, state_dir, MARY)
    result = run_app("usage", "--state-dir", str(state_dir), home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "Usage of your own mobile (+32470000002):",
        "  +32470000002 (Mary Jones) 2026-10: 5980 MB, 221 min, 130 SMS",
        "  +32470000002 (Mary Jones) 2026-09: 7340 MB, 198 min, 97 SMS",
        "  +32470000002 (Mary Jones) 2026-08: 6120 MB, 240 min, 112 SMS",
    ]


def test_usage_in_the_app_shows_an_administrator_every_mobile(provider, native, app_port, api,
                                                              tmp_path):
    state_dir = tmp_path / "state"
    sign_in_for_the_api(provider, native, app_port, api, state_dir, PHILIP)
    result = run_app("usage", "--api", api.url, "--state-dir", str(state_dir), home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage of all mobiles of customer 123456789:\n")
    for mobile in ("+32470000001", "+32470000002", "+32470000003"):
        assert f"  {mobile} (" in result.stdout
    assert "+32470000004" not in result.stdout


def test_an_expired_access_token_is_refreshed(provider, native, app_port, api, tmp_path):
    state_dir = tmp_path / "state"
    token_file = sign_in_for_the_api(provider, native, app_port, api, state_dir, MARY)
    before = json.loads(token_file.read_text())
    token_file.write_text(json.dumps({**before, "expires_at": 0}))
    result = run_app("usage", "--state-dir", str(state_dir), home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "+32470000002 (Mary Jones)" in result.stdout
    after = json.loads(token_file.read_text())
    assert after["refresh_token"] != before["refresh_token"]  # rotated, and kept
    assert after["access_token"] != before["access_token"]
    assert claims_of(after["access_token"])["aud"] == [api.url]
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600


def test_a_revoked_session_asks_to_sign_in_again(provider, native, app_port, api, tmp_path):
    state_dir = tmp_path / "state"
    token_file = sign_in_for_the_api(provider, native, app_port, api, state_dir, MARY)
    stored = json.loads(token_file.read_text())
    assert native.revoke(stored["refresh_token"]).status_code == 200
    token_file.write_text(json.dumps({**stored, "expires_at": 0}))
    result = run_app("usage", "--state-dir", str(state_dir), home=tmp_path)
    assert result.returncode == 1
    assert "Your session has ended; sign in again with `keyholder app login`." in result.stderr
    assert not token_file.exists()

"""``keyholder demo`` as a newcomer runs it: the installed command, a real
server on loopback, the help page's example company."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from keyholder.demo.data import PEOPLE
from tests.support.ports import free_port, free_range

KEYHOLDER = Path(sys.executable).with_name("keyholder")


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYHOLDER_")}
    # Ports of their own, so that a demo someone runs on this machine is not in the way.
    env.update(KEYHOLDER_DEMO_PORTS_FROM=str(free_range(7)),
               KEYHOLDER_SMTP_URL=f"smtp://127.0.0.1:{free_range(1)}")
    return env


def keyholder(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(KEYHOLDER), *args], cwd=cwd, capture_output=True, text=True,
                          env={**clean_env(), "KEYHOLDER_DEMO": "1"}, timeout=60, check=False)


# What each URL of the banner answers to a browser that is not signed in.
SIGN_IN_FIRST = (302, "/login?next=/")
BANNER_ANSWERS = {
    "Provider (sign in, the console at /console)": (302, "/login"),
    "Discovery": (200, None), "Health": (200, None),
    "MyProximus self-care": SIGN_IN_FIRST, "The Cloud": SIGN_IN_FIRST, "Foot 11": SIGN_IN_FIRST,
    "OneDrive for Business": SIGN_IN_FIRST,
    "TV (set-top box)": (200, None),
    "Usage API (JSON)": (401, None),  # GET /usage wants a bearer token
    "Mailbox": (200, None),
}


def run_demo(cwd: Path, port: int, env: dict[str, str] | None = None, *options: str,
             stop_with: int = signal.SIGINT) -> tuple[str, str]:
    """Start the demo, wait for its banner, check it serves, stop it with
    Ctrl-C (or ``stop_with``)."""
    process = subprocess.Popen([str(KEYHOLDER), "demo", "--port", str(port), *options], cwd=cwd,
                               env=env or clean_env(), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        banner = []
        for line in process.stdout:
            banner.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        else:
            pytest.fail("demo ended early:\n" + "".join(banner) + process.stderr.read())
        health = requests.get(f"http://127.0.0.1:{port}/health", timeout=10)
        assert health.status_code == 200 and health.json()["status"] == "ok"
        urls = dict(re.findall(r"^  (\S.*?)\s+(http://127\.0\.0\.1:\d+/\S*)$", "".join(banner),
                               re.MULTILINE))
        answers = {}
        for title, url in urls.items():
            answer = requests.get(url, timeout=10, allow_redirects=False)
            answers[title] = answer.status_code, answer.headers.get("Location")
        assert answers == BANNER_ANSWERS
        check_security_event_endpoints(cwd, urls)
    finally:
        process.send_signal(stop_with)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    return "".join(banner) + out, err


# The services with a stream (security events), by the name the demo remembers them by.
STREAMED = {"portal": "MyProximus self-care", "cloud": "The Cloud", "foot11": "Foot 11",
            "onedrive": "OneDrive for Business", "tv": "TV (set-top box)",
            "usage_api": "Usage API (JSON)"}


def check_security_event_endpoints(cwd: Path, urls: dict[str, str]) -> None:
    """Each service takes pushes at /security-events with the header its
    stream was created with (remembered in demo-clients.json), and only then:
    a body that is no SET is refused by the receiver (400), not the caller (401)."""
    clients = json.loads((cwd / "instance" / "demo-clients.json").read_text())
    for name, title in STREAMED.items():
        endpoint = re.sub(r"^(http://[^/]+)/.*$", r"\1", urls[title]) + "/security-events"
        headers = {"Content-Type": "application/secevent+jwt"}
        wrong = requests.post(endpoint, data=b"x", timeout=10,
                              headers={**headers, "Authorization": "Bearer wrong"})
        assert wrong.status_code == 401, (name, wrong.status_code)
        right = requests.post(endpoint, data=b"x", timeout=10, headers={
            **headers, "Authorization": clients[name]["stream"]["authorization"]})
        assert right.status_code == 400 and right.json()["err"] == "invalid_request", name


def streams_listed(cwd: Path) -> list[str]:
    """``keyholder ssf list``: one line per stream, by client name and push URL."""
    listed = keyholder("ssf", "list", cwd=cwd)
    assert listed.returncode == 0, listed.stderr
    return sorted(listed.stdout.splitlines())


def test_demo_serves_health_and_prints_url_and_logins(tmp_path):
    port, env = free_port(), clean_env()
    output, errors = run_demo(tmp_path, port, env)
    assert f"http://127.0.0.1:{port}/health" in output
    for person in PEOPLE:
        assert person.email in output and person.password in output
    assert "Stopped." in output
    assert "NOT safe in production" not in errors  # demo mode is quiet about defaults

    smith = keyholder("customer", "show", "123456789", cwd=tmp_path).stdout
    assert "Smith ltd  (business" in smith
    assert "administrator  Philip Smith" in smith
    assert "user           Mary Jones" in smith and "+32470000002" in smith
    assert "user           Thomas Taylor" in smith and "+32470000003" in smith
    home = keyholder("customer", "show", "987654321", cwd=tmp_path).stdout
    assert "(residential" in home
    assert "administrator  Thomas Taylor" in home
    assert "user           Emma Taylor" in home

    # Each service but the app has a stream pushing to its /security-events.
    streams = streams_listed(tmp_path)
    assert len(streams) == 6
    for name in ("MyProximus self-care", "The Cloud", "Foot 11", "OneDrive for Business",
                 "TV", "Usage API"):
        assert sum(f"  {name} [" in line for line in streams) == 1, name
    assert all(re.search(r"  http://127\.0\.0\.1:\d+/security-events  enabled  waiting=0$",
                         line) for line in streams), streams

    # A second start keeps the instance and adds nothing twice: the same
    # clients and streams (and the services still have their streams' secret).
    run_demo(tmp_path, port, env)
    assert keyholder("customer", "show", "123456789", cwd=tmp_path).stdout == smith
    assert streams_listed(tmp_path) == streams

    # On other ports the web services and the API are registered again, each
    # with a new stream (the old clients' streams are deleted); the TV keeps
    # its client, its stream now pushing to the new address.
    run_demo(tmp_path, port)
    moved = streams_listed(tmp_path)
    assert len(moved) == 6 and not set(moved) & set(streams)
    ids = {line.split()[0] for line in streams}
    assert [line for line in moved if line.split()[0] in ids] == \
        [line for line in moved if "  TV [" in line]


def test_sigterm_stops_the_demo_cleanly_and_reset_forgets_the_changes(tmp_path):
    """The first ten minutes (issue 15): SIGTERM is a clean stop (exit 0, not a
    failure); each access log line names its server; `--reset` starts again
    from the demo data after Mary's promotion."""
    port, env = free_port(), clean_env()
    output, errors = run_demo(tmp_path, port, env, stop_with=signal.SIGTERM)
    assert "Stopped." in output
    assert re.search(rf'\[provider:{port}\] "GET /health" 200', errors), errors[-2000:]
    assert re.search(r'\[portal:\d+\] "GET /" 302', errors)

    promoted = keyholder("member", "set-role", "mary.jones@smith-ltd.example", "--customer",
                         "123456789", "--role", "administrator", cwd=tmp_path)
    assert promoted.returncode == 0, promoted.stderr
    assert "administrator  Mary Jones" in keyholder("customer", "show", "123456789",
                                                    cwd=tmp_path).stdout
    output, _ = run_demo(tmp_path, port, env, "--reset")
    assert "Reset: keyholder.db" in output
    shown = keyholder("customer", "show", "123456789", cwd=tmp_path).stdout
    assert "user           Mary Jones" in shown and "administrator  Philip Smith" in shown


def test_demo_reports_a_busy_port_in_one_line(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run([str(KEYHOLDER), "demo", "--port", str(port)], cwd=tmp_path,
                                env=clean_env(), capture_output=True, text=True, timeout=60,
                                check=False)
    assert result.returncode == 1
    assert f"Error: cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_claims_is_importable_without_the_provider():
    code = ("import sys, claims; "
            "assert not {'flask', 'sqlalchemy', 'idp'} & set(sys.modules), sys.modules.keys()")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)

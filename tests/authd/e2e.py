"""End-to-end tests of kerbsasl-authd: nginx (auth_request, the README's
configuration) in front of a backend that echoes the identity headers,
authd answering nginx's subrequests, and real clients: curl --negotiate,
Python requests-gssapi, and raw requests for what they can't send.

Run by tests/authd/run inside testrealm with a 3 s clock skew (so tickets
expire in seconds); WORKDIR holds configs and logs. Prints one line per
case and ends with "N passed, N failed".

usage: e2e.py WORKDIR
"""

import base64
import http.client
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import fixture
from fixture import HOST, REALM, REALM_DIR, SERVICE, Authd, Backend, Nginx, Service

sys.path.insert(0, str(fixture.ROOT / "tests" / "support"))
from results import run_suite  # noqa: E402

ALICE = f"alice@{REALM}"
EXPIRING = "expiring.kerbsasl.test"   # its tickets live 1 s
WRONG = "wrong.kerbsasl.test"         # a service whose key authd lacks
SKEW_SECONDS = 3                      # testrealm --clockskew, see the run script
NTLM_NEGOTIATE = "TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAKAGFKAAAADw=="
GENERIC_BODY = "Kerberos authentication required\n"
# Growth of authd's VmRSS allowed over rounds 3 and 4 (400 requests): a
# leaked context or buffer per request would be far more; allocator noise
# is less.
RSS_TOLERANCE_KIB = 512


def main():
    work = Path(sys.argv[1])

    def sections(results):
        suite = Suite(work, results)
        return (suite.kerberos_and_cookies, suite.other_secret, suite.short_sessions,
                suite.strip_realm, suite.bad_options, suite.keytab_rotation)

    run_suite(sections, Service.stop_all)


class Suite:
    def __init__(self, work, results):
        self.work = work
        self.results = results
        self.check = results.check
        self.keytab = REALM_DIR / "http.keytab"
        fixture.add_service(SERVICE, self.keytab)
        fixture.add_service(f"HTTP/{EXPIRING}@{REALM}", self.keytab)
        fixture.kadmin(f'modprinc -maxlife "1 second" HTTP/{EXPIRING}@{REALM}')
        fixture.kadmin(f"addprinc -randkey HTTP/{WRONG}@{REALM}")
        self.secret = self.write_secret("secret")
        self.other_secret_file = self.write_secret("other-secret")
        # Made now, used once its ticket (1 s) and the skew have passed.
        ccache = fixture.kinit("alice", work / "expiring.ccache")
        self.expiring_token = fixture.negotiate_token(ccache, EXPIRING)
        self.expiring_made = time.monotonic()
        self.backend = Backend()
        self.authd = Authd(work / "authd", self.options())
        self.authd.start()
        self.nginx = Nginx(work / "nginx", self.authd.port, self.backend.port,
                           other_site="intranet.example.com").start()
        self.url = f"http://{HOST}:{self.nginx.port}"

    def write_secret(self, name):
        path = self.work / name
        path.write_bytes(secrets.token_bytes(32))
        path.chmod(0o600)
        return path

    def options(self, **changes):
        """The main configuration: any principal in the keytab (HTTP/localhost
        and HTTP/expiring), sessions on over plain HTTP, debug log."""
        options = {
            "principal": "*",
            "keytab": self.keytab,
            "log_level": "debug",
            "session_secret_file": self.secret,
            "session_secure": "false",
        }
        options.update(changes)
        return {k: v for k, v in options.items() if v is not None}

    # Helpers -----------------------------------------------------------

    def logged(self, *fragments):
        """Whether one new authd log line holds every fragment; returns
        (ok, that line or the new lines)."""
        lines = self.authd.new_lines()
        for line in lines:
            if all(f in line for f in fragments):
                return True, line.split(" ", 2)[-1]
        return False, f"no log line with {fragments} in {lines[-4:]}"

    def through_nginx_401(self, headers, *fragments, port=None):
        """A request that must be refused: 401, one `WWW-Authenticate:
        Negotiate`, no backend call, and a log line with the fragments."""
        self.authd.new_lines()
        before = len(self.backend.requests)
        r = request(port or self.nginx.port, "/app", headers)
        ok = r.status == 401 and r.all("WWW-Authenticate") == ["Negotiate"] \
            and len(self.backend.requests) == before
        logged, line = self.logged(*fragments)
        return ok and logged, f"{r}; log: {line}"

    def alive(self):
        r = request(self.authd.port, "/.kerbsasl/health")
        return r.status == 200

    # Sections ----------------------------------------------------------

    def kerberos_and_cookies(self):
        check, url = self.check, self.url
        nginx_port, authd_port = self.nginx.port, self.authd.port

        check("the README's nginx configuration is the one tested here", readme_matches_fixture)

        def health():
            r = request(authd_port, "/.kerbsasl/health")
            return (r.status, r.body) == (200, "ok\n"), str(r)

        def no_credentials():
            self.authd.new_lines()
            r = request(nginx_port, "/app")
            direct = request(authd_port, "/auth")
            ok = (r.status == 401 and r.all("WWW-Authenticate") == ["Negotiate"]
                  and not self.backend.requests
                  and direct.status == 401 and direct.body == GENERIC_BODY
                  and direct.all("WWW-Authenticate") == ["Negotiate"])
            logged, line = self.logged("no Negotiate credentials")
            return ok and logged, f"nginx {r}; authd {direct}; log: {line}"

        check("health: GET /.kerbsasl/health -> 200 ok", health)
        check("no credentials: 401 with exactly one WWW-Authenticate: Negotiate "
              "(nginx copies authd's), generic body, backend not called", no_credentials)

        def curl_success():
            self.authd.new_lines()
            r = curl(url + "/app")
            seen = r.json()
            negotiate = r.all("WWW-Authenticate")
            ok = (r.status == 200 and seen["X-Remote-User"] == ALICE
                  and seen["X-Kerberos-Principal"] == ALICE and seen["X-Kerberos-Realm"] == REALM
                  and seen["Authorization"] is None
                  and len(negotiate) == 1 and negotiate[0].startswith("Negotiate ")
                  and len(negotiate[0]) > 40)
            logged, line = self.logged(f"authenticated {ALICE} as {ALICE} (Kerberos)",
                                       "client 127.0.0.1 (via 127.0.0.1:")
            self.cookie = session_cookie(r)
            return ok and logged, f"{r}; log: {line}"

        check("curl --negotiate through nginx: 200, the backend sees alice's principal, "
              "username and realm; one WWW-Authenticate with the mutual-auth token; "
              "success logged at debug with the client address", curl_success)

        def requests_gssapi():
            import requests
            from requests_gssapi import REQUIRED, HTTPSPNEGOAuth
            r = requests.get(url + "/app", auth=HTTPSPNEGOAuth(mutual_authentication=REQUIRED),
                             timeout=10)
            seen = r.json()
            ok = r.status_code == 200 and seen["X-Remote-User"] == ALICE
            return ok, f"{r.status_code} {seen}"

        check("requests-gssapi, mutual authentication REQUIRED: 200 as alice "
              "(the client verified the server's token)", requests_gssapi)

        def spoofed_headers():
            r = curl(url + "/app", "-H", "X-Remote-User: mallory",
                     "-H", f"X-Kerberos-Principal: mallory@{REALM}")
            seen = r.json()
            return (seen["X-Remote-User"], seen["X-Kerberos-Principal"]) == (ALICE, ALICE), \
                f"backend saw {seen}"

        check("identity headers sent by the client are replaced, never passed on",
              spoofed_headers)

        def cookie_attributes():
            c = self.cookie
            ok = (c is not None and c["name"] == "kerbsasl_session" and "HttpOnly" in c["flags"]
                  and "SameSite=Lax" in c["flags"] and "Secure" not in c["flags"]
                  and "Path=/" in c["flags"] and "Max-Age=3600" in c["flags"])
            return ok, f"Set-Cookie: {c and c['raw']}"

        check("session cookie set on success: HttpOnly, SameSite=Lax, Max-Age=3600 "
              "(Secure switched off for plain HTTP)", cookie_attributes)

        def cookie_reuse():
            self.authd.new_lines()
            r = request(nginx_port, "/app", {"Cookie": self.cookie["pair"]})
            seen = r.json() if r.status == 200 else {}
            lines = self.authd.new_lines()
            via_cookie = [line for line in lines if "(session cookie)" in line]
            kerberos = [line for line in lines if "(Kerberos)" in line]
            ok = seen.get("X-Remote-User") == ALICE and via_cookie and not kerberos
            return ok, f"{r}; backend saw {seen}; log: {via_cookie or lines[-3:]}"

        check("cookie reuse: a request with only the cookie gets in as alice, "
              "without Kerberos", cookie_reuse)

        def tampered_cookie():
            pair = tamper(self.cookie["pair"])
            return self.through_nginx_401({"Cookie": pair}, "ignoring a session cookie with a bad "
                                          "signature", "falling back to Negotiate")

        def tampered_cookie_with_ticket():
            self.authd.new_lines()
            r = curl(url + "/app", "-H", f"Cookie: {tamper(self.cookie['pair'])}")
            seen = r.json() if r.status == 200 else {}
            logged, line = self.logged(f"authenticated {ALICE} as {ALICE} (Kerberos)")
            ok = seen.get("X-Remote-User") == ALICE and session_cookie(r) is not None
            return ok and logged, f"{r}; log: {line}"

        def cookie_for_another_host():
            # The other application's backend replays the cookie to its own
            # site, even naming the cookie's host: that site's default
            # server binds its own name.
            return self.through_nginx_401(
                {"Cookie": self.cookie["pair"], "Host": HOST},
                "bad signature", port=self.nginx.other_port)

        def cookie_with_a_forged_expiry():
            name, value = self.cookie["pair"].split("=", 1)
            payload, tag = value.split(".")
            raw = bytearray(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            raw[5:13] = (int.from_bytes(raw[5:13], "big") + 86400).to_bytes(8, "big")
            forged = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
            return self.through_nginx_401({"Cookie": f"{name}={forged}.{tag}"}, "bad signature")

        check("tampered cookie, no ticket: 401 Negotiate, logged", tampered_cookie)
        check("tampered cookie with a ticket: falls back to Negotiate, 200 as alice, "
              "a fresh cookie", tampered_cookie_with_ticket)
        check("cookie replayed to another application's site, with the cookie's own Host: "
              "401, logged", cookie_for_another_host)
        check("cookie with its expiry moved a day ahead: 401, logged", cookie_with_a_forged_expiry)

        def no_ticket():
            self.authd.new_lines()
            r = curl(url + "/app", ccache=f"FILE:{self.work / 'nobody.ccache'}")
            ok = r.status == 401 and r.all("WWW-Authenticate") == ["Negotiate"]
            logged, line = self.logged("no Negotiate credentials: answered 401 Negotiate")
            return ok and logged, f"{r}; log: {line}"

        check("curl --negotiate without a ticket: 401 Negotiate, logged", no_ticket)

        def wrong_service():
            self.authd.new_lines()
            host_url = f"http://{WRONG}:{nginx_port}/app"
            r = curl(host_url, "--resolve", f"{WRONG}:{nginx_port}:127.0.0.1")
            ok = r.status == 401 and r.all("WWW-Authenticate") == ["Negotiate"]
            logged, line = self.logged("authentication failed: KERBSASL_AUTH_FAILED",
                                       f"HTTP/{WRONG}")
            return ok and logged, f"{r}; log: {line}"

        check(f"ticket for HTTP/{WRONG} (not in the keytab): 401, "
              "KERBSASL_AUTH_FAILED logged", wrong_service)

        def replayed_header():
            token = fixture.negotiate_token()
            first = request(nginx_port, "/app", {"Authorization": token})
            ok, detail = self.through_nginx_401({"Authorization": token}, "KERBSASL_AUTH_FAILED",
                                                "Request is a replay")
            return first.status == 200 and ok, f"first {first}; again: {detail}"

        check("replayed Authorization header: first 200, the same again 401, "
              "'Request is a replay' logged", replayed_header)

        check("NTLM token: 401, logged naming NTLM", lambda: self.through_nginx_401(
            {"Authorization": f"Negotiate {NTLM_NEGOTIATE}"}, "KERBSASL_BAD_TOKEN", "NTLM"))
        check("Negotiate with bad base64: 401, KERBSASL_BAD_TOKEN logged",
              lambda: self.through_nginx_401({"Authorization": "Negotiate %%%not-base64%%%"},
                                             "KERBSASL_BAD_TOKEN"))
        check("Negotiate with random bytes: 401, KERBSASL_BAD_TOKEN logged",
              lambda: self.through_nginx_401(
                  {"Authorization": "Negotiate " + base64.b64encode(os.urandom(300)).decode()},
                  "KERBSASL_BAD_TOKEN"))
        check("Basic credentials: 401 Negotiate, logged as another scheme",
              lambda: self.through_nginx_401({"Authorization": "Basic YWxpY2U6cGFzc3dvcmQ="},
                                             'sent "Basic" credentials'))
        check("a 40 KB Negotiate header: 401, KERBSASL_BAD_TOKEN logged",
              lambda: self.through_nginx_401({"Authorization": "Negotiate " + "QUFB" * 10000},
                                             "KERBSASL_BAD_TOKEN"))

        def direct_edge_cases():
            over = request(authd_port, "/auth",
                           {"Authorization": "Negotiate " + "A" * (100 * 1024)})
            two = request(authd_port, "/auth", headers=[("Authorization", "Negotiate YQ=="),
                                                        ("Authorization", "Negotiate YQ==")])
            garbage = raw_exchange(authd_port, os.urandom(2000))
            bad_line = raw_exchange(authd_port, b"GET /\x00\x01 HTTP/1.1\r\n\r\n")
            slow = socket.create_connection(("127.0.0.1", authd_port))  # sends nothing
            ok = (over.status == 401 and two.status == 401 and self.alive()
                  and "more than one Authorization header" in "\n".join(self.authd.new_lines()))
            slow.close()
            return ok, (f"100 KiB header {over.status}, two headers {two.status}, garbage -> "
                        f"{garbage[:12]!r}, bad request line -> {bad_line[:12]!r}, still healthy")

        check("direct to authd: oversized header, two Authorization headers, random bytes, "
              "a bad request line, an idle connection: 401 or closed, authd lives on",
              direct_edge_cases)

        def concurrent_load():
            # Four rounds of 200 requests on 8 threads, each with its own
            # fresh token (made just before: the realm allows 3 s of skew);
            # authd's RSS after the second and the last round.
            from concurrent.futures import ThreadPoolExecutor
            statuses, rss = [], []
            with ThreadPoolExecutor(8) as pool:
                for _ in range(4):
                    chunk = [fixture.negotiate_token() for _ in range(200)]
                    statuses += pool.map(
                        lambda t: request(nginx_port, "/app", {"Authorization": t}).status, chunk)
                    rss.append(rss_kib(self.authd.process.pid))
            good = statuses.count(200)
            growth = rss[-1] - rss[1]
            return good == 800 and growth <= RSS_TOLERANCE_KIB, (
                f"{good} of 800 got 200; authd VmRSS after each 200: {rss} KiB "
                f"(+{growth} KiB from the second to the last; tolerance {RSS_TOLERANCE_KIB})")

        check("800 requests with fresh tokens from 8 concurrent clients: all 200, "
              "authd's memory flat", concurrent_load)

        def sigterm():
            code = self.authd.stop()
            stopped = "SIGTERM: shutting down" in self.authd.log() and "INFO  stopped" in self.authd.log()
            return code == 0 and stopped, f"exit status {code}"

        check("SIGTERM: authd exits 0 after logging its shutdown", sigterm)

    def other_secret(self):
        self.authd.restart(self.options(session_secret_file=self.other_secret_file))
        self.check("cookie signed with another secret: 401, logged", lambda: self.through_nginx_401(
            {"Cookie": self.cookie["pair"]}, "ignoring a session cookie signed with another secret"))

        def changed_identity_options():
            self.authd.restart(self.options(strip_realm="true"))
            return self.through_nginx_401({"Cookie": self.cookie["pair"]}, "bad signature")

        self.check("cookie from before strip_realm was switched on: 401, logged",
                   changed_identity_options)

    def short_sessions(self):
        self.authd.restart(self.options(session_ttl="2s"))

        def expired_cookie():
            r = curl(self.url + "/app")
            cookie = session_cookie(r)
            fresh = request(self.nginx.port, "/app", {"Cookie": cookie["pair"]})
            time.sleep(2.5)
            ok, detail = self.through_nginx_401({"Cookie": cookie["pair"]},
                                                "expired session cookie")
            return fresh.status == 200 and "Max-Age=2" in cookie["flags"] and ok, \
                f"fresh cookie {fresh.status}; after 2.5 s: {detail}"

        self.check("session_ttl 2s: the cookie works, then 2.5 s later 401 (expired), logged",
                   expired_cookie)

        def expired_ticket():
            # Expired means past the ticket's end (1 s) plus the skew.
            wait = self.expiring_made + 1 + SKEW_SECONDS + 1.5 - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            return self.through_nginx_401({"Authorization": self.expiring_token},
                                          "KERBSASL_AUTH_FAILED", "Ticket expired")

        self.check(f"expired ticket (HTTP/{EXPIRING} tickets live 1 s): 401, "
                   "'Ticket expired' logged", expired_ticket)

    def strip_realm(self):
        # From a --config file this time, with -o for the log level.
        config = self.work / "authd.conf"
        config.write_text(f"""# kerbsasl-authd
principal {SERVICE}
keytab {self.keytab}   # HTTP/localhost and HTTP/{EXPIRING}

strip_realm true
log_level info  # -o overrides it
""")
        self.authd.restart({"log_level": "debug"}, config_file=config)

        def strip():
            r = curl(self.url + "/app")
            seen = r.json() if r.status == 200 else {}
            ok = (seen.get("X-Remote-User"), seen.get("X-Kerberos-Principal"),
                  seen.get("X-Kerberos-Realm")) == ("alice", ALICE, REALM)
            return ok and session_cookie(r) is None, f"{r}; backend saw {seen}"

        self.check(f"--config with principal {SERVICE}, strip_realm: X-Remote-User alice, "
                   "the principal and realm in their headers; no cookie with sessions off",
                   strip)

        def other_principal():
            ccache = fixture.kinit("alice", self.work / "expiring2.ccache")
            return self.through_nginx_401(
                {"Authorization": fixture.negotiate_token(ccache, EXPIRING)},
                "KERBSASL_AUTH_FAILED", f"HTTP/{EXPIRING}")

        self.check(f"principal {SERVICE}: a ticket for another key in the keytab is refused",
                   other_principal)

    def bad_options(self):
        self.authd.stop()
        short = self.work / "short-secret"
        short.write_text("too short\n")
        short.chmod(0o600)
        open_to_all = self.work / "world-readable-secret"
        open_to_all.write_bytes(secrets.token_bytes(32))
        open_to_all.chmod(0o644)
        cases = [
            ("a missing keytab", {"keytab": "/nonexistent/http.keytab"},
             "KERBSASL_CONFIG", "/nonexistent/http.keytab"),
            ("a bad principal", {"principal": "HTTP"}, "KERBSASL_CONFIG", "invalid principal"),
            ("a principal absent from the keytab",
             {"principal": f"HTTP/absent.kerbsasl.test@{REALM}"}, "KERBSASL_CONFIG", "has no key"),
            ("an unknown key", {"keytabs": "x"}, "unknown option \"keytabs\""),
            ("a missing session secret file",
             {"session_secret_file": "/nonexistent/secret"}, "cannot read session_secret_file"),
            ("a 9-byte session secret", {"session_secret_file": short}, "holds 9 bytes"),
            ("a session secret every user can read",
             {"session_secret_file": open_to_all}, "open to every user (mode 644)", "chmod 600"),
            ("session_ttl without sessions", {"session_secret_file": None, "session_ttl": "1h"},
             "set session_secret_file"),
            ("a bad session_ttl", {"session_ttl": "forever"}, "\"session_ttl\""),
        ]
        for what, changes, *fragments in cases:
            def refused(changes=changes, fragments=fragments):
                probe = Authd(self.work / "bad", self.options(**changes))
                code, output = probe.run_to_exit()
                listening = port_open(probe.port)
                ok = code == 2 and all(f in output for f in fragments) and not listening
                return ok, f"exit status {code}: {output.strip()[:300]}"

            self.check(f"bad options, {what}: exit 2 before listening, with the reason", refused)

        def listen(*args):
            done = subprocess.run([str(fixture.authd_binary()), *args], capture_output=True,
                                  text=True)
            return done.returncode, done.stderr.strip()

        def no_listen():
            missing, bad = listen(), listen("--listen", "localhost")
            ok = missing[0] == bad[0] == 2 and "--listen" in missing[1] and "HOST:PORT" in bad[1]
            return ok, f"none: {missing}; 'localhost': {bad}"

        def taken():
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                s.listen()
                code, text = listen("--listen", f"127.0.0.1:{s.getsockname()[1]}",
                                    "-o", f"keytab={self.keytab}")
            return code == 1 and "cannot listen on" in text, \
                f"exit status {code}: {text.splitlines()[-1]}"

        self.check("no --listen, or one without a port: exit 2", no_listen)
        self.check("an address in use: exit 1, saying so", taken)

    def keytab_rotation(self):
        keytab = self.work / "rotating.keytab"
        keytab.write_bytes(self.keytab.read_bytes())
        self.authd.restart(self.options(keytab=keytab, session_secret_file=None,
                                        session_secure=None))
        before = curl(self.url + "/app")
        # A new random key (kvno + 1) at the KDC, exported to a new file
        # that replaces the keytab at once, as a rotation job would.
        fresh = self.work / "rotated.keytab"
        fixture.kadmin(f"ktadd -k {fresh} {SERVICE}")
        os.replace(fresh, keytab)

        def new_key():
            ccache = fixture.kinit("alice", self.work / "after-rotation.ccache")
            self.authd.new_lines()
            r = curl(self.url + "/app", ccache=ccache)
            seen = r.json() if r.status == 200 else {}
            logged, line = self.logged(f"authenticated {ALICE}")
            return before.status == 200 and seen.get("X-Remote-User") == ALICE and logged, \
                f"before rotation {before.status}; with a ticket for the new key {r}; log: {line}"

        self.check("keytab rotated while running: a ticket for the new key works at once, "
                   "no restart", new_key)

        def old_key():
            # alice's default ccache still holds a ticket for the old key.
            return self.through_nginx_401({"Authorization": fixture.negotiate_token()},
                                          "KERBSASL_AUTH_FAILED", "kvno")

        self.check("after the rotation, a ticket for the old key is refused with its kvno "
                   "in the log", old_key)


def readme_matches_fixture():
    """The README's nginx block has exactly the tested directives (it adds
    only TLS, and may use other ports and comments)."""
    readme = (fixture.ROOT / "README.md").read_text()
    block = re.search(r"### nginx \(tested\).*?```nginx\n(.*?)```", readme, re.S)
    if not block:
        return False, "no ```nginx block under '### nginx (tested)' in README.md"

    def directives(text):
        lines = []
        for line in text.splitlines():
            line = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", line.split("#")[0].strip())
            if line and not line.startswith(("listen ", "server_name ", "ssl_")):
                lines.append(line)
        return lines

    documented = directives(block.group(1))
    tested = directives(fixture.nginx_site(1, 2, "http://127.0.0.1:3"))
    if documented == tested:
        return True, f"{len(tested)} directives alike"
    diff = [f"{a!r} != {b!r}" for a, b in zip(documented, tested) if a != b]
    return False, f"README {len(documented)} lines, fixture {len(tested)}; first differences {diff[:3]}"


# HTTP clients ---------------------------------------------------------

class Reply:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return {}

    def __str__(self):
        negotiate = [v[:24] + ("..." if len(v) > 24 else "") for v in self.all("WWW-Authenticate")]
        return f"{self.status} WWW-Authenticate {negotiate}"


def request(port, path, headers=None, host="localhost"):
    """One GET with exactly these headers (a dict, or a list of pairs to
    repeat a name)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    pairs = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    if not any(k.lower() == "host" for k, _ in pairs):
        pairs.insert(0, ("Host", host))
    try:
        connection.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
        for name, value in pairs:
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        body = response.read().decode(errors="replace")
        return Reply(response.status, response.getheaders(), body)
    finally:
        connection.close()


def curl(url, *extra, ccache=None):
    """curl --negotiate; the last response's status, headers and body."""
    env = {**os.environ, **({"KRB5CCNAME": ccache} if ccache else {})}
    done = subprocess.run(["curl", "-s", "--negotiate", "-u", ":", "-D", "-", *extra, url],
                          capture_output=True, text=True, env=env, timeout=20)
    # (Text mode has turned CRLF into LF.)
    blocks = done.stdout.split("\n\n")
    # -D - prints every response's headers (401, then 200) before the body.
    heads = [b for b in blocks if b.startswith("HTTP/")]
    if not heads:
        return Reply(0, [], done.stderr)
    last = heads[-1]
    body = "\n\n".join(blocks[blocks.index(last) + 1:])
    lines = last.split("\n")
    status = int(lines[0].split()[1])
    headers = [tuple(part.strip() for part in line.split(":", 1)) for line in lines[1:] if ":" in line]
    return Reply(status, headers, body)


def session_cookie(reply):
    for value in reply.all("Set-Cookie"):
        pair, *flags = [part.strip() for part in value.split(";")]
        name = pair.split("=", 1)[0]
        if name == "kerbsasl_session":
            return {"name": name, "pair": pair, "flags": flags, "raw": value}
    return None


def tamper(pair):
    """Changes one character of the cookie's payload."""
    name, value = pair.split("=", 1)
    i = len(value) // 3
    return f"{name}={value[:i]}{'A' if value[i] != 'A' else 'B'}{value[i + 1:]}"


def raw_exchange(port, data):
    """Sends bytes, returns what comes back before the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        received = b""
        try:
            while chunk := s.recv(4096):
                received += chunk
        except OSError:
            pass
        return received


def rss_kib(pid):
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1])


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""End-to-end tests of HTTP Negotiate (RFC 4559) through kerbsasl's C ABI:
tests/http/server.c (a small HTTP server calling kerbsasl_http_authenticate,
built with ASan or run under valgrind), exercised by curl --negotiate,
Python requests-gssapi (mutual authentication REQUIRED) and hand-made
headers, inside a throwaway realm.

Run by tests/http/run inside testrealm (with a small clockskew, so that a
ticket expires in seconds); WORKDIR holds the servers' port files and logs.
Prints one line per check and ends with "N passed, N failed".

usage: e2e.py --server BINARY --mode asan|valgrind --skew SECONDS WORKDIR
"""

import argparse
import base64
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import gssapi
import requests
from requests_gssapi import REQUIRED, HTTPSPNEGOAuth, MutualAuthenticationError

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
REALM = os.environ["KERBSASL_TEST_REALM"]
REALM_DIR = Path(os.environ["KERBSASL_TEST_DIR"])
PASSWORD = os.environ["KERBSASL_TEST_PASSWORD"]
ALICE_CCACHE = os.environ["KRB5CCNAME"]

# curl asks for HTTP@<host of the URL>: HTTP/localhost for http://localhost.
LOCALHOST = f"HTTP/localhost@{REALM}"
# Two more HTTP services for the principal = * server; BRIEF's tickets
# live one second.
WWW2, BRIEF = "www2.kerbsasl.test", "brief.kerbsasl.test"
OTHER_HOST = "broker.kerbsasl.test"  # the realm has other/OTHER_HOST

SPNEGO = gssapi.OID.from_int_seq("1.3.6.1.5.5.2")
NTLM_HEADER = "Negotiate TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAKAGFKAAAADw=="
MAX_AUTHORIZATION = 98304
VALGRIND = ["valgrind", "-q", "--vgdb=no", "--error-exitcode=1", "--leak-check=full",
            "--errors-for-leak-kinds=definite,indirect", "--show-leak-kinds=definite,indirect",
            f"--suppressions={ROOT / 'c-tests' / 'valgrind.supp'}", "--num-callers=40"]


class Results:
    def __init__(self):
        self.passed = self.failed = 0

    def record(self, ok, name, details=""):
        if ok:
            self.passed += 1
            print(f"ok - {name}", flush=True)
        else:
            self.failed += 1
            details = str(details).replace("\n", " | ")[:600]
            print(f"not ok - {name}: {details}", flush=True)
        return ok

    def check(self, name, body):
        """Runs body(); an exception or a false result fails the check."""
        try:
            outcome = body()
        except Exception as e:  # each check reports its own failure
            return self.record(False, name, f"{type(e).__name__}: {e}")
        if outcome is True or outcome is None:
            return self.record(True, name)
        return self.record(False, name, outcome)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--mode", choices=["asan", "valgrind"], required=True)
    parser.add_argument("--skew", type=int, required=True)
    parser.add_argument("workdir")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    results = Results()
    servers = []
    try:
        prepare_realm()
        work = Path(args.workdir)

        def start(name, **options):
            server = Server(name, args.server, args.mode, work, options)
            servers.append(server)
            return server

        plain = start("plain", principal=LOCALHOST, keytab=REALM_DIR / "http.keytab")
        stripped = start("strip_realm", principal=LOCALHOST, keytab=REALM_DIR / "http.keytab",
                         strip_realm="true")
        partner_only = start("allowed_realms", principal=LOCALHOST,
                             keytab=REALM_DIR / "http.keytab", allowed_realms="PARTNER.TEST")
        anyone = start("principal *", principal="*", keytab=REALM_DIR / "two.keytab")
        for server in servers:
            server.wait_ready()
        curl_cases(results, plain, stripped, partner_only)
        requests_cases(results, plain, anyone)
        header_cases(results, plain)
        expiry_case(results, anyone, args.skew)
    except KeyboardInterrupt:
        print("interrupted")
        sys.exit(130)
    except Exception as e:  # a fixture failure: the remaining checks can't run
        results.record(False, "fixture", f"{type(e).__name__}: {e}")
    finally:
        for server in servers:
            results.record(*server.stop())
    print(f"{results.passed} passed, {results.failed} failed")
    sys.exit(1 if results.failed else 0)


def run(command, **kwargs):
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        raise RuntimeError(f"{command[0]} failed: {result.stderr.strip()}")
    return result.stdout


def kadmin(query):
    run(["kadmin.local", "-r", REALM, "-q", query])


def prepare_realm():
    """HTTP/localhost in http.keytab; HTTP/WWW2 and HTTP/BRIEF in two.keytab;
    bob's ticket."""
    kadmin(f"addprinc -randkey {LOCALHOST}")
    kadmin(f"ktadd -norandkey -k {REALM_DIR / 'http.keytab'} {LOCALHOST}")
    for host in (WWW2, BRIEF):
        kadmin(f"addprinc -randkey HTTP/{host}@{REALM}")
        kadmin(f"ktadd -norandkey -k {REALM_DIR / 'two.keytab'} HTTP/{host}@{REALM}")
    kadmin(f'modprinc -maxlife "1 second" HTTP/{BRIEF}@{REALM}')
    run(["kinit", "-c", bob_ccache(), "bob"], input=PASSWORD + "\n")


def bob_ccache():
    return f"FILE:{REALM_DIR / 'http-bob.ccache'}"


class Server:
    """One tests/http/server.c process."""

    def __init__(self, name, binary, mode, work, options):
        self.name = f"{mode} server ({name})"
        slug = re.sub(r"[^a-z0-9]+", "-", name)
        self.port_file = work / f"{slug}.port"
        self.log = work / f"{slug}.log"
        command = [binary, str(self.port_file)] + [f"{k}={v}" for k, v in options.items()]
        if mode == "valgrind":
            command = VALGRIND + command
        self.port_file.unlink(missing_ok=True)
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL,
                                            stdout=log, stderr=subprocess.STDOUT)

    def wait_ready(self):
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log.read_text()[:500]}")
            if self.port_file.exists() and self.port_file.read_text().endswith("\n"):
                self.port = int(self.port_file.read_text())
                return
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not start")

    def url(self, path="/", host="localhost"):
        return f"http://{host}:{self.port}{path}"

    def stop(self):
        """Stops the server; a check that it exited cleanly."""
        name = f"{self.name} exits cleanly (status 0, no sanitizer/valgrind report)"
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            status = self.process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return False, name, "still running after SIGTERM"
        output = self.log.read_text()
        if status != 0 or output.strip():
            return False, name, f"status {status}: {output[:1500]}"
        return True, name, ""


def parse_body(text):
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def curl(url, ccache=ALICE_CCACHE, negotiate=True, headers=()):
    """curl's last response: (status, headers with lower-case names, body)."""
    command = ["curl", "-sS", "--max-time", "60", "-D", "-", "-o", "/dev/stderr"]
    if negotiate:
        command += ["--negotiate", "-u", ":"]
    for header in headers:
        command += ["-H", header]
    result = subprocess.run(command + [url], capture_output=True, text=True,
                            env={**os.environ, "KRB5CCNAME": ccache})
    if result.returncode != 0:
        raise RuntimeError(f"curl failed ({result.returncode}): {result.stderr}")
    # -D - prints every response's head (a 401, then the 200); keep the
    # last. Text mode has turned CRLF into LF.
    head = result.stdout.strip().split("\n\n")[-1]
    lines = head.split("\n")
    status = int(lines[0].split()[1])
    fields = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        fields.setdefault(name.strip().lower(), []).append(value.strip())
    return status, fields, result.stderr


def expect_identity(status, body, username, principal=None):
    fields = parse_body(body)
    want = {"principal": principal or f"alice@{REALM}", "username": username, "realm": REALM}
    got = {k: fields.get(k) for k in want}
    if status != 200 or got != want:
        return f"status {status}, body {body!r}, wanted {want}"
    return True


def expect_refusal(status, fields, body, result, *fragments):
    """A 401 with WWW-Authenticate: Negotiate, the result code and the
    message fragments in the body."""
    parsed = parse_body(body)
    if status != 401 or fields.get("www-authenticate") != ["Negotiate"]:
        return f"status {status}, WWW-Authenticate {fields.get('www-authenticate')}, body {body!r}"
    if parsed.get("result") != result:
        return f"result {parsed.get('result')}, wanted {result}: {body!r}"
    missing = [f for f in fragments if f not in parsed.get("error", "")]
    return f"message lacks {missing}: {body!r}" if missing else True


def curl_cases(results, plain, stripped, partner_only):
    def success():
        status, fields, body = curl(plain.url())
        www = fields.get("www-authenticate", [""])[-1]
        if not re.fullmatch(r"Negotiate [A-Za-z0-9+/]+=*", www):
            return f"no mutual token on the 200: {fields}"
        return expect_identity(status, body, f"alice@{REALM}")

    results.check("curl --negotiate: 200 with alice's principal, username and realm, "
                  "and the mutual token", success)
    results.check("curl --negotiate, strip_realm: username alice",
                  lambda: expect_identity(*curl(stripped.url())[::2], "alice"))
    results.check("curl --negotiate as bob: bob's identity",
                  lambda: expect_identity(*curl(plain.url(), ccache=bob_ccache())[::2],
                                          f"bob@{REALM}", f"bob@{REALM}"))

    def no_ticket():
        empty = f"FILE:{REALM_DIR / 'nobody.ccache'}"
        status, fields, body = curl(plain.url(), ccache=empty)
        return expect_refusal(status, fields, body, "KERBSASL_CONTINUE")

    results.check("curl --negotiate without a ticket: 401 + WWW-Authenticate: Negotiate",
                  no_ticket)
    results.check("curl without --negotiate: 401 + WWW-Authenticate: Negotiate",
                  lambda: expect_refusal(*curl(plain.url(), negotiate=False),
                                         "KERBSASL_CONTINUE"))
    results.check("Basic credentials: 401 + WWW-Authenticate: Negotiate",
                  lambda: expect_refusal(*curl(plain.url(), negotiate=False,
                                               headers=["Authorization: Basic YWxpY2U6cHc="]),
                                         "KERBSASL_CONTINUE"))
    results.check("allowed_realms without the client's realm: 401, KERBSASL_AUTHZ_DENIED",
                  lambda: expect_refusal(*curl(partner_only.url()), "KERBSASL_AUTHZ_DENIED",
                                         f"alice@{REALM} is from realm {REALM}",
                                         "not in allowed_realms (PARTNER.TEST)"))
    results.check("NTLM (Negotiate TlRMTVNTUA...): 401, KERBSASL_BAD_TOKEN naming NTLM "
                  "and the client-side fix",
                  lambda: expect_refusal(*curl(plain.url(), negotiate=False,
                                               headers=[f"Authorization: {NTLM_HEADER}"]),
                                         "KERBSASL_BAD_TOKEN", "NTLM is not supported",
                                         "no Kerberos ticket for HTTP/", "intranet"))


def credentials(ccache):
    return gssapi.Credentials(usage="initiate", store={"ccache": ccache})


def spnego_get(url, ccache=ALICE_CCACHE, target=None):
    """A GET with requests-gssapi; the response and whether the client's
    context completed. requests-gssapi 1.4.0's REQUIRED does not look at
    that: when MIT's SPNEGO answers a bad mutual token with a reject token
    instead of an error, it accepts the response (seen with a corrupted
    token), so the tests check completion themselves. `target` (e.g.
    "HTTP@host") replaces HTTP@<host of the URL>."""
    auth = HTTPSPNEGOAuth(mutual_authentication=REQUIRED, creds=credentials(ccache),
                          target_name=service_name(target) if target else "HTTP")
    response = requests.get(url, auth=auth, timeout=60)
    return response, is_complete(auth.context.get("localhost"))


def service_name(target):
    return gssapi.Name(target, gssapi.NameType.hostbased_service)


def is_complete(context):
    """Whether a client context is established (False after a failed step)."""
    try:
        return context is not None and context.complete
    except gssapi.exceptions.GSSError:
        return False


def requests_cases(results, plain, anyone):
    def mutual():
        response, complete = spnego_get(plain.url())
        if not complete:
            return "the client's context did not complete with the server's token"
        return expect_identity(response.status_code, response.text, f"alice@{REALM}")

    results.check("requests-gssapi, mutual authentication REQUIRED: the server's token "
                  "completes the client's context; 200 with alice's identity", mutual)

    def corrupted():
        try:
            response, complete = spnego_get(plain.url("/corrupt-mutual"))
        except MutualAuthenticationError:
            return True
        if complete:
            return f"a corrupted mutual token completed the context: {response.status_code}"
        return True

    results.check("requests-gssapi: a corrupted mutual token does not complete the "
                  "context (the check above is real)", corrupted)

    def gssapi_verifies():
        context = spnego_context()
        status, fields, body = get(plain.url(), authorization(context))
        www = fields.get("www-authenticate", [""])[-1]
        if status != 200 or not www.startswith("Negotiate "):
            return f"status {status}, WWW-Authenticate {www!r}, body {body!r}"
        context.step(base64.b64decode(www.split()[1]))
        if not context.complete:
            return "the context is not complete"
        # MIT's SPNEGO initiator either fails the step (integrity check) or
        # answers with a reject token; either way the context never completes.
        context = spnego_context()
        _, fields, _ = get(plain.url("/corrupt-mutual"), authorization(context))
        try:
            context.step(base64.b64decode(fields["www-authenticate"][-1].split()[1]))
        except gssapi.exceptions.GSSError as e:
            return True if "integrity" in str(e) else f"unexpected error: {e}"
        return "a corrupted token completed the context" if is_complete(context) else True

    results.check("Python gssapi verifies the mutual token and refuses a corrupted one",
                  gssapi_verifies)

    def any_principal():
        for host in (WWW2, BRIEF):
            response, complete = spnego_get(anyone.url(), target=f"HTTP@{host}")
            outcome = expect_identity(response.status_code, response.text, f"alice@{REALM}")
            if outcome is not True or not complete:
                return f"HTTP/{host}: {outcome}, context complete: {complete}"
        return True

    results.check("principal * with a keytab of two HTTP principals: both accepted",
                  any_principal)

    def other_service():
        response = requests.get(plain.url(), timeout=60, auth=HTTPSPNEGOAuth(
            creds=credentials(ALICE_CCACHE), target_name=service_name(f"other@{OTHER_HOST}")))
        return expect_refusal(response.status_code, lowered(response.headers), response.text,
                              "KERBSASL_AUTH_FAILED", f"other/{OTHER_HOST}@{REALM}",
                              "different service")

    results.check("a ticket for another service: 401, KERBSASL_AUTH_FAILED with the "
                  "wrong-service hint", other_service)


def lowered(headers):
    return {name.lower(): [value] for name, value in headers.items()}


def spnego_context(host="localhost", ccache=ALICE_CCACHE):
    """A Python gssapi SPNEGO initiator, as requests-gssapi makes it."""
    return gssapi.SecurityContext(name=service_name(f"HTTP@{host}"), creds=credentials(ccache), usage="initiate",
                                  mech=SPNEGO,
                                  flags=[gssapi.RequirementFlag.mutual_authentication])


def authorization(context, scheme="Negotiate"):
    return f"{scheme} {base64.b64encode(context.step()).decode()}"


def spnego_header(host="localhost", ccache=ALICE_CCACHE, scheme="Negotiate"):
    """A fresh Authorization value."""
    return authorization(spnego_context(host, ccache), scheme)


def get(url, authorization):
    response = requests.get(url, headers={"Authorization": authorization}, timeout=60)
    return response.status_code, lowered(response.headers), response.text


def header_cases(results, plain):
    def replay():
        header = spnego_header()
        status, _, body = get(plain.url(), header)
        if status != 200:
            return f"first use: {status} {body!r}"
        return expect_refusal(*get(plain.url(), header), "KERBSASL_AUTH_FAILED",
                              "Request is a replay", "replayed")

    results.check("a replayed Authorization header: 401, KERBSASL_AUTH_FAILED (replay)", replay)

    def spellings():
        for name, value in [("lower-case scheme", spnego_header(scheme="negotiate")),
                            ("upper-case scheme", spnego_header(scheme="NEGOTIATE")),
                            ("extra spaces", spnego_header().replace(" ", "   ", 1) + "  ")]:
            status, _, body = get(plain.url(), value)
            outcome = expect_identity(status, body, f"alice@{REALM}")
            if outcome is not True:
                return f"{name}: {outcome}"
        return True

    results.check("scheme in any case, extra whitespace: accepted", spellings)
    results.check("bad base64: 401, KERBSASL_BAD_TOKEN",
                  lambda: expect_refusal(*get(plain.url(), "Negotiate YIIB*AYG"),
                                         "KERBSASL_BAD_TOKEN", "not valid base64"))
    results.check("an empty token (only padding): 401, KERBSASL_BAD_TOKEN",
                  lambda: expect_refusal(*get(plain.url(), "Negotiate =="),
                                         "KERBSASL_BAD_TOKEN", "empty"))
    oversized = "Negotiate " + "A" * MAX_AUTHORIZATION
    results.check("an oversized header: 401, KERBSASL_BAD_TOKEN naming the bound",
                  lambda: expect_refusal(*get(plain.url(), oversized), "KERBSASL_BAD_TOKEN",
                                         f"at most {MAX_AUTHORIZATION}"))


def expiry_case(results, anyone, skew):
    def expired():
        header = spnego_header(host=BRIEF)
        # Expired means past the ticket's end (1 s) plus the allowed skew.
        time.sleep(1 + skew + 2)
        return expect_refusal(*get(anyone.url(), header), "KERBSASL_AUTH_FAILED",
                              "Ticket expired", "fresh ticket")

    results.check("an expired ticket: 401, KERBSASL_AUTH_FAILED (expired, get a fresh one)",
                  expired)


if __name__ == "__main__":
    main()

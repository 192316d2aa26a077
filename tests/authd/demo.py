"""The README's HTTP demo (scripts/demo http): a web application behind
nginx, protected by kerbsasl-authd, visited by a browser-like client with
alice's Kerberos ticket. Runs inside testrealm; leaves nothing running.
"""

import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

import requests
from requests_gssapi import REQUIRED, HTTPSPNEGOAuth

import fixture
from fixture import HOST, REALM, REALM_DIR, SERVICE, Authd, Backend, Nginx, Service

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) kerbsasl-demo"


def main():
    with tempfile.TemporaryDirectory(prefix="kerbsasl-demo-http.") as work:
        try:
            sys.exit(demo(Path(work)))
        finally:
            Service.stop_all()


def demo(work):
    keytab = REALM_DIR / "http.keytab"
    fixture.add_service(SERVICE, keytab)
    secret = work / "session.secret"
    secret.write_bytes(secrets.token_bytes(32))
    secret.chmod(0o600)

    backend_lines = []

    def saw(request):
        backend_lines.append(
            f"       the application saw: GET {request['path']} with "
            f"X-Remote-User={request['X-Remote-User']!r}, "
            f"X-Kerberos-Principal={request['X-Kerberos-Principal']!r}, "
            f"X-Kerberos-Realm={request['X-Kerberos-Realm']!r}")

    def print_backend_lines():
        for line in backend_lines:
            print(line)
        backend_lines.clear()

    backend = Backend(html=True, on_request=saw)
    options = {"principal": SERVICE, "keytab": keytab, "strip_realm": "true",
               "session_secret_file": secret, "session_secure": "false", "log_level": "debug"}
    authd = Authd(work / "authd", options).start()
    nginx = Nginx(work / "nginx", authd.port, backend.port).start()
    klist = subprocess.run(["klist"], capture_output=True, text=True).stdout
    who = next((line.split(": ", 1)[1] for line in klist.splitlines()
                if line.startswith("Default principal")), "?")
    url = f"http://{HOST}:{nginx.port}/"

    print(f"""
1. A throwaway Kerberos realm {REALM} runs on 127.0.0.1:{os.environ['KERBSASL_TEST_KDC_PORT']}.
   alice has logged in with kinit: her credential cache holds the
   ticket-granting ticket of {who}.

2. An application (a small web server that greets whoever nginx says is
   there) listens on 127.0.0.1:{backend.port}; nginx listens on {url} and asks
   kerbsasl-authd (127.0.0.1:{authd.port}) about every request with auth_request:
       kerbsasl-authd {' '.join(f'-o {k}={v}' for k, v in options.items()
                                if k in ('principal', 'strip_realm'))}
   with the keytab of {SERVICE} and session cookies on.

3. A browser-like client with alice's ticket opens {url}:""")
    browser = requests.Session()
    browser.headers.update({"User-Agent": BROWSER, "Accept": "text/html"})
    page = browser.get(url, auth=HTTPSPNEGOAuth(mutual_authentication=REQUIRED), timeout=10)
    for step in [*page.history, page]:
        negotiate = step.headers.get("WWW-Authenticate", "")
        negotiate = negotiate[:40] + "..." if len(negotiate) > 40 else negotiate
        cookie = "; sets the session cookie" if "kerbsasl_session" in step.headers.get(
            "Set-Cookie", "") else ""
        print(f"       {step.status_code} {step.reason}, WWW-Authenticate: {negotiate!r}{cookie}")
    print(f"       page: {page.text.strip()}")
    print_backend_lines()

    print("""
4. It opens a second page: the browser sends only the session cookie, so
   no Kerberos round (and no replay-cache write) is needed:""")
    second = browser.get(url + "reports", timeout=10)
    print(f"       {second.status_code} {second.reason}; page: {second.text.strip()}")
    print_backend_lines()

    print("""
5. A client without a ticket is refused, and never reaches the application:""")
    env = {**os.environ, "KRB5CCNAME": f"FILE:{work / 'no-ticket.ccache'}"}
    refused = subprocess.run(["curl", "-s", "-o", "/dev/null", "--negotiate", "-u", ":",
                              "-w", "%{http_code} WWW-Authenticate: %header{www-authenticate}",
                              url], capture_output=True, text=True, env=env).stdout
    print(f"       curl --negotiate without a ticket: {refused}")

    print("\n6. kerbsasl-authd's log (debug level, which logs successes too):")
    for line in authd.log().splitlines():
        if "client " in line and "HTTP Negotiate" not in line:
            print("       " + line.split(" ", 1)[1].strip())

    seen = [r["X-Remote-User"] for r in backend.requests]
    if page.status_code == 200 and second.status_code == 200 and seen == ["alice", "alice"] \
            and refused.startswith("401"):
        print("""
Result: the application saw alice, from her Kerberos ticket, without a
password prompt; her second page rode on the session cookie; the client
without a ticket got 401 Negotiate.""")
        return 0
    print(f"demo: unexpected result; the backend saw {seen}", file=sys.stderr)
    print(authd.log(), file=sys.stderr)
    return 1


if __name__ == "__main__":
    main()

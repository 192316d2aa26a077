"""Real parts for the HTTP single sign-on suite, the demo and the benchmark:
kerbsasl-authd, nginx (Debian's, auth_request in front of a backend), a
small backend that echoes the identity headers it receives, and Apache with
mod_auth_gssapi. Everything listens on loopback, on free ports, with its
config, logs, pid and temp files in a directory of its own.

Used inside testrealm (examples/testrealm.rs), which provides the realm's
environment: KRB5_CONFIG, KRB5CCNAME (alice), KRB5RCACHEDIR,
KERBSASL_TEST_DIR, KERBSASL_TEST_REALM, KERBSASL_TEST_PASSWORD.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
REALM = os.environ.get("KERBSASL_TEST_REALM", "")
REALM_DIR = Path(os.environ.get("KERBSASL_TEST_DIR", "/nonexistent"))
PASSWORD = os.environ.get("KERBSASL_TEST_PASSWORD", "")
# curl and browsers ask for HTTP@<host of the URL>: HTTP/localhost.
HOST = "localhost"
SERVICE = f"HTTP/{HOST}@{REALM}"
AUTH_PATH = "/.kerbsasl-auth"
IDENTITY_HEADERS = ("X-Remote-User", "X-Kerberos-Principal", "X-Kerberos-Realm")


def authd_binary(profile="debug"):
    return ROOT / "target" / profile / "kerbsasl-authd"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, process, what, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with status {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"{what} did not listen on port {port} within {timeout} s")


def run(command, input=None, env=None):
    """Runs a command, failing with its output if it fails."""
    done = subprocess.run(command, input=input, capture_output=True, text=True,
                          env={**os.environ, **(env or {})})
    if done.returncode != 0:
        raise RuntimeError(f"{command[0]} failed ({done.returncode}): {done.stdout}{done.stderr}")
    return done.stdout


# The realm -------------------------------------------------------------

def kadmin(query):
    return run(["kadmin.local", "-r", REALM, "-q", query])


def add_service(principal, keytab):
    """Adds a service principal and writes its key to `keytab`."""
    kadmin(f"addprinc -randkey {principal}")
    kadmin(f"ktadd -norandkey -k {keytab} {principal}")


def kinit(user, ccache, lifetime=None):
    """Gets a TGT for `user` into `ccache` (a path); returns 'FILE:path'."""
    extra = ["-l", lifetime] if lifetime else []
    run(["kinit", *extra, "-c", f"FILE:{ccache}", user], input=PASSWORD + "\n")
    return f"FILE:{ccache}"


def negotiate_token(ccache=None, host=HOST):
    """A fresh SPNEGO token for HTTP@host, as 'Negotiate <base64>'
    (python-gssapi over MIT's initiator, as requests-gssapi makes them)."""
    import base64
    import gssapi
    store = {"ccache": ccache} if ccache else None
    creds = gssapi.Credentials(usage="initiate", store=store) if store else None
    context = gssapi.SecurityContext(
        name=gssapi.Name(f"HTTP@{host}", gssapi.NameType.hostbased_service),
        usage="initiate", creds=creds, mech=gssapi.OID.from_int_seq("1.3.6.1.5.5.2"),
        flags=gssapi.RequirementFlag.mutual_authentication)
    return "Negotiate " + base64.b64encode(context.step()).decode()


# Processes -------------------------------------------------------------

class Service:
    """A server process with its log in `dir`; its pid goes to `dir/pid`
    for the run script's trap, should the driver die without stopping it."""

    running = []

    def __init__(self, directory, name):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.log_path = self.dir / f"{name}.log"
        self.process = None

    def spawn(self, command, env=None, log_mode="wb"):
        with open(self.log_path, log_mode) as log:
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})})
        (self.dir / f"{self.name}.spawned-pid").write_text(str(self.process.pid))
        Service.running.append(self)

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, sig=signal.SIGTERM, timeout=15):
        """Stops the process if it runs; returns its exit status."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        (self.dir / f"{self.name}.spawned-pid").unlink(missing_ok=True)
        if self in Service.running:
            Service.running.remove(self)
        return self.process.returncode

    def pids(self):
        """The process and its descendants (for CPU accounting)."""
        found, queue = [], [self.process.pid]
        while queue:
            pid = queue.pop()
            found.append(pid)
            try:
                children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            except OSError:
                continue
            queue.extend(int(c) for c in children)
        return found

    @classmethod
    def stop_all(cls):
        for service in reversed(list(cls.running)):
            service.stop(timeout=5)


class Authd(Service):
    """kerbsasl-authd with `options` (-o KEY=VALUE each)."""

    def __init__(self, directory, options, port=None, binary=None, name="authd"):
        super().__init__(directory, name)
        self.options = dict(options)
        self.port = port or free_port()
        self.binary = binary or authd_binary()
        self.env = None
        self.config_file = None
        self.mark = 0

    def command(self):
        command = [str(self.binary), "--listen", f"127.0.0.1:{self.port}"]
        if self.config_file:
            command += ["--config", str(self.config_file)]
        for key, value in self.options.items():
            command += ["-o", f"{key}={value}"]
        return command

    def start(self, env=None):
        """Starts authd (with `env` added to its environment, kept for
        restarts) and waits until it listens."""
        self.env = env if env is not None else self.env
        self.spawn(self.command(), env=self.env, log_mode="ab")
        try:
            wait_for_port(self.port, self.process, "kerbsasl-authd")
        except RuntimeError as e:
            self.stop()
            raise RuntimeError(f"{e}: {self.log().strip()[-800:]}") from None
        return self

    def restart(self, options, config_file=None):
        """Stops, then starts on the same port with new options (-o) and
        optionally a --config file."""
        self.stop()
        self.options = dict(options)
        self.config_file = config_file
        return self.start()

    def run_to_exit(self, timeout=10):
        """For options authd should refuse: (exit status or None, output)."""
        done = subprocess.run(self.command(), capture_output=True, text=True, timeout=timeout)
        return done.returncode, done.stdout + done.stderr

    def new_lines(self):
        """Log lines written since the last call."""
        text = self.log()
        lines = text[self.mark:].splitlines()
        self.mark = len(text)
        return lines


class Backend:
    """The protected application: answers every request with JSON of the
    identity headers it received (or, for the demo, an HTML page)."""

    def __init__(self, html=False, on_request=None):
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                seen = {h: self.headers.get(h) for h in IDENTITY_HEADERS}
                seen["Authorization"] = self.headers.get("Authorization")
                seen["path"] = self.path
                backend.requests.append(seen)
                if on_request:
                    on_request(seen)
                if html:
                    body = (f"<!doctype html><title>Hello</title><h1>Hello, "
                            f"{seen['X-Remote-User']}</h1>\n").encode()
                    kind = "text/html; charset=utf-8"
                else:
                    body, kind = json.dumps(seen).encode(), "application/json"
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.requests = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def nginx_site(port, authd_port, upstream=None, root=None, server_name=HOST,
               upstream_block=True):
    """The nginx configuration the README documents, for one site: the
    auth_request subrequest to authd and the identity passed on to
    `upstream` (a `proxy_pass` target) or static files in `root` (for the
    benchmark). A second site in the same nginx leaves out the upstream
    block."""
    content = (f"            proxy_pass {upstream};\n"
               "            proxy_http_version 1.1;\n"
               '            proxy_set_header Connection "";\n'
               if upstream else f"            root {root};\n")
    upstream_authd = f"""\
    upstream kerbsasl_authd {{
        server 127.0.0.1:{authd_port};
        keepalive 32;
    }}

""" if upstream_block else ""
    return f"""\
{upstream_authd}    server {{
        listen 127.0.0.1:{port};
        server_name {server_name};
        # Kerberos tokens with a large PAC (Active Directory groups) exceed 8k.
        large_client_header_buffers 4 64k;

        location / {{
            auth_request {AUTH_PATH};
            auth_request_set $authd_user $upstream_http_x_remote_user;
            auth_request_set $authd_principal $upstream_http_x_kerberos_principal;
            auth_request_set $authd_realm $upstream_http_x_kerberos_realm;
            auth_request_set $authd_negotiate $upstream_http_www_authenticate;
            auth_request_set $authd_cookie $upstream_http_set_cookie;
            # On 401 nginx copies authd's WWW-Authenticate itself; these
            # add the mutual-auth token and the session cookie to 2xx only.
            add_header WWW-Authenticate $authd_negotiate;
            add_header Set-Cookie $authd_cookie;
            # Set (and so replace) the identity headers: a client's own
            # X-Remote-User never reaches the application.
            proxy_set_header X-Remote-User $authd_user;
            proxy_set_header X-Kerberos-Principal $authd_principal;
            proxy_set_header X-Kerberos-Realm $authd_realm;
            proxy_set_header Authorization "";
{content}        }}

        location = {AUTH_PATH} {{
            internal;
            # A fixed path: authd answers any path, and its health path
            # must never be reachable through here.
            proxy_pass http://kerbsasl_authd/auth;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Real-IP $remote_addr;
            # The server block's own name, not the client's Host: a cookie
            # replayed to another site's default server stays foreign.
            proxy_set_header X-Forwarded-Host $server_name;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
"""


class Nginx(Service):
    """Debian's nginx, run in the foreground from a config in `dir`, never
    the system one, with its own pid, logs and temp paths."""

    def __init__(self, directory, authd_port, backend_port=None, static_body=None,
                 workers=1, access_log=True, keepalive_requests=1000, port=None,
                 other_site=None):
        """`other_site`: a server name for a second application on its own
        port (`other_port`), with the same authd behind it."""
        super().__init__(directory, "nginx")
        self.port = port or free_port()
        self.other_port = free_port() if other_site else None
        d = self.dir
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (d / "temp" / sub).mkdir(parents=True, exist_ok=True)
        if static_body is not None:
            (d / "www").mkdir(exist_ok=True)
            (d / "www" / "index.html").write_text(static_body)
        upstream = f"http://127.0.0.1:{backend_port}" if backend_port else None
        site = nginx_site(self.port, authd_port, upstream, d / "www")
        if other_site:
            site += "\n" + nginx_site(self.other_port, authd_port, upstream, d / "www",
                                      server_name=other_site, upstream_block=False)
        conf = f"""\
# Test instance: foreground, all paths in {d}.
daemon off;
master_process on;
worker_processes {workers};
user root;
pid {d / 'nginx.pid'};
error_log {d / 'error.log'} warn;
events {{
    worker_connections 1024;
}}
http {{
    access_log {d / 'access.log' if access_log else 'off'};
    keepalive_requests {keepalive_requests};
    client_body_temp_path {d / 'temp/body'};
    proxy_temp_path {d / 'temp/proxy'};
    fastcgi_temp_path {d / 'temp/fastcgi'};
    uwsgi_temp_path {d / 'temp/uwsgi'};
    scgi_temp_path {d / 'temp/scgi'};
{site}}}
"""
        (d / "nginx.conf").write_text(conf)

    def start(self):
        self.spawn(["nginx", "-p", str(self.dir), "-c", str(self.dir / "nginx.conf"),
                    "-e", str(self.dir / "error.log")])
        wait_for_port(self.port, self.process, "nginx")
        return self

    def error_log(self):
        path = self.dir / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self, sig=signal.SIGQUIT, timeout=15):
        return super().stop(sig, timeout)


class Apache(Service):
    """Debian's Apache with mod_auth_gssapi (REFERENCE §7): Kerberos on
    every request in front of a static file. Workers run as `user`, who
    must read the keytab and write the replay cache directory."""

    MODULES = "/usr/lib/apache2/modules"

    def __init__(self, directory, keytab, static_body, user="nobody", group="nogroup",
                 processes=2, threads=25, port=None):
        super().__init__(directory, "apache")
        self.port = port or free_port()
        d = self.dir
        (d / "www").mkdir(exist_ok=True)
        (d / "www" / "index.html").write_text(static_body)
        self.rcache = d / "rcache"
        self.rcache.mkdir(exist_ok=True)
        # The workers' user reads its own copy of the keytab.
        self.keytab = d / "http.keytab"
        shutil.copy(keytab, self.keytab)
        for path in (self.keytab, self.rcache):
            shutil.chown(path, user, group)
        # ... and the realm's krb5.conf, whatever the umask.
        for path in (d, d / "www", REALM_DIR):
            path.chmod(0o755)
        (REALM_DIR / "krb5.conf").chmod(0o644)
        modules = ["mpm_event", "authn_core", "authz_core", "authz_user", "auth_gssapi"]
        loads = "\n".join(f"LoadModule {m}_module {self.MODULES}/mod_{m}.so" for m in modules)
        conf = f"""\
ServerRoot {d}
ServerName {HOST}
Listen 127.0.0.1:{self.port}
PidFile {d / 'apache.pid'}
ErrorLog {d / 'error.log'}
LogLevel warn
User {user}
Group {group}
{loads}
StartServers {processes}
ServerLimit {processes}
ThreadsPerChild {threads}
MaxRequestWorkers {processes * threads}
MinSpareThreads {threads}
MaxSpareThreads {processes * threads}
KeepAlive On
MaxKeepAliveRequests 0
DocumentRoot {d / 'www'}
<Location />
    AuthType GSSAPI
    AuthName "Kerberos"
    GssapiCredStore keytab:{self.keytab}
    GssapiAllowedMech krb5
    Require valid-user
</Location>
"""
        (d / "apache.conf").write_text(conf)

    def start(self):
        self.spawn(["apache2", "-d", str(self.dir), "-f", str(self.dir / "apache.conf"),
                    "-DFOREGROUND"], env={"KRB5RCACHEDIR": str(self.rcache)})
        wait_for_port(self.port, self.process, "apache2")
        return self

    def stop(self, sig=signal.SIGTERM, timeout=15):
        return super().stop(sig, timeout)


def listening_line(text):
    match = re.search(r"listening on (\S+);", text)
    return match.group(1) if match else None

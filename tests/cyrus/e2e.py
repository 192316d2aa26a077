#!/usr/bin/python3
"""End-to-end tests of kerbsasl's Cyrus SASL plugin with real libsasl2
hosts: Cyrus's sample server and client (sasl2-bin) and OpenLDAP's slapd
with ldapwhoami, each host given a plugin directory that holds only a link
to target/debug/libkerbsasl.so. The same cases run against Debian's
gssapiv2 where kerbsasl means to behave the same, and the results are
compared.

Run by tests/cyrus/run inside testrealm (see tests/tools/testrealm.rs);
WORKDIR holds the plugin directories, confs, slapd instances and logs.
Prints one line per case and ends with "N passed, N failed".

usage: e2e.py WORKDIR
"""

import functools
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "support"))
from results import run_suite  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent.parent
PLUGIN = ROOT / "target" / "debug" / "libkerbsasl.so"
REALM = os.environ["KERBSASL_TEST_REALM"]
REALM_DIR = Path(os.environ["KERBSASL_TEST_DIR"])
HOST = "broker.kerbsasl.test"
ALICE = f"alice@{REALM}"
PARTNER = os.environ["KERBSASL_TEST_PARTNER_REALM"]
PARTNER_CCACHE = f"FILE:{REALM_DIR / 'partner-alice.ccache'}"
# An anonymous TGT (kinit -n, anonymous PKINIT): testrealm --anonymous.
ANONYMOUS_CCACHE = os.environ["KERBSASL_TEST_ANONYMOUS_CCACHE"]
ANONYMOUS = "WELLKNOWN/ANONYMOUS@WELLKNOWN:ANONYMOUS"
# slapd's DN for alice, with either plugin (sasl-realm is the realm).
ALICE_DN = f"dn:uid=alice,cn={REALM.lower()},cn=gssapi,cn=auth"


def main():
    work = Path(sys.argv[1])

    def sections(results):
        prepare_realm()
        kerbsasl = plugin_dir(work / "kerbsasl-plugins")
        gssapiv2 = system_plugin_dir()
        return [functools.partial(section, work, results, kerbsasl, gssapiv2)
                for section in (sample_cases, slapd_cases)]

    run_suite(sections, Slapd.stop_all)


def prepare_realm():
    """ldap/localhost with its own keytab, for slapd; alice of the trusted
    partner realm with a ticket."""
    kadmin = ["kadmin.local", "-r", REALM, "-q"]
    run(kadmin + ["addprinc -randkey ldap/localhost"])
    run(kadmin + [f"ktadd -norandkey -k {REALM_DIR / 'ldap.keytab'} ldap/localhost"])
    run(["kinit", "-c", PARTNER_CCACHE, f"alice@{PARTNER}"],
        input=os.environ["KERBSASL_TEST_PASSWORD"] + "\n")


def plugin_dir(path):
    """A directory holding only a link to the plugin: libsasl2 loads every
    *.so there, so this is how a host gets kerbsasl and not gssapiv2."""
    path.mkdir(parents=True)
    (path / "libkerbsasl.so").symlink_to(PLUGIN)
    return path


def system_plugin_dir():
    libdir = subprocess.run(["pkg-config", "--variable=libdir", "libsasl2"],
                            capture_output=True, text=True, check=True).stdout.strip()
    return Path(libdir) / "sasl2"


def run(command, input=None):
    done = subprocess.run(command, input=input, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {done.stderr.strip()}")


def loaded_libraries(ld_debug_prefix):
    """The files the dynamic loader opened, from LD_DEBUG=files output."""
    names = set()
    for log in ld_debug_prefix.parent.glob(ld_debug_prefix.name + ".*"):
        names.update(re.findall(r"file=(\S+)\s+\[", log.read_text(errors="replace")))
    return names


def loader_proof(names):
    """(ok, detail): kerbsasl was loaded, gssapiv2 was not."""
    kerbsasl = [n for n in names if "libkerbsasl" in n]
    gssapiv2 = [n for n in names if "gssapiv2" in n]
    return bool(kerbsasl) and not gssapiv2, f"loaded {kerbsasl}, gssapiv2: {gssapiv2 or 'none'}"


# ---- Cyrus's sample server and client -------------------------------------


class SampleRun:
    """One sasl-sample-server/-client exchange: their stdout lines, the
    server's stderr (libsasl2's log, with kerbsasl's messages), exit codes."""

    def __init__(self, server, client, server_err, client_err, codes):
        self.server, self.client = server, client
        self.server_err, self.client_err = server_err, client_err
        self.server_rc, self.client_rc = codes

    def value(self, key):
        """The server's "Key: value" line, e.g. Username or SSF."""
        for line in self.server:
            if line.startswith(key + ": "):
                return line[len(key) + 2:]
        return None

    def layer_round_trip(self):
        return ("recieved decoded message 'client message 1'" in self.server
                and "recieved decoded message 'srv message 1'" in self.client)

    def first_client_line(self):
        return next(line for line in self.client if line.startswith("C: "))

    def failure(self):
        """Why the server stopped: its last line and kerbsasl's log lines."""
        kerbsasl = [line for line in self.server_err.splitlines() if "kerbsasl:" in line]
        return f"{(self.server_err.strip().splitlines() or [''])[-1]} | {' '.join(kerbsasl)}"

    def describe(self):
        if self.server_rc == 0:
            return f"Username {self.value('Username')}, SSF {self.value('SSF')}"
        return f"server exit {self.server_rc}: {self.failure()}"


class Sample:
    """Runs the sample programs of sasl2-bin on one plugin directory, with
    `sample.conf` (the sample server's application conf) in its own dir."""

    count = 0

    def __init__(self, work, plugins):
        self.work, self.plugins = work, plugins

    def conf(self, lines):
        Sample.count += 1
        directory = self.work / f"sample-{Sample.count}"
        directory.mkdir(parents=True)
        if not any(line.startswith("keytab:") for line in lines):
            lines = [f"keytab: {REALM_DIR / 'mqtt.keytab'}", *lines]
        (directory / "sample.conf").write_text("".join(f"{line}\n" for line in lines))
        return directory

    def server_command(self, args):
        return ["sasl-sample-server", "-p", str(self.plugins), "-s", "mqtt", "-d", HOST,
                "-m", "GSSAPI", *args]

    def env(self, conf_dir, extra=None):
        return {**os.environ, "SASL_CONF_PATH": str(conf_dir), **(extra or {})}

    def run(self, conf=(), server_args=(), client_args=(), server_env=None, client_env=None):
        conf_dir = self.conf(conf)
        client = ["sasl-sample-client", "-s", "mqtt", "-n", HOST, "-m", "GSSAPI", *client_args]
        # The client takes gssapiv2's client side from the system directory.
        return relay(self.server_command(server_args), client,
                     self.env(conf_dir, server_env), self.env(conf_dir, client_env))

    def serve(self, client_lines, conf=()):
        """The server alone, fed these client lines (a replay)."""
        conf_dir = self.conf(conf)
        done = subprocess.run(self.server_command([]), input="".join(
            line + "\n" for line in client_lines).encode(), capture_output=True,
            env=self.env(conf_dir), timeout=60)
        lines = done.stdout.decode(errors="replace").splitlines()
        return SampleRun(lines, [], done.stderr.decode(errors="replace"), "",
                         (done.returncode, 0))


def relay(server_command, client_command, server_env, client_env, timeout=60):
    """Runs the sample server and client with each one's "S: " / "C: "
    lines passed to the other (they speak base64 lines on stdio)."""
    line_buffered = ["stdbuf", "-oL"]
    server = subprocess.Popen(line_buffered + server_command, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=server_env)
    client = subprocess.Popen(line_buffered + client_command, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=client_env)
    output = {server: [], client: []}
    errors = {}

    def pump(source, sink, prefix):
        for raw in source.stdout:
            output[source].append(raw.rstrip(b"\n").decode(errors="replace"))
            if raw.startswith(prefix):
                try:
                    sink.stdin.write(raw)
                    sink.stdin.flush()
                except (BrokenPipeError, ValueError):
                    pass
        try:
            sink.stdin.close()
        except (BrokenPipeError, ValueError):
            pass

    def drain(process):
        errors[process] = process.stderr.read().decode(errors="replace")

    threads = [threading.Thread(target=pump, args=(server, client, b"S: ")),
               threading.Thread(target=pump, args=(client, server, b"C: ")),
               threading.Thread(target=drain, args=(server,)),
               threading.Thread(target=drain, args=(client,))]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for process in (server, client):
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            server.kill()
            client.kill()
    for t in threads:
        t.join()
    return SampleRun(output[server], output[client], errors[server], errors[client],
                     (server.returncode, client.returncode))


def sample_cases(work, results, kerbsasl_plugins, gssapiv2_plugins):
    kerbsasl = Sample(work, kerbsasl_plugins)
    gssapiv2 = Sample(work, gssapiv2_plugins)

    def loads_only_kerbsasl():
        trace = work / "sample-ld-debug"
        r = kerbsasl.run(server_env={"LD_DEBUG": "files", "LD_DEBUG_OUTPUT": str(trace)})
        ok, detail = loader_proof(loaded_libraries(trace))
        return ok and r.server_rc == 0, f"{detail}; {r.describe()}"

    def layer(client_args, ssf):
        """kerbsasl gives `ssf` and data round trips; gssapiv2 gives the same."""
        def case():
            r = kerbsasl.run(client_args=client_args)
            g = gssapiv2.run(client_args=client_args)
            ok = (r.server_rc == 0 and r.value("Username") == "alice" and r.value("SSF") == ssf
                  and r.layer_round_trip()
                  and (g.value("Username"), g.value("SSF")) == (r.value("Username"), r.value("SSF")))
            return ok, f"kerbsasl: {r.describe()}; gssapiv2: {g.describe()}"
        return case

    def refused(run, expected_server_line, *fragments):
        """The server stops with this libsasl2 error and kerbsasl's reason."""
        def case():
            r = run()
            failure = r.failure()
            ok = (r.server_rc != 0 and expected_server_line in r.server_err
                  and all(f in failure for f in fragments))
            return ok, failure
        return case

    def same_refusal(client_args, expected):
        def case():
            r = kerbsasl.run(client_args=client_args)
            g = gssapiv2.run(client_args=client_args)
            ok = r.server_rc != 0 and g.server_rc != 0 and expected in r.server_err \
                and expected in g.server_err
            return ok, f"kerbsasl: {r.failure()}; gssapiv2: {g.failure()}"
        return case

    def replay():
        first = kerbsasl.run()
        if first.server_rc != 0:
            return False, f"first exchange: {first.describe()}"
        again = kerbsasl.serve([first.first_client_line()])
        failure = again.failure()
        return (again.server_rc != 0 and "authentication failure" in again.server_err
                and "Request is a replay" in failure), failure

    def full_principal():
        r = kerbsasl.run(conf=["kerbsasl_strip_realm: false"])
        return r.server_rc == 0 and r.value("Username") == ALICE, r.describe()

    def partner_keeps_realm():
        partner = {"KRB5CCNAME": PARTNER_CCACHE}
        r = kerbsasl.run(client_env=partner)
        g = gssapiv2.run(client_env=partner)
        want = f"alice@{PARTNER}"
        ok = r.value("Username") == want and g.value("Username") == want
        return ok, f"kerbsasl: {r.describe()}; gssapiv2: {g.describe()}"

    def anonymous_refused():
        anonymous = {"KRB5CCNAME": ANONYMOUS_CCACHE}
        r = kerbsasl.run(client_env=anonymous)
        g = gssapiv2.run(client_env=anonymous)
        failure = r.failure()
        ok = (r.server_rc != 0 and "authorization failure" in r.server_err
              and f"authenticated anonymously (kinit -n, anonymous PKINIT) as {ANONYMOUS}"
              in failure)
        return ok, f"kerbsasl: {failure}; gssapiv2: {g.describe()}"

    def own_authzid():
        r = kerbsasl.run(client_args=["-u", "alice"])
        g = gssapiv2.run(client_args=["-u", "alice"])
        ok = r.value("Username") == "alice" and g.value("Username") == "alice"
        return ok, f"kerbsasl: {r.describe()}; gssapiv2: {g.describe()}"

    results.check("sample server: libkerbsasl is loaded and gssapiv2 is not (LD_DEBUG=files)",
                  loads_only_kerbsasl)
    results.check("sample: Cyrus's client chooses confidentiality: SSF 256, data both ways, "
                  "same Username and SSF as gssapiv2", layer([], "256"))
    results.check("sample: client -b max=1: integrity, SSF 1, data both ways, as gssapiv2",
                  layer(["-b", "max=1"], "1"))
    results.check("sample: client -b max=0: no layer, SSF 0, as gssapiv2",
                  layer(["-b", "max=0"], "0"))
    results.check("sample: client -b min=56: confidentiality, as gssapiv2",
                  layer(["-b", "min=56"], "256"))
    results.check("sample: server -b min=56, client -b max=0: too weak, kerbsasl says why",
                  refused(lambda: kerbsasl.run(server_args=["-b", "min=56"],
                                               client_args=["-b", "max=0"]),
                          "mechanism too weak", "requires a security layer"))
    results.check("sample: client -u alice (its own name): Username alice, as gssapiv2",
                  own_authzid)
    results.check(f"sample: alice@{PARTNER} (a trusted realm) keeps her realm, as gssapiv2",
                  partner_keeps_realm)
    results.check(f"sample: an anonymous client ({ANONYMOUS}, kinit -n): authorization "
                  "failure, kerbsasl says why", anonymous_refused)
    results.check("sample: client -u bob: refused by libsasl2's authorization, as gssapiv2",
                  same_refusal(["-u", "bob"], "authentication failure"))
    results.check("sample: ticket for another service: authentication failure with the reason",
                  refused(lambda: kerbsasl.run(client_args=["-s", "other"]),
                          "authentication failure", "Kerberos rejected the client"))
    results.check("sample: the client's first message replayed to a new server: refused",
                  replay)
    results.check("sample: kerbsasl_strip_realm: false in sample.conf: Username is the principal",
                  full_principal)
    results.check("sample: kerbsasl_strip_realm: maybe in sample.conf: generic failure naming "
                  "the option and the file",
                  refused(lambda: kerbsasl.run(conf=["kerbsasl_strip_realm: maybe"]),
                          "generic failure", '"strip_realm" must be true or false',
                          "sample.conf"))
    results.check("sample: keytab: pointing at a missing file: generic failure naming it",
                  refused(lambda: kerbsasl.run(conf=["keytab: /nonexistent/kerbsasl.keytab"]),
                          "generic failure", "/nonexistent/kerbsasl.keytab"))


# ---- OpenLDAP -----------------------------------------------------------


class Slapd:
    """slapd on a free loopback port from a temp dir, with `plugins` as its
    SASL plugin directory and the keytab through KRB5_KTNAME (Debian's
    slapd reads SASL options only from /etc/ldap/sasl2/slapd.conf)."""

    running = []

    def __init__(self, directory, plugins, extra_conf=(), ld_debug=None):
        self.dir = directory
        (directory / "db").mkdir(parents=True)
        self.port = free_port()
        self.log = directory / "slapd.log"
        conf = directory / "slapd.conf"
        conf.write_text("\n".join([
            "include /etc/ldap/schema/core.schema",
            f"pidfile {directory / 'slapd.pid'}",
            "modulepath /usr/lib/ldap",
            "moduleload back_mdb",
            "sasl-host localhost",
            f"sasl-realm {REALM}",
            *extra_conf,
            "database mdb",
            "suffix dc=example,dc=com",
            f"directory {directory / 'db'}",
        ]) + "\n")
        env = {**os.environ, "KRB5_KTNAME": f"FILE:{REALM_DIR / 'ldap.keytab'}",
               "SASL_PATH": str(plugins)}
        if ld_debug:
            env.update(LD_DEBUG="files", LD_DEBUG_OUTPUT=str(ld_debug))
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                ["slapd", "-h", f"ldap://127.0.0.1:{self.port}/", "-f", str(conf), "-u", "root",
                 "-d", "stats"], stdout=log, stderr=subprocess.STDOUT, env=env)
        Slapd.running.append(self)
        self.wait_listening()

    def wait_listening(self):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"slapd exited: {self.log.read_text()[-500:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("slapd did not listen within 20 s")

    def whoami(self, *args, ccache=None):
        """ldapwhoami -Y GSSAPI as alice (or with `ccache`): (rc, output)."""
        env = {**os.environ, "LDAPSASL_NOCANON": "on", "LDAPCONF": "/dev/null"}
        if ccache:
            env["KRB5CCNAME"] = ccache
        done = subprocess.run(["ldapwhoami", "-Y", "GSSAPI", "-H",
                               f"ldap://localhost:{self.port}/", *args],
                              capture_output=True, text=True, env=env, timeout=60)
        return done.returncode, (done.stdout + done.stderr).strip()

    def bind_line(self):
        """slapd's account of the last SASL bind: authcid, authzid, DN, SSF."""
        lines = self.log.read_text(errors="replace").splitlines()
        last = [next((line.split(" BIND ", 1)[1] for line in reversed(lines) if marker in line),
                     "") for marker in (" BIND authcid=", " mech=GSSAPI ")]
        return " ".join(last)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self in Slapd.running:
            Slapd.running.remove(self)

    @classmethod
    def stop_all(cls):
        for slapd in list(cls.running):
            slapd.stop()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ssf(output):
    match = re.search(r"SASL SSF: (\d+)", output)
    return match.group(1) if match else None


def slapd_cases(work, results, kerbsasl_plugins, gssapiv2_plugins):
    trace = work / "slapd-ld-debug"
    kerbsasl = Slapd(work / "slapd-kerbsasl", kerbsasl_plugins, ld_debug=trace)
    gssapiv2 = Slapd(work / "slapd-gssapiv2", gssapiv2_plugins)
    strict = Slapd(work / "slapd-minssf", kerbsasl_plugins, ["sasl-secprops minssf=56"])

    def whoami_as_gssapiv2(*args):
        def case():
            rc, out = kerbsasl.whoami(*args)
            bind = kerbsasl.bind_line()
            g_rc, g_out = gssapiv2.whoami(*args)
            g_bind = gssapiv2.bind_line()
            ok = rc == 0 and ALICE_DN in out and (g_rc, ssf(g_out), g_bind) == (0, ssf(out), bind)
            return ok, f"kerbsasl: {out.splitlines()[-1]} (SSF {ssf(out)}; {bind}); " \
                       f"gssapiv2: SSF {ssf(g_out)}; {g_bind}"
        return case

    def loads_only_kerbsasl():
        rc, out = kerbsasl.whoami()
        ok, detail = loader_proof(loaded_libraries(trace))
        return ok and rc == 0, detail

    def min_ssf_met():
        rc, out = strict.whoami()
        return rc == 0 and ALICE_DN in out and ssf(out) == "256", out.replace("\n", " | ")

    def min_ssf_refused():
        rc, out = strict.whoami("-O", "maxssf=0")
        ok = rc != 0 and "Inappropriate authentication (48)" in out and \
            "requires a security layer" in out
        return ok, out.replace("\n", " | ")

    def no_ticket():
        missing = f"FILE:{work / 'no-such.ccache'}"
        rc, out = kerbsasl.whoami(ccache=missing)
        after_rc, after = kerbsasl.whoami()
        ok = rc != 0 and after_rc == 0 and kerbsasl.process.poll() is None
        return ok, f"without a ticket: exit {rc}: {out.splitlines()[-1]}; then: " \
                   f"{after.splitlines()[-1]}"

    def anonymous_refused():
        rc, out = kerbsasl.whoami(ccache=ANONYMOUS_CCACHE)
        g_rc, g_out = gssapiv2.whoami(ccache=ANONYMOUS_CCACHE)
        after_rc, _ = kerbsasl.whoami()
        ok = rc != 0 and "authenticated anonymously" in out and after_rc == 0
        return ok, f"kerbsasl: exit {rc}: {out.replace(chr(10), ' | ')}; " \
                   f"gssapiv2: exit {g_rc}: {g_out.splitlines()[-1]}"

    def proxy_refused():
        rc, out = kerbsasl.whoami("-X", "u:bob")
        g_rc, g_out = gssapiv2.whoami("-X", "u:bob")
        ok = rc != 0 and g_rc == rc and "Insufficient access (50)" in out
        return ok, f"kerbsasl: {out.splitlines()[-1]}; gssapiv2: {g_out.splitlines()[-1]}"

    results.check("slapd: libkerbsasl is loaded and gssapiv2 is not (LD_DEBUG=files)",
                  loads_only_kerbsasl)
    results.check(f"slapd: ldapwhoami -Y GSSAPI: {ALICE_DN}, SSF 256, the same authcid, "
                  "authzid, DN and SSF as gssapiv2", whoami_as_gssapiv2())
    results.check("slapd: ldapwhoami -O maxssf=0: the same DN, SSF 0, as gssapiv2",
                  whoami_as_gssapiv2("-O", "maxssf=0"))
    results.check("slapd sasl-secprops minssf=56: ldapwhoami binds with a layer (SSF 256)",
                  min_ssf_met)
    results.check("slapd minssf=56, ldapwhoami -O maxssf=0: Inappropriate authentication, "
                  "kerbsasl says why", min_ssf_refused)
    results.check(f"slapd: ldapwhoami as {ANONYMOUS} (kinit -n): refused, kerbsasl says why; "
                  "alice binds after it", anonymous_refused)
    results.check("slapd: ldapwhoami -X u:bob (proxy authorization): refused by slapd, "
                  "as with gssapiv2", proxy_refused)
    results.check("slapd: ldapwhoami without a ticket fails cleanly; slapd serves the next bind",
                  no_ticket)


if __name__ == "__main__":
    main()

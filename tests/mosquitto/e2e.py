#!/usr/bin/python3
"""End-to-end tests of kerbsasl's Mosquitto plugin: a real mosquitto 2
loading target/debug/libkerbsasl.so, the MQTT.js client (client.js) and the
raw client (raw_client.py) for what MQTT.js can't send.

Run by tests/mosquitto/run inside testrealm, which provides the realm (see
tests/tools/testrealm.rs); WORKDIR holds the brokers' configs and logs.
Prints one line per case and ends with "N passed, N failed".

usage: e2e.py WORKDIR
"""

import functools
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import raw_client

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "support"))
from results import run_suite  # noqa: E402

HERE = Path(__file__).resolve().parent
PLUGIN = HERE.parent.parent / "target" / "debug" / "libkerbsasl.so"
REALM = os.environ["KERBSASL_TEST_REALM"]
# A second realm that REALM trusts (testrealm --partner), with its own alice.
PARTNER = os.environ["KERBSASL_TEST_PARTNER_REALM"]
REALM_DIR = Path(os.environ["KERBSASL_TEST_DIR"])
# An anonymous TGT (kinit -n, anonymous PKINIT): testrealm --anonymous.
ANONYMOUS_CCACHE = os.environ["KERBSASL_TEST_ANONYMOUS_CCACHE"]
ANONYMOUS = "WELLKNOWN/ANONYMOUS@WELLKNOWN:ANONYMOUS"
METHOD = "GSSAPI-KERBEROS"

# The realm's service (its key is in mqtt.keytab) and a second one, made
# here, for the second listener of the per-listener case.
HOST, HOST2 = "broker.kerbsasl.test", "broker2.kerbsasl.test"
TARGET, TARGET2 = f"mqtt@{HOST}", f"mqtt@{HOST2}"
SERVICE, SERVICE2 = os.environ["KERBSASL_TEST_SERVICE"], f"mqtt/{HOST2}@{REALM}"

# Growth of the broker's VmRSS allowed between the first and the last
# hundred of 500 sequential clients. A leaked GSS context or session costs
# a few KiB, so 400 leaks would be well over this; allocator noise is less.
RSS_TOLERANCE_KIB = 256

ACL = "pattern readwrite users/%u/#\n"


def main():
    work = Path(sys.argv[1])

    def sections(results):
        prepare_realm()
        return [functools.partial(section, work, results) for section in (
            main_broker_cases, realm_rule_cases, per_listener_cases, bad_config_cases)]

    run_suite(sections, Broker.stop_all)


def prepare_realm():
    """Adds the second service with its own keytab, alice/admin, and the
    tickets of bob, alice/admin and the partner realm's alice."""
    kadmin = ["kadmin.local", "-r", REALM, "-q"]
    password = os.environ["KERBSASL_TEST_PASSWORD"]
    run(kadmin + [f"addprinc -randkey {SERVICE2}"])
    run(kadmin + [f"ktadd -norandkey -k {REALM_DIR / 'mqtt2.keytab'} {SERVICE2}"])
    run(kadmin + [f"addprinc -pw {password} alice/admin"])
    for user in ("bob", "alice/admin", f"alice@{PARTNER}"):
        run(["kinit", "-c", ccache(user), user], input=password + "\n")


def ccache(user):
    """The credential cache prepare_realm made for `user`."""
    return f"FILE:{REALM_DIR / (user.replace('/', '_') + '.ccache')}"


def bob_ccache():
    return ccache("bob")


def plugin_options(service=SERVICE, keytab="mqtt.keytab", strip_realm="true"):
    return {"principal": service, "keytab": REALM_DIR / keytab, "strip_realm": strip_realm}


def main_broker_cases(work, results):
    broker = Broker(work / "main", [plugin_options()])
    broker.start()
    port = broker.ports[0]

    def success():
        r = mqttjs(port)
        return connack(r) == 0 and r["connack"]["method"] == METHOD, describe(r)

    def acl_own_tree():
        r = mqttjs(port, "--subscribe", "users/alice/e2e", "--publish", "users/alice/e2e")
        got = (connack(r), allowed(r), len(r.get("received", [])))
        return got == (0, [True], 1), describe(r)

    def acl_other_tree():
        r = mqttjs(port, "--subscribe", "users/bob/e2e", "--publish", "users/bob/e2e")
        got = (connack(r), allowed(r), len(r.get("received", [])))
        return got == (0, [False], 0), describe(r)

    def username_ignored():
        r = mqttjs(port, "--client-id", "e2e-bob", "--username", "bob",
                   "--publish", "users/bob/e2e", "--publish", "users/alice/e2e")
        line = broker.log_line("client e2e-bob from")
        expected = f"authenticated as alice (principal alice@{REALM})"
        ok = (connack(r), allowed(r)) == (0, [False, True]) and expected in line
        return ok, f"{describe(r)}; log: {line.split('kerbsasl: ')[-1]}"

    results.check("success: CONNACK 0x00 with method GSSAPI-KERBEROS", success)
    results.check("ACL users/%u/#: alice publishes and subscribes in users/alice/", acl_own_tree)
    results.check("ACL users/%u/#: alice's publish to users/bob/ is denied", acl_other_tree)
    results.check("CONNECT username bob with alice's ticket is treated as alice", username_ignored)

    def partner_alice():
        # strip_realm shortens only the local realm: the partner's alice
        # keeps her realm and stays out of the local alice's tree.
        r = mqttjs(port, "--client-id", "e2e-partner", "--publish", "users/alice/e2e",
                   "--publish", f"users/alice@{PARTNER}/e2e", ccache=ccache(f"alice@{PARTNER}"))
        line = broker.log_line("client e2e-partner from")
        expected = f"authenticated as alice@{PARTNER} (principal alice@{PARTNER})"
        ok = (connack(r), allowed(r)) == (0, [False, True]) and expected in line
        return ok, f"{describe(r)}; log: {line.split('kerbsasl: ')[-1]}"

    def slash_refused():
        # alice/admin would become "alice/admin", inside users/alice/#.
        r = mqttjs(port, "--client-id", "e2e-admin", "--publish", "users/alice/admin/e2e",
                   ccache=ccache("alice/admin"))
        line = broker.log_line("client e2e-admin from")
        wanted = [f"alice/admin@{REALM}", "'/'", "auth_to_local", "allow_username_slash"]
        ok = connack(r) == 0x87 and all(w in line for w in wanted)
        return ok, f"{describe(r)}; log: {line.split('kerbsasl: ')[-1]}"

    def anonymous_refused():
        r = mqttjs(port, "--client-id", "e2e-anonymous", ccache=ANONYMOUS_CCACHE)
        line = broker.log_line("client e2e-anonymous from")
        wanted = ["KERBSASL_AUTHZ_DENIED", f"authenticated anonymously (kinit -n, anonymous "
                  f"PKINIT) as {ANONYMOUS}", "restrict_anonymous_to_tgt"]
        ok = connack(r) == 0x87 and all(w in line for w in wanted)
        return ok, f"{describe(r)}; log: {line.split('kerbsasl: ')[-1]}"

    results.check(f"strip_realm: alice@{PARTNER} keeps her realm, denied users/alice/",
                  partner_alice)
    results.check(f"an anonymous client ({ANONYMOUS}, kinit -n) -> CONNACK 0x87, log says why",
                  anonymous_refused)
    results.check("alice/admin (username with '/') -> CONNACK 0x87, log says why and the way out",
                  slash_refused)

    # Each failure case also checks that the broker lives on and still lets
    # a good client in.
    failure_cases = [
        ("ticket for other/broker.kerbsasl.test -> CONNACK 0x87",
         lambda: mqttjs(port, "--target", f"other@{HOST}"), lambda r: connack(r) == 0x87),
        ("garbage initial data -> CONNACK 0x87",
         lambda: mqttjs(port, "--mode", "garbage-initial"), lambda r: connack(r) == 0x87),
        ("empty initial data -> CONNACK 0x87",
         lambda: mqttjs(port, "--mode", "empty-initial"), lambda r: connack(r) == 0x87),
        ("layer choice 04 (confidentiality, not offered) -> CONNACK 0x87",
         lambda: raw(port, mode="layer", layer=bytes.fromhex("04000000")),
         lambda r: r[-2:] == ["connack/0x87", "closed"]),
        ("layer choice 01 FF FF FF (a size without a layer) -> CONNACK 0x87",
         lambda: raw(port, mode="layer", layer=bytes.fromhex("01ffffff")),
         lambda r: r[-2:] == ["connack/0x87", "closed"]),
        ("unknown method SCRAM-SHA-1 -> CONNACK 0x8C",
         lambda: mqttjs(port, "--mode", "unknown-method"), lambda r: connack(r) == 0x8C),
        ("method switch mid-exchange -> DISCONNECT 0x82",
         lambda: mqttjs(port, "--mode", "method-switch"),
         lambda r: connack(r) is None and r.get("disconnect", {}).get("reasonCode") == 0x82),
        ("non-empty reply after the AP-REP -> CONNACK 0x87",
         lambda: mqttjs(port, "--mode", "nonempty-after-aprep"), lambda r: connack(r) == 0x87),
        ("re-authentication (AUTH 0x19) as alice -> AUTH 0x00, may publish",
         lambda: raw(port, mode="reauth", publish="users/alice/e2e"),
         lambda r: r[-3] == "auth/0x00" and r[-2] in ("puback/0x00", "puback/0x10")),
        ("re-authentication as bob on alice's connection -> CONNACK 0x87, closed",
         lambda: raw(port, mode="reauth", reauth_ccache=bob_ccache()),
         lambda r: r[-2:] == ["connack/0x87", "closed"]),
        ("bare AUTH (F0 00) after CONNACK -> AUTH 0x18, connection kept",
         lambda: raw(port, mode="bare-auth", client_id="e2e-victim"),
         lambda r: r[-2:] == ["auth/0x18", "timeout"]),
        # Mosquitto 2.0.11 corrupted its client table here when a plugin
        # refused the bare AUTH; the crash came with the same client id.
        ("the same client id connects after the bare AUTH",
         lambda: raw(port, client_id="e2e-victim"), lambda r: "connack/0x00" in r),
    ]
    for name, attempt, expected in failure_cases:
        results.check(name, lambda: survived(broker, attempt, expected))

    many_clients(broker, results)

    def clean_shutdown():
        code, log = broker.stop()
        bad = [w for w in ("double free", "corrupted", "Segmentation") if w in log]
        return code == 0 and not bad, f"exit status {code}" + (f"; log has {bad}" if bad else "")

    results.check("SIGTERM: the broker exits with status 0 and a clean log", clean_shutdown)


def survived(broker, attempt, expected):
    """Runs a failure case, then checks that the broker is alive and lets
    alice in."""
    r = attempt()
    ok = expected(r)
    detail = describe(r)
    if not broker.alive():
        return False, f"{detail}; broker died"
    after = raw(broker.ports[0])
    if "connack/0x00" not in after:
        return False, f"{detail}; broker alive but the next client got {' '.join(after)}"
    return ok, f"{detail}; broker alive, next client connects"


def many_clients(broker, results):
    port = broker.ports[0]
    rss = []
    total = {"connected": 0, "failed": 0, "errors": []}

    def sequential():
        # Five batches of 100, each from one Node process, sampling the
        # broker's RSS after each.
        started = time.monotonic()
        for _ in range(5):
            r = mqttjs(port, "--count", "100", timeout=120)
            total["connected"] += r["connected"]
            total["failed"] += r["failed"]
            total["errors"] += r["errors"]
            rss.append(broker.rss_kib())
        seconds = time.monotonic() - started
        return total["connected"] == 500, (
            f"{total['connected']} connected, {total['failed']} failed in {seconds:.1f} s"
            + (f"; first errors: {total['errors'][:3]}" if total["errors"] else ""))

    def concurrent():
        start = time.monotonic()
        r = mqttjs(port, "--count", "100", "--parallel", "100", timeout=120)
        seconds = time.monotonic() - start
        return r["connected"] == 100 and broker.alive(), (
            f"{r['connected']} connected, {r['failed']} failed in {seconds:.1f} s"
            + (f"; first errors: {r['errors'][:3]}" if r["errors"] else ""))

    def abandoned():
        # Sessions left half-way must be freed when the client goes.
        samples = []
        for _ in range(5):
            for _ in range(100):
                raw(port, mode="abandon")
            raw(port)  # the broker has handled every earlier disconnect
            samples.append(broker.rss_kib())
        return rss_flat(samples)

    results.check("500 sequential clients all authenticate", sequential)
    results.check("broker RSS flat between the first and last hundred",
                  lambda: rss_flat(rss))
    results.check("100 concurrent clients all authenticate", concurrent)
    results.check("500 clients abandoning the exchange after the AP-REP: RSS flat", abandoned)


def rss_flat(samples):
    """Whether the broker's VmRSS, sampled after each hundred clients, grew
    by at most the tolerance from the first hundred to the last."""
    if len(samples) < 5:
        return False, f"only {len(samples)} RSS samples (clients failed)"
    growth = samples[-1] - samples[0]
    return growth <= RSS_TOLERANCE_KIB, (
        f"VmRSS after the first hundred {samples[0]} KiB, after the last {samples[-1]} KiB "
        f"(+{growth} KiB; tolerance {RSS_TOLERANCE_KIB} KiB); samples {samples}")


def realm_rule_cases(work, results):
    """The operator's ways out: local_realms listing the partner,
    allowed_realms excluding it, and allow_username_slash."""
    broker = Broker(work / "realm-rules", [
        {**plugin_options(), "local_realms": f"{REALM},{PARTNER}"},
        {**plugin_options(), "allowed_realms": REALM},
        {**plugin_options(), "allow_username_slash": "true"},
    ], per_listener=True)
    broker.start()
    shared, local_only, slash = broker.ports

    def shared_namespace():
        r = mqttjs(shared, "--client-id", "e2e-shared", "--publish", "users/alice/e2e",
                   ccache=ccache(f"alice@{PARTNER}"))
        line = broker.log_line("client e2e-shared from")
        ok = (connack(r), allowed(r)) == (0, [True]) and "authenticated as alice " in line
        return ok, f"{describe(r)}; log: {line.split('kerbsasl: ')[-1]}"

    def partner_refused():
        r = mqttjs(local_only, "--client-id", "e2e-foreign", ccache=ccache(f"alice@{PARTNER}"))
        line = broker.log_line("client e2e-foreign from")
        ok = connack(r) == 0x87 and "KERBSASL_AUTHZ_DENIED" in line and "allowed_realms" in line
        return ok, f"{describe(r)}; log: {line.split('kerbsasl: ')[-1]}"

    def slash_allowed():
        r = mqttjs(slash, "--publish", "users/alice/admin/e2e", ccache=ccache("alice/admin"))
        return (connack(r), allowed(r)) == (0, [True]), describe(r)

    results.check(f"local_realms {REALM},{PARTNER}: the partner's alice is alice",
                  shared_namespace)
    results.check(f"allowed_realms {REALM}: alice@{PARTNER} -> CONNACK 0x87 (AUTHZ_DENIED)",
                  partner_refused)
    results.check("allow_username_slash true: alice/admin connects as alice/admin",
                  slash_allowed)
    code, _ = broker.stop()
    results.record(code == 0, "realm rules broker: clean stop", f"exit status {code}")


def per_listener_cases(work, results):
    """per_listener_settings true: each listener loads the plugin with its
    own options; the second one has its own principal and keytab and keeps
    the realm in usernames."""
    broker = Broker(work / "per-listener", [
        plugin_options(),
        plugin_options(SERVICE2, "mqtt2.keytab", strip_realm="false"),
    ], per_listener=True)
    broker.start()
    one, two = broker.ports

    def listener(port, target, topic):
        r = mqttjs(port, "--target", target, "--publish", topic)
        return (connack(r), allowed(r)) == (0, [True]), describe(r)

    def wrong_service(port, target):
        r = mqttjs(port, "--target", target)
        return connack(r) == 0x87, describe(r)

    results.check(f"per-listener: listener 1 ({SERVICE}) -> alice, publishes users/alice/",
                  lambda: listener(one, TARGET, "users/alice/e2e"))
    results.check(f"per-listener: listener 2 ({SERVICE2}) -> alice@{REALM}",
                  lambda: listener(two, TARGET2, f"users/alice@{REALM}/e2e"))
    results.check("per-listener: listener 2 refuses a ticket for listener 1's service",
                  lambda: wrong_service(two, TARGET))
    results.check("per-listener: listener 1 refuses a ticket for listener 2's service",
                  lambda: wrong_service(one, TARGET2))
    def two_instances():
        inits = broker.log().count("kerbsasl: offering MQTT 5 authentication method")
        # kerbsasl's own records (INFO) reach the broker's log.
        ready = broker.log().count("kerbsasl: kerbsasl server ready")
        code, _ = broker.stop()
        return (inits, ready, code) == (2, 2, 0), \
            f"{inits} plugin inits and {ready} servers ready logged, exit status {code}"

    results.check("per-listener: one plugin init per listener, clean stop", two_instances)


def bad_config_cases(work, results):
    """Bad plugin options stop mosquitto at start with one clear line."""
    cases = [
        ("plugin_opt_principal mqtt", {**plugin_options(), "principal": "mqtt"}),
        ("plugin_opt_keytab naming a missing file", plugin_options(keytab="no-such.keytab")),
        ("unknown plugin_opt_keytabs", {**plugin_options(), "keytabs": "mqtt.keytab"}),
        ("plugin_opt_allow_username_slash maybe",
         {**plugin_options(), "allow_username_slash": "maybe"}),
    ]
    for number, (what, options) in enumerate(cases):
        def refuses(options=options, number=number):
            broker = Broker(work / f"bad-config-{number}", [options])
            code, log = broker.run_to_exit()
            lines = [line for line in log.splitlines() if "kerbsasl: cannot start" in line]
            shown = lines[0].split(": ", 1)[-1] if lines else log.strip()[-200:]
            return code not in (None, 0) and len(lines) == 1, f"exit status {code}; log: {shown}"

        results.check(f"bad config, {what} -> mosquitto refuses to start", refuses)


class Broker:
    """A mosquitto on free loopback ports with one listener per entry of
    `listeners` (the plugin's options), each with the ACL file. Config, log
    and pid file live in `dir`."""

    running = []

    def __init__(self, directory, listeners, per_listener=False):
        self.dir = directory
        self.dir.mkdir(parents=True)
        self.ports = free_ports(len(listeners))
        self.log_path = self.dir / "mosquitto.log"
        self.process = None
        (self.dir / "acl").write_text(ACL)
        lines = [
            f"per_listener_settings {str(per_listener).lower()}",
            "user root",  # the keytabs are in a root-owned temp dir
            "log_dest stderr",
            *(f"log_type {t}" for t in ("error", "warning", "notice", "information")),
        ]
        for port, options in zip(self.ports, listeners):
            lines += [
                f"listener {port} 127.0.0.1",
                "allow_anonymous false",
                f"acl_file {self.dir / 'acl'}",
                f"plugin {PLUGIN}",
                *(f"plugin_opt_{key} {value}" for key, value in options.items()),
            ]
        (self.dir / "mosquitto.conf").write_text("\n".join(lines) + "\n")

    def spawn(self):
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                ["mosquitto", "-c", str(self.dir / "mosquitto.conf")],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        # For the run script's trap, should this script die without cleaning up.
        (self.dir / "broker.pid").write_text(str(self.process.pid))
        Broker.running.append(self)

    def start(self):
        self.spawn()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            log = self.log()
            if all(f"listen socket on port {p}." in log for p in self.ports):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"mosquitto did not start: {self.log().strip()[-500:]}")

    def run_to_exit(self):
        """For a config mosquitto should refuse: returns (exit status, log),
        with status None if it was still running after 10 s."""
        self.spawn()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            return None, self.stop()[1]
        return self.stop()

    def alive(self):
        return self.process.poll() is None

    def rss_kib(self):
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
        return int(line.split()[1])

    def log(self):
        return self.log_path.read_text(errors="replace")

    def log_line(self, text):
        return next((line for line in self.log().splitlines() if text in line), "")

    def stop(self):
        """Stops the broker if it runs; returns (exit status, log)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        (self.dir / "broker.pid").unlink(missing_ok=True)
        if self in Broker.running:
            Broker.running.remove(self)
        return self.process.returncode, self.log()

    @classmethod
    def stop_all(cls):
        for broker in list(cls.running):
            broker.stop()


def free_ports(count):
    """Loopback ports that were free just now (all held open together, so
    they differ)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def run(command, input=None):
    done = subprocess.run(command, input=input, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {done.stderr.strip()}")


def mqttjs(port, *args, timeout=30, ccache=None):
    """Runs client.js against 127.0.0.1:port, with the tickets of `ccache`
    (default: alice's); returns its JSON result."""
    env = {**os.environ, "KRB5CCNAME": ccache} if ccache else None
    done = subprocess.run(["node", str(HERE / "client.js"), "--port", str(port), *args],
                          capture_output=True, text=True, timeout=timeout, env=env)
    try:
        return json.loads(done.stdout)
    except ValueError:
        raise RuntimeError(f"client.js failed: {done.stderr.strip()[-300:]}") from None


def raw(port, **kwargs):
    return raw_client.exchange(port, TARGET, **kwargs)


def connack(r):
    return (r.get("connack") or {}).get("reasonCode")


def allowed(r):
    """Whether each PUBLISH was allowed: PUBACK 0x00, or 0x10 "no matching
    subscribers"; a denied one gets 0x87 "not authorized"."""
    return [p["reasonCode"] < 0x80 for p in r.get("publish", [])]


def describe(r):
    """A short account of a client result for the case line."""
    if isinstance(r, list):  # raw_client events
        return " ".join(r)
    parts = []
    if r.get("connack"):
        parts.append(f"CONNACK 0x{r['connack']['reasonCode']:02X}")
    if r.get("disconnect"):
        parts.append(f"DISCONNECT 0x{r['disconnect']['reasonCode']:02X}")
    for p in r.get("publish", []):
        parts.append(f"PUBACK 0x{p['reasonCode']:02X} for {p['topic']}")
    if r.get("received"):
        parts.append(f"received {len(r['received'])}")
    if r.get("error") and not r.get("connack"):
        parts.append(f"error: {r['error']}")
    return ", ".join(parts) or json.dumps(r)


if __name__ == "__main__":
    main()

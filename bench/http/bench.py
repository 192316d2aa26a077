"""The HTTP single sign-on benchmark: three contenders side by side, in one
realm and one run, behind the same static page:

  authd-kerberos  nginx (auth_request) + kerbsasl-authd, Kerberos on every request
  apache          Apache + mod_auth_gssapi, Kerberos on every request (the anchor)
  authd-cookie    nginx + kerbsasl-authd, the session cookie on every request

Load: wrk, keep-alive, CONNECTIONS concurrent connections. For the Kerberos
contenders every request carries its own fresh SPNEGO token, made before the
round by tokens.c over MIT's initiator (mutual authentication requested, as
curl and browsers do), so the client spends no CPU on Kerberos while the
servers are measured. Server CPU is the sum of utime + stime of the server
processes and their children (/proc/PID/stat) over the round.

Run by bench/http/run inside testrealm. Prints a table (median over
interleaved rounds) and ratios; with --smoke, each contender completes a few
requests and the script ends with "N passed, N failed".

usage: bench.py WORKDIR BUILDDIR [--smoke]
"""

import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT / "tests" / "authd"))
import fixture  # noqa: E402
from fixture import HOST, REALM_DIR, SERVICE, Apache, Authd, Nginx, Service  # noqa: E402

DURATION = int(os.environ.get("BENCH_HTTP_SECONDS", "10"))
ROUNDS = int(os.environ.get("BENCH_HTTP_ROUNDS", "3"))
CONNECTIONS = int(os.environ.get("BENCH_HTTP_CONNECTIONS", "8"))
WRK_THREADS = 1
PAGE = "/index.html"
BODY = "kerbsasl benchmark page\n" * 4
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
CONTENDERS = tuple(os.environ.get("BENCH_HTTP_CONTENDERS",
                                  "authd-kerberos apache authd-cookie").split())


def main():
    work, build = Path(sys.argv[1]), Path(sys.argv[2])
    smoke = "--smoke" in sys.argv[3:]
    bench = Bench(work, build)
    try:
        bench.start()
        if smoke:
            sys.exit(bench.smoke())
        bench.measure()
    finally:
        Service.stop_all()


class Bench:
    def __init__(self, work, build):
        self.work = work
        self.build = build
        self.keytab = REALM_DIR / "http.keytab"
        self.results = {c: [] for c in CONTENDERS}

    def start(self):
        fixture.add_service(SERVICE, self.keytab)
        binary = fixture.authd_binary(os.environ.get("BENCH_HTTP_PROFILE", "release"))
        common = {"principal": SERVICE, "keytab": self.keytab, "log_level": "warn"}
        secret = self.work / "secret"
        secret.write_bytes(os.urandom(32))
        secret.chmod(0o600)
        # Each server gets its own replay cache, as on separate machines.
        self.authd = Authd(self.work / "authd", common, binary=binary)
        self.authd.start(env={"KRB5RCACHEDIR": self.rcache("authd")})
        self.authd_cookie = Authd(self.work / "authd-cookie", {
            **common, "session_secret_file": secret, "session_secure": "false"},
            binary=binary, name="authd")
        self.authd_cookie.start(env={"KRB5RCACHEDIR": self.rcache("authd-cookie")})
        tuning = {"workers": os.cpu_count(), "access_log": False, "keepalive_requests": 1000000}
        self.nginx = Nginx(self.work / "nginx", self.authd.port, static_body=BODY,
                           **tuning).start()
        self.nginx_cookie = Nginx(self.work / "nginx-cookie", self.authd_cookie.port,
                                  static_body=BODY, **tuning).start()
        self.apache = Apache(self.work / "apache", self.keytab, BODY).start()
        self.cookie = self.session_cookie()
        self.servers = {
            "authd-kerberos": (self.nginx.port, [self.nginx, self.authd]),
            "apache": (self.apache.port, [self.apache]),
            "authd-cookie": (self.nginx_cookie.port, [self.nginx_cookie, self.authd_cookie]),
        }

    def rcache(self, name):
        path = self.work / f"rcache-{name}"
        path.mkdir()
        return str(path)

    def session_cookie(self):
        """Logs in once with curl --negotiate; returns 'name=value'."""
        jar = self.work / "cookies.txt"
        subprocess.run(["curl", "-sf", "--negotiate", "-u", ":", "-c", str(jar), "-o", "/dev/null",
                        f"http://{HOST}:{self.nginx_cookie.port}{PAGE}"], check=True)
        for line in jar.read_text().splitlines():
            fields = line.split("\t")
            if len(fields) == 7 and fields[5] == "kerbsasl_session":
                return f"{fields[5]}={fields[6]}"
        raise RuntimeError("authd set no session cookie")

    def tokens(self, count):
        """A file of `count` fresh tokens, one per line."""
        path = self.work / "tokens.txt"
        with open(path, "w") as out:
            subprocess.run([str(self.build / "tokens"), "--count", str(count)], stdout=out,
                           stderr=subprocess.DEVNULL, check=True)
        return path

    def round(self, contender, seconds, tokens=None):
        """One wrk run against `contender`; returns its figures."""
        port, services = self.servers[contender]
        command = ["wrk", "-t", str(WRK_THREADS), "-c", str(CONNECTIONS), "-d", f"{seconds}s",
                   "--timeout", "5s", "-s", str(HERE / "requests.lua")]
        env = dict(os.environ)
        if contender == "authd-cookie":
            command += ["-H", f"Cookie: {self.cookie}", f"http://{HOST}:{port}", "--", PAGE]
        else:
            command += [f"http://{HOST}:{port}", "--", PAGE, str(self.tokens(tokens)),
                        str(WRK_THREADS)]
            env["BENCH_TOKENS"] = "1"
        groups = {s.name: s.pids() for s in services}
        before = {name: cpu_ticks(pids) for name, pids in groups.items()}
        client_before = os.times()
        done = subprocess.run(command, capture_output=True, text=True, env=env,
                              timeout=seconds + 60)
        client_after = os.times()
        after = {name: cpu_ticks(pids) for name, pids in groups.items()}
        match = re.search(r"wrk-result (.*)", done.stdout)
        if done.returncode != 0 or not match:
            raise RuntimeError(f"wrk failed: {done.stdout}{done.stderr}")
        r = {k: int(v) for k, v in (kv.split("=") for kv in match.group(1).split())}
        r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
        per_request = 1e6 / max(r["requests"], 1)
        r["cpu"] = {name: (after[name] - before[name]) / CLOCK_TICKS * per_request
                    for name in groups}
        r["cpu_us"] = sum(r["cpu"].values())
        client = (client_after.children_user + client_after.children_system
                  - client_before.children_user - client_before.children_system)
        r["client_cpu_us"] = client * per_request
        return r

    def kerberos_round(self, contender, seconds, rate_guess):
        """A round with enough tokens: retried with more if they ran out."""
        count = int(rate_guess * seconds * 1.5) + 2000
        for _ in range(3):
            r = self.round(contender, seconds, tokens=count)
            if r["exhausted"] == 0:
                return r
            count *= 2
        raise RuntimeError(f"{contender}: tokens ran out even with {count // 2}")

    def run(self, contender, seconds, rates):
        if contender == "authd-cookie":
            return self.round(contender, seconds)
        r = self.kerberos_round(contender, seconds, rates.get(contender, 10000))
        rates[contender] = max(rates.get(contender, 0), r["rps"])
        return r

    def measure(self):
        rates = {}
        # A short warm-up round each, which also sizes the token files.
        for contender in CONTENDERS:
            self.run(contender, 2, rates)
        for number in range(ROUNDS):
            for contender in CONTENDERS:
                r = self.run(contender, DURATION, rates)
                self.results[contender].append(r)
                print(f"round {number + 1} {contender}: {r['rps']:.0f} requests/s, "
                      f"p50 {r['p50_us'] / 1000:.2f} ms, p99 {r['p99_us'] / 1000:.2f} ms, "
                      f"{r['cpu_us']:.0f} us server CPU/request "
                      f"({', '.join(f'{k} {v:.0f}' for k, v in r['cpu'].items())}; "
                      f"wrk {r['client_cpu_us']:.0f}), {r['non2xx']} non-2xx, "
                      f"{r['socket_errors']} socket errors", flush=True)
        self.report()

    def report(self):
        def median(contender, key):
            return statistics.median(r[key] for r in self.results[contender])

        print()
        print(machine())
        print(f"wrk: 1 thread, {CONNECTIONS} keep-alive connections, {DURATION} s per round, "
              f"median of {ROUNDS} interleaved rounds; a fresh SPNEGO token per Kerberos request")
        print()
        print("| contender | requests/s | p50 ms | p99 ms | server CPU µs/request | failed |")
        print("|---|---:|---:|---:|---:|---:|")
        labels = {
            "authd-kerberos": "(1) nginx + kerbsasl-authd, Kerberos every request",
            "apache": "(2) Apache + mod_auth_gssapi, Kerberos every request",
            "authd-cookie": "(3) nginx + kerbsasl-authd, session cookie",
        }
        for c in CONTENDERS:
            failed = sum(r["non2xx"] + r["socket_errors"] for r in self.results[c])
            print(f"| {labels[c]} | {median(c, 'rps'):,.0f} | {median(c, 'p50_us') / 1000:.2f} | "
                  f"{median(c, 'p99_us') / 1000:.2f} | {median(c, 'cpu_us'):,.0f} | {failed} |")
        if len(CONTENDERS) < 3:
            return
        rps = {c: median(c, "rps") for c in CONTENDERS}
        cpu = {c: median(c, "cpu_us") for c in CONTENDERS}
        print()
        print("| ratio | requests/s | CPU/request |")
        print("|---|---:|---:|")
        print(f"| (1) ÷ (2) | {rps['authd-kerberos'] / rps['apache']:.2f}× | "
              f"{cpu['authd-kerberos'] / cpu['apache']:.2f}× |")
        print(f"| (3) ÷ (2) | {rps['authd-cookie'] / rps['apache']:.2f}× | "
              f"{cpu['authd-cookie'] / cpu['apache']:.2f}× |")
        goals = [
            ("(1) >= (2) in requests/s", rps["authd-kerberos"] >= rps["apache"]),
            ("(1) <= (2) in CPU/request", cpu["authd-kerberos"] <= cpu["apache"]),
            ("(3) >= 5 x (2) in requests/s", rps["authd-cookie"] >= 5 * rps["apache"]),
        ]
        print()
        for goal, met in goals:
            print(f"goal {goal}: {'met' if met else 'NOT met'}")

    def smoke(self):
        passed = failed = 0
        rates = {}
        for contender in CONTENDERS:
            try:
                r = self.run(contender, 1, rates)
                ok = r["requests"] > 0 and r["non2xx"] == 0 and r["socket_errors"] == 0
                detail = (f"{r['requests']} requests, {r['non2xx']} non-2xx, "
                          f"{r['socket_errors']} socket errors, exhausted {r['exhausted']}")
            except Exception as e:
                ok, detail = False, f"{type(e).__name__}: {e}"
            print(f"{'PASS' if ok else 'FAIL'}  bench smoke, {contender}: {detail}", flush=True)
            passed, failed = passed + ok, failed + (not ok)
        print(f"{passed} passed, {failed} failed")
        return 1 if failed else 0


def cpu_ticks(pids):
    """utime + stime of each process, plus cutime + cstime (children it
    has reaped), in clock ticks."""
    total = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        total += sum(int(fields[i]) for i in (11, 12, 13, 14))
    return total


def machine():
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
               "unknown CPU")
    versions = {
        "nginx": subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip(),
        "apache": subprocess.run(["apache2", "-v"], capture_output=True, text=True).stdout
        .splitlines()[0],
        "mod_auth_gssapi": package_version("libapache2-mod-auth-gssapi"),
        "MIT krb5": package_version("libkrb5-3"),
        "wrk": package_version("wrk"),
    }
    return (f"Machine: {os.cpu_count()} × {cpu}, Linux {platform.release()}; "
            + "; ".join(f"{k} {v}" for k, v in versions.items()))


def package_version(name):
    done = subprocess.run(["dpkg-query", "-W", "-f=${Version}", name], capture_output=True,
                          text=True)
    return done.stdout or "?"


if __name__ == "__main__":
    main()

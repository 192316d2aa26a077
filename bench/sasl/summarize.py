"""Turns the benchmark's raw lines into the README's tables.

Usage: summarize.py RAW_FILE CALLGRIND_HANDSHAKES CONTENDER... (kerbsasl first)
"""

import os
import platform
import statistics
import subprocess
import sys
from collections import defaultdict

SUBJECT = "kerbsasl"
FLOOR = "mit-best"
CYRUS = "cyrus"


def parse(path):
    """tag -> list of {key: value} for every measured line."""
    runs = defaultdict(list)
    with open(path) as raw:
        for line in raw:
            fields = dict(item.split("=", 1) for item in line.split() if "=" in item)
            if "tag" in fields:
                runs[fields["tag"]].append(fields)
            elif fields.get("replay_check") not in (None, "ok"):
                sys.exit(f"replay check failed: {line.strip()}")
    return runs


def median(runs, tag, key):
    values = [float(run[key]) for run in runs.get(tag, []) if key in run]
    return statistics.median(values) if values else float("nan")


def machine():
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    krb5 = subprocess.run(["krb5-config", "--version"], capture_output=True, text=True).stdout.strip()
    sasl = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "libsasl2-2"],
                          capture_output=True, text=True).stdout.strip()
    return (f"{os.cpu_count()} vCPU {cpu}, Linux {platform.release()}, {krb5 or 'MIT krb5'}, "
            f"Cyrus SASL {sasl or '?'}")


def main():
    runs = parse(sys.argv[1])
    cg_handshakes = int(sys.argv[2])
    contenders = sys.argv[3:]
    if not contenders or contenders[0] != SUBJECT:
        sys.exit(f"usage: summarize.py RAW CALLGRIND_HANDSHAKES {SUBJECT} [OTHER...]")
    rows = {}
    for c in contenders:
        one, two = median(runs, f"{c}/1", "handshakes_per_s"), median(runs, f"{c}/2", "handshakes_per_s")
        rows[c] = {
            "median": median(runs, f"{c}/1", "median_us"),
            "p99": median(runs, f"{c}/1", "p99_us"),
            "instructions": median(runs, f"{c}/callgrind", "instructions") / cg_handshakes,
            "one": one,
            "two": two,
            "rss10k": median(runs, f"{c}/rss10k", "rss_kb"),
            "rss100k": median(runs, f"{c}/rss100k", "rss_kb"),
        }
    print(f"\nMachine: {machine()}.")
    print("Per handshake, server side only, default replay cache on for all.\n")
    print("| contender | median µs | p99 µs | instructions | handshakes/s, 1 thread "
          "| 2 threads | 2 / 1 | RSS KiB after 10k | after 100k |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for c, r in rows.items():
        print(f"| {c} | {r['median']:.1f} | {r['p99']:.1f} | {r['instructions']:,.0f} | "
              f"{r['one']:,.0f} | {r['two']:,.0f} | {r['two'] / r['one']:.2f}× | "
              f"{r['rss10k']:,.0f} | {r['rss100k']:,.0f} |")
    k = rows[SUBJECT]
    print(f"\n| {SUBJECT} ÷ | time (median) | instructions | throughput, 1 thread |")
    print("|---|---:|---:|---:|")
    for c in contenders[1:]:
        r = rows[c]
        print(f"| {c} | {k['median'] / r['median']:.2f}× | {k['instructions'] / r['instructions']:.2f}× | "
              f"{k['one'] / r['one']:.2f}× |")
    targets = []
    if FLOOR in rows:
        floor = rows[FLOOR]
        targets += [
            ("time ≤ 1.05× the floor (mit-best)", k["median"] / floor["median"], 1.05, "≤"),
            ("instructions ≤ 1.05× the floor", k["instructions"] / floor["instructions"], 1.05, "≤"),
        ]
    if CYRUS in rows:
        cyrus = rows[CYRUS]
        targets += [
            ("time ≤ 0.35× Cyrus", k["median"] / cyrus["median"], 0.35, "≤"),
            ("instructions ≤ 0.75× Cyrus", k["instructions"] / cyrus["instructions"], 0.75, "≤"),
        ]
    targets += [
        ("2 threads ≥ 1.8× 1 thread", k["two"] / k["one"], 1.8, "≥"),
        ("p99 handshake (all server calls) < 1,000 µs", k["p99"], 1000, "<"),
        ("RSS growth 10k → 100k handshakes (KiB) ≤ 512", k["rss100k"] - k["rss10k"], 512, "≤"),
    ]
    print("\nkerbsasl against the targets:")
    for name, value, limit, op in targets:
        met = value <= limit if op in ("≤", "<") else value >= limit
        print(f"  {'met' if met else 'MISSED':6}  {name}: {value:,.2f}")


if __name__ == "__main__":
    main()

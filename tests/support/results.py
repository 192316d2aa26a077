"""The case runner of the end-to-end suites written in Python (Mosquitto,
kerbsasl-authd): one PASS/FAIL line per case, and the counts for the
closing "N passed, N failed" line."""


class Results:
    def __init__(self):
        self.passed = self.failed = 0

    def check(self, name, case):
        """Runs a case returning (ok, detail) and prints one line for it."""
        try:
            ok, detail = case()
        except Exception as e:  # a broken case is a failed case, not a stop
            ok, detail = False, f"{type(e).__name__}: {e}"
        self.record(ok, name, detail)

    def record(self, ok, name, detail):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {detail}", flush=True)


def run_suite(sections, cleanup):
    """Runs a suite and exits: `sections(results)` prepares and returns the
    sections (functions without arguments, each checking its cases); one
    that raises (a server that won't start) is recorded as a failure and
    the next one runs. SIGTERM and SIGHUP end the run like Ctrl-C, through
    `cleanup`. Prints the closing "N passed, N failed"; exits 1 on any
    failure."""
    import signal
    import sys

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGHUP, lambda *_: sys.exit(129))
    results = Results()
    try:
        for section in sections(results):
            name = getattr(section, "__name__", None) or section.func.__name__
            try:
                section()
            except Exception as e:  # e.g. a server that won't start: the next section may
                results.record(False, f"{name} stopped", f"{type(e).__name__}: {e}")
    except KeyboardInterrupt:
        print("interrupted")
        sys.exit(130)
    finally:
        cleanup()
    print(f"{results.passed} passed, {results.failed} failed")
    sys.exit(1 if results.failed else 0)

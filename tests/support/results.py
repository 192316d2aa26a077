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

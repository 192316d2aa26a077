/*
 * A tiny test reporter for kerbsasl's C tests: every check prints one line,
 * "ok - NAME" or "not ok - NAME: DETAILS", which c-tests/run counts.
 * Thread-safe, so worker threads may report too.
 */
#ifndef KERBSASL_TEST_CHECK_H
#define KERBSASL_TEST_CHECK_H

#include <stdarg.h>

/* Reports one check; `details` (printf format) is shown only on failure.
 * Returns `passed`, so callers can skip what depends on it. */
int check(int passed, const char *name, const char *details, ...)
    __attribute__((format(printf, 3, 4)));

/* As check(), with the details already in a va_list. */
int check_v(int passed, const char *name, const char *details, va_list args);

/* Whether `text` (may be NULL) contains every string of the NULL-terminated
 * list; *missing is set to the first one it lacks. */
int contains_all(const char *text, const char *const *fragments, const char **missing);

/* A fatal fixture problem (kadmin failed, no realm...): reported as a
 * failed check, then the program exits, since later checks would be noise. */
void check_fatal(const char *name, const char *details, ...)
    __attribute__((format(printf, 2, 3), noreturn));

/* The exit status for main: 0 if every check passed, 2 otherwise (1 is
 * left to ASan and valgrind, so c-tests/run can tell the two apart). */
int check_exit_status(void);

#endif

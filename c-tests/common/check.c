#include "check.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Serialises output lines and counters between threads. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned failures;

int check_v(int passed, const char *name, const char *details, va_list args)
{
    pthread_mutex_lock(&lock);
    if (passed) {
        printf("ok - %s\n", name);
    } else {
        failures++;
        printf("not ok - %s: ", name);
        vprintf(details, args);
        putchar('\n');
    }
    /* Flushed per line: a crash later must not swallow earlier results. */
    fflush(stdout);
    pthread_mutex_unlock(&lock);
    return passed;
}

int check(int passed, const char *name, const char *details, ...)
{
    va_list args;
    va_start(args, details);
    check_v(passed, name, details, args);
    va_end(args);
    return passed;
}

int contains_all(const char *text, const char *const *fragments, const char **missing)
{
    for (; *fragments != NULL; fragments++) {
        if (text == NULL || strstr(text, *fragments) == NULL) {
            *missing = *fragments;
            return 0;
        }
    }
    return 1;
}

void check_fatal(const char *name, const char *details, ...)
{
    va_list args;
    va_start(args, details);
    check_v(0, name, details, args);
    va_end(args);
    exit(check_exit_status());
}

int check_exit_status(void)
{
    pthread_mutex_lock(&lock);
    int status = failures == 0 ? 0 : 2;
    pthread_mutex_unlock(&lock);
    return status;
}

/*
 * Replacing the log callback while other threads log: once
 * kerbsasl_set_log_callback returns, the previous callback is never called
 * again, so the host may free its userdata at once. Four threads run
 * handshakes (each logs a DEBUG record) while the main thread installs a
 * new callback userdata a hundred times and frees the old one right after
 * each call returns. The callback pauses while it holds the userdata, so a
 * late call would touch freed memory: ASan and valgrind report it, and the
 * magic check below counts it in a plain build.
 *
 * Each thread has a credential cache of its own: valgrind 3.19 deadlocks
 * when threads contend for a file's OFD lock (MIT locks the ccache so).
 *
 * Usage: test_log_replace [REPLACEMENTS]
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/fixture.h"

#define THREADS 4
#define LIVE 0x6b657262u

/* A callback's userdata, freed as soon as the callback is replaced. */
typedef struct {
    unsigned magic; /* LIVE until retired */
    atomic_ulong calls;
} sink;

static atomic_ulong calls_total, late_calls;
static atomic_int stop;

static void pause_us(long us)
{
    struct timespec pause = {0, us * 1000};
    nanosleep(&pause, NULL);
}

static void on_log(void *userdata, uint32_t level, const char *target, const char *message)
{
    sink *s = userdata;
    (void)level;
    (void)target;
    (void)message;
    if (s->magic != LIVE)
        atomic_fetch_add(&late_calls, 1);
    /* Hold the userdata for a while, as a host writing a log line does. */
    pause_us(20);
    atomic_fetch_add(&s->calls, 1);
    if (s->magic != LIVE)
        atomic_fetch_add(&late_calls, 1);
    atomic_fetch_add(&calls_total, 1);
}

static sink *new_sink(void)
{
    sink *s = calloc(1, sizeof *s);
    if (s == NULL)
        check_fatal("allocate a sink", "out of memory");
    s->magic = LIVE;
    return s;
}

/* Marks a replaced sink and frees it at once. */
static void retire(sink *s)
{
    s->magic = 0;
    free(s);
}

typedef struct {
    const kerbsasl_server *server;
    char ccache[512];
    int handshakes, failed;
    char first_failure[1100];
} worker;

static void *run_worker(void *arg)
{
    worker *w = arg;
    char err[512];
    while (!atomic_load(&stop)) {
        sasl_client *client =
            sasl_client_new(w->ccache, fixture_service(), 1, NULL, err, sizeof err);
        handshake h = {.code = CLIENT_FAILED};
        if (client != NULL)
            handshake_run(&h, w->server, client);
        else
            snprintf(h.message, sizeof h.message, "client: %s", err);
        if (h.code != KERBSASL_OK && w->failed++ == 0)
            snprintf(w->first_failure, sizeof w->first_failure, "%s: %s", result_name(h.code),
                     h.message);
        w->handshakes++;
        handshake_end(&h);
        sasl_client_free(client);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int replacements = argc > 1 ? atoi(argv[1]) : 100;
    worker workers[THREADS];
    pthread_t threads[THREADS];
    fixture_init();
    /* none: keeps valgrind away from MIT's replay cache lock, too. */
    kerbsasl_server *server = default_server("replay_cache", "none:", NULL);
    sink *current = new_sink();
    check_result("install the first callback",
                 kerbsasl_set_log_callback(on_log, current, KERBSASL_LOG_DEBUG), KERBSASL_OK,
                 kerbsasl_last_error(), NULL);
    memset(workers, 0, sizeof workers);
    for (int i = 0; i < THREADS; i++) {
        workers[i].server = server;
        fixture_kinit("alice", workers[i].ccache, sizeof workers[i].ccache);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_create(&threads[i], NULL, run_worker, &workers[i]);

    int refused = 0;
    for (int i = 0; i < replacements; i++) {
        pause_us(1000);
        sink *next = new_sink();
        refused += kerbsasl_set_log_callback(on_log, next, KERBSASL_LOG_DEBUG) != KERBSASL_OK;
        retire(current);
        current = next;
    }
    pause_us(1000);
    refused += kerbsasl_set_log_callback(NULL, NULL, KERBSASL_LOG_OFF) != KERBSASL_OK;
    retire(current);
    /* Handshakes go on with no callback: nothing may reach the freed one. */
    pause_us(20000);

    atomic_store(&stop, 1);
    int handshakes = 0, failed = 0;
    const char *first_failure = "";
    for (int i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
        handshakes += workers[i].handshakes;
        failed += workers[i].failed;
        if (workers[i].failed > 0 && first_failure[0] == '\0')
            first_failure = workers[i].first_failure;
    }
    kerbsasl_server_free(server);

    check(refused == 0, "every replacement returned KERBSASL_OK", "%d did not", refused);
    check(failed == 0, "handshakes during the replacements succeed", "%d of %d failed, first: %s",
          failed, handshakes, first_failure);
    check(atomic_load(&calls_total) > 0, "records reached the callbacks while they were replaced",
          "no call in %d handshakes", handshakes);
    check(atomic_load(&late_calls) == 0, "no callback call after its replacement returned",
          "%lu late calls", atomic_load(&late_calls));
    return check_exit_status();
}

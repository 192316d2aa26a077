/*
 * One server shared by 8 threads, each running many whole handshakes
 * (argv[1], default 200) while a log callback receives records from all
 * of them; and a session that moves between threads.
 *
 * Usage: test_threads [HANDSHAKES_PER_THREAD [REPLAY_CACHE]]
 * REPLAY_CACHE (default: the server's default) is the replay_cache option
 * of the shared server: c-tests/run passes none: under valgrind, whose
 * 3.19 does not treat fcntl(F_OFD_SETLKW) as blocking and deadlocks when
 * threads contend for MIT's replay cache lock.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fixture.h"

#define THREADS 8

typedef struct {
    const kerbsasl_server *server;
    int handshakes;
    int succeeded;
    char first_failure[1100];
} worker;

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long authenticated_records;
static int wrong_userdata;

/* Counts the per-handshake DEBUG records; called on every worker thread. */
static void on_log(void *userdata, uint32_t level, const char *target, const char *message)
{
    (void)target;
    pthread_mutex_lock(&log_lock);
    if (userdata != &authenticated_records)
        wrong_userdata = 1;
    if (level == KERBSASL_LOG_DEBUG && strstr(message, "authenticated alice@") != NULL)
        authenticated_records++;
    pthread_mutex_unlock(&log_lock);
}

/* One handshake; returns 1 on OK with username "alice", else records why. */
static int one_handshake(worker *w)
{
    char err[512];
    handshake h;
    gss_test_client *client =
        gss_test_client_new(NULL, fixture_service(), 1, NULL, err, sizeof err);
    if (client == NULL) {
        if (w->first_failure[0] == '\0')
            snprintf(w->first_failure, sizeof w->first_failure, "client: %s", err);
        return 0;
    }
    handshake_run(&h, w->server, client);
    const char *username = h.code == KERBSASL_OK ? kerbsasl_session_username(h.session) : NULL;
    int ok = h.code == KERBSASL_OK && username != NULL && strcmp(username, "alice") == 0;
    if (!ok && w->first_failure[0] == '\0')
        snprintf(w->first_failure, sizeof w->first_failure, "%s, username %s: %s",
                 result_name(h.code), username ? username : "(NULL)", h.message);
    handshake_end(&h);
    gss_test_client_free(client);
    return ok;
}

static void *run_worker(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < w->handshakes; i++)
        w->succeeded += one_handshake(w);
    return NULL;
}

static void shared_server(int per_thread, const char *replay_cache)
{
    worker workers[THREADS];
    pthread_t threads[THREADS];
    kerbsasl_server *server =
        replay_cache ? default_server("strip_realm", "true", "replay_cache", replay_cache, NULL)
                     : default_server("strip_realm", "true", NULL);
    kerbsasl_set_log_callback(on_log, &authenticated_records, KERBSASL_LOG_DEBUG);
    for (int i = 0; i < THREADS; i++) {
        workers[i] = (worker){.server = server, .handshakes = per_thread};
        if (pthread_create(&threads[i], NULL, run_worker, &workers[i]) != 0)
            check_fatal("fixture", "pthread_create failed");
    }
    int succeeded = 0;
    const char *failure = "";
    for (int i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
        succeeded += workers[i].succeeded;
        if (failure[0] == '\0')
            failure = workers[i].first_failure;
    }
    kerbsasl_set_log_callback(NULL, NULL, KERBSASL_LOG_OFF);
    kerbsasl_server_free(server);
    char name[192];
    snprintf(name, sizeof name,
             "%d threads x %d handshakes on one server (replay cache %s): all OK as alice",
             THREADS, per_thread, replay_cache ? replay_cache : "default");
    check(succeeded == THREADS * per_thread, name, "%d of %d succeeded; first failure: %s",
          succeeded, THREADS * per_thread, failure);
    check(authenticated_records == (unsigned long)succeeded && !wrong_userdata,
          "log callback on 8 threads: one record per handshake, right userdata",
          "%lu records for %d handshakes%s", authenticated_records, succeeded,
          wrong_userdata ? ", wrong userdata seen" : "");
}

typedef struct {
    kerbsasl_session *session;
    gss_test_client *client;
    const uint8_t *out;
    size_t out_len;
    kerbsasl_result code;
} moving_session;

/* Finishes on this thread a session that another thread started. */
static void *finish_elsewhere(void *arg)
{
    moving_session *m = arg;
    while (m->code == KERBSASL_CONTINUE) {
        size_t len;
        uint8_t *reply = client_respond(m->client, m->out, m->out_len, &len);
        m->code = kerbsasl_server_step(m->session, reply, len, &m->out, &m->out_len);
        free(reply);
    }
    return NULL;
}

static void session_moves_between_threads(void)
{
    kerbsasl_server *server = default_server(NULL);
    moving_session m = {.client = client_new(NULL, fixture_service(), 1, NULL)};
    size_t len;
    uint8_t *token = client_initial(m.client, &len);
    m.code = kerbsasl_server_start(server, token, len, &m.session, &m.out, &m.out_len);
    free(token);
    pthread_t thread;
    if (pthread_create(&thread, NULL, finish_elsewhere, &m) != 0)
        check_fatal("fixture", "pthread_create failed");
    pthread_join(thread, NULL);
    check_result("session started on one thread, finished on another", m.code, KERBSASL_OK,
                 kerbsasl_session_error(m.session), NULL);
    check_string("moved session: principal", kerbsasl_session_principal(m.session),
                 "alice@KERBSASL.TEST");
    kerbsasl_dispose(m.session);
    gss_test_client_free(m.client);
    kerbsasl_server_free(server);
}

int main(int argc, char **argv)
{
    fixture_init();
    int per_thread = argc > 1 ? atoi(argv[1]) : 200;
    if (per_thread <= 0)
        check_fatal("usage", "test_threads [HANDSHAKES_PER_THREAD > 0]");
    /* Get alice's service ticket once, so the workers don't all ask the
     * KDC for it and rewrite the ccache at the same moment. */
    gss_test_client *warm = client_new(NULL, fixture_service(), 1, NULL);
    size_t len;
    free(client_initial(warm, &len));
    gss_test_client_free(warm);
    shared_server(per_thread, argc > 2 ? argv[2] : NULL);
    session_moves_between_threads();
    return check_exit_status();
}

/*
 * kerbsasl_set_log_callback: records reach the callback with its userdata
 * and level, the level filters them, and NULL (or level 0) stops them.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fixture.h"

#define MAX_RECORDS 64

/* Copies of what the callback received: its arguments die with the call. */
typedef struct {
    void *userdata;
    uint32_t level;
    char target[128];
    char message[512];
} record;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static record records[MAX_RECORDS];
static size_t count, dropped;

static void on_log(void *userdata, uint32_t level, const char *target, const char *message)
{
    pthread_mutex_lock(&lock);
    if (count < MAX_RECORDS) {
        record *r = &records[count++];
        r->userdata = userdata;
        r->level = level;
        snprintf(r->target, sizeof r->target, "%s", target ? target : "(NULL)");
        snprintf(r->message, sizeof r->message, "%s", message ? message : "(NULL)");
    } else {
        dropped++;
    }
    pthread_mutex_unlock(&lock);
}

static void forget_records(void)
{
    pthread_mutex_lock(&lock);
    count = dropped = 0;
    pthread_mutex_unlock(&lock);
}

/* The first record whose message contains `text`, or NULL. */
static const record *find(const char *text)
{
    for (size_t i = 0; i < count; i++)
        if (strstr(records[i].message, text) != NULL)
            return &records[i];
    return NULL;
}

/* The number of records more verbose than `level`. */
static size_t above(uint32_t level)
{
    size_t n = 0;
    for (size_t i = 0; i < count; i++)
        n += records[i].level > level;
    return n;
}

/* A record with `text` arrived, at `level`, with `userdata`, from a
 * kerbsasl module. */
static void check_record(const char *name, const char *text, uint32_t level, void *userdata)
{
    const record *r = find(text);
    if (!check(r != NULL, name, "no record contains \"%s\" (%zu records)", text, count))
        return;
    char label[256];
    snprintf(label, sizeof label, "%s: level, userdata and target", name);
    check(r->level == level && r->userdata == userdata && strncmp(r->target, "kerbsasl", 8) == 0,
          label, "level %u (want %u), userdata %p (want %p), target \"%s\"", (unsigned)r->level,
          (unsigned)level, r->userdata, userdata, r->target);
}

/* Creates a server with replay_cache none:, which kerbsasl warns about. */
static kerbsasl_server *noisy_server(void)
{
    return default_server("replay_cache", "none:", NULL);
}

static void run_handshake(const kerbsasl_server *server, uint32_t want)
{
    handshake h;
    gss_test_client *client = client_new(NULL, fixture_service(), 1, NULL);
    handshake_run(&h, server, client);
    if (h.code != want)
        check(0, "fixture handshake", "%s: %s", result_name(h.code), h.message);
    handshake_end(&h);
    gss_test_client_free(client);
}

static void records_arrive(void *userdata)
{
    kerbsasl_result code = kerbsasl_set_log_callback(on_log, userdata, KERBSASL_LOG_DEBUG);
    check_result("set_log_callback at DEBUG", code, KERBSASL_OK, kerbsasl_last_error(), NULL);
    kerbsasl_server *server = noisy_server();
    check_record("WARN: replay cache off", "replay detection is off", KERBSASL_LOG_WARN,
                 userdata);
    check_record("INFO: server ready", "kerbsasl server ready", KERBSASL_LOG_INFO, userdata);
    run_handshake(server, KERBSASL_OK);
    check_record("DEBUG: handshake outcome", "authenticated alice@KERBSASL.TEST",
                 KERBSASL_LOG_DEBUG, userdata);
    /* A failed handshake is logged too. */
    const uint8_t *out;
    size_t out_len, len;
    gss_test_client *client = client_new(NULL, fixture_service(), 1, NULL);
    uint8_t *token = client_initial(client, &len);
    kerbsasl_session *session = NULL;
    if (kerbsasl_server_start(server, token, len, &session, &out, &out_len) ==
        KERBSASL_CONTINUE)
        kerbsasl_server_step(session, (const uint8_t *)"junk", 4, &out, &out_len);
    check_record("DEBUG: failed handshake", "handshake failed", KERBSASL_LOG_DEBUG, userdata);
    free(token);
    kerbsasl_dispose(session);
    gss_test_client_free(client);
    kerbsasl_server_free(server);
    check(dropped == 0, "records fit the test's buffer", "%zu dropped", dropped);
}

static void level_filters(void *userdata)
{
    forget_records();
    kerbsasl_result code = kerbsasl_set_log_callback(on_log, userdata, KERBSASL_LOG_WARN);
    check_result("set_log_callback at WARN", code, KERBSASL_OK, kerbsasl_last_error(), NULL);
    kerbsasl_server *server = noisy_server();
    run_handshake(server, KERBSASL_OK);
    kerbsasl_server_free(server);
    check_record("WARN level: warnings arrive with the new userdata", "replay detection is off",
                 KERBSASL_LOG_WARN, userdata);
    check(above(KERBSASL_LOG_WARN) == 0, "WARN level: no INFO or DEBUG records",
          "%zu arrived", above(KERBSASL_LOG_WARN));
}

/* After this setting, a warning-worthy server and a handshake log nothing. */
static void expect_silence(const char *name, kerbsasl_log_callback callback, void *userdata,
                           uint32_t level)
{
    forget_records();
    kerbsasl_result code = kerbsasl_set_log_callback(callback, userdata, level);
    char label[128];
    snprintf(label, sizeof label, "%s: set_log_callback", name);
    check_result(label, code, KERBSASL_OK, kerbsasl_last_error(), NULL);
    kerbsasl_server *server = noisy_server();
    run_handshake(server, KERBSASL_OK);
    kerbsasl_server_free(server);
    snprintf(label, sizeof label, "%s: no records", name);
    check(count == 0, label, "%zu arrived, first: %s", count, count ? records[0].message : "");
}

int main(void)
{
    static int first_owner, second_owner;
    fixture_init();
    records_arrive(&first_owner);
    level_filters(&second_owner);
    expect_silence("level OFF", on_log, &second_owner, KERBSASL_LOG_OFF);
    expect_silence("NULL callback", NULL, NULL, KERBSASL_LOG_TRACE);
    return check_exit_status();
}

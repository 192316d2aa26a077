/*
 * The C ABI's edges: NULL for every pointer parameter of every function,
 * out-parameters on failure, the thread-local last error, result names
 * and the version.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fixture.h"

/* A value kerbsasl must overwrite with NULL, or leave alone. */
static char sentinel;
#define SENTINEL_SERVER ((kerbsasl_server *)(void *)&sentinel)
#define SENTINEL_SESSION ((kerbsasl_session *)(void *)&sentinel)

/* Checks an INVALID_ARGUMENT result and that the message names the
 * function and the parameter. */
static void check_invalid(const char *name, kerbsasl_result code, const char *function,
                          const char *parameter)
{
    check_result(name, code, KERBSASL_INVALID_ARGUMENT, kerbsasl_last_error(), function,
                 parameter, NULL);
}

static void server_new_arguments(void)
{
    const char *keys[] = {"principal", NULL};
    const char *values[] = {"*", NULL};
    const char *null_values[] = {NULL};
    kerbsasl_server *server = SENTINEL_SERVER;
    kerbsasl_result code = kerbsasl_server_new(NULL, values, 1, &server);
    check_invalid("server_new: keys NULL", code, "kerbsasl_server_new", "keys or values is NULL");
    check(server == NULL, "server_new: *server_out NULL after a failure", "%p", (void *)server);
    code = kerbsasl_server_new(keys, NULL, 1, &server);
    check_invalid("server_new: values NULL", code, "kerbsasl_server_new",
                  "keys or values is NULL");
    code = kerbsasl_server_new(keys + 1, values, 1, &server);
    check_invalid("server_new: keys[0] NULL", code, "kerbsasl_server_new", "keys[0]");
    code = kerbsasl_server_new(keys, null_values, 1, &server);
    check_invalid("server_new: values[0] NULL", code, "kerbsasl_server_new", "values[0]");
    code = kerbsasl_server_new(keys, values, 1, NULL);
    check_invalid("server_new: server_out NULL", code, "kerbsasl_server_new", "server_out");

    /* count 0 allows NULL arrays: every option at its default, which in
     * the realm means any principal in KRB5_KTNAME's keytab. */
    server = SENTINEL_SERVER;
    code = kerbsasl_server_new(NULL, NULL, 0, &server);
    check_result("server_new: NULL arrays with count 0", code, KERBSASL_OK,
                 kerbsasl_last_error(), NULL);
    check(server != NULL && server != SENTINEL_SERVER, "server_new: count 0 gives a server",
          "%p", (void *)server);
    if (server != SENTINEL_SERVER)
        kerbsasl_server_free(server);
}

static void server_start_arguments(const kerbsasl_server *server)
{
    static const uint8_t token[1] = {0x60};
    kerbsasl_session *session = SENTINEL_SESSION;
    const uint8_t *out = NULL;
    size_t out_len = 0;
    const char *f = "kerbsasl_server_start";
    kerbsasl_result code = kerbsasl_server_start(NULL, token, 1, &session, &out, &out_len);
    check_invalid("server_start: server NULL", code, f, "server is NULL");
    check(session == NULL, "server_start: *session_out NULL after a failure", "%p",
          (void *)session);
    code = kerbsasl_server_start(server, NULL, 1, &session, &out, &out_len);
    check_invalid("server_start: input NULL with input_len 1", code, f, "input is NULL");
    code = kerbsasl_server_start(server, token, 1, NULL, &out, &out_len);
    check_invalid("server_start: session_out NULL", code, f, "session_out is NULL");
    session = SENTINEL_SESSION;
    code = kerbsasl_server_start(server, token, 1, &session, NULL, &out_len);
    check_invalid("server_start: output NULL", code, f, "output or output_len is NULL");
    check(session == NULL, "server_start: *session_out NULL when output is NULL", "%p",
          (void *)session);
    code = kerbsasl_server_start(server, token, 1, &session, &out, NULL);
    check_invalid("server_start: output_len NULL", code, f, "output or output_len is NULL");
    /* NULL input of length 0 is an empty token, not an argument error. */
    code = kerbsasl_server_start(server, NULL, 0, &session, &out, &out_len);
    check_result("server_start: NULL input of length 0 is an empty token", code,
                 KERBSASL_BAD_TOKEN, kerbsasl_last_error(), "empty initial token", NULL);
}

/* NULL arguments to kerbsasl_server_step must leave a live session as it
 * was: the handshake still completes afterwards. */
static void server_step_arguments(const kerbsasl_server *server)
{
    const char *f = "kerbsasl_server_step";
    const uint8_t *out = NULL;
    size_t out_len = 0, len;
    kerbsasl_result code = kerbsasl_server_step(NULL, NULL, 0, &out, &out_len);
    check_invalid("server_step: session NULL", code, f, "session is NULL");

    gss_test_client *client = client_new(NULL, fixture_service(), 1, NULL);
    kerbsasl_session *session = NULL;
    uint8_t *token = client_initial(client, &len);
    code = kerbsasl_server_start(server, token, len, &session, &out, &out_len);
    free(token);
    if (!check_result("server_step: start a session", code, KERBSASL_CONTINUE,
                      kerbsasl_last_error(), NULL)) {
        gss_test_client_free(client);
        return;
    }
    uint8_t *reply = client_respond(client, out, out_len, &len); /* empty */
    static const uint8_t byte = 0;
    code = kerbsasl_server_step(session, NULL, 1, &out, &out_len);
    check_invalid("server_step: input NULL with input_len 1", code, f, "input is NULL");
    code = kerbsasl_server_step(session, &byte, 0, NULL, &out_len);
    check_invalid("server_step: output NULL", code, f, "output or output_len is NULL");
    code = kerbsasl_server_step(session, &byte, 0, &out, NULL);
    check_invalid("server_step: output_len NULL", code, f, "output or output_len is NULL");
    check_string("server_step: argument errors are not session errors",
                 kerbsasl_session_error(session), NULL);
    /* NULL input of length 0 is the empty reply the AP-REP needs. */
    code = kerbsasl_server_step(session, NULL, 0, &out, &out_len);
    free(reply);
    check_result("server_step: NULL input of length 0 is an empty reply", code,
                 KERBSASL_CONTINUE, kerbsasl_session_error(session), NULL);
    if (code == KERBSASL_CONTINUE) {
        reply = client_respond(client, out, out_len, &len);
        code = kerbsasl_server_step(session, reply, len, &out, &out_len);
        free(reply);
        check_result("server_step: the session completes after argument errors", code,
                     KERBSASL_OK, kerbsasl_session_error(session), NULL);
    }
    kerbsasl_dispose(session);
    gss_test_client_free(client);
}

/* Functions that take only a session or server: NULL is harmless. */
static void null_handles(void)
{
    check_string("session_principal(NULL) is NULL", kerbsasl_session_principal(NULL), NULL);
    check_string("session_username(NULL) is NULL", kerbsasl_session_username(NULL), NULL);
    check_string("session_realm(NULL) is NULL", kerbsasl_session_realm(NULL), NULL);
    check_string("session_authzid(NULL) is NULL", kerbsasl_session_authzid(NULL), NULL);
    check_string("session_error(NULL) is NULL", kerbsasl_session_error(NULL), NULL);
    kerbsasl_dispose(NULL);
    check(1, "dispose(NULL) returns", "crashed");
    kerbsasl_server_free(NULL);
    check(1, "server_free(NULL) returns", "crashed");
}

static void log_callback_arguments(void)
{
    /* NULL callback and userdata: logging off, which is fine. */
    kerbsasl_result code = kerbsasl_set_log_callback(NULL, NULL, KERBSASL_LOG_TRACE);
    check_result("set_log_callback(NULL, NULL, 5)", code, KERBSASL_OK, kerbsasl_last_error(),
                 NULL);
    code = kerbsasl_set_log_callback(NULL, NULL, 6);
    check_invalid("set_log_callback: level 6", code, "kerbsasl_set_log_callback", "max_level");
}

static void names_and_version(void)
{
    static const char *const names[] = {
        "KERBSASL_OK",          "KERBSASL_CONTINUE", "KERBSASL_BAD_TOKEN",
        "KERBSASL_AUTH_FAILED", "KERBSASL_AUTHZ_DENIED", "KERBSASL_CONFIG",
        "KERBSASL_BAD_STATE",   "KERBSASL_INVALID_ARGUMENT", "KERBSASL_INTERNAL",
    };
    int right = 1;
    for (uint32_t code = 0; code <= KERBSASL_INTERNAL; code++)
        right = right && strcmp(kerbsasl_result_str(code), names[code]) == 0;
    check(right, "result_str names every code", "a name differs");
    check_string("result_str of an unknown code", kerbsasl_result_str(4000),
                 "KERBSASL_UNKNOWN_RESULT");
    check_string("result_str of UINT32_MAX", kerbsasl_result_str(UINT32_MAX),
                 "KERBSASL_UNKNOWN_RESULT");
    check_string("version matches the header", kerbsasl_version(), KERBSASL_VERSION_STRING);
}

/* A thread's last error is its own: NULL until one of its calls fails. */
static void *fresh_thread(void *arg)
{
    const char **seen = arg;
    seen[0] = kerbsasl_last_error();
    kerbsasl_server_new(NULL, NULL, 0, NULL);
    const char *error = kerbsasl_last_error();
    /* Summarised: the text belongs to this thread and dies with it. */
    seen[1] = error && strstr(error, "server_out") ? "server_out" : "other";
    return NULL;
}

static void last_error_per_thread(void)
{
    kerbsasl_server *server = NULL;
    kerbsasl_result code = server_new(&server, "colour", "blue", NULL);
    check_result("last error: a failure on this thread", code, KERBSASL_CONFIG,
                 kerbsasl_last_error(), "\"colour\"", NULL);
    const char *seen[2] = {"unset", "unset"};
    pthread_t thread;
    if (pthread_create(&thread, NULL, fresh_thread, seen) != 0)
        check_fatal("fixture", "pthread_create failed");
    pthread_join(thread, NULL);
    check_string("last error: NULL on a fresh thread", seen[0], NULL);
    check_string("last error: the other thread sees its own failure", seen[1], "server_out");
    check_result("last error: this thread's error is unchanged", KERBSASL_CONFIG,
                 KERBSASL_CONFIG, kerbsasl_last_error(), "\"colour\"", NULL);
}

int main(void)
{
    fixture_init();
    kerbsasl_server *server = default_server(NULL);
    server_new_arguments();
    server_start_arguments(server);
    server_step_arguments(server);
    null_handles();
    log_callback_arguments();
    names_and_version();
    last_error_per_thread();
    kerbsasl_server_free(server);
    return check_exit_status();
}

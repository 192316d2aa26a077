/*
 * A soak: many handshakes (argv[1], default 10,000) on one server, cycling
 * through a success and every failure kind a client can cause, including
 * sessions abandoned mid-handshake. c-tests/run runs it under ASan and
 * under valgrind, where any leak or memory error fails the run.
 *
 * Usage: test_soak [HANDSHAKES]
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fixture.h"

/* What one kind of client does, and the result the server must give. */
typedef struct {
    const char *name;
    uint32_t expected;
    uint32_t (*run)(const kerbsasl_server *server);
    int count;
    int wrong;
    char first_wrong[600];
} kind;

static char other_service[256];

/* Starts a session with `token`; returns the code, disposing on failure. */
static uint32_t start(const kerbsasl_server *server, const uint8_t *token, size_t len,
                      kerbsasl_session **session, const uint8_t **out, size_t *out_len)
{
    return kerbsasl_server_start(server, token, len, session, out, out_len);
}

/* A client's initial token for `target`, and the client (freed by caller). */
static uint8_t *initial(const char *target, const char *authzid, gss_test_client **client,
                        size_t *len)
{
    *client = client_new(NULL, target, 1, authzid);
    return client_initial(*client, len);
}

static uint32_t whole(const kerbsasl_server *server, const char *target, const char *authzid)
{
    handshake h;
    gss_test_client *client = client_new(NULL, target, 1, authzid);
    handshake_run(&h, server, client);
    uint32_t code = h.code;
    if (code == KERBSASL_OK && kerbsasl_session_username(h.session) == NULL)
        code = KERBSASL_INTERNAL;
    handshake_end(&h);
    gss_test_client_free(client);
    return code;
}

static uint32_t success(const kerbsasl_server *s) { return whole(s, fixture_service(), NULL); }

static uint32_t own_authzid(const kerbsasl_server *s)
{
    char own[256];
    snprintf(own, sizeof own, "alice@%s", fixture_realm());
    return whole(s, fixture_service(), own);
}

static uint32_t other_authzid(const kerbsasl_server *s) { return whole(s, fixture_service(), "bob"); }

static uint32_t wrong_service(const kerbsasl_server *s) { return whole(s, other_service, NULL); }

/* Runs the initial token through `mangle` before starting. */
static uint32_t mangled_start(const kerbsasl_server *server, size_t (*mangle)(uint8_t *, size_t))
{
    gss_test_client *client;
    size_t len, out_len;
    uint8_t *token = initial(fixture_service(), NULL, &client, &len);
    len = mangle(token, len);
    kerbsasl_session *session;
    const uint8_t *out;
    uint32_t code = start(server, token, len, &session, &out, &out_len);
    kerbsasl_dispose(session);
    free(token);
    gss_test_client_free(client);
    return code;
}

static size_t truncate_token(uint8_t *token, size_t len) { (void)token; return len / 2; }
static size_t empty_token(uint8_t *token, size_t len) { (void)token; (void)len; return 0; }

static size_t garble_token(uint8_t *token, size_t len)
{
    for (size_t i = 0; i < len; i++)
        token[i] = (uint8_t)(token[i] * 31u + 7u);
    return len;
}

static uint32_t truncated(const kerbsasl_server *s) { return mangled_start(s, truncate_token); }
static uint32_t empty(const kerbsasl_server *s) { return mangled_start(s, empty_token); }
static uint32_t garbage(const kerbsasl_server *s) { return mangled_start(s, garble_token); }

static uint32_t replay(const kerbsasl_server *server)
{
    gss_test_client *client;
    size_t len, out_len;
    uint8_t *token = initial(fixture_service(), NULL, &client, &len);
    kerbsasl_session *first, *second;
    const uint8_t *out;
    uint32_t code = start(server, token, len, &first, &out, &out_len);
    if (code == KERBSASL_CONTINUE)
        code = start(server, token, len, &second, &out, &out_len);
    else
        code = KERBSASL_INTERNAL;
    kerbsasl_dispose(first);
    free(token);
    gss_test_client_free(client);
    return code;
}

/* Runs to the server's offer, then sends `reply` (or the client's wrap of
 * `plain` when reply is NULL), or abandons the session when both are NULL.
 * after_ap_rep sends `reply` in place of the client's empty answer. */
static uint32_t at_offer(const kerbsasl_server *server, const uint8_t *reply, size_t reply_len,
                         const uint8_t *plain, size_t plain_len, int after_ap_rep)
{
    gss_test_client *client;
    size_t len, out_len, wrapped_len;
    uint8_t *token = initial(fixture_service(), NULL, &client, &len);
    kerbsasl_session *session;
    const uint8_t *out;
    uint32_t code = start(server, token, len, &session, &out, &out_len);
    free(token);
    if (code == KERBSASL_CONTINUE && after_ap_rep) {
        code = kerbsasl_server_step(session, reply, reply_len, &out, &out_len);
        /* A failed session answers every later step with BAD_STATE. */
        if (kerbsasl_server_step(session, NULL, 0, &out, &out_len) != KERBSASL_BAD_STATE)
            code = KERBSASL_INTERNAL;
    } else if (code == KERBSASL_CONTINUE) {
        free(client_respond(client, out, out_len, &len));
        code = kerbsasl_server_step(session, NULL, 0, &out, &out_len);
        if (code == KERBSASL_CONTINUE && (reply != NULL || plain != NULL)) {
            uint8_t *wrapped = plain ? client_wrap(client, plain, plain_len, &wrapped_len) : NULL;
            code = kerbsasl_server_step(session, wrapped ? wrapped : reply,
                                        wrapped ? wrapped_len : reply_len, &out, &out_len);
            free(wrapped);
        }
    }
    kerbsasl_dispose(session);
    gss_test_client_free(client);
    return code;
}

static uint32_t nonempty_after_ap_rep(const kerbsasl_server *s)
{
    return at_offer(s, (const uint8_t *)"x", 1, NULL, 0, 1);
}

static uint32_t bad_layer(const kerbsasl_server *s)
{
    return at_offer(s, NULL, 0, (const uint8_t *)"\x04\x00\x10\x00", 4, 0);
}

static uint32_t unwrapped_reply(const kerbsasl_server *s)
{
    return at_offer(s, (const uint8_t *)"\x01\x00\x00\x00", 4, NULL, 0, 0);
}

static uint32_t abandoned_at_offer(const kerbsasl_server *s)
{
    return at_offer(s, NULL, 0, NULL, 0, 0);
}

int main(int argc, char **argv)
{
    fixture_init();
    int total = argc > 1 ? atoi(argv[1]) : 10000;
    snprintf(other_service, sizeof other_service, "other/broker.kerbsasl.test@%s", fixture_realm());
    kind kinds[] = {
        {"success", KERBSASL_OK, success, 0, 0, ""},
        {"authzid equal to the principal", KERBSASL_OK, own_authzid, 0, 0, ""},
        {"authzid of another user", KERBSASL_AUTHZ_DENIED, other_authzid, 0, 0, ""},
        {"ticket for another service", KERBSASL_AUTH_FAILED, wrong_service, 0, 0, ""},
        {"replayed AP-REQ", KERBSASL_AUTH_FAILED, replay, 0, 0, ""},
        {"garbage token", KERBSASL_BAD_TOKEN, garbage, 0, 0, ""},
        {"truncated token", KERBSASL_BAD_TOKEN, truncated, 0, 0, ""},
        {"empty token", KERBSASL_BAD_TOKEN, empty, 0, 0, ""},
        {"non-empty reply after the AP-REP", KERBSASL_BAD_TOKEN, nonempty_after_ap_rep, 0, 0, ""},
        {"layer that was not offered", KERBSASL_BAD_TOKEN, bad_layer, 0, 0, ""},
        {"reply not wrapped by the session", KERBSASL_BAD_TOKEN, unwrapped_reply, 0, 0, ""},
        {"abandoned at the offer", KERBSASL_CONTINUE, abandoned_at_offer, 0, 0, ""},
    };
    size_t kind_count = sizeof kinds / sizeof kinds[0];
    kerbsasl_server *server = default_server(NULL);
    for (int i = 0; i < total; i++) {
        kind *k = &kinds[(size_t)i % kind_count];
        uint32_t code = k->run(server);
        k->count++;
        if (code != k->expected && k->wrong++ == 0)
            snprintf(k->first_wrong, sizeof k->first_wrong, "got %s", result_name(code));
    }
    kerbsasl_server_free(server);
    for (size_t i = 0; i < kind_count; i++) {
        char name[160];
        snprintf(name, sizeof name, "soak: %d x %s give %s", kinds[i].count, kinds[i].name,
                 result_name(kinds[i].expected));
        check(kinds[i].wrong == 0, name, "%d wrong, first: %s", kinds[i].wrong, kinds[i].first_wrong);
    }
    return check_exit_status();
}

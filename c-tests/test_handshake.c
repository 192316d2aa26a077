/*
 * Full handshakes with a real GSSAPI initiator: every principal form,
 * every username mapping, authzids, interleaved sessions, and sessions
 * that outlive their server.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fixture.h"

#define HOST "broker.kerbsasl.test"

static char alice[128]; /* "alice@KERBSASL.TEST" */

/* Runs a handshake to OK; reports a failure and returns 0 otherwise. */
static int handshake_ok(const char *name, handshake *h, const kerbsasl_server *server,
                        gss_test_client *client)
{
    handshake_run(h, server, client);
    if (check_result(name, h->code, KERBSASL_OK, h->message, NULL))
        return 1;
    handshake_end(h);
    return 0;
}

/* One turn: the client answers the server's last output, which `out`
 * then points at again. */
static kerbsasl_result turn(gss_test_client *client, kerbsasl_session *session,
                            const uint8_t **out, size_t *out_len)
{
    size_t len;
    uint8_t *reply = client_respond(client, *out, *out_len, &len);
    kerbsasl_result code = kerbsasl_server_step(session, reply, len, out, out_len);
    free(reply);
    return code;
}

/* Whether two strings from kerbsasl are equal, NULL counting as a value. */
static int same(const char *a, const char *b)
{
    return (a == NULL || b == NULL) ? a == b : strcmp(a, b) == 0;
}

#define SHOW(s) ((s) ? (s) : "(NULL)")

/* One check for all the identity strings of a finished session. */
static void check_identity(const char *name, const kerbsasl_session *session,
                           const char *principal, const char *username, const char *authzid)
{
    char label[256];
    const char *got[5] = {kerbsasl_session_principal(session), kerbsasl_session_username(session),
                          kerbsasl_session_realm(session), kerbsasl_session_authzid(session),
                          kerbsasl_session_error(session)};
    const char *want[5] = {principal, username, fixture_realm(), authzid, NULL};
    int equal = 1;
    for (int i = 0; i < 5; i++)
        equal = equal && same(got[i], want[i]);
    snprintf(label, sizeof label, "%s: identity", name);
    check(equal, label,
          "principal/username/realm/authzid/error are %s/%s/%s/%s/%s, want %s/%s/%s/%s/%s",
          SHOW(got[0]), SHOW(got[1]), SHOW(got[2]), SHOW(got[3]), SHOW(got[4]), SHOW(want[0]),
          SHOW(want[1]), SHOW(want[2]), SHOW(want[3]), SHOW(want[4]));
}

/* A handshake for `target` with alice's tickets on `server` must give
 * alice, mapped to `username`. */
static void expect_alice(const char *name, const kerbsasl_server *server, const char *target,
                         const char *authzid, const char *username)
{
    handshake h;
    gss_test_client *client = client_new(NULL, target, 1, authzid);
    if (handshake_ok(name, &h, server, client)) {
        check_identity(name, h.session, alice, username, authzid);
        handshake_end(&h);
    }
    gss_test_client_free(client);
}

/* Mutual auth: AP-REP, empty reply, offer, choice: three server calls,
 * with the outputs the header promises at each. */
static void three_turns_with_mutual_auth(void)
{
    kerbsasl_server *server = default_server(NULL);
    gss_test_client *client = client_new(NULL, fixture_service(), 1, NULL);
    kerbsasl_session *session = NULL;
    const uint8_t *out = NULL;
    size_t len, out_len = 0;
    uint8_t *token = client_initial(client, &len);
    kerbsasl_result code = kerbsasl_server_start(server, token, len, &session, &out, &out_len);
    free(token);
    if (!check_result("mutual auth: start continues with the AP-REP", code, KERBSASL_CONTINUE,
                      kerbsasl_last_error(), NULL))
        goto done;
    check(out != NULL && out_len > 0, "mutual auth: AP-REP is not empty", "%zu bytes", out_len);
    check_string("mutual auth: no principal before OK", kerbsasl_session_principal(session),
                 NULL);
    token = client_respond(client, out, out_len, &len);
    check(len == 0, "mutual auth: client answers the AP-REP with nothing", "%zu bytes", len);
    code = kerbsasl_server_step(session, token, len, &out, &out_len);
    free(token);
    if (!check_result("mutual auth: empty reply gets the offer", code, KERBSASL_CONTINUE,
                      kerbsasl_session_error(session), NULL))
        goto done;
    code = turn(client, session, &out, &out_len);
    check_result("mutual auth: the choice gets OK", code, KERBSASL_OK,
                 kerbsasl_session_error(session), NULL);
    check(out == NULL && out_len == 0, "mutual auth: OK has no output", "%p, %zu bytes",
          (const void *)out, out_len);
    check_identity("mutual auth", session, alice, alice, NULL);
done:
    kerbsasl_dispose(session);
    kerbsasl_server_free(server);
    gss_test_client_free(client);
}

/* Without mutual auth there is no AP-REP: the offer comes at once. */
static void offer_at_once_without_mutual_auth(void)
{
    handshake h;
    kerbsasl_server *server = default_server(NULL);
    gss_test_client *client = client_new(NULL, fixture_service(), 0, NULL);
    if (handshake_ok("no mutual auth: OK", &h, server, client)) {
        check(h.calls == 2, "no mutual auth: offer in the first turn (2 calls)", "%d calls",
              h.calls);
        check_identity("no mutual auth", h.session, alice, alice, NULL);
        handshake_end(&h);
    }
    gss_test_client_free(client);
    kerbsasl_server_free(server);
}

static void authzids(void)
{
    kerbsasl_server *server = default_server(NULL);
    expect_alice("no authzid", server, fixture_service(), NULL, alice);
    expect_alice("authzid = own principal", server, fixture_service(), alice, alice);
    kerbsasl_server_free(server);
    server = default_server("strip_realm", "true", NULL);
    expect_alice("authzid = own username (strip_realm)", server, fixture_service(), "alice",
                 "alice");
    kerbsasl_server_free(server);
    /* authzid = any reports the request; the username stays Kerberos'. */
    server = default_server("authzid", "any", NULL);
    expect_alice("authzid = any: bob reported, username alice", server, fixture_service(),
                 "bob", alice);
    kerbsasl_server_free(server);
}

/* The full, default-realm and host-based forms all accept the service. */
static void principal_forms(void)
{
    char keytab[512];
    fixture_path(keytab, sizeof keytab, "mqtt.keytab");
    const char *forms[][2] = {
        {"full principal form", "mqtt/" HOST "@KERBSASL.TEST"},
        {"default-realm form", "mqtt/" HOST},
        {"host-based form", "mqtt@" HOST},
    };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        kerbsasl_server *server = NULL;
        kerbsasl_result code =
            server_new(&server, "principal", forms[i][1], "keytab", keytab, NULL);
        char label[128];
        snprintf(label, sizeof label, "%s: server", forms[i][0]);
        if (check_result(label, code, KERBSASL_OK, kerbsasl_last_error(), NULL))
            expect_alice(forms[i][0], server, fixture_service(), NULL, alice);
        kerbsasl_server_free(server);
    }
    /* No keytab option: KRB5_KTNAME (set by the realm) is used. */
    kerbsasl_server *server = NULL;
    kerbsasl_result code = server_new(&server, "principal", fixture_service(), NULL);
    if (check_result("default keytab (KRB5_KTNAME): server", code, KERBSASL_OK,
                     kerbsasl_last_error(), NULL))
        expect_alice("default keytab (KRB5_KTNAME)", server, fixture_service(), NULL, alice);
    kerbsasl_server_free(server);
}

/* principal = "*" accepts tickets for every service in the keytab. */
static void any_principal_two_services(void)
{
    char keytab[512];
    const char *amqp = "amqp/" HOST "@KERBSASL.TEST";
    fixture_path(keytab, sizeof keytab, "c-two-services.keytab");
    fixture_kadmin("addprinc -randkey %s", amqp);
    fixture_kadmin("ktadd -norandkey -k %s %s", keytab, amqp);
    fixture_kadmin("ktadd -norandkey -k %s %s", keytab, fixture_service());
    kerbsasl_server *server = NULL;
    kerbsasl_result code = server_new(&server, "principal", "*", "keytab", keytab, NULL);
    if (check_result("principal *: server", code, KERBSASL_OK, kerbsasl_last_error(), NULL)) {
        expect_alice("principal *: first service (mqtt)", server, fixture_service(), NULL,
                     alice);
        expect_alice("principal *: second service (amqp)", server, amqp, NULL, alice);
    }
    kerbsasl_server_free(server);
}

static void username_mappings(void)
{
    kerbsasl_server *server = default_server("strip_realm", "yes", NULL);
    expect_alice("strip_realm", server, fixture_service(), NULL, "alice");
    kerbsasl_server_free(server);

    char listed[128];
    snprintf(listed, sizeof listed, "OTHER.TEST,%s", fixture_realm());
    server = default_server("allowed_realms", listed, NULL);
    expect_alice("allowed_realms lists the client's realm", server, fixture_service(), NULL,
                 alice);
    kerbsasl_server_free(server);

    /* krb5.conf: single-component names of the default realm map to
     * themselves, x/admin@KERBSASL.TEST maps to x. */
    server = default_server("auth_to_local", "true", NULL);
    expect_alice("auth_to_local: alice", server, fixture_service(), NULL, "alice");
    char ccache[600], principal[128];
    fixture_add_user("ops/admin");
    fixture_kinit("ops/admin", ccache, sizeof ccache);
    snprintf(principal, sizeof principal, "ops/admin@%s", fixture_realm());
    gss_test_client *client = client_new(ccache, fixture_service(), 1, NULL);
    handshake h;
    if (handshake_ok("auth_to_local: ops/admin", &h, server, client)) {
        check_identity("auth_to_local: ops/admin", h.session, principal, "ops", NULL);
        handshake_end(&h);
    }
    gss_test_client_free(client);
    kerbsasl_server_free(server);
}

/* Two sessions on one server, their turns interleaved. */
static void interleaved_sessions(void)
{
    kerbsasl_server *server = default_server(NULL);
    gss_test_client *clients[2];
    kerbsasl_session *sessions[2] = {NULL, NULL};
    const uint8_t *out[2];
    size_t out_len[2], len;
    kerbsasl_result codes[2];
    for (int i = 0; i < 2; i++) {
        clients[i] = client_new(NULL, fixture_service(), 1, i ? alice : NULL);
        uint8_t *token = client_initial(clients[i], &len);
        codes[i] = kerbsasl_server_start(server, token, len, &sessions[i], &out[i], &out_len[i]);
        free(token);
    }
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 2; i++) {
            if (codes[i] == KERBSASL_CONTINUE)
                codes[i] = turn(clients[i], sessions[i], &out[i], &out_len[i]);
        }
    }
    check_result("interleaved sessions: first", codes[0], KERBSASL_OK,
                 kerbsasl_session_error(sessions[0]), NULL);
    check_result("interleaved sessions: second", codes[1], KERBSASL_OK,
                 kerbsasl_session_error(sessions[1]), NULL);
    check_string("interleaved sessions: authzids stay apart",
                 kerbsasl_session_authzid(sessions[0]), NULL);
    check_string("interleaved sessions: second authzid", kerbsasl_session_authzid(sessions[1]),
                 alice);
    for (int i = 0; i < 2; i++) {
        kerbsasl_dispose(sessions[i]);
        gss_test_client_free(clients[i]);
    }
    kerbsasl_server_free(server);
}

/* Starts a session for `client` and takes it `turns` turns further. */
static kerbsasl_result start_and_advance(const kerbsasl_server *server, gss_test_client *client,
                                         int turns, kerbsasl_session **session,
                                         const uint8_t **out, size_t *out_len)
{
    size_t len;
    uint8_t *token = client_initial(client, &len);
    kerbsasl_result code = kerbsasl_server_start(server, token, len, session, out, out_len);
    free(token);
    for (; turns > 0 && code == KERBSASL_CONTINUE; turns--)
        code = turn(client, *session, out, out_len);
    return code;
}

/* kerbsasl_server_free with sessions open: each still completes, with
 * the freed server's configuration. */
static void server_freed_while_sessions_open(void)
{
    const char *names[2][2] = {
        {"server freed after start: session completes", "server freed after start: username"},
        {"server freed at the offer: session completes", "server freed at the offer: username"},
    };
    kerbsasl_server *server = default_server("strip_realm", "true", NULL);
    gss_test_client *clients[2];
    kerbsasl_session *sessions[2] = {NULL, NULL};
    kerbsasl_result codes[2];
    const uint8_t *out[2];
    size_t out_len[2];
    for (int i = 0; i < 2; i++) {
        clients[i] = client_new(NULL, fixture_service(), 1, NULL);
        codes[i] = start_and_advance(server, clients[i], i, &sessions[i], &out[i], &out_len[i]);
    }
    kerbsasl_server_free(server);
    for (int i = 0; i < 2; i++) {
        while (codes[i] == KERBSASL_CONTINUE)
            codes[i] = turn(clients[i], sessions[i], &out[i], &out_len[i]);
        check_result(names[i][0], codes[i], KERBSASL_OK, kerbsasl_session_error(sessions[i]),
                     NULL);
        check_string(names[i][1], kerbsasl_session_username(sessions[i]), "alice");
        kerbsasl_dispose(sessions[i]);
        gss_test_client_free(clients[i]);
    }
}

int main(void)
{
    fixture_init();
    snprintf(alice, sizeof alice, "alice@%s", fixture_realm());
    three_turns_with_mutual_auth();
    offer_at_once_without_mutual_auth();
    authzids();
    principal_forms();
    any_principal_two_services();
    username_mappings();
    interleaved_sessions();
    server_freed_while_sessions_open();
    return check_exit_status();
}

/*
 * Every failure a client or an operator can cause, through the C ABI:
 * each asserts its exact result code and words from the message that say
 * what happened (kerbsasl_last_error or kerbsasl_session_error).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fixture.h"

#define HOST "broker.kerbsasl.test"
#define OTHER_SERVICE "other/" HOST "@KERBSASL.TEST"

/* The message of the last start_fails() or step(), copied because the
 * arguments of check_result() are evaluated in no particular order. */
static char why[2048];

/* Failed starts that broke the header's promise (no session, outputs
 * untouched), and how many failed starts there were. */
static unsigned broken_starts, failed_starts;

/* Starts with `token`, expecting a failure. Returns the code; the session
 * must come back NULL and the outputs untouched. */
static uint32_t start_fails(const kerbsasl_server *server, const uint8_t *token, size_t len)
{
    static const uint8_t untouched_output[1] = {0};
    static char untouched_session;
    kerbsasl_session *session = (kerbsasl_session *)(void *)&untouched_session;
    const uint8_t *out = untouched_output;
    size_t out_len = 77;
    kerbsasl_result code = kerbsasl_server_start(server, token, len, &session, &out, &out_len);
    if (code == KERBSASL_OK || code == KERBSASL_CONTINUE) {
        snprintf(why, sizeof why, "(the start succeeded)");
        kerbsasl_dispose(session);
        return code;
    }
    failed_starts++;
    snprintf(why, sizeof why, "%s", kerbsasl_last_error() ? kerbsasl_last_error() : "(NULL)");
    if (session != NULL || out != untouched_output || out_len != 77)
        broken_starts++;
    return code;
}

/* Gets alice's initial token for `target` (malloc'd). */
static uint8_t *alice_token(const char *target, int mutual, size_t *len)
{
    gss_test_client *client = client_new(NULL, target, mutual, NULL);
    uint8_t *token = client_initial(client, len);
    gss_test_client_free(client);
    return token;
}

/* Starts a session with `token`, dropping the first output. */
static kerbsasl_result start(const kerbsasl_server *server, const uint8_t *token, size_t len,
                             kerbsasl_session **session)
{
    const uint8_t *out;
    size_t out_len;
    return kerbsasl_server_start(server, token, len, session, &out, &out_len);
}

/* Runs a whole handshake expecting a failure: returns its code and copies
 * its message to `message`. */
static uint32_t handshake_fails(const kerbsasl_server *server, gss_test_client *client,
                                char *message, size_t len)
{
    handshake h;
    handshake_run(&h, server, client);
    snprintf(message, len, "%s", h.message);
    handshake_end(&h);
    return h.code;
}

/* Takes a session with alice's `client` to the point where the client's
 * security-layer reply is due; NULL (and a failed check) otherwise. */
static kerbsasl_session *until_offer(const kerbsasl_server *server, gss_test_client *client,
                                     const char *name)
{
    kerbsasl_session *session = NULL;
    const uint8_t *out;
    size_t len, out_len;
    uint8_t *token = client_initial(client, &len);
    kerbsasl_result code = kerbsasl_server_start(server, token, len, &session, &out, &out_len);
    free(token);
    if (code == KERBSASL_CONTINUE) {
        token = client_respond(client, out, out_len, &len); /* AP-REP: empty reply */
        code = kerbsasl_server_step(session, token, len, &out, &out_len);
        free(token);
    }
    if (code == KERBSASL_CONTINUE) {
        /* The client reads the offer without answering: the test's own
         * reply must be its first wrap token, or the server sees a gap. */
        if (gss_test_client_read_offer(client, out, out_len) == 0)
            return session;
        check(0, name, "the client cannot read the offer: %s", gss_test_client_error(client));
        kerbsasl_dispose(session);
        return NULL;
    }
    check(0, name, "could not reach the offer: %s: %s", result_name(code),
          session ? kerbsasl_session_error(session) : kerbsasl_last_error());
    kerbsasl_dispose(session);
    return NULL;
}

/* Steps with `reply`; returns the code and copies the session error to `why`. */
static uint32_t step(kerbsasl_session *session, const uint8_t *reply, size_t len)
{
    const uint8_t *out;
    size_t out_len;
    kerbsasl_result code = kerbsasl_server_step(session, reply, len, &out, &out_len);
    const char *error = kerbsasl_session_error(session);
    snprintf(why, sizeof why, "%s", error ? error : "(NULL)");
    return code;
}

static void ticket_for_another_service(void)
{
    kerbsasl_server *server = default_server(NULL);
    size_t len;
    uint8_t *token = alice_token(OTHER_SERVICE, 1, &len);
    check_result("ticket for another service", start_fails(server, token, len),
                 KERBSASL_AUTH_FAILED, why, "Kerberos rejected the client",
                 OTHER_SERVICE, "different service", NULL);
    free(token);
    kerbsasl_server_free(server);

    /* principal = *: the keytab has no key for that service either. */
    char keytab[512];
    fixture_path(keytab, sizeof keytab, "mqtt.keytab");
    kerbsasl_server *any = NULL;
    if (server_new(&any, "principal", "*", "keytab", keytab, NULL) != KERBSASL_OK)
        check_fatal("fixture", "principal * server: %s", kerbsasl_last_error());
    token = alice_token(OTHER_SERVICE, 1, &len);
    check_result("principal * without the ticket's key", start_fails(any, token, len),
                 KERBSASL_AUTH_FAILED, why, OTHER_SERVICE, "Hint", NULL);
    free(token);
    kerbsasl_server_free(any);
}

/* Creating a server from `options` (key, value, ..., NULL) fails with
 * `want`, a message containing f1, f2 and f3 (a NULL ends them early),
 * and NULL in *server_out. */
static void server_fails(const char *name, uint32_t want, const char *const *options,
                         const char *f1, const char *f2, const char *f3)
{
    static char untouched;
    const char *keys[8], *values[8];
    size_t count = 0;
    for (; options[2 * count] != NULL && count < 8; count++) {
        keys[count] = options[2 * count];
        values[count] = options[2 * count + 1];
    }
    kerbsasl_server *server = (kerbsasl_server *)(void *)&untouched;
    kerbsasl_result code = kerbsasl_server_new(keys, values, count, &server);
    check_result(name, code, want, kerbsasl_last_error(), f1, f2, f3, NULL);
    char label[256];
    snprintf(label, sizeof label, "%s: *server_out is NULL", name);
    check(server == NULL, label, "it is %p", (void *)server);
    if (code == KERBSASL_OK)
        kerbsasl_server_free(server);
}

static void keytab_problems(void)
{
    char missing[512], keytab[512], empty[512];
    const char *service = fixture_service();
    fixture_path(missing, sizeof missing, "no-such.keytab");
    server_fails("missing keytab", KERBSASL_CONFIG,
                 (const char *[]){"principal", service, "keytab", missing, NULL}, missing,
                 service, "not found");

    fixture_path(keytab, sizeof keytab, "mqtt.keytab");
    server_fails("keytab without the principal", KERBSASL_CONFIG,
                 (const char *[]){"principal", OTHER_SERVICE, "keytab", keytab, NULL}, keytab,
                 OTHER_SERVICE, "it holds keys for: mqtt/broker.kerbsasl.test@KERBSASL.TEST");

    fixture_path(empty, sizeof empty, "c-empty.keytab");
    FILE *file = fopen(empty, "w");
    if (file == NULL)
        check_fatal("fixture", "cannot create %s", empty);
    fclose(file);
    server_fails("empty keytab file", KERBSASL_CONFIG,
                 (const char *[]){"principal", service, "keytab", empty, NULL}, empty, service,
                 "is an empty file");
}

static void config_problems(void)
{
    server_fails("unknown option", KERBSASL_CONFIG, (const char *[]){"keytab_path", "/x", NULL},
                 "\"keytab_path\"", "known options", "principal");
    server_fails("principal without a host", KERBSASL_CONFIG,
                 (const char *[]){"principal", "mqtt", NULL}, "\"mqtt\"",
                 "service/SERVER-FQDN@REALM.NAME", "service@SERVER-FQDN");
    server_fails("bad boolean", KERBSASL_CONFIG, (const char *[]){"strip_realm", "maybe", NULL},
                 "\"strip_realm\"", "\"maybe\"", "true or false");
    server_fails("two username mappings", KERBSASL_CONFIG,
                 (const char *[]){"strip_realm", "true", "auth_to_local", "true", NULL},
                 "strip_realm", "auth_to_local", "only one");
    server_fails("repeated option", KERBSASL_CONFIG,
                 (const char *[]){"authzid", "match", "authzid", "match", NULL}, "\"authzid\"",
                 "more than once", NULL);
}

/* Rewrites a GSSAPI token's outer DER length (the 0x82 two-byte form)
 * after cutting its end: a consistently framed but truncated AP-REQ. */
static int reframe(uint8_t *token, size_t len)
{
    if (len < 4 || token[0] != 0x60 || token[1] != 0x82)
        return 0;
    size_t body = len - 4;
    token[2] = (uint8_t)(body >> 8);
    token[3] = (uint8_t)body;
    return 1;
}

static void malformed_tokens(void)
{
    kerbsasl_server *server = default_server(NULL);
    uint8_t garbage[300], framed[160];
    for (size_t i = 0; i < sizeof garbage; i++)
        garbage[i] = (uint8_t)(i * 7919 % 251);
    check_result("garbage token", start_fails(server, garbage, sizeof garbage),
                 KERBSASL_BAD_TOKEN, why, "not a GSSAPI token", NULL);

    /* Right framing around garbage gets as far as MIT's parser. */
    static const uint8_t header[16] = {0x60, 0x81, 0x9d, 0x06, 0x09, 0x2a, 0x86, 0x48,
                                       0x86, 0xf7, 0x12, 0x01, 0x02, 0x02, 0x01, 0x00};
    memcpy(framed, header, sizeof header);
    memcpy(framed + sizeof header, garbage, sizeof framed - sizeof header);
    framed[2] = (uint8_t)(sizeof framed - 3);
    check_result("framed garbage token", start_fails(server, framed, sizeof framed),
                 KERBSASL_BAD_TOKEN, why, "malformed Kerberos token", NULL);

    static const uint8_t ntlm[] = "NTLMSSP\0\x01\0\0\0";
    check_result("NTLM token", start_fails(server, ntlm, sizeof ntlm - 1), KERBSASL_BAD_TOKEN,
                 why, "NTLM", "only Kerberos V5", NULL);
    kerbsasl_server_free(server);
}

static void truncated_tokens(void)
{
    kerbsasl_server *server = default_server(NULL);
    size_t len;
    uint8_t *token = alice_token(fixture_service(), 1, &len);
    check_result("truncated token (last byte cut)", start_fails(server, token, len - 1),
                 KERBSASL_BAD_TOKEN, why, "truncated", NULL);
    size_t cuts[] = {1, 2, 10, len / 2};
    unsigned wrong = 0;
    char detail[1024] = "";
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        uint32_t code = start_fails(server, token, cuts[i]);
        if (code != KERBSASL_BAD_TOKEN && wrong++ == 0)
            snprintf(detail, sizeof detail, "cut at %zu: %s: %s", cuts[i], result_name(code),
                     kerbsasl_last_error());
    }
    check(wrong == 0, "truncated tokens (1, 2, 10, half): KERBSASL_BAD_TOKEN", "%s", detail);
    /* Framing fixed up to match: MIT itself meets the short AP-REQ. */
    if (reframe(token, len - 20))
        check_result("truncated AP-REQ with consistent framing",
                     start_fails(server, token, len - 20), KERBSASL_BAD_TOKEN,
                     why, "malformed Kerberos token", NULL);
    else
        check(0, "truncated AP-REQ with consistent framing", "token not in 0x82 form");
    free(token);
    kerbsasl_server_free(server);
}

static void empty_and_spnego_tokens(void)
{
    kerbsasl_server *server = default_server(NULL);
    static const uint8_t byte = 0x60;
    check_result("empty token", start_fails(server, &byte, 0), KERBSASL_BAD_TOKEN,
                 why, "empty initial token", NULL);
    check_result("empty token (NULL input)", start_fails(server, NULL, 0), KERBSASL_BAD_TOKEN,
                 why, "empty initial token", NULL);
    /* NegTokenInit: [APPLICATION 0] { OID 1.3.6.1.5.5.2, [0] ... }. */
    static const uint8_t spnego[] = {0x60, 0x0e, 0x06, 0x06, 0x2b, 0x06, 0x01, 0x05,
                                     0x05, 0x02, 0xa0, 0x04, 0x30, 0x02, 0xa0, 0x00};
    check_result("SPNEGO NegTokenInit", start_fails(server, spnego, sizeof spnego),
                 KERBSASL_BAD_TOKEN, why, "SPNEGO", "not SPNEGO/Negotiate",
                 NULL);
    static const uint8_t negtokenresp[] = {0xa1, 0x03, 0x30, 0x01, 0x00};
    check_result("SPNEGO NegTokenResp", start_fails(server, negtokenresp, sizeof negtokenresp),
                 KERBSASL_BAD_TOKEN, why, "SPNEGO", NULL);
    kerbsasl_server_free(server);
}

static void replayed_ap_req(void)
{
    kerbsasl_server *server = default_server(NULL);
    size_t len;
    uint8_t *token = alice_token(fixture_service(), 1, &len);
    kerbsasl_session *session = NULL;
    kerbsasl_result code = start(server, token, len, &session);
    check_result("replay: first use", code, KERBSASL_CONTINUE, kerbsasl_last_error(), NULL);
    kerbsasl_dispose(session);
    check_result("replayed AP-REQ", start_fails(server, token, len), KERBSASL_AUTH_FAILED,
                 why, "Request is a replay", "already used", NULL);
    free(token);
    kerbsasl_server_free(server);
}

static void bad_layer_choices(void)
{
    static const struct {
        const char *name;
        const char *reply;
        size_t len;
        const char *expected;
    } cases[] = {
        {"layer choice: integrity", "\x02\x00\x10\x00", 4, "integrity protection (0x02)"},
        {"layer choice: confidentiality", "\x04\x00\x10\x00", 4, "confidentiality (0x04)"},
        {"layer choice: two layers", "\x03\x00\x00\x00", 4, "exactly one"},
        {"layer choice: none chosen", "\x00\x00\x00\x00", 4, "exactly one"},
        {"layer choice: no layer, non-zero size", "\x01\x00\xff\xff", 4, "maximum buffer size"},
        {"layer choice: 2 bytes", "\x01\x00", 2, "at least 4"},
        {"layer choice: authzid not UTF-8", "\x01\x00\x00\x00\xc3\x28", 6, "UTF-8"},
        {"layer choice: authzid with NUL", "\x01\x00\x00\x00" "a\x00" "b", 7, "NUL"},
    };
    kerbsasl_server *server = default_server(NULL);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gss_test_client *client = client_new(NULL, fixture_service(), 1, NULL);
        kerbsasl_session *session = until_offer(server, client, cases[i].name);
        if (session != NULL) {
            size_t len;
            uint8_t *reply =
                client_wrap(client, (const uint8_t *)cases[i].reply, cases[i].len, &len);
            check_result(cases[i].name, step(session, reply, len), KERBSASL_BAD_TOKEN,
                         why, cases[i].expected, NULL);
            free(reply);
            kerbsasl_dispose(session);
        }
        gss_test_client_free(client);
    }
    kerbsasl_server_free(server);
}

/* Replies that are not this session's wrap tokens. */
static void foreign_layer_replies(void)
{
    kerbsasl_server *server = default_server(NULL);
    gss_test_client *client = client_new(NULL, fixture_service(), 1, NULL);
    kerbsasl_session *session = until_offer(server, client, "unwrapped reply");
    static const uint8_t plain[4] = {0x01, 0x00, 0x00, 0x00};
    if (session != NULL)
        check_result("unwrapped reply", step(session, plain, sizeof plain), KERBSASL_BAD_TOKEN,
                     why, "not a valid wrap token", NULL);
    kerbsasl_dispose(session);
    gss_test_client_free(client);

    /* Wrapped correctly, but by another client's context. */
    gss_test_client *mine = client_new(NULL, fixture_service(), 1, NULL);
    gss_test_client *theirs = client_new(NULL, fixture_service(), 1, NULL);
    session = until_offer(server, mine, "reply wrapped by another session");
    kerbsasl_session *other = until_offer(server, theirs, "reply wrapped by another session");
    if (session != NULL && other != NULL) {
        size_t len;
        uint8_t *reply = client_wrap(theirs, plain, sizeof plain, &len);
        check_result("reply wrapped by another session", step(session, reply, len),
                     KERBSASL_BAD_TOKEN, why,
                     "not a valid wrap token", NULL);
        free(reply);
    }
    kerbsasl_dispose(session);
    kerbsasl_dispose(other);
    gss_test_client_free(mine);
    gss_test_client_free(theirs);

    /* This session's context, but its second wrap token: the first never
     * arrived (dropped or held back by someone in the middle). */
    client = client_new(NULL, fixture_service(), 1, NULL);
    session = until_offer(server, client, "reply after a skipped wrap token");
    if (session != NULL) {
        size_t len;
        free(client_wrap(client, plain, sizeof plain, &len));
        uint8_t *reply = client_wrap(client, plain, sizeof plain, &len);
        check_result("reply after a skipped wrap token: refused (sequence gap)",
                     step(session, reply, len), KERBSASL_BAD_TOKEN, why,
                     "not a valid wrap token", NULL);
        free(reply);
    }
    kerbsasl_dispose(session);
    gss_test_client_free(client);
    kerbsasl_server_free(server);
}

static void non_empty_reply_after_ap_rep(void)
{
    kerbsasl_server *server = default_server(NULL);
    size_t len;
    uint8_t *token = alice_token(fixture_service(), 1, &len);
    kerbsasl_session *session = NULL;
    kerbsasl_result code = start(server, token, len, &session);
    free(token);
    if (check_result("non-empty reply after AP-REP: start", code, KERBSASL_CONTINUE,
                     kerbsasl_last_error(), NULL)) {
        check_string("no session error before a failure", kerbsasl_session_error(session), NULL);
        code = step(session, (const uint8_t *)"unexpected", 10);
        check_result("non-empty reply after AP-REP", code, KERBSASL_BAD_TOKEN,
                     kerbsasl_session_error(session), "10 bytes after the server's AP-REP",
                     "empty", NULL);
        check_string("session error is also the thread's last error",
                     kerbsasl_last_error(), kerbsasl_session_error(session));
        check_string("failed session has no username", kerbsasl_session_username(session),
                     NULL);
        /* Any later step: BAD_STATE, repeating why it failed. */
        code = step(session, NULL, 0);
        check_result("step after failure", code, KERBSASL_BAD_STATE,
                     kerbsasl_session_error(session), "already failed", "AP-REP", NULL);
    }
    kerbsasl_dispose(session);
    kerbsasl_server_free(server);
}

static void step_after_ok(void)
{
    kerbsasl_server *server = default_server(NULL);
    gss_test_client *client = client_new(NULL, fixture_service(), 1, NULL);
    handshake h;
    handshake_run(&h, server, client);
    if (check_result("step after OK: handshake", h.code, KERBSASL_OK, h.message, NULL)) {
        const uint8_t *out = (const uint8_t *)"sentinel";
        size_t out_len = 8;
        kerbsasl_result code = kerbsasl_server_step(h.session, NULL, 0, &out, &out_len);
        check_result("step after OK", code, KERBSASL_BAD_STATE,
                     kerbsasl_session_error(h.session), "already succeeded", NULL);
        check(out_len == 8, "step after OK leaves the outputs alone", "out_len %zu", out_len);
        check_string("step after OK: the identity stays readable",
                     kerbsasl_session_principal(h.session), "alice@KERBSASL.TEST");
    }
    handshake_end(&h);
    gss_test_client_free(client);
    kerbsasl_server_free(server);
}

static void authorization_denied(void)
{
    char message[1024], listed[] = "OTHER.TEST, THIRD.TEST";
    kerbsasl_server *server = default_server(NULL);
    gss_test_client *client = client_new(NULL, fixture_service(), 1, "bob@KERBSASL.TEST");
    check_result("authzid mismatch", handshake_fails(server, client, message, sizeof message),
                 KERBSASL_AUTHZ_DENIED, message, "alice@KERBSASL.TEST", "\"bob@KERBSASL.TEST\"",
                 "not its own identity", NULL);
    gss_test_client_free(client);
    kerbsasl_server_free(server);

    server = default_server("authzid", "reject", NULL);
    client = client_new(NULL, fixture_service(), 1, "alice@KERBSASL.TEST");
    check_result("authzid = reject", handshake_fails(server, client, message, sizeof message),
                 KERBSASL_AUTHZ_DENIED, message, "authzid = reject", NULL);
    gss_test_client_free(client);
    kerbsasl_server_free(server);

    server = default_server("allowed_realms", listed, NULL);
    size_t len;
    uint8_t *token = alice_token(fixture_service(), 1, &len);
    check_result("realm not allowed", start_fails(server, token, len), KERBSASL_AUTHZ_DENIED,
                 why, "alice@KERBSASL.TEST", "realm KERBSASL.TEST",
                 "OTHER.TEST, THIRD.TEST", NULL);
    free(token);
    kerbsasl_server_free(server);

    /* krb5.conf maps only x/admin among two-component names. */
    char ccache[600];
    fixture_add_user("eve/ops");
    fixture_kinit("eve/ops", ccache, sizeof ccache);
    server = default_server("auth_to_local", "true", NULL);
    client = client_new(ccache, fixture_service(), 1, NULL);
    check_result("auth_to_local without a rule",
                 handshake_fails(server, client, message, sizeof message), KERBSASL_AUTHZ_DENIED,
                 message, "eve/ops@KERBSASL.TEST", "auth_to_local", NULL);
    gss_test_client_free(client);
    kerbsasl_server_free(server);
}

int main(void)
{
    fixture_init();
    ticket_for_another_service();
    keytab_problems();
    config_problems();
    malformed_tokens();
    truncated_tokens();
    empty_and_spnego_tokens();
    replayed_ap_req();
    bad_layer_choices();
    foreign_layer_replies();
    non_empty_reply_after_ap_rep();
    step_after_ok();
    authorization_denied();
    check(broken_starts == 0,
          "every failed start left session_out NULL and the outputs untouched",
          "%u of %u did not", broken_starts, failed_starts);
    return check_exit_status();
}

#define _POSIX_C_SOURCE 200809L
#include "fixture.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* At most this many key, value pairs per server in these tests. */
#define MAX_OPTIONS 16

static const char *required_env(const char *name)
{
    const char *value = getenv(name);
    if (value == NULL || value[0] == '\0')
        check_fatal("fixture", "%s is not set: run the C tests with c-tests/run "
                               "(inside target/debug/examples/testrealm)", name);
    return value;
}

void fixture_init(void)
{
    /* KRB5_CONFIG is what keeps MIT away from /etc/krb5.conf. */
    required_env("KRB5_CONFIG");
    required_env("KERBSASL_TEST_DIR");
    required_env("KRB5CCNAME");
}

const char *fixture_realm(void)
{
    return required_env("KERBSASL_TEST_REALM");
}

const char *fixture_service(void)
{
    return required_env("KERBSASL_TEST_SERVICE");
}

void fixture_path(char *out, size_t len, const char *name)
{
    int used = snprintf(out, len, "%s/%s", required_env("KERBSASL_TEST_DIR"), name);
    if (used < 0 || (size_t)used >= len)
        check_fatal("fixture", "path for %s is too long", name);
}

/* Runs a shell command, its output going to `log` (read back on failure). */
static void run_logged(const char *what, const char *command, const char *input)
{
    char log[512], line[4096];
    fixture_path(log, sizeof log, "fixture.log");
    snprintf(line, sizeof line, "%s >'%s' 2>&1", command, log);
    FILE *pipe = popen(line, "w");
    if (pipe == NULL)
        check_fatal("fixture", "cannot run %s", what);
    if (input != NULL)
        fprintf(pipe, "%s\n", input);
    int status = pclose(pipe);
    if (status == 0)
        return;
    char output[2048] = "";
    FILE *file = fopen(log, "r");
    if (file != NULL) {
        size_t n = fread(output, 1, sizeof output - 1, file);
        output[n] = '\0';
        fclose(file);
    }
    check_fatal("fixture", "%s failed (status %d): %s", what, status, output);
}

void fixture_kadmin(const char *query, ...)
{
    char text[1024], command[1536];
    va_list args;
    va_start(args, query);
    vsnprintf(text, sizeof text, query, args);
    va_end(args);
    /* Queries are ours and never quote; refuse rather than mis-quote. */
    if (strchr(text, '\'') != NULL)
        check_fatal("fixture", "kadmin query with a quote: %s", text);
    snprintf(command, sizeof command, "kadmin.local -r '%s' -q '%s'", fixture_realm(), text);
    run_logged(text, command, NULL);
}

void fixture_add_user(const char *name)
{
    fixture_kadmin("addprinc -pw %s %s", required_env("KERBSASL_TEST_PASSWORD"), name);
}

void fixture_kinit(const char *user, char *ccache, size_t len)
{
    /* A counter keeps ccaches apart when a program logs in one user twice. */
    static unsigned next;
    char name[256], path[512], command[1024];
    snprintf(name, sizeof name, "c-%s-%u.ccache", user, next++);
    for (char *c = name; *c; c++)
        if (*c == '/')
            *c = '_';
    fixture_path(path, sizeof path, name);
    snprintf(command, sizeof command, "kinit -c 'FILE:%s' '%s'", path, user);
    run_logged(command, command, required_env("KERBSASL_TEST_PASSWORD"));
    snprintf(ccache, len, "FILE:%s", path);
}

/* Collects key, value pairs until NULL into parallel arrays. */
static size_t collect(const char **keys, const char **values, size_t used, va_list args)
{
    const char *key;
    while ((key = va_arg(args, const char *)) != NULL) {
        if (used == MAX_OPTIONS)
            check_fatal("fixture", "more than %d options", MAX_OPTIONS);
        keys[used] = key;
        values[used] = va_arg(args, const char *);
        used++;
    }
    return used;
}

kerbsasl_result server_new(kerbsasl_server **out, ...)
{
    const char *keys[MAX_OPTIONS], *values[MAX_OPTIONS];
    va_list args;
    va_start(args, out);
    size_t count = collect(keys, values, 0, args);
    va_end(args);
    return kerbsasl_server_new(keys, values, count, out);
}

kerbsasl_server *default_server(const char *key, ...)
{
    char keytab[512];
    const char *keys[MAX_OPTIONS], *values[MAX_OPTIONS];
    fixture_path(keytab, sizeof keytab, "mqtt.keytab");
    keys[0] = "principal";
    values[0] = fixture_service();
    keys[1] = "keytab";
    values[1] = keytab;
    size_t count = 2;
    if (key != NULL) {
        va_list args;
        va_start(args, key);
        keys[count] = key;
        values[count] = va_arg(args, const char *);
        count = collect(keys, values, count + 1, args);
        va_end(args);
    }
    kerbsasl_server *server = NULL;
    kerbsasl_result code = kerbsasl_server_new(keys, values, count, &server);
    if (code != KERBSASL_OK)
        check_fatal("fixture", "default server: %s: %s", result_name(code),
                    kerbsasl_last_error());
    return server;
}

gss_test_client *client_new(const char *ccache, const char *target, int mutual,
                            const char *authzid)
{
    char err[512];
    gss_test_client *client = gss_test_client_new(ccache, target, mutual, authzid, err, sizeof err);
    if (client == NULL)
        check_fatal("fixture", "client for %s: %s", target, err);
    return client;
}

uint8_t *client_initial(gss_test_client *client, size_t *len)
{
    uint8_t *token;
    if (gss_test_client_initial(client, &token, len) != 0)
        check_fatal("fixture", "client initial token: %s", gss_test_client_error(client));
    return token;
}

uint8_t *client_respond(gss_test_client *client, const uint8_t *in, size_t in_len, size_t *len)
{
    uint8_t *token;
    if (gss_test_client_respond(client, in, in_len, &token, len) != 0)
        check_fatal("fixture", "client reply: %s", gss_test_client_error(client));
    return token;
}

uint8_t *client_wrap(gss_test_client *client, const uint8_t *msg, size_t msg_len, size_t *len)
{
    uint8_t *token;
    if (gss_test_client_wrap(client, msg, msg_len, &token, len) != 0)
        check_fatal("fixture", "client wrap: %s", gss_test_client_error(client));
    return token;
}

/* Records why the handshake stopped, from kerbsasl or from the client. */
static void note_failure(handshake *h, const char *why)
{
    snprintf(h->message, sizeof h->message, "%s", why ? why : "(no message)");
}

void handshake_run(handshake *h, const kerbsasl_server *server, gss_test_client *client)
{
    const uint8_t *output = NULL;
    size_t output_len = 0, len;
    uint8_t *token;
    memset(h, 0, sizeof *h);
    if (gss_test_client_initial(client, &token, &len) != 0) {
        h->code = CLIENT_FAILED;
        note_failure(h, gss_test_client_error(client));
        return;
    }
    h->code = kerbsasl_server_start(server, token, len, &h->session, &output, &output_len);
    h->calls = 1;
    free(token);
    /* Four turns is more than RFC 4752 ever needs. */
    while (h->code == KERBSASL_CONTINUE && h->calls < 4) {
        if (gss_test_client_respond(client, output, output_len, &token, &len) != 0) {
            h->code = CLIENT_FAILED;
            note_failure(h, gss_test_client_error(client));
            return;
        }
        h->code = kerbsasl_server_step(h->session, token, len, &output, &output_len);
        h->calls++;
        free(token);
    }
    if (h->code == KERBSASL_CONTINUE) {
        h->code = CLIENT_FAILED;
        note_failure(h, "the server still wants more after 4 calls");
    } else if (h->code != KERBSASL_OK) {
        note_failure(h, h->session ? kerbsasl_session_error(h->session) : kerbsasl_last_error());
    }
}

void handshake_end(handshake *h)
{
    kerbsasl_dispose(h->session);
    h->session = NULL;
}

const char *result_name(uint32_t code)
{
    return code == CLIENT_FAILED ? "CLIENT_FAILED (see message)" : kerbsasl_result_str(code);
}

int check_result(const char *name, uint32_t got, uint32_t want, const char *message, ...)
{
    const char *fragments[16], *missing = NULL;
    size_t count = 0;
    va_list args;
    va_start(args, message);
    while (count < 15 && (fragments[count] = va_arg(args, const char *)) != NULL)
        count++;
    va_end(args);
    fragments[count] = NULL;
    if (got != want)
        return check(0, name, "got %s, want %s (message: %s)", result_name(got),
                     result_name(want), message ? message : "NULL");
    /* Sequenced apart: check's arguments are evaluated in any order. */
    int complete = contains_all(message, fragments, &missing);
    return check(complete, name, "%s as expected, but the message lacks \"%s\": %s",
                 result_name(got), missing, message ? message : "NULL");
}

int check_string(const char *name, const char *got, const char *want)
{
    if (want == NULL)
        return check(got == NULL, name, "got \"%s\", want NULL", got);
    if (got == NULL)
        return check(0, name, "got NULL, want \"%s\"", want);
    return check(strcmp(got, want) == 0, name, "got \"%s\", want \"%s\"", got, want);
}

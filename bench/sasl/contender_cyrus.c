/* Contender 2: Cyrus SASL (libsasl2 + Debian's gssapiv2 plugin), server side
 * driven by a Cyrus SASL GSSAPI client in the same process.
 *
 * Per handshake the server does sasl_server_new + setprop, sasl_server_start
 * and two sasl_server_step calls, then sasl_dispose: that is what a broker
 * using Cyrus would pay per connection. Only "no layer" is allowed on both
 * sides (max_ssf 0, maxbufsize 0), so the offer is 01 00 00 00 as for the
 * other contenders. The replay cache is whatever krb5 defaults to (dfl). */
#include "bench.h"

#include <sasl/sasl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const bench_cfg *config;

/* Only "no layer": MQTT has no SASL framing. */
static const sasl_security_properties_t no_layer_props = {
    .min_ssf = 0, .max_ssf = 0, .maxbufsize = 0,
};

/* Server options normally read from /etc/sasl2/<app>.conf, given here so
 * nothing outside the throwaway realm is read. */
static int server_getopt(void *context, const char *plugin, const char *option,
                         const char **result, unsigned *len)
{
    (void)context;
    (void)plugin;
    if (strcmp(option, "keytab") == 0) /* plugin registers it at load time */
        *result = config->keytab;
    else if (strcmp(option, "mech_list") == 0)
        *result = "GSSAPI";
    else
        return SASL_FAIL;
    if (len != NULL)
        *len = (unsigned)strlen(*result);
    return SASL_OK;
}

static int log_errors(void *context, int level, const char *message)
{
    (void)context;
    if (level <= SASL_LOG_WARN)
        fprintf(stderr, "sasl: %s\n", message);
    return SASL_OK;
}

/* Empty authzid: act as the authenticated identity itself. */
static int client_user(void *context, int id, const char **result, unsigned *len)
{
    (void)context;
    if (id != SASL_CB_USER)
        return SASL_FAIL;
    *result = "";
    if (len != NULL)
        *len = 0;
    return SASL_OK;
}

/* sasl_callback_t stores every callback as int (*)(void); going through
 * void (*)(void) tells -Wcast-function-type the cast is deliberate. */
#define SASL_CB(fn) ((int (*)(void))(void (*)(void))(fn))

static const sasl_callback_t server_callbacks[] = {
    {SASL_CB_GETOPT, SASL_CB(server_getopt), NULL},
    {SASL_CB_LOG, SASL_CB(log_errors), NULL},
    {SASL_CB_LIST_END, NULL, NULL},
};

static const sasl_callback_t client_callbacks[] = {
    {SASL_CB_USER, SASL_CB(client_user), NULL},
    {SASL_CB_LOG, SASL_CB(log_errors), NULL},
    {SASL_CB_LIST_END, NULL, NULL},
};

typedef struct {
    sasl_conn_t *conn;
    bool started;
} cyrus_session;

static step_rc sasl_result(sasl_conn_t *conn, const char *what, int rc,
                           const char *out, unsigned outlen, tok *res)
{
    *res = (tok){(const unsigned char *)out, outlen};
    if (rc == SASL_CONTINUE)
        return STEP_CONTINUE;
    if (rc == SASL_OK)
        return STEP_DONE;
    fprintf(stderr, "%s: %s\n", what, sasl_errdetail(conn));
    return STEP_FAIL;
}

static void cyrus_close(void *session)
{
    cyrus_session *s = session;
    if (s == NULL)
        return;
    sasl_dispose(&s->conn);
    free(s);
}

/* ---- server ------------------------------------------------------------ */

static int server_init(const bench_cfg *cfg)
{
    int rc;
    config = cfg;
    rc = sasl_server_init(server_callbacks, "kerbsasl-bench");
    if (rc != SASL_OK) {
        fprintf(stderr, "sasl_server_init: %s\n", sasl_errstring(rc, NULL, NULL));
        return -1;
    }
    return 0;
}

static void *server_open(int tid)
{
    cyrus_session *s = calloc(1, sizeof *s);
    (void)tid;
    if (s == NULL)
        return NULL;
    if (sasl_server_new(config->service, config->host, config->realm, NULL,
                        NULL, NULL, 0, &s->conn) != SASL_OK ||
        sasl_setprop(s->conn, SASL_SEC_PROPS, &no_layer_props) != SASL_OK) {
        fprintf(stderr, "sasl_server_new failed\n");
        cyrus_close(s);
        return NULL;
    }
    return s;
}

static step_rc server_step(void *session, const tok *in, tok *out)
{
    cyrus_session *s = session;
    const char *o = NULL;
    unsigned olen = 0;
    int rc;

    if (!s->started) {
        rc = sasl_server_start(s->conn, "GSSAPI", (const char *)in->data,
                               (unsigned)in->len, &o, &olen);
        s->started = true;
    } else {
        rc = sasl_server_step(s->conn, (const char *)in->data,
                              (unsigned)in->len, &o, &olen);
    }
    if (rc == SASL_OK) { /* a broker reads the identity it will use for ACLs */
        const void *user = NULL;
        if (sasl_getprop(s->conn, SASL_USERNAME, &user) != SASL_OK || user == NULL)
            rc = SASL_FAIL;
    }
    return sasl_result(s->conn, "sasl_server_start/step", rc, o, olen, out);
}

/* sasl_client_done and sasl_server_done both tear down the shared globals;
 * in 2.1.28 the second call is the one that really frees them. */
static void server_fini(void)
{
    sasl_server_done();
}

static const side_ops cyrus_server = {server_init, server_fini, server_open,
                                      server_step, cyrus_close};

/* ---- client (never timed) ---------------------------------------------- */

static int client_init(const bench_cfg *cfg)
{
    int rc;
    config = cfg;
    if (gss_client_ops.init(cfg) != 0) /* for gss_initiator_cred() */
        return -1;
    rc = sasl_client_init(client_callbacks);
    if (rc != SASL_OK) {
        fprintf(stderr, "sasl_client_init: %s\n", sasl_errstring(rc, NULL, NULL));
        return -1;
    }
    return 0;
}

static void client_fini(void)
{
    sasl_client_done();
    gss_client_ops.fini();
}

/* The client gets a ready initiator cred: with max_ssf <= 1 and no cred,
 * Debian's plugin acquires one per connection and leaks it (~17 KB each,
 * memcheck: gss_acquire_cred under sasl_client_start), which would swamp the
 * RSS figure with client-side garbage. */
static void *client_open(int tid)
{
    cyrus_session *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    if (sasl_client_new(config->service, config->host, NULL, NULL, NULL, 0,
                        &s->conn) != SASL_OK ||
        sasl_setprop(s->conn, SASL_SEC_PROPS, &no_layer_props) != SASL_OK ||
        sasl_setprop(s->conn, SASL_GSS_CREDS, gss_initiator_cred(tid)) != SASL_OK) {
        fprintf(stderr, "sasl_client_new failed\n");
        cyrus_close(s);
        return NULL;
    }
    return s;
}

static step_rc client_step(void *session, const tok *in, tok *out)
{
    cyrus_session *s = session;
    sasl_interact_t *interact = NULL; /* callbacks answer everything */
    const char *o = NULL, *mech = NULL;
    unsigned olen = 0;
    int rc;

    if (!s->started) {
        rc = sasl_client_start(s->conn, "GSSAPI", &interact, &o, &olen, &mech);
        s->started = true;
    } else {
        rc = sasl_client_step(s->conn, (const char *)in->data, (unsigned)in->len,
                              &interact, &o, &olen);
    }
    return sasl_result(s->conn, "sasl_client_start/step", rc, o, olen, out);
}

static const side_ops cyrus_client = {client_init, client_fini, client_open,
                                      client_step, cyrus_close};

static const contender cyrus = {"cyrus", &cyrus_server, &cyrus_client};
BENCH_CONTENDER(cyrus)

/* Contender 1: kerbsasl through its C ABI. Per handshake:
 * kerbsasl_server_start, kerbsasl_server_step(s), kerbsasl_dispose, on one
 * server shared by all threads (as a broker would), with its defaults (the
 * default replay cache). Driven by the same GSSAPI initiator as the MIT
 * contenders. */
#include "bench.h"

#include <kerbsasl.h>
#include <stdio.h>
#include <stdlib.h>

static kerbsasl_server *server;

static int ks_init(const bench_cfg *cfg)
{
    const char *keys[] = {"principal", "keytab"};
    const char *values[] = {cfg->principal, cfg->keytab};
    kerbsasl_result rc = kerbsasl_server_new(keys, values, 2, &server);
    if (rc != KERBSASL_OK) {
        fprintf(stderr, "kerbsasl_server_new: %s: %s\n", kerbsasl_result_str(rc),
                kerbsasl_last_error());
        return -1;
    }
    return 0;
}

static void ks_fini(void)
{
    kerbsasl_server_free(server);
    server = NULL;
}

typedef struct {
    kerbsasl_session *session; /* NULL until started */
} ks_exchange;

static void *ks_open(int tid)
{
    (void)tid;
    return calloc(1, sizeof(ks_exchange));
}

static step_rc ks_step(void *exchange, const tok *in, tok *out)
{
    ks_exchange *x = exchange;
    const uint8_t *output = NULL;
    size_t output_len = 0;
    kerbsasl_result rc;
    if (x->session == NULL)
        rc = kerbsasl_server_start(server, in->data, in->len, &x->session, &output, &output_len);
    else
        rc = kerbsasl_server_step(x->session, in->data, in->len, &output, &output_len);
    *out = (tok){output, output_len};
    if (rc == KERBSASL_CONTINUE)
        return STEP_CONTINUE;
    if (rc == KERBSASL_OK)
        return STEP_DONE;
    fprintf(stderr, "kerbsasl: %s: %s\n", kerbsasl_result_str(rc),
            x->session ? kerbsasl_session_error(x->session) : kerbsasl_last_error());
    return STEP_FAIL;
}

static void ks_close(void *exchange)
{
    ks_exchange *x = exchange;
    if (x == NULL)
        return;
    kerbsasl_dispose(x->session);
    free(x);
}

static const side_ops kerbsasl_server_ops = {ks_init, ks_fini, ks_open, ks_step, ks_close};

static const contender kerbsasl = {"kerbsasl", &kerbsasl_server_ops, &gss_client_ops};
BENCH_CONTENDER(kerbsasl)

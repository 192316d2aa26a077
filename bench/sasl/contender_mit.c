/* Contenders 3 and 4: a plain MIT GSSAPI acceptor doing the RFC 4752 server
 * side, plus the GSSAPI initiator that feeds every non-Cyrus contender.
 *
 *   mit-naive: acceptor cred acquired once from the keytab file.
 *   mit-best:  as naive, but the keytab is copied once into a MEMORY keytab
 *              and a krb5_context stays open for the whole process (keeps the
 *              parsed krb5.conf alive, so accept does not re-read it).
 * Both use the default ("dfl") replay cache. */
#include "bench.h"

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>
#include <krb5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const unsigned char sasl_no_layer[4] = {0x01, 0x00, 0x00, 0x00};

#define MEMORY_KEYTAB "MEMORY:kerbsasl-bench"

/* ---- shared helpers ---------------------------------------------------- */

/* Detailed text is thread-local in MIT: call right after the failing call. */
static void gss_report(const char *what, OM_uint32 major, OM_uint32 minor)
{
    OM_uint32 ctx = 0, min2;
    gss_buffer_desc msg;
    fprintf(stderr, "%s failed:", what);
    do {
        gss_display_status(&min2, major, GSS_C_GSS_CODE, GSS_C_NO_OID, &ctx, &msg);
        fprintf(stderr, " %.*s;", (int)msg.length, (char *)msg.value);
        gss_release_buffer(&min2, &msg);
    } while (ctx != 0);
    do {
        gss_display_status(&min2, minor, GSS_C_MECH_CODE, gss_mech_krb5, &ctx, &msg);
        fprintf(stderr, " %.*s", (int)msg.length, (char *)msg.value);
        gss_release_buffer(&min2, &msg);
    } while (ctx != 0);
    fputc('\n', stderr);
}

static int import_principal(const char *principal, gss_name_t *out)
{
    OM_uint32 major, minor;
    gss_buffer_desc buf = {strlen(principal), (void *)principal};
    /* Krb5 principal name type: matches exactly this principal, no DNS. */
    major = gss_import_name(&minor, &buf, GSS_KRB5_NT_PRINCIPAL_NAME, out);
    if (GSS_ERROR(major)) {
        gss_report("gss_import_name", major, minor);
        return -1;
    }
    return 0;
}

static tok tok_of(const gss_buffer_desc *b)
{
    return (tok){b->value, b->length};
}

/* ---- acceptor (server side) -------------------------------------------- */

static gss_cred_id_t *acceptor_creds; /* one shared, or one per thread */
static int acceptor_ncreds;
static krb5_context held_context;     /* mit-best only */
static krb5_keytab memory_keytab;     /* mit-best only; closing it frees it */

static int acquire_acceptor(const char *principal, const char *keytab,
                            gss_cred_id_t *cred)
{
    OM_uint32 major, minor;
    gss_name_t name;
    gss_OID_set_desc krb5_only = {1, gss_mech_krb5}; /* no SPNEGO fallback */
    gss_key_value_element_desc el = {"keytab", keytab};
    gss_key_value_set_desc store = {1, &el};

    if (import_principal(principal, &name) != 0)
        return -1;
    major = gss_acquire_cred_from(&minor, name, GSS_C_INDEFINITE, &krb5_only,
                                  GSS_C_ACCEPT, &store, cred, NULL, NULL);
    gss_release_name(&minor, &name);
    if (GSS_ERROR(major)) {
        gss_report("gss_acquire_cred_from", major, minor);
        return -1;
    }
    return 0;
}

static int acceptor_init(const bench_cfg *cfg, const char *keytab)
{
    acceptor_ncreds = cfg->cred_per_thread ? cfg->threads : 1;
    acceptor_creds = calloc((size_t)acceptor_ncreds, sizeof *acceptor_creds);
    if (acceptor_creds == NULL)
        return -1;
    for (int i = 0; i < acceptor_ncreds; i++)
        if (acquire_acceptor(cfg->principal, keytab, &acceptor_creds[i]) != 0)
            return -1;
    return 0;
}

static int naive_init(const bench_cfg *cfg)
{
    return acceptor_init(cfg, cfg->keytab);
}

static int krb5_report(krb5_context ctx, const char *what, krb5_error_code code)
{
    const char *msg = krb5_get_error_message(ctx, code);
    fprintf(stderr, "%s failed: %s\n", what, msg);
    krb5_free_error_message(ctx, msg);
    return -1;
}

/* Copy every entry of the file keytab into the MEMORY keytab. The MEMORY
 * keytab is process-wide by name and dies with its last handle, so the
 * handle stays open in memory_keytab until fini. */
static int copy_keytab_to_memory(krb5_context ctx, const char *path)
{
    krb5_keytab src;
    krb5_kt_cursor cursor;
    krb5_keytab_entry entry;
    krb5_error_code code;

    if ((code = krb5_kt_resolve(ctx, path, &src)) != 0)
        return krb5_report(ctx, "krb5_kt_resolve", code);
    if ((code = krb5_kt_resolve(ctx, MEMORY_KEYTAB, &memory_keytab)) != 0)
        return krb5_report(ctx, "krb5_kt_resolve(MEMORY)", code);
    if ((code = krb5_kt_start_seq_get(ctx, src, &cursor)) != 0)
        return krb5_report(ctx, "krb5_kt_start_seq_get", code);
    while ((code = krb5_kt_next_entry(ctx, src, &entry, &cursor)) == 0) {
        code = krb5_kt_add_entry(ctx, memory_keytab, &entry);
        krb5_free_keytab_entry_contents(ctx, &entry);
        if (code != 0)
            break;
    }
    krb5_kt_end_seq_get(ctx, src, &cursor);
    krb5_kt_close(ctx, src);
    return code == KRB5_KT_END ? 0 : krb5_report(ctx, "copying keytab", code);
}

static int best_init(const bench_cfg *cfg)
{
    krb5_error_code code = krb5_init_context(&held_context);
    if (code != 0) {
        fprintf(stderr, "krb5_init_context failed: %d\n", code);
        return -1;
    }
    if (copy_keytab_to_memory(held_context, cfg->keytab) != 0)
        return -1;
    return acceptor_init(cfg, MEMORY_KEYTAB);
}

static void acceptor_fini(void)
{
    OM_uint32 minor;
    for (int i = 0; i < acceptor_ncreds; i++)
        gss_release_cred(&minor, &acceptor_creds[i]);
    free(acceptor_creds);
    acceptor_creds = NULL;
    if (memory_keytab != NULL)
        krb5_kt_close(held_context, memory_keytab);
    if (held_context != NULL)
        krb5_free_context(held_context);
    memory_keytab = NULL;
    held_context = NULL;
}

typedef enum { EXPECT_AP_REQ, EXPECT_EMPTY, EXPECT_REPLY } server_state;

typedef struct {
    gss_cred_id_t cred;
    gss_ctx_id_t ctx;
    server_state state;
    gss_buffer_desc out;   /* last output, owned here */
    gss_buffer_desc peer;  /* authenticated principal, e.g. alice@KERBSASL.TEST */
} acceptor;

static void *acceptor_open(int tid)
{
    acceptor *s = calloc(1, sizeof *s);
    if (s != NULL)
        s->cred = acceptor_creds[acceptor_ncreds == 1 ? 0 : tid];
    return s;
}

/* Step 1: AP-REQ in, AP-REP out; remember who the client is. */
static step_rc accept_step(acceptor *s, const tok *in)
{
    OM_uint32 major, minor, m2;
    gss_buffer_desc in_buf = {in->len, (void *)in->data};
    gss_name_t src = GSS_C_NO_NAME;

    if (in->len == 0) { /* an empty token would select SPNEGO in the mechglue */
        fprintf(stderr, "empty initial token\n");
        return STEP_FAIL;
    }
    major = gss_accept_sec_context(&minor, &s->ctx, s->cred, &in_buf,
                                   GSS_C_NO_CHANNEL_BINDINGS, &src, NULL,
                                   &s->out, NULL, NULL, NULL);
    if (major != GSS_S_COMPLETE) { /* krb5 finishes in one round trip */
        gss_report("gss_accept_sec_context", major, minor);
        gss_release_name(&m2, &src);
        return STEP_FAIL;
    }
    major = gss_display_name(&minor, src, &s->peer, NULL);
    gss_release_name(&m2, &src);
    if (GSS_ERROR(major)) {
        gss_report("gss_display_name", major, minor);
        return STEP_FAIL;
    }
    s->state = EXPECT_EMPTY;
    return STEP_CONTINUE;
}

/* Step 2: the client's empty answer in, the wrapped offer out (conf=0). */
static step_rc offer_step(acceptor *s)
{
    OM_uint32 major, minor;
    gss_buffer_desc offer = {sizeof sasl_no_layer, (void *)sasl_no_layer};

    major = gss_wrap(&minor, s->ctx, 0, GSS_C_QOP_DEFAULT, &offer, NULL, &s->out);
    if (GSS_ERROR(major)) {
        gss_report("gss_wrap", major, minor);
        return STEP_FAIL;
    }
    s->state = EXPECT_REPLY;
    return STEP_CONTINUE;
}

/* authzid: UTF-8 without NUL (RFC 4752 via RFC 4422). Checks the byte
 * structure only; overlong forms are left to the real library. */
static bool valid_authzid(const unsigned char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i++];
        size_t cont;
        if (c == 0)
            return false;
        if (c < 0x80)
            continue;
        if ((c & 0xE0) == 0xC0)
            cont = 1;
        else if ((c & 0xF0) == 0xE0)
            cont = 2;
        else if ((c & 0xF8) == 0xF0)
            cont = 3;
        else
            return false;
        if (n - i < cont)
            return false;
        for (; cont > 0; cont--)
            if ((p[i++] & 0xC0) != 0x80)
                return false;
    }
    return true;
}

/* Step 3: the client's wrapped choice in; nothing out. Only "no layer" was
 * offered, so the reply must be exactly 01 00 00 00 + authzid. */
static step_rc reply_step(acceptor *s, const tok *in)
{
    OM_uint32 major, minor;
    gss_buffer_desc in_buf = {in->len, (void *)in->data};
    gss_buffer_desc plain;
    bool ok;

    major = gss_unwrap(&minor, s->ctx, &in_buf, &plain, NULL, NULL);
    if (GSS_ERROR(major)) {
        gss_report("gss_unwrap", major, minor);
        return STEP_FAIL;
    }
    ok = plain.length >= 4 && memcmp(plain.value, sasl_no_layer, 4) == 0 &&
         valid_authzid((unsigned char *)plain.value + 4, plain.length - 4);
    gss_release_buffer(&minor, &plain);
    if (!ok) {
        fprintf(stderr, "bad security layer reply\n");
        return STEP_FAIL;
    }
    return STEP_DONE;
}

static step_rc acceptor_step(void *session, const tok *in, tok *out)
{
    acceptor *s = session;
    OM_uint32 minor;
    step_rc rc = STEP_FAIL;

    gss_release_buffer(&minor, &s->out);
    switch (s->state) {
    case EXPECT_AP_REQ:
        rc = accept_step(s, in);
        /* No AP-REP (no mutual auth): send the offer in the same turn. */
        if (rc == STEP_CONTINUE && s->out.length == 0)
            rc = offer_step(s);
        break;
    case EXPECT_EMPTY:
        rc = in->len == 0 ? offer_step(s) : STEP_FAIL;
        break;
    case EXPECT_REPLY:
        rc = reply_step(s, in);
        break;
    }
    *out = tok_of(&s->out);
    return rc;
}

static void acceptor_close(void *session)
{
    acceptor *s = session;
    OM_uint32 minor;
    if (s == NULL)
        return;
    gss_delete_sec_context(&minor, &s->ctx, GSS_C_NO_BUFFER);
    gss_release_buffer(&minor, &s->out);
    gss_release_buffer(&minor, &s->peer);
    free(s);
}

static const side_ops naive_server = {naive_init, acceptor_fini, acceptor_open,
                                      acceptor_step, acceptor_close};
static const side_ops best_server = {best_init, acceptor_fini, acceptor_open,
                                     acceptor_step, acceptor_close};

/* ---- initiator (client side, never timed) ------------------------------ */

static gss_name_t target;
static gss_cred_id_t *initiator_creds; /* one per thread: no client contention */
static int initiator_ncreds;

static int initiator_init(const bench_cfg *cfg)
{
    OM_uint32 major, minor;
    gss_OID_set_desc krb5_only = {1, gss_mech_krb5};

    if (import_principal(cfg->principal, &target) != 0)
        return -1;
    initiator_ncreds = cfg->threads;
    initiator_creds = calloc((size_t)cfg->threads, sizeof *initiator_creds);
    if (initiator_creds == NULL)
        return -1;
    for (int i = 0; i < cfg->threads; i++) {
        /* Default name and ccache: KRB5CCNAME. */
        major = gss_acquire_cred(&minor, GSS_C_NO_NAME, GSS_C_INDEFINITE,
                                 &krb5_only, GSS_C_INITIATE,
                                 &initiator_creds[i], NULL, NULL);
        if (GSS_ERROR(major)) {
            gss_report("gss_acquire_cred(initiate)", major, minor);
            return -1;
        }
    }
    return 0;
}

static void initiator_fini(void)
{
    OM_uint32 minor;
    for (int i = 0; i < initiator_ncreds; i++)
        gss_release_cred(&minor, &initiator_creds[i]);
    free(initiator_creds);
    initiator_creds = NULL;
    gss_release_name(&minor, &target);
}

void *gss_initiator_cred(int tid)
{
    return initiator_creds[tid];
}

typedef struct {
    gss_cred_id_t cred;
    gss_ctx_id_t ctx;
    int step;
    gss_buffer_desc out;
} initiator;

static void *initiator_open(int tid)
{
    initiator *c = calloc(1, sizeof *c);
    if (c != NULL)
        c->cred = initiator_creds[tid];
    return c;
}

/* Steps 0 and 1: gss_init_sec_context without, then with, the AP-REP. */
static step_rc init_step(initiator *c, const tok *in)
{
    OM_uint32 major, minor;
    gss_buffer_desc in_buf = {in->len, (void *)in->data};
    /* The flags Cyrus's client asks for; MUTUAL makes the server send AP-REP. */
    OM_uint32 flags = GSS_C_MUTUAL_FLAG | GSS_C_SEQUENCE_FLAG |
                      GSS_C_INTEG_FLAG | GSS_C_CONF_FLAG;

    major = gss_init_sec_context(&minor, c->cred, &c->ctx, target, gss_mech_krb5,
                                 flags, 0, GSS_C_NO_CHANNEL_BINDINGS,
                                 c->step == 0 ? GSS_C_NO_BUFFER : &in_buf,
                                 NULL, &c->out, NULL, NULL);
    if (major != (c->step == 0 ? GSS_S_CONTINUE_NEEDED : GSS_S_COMPLETE)) {
        gss_report("gss_init_sec_context", major, minor);
        return STEP_FAIL;
    }
    return STEP_CONTINUE;
}

/* Step 2: unwrap the offer, check it, answer "no layer, no authzid". */
static step_rc choose_layer_step(initiator *c, const tok *in)
{
    OM_uint32 major, minor;
    gss_buffer_desc in_buf = {in->len, (void *)in->data};
    gss_buffer_desc offer, reply = {sizeof sasl_no_layer, (void *)sasl_no_layer};
    bool ok;

    major = gss_unwrap(&minor, c->ctx, &in_buf, &offer, NULL, NULL);
    if (GSS_ERROR(major)) {
        gss_report("client gss_unwrap", major, minor);
        return STEP_FAIL;
    }
    ok = offer.length == 4 && memcmp(offer.value, sasl_no_layer, 4) == 0;
    gss_release_buffer(&minor, &offer);
    if (!ok) {
        fprintf(stderr, "server offer is not 01 00 00 00\n");
        return STEP_FAIL;
    }
    major = gss_wrap(&minor, c->ctx, 0, GSS_C_QOP_DEFAULT, &reply, NULL, &c->out);
    if (GSS_ERROR(major)) {
        gss_report("client gss_wrap", major, minor);
        return STEP_FAIL;
    }
    return STEP_DONE;
}

static step_rc initiator_step(void *session, const tok *in, tok *out)
{
    initiator *c = session;
    OM_uint32 minor;
    step_rc rc;

    gss_release_buffer(&minor, &c->out);
    rc = c->step < 2 ? init_step(c, in) : choose_layer_step(c, in);
    c->step++;
    *out = tok_of(&c->out);
    return rc;
}

static void initiator_close(void *session)
{
    initiator *c = session;
    OM_uint32 minor;
    if (c == NULL)
        return;
    gss_delete_sec_context(&minor, &c->ctx, GSS_C_NO_BUFFER);
    gss_release_buffer(&minor, &c->out);
    free(c);
}

const side_ops gss_client_ops = {initiator_init, initiator_fini, initiator_open,
                                 initiator_step, initiator_close};

static const contender mit_naive = {"mit-naive", &naive_server, &gss_client_ops};
static const contender mit_best = {"mit-best", &best_server, &gss_client_ops};
BENCH_CONTENDER(mit_naive)
BENCH_CONTENDER(mit_best)

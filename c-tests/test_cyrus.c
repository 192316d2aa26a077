/*
 * The Cyrus SASL plugin, driven the way EMQX's sasl_auth NIF drives
 * libsasl2: sasl_server_init(NULL, "sasl_auth") with no GETPATH callback,
 * so plugins come from SASL_PATH (a directory holding only a link to the
 * staged libkerbsasl) and options from sasl_auth.conf on SASL_CONF_PATH.
 * The clients are Cyrus's own: gssapiv2's client side, from a directory
 * holding only a link to the system's gssapiv2, found through the
 * client's GETPATH callback.
 *
 *   test_cyrus [REPLAY_CACHE]   REPLAY_CACHE for the threaded case
 *                               (none: under valgrind, see c-tests/run)
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>
#include <pthread.h>
#include <sasl/sasl.h>
#include <sasl/saslplug.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixture.h"

#define HOST "broker.kerbsasl.test"
#define APP "sasl_auth"

/* sasl_callback_t stores every callback as int (*)(void); going through
 * void (*)(void) tells -Wcast-function-type the cast is deliberate. */
#define SASL_CB(fn) ((sasl_callback_ft)(void (*)(void))(fn))

static char conf_dir[512], client_plugins[512];
static gss_cred_id_t client_cred = GSS_C_NO_CREDENTIAL;

/* ---- setup --------------------------------------------------------------- */

static void write_conf(const char *extra)
{
    char path[600], keytab[512];
    fixture_path(keytab, sizeof keytab, "mqtt.keytab");
    snprintf(path, sizeof path, "%s/" APP ".conf", conf_dir);
    FILE *conf = fopen(path, "w");
    if (conf == NULL)
        check_fatal("setup", "cannot write %s", path);
    fprintf(conf, "mech_list: GSSAPI\nkeytab: %s\n%s", keytab, extra);
    fclose(conf);
}

/* A plugin directory holding only a link to the libkerbsasl this program
 * runs with, one holding only gssapiv2 for the clients, and the conf
 * directory; all in the realm's temp dir. */
static void setup_dirs(void)
{
    char plugins[512], link[600], client_link[600];
    Dl_info info;
    if (dladdr((void *)(size_t)kerbsasl_version, &info) == 0 || info.dli_fname == NULL)
        check_fatal("setup", "cannot find the loaded libkerbsasl");
    fixture_path(plugins, sizeof plugins, "cyrus-plugins");
    fixture_path(client_plugins, sizeof client_plugins, "cyrus-client-plugins");
    fixture_path(conf_dir, sizeof conf_dir, "cyrus-conf");
    snprintf(link, sizeof link, "%s/libkerbsasl.so", plugins);
    snprintf(client_link, sizeof client_link, "%s/libgssapiv2.so", client_plugins);
    if (mkdir(plugins, 0700) != 0 || mkdir(client_plugins, 0700) != 0 ||
        mkdir(conf_dir, 0700) != 0 || symlink(info.dli_fname, link) != 0 ||
        symlink(CYRUS_PLUGIN_DIR "/libgssapiv2.so", client_link) != 0)
        check_fatal("setup", "cannot make the plugin and conf directories");
    write_conf("");
    /* Before libsasl2 reads them; no other thread runs yet. */
    setenv("SASL_PATH", plugins, 1);
    setenv("SASL_CONF_PATH", conf_dir, 1);
}

static int client_getpath(void *context, const char **path)
{
    (void)context;
    *path = client_plugins;
    return SASL_OK;
}

static int quiet_log(void *context, int level, const char *message)
{
    (void)context;
    (void)level;
    (void)message;
    return SASL_OK;
}

static const sasl_callback_t client_globals[] = {
    {SASL_CB_GETPATH, SASL_CB(client_getpath), NULL},
    {SASL_CB_LOG, SASL_CB(quiet_log), NULL},
    {SASL_CB_LIST_END, NULL, NULL},
};

/* The clients get alice's initiator credential: without one, Debian's
 * gssapiv2 client acquires (and leaks) one per connection. */
static void acquire_client_cred(void)
{
    OM_uint32 minor;
    gss_OID_set_desc krb5_only = {1, (gss_OID)gss_mech_krb5};
    OM_uint32 major = gss_acquire_cred(&minor, GSS_C_NO_NAME, GSS_C_INDEFINITE, &krb5_only,
                                       GSS_C_INITIATE, &client_cred, NULL, NULL);
    if (GSS_ERROR(major))
        check_fatal("setup", "cannot get alice's initiator credential");
}

static void start_sasl(void)
{
    int rc = sasl_server_init(NULL, APP);
    if (rc != SASL_OK)
        check_fatal("setup", "sasl_server_init: %s", sasl_errstring(rc, NULL, NULL));
}

/* ---- connections ----------------------------------------------------------- */

/* What the server side logs, per connection (the app's SASL_CB_LOG). */
typedef struct {
    pthread_mutex_t lock;
    int ready_lines; /* "kerbsasl server ready" records */
    char last[1024];
} log_sink;

static log_sink server_log = {PTHREAD_MUTEX_INITIALIZER, 0, ""};

static void note(log_sink *sink, const char *message)
{
    pthread_mutex_lock(&sink->lock);
    if (strstr(message, "kerbsasl server ready") != NULL)
        sink->ready_lines++;
    snprintf(sink->last, sizeof sink->last, "%s", message);
    pthread_mutex_unlock(&sink->lock);
}

static int server_log_cb(void *context, int level, const char *message)
{
    (void)level;
    note(context, message);
    return SASL_OK;
}

/* What a host that set kerbsasl_set_log_callback itself receives. */
static log_sink host_log = {PTHREAD_MUTEX_INITIALIZER, 0, ""};

static void host_log_cb(void *userdata, uint32_t level, const char *target, const char *message)
{
    (void)level;
    (void)target;
    note(userdata, message);
}

/* Options from the application's getopt callback win over the conf file:
 * `context` is "key=value\n..." for this connection. */
static int server_getopt(void *context, const char *plugin, const char *option,
                         const char **result, unsigned *len)
{
    static __thread char value[256];
    const char *line = context;
    size_t key_len = strlen(option);
    (void)plugin;
    while (line != NULL && *line != '\0') {
        const char *end = strchr(line, '\n');
        size_t line_len = end ? (size_t)(end - line) : strlen(line);
        if (line_len > key_len && strncmp(line, option, key_len) == 0 && line[key_len] == '=') {
            snprintf(value, sizeof value, "%.*s", (int)(line_len - key_len - 1),
                     line + key_len + 1);
            *result = value;
            if (len != NULL)
                *len = (unsigned)strlen(value);
            return SASL_OK;
        }
        line = end ? end + 1 : NULL;
    }
    return SASL_FAIL;
}

typedef struct {
    const char *authzid;        /* the client's, NULL for none */
    const char *service;        /* the client's target service, "mqtt" by default */
    sasl_ssf_t client_max_ssf;  /* 0: no layer, 1: integrity, more: confidentiality */
    sasl_ssf_t server_min_ssf;
    sasl_ssf_t server_max_ssf;
    const char *options;        /* per-connection getopt, "key=value\n..." */
} setup;

typedef struct {
    sasl_conn_t *server, *client;
    sasl_callback_t server_callbacks[4], client_callbacks[2];
    int server_rc; /* the last server result */
    unsigned canon_flags[4]; /* the flags of each canon_user call, in order */
    int canon_calls;
    char detail[1024];
} exchange;

static int client_user(void *context, int id, const char **result, unsigned *len)
{
    (void)id;
    *result = context ? context : "";
    if (len != NULL)
        *len = (unsigned)strlen(*result);
    return SASL_OK;
}

/* The application's canon_user: records the flags the plugin passed and
 * keeps the name as it is. */
static int record_canon_user(sasl_conn_t *conn, void *context, const char *in, unsigned inlen,
                             unsigned flags, const char *user_realm, char *out, unsigned out_max,
                             unsigned *out_len)
{
    (void)conn;
    (void)user_realm;
    exchange *x = context;
    if (x->canon_calls < (int)(sizeof x->canon_flags / sizeof x->canon_flags[0]))
        x->canon_flags[x->canon_calls] = flags;
    x->canon_calls++;
    if (inlen >= out_max)
        return SASL_BUFOVER;
    memcpy(out, in, inlen);
    out[inlen] = '\0';
    *out_len = inlen;
    return SASL_OK;
}

static int open_exchange(exchange *x, const setup *s)
{
    memset(x, 0, sizeof *x);
    x->server_callbacks[0] = (sasl_callback_t){SASL_CB_LOG, SASL_CB(server_log_cb), &server_log};
    x->server_callbacks[1] =
        (sasl_callback_t){SASL_CB_CANON_USER, SASL_CB(record_canon_user), x};
    x->server_callbacks[2] = s->options
        ? (sasl_callback_t){SASL_CB_GETOPT, SASL_CB(server_getopt), (void *)s->options}
        : (sasl_callback_t){SASL_CB_LIST_END, NULL, NULL};
    x->server_callbacks[3] = (sasl_callback_t){SASL_CB_LIST_END, NULL, NULL};
    x->client_callbacks[0] = (sasl_callback_t){SASL_CB_USER, SASL_CB(client_user),
                                               (void *)s->authzid};
    x->client_callbacks[1] = (sasl_callback_t){SASL_CB_LIST_END, NULL, NULL};
    sasl_security_properties_t server_props = {
        .min_ssf = s->server_min_ssf,
        .max_ssf = s->server_max_ssf ? s->server_max_ssf : 256,
        .maxbufsize = 65536,
    };
    sasl_security_properties_t client_props = {
        .min_ssf = 0, .max_ssf = s->client_max_ssf, .maxbufsize = 65536,
    };
    if (s->server_max_ssf == (sasl_ssf_t)-1)
        server_props.max_ssf = 0;
    if (sasl_server_new("mqtt", HOST, NULL, NULL, NULL, x->server_callbacks, 0, &x->server) !=
            SASL_OK ||
        sasl_setprop(x->server, SASL_SEC_PROPS, &server_props) != SASL_OK ||
        sasl_client_new(s->service ? s->service : "mqtt", HOST, NULL, NULL, x->client_callbacks,
                        0, &x->client) != SASL_OK ||
        sasl_setprop(x->client, SASL_SEC_PROPS, &client_props) != SASL_OK ||
        sasl_setprop(x->client, SASL_GSS_CREDS, client_cred) != SASL_OK) {
        snprintf(x->detail, sizeof x->detail, "cannot create the connections");
        return 0;
    }
    return 1;
}

static void close_exchange(exchange *x)
{
    sasl_dispose(&x->server);
    sasl_dispose(&x->client);
}

/* The client's first message (its AP-REQ), copied out. */
static int client_first(exchange *x, char *out, unsigned *out_len, unsigned max)
{
    const char *data = NULL, *mech = NULL;
    unsigned len = 0;
    int rc = sasl_client_start(x->client, "GSSAPI", NULL, &data, &len, &mech);
    if (rc != SASL_CONTINUE || len > max) {
        snprintf(x->detail, sizeof x->detail, "sasl_client_start: %s", sasl_errdetail(x->client));
        return 0;
    }
    memcpy(out, data, len);
    *out_len = len;
    return 1;
}

/* Runs the exchange from the client's first message on; server_rc is the
 * server's last result. */
static int run_from(exchange *x, const char *first, unsigned first_len)
{
    const char *out = NULL;
    unsigned out_len = 0;
    x->server_rc = sasl_server_start(x->server, "GSSAPI", first, first_len, &out, &out_len);
    while (x->server_rc == SASL_CONTINUE) {
        const char *reply = NULL;
        unsigned reply_len = 0;
        int rc = sasl_client_step(x->client, out, out_len, NULL, &reply, &reply_len);
        if (rc != SASL_OK && rc != SASL_CONTINUE) {
            snprintf(x->detail, sizeof x->detail, "client: %s", sasl_errdetail(x->client));
            return 0;
        }
        x->server_rc = sasl_server_step(x->server, reply, reply_len, &out, &out_len);
    }
    if (x->server_rc != SASL_OK)
        snprintf(x->detail, sizeof x->detail, "%s", sasl_errdetail(x->server));
    return 1;
}

static int run_exchange(exchange *x, const setup *s)
{
    char first[8192];
    unsigned first_len;
    return open_exchange(x, s) && client_first(x, first, &first_len, sizeof first) &&
           run_from(x, first, first_len);
}

/* ---- checks ------------------------------------------------------------------ */

static const char *code_name(int rc)
{
    switch (rc) {
    case SASL_OK: return "SASL_OK";
    case SASL_CONTINUE: return "SASL_CONTINUE";
    case SASL_FAIL: return "SASL_FAIL";
    case SASL_BADPROT: return "SASL_BADPROT";
    case SASL_BADAUTH: return "SASL_BADAUTH";
    case SASL_NOAUTHZ: return "SASL_NOAUTHZ";
    case SASL_TOOWEAK: return "SASL_TOOWEAK";
    case SASL_BADMAC: return "SASL_BADMAC";
    default: return "another code";
    }
}

/* Runs an exchange and checks the server's result and message. */
static int expect(const char *name, exchange *x, const setup *s, int want, const char *fragment)
{
    if (!run_exchange(x, s))
        return check(0, name, "%s", x->detail);
    if (x->server_rc != want)
        return check(0, name, "server gave %s (%d), want %s: %s", code_name(x->server_rc),
                     x->server_rc, code_name(want), x->detail);
    if (fragment != NULL && strstr(x->detail, fragment) == NULL)
        return check(0, name, "message lacks \"%s\": %s", fragment, x->detail);
    return check(1, name, NULL);
}

static void check_prop_string(const char *name, sasl_conn_t *conn, int prop, const char *want)
{
    const void *value = NULL;
    check_string(name, sasl_getprop(conn, prop, &value) == SASL_OK ? value : NULL, want);
}

static void check_ssf(const char *name, sasl_conn_t *conn, sasl_ssf_t want)
{
    const void *value = NULL;
    sasl_ssf_t got = sasl_getprop(conn, SASL_SSF, &value) == SASL_OK ? *(const sasl_ssf_t *)value
                                                                      : 9999;
    check(got == want, name, "SSF %u, want %u", got, want);
}

/* Sends `len` bytes from `from` to `to` through sasl_encode/sasl_decode,
 * handing the encoded stream to the receiver in `chunk`-byte pieces. */
static int carry(sasl_conn_t *from, sasl_conn_t *to, const char *data, unsigned len,
                 unsigned chunk, int *visible)
{
    const char *encoded = NULL;
    unsigned encoded_len = 0;
    if (sasl_encode(from, data, len, &encoded, &encoded_len) != SASL_OK)
        return 0;
    /* libsasl2 reuses its buffer: keep a copy of the stream. */
    char *stream = malloc(encoded_len);
    char *received = malloc(len + 1);
    unsigned got = 0, at = 0;
    int ok = stream != NULL && received != NULL;
    if (ok)
        memcpy(stream, encoded, encoded_len);
    *visible = ok && len >= 16 && memmem(stream, encoded_len, data, 16) != NULL;
    while (ok && at < encoded_len) {
        unsigned piece = encoded_len - at < chunk ? encoded_len - at : chunk;
        const char *out = NULL;
        unsigned out_len = 0;
        ok = sasl_decode(to, stream + at, piece, &out, &out_len) == SASL_OK &&
             got + out_len <= len;
        if (ok && out_len > 0)
            memcpy(received + got, out, out_len);
        got += out_len;
        at += piece;
    }
    ok = ok && got == len && memcmp(received, data, len) == 0;
    free(stream);
    free(received);
    return ok;
}

/* Data both ways through the layer: a short message, and one much larger
 * than the buffer sizes, cut in odd pieces. */
static void check_layer(const char *name, exchange *x, int want_visible)
{
    char label[256];
    static char big[200000];
    int visible = 0, ok = 1;
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)('a' + i % 23);
    const char *hello = "hello from the server, protected";
    ok = carry(x->server, x->client, hello, (unsigned)strlen(hello), 1000, &visible);
    snprintf(label, sizeof label, "%s: server -> client message round trip", name);
    check(ok, label, "sasl_encode/sasl_decode failed: %s", sasl_errdetail(x->client));
    snprintf(label, sizeof label, "%s: the plaintext is %s on the wire", name,
             want_visible ? "visible (integrity only)" : "not visible (encrypted)");
    check(visible == want_visible, label, NULL);
    ok = carry(x->client, x->server, big, sizeof big, 777, &visible);
    snprintf(label, sizeof label, "%s: client -> server 200,000 bytes in 777-byte pieces", name);
    check(ok, label, "%s", sasl_errdetail(x->server));
    ok = carry(x->server, x->client, big, sizeof big, 4096, &visible);
    snprintf(label, sizeof label, "%s: server -> client 200,000 bytes", name);
    check(ok, label, "%s", sasl_errdetail(x->client));
}

/* ---- cases ------------------------------------------------------------------- */

static int plugin_count, other_plugins;

static void count_plugins(server_sasl_mechanism_t *m, sasl_info_callback_stage_t stage, void *rock)
{
    (void)rock;
    if (stage != SASL_INFO_LIST_MECH || m == NULL || m->plug == NULL ||
        strcmp(m->plug->mech_name, "GSSAPI") != 0)
        return;
    plugin_count++;
    other_plugins += strcmp(m->plugname, "kerbsasl") != 0;
}

static void only_kerbsasl(void)
{
    plugin_count = other_plugins = 0;
    sasl_server_plugin_info("GSSAPI", count_plugins, NULL);
    check(plugin_count == 1 && other_plugins == 0,
          "the server's only GSSAPI mechanism is kerbsasl's (gssapiv2 is not loaded)",
          "%d GSSAPI mechanisms, %d not kerbsasl's", plugin_count, other_plugins);
}

static void no_layer(void)
{
    exchange x;
    setup s = {.client_max_ssf = 0};
    if (expect("no layer: authenticated", &x, &s, SASL_OK, NULL)) {
        check_prop_string("no layer: SASL_USERNAME is alice (as gssapiv2)", x.server,
                          SASL_USERNAME, "alice");
        check_prop_string("no layer: SASL_AUTHUSER is alice (as gssapiv2)", x.server,
                          SASL_AUTHUSER, "alice");
        check_ssf("no layer: SSF 0", x.server, 0);
    }
    close_exchange(&x);
}

/* The layer a client with `client_max_ssf` gets: its SSF, and data both
 * ways through it (the plaintext visible on the wire or not). */
static void layer(const char *name, sasl_ssf_t client_max_ssf, sasl_ssf_t want_ssf, int visible)
{
    char label[256];
    exchange x;
    setup s = {.client_max_ssf = client_max_ssf};
    snprintf(label, sizeof label, "%s: authenticated", name);
    if (expect(label, &x, &s, SASL_OK, NULL)) {
        snprintf(label, sizeof label, "%s: SSF %u", name, want_ssf);
        check_ssf(label, x.server, want_ssf);
        check_layer(name, &x, visible);
    }
    close_exchange(&x);
}

static void required_layer(void)
{
    exchange x;
    setup s = {.client_max_ssf = 256, .server_min_ssf = 56};
    if (expect("server min_ssf 56: the client's confidentiality meets it", &x, &s, SASL_OK, NULL))
        check_ssf("server min_ssf 56: SSF 256", x.server, 256);
    close_exchange(&x);
    setup weak = {.client_max_ssf = 0, .server_min_ssf = 56};
    expect("server min_ssf 56, client without a layer: SASL_TOOWEAK", &x, &weak, SASL_TOOWEAK,
           "requires a security layer with an SSF between 56 and 256");
    close_exchange(&x);
    setup none = {.client_max_ssf = 256, .server_max_ssf = (sasl_ssf_t)-1};
    if (expect("server max_ssf 0: authenticated", &x, &none, SASL_OK, NULL))
        check_ssf("server max_ssf 0: no layer although the client wants one", x.server, 0);
    close_exchange(&x);
}

static void authzids(void)
{
    exchange x;
    setup own = {.authzid = "alice"};
    if (expect("authzid alice: authenticated", &x, &own, SASL_OK, NULL)) {
        check_prop_string("authzid alice: SASL_USERNAME alice", x.server, SASL_USERNAME, "alice");
        /* The flags gssapiv2's server passes: a user store that lacks the
         * names (no auxprop plugin, or no entry) is not an error. */
        check(x.canon_calls == 2 &&
                  x.canon_flags[0] == (SASL_CU_AUTHZID | SASL_CU_EXTERNALLY_VERIFIED) &&
                  x.canon_flags[1] == (SASL_CU_AUTHID | SASL_CU_EXTERNALLY_VERIFIED),
              "authzid alice: canon_user gets gssapiv2's flags, authzid first",
              "%d calls, flags %#x then %#x", x.canon_calls, x.canon_flags[0], x.canon_flags[1]);
    }
    close_exchange(&x);
    setup none = {0};
    if (expect("no authzid: authenticated", &x, &none, SASL_OK, NULL))
        check(x.canon_calls == 1 &&
                  x.canon_flags[0] ==
                      (SASL_CU_AUTHID | SASL_CU_AUTHZID | SASL_CU_EXTERNALLY_VERIFIED),
              "no authzid: one canon_user call for authid and authzid, externally verified",
              "%d calls, flags %#x", x.canon_calls, x.canon_flags[0]);
    close_exchange(&x);
    setup other = {.authzid = "bob"};
    expect("authzid bob: refused by libsasl2's default policy (SASL_BADAUTH)", &x, &other,
           SASL_BADAUTH, "Requested identity not authenticated identity");
    close_exchange(&x);
    setup rejecting = {.authzid = "alice", .options = "kerbsasl_authzid=reject"};
    expect("kerbsasl_authzid=reject: any authzid refused (SASL_NOAUTHZ)", &x, &rejecting,
           SASL_NOAUTHZ, "authzid = reject allows none");
    close_exchange(&x);
}

static void failures(void)
{
    exchange x;
    setup other_service = {.service = "other"};
    expect("ticket for another service: SASL_BADAUTH", &x, &other_service, SASL_BADAUTH,
           "kerbsasl: Kerberos rejected the client");
    close_exchange(&x);

    setup plain = {.client_max_ssf = 0};
    char first[8192];
    unsigned first_len = 0;
    if (open_exchange(&x, &plain) && client_first(&x, first, &first_len, sizeof first) &&
        run_from(&x, first, first_len)) {
        exchange replay;
        open_exchange(&replay, &plain);
        run_from(&replay, first, first_len);
        check(replay.server_rc == SASL_BADAUTH && strstr(replay.detail, "Request is a replay"),
              "the same AP-REQ twice: SASL_BADAUTH, \"Request is a replay\"", "%s: %s",
              code_name(replay.server_rc), replay.detail);
        close_exchange(&replay);
    }
    close_exchange(&x);

    if (open_exchange(&x, &plain)) {
        run_from(&x, "garbage", 7);
        check(x.server_rc == SASL_BADPROT && strstr(x.detail, "not a GSSAPI token"),
              "garbage first message: SASL_BADPROT", "%s: %s", code_name(x.server_rc), x.detail);
    }
    close_exchange(&x);
}

static void options_from_the_application(void)
{
    exchange x;
    setup full = {.options = "kerbsasl_strip_realm=false"};
    char alice[128];
    snprintf(alice, sizeof alice, "alice@%s", fixture_realm());
    if (expect("getopt kerbsasl_strip_realm=false: authenticated", &x, &full, SASL_OK, NULL))
        check_prop_string("kerbsasl_strip_realm=false: SASL_USERNAME is the principal", x.server,
                          SASL_USERNAME, alice);
    close_exchange(&x);
    setup bad = {.options = "kerbsasl_strip_realm=maybe"};
    expect("getopt kerbsasl_strip_realm=maybe: sasl_server_start fails with SASL_FAIL", &x, &bad,
           SASL_FAIL, "\"strip_realm\" must be true or false");
    check(strstr(x.detail, APP ".conf") != NULL, "the bad option's message names " APP ".conf",
          "%s", x.detail);
    close_exchange(&x);
}

typedef struct {
    const char *options;
    int failures;
    char detail[1024];
} worker;

enum { THREADS = 4, PER_THREAD = 25 };

static void *work(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        exchange x;
        setup s = {.client_max_ssf = i % 3 == 0 ? 0 : 256, .options = w->options};
        if (!run_exchange(&x, &s) || x.server_rc != SASL_OK) {
            if (w->failures++ == 0)
                snprintf(w->detail, sizeof w->detail, "%s", x.detail);
        }
        close_exchange(&x);
    }
    return NULL;
}

static void threads(const char *replay_cache)
{
    char options[128];
    pthread_t tids[THREADS];
    worker workers[THREADS];
    snprintf(options, sizeof options, "kerbsasl_replay_cache=%s", replay_cache);
    int before = server_log.ready_lines;
    for (int t = 0; t < THREADS; t++) {
        workers[t] = (worker){replay_cache[0] ? options : NULL, 0, ""};
        pthread_create(&tids[t], NULL, work, &workers[t]);
    }
    int failed = 0;
    const char *detail = "";
    for (int t = 0; t < THREADS; t++) {
        pthread_join(tids[t], NULL);
        if (workers[t].failures && !failed)
            detail = workers[t].detail;
        failed += workers[t].failures;
    }
    check(failed == 0, "4 threads x 25 handshakes on one shared plugin", "%d failed: %s", failed,
          detail);
    check(server_log.ready_lines - before <= 1,
          "the threads share one kerbsasl server for their configuration",
          "%d servers made", server_log.ready_lines - before);
}

static void one_server_per_configuration(void)
{
    /* Every case so far used the conf file's configuration or one of
     * three getopt variants (strip_realm=false, authzid=reject, the
     * threads' replay cache): one server each, never one per connection.
     * (The bad strip_realm value makes no server.) */
    check(server_log.ready_lines >= 1 && server_log.ready_lines <= 4,
          "one kerbsasl server per distinct configuration", "%d servers made for 4 configurations",
          server_log.ready_lines);
}

/* The conf file is read at sasl_server_init: restart libsasl2 with a bad
 * one, then a good one. */
static void bad_conf_file(void)
{
    exchange x;
    setup s = {0};
    sasl_server_done();
    write_conf("kerbsasl_allowed_realms: A,,B\n");
    start_sasl();
    expect(APP ".conf with a bad kerbsasl_allowed_realms: SASL_FAIL with kerbsasl's message", &x,
           &s, SASL_FAIL, "\"allowed_realms\" must be a comma-separated list");
    close_exchange(&x);
    sasl_server_done();
    write_conf("kerbsasl_principal: mqtt/" HOST "@NOT.HERE\n");
    start_sasl();
    expect(APP ".conf naming a principal the keytab lacks: SASL_FAIL", &x, &s, SASL_FAIL,
           "has no key for mqtt/" HOST "@NOT.HERE");
    close_exchange(&x);
    sasl_server_done();
    write_conf("");
    start_sasl();
    expect("restarted with a good " APP ".conf: authenticated", &x, &s, SASL_OK, NULL);
    close_exchange(&x);
}

/* An application's global getopt callback (what libsasl2 asks instead of
 * the conf file) that runs a whole SASL exchange of its own the first time
 * the plugin asks it something: the plugin must not call it under a lock
 * that the nested exchange needs too. */
static int nested_done, nested_rc = -1;
static char nested_detail[1024];

static int reentrant_getopt(void *context, const char *plugin, const char *option,
                            const char **result, unsigned *len)
{
    static char keytab[512];
    (void)context;
    (void)plugin;
    if (!nested_done && strncmp(option, "kerbsasl_", 9) == 0) {
        exchange x;
        setup s = {0};
        nested_done = 1;
        run_exchange(&x, &s);
        nested_rc = x.server_rc;
        snprintf(nested_detail, sizeof nested_detail, "%s", x.detail);
        close_exchange(&x);
    }
    if (strcmp(option, "keytab") != 0)
        return SASL_FAIL;
    fixture_path(keytab, sizeof keytab, "mqtt.keytab");
    *result = keytab;
    if (len != NULL)
        *len = (unsigned)strlen(keytab);
    return SASL_OK;
}

static const sasl_callback_t reentrant_globals[] = {
    {SASL_CB_GETOPT, SASL_CB(reentrant_getopt), NULL},
    {SASL_CB_LIST_END, NULL, NULL},
};

/* A log callback the host sets itself (kerbsasl_set_log_callback) is never
 * taken over by the plugin: set after libsasl2 loaded the plugin, it
 * replaces the plugin's routing and outlives sasl_server_done; set before,
 * the plugin leaves it alone. */
static void host_log_callback_wins(void)
{
    exchange x;
    setup s = {0};
    kerbsasl_set_log_callback(host_log_cb, &host_log, KERBSASL_LOG_INFO);
    sasl_server_done();
    kerbsasl_server_free(default_server(NULL));
    check(host_log.ready_lines == 1,
          "a log callback set after the plugin loaded still gets records after sasl_server_done",
          "%d \"kerbsasl server ready\" records, last: %s", host_log.ready_lines, host_log.last);

    int sasl_log_before = server_log.ready_lines;
    int rc = sasl_server_init(reentrant_globals, APP);
    if (rc != SASL_OK)
        check_fatal("restart", "sasl_server_init: %s", sasl_errstring(rc, NULL, NULL));
    expect("restarted with the host's log callback set: authenticated", &x, &s, SASL_OK, NULL);
    close_exchange(&x);
    check(nested_done && nested_rc == SASL_OK,
          "an application getopt callback may run an exchange of its own (no plugin lock held)",
          "nested exchange: %s: %s", code_name(nested_rc), nested_detail);
    check(host_log.ready_lines > 1 && server_log.ready_lines == sasl_log_before,
          "a log callback set before libsasl2 loads the plugin keeps kerbsasl's records",
          "%d to the callback, %d to the SASL log", host_log.ready_lines - 1,
          server_log.ready_lines - sasl_log_before);
    kerbsasl_set_log_callback(NULL, NULL, KERBSASL_LOG_OFF);
}

int main(int argc, char **argv)
{
    fixture_init();
    setup_dirs();
    acquire_client_cred();
    start_sasl();
    int rc = sasl_client_init(client_globals);
    if (rc != SASL_OK)
        check_fatal("setup", "sasl_client_init: %s", sasl_errstring(rc, NULL, NULL));

    only_kerbsasl();
    no_layer();
    layer("integrity", 1, 1, 1);
    layer("confidentiality (aes256-cts)", 256, 256, 0);
    required_layer();
    authzids();
    failures();
    options_from_the_application();
    threads(argc > 1 ? argv[1] : "");
    one_server_per_configuration();
    bad_conf_file();
    host_log_callback_wins();

    OM_uint32 minor;
    gss_release_cred(&minor, &client_cred);
    sasl_server_done();
    sasl_client_done();
    return check_exit_status();
}

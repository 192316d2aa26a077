/*
 * kerbsasl_nif: the NIF behind kerbsasl.erl, a thin wrapper over the
 * kerbsasl C ABI (include/kerbsasl.h). It adds what the BEAM needs and the
 * C ABI leaves to the host: resource types with destructors, a mutex per
 * session (the C ABI allows one thread per session at a time; Erlang lets
 * any process that holds the term call in), and {error, {Code, Message}}.
 *
 * kerbsasl.erl only turns the option map into [{binary(), binary()}];
 * every argument, that list included, is type-checked here, so that no
 * call can crash the VM: a wrong type is badarg.
 */
#include <erl_nif.h>
#include <kerbsasl.h>

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

/*
 * Scheduling, from the measurements in README.md ("Scheduling"):
 * server_start/2 and http_authenticate/2 run on a dirty I/O scheduler:
 * they write the replay cache (open, exclusive file lock, write: they wait
 * for any other process using the same file) and stat, sometimes reload,
 * the keytab, so their latency is the file system's. server_step/2 stays
 * on normal schedulers: it is in-memory crypto, p99 well under 100 us, and
 * the dirty hand-off would double its cost. Override either with
 * -D..._FLAGS=0 or =ERL_NIF_DIRTY_JOB_IO_BOUND to repeat the measurement
 * (START_FLAGS covers http_authenticate/2 too).
 */
#ifndef KERBSASL_NIF_START_FLAGS
#define KERBSASL_NIF_START_FLAGS ERL_NIF_DIRTY_JOB_IO_BOUND
#endif
#ifndef KERBSASL_NIF_STEP_FLAGS
#define KERBSASL_NIF_STEP_FLAGS 0
#endif

/* A configured server; immutable and thread-safe, so no lock. */
typedef struct {
    kerbsasl_server *server;
} server_resource;

/* A session; `session` is NULL once disposed. `lock` guards `session` and
 * the output and strings it lends out. Only short in-memory calls (step,
 * identity, dispose) hold it, so waiting for it on a normal scheduler is
 * bounded by one of them; start never takes it (nobody else can see a
 * session before start returns it). */
typedef struct {
    ErlNifMutex *lock;
    kerbsasl_session *session;
} session_resource;

static ErlNifResourceType *server_type;
static ErlNifResourceType *session_type;

/* Sessions neither disposed nor garbage-collected yet (live_sessions/0),
 * so that tests and brokers can see that destructors run. */
static atomic_long live_sessions;

static ERL_NIF_TERM atom_ok, atom_error, atom_continue, atom_closed,
    atom_undefined, atom_enomem, atom_principal, atom_username, atom_realm,
    atom_authzid, atom_bad_token, atom_auth_failed, atom_authz_denied,
    atom_config, atom_bad_state, atom_invalid_argument, atom_internal;

/* ---- terms ---------------------------------------------------------- */

/* Copies bytes into a new binary; 0 if the VM could not allocate it. */
static int copy_binary(ErlNifEnv *env, const void *data, size_t len, ERL_NIF_TERM *out)
{
    unsigned char *bytes = enif_make_new_binary(env, len, out);
    if (bytes == NULL)
        return 0;
    if (len > 0)
        memcpy(bytes, data, len);
    return 1;
}

/* The atom for a failure code. Codes this NIF does not know (from a newer
 * library) are reported as internal rather than dropped. */
static ERL_NIF_TERM code_atom(uint32_t code)
{
    switch (code) {
    case KERBSASL_BAD_TOKEN: return atom_bad_token;
    case KERBSASL_AUTH_FAILED: return atom_auth_failed;
    case KERBSASL_AUTHZ_DENIED: return atom_authz_denied;
    case KERBSASL_CONFIG: return atom_config;
    case KERBSASL_BAD_STATE: return atom_bad_state;
    case KERBSASL_INVALID_ARGUMENT: return atom_invalid_argument;
    default: return atom_internal;
    }
}

/* {error, {Code, Message}}. A NULL message (the library gave none) becomes
 * the code's name, so the caller always gets a binary. */
static ERL_NIF_TERM error_tuple(ErlNifEnv *env, uint32_t code, const char *message)
{
    ERL_NIF_TERM text;
    if (message == NULL)
        message = kerbsasl_result_str(code);
    if (!copy_binary(env, message, strlen(message), &text))
        return enif_raise_exception(env, atom_enomem);
    return enif_make_tuple2(env, atom_error,
                            enif_make_tuple2(env, code_atom(code), text));
}

/* ---- resources ------------------------------------------------------ */

static void server_destructor(ErlNifEnv *env, void *object)
{
    (void)env;
    kerbsasl_server_free(((server_resource *)object)->server);
}

/* Frees a session (if any) and keeps the live count right. */
static void dispose_session(kerbsasl_session *session)
{
    if (session == NULL)
        return;
    kerbsasl_dispose(session);
    atomic_fetch_sub(&live_sessions, 1);
}

/* Runs once no term refers to the resource, so nothing else holds the lock. */
static void session_destructor(ErlNifEnv *env, void *object)
{
    session_resource *resource = object;
    (void)env;
    dispose_session(resource->session);
    resource->session = NULL;
    if (resource->lock != NULL)
        enif_mutex_destroy(resource->lock);
}

/* A zeroed session resource with its lock, or NULL. The caller owns one
 * reference (enif_release_resource). */
static session_resource *new_session_resource(void)
{
    session_resource *resource = enif_alloc_resource(session_type, sizeof *resource);
    if (resource == NULL)
        return NULL;
    /* The destructor must see NULLs if anything below fails. */
    memset(resource, 0, sizeof *resource);
    resource->lock = enif_mutex_create("kerbsasl_session");
    if (resource->lock == NULL) {
        enif_release_resource(resource);
        return NULL;
    }
    return resource;
}

/* ---- server_new ----------------------------------------------------- */

/* Option strings for kerbsasl_server_new, all enif_alloc'd. */
typedef struct {
    unsigned count;
    char **keys;
    char **values;
} options;

/* enif_free is not documented to accept NULL. */
static void free_if_set(void *pointer)
{
    if (pointer != NULL)
        enif_free(pointer);
}

static void options_free(options *opts)
{
    for (unsigned i = 0; i < opts->count; i++) {
        free_if_set(opts->keys[i]);
        free_if_set(opts->values[i]);
    }
    free_if_set(opts->keys);
    free_if_set(opts->values);
}

/* A NUL-terminated copy of a binary; NULL if out of memory. */
static char *binary_to_string(const ErlNifBinary *bin)
{
    char *text = enif_alloc(bin->size + 1);
    if (text == NULL)
        return NULL;
    if (bin->size > 0)
        memcpy(text, bin->data, bin->size);
    text[bin->size] = '\0';
    return text;
}

typedef enum { PAIRS_OK, PAIRS_BADARG, PAIRS_NUL, PAIRS_ENOMEM } pairs_status;

/* Reads one {Key, Value} pair of binaries into slot `index`. */
static pairs_status read_pair(ErlNifEnv *env, ERL_NIF_TERM pair, options *opts, unsigned index)
{
    const ERL_NIF_TERM *items;
    int arity;
    ErlNifBinary key, value;
    if (!enif_get_tuple(env, pair, &arity, &items) || arity != 2 ||
        !enif_inspect_binary(env, items[0], &key) ||
        !enif_inspect_binary(env, items[1], &value))
        return PAIRS_BADARG;
    /* A C string would silently end at the NUL: refuse instead. */
    if (memchr(key.data, 0, key.size) || memchr(value.data, 0, value.size))
        return PAIRS_NUL;
    opts->keys[index] = binary_to_string(&key);
    opts->values[index] = binary_to_string(&value);
    opts->count = index + 1; /* so options_free frees this slot too */
    if (opts->keys[index] == NULL || opts->values[index] == NULL)
        return PAIRS_ENOMEM;
    return PAIRS_OK;
}

/* Reads a list of {Key, Value} binaries (kerbsasl.erl normalises the map). */
static pairs_status read_pairs(ErlNifEnv *env, ERL_NIF_TERM list, options *opts)
{
    unsigned length;
    ERL_NIF_TERM head;
    memset(opts, 0, sizeof *opts);
    if (!enif_get_list_length(env, list, &length))
        return PAIRS_BADARG;
    if (length == 0)
        return PAIRS_OK;
    /* enif_alloc's result is unspecified: zero it so options_free is safe. */
    opts->keys = enif_alloc(length * sizeof(char *));
    opts->values = enif_alloc(length * sizeof(char *));
    if (opts->keys == NULL || opts->values == NULL)
        return PAIRS_ENOMEM;
    memset(opts->keys, 0, length * sizeof(char *));
    memset(opts->values, 0, length * sizeof(char *));
    for (unsigned i = 0; i < length; i++) {
        if (!enif_get_list_cell(env, list, &head, &list))
            return PAIRS_BADARG;
        pairs_status status = read_pair(env, head, opts, i);
        if (status != PAIRS_OK)
            return status;
    }
    return PAIRS_OK;
}

/* Wraps a new server in a resource term, or frees it on failure. */
static ERL_NIF_TERM server_term(ErlNifEnv *env, kerbsasl_server *server)
{
    server_resource *resource = enif_alloc_resource(server_type, sizeof *resource);
    if (resource == NULL) {
        kerbsasl_server_free(server);
        return error_tuple(env, KERBSASL_INTERNAL, "out of memory for the server resource");
    }
    resource->server = server;
    ERL_NIF_TERM term = enif_make_resource(env, resource);
    enif_release_resource(resource); /* the term now holds it */
    return enif_make_tuple2(env, atom_ok, term);
}

/* server_new_nif([{Key :: binary(), Value :: binary()}]) */
static ERL_NIF_TERM server_new_nif(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    options opts;
    kerbsasl_server *server = NULL;
    ERL_NIF_TERM result;
    (void)argc;
    pairs_status status = read_pairs(env, argv[0], &opts);
    if (status == PAIRS_OK) {
        uint32_t code = kerbsasl_server_new((const char *const *)opts.keys,
                                            (const char *const *)opts.values, opts.count,
                                            &server);
        /* Read the thread-local message before anything can replace it. */
        result = code == KERBSASL_OK ? server_term(env, server)
                                     : error_tuple(env, code, kerbsasl_last_error());
    } else if (status == PAIRS_BADARG) {
        result = enif_make_badarg(env);
    } else if (status == PAIRS_NUL) {
        result = error_tuple(env, KERBSASL_CONFIG, "an option key or value contains a NUL byte");
    } else {
        result = error_tuple(env, KERBSASL_INTERNAL, "out of memory for the options");
    }
    options_free(&opts);
    return result;
}

/* ---- server_start / server_step ------------------------------------- */

/* {continue, Out} or {ok, Out} for a successful code. */
static int outcome(ErlNifEnv *env, uint32_t code, const uint8_t *out, size_t out_len,
                   ERL_NIF_TERM *tag, ERL_NIF_TERM *binary)
{
    *tag = code == KERBSASL_CONTINUE ? atom_continue : atom_ok;
    return copy_binary(env, out, out_len, binary);
}

/* server_start(Server, ClientToken) */
static ERL_NIF_TERM server_start_nif(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    server_resource *server;
    ErlNifBinary token;
    const uint8_t *out = NULL;
    size_t out_len = 0;
    ERL_NIF_TERM tag, binary, result;
    (void)argc;
    if (!enif_get_resource(env, argv[0], server_type, (void **)&server) ||
        !enif_inspect_binary(env, argv[1], &token))
        return enif_make_badarg(env);
    session_resource *resource = new_session_resource();
    if (resource == NULL)
        return error_tuple(env, KERBSASL_INTERNAL, "out of memory for the session resource");
    /* Nobody else can see the resource yet: no lock needed. */
    uint32_t code = kerbsasl_server_start(server->server, token.data, token.size,
                                          &resource->session, &out, &out_len);
    if (code != KERBSASL_CONTINUE && code != KERBSASL_OK) {
        result = error_tuple(env, code, kerbsasl_last_error());
    } else {
        atomic_fetch_add(&live_sessions, 1);
        if (outcome(env, code, out, out_len, &tag, &binary))
            result = enif_make_tuple3(env, tag, binary, enif_make_resource(env, resource));
        else
            result = enif_raise_exception(env, atom_enomem);
    }
    /* On failure this runs the destructor, which disposes any session. */
    enif_release_resource(resource);
    return result;
}

/* The message for a failed step: the session's own, else the thread's. */
static const char *step_error(const kerbsasl_session *session)
{
    const char *message = kerbsasl_session_error(session);
    return message != NULL ? message : kerbsasl_last_error();
}

/* server_step(Session, In) */
static ERL_NIF_TERM server_step_nif(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    session_resource *resource;
    ErlNifBinary input;
    const uint8_t *out = NULL;
    size_t out_len = 0;
    ERL_NIF_TERM tag, binary, result;
    (void)argc;
    if (!enif_get_resource(env, argv[0], session_type, (void **)&resource) ||
        !enif_inspect_binary(env, argv[1], &input))
        return enif_make_badarg(env);
    enif_mutex_lock(resource->lock);
    if (resource->session == NULL) {
        enif_mutex_unlock(resource->lock);
        return enif_make_tuple2(env, atom_error, atom_closed);
    }
    uint32_t code = kerbsasl_server_step(resource->session, input.data, input.size, &out, &out_len);
    /* The output and message are borrowed from the session: copy them
     * before another process can step or dispose it. */
    if (code != KERBSASL_CONTINUE && code != KERBSASL_OK)
        result = error_tuple(env, code, step_error(resource->session));
    else if (outcome(env, code, out, out_len, &tag, &binary))
        result = enif_make_tuple2(env, tag, binary);
    else
        result = enif_raise_exception(env, atom_enomem);
    enif_mutex_unlock(resource->lock);
    return result;
}

/* ---- http_authenticate ---------------------------------------------- */

/* The Authorization header: a binary, or `undefined` for none (NULL, 0). */
static int authorization_header(ErlNifEnv *env, ERL_NIF_TERM term, ErlNifBinary *header)
{
    if (enif_is_identical(term, atom_undefined)) {
        header->data = NULL;
        header->size = 0;
        return 1;
    }
    return enif_inspect_binary(env, term, header);
}

/* {ok, WwwAuthenticate | undefined, Session}: wraps an authenticated
 * session in a resource, or disposes it on failure. `www` is borrowed
 * from the session. */
static ERL_NIF_TERM http_ok(ErlNifEnv *env, kerbsasl_session *session, const char *www,
                            size_t www_len)
{
    ERL_NIF_TERM value = atom_undefined, result;
    session_resource *resource = new_session_resource();
    if (resource == NULL) {
        kerbsasl_dispose(session);
        return error_tuple(env, KERBSASL_INTERNAL, "out of memory for the session resource");
    }
    resource->session = session;
    atomic_fetch_add(&live_sessions, 1);
    if (www == NULL || copy_binary(env, www, www_len, &value))
        result = enif_make_tuple3(env, atom_ok, value, enif_make_resource(env, resource));
    else
        result = enif_raise_exception(env, atom_enomem);
    /* Without a term, this runs the destructor, which disposes the session. */
    enif_release_resource(resource);
    return result;
}

/* http_authenticate(Server, Authorization :: binary() | undefined)
 * Runs where server_start does: a Kerberos token means an accept, with
 * the same replay cache and keytab I/O. The resource is made only on
 * success: most requests without credentials just get the challenge. */
static ERL_NIF_TERM http_authenticate_nif(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    server_resource *server;
    ErlNifBinary header;
    kerbsasl_session *session = NULL;
    const char *www = NULL;
    size_t www_len = 0;
    ERL_NIF_TERM challenge;
    (void)argc;
    if (!enif_get_resource(env, argv[0], server_type, (void **)&server) ||
        !authorization_header(env, argv[1], &header))
        return enif_make_badarg(env);
    uint32_t code = kerbsasl_http_authenticate(server->server, (const char *)header.data,
                                               header.size, &session, &www, &www_len);
    if (code == KERBSASL_OK)
        return http_ok(env, session, www, www_len);
    if (code != KERBSASL_CONTINUE)
        return error_tuple(env, code, kerbsasl_last_error());
    /* www is the static "Negotiate". */
    if (!copy_binary(env, www, www_len, &challenge))
        return enif_raise_exception(env, atom_enomem);
    return enif_make_tuple2(env, atom_continue, challenge);
}

/* ---- identity / dispose --------------------------------------------- */

/* A binary copy of `text`, or `undefined` for NULL. */
static int optional_string(ErlNifEnv *env, const char *text, ERL_NIF_TERM *out)
{
    if (text == NULL) {
        *out = atom_undefined;
        return 1;
    }
    return copy_binary(env, text, strlen(text), out);
}

/* #{principal, username, realm, authzid} of an authenticated session. */
static ERL_NIF_TERM identity_map(ErlNifEnv *env, const kerbsasl_session *session)
{
    ERL_NIF_TERM keys[4] = {atom_principal, atom_username, atom_realm, atom_authzid};
    ERL_NIF_TERM values[4], map;
    if (!optional_string(env, kerbsasl_session_principal(session), &values[0]) ||
        !optional_string(env, kerbsasl_session_username(session), &values[1]) ||
        !optional_string(env, kerbsasl_session_realm(session), &values[2]) ||
        !optional_string(env, kerbsasl_session_authzid(session), &values[3]) ||
        !enif_make_map_from_arrays(env, keys, values, 4, &map))
        return enif_raise_exception(env, atom_enomem);
    return map;
}

/* identity(Session) */
static ERL_NIF_TERM identity_nif(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    session_resource *resource;
    ERL_NIF_TERM result;
    (void)argc;
    if (!enif_get_resource(env, argv[0], session_type, (void **)&resource))
        return enif_make_badarg(env);
    enif_mutex_lock(resource->lock);
    if (resource->session == NULL)
        result = enif_make_tuple2(env, atom_error, atom_closed);
    else if (kerbsasl_session_principal(resource->session) == NULL)
        /* Only KERBSASL_OK sets an identity; never hand out a partial one. */
        result = error_tuple(env, KERBSASL_BAD_STATE,
                             "no identity: the handshake has not finished with ok");
    else
        result = identity_map(env, resource->session);
    enif_mutex_unlock(resource->lock);
    return result;
}

/* dispose(Session): idempotent. */
static ERL_NIF_TERM dispose_nif(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    session_resource *resource;
    (void)argc;
    if (!enif_get_resource(env, argv[0], session_type, (void **)&resource))
        return enif_make_badarg(env);
    enif_mutex_lock(resource->lock);
    kerbsasl_session *session = resource->session;
    resource->session = NULL;
    enif_mutex_unlock(resource->lock);
    dispose_session(session);
    return atom_ok;
}

/* live_sessions() */
static ERL_NIF_TERM live_sessions_nif(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    (void)argv;
    return enif_make_long(env, atomic_load(&live_sessions));
}

/* version() */
static ERL_NIF_TERM version_nif(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    const char *version = kerbsasl_version();
    ERL_NIF_TERM binary;
    (void)argc;
    (void)argv;
    if (!copy_binary(env, version, strlen(version), &binary))
        return enif_raise_exception(env, atom_enomem);
    return binary;
}

/* ---- loading -------------------------------------------------------- */

static void make_atoms(ErlNifEnv *env)
{
    atom_ok = enif_make_atom(env, "ok");
    atom_error = enif_make_atom(env, "error");
    atom_continue = enif_make_atom(env, "continue");
    atom_closed = enif_make_atom(env, "closed");
    atom_undefined = enif_make_atom(env, "undefined");
    atom_enomem = enif_make_atom(env, "enomem");
    atom_principal = enif_make_atom(env, "principal");
    atom_username = enif_make_atom(env, "username");
    atom_realm = enif_make_atom(env, "realm");
    atom_authzid = enif_make_atom(env, "authzid");
    atom_bad_token = enif_make_atom(env, "bad_token");
    atom_auth_failed = enif_make_atom(env, "auth_failed");
    atom_authz_denied = enif_make_atom(env, "authz_denied");
    atom_config = enif_make_atom(env, "config");
    atom_bad_state = enif_make_atom(env, "bad_state");
    atom_invalid_argument = enif_make_atom(env, "invalid_argument");
    atom_internal = enif_make_atom(env, "internal");
}

/* The loaded library must have the ABI major version this NIF was built
 * against: "1.x.y" starts with "1.". */
static int library_compatible(void)
{
    char prefix[16];
    int len = snprintf(prefix, sizeof prefix, "%d.", KERBSASL_VERSION_MAJOR);
    return len > 0 && (size_t)len < sizeof prefix &&
           strncmp(kerbsasl_version(), prefix, (size_t)len) == 0;
}

/* Opens (or, on upgrade, takes over) both resource types. */
static int open_types(ErlNifEnv *env)
{
    ErlNifResourceFlags flags = ERL_NIF_RT_CREATE | ERL_NIF_RT_TAKEOVER;
    server_type = enif_open_resource_type(env, NULL, "kerbsasl_server", server_destructor,
                                          flags, NULL);
    session_type = enif_open_resource_type(env, NULL, "kerbsasl_session", session_destructor,
                                           flags, NULL);
    if (server_type == NULL || session_type == NULL || !library_compatible())
        return -1;
    make_atoms(env);
    return 0;
}

static int load(ErlNifEnv *env, void **priv_data, ERL_NIF_TERM load_info)
{
    (void)priv_data;
    (void)load_info;
    return open_types(env);
}

static int upgrade(ErlNifEnv *env, void **priv_data, void **old_priv_data, ERL_NIF_TERM load_info)
{
    (void)priv_data;
    (void)old_priv_data;
    (void)load_info;
    return open_types(env);
}

static ErlNifFunc functions[] = {
    /* Loads the keytab: file I/O, and rare enough that dirty costs nothing. */
    {"server_new_nif", 1, server_new_nif, ERL_NIF_DIRTY_JOB_IO_BOUND},
    {"server_start", 2, server_start_nif, KERBSASL_NIF_START_FLAGS},
    {"server_step", 2, server_step_nif, KERBSASL_NIF_STEP_FLAGS},
    {"http_authenticate", 2, http_authenticate_nif, KERBSASL_NIF_START_FLAGS},
    {"identity", 1, identity_nif, 0},
    {"dispose", 1, dispose_nif, 0},
    {"live_sessions", 0, live_sessions_nif, 0},
    {"version", 0, version_nif, 0},
};

ERL_NIF_INIT(kerbsasl, functions, load, NULL, upgrade, NULL)

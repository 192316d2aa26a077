/*
 * kerbsasl_test_client_nif: test-only NIF over c-tests/common/gss_test_client.c,
 * so that the EUnit suite feeds kerbsasl real initiator tokens from MIT
 * GSSAPI (raw Kerberos V5, or SPNEGO as HTTP clients send). Every
 * function may read the ccache or ask the KDC for a service ticket, so
 * all run on dirty I/O schedulers.
 */
/* F_OFD_SETLK (lock_file/2) is a GNU extension. */
#define _GNU_SOURCE
#include <erl_nif.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "gss_test_client.h"

/* `lock` because any process holding the term may call in; `client` is
 * not thread-safe. */
typedef struct {
    ErlNifMutex *lock;
    gss_test_client *client;
} client_resource;

static ErlNifResourceType *client_type;
static ERL_NIF_TERM atom_ok, atom_error, atom_enomem, atom_true, atom_false;

static void client_destructor(ErlNifEnv *env, void *object)
{
    client_resource *resource = object;
    (void)env;
    gss_test_client_free(resource->client);
    if (resource->lock != NULL)
        enif_mutex_destroy(resource->lock);
}

/* {error, Message} with a binary message. */
static ERL_NIF_TERM error_message(ErlNifEnv *env, const char *message)
{
    ERL_NIF_TERM binary;
    size_t len = strlen(message);
    unsigned char *bytes = enif_make_new_binary(env, len, &binary);
    if (bytes == NULL)
        return enif_raise_exception(env, atom_enomem);
    memcpy(bytes, message, len);
    return enif_make_tuple2(env, atom_error, binary);
}

/* {ok, Token} from a malloc'd token, which it frees. */
static ERL_NIF_TERM ok_token(ErlNifEnv *env, uint8_t *token, size_t len)
{
    ERL_NIF_TERM binary;
    unsigned char *bytes = enif_make_new_binary(env, len, &binary);
    if (bytes != NULL && len > 0)
        memcpy(bytes, token, len);
    free(token);
    if (bytes == NULL)
        return enif_raise_exception(env, atom_enomem);
    return enif_make_tuple2(env, atom_ok, binary);
}

/* A NUL-terminated copy of a binary without NULs; NULL otherwise. */
static char *c_string(ErlNifEnv *env, ERL_NIF_TERM term)
{
    ErlNifBinary bin;
    if (!enif_inspect_binary(env, term, &bin) || memchr(bin.data, 0, bin.size) != NULL)
        return NULL;
    char *text = enif_alloc(bin.size + 1);
    if (text == NULL)
        return NULL;
    if (bin.size > 0)
        memcpy(text, bin.data, bin.size);
    text[bin.size] = '\0';
    return text;
}

static void free_if_set(void *pointer)
{
    if (pointer != NULL)
        enif_free(pointer);
}

/* Stores a new client in a resource term ({ok, Client}), or frees it. */
static ERL_NIF_TERM client_term(ErlNifEnv *env, gss_test_client *client)
{
    client_resource *resource = enif_alloc_resource(client_type, sizeof *resource);
    if (resource == NULL) {
        gss_test_client_free(client);
        return error_message(env, "out of memory");
    }
    resource->client = client;
    resource->lock = enif_mutex_create("kerbsasl_test_client");
    if (resource->lock == NULL) {
        enif_release_resource(resource); /* the destructor frees the client */
        return error_message(env, "cannot create a mutex");
    }
    ERL_NIF_TERM term = enif_make_resource(env, resource);
    enif_release_resource(resource);
    return enif_make_tuple2(env, atom_ok, term);
}

/* new(Target :: binary(), Mutual :: boolean(), Authzid :: binary()), or
 * with argc 2, new_spnego(Target, Mutual) */
static ERL_NIF_TERM new_nif(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    char err[512];
    ERL_NIF_TERM result;
    int spnego = argc == 2;
    if (enif_compare(argv[1], atom_true) != 0 && enif_compare(argv[1], atom_false) != 0)
        return enif_make_badarg(env);
    char *target = c_string(env, argv[0]);
    char *authzid = spnego ? NULL : c_string(env, argv[2]);
    if (target == NULL || (!spnego && authzid == NULL)) {
        result = enif_make_badarg(env);
    } else {
        int mutual = enif_compare(argv[1], atom_true) == 0;
        gss_test_client *client =
            spnego ? gss_test_client_new_spnego(NULL, target, mutual, err, sizeof err)
                   : gss_test_client_new(NULL, target, mutual, authzid[0] ? authzid : NULL, err,
                                         sizeof err);
        result = client != NULL ? client_term(env, client) : error_message(env, err);
    }
    free_if_set(target);
    free_if_set(authzid);
    return result;
}

typedef enum { CALL_INITIAL, CALL_RESPOND, CALL_WRAP } call_kind;

/* Runs one client call under the resource's lock. */
static ERL_NIF_TERM call(ErlNifEnv *env, const ERL_NIF_TERM argv[], call_kind kind)
{
    client_resource *resource;
    ErlNifBinary input = {0};
    uint8_t *out = NULL;
    size_t out_len = 0;
    int rc;
    ERL_NIF_TERM result;
    if (!enif_get_resource(env, argv[0], client_type, (void **)&resource) ||
        (kind != CALL_INITIAL && !enif_inspect_binary(env, argv[1], &input)))
        return enif_make_badarg(env);
    enif_mutex_lock(resource->lock);
    if (kind == CALL_INITIAL)
        rc = gss_test_client_initial(resource->client, &out, &out_len);
    else if (kind == CALL_RESPOND)
        rc = gss_test_client_respond(resource->client, input.data, input.size, &out, &out_len);
    else
        rc = gss_test_client_wrap(resource->client, input.data, input.size, &out, &out_len);
    result = rc == 0 ? ok_token(env, out, out_len)
                     : error_message(env, gss_test_client_error(resource->client));
    enif_mutex_unlock(resource->lock);
    return result;
}

/* initial(Client) -> {ok, InitialToken} | {error, Message} */
static ERL_NIF_TERM initial_nif(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    return call(env, argv, CALL_INITIAL);
}

/* respond(Client, Challenge) -> {ok, Reply} | {error, Message} */
static ERL_NIF_TERM respond_nif(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    return call(env, argv, CALL_RESPOND);
}

/* wrap(Client, Bytes) -> {ok, Wrapped} | {error, Message} */
static ERL_NIF_TERM wrap_nif(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    return call(env, argv, CALL_WRAP);
}

/* malloc_trim(0) where glibc has it: the memory test separates memory
 * that was freed but kept by malloc from memory that leaked. */
static ERL_NIF_TERM trim_nif(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)env;
    (void)argc;
    (void)argv;
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
    return atom_ok;
}

/* Sleeps, then closes the fd, which releases its OFD lock. */
static void *unlock_later(void *arg)
{
    int *held = arg; /* {fd, millis} */
    struct timespec delay = {held[1] / 1000, (long)(held[1] % 1000) * 1000000L};
    while (nanosleep(&delay, &delay) != 0 && errno == EINTR)
        ;
    close(held[0]);
    free(held);
    return NULL;
}

/* Takes an exclusive OFD lock on `fd`'s whole file, the kind MIT takes on
 * the replay cache for every accept; NULL or a message. */
static const char *lock_exclusive(int fd)
{
    struct flock lock;
    memset(&lock, 0, sizeof lock);
    lock.l_type = F_WRLCK;
    lock.l_whence = SEEK_SET; /* l_start = l_len = 0: the whole file */
    return fcntl(fd, F_OFD_SETLK, &lock) == 0 ? NULL : strerror(errno);
}

/* lock_file(Path :: binary(), Millis :: 1..60000) -> ok | {error, Message}
 * Holds the lock for Millis, released by a detached thread, so that a
 * test can block kerbsasl_server_start even when no Erlang scheduler is
 * free to release it. */
static ERL_NIF_TERM lock_file_nif(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    int millis;
    pthread_t thread;
    pthread_attr_t attr;
    const char *problem;
    (void)argc;
    char *path = c_string(env, argv[0]);
    if (path == NULL || !enif_get_int(env, argv[1], &millis) || millis < 1 || millis > 60000) {
        free_if_set(path);
        return enif_make_badarg(env);
    }
    int fd = open(path, O_RDWR);
    enif_free(path);
    if (fd < 0)
        return error_message(env, strerror(errno));
    int *held = malloc(2 * sizeof *held);
    if ((problem = held == NULL ? "out of memory" : lock_exclusive(fd)) != NULL) {
        close(fd);
        free(held);
        return error_message(env, problem);
    }
    held[0] = fd;
    held[1] = millis;
    int rc = pthread_attr_init(&attr);
    if (rc == 0) {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        rc = pthread_create(&thread, &attr, unlock_later, held);
        pthread_attr_destroy(&attr);
    }
    if (rc != 0) {
        close(fd);
        free(held);
        return error_message(env, strerror(rc));
    }
    return atom_ok;
}

/* setenv(Name :: binary(), Value :: binary()) -> ok | {error, Message}
 * The realm fixture's way to reach MIT: os:putenv only changes the VM's
 * own copy of the environment (OTP 21+), which libkrb5 never reads. Only
 * called before any Kerberos call, when no other thread reads it. */
static ERL_NIF_TERM setenv_nif(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    char *name = c_string(env, argv[0]), *value = c_string(env, argv[1]);
    int rc = name != NULL && value != NULL ? setenv(name, value, 1) : -2;
    free_if_set(name);
    free_if_set(value);
    if (rc == -2)
        return enif_make_badarg(env);
    return rc == 0 ? atom_ok : error_message(env, strerror(errno));
}

static int load(ErlNifEnv *env, void **priv_data, ERL_NIF_TERM load_info)
{
    (void)priv_data;
    (void)load_info;
    client_type = enif_open_resource_type(env, NULL, "kerbsasl_test_client", client_destructor,
                                          ERL_NIF_RT_CREATE | ERL_NIF_RT_TAKEOVER, NULL);
    if (client_type == NULL)
        return -1;
    atom_ok = enif_make_atom(env, "ok");
    atom_error = enif_make_atom(env, "error");
    atom_enomem = enif_make_atom(env, "enomem");
    atom_true = enif_make_atom(env, "true");
    atom_false = enif_make_atom(env, "false");
    return 0;
}

static ErlNifFunc functions[] = {
    {"new", 3, new_nif, ERL_NIF_DIRTY_JOB_IO_BOUND},
    {"new_spnego", 2, new_nif, ERL_NIF_DIRTY_JOB_IO_BOUND},
    {"initial", 1, initial_nif, ERL_NIF_DIRTY_JOB_IO_BOUND},
    {"respond", 2, respond_nif, ERL_NIF_DIRTY_JOB_IO_BOUND},
    {"wrap", 2, wrap_nif, ERL_NIF_DIRTY_JOB_IO_BOUND},
    {"malloc_trim", 0, trim_nif, ERL_NIF_DIRTY_JOB_CPU_BOUND},
    {"lock_file", 2, lock_file_nif, ERL_NIF_DIRTY_JOB_IO_BOUND},
    {"setenv", 2, setenv_nif, 0},
};

ERL_NIF_INIT(kerbsasl_test_client, functions, load, NULL, NULL, NULL)

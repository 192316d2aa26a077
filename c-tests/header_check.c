/*
 * Compiled by c-tests/run as C11 and as C++ (-x c++) with -Wall -Wextra
 * -Wpedantic -Werror, and once more from the staged install with
 * `pkg-config --cflags --libs kerbsasl`: the header must compile in
 * both languages, its prototypes must link (extern "C"), and the program
 * must run against the library. Exits 0, or 1 with a reason on stderr.
 * Needs no realm and writes nothing.
 */
#include <kerbsasl.h>
#include <stdio.h>
#include <string.h>

/* The header's callback type accepts a plain function of this shape. */
static void on_log(void *userdata, uint32_t level, const char *target, const char *message)
{
    (void)userdata;
    (void)level;
    (void)target;
    (void)message;
}

static int fail(const char *why)
{
    fprintf(stderr, "header_check: %s\n", why);
    return 1;
}

int main(void)
{
    /* Every prototype, as the types a host would write down. */
    kerbsasl_result (*server_new)(const char *const *, const char *const *, size_t,
                                  kerbsasl_server **) = kerbsasl_server_new;
    kerbsasl_result (*start)(const kerbsasl_server *, const uint8_t *, size_t,
                             kerbsasl_session **, const uint8_t **, size_t *) =
        kerbsasl_server_start;
    kerbsasl_result (*step)(kerbsasl_session *, const uint8_t *, size_t, const uint8_t **,
                            size_t *) = kerbsasl_server_step;
    const char *(*accessors[])(const kerbsasl_session *) = {
        kerbsasl_session_principal, kerbsasl_session_username, kerbsasl_session_realm,
        kerbsasl_session_authzid, kerbsasl_session_error};
    void (*server_free)(kerbsasl_server *) = kerbsasl_server_free;
    void (*dispose)(kerbsasl_session *) = kerbsasl_dispose;
    kerbsasl_log_callback callback = on_log;

    const uint8_t *out = NULL;
    size_t out_len = 0;
    if (server_new(NULL, NULL, 0, NULL) != KERBSASL_INVALID_ARGUMENT)
        return fail("kerbsasl_server_new(NULL...) is not KERBSASL_INVALID_ARGUMENT");
    if (start(NULL, NULL, 0, NULL, &out, &out_len) != KERBSASL_INVALID_ARGUMENT ||
        step(NULL, NULL, 0, &out, &out_len) != KERBSASL_INVALID_ARGUMENT)
        return fail("start/step with NULL handles are not KERBSASL_INVALID_ARGUMENT");
    for (size_t i = 0; i < sizeof accessors / sizeof accessors[0]; i++)
        if (accessors[i](NULL) != NULL)
            return fail("a session accessor is not NULL for NULL");
    server_free(NULL);
    dispose(NULL);
    if (kerbsasl_set_log_callback(callback, NULL, KERBSASL_LOG_OFF) != KERBSASL_OK ||
        kerbsasl_set_log_callback(NULL, NULL, KERBSASL_LOG_OFF) != KERBSASL_OK)
        return fail("kerbsasl_set_log_callback failed");
    if (kerbsasl_last_error() == NULL)
        return fail("no last error after failing calls");
    if (strcmp(kerbsasl_result_str(KERBSASL_AUTHZ_DENIED), "KERBSASL_AUTHZ_DENIED") != 0)
        return fail("kerbsasl_result_str(KERBSASL_AUTHZ_DENIED) is wrong");
    if (strcmp(kerbsasl_version(), KERBSASL_VERSION_STRING) != 0)
        return fail("kerbsasl_version() differs from KERBSASL_VERSION_STRING");
    if (KERBSASL_VERSION_MAJOR != 1 || KERBSASL_LOG_TRACE != 5 || KERBSASL_INTERNAL != 8)
        return fail("constants differ from the ABI");
    return 0;
}

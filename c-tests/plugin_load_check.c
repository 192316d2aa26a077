/*
 * libkerbsasl.so is also a Mosquitto plugin and a Cyrus SASL plugin, yet
 * must load in any process: dlopen it with RTLD_NOW (which fails on any
 * unresolved symbol, such as a mosquitto_* function linked rather than
 * looked up) in a program that is neither linked against it nor Mosquitto,
 * and call the plugin entry points the way the broker and libsasl2 would.
 * The Cyrus plugin table is read through saslplug.h's own types.
 *
 *   plugin_load_check PATH/TO/libkerbsasl.so
 */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <fcntl.h>
#include <sasl/sasl.h>
#include <sasl/saslplug.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef int (*version_fn)(int, const int *);
typedef int (*init_fn)(void *, void **, void *, int);
typedef int (*cleanup_fn)(void *, void *, int);

static int failures;

static void check(int ok, const char *name)
{
    printf("%s - %s\n", ok ? "ok" : "not ok", name);
    failures += !ok;
}

/* Runs init outside Mosquitto with stderr captured: it must refuse. */
static void check_init_refuses(init_fn init)
{
    char captured[512] = "";
    int pipe_fds[2];
    if (pipe(pipe_fds) != 0) {
        check(0, "pipe for stderr");
        return;
    }
    int saved = dup(STDERR_FILENO);
    dup2(pipe_fds[1], STDERR_FILENO);
    void *userdata = NULL;
    int rc = init(NULL, &userdata, NULL, 0);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(pipe_fds[1]);
    ssize_t n = read(pipe_fds[0], captured, sizeof captured - 1);
    close(pipe_fds[0]);
    captured[n > 0 ? n : 0] = '\0';
    check(rc != 0 && userdata == NULL, "mosquitto_plugin_init outside Mosquitto fails cleanly");
    check(strstr(captured, "kerbsasl: cannot start: mosquitto_callback_register not found") != NULL,
          "and says why on stderr");
}

/* libsasl2's calls of sasl_server_plug_init, and the table it returns. */
static void check_cyrus_entry_point(sasl_server_plug_init_t *init)
{
    int version = 0, count = 0;
    sasl_server_plug_t *plugs = NULL;
    check(init(NULL, SASL_SERVER_PLUG_VERSION - 1, &version, &plugs, &count) == SASL_BADVERS,
          "sasl_server_plug_init refuses libsasl2 without plugin API 4 (SASL_BADVERS)");
    check(init(NULL, SASL_SERVER_PLUG_VERSION, NULL, &plugs, &count) == SASL_BADPARAM,
          "sasl_server_plug_init with a NULL out-pointer: SASL_BADPARAM");
    int rc = init(NULL, SASL_SERVER_PLUG_VERSION, &version, &plugs, &count);
    check(rc == SASL_OK && version == SASL_SERVER_PLUG_VERSION && count == 1 && plugs != NULL,
          "sasl_server_plug_init gives plugin API 4 and one mechanism");
    if (rc != SASL_OK || plugs == NULL)
        return;
    check(strcmp(plugs[0].mech_name, "GSSAPI") == 0 && plugs[0].max_ssf == 256,
          "the mechanism is GSSAPI with max_ssf 256, as gssapiv2's");
    check(plugs[0].features ==
              (SASL_FEAT_WANT_CLIENT_FIRST | SASL_FEAT_ALLOWS_PROXY | SASL_FEAT_DONTUSE_USERPASSWD),
          "client-first, proxy-capable, no userPassword (saslplug.h's layout)");
    check(plugs[0].mech_new && plugs[0].mech_step && plugs[0].mech_dispose &&
              plugs[0].mech_free && !plugs[0].mech_avail && !plugs[0].setpass,
          "mech_new, mech_step, mech_dispose and mech_free are set, the optional ones NULL");
    plugs[0].mech_dispose(NULL, NULL);
    plugs[0].mech_free(NULL, NULL);
    check(1, "mech_dispose and mech_free accept NULL");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s LIBRARY\n", argv[0]);
        return 2;
    }
    void *library = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    check(library != NULL, "dlopen(RTLD_NOW) resolves every symbol outside Mosquitto");
    if (library == NULL) {
        printf("# %s\n", dlerror());
        return 2;
    }
    version_fn version = (version_fn)(size_t)dlsym(library, "mosquitto_plugin_version");
    init_fn init = (init_fn)(size_t)dlsym(library, "mosquitto_plugin_init");
    cleanup_fn cleanup = (cleanup_fn)(size_t)dlsym(library, "mosquitto_plugin_cleanup");
    check(version && init && cleanup, "the three Mosquitto entry points are exported");
    if (version && init && cleanup) {
        const int offered[] = {5, 4, 3, 2};
        const int old[] = {4, 3, 2};
        check(version(4, offered) == 5, "plugin_version picks interface 5 when offered");
        check(version(3, old) == -1, "plugin_version refuses brokers without interface 5");
        check(version(0, NULL) == -1, "plugin_version with nothing offered");
        check_init_refuses(init);
        check(cleanup(NULL, NULL, 0) == 0, "plugin_cleanup with no instance");
    }
    sasl_server_plug_init_t *cyrus_init =
        (sasl_server_plug_init_t *)(size_t)dlsym(library, "sasl_server_plug_init");
    check(cyrus_init != NULL, "Cyrus SASL's sasl_server_plug_init is exported");
    if (cyrus_init != NULL)
        check_cyrus_entry_point(cyrus_init);
    dlclose(library);
    return failures ? 2 : 0;
}

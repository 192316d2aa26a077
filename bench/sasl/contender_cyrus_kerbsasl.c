/* Contender: Cyrus SASL (libsasl2) with the kerbsasl plugin in place of
 * gssapiv2. The server and client are the cyrus contender's
 * (contender_cyrus.c: per handshake sasl_server_new + setprop,
 * sasl_server_start, two sasl_server_step, sasl_dispose); only the plugin
 * directory differs. It is made here, in a temp dir, as an operator would
 * install kerbsasl: libsasl2's own plugin directory with libkerbsasl.so in
 * place of libgssapiv2.so, so that both Cyrus contenders load the same
 * other plugins. libkerbsasl.so is the very library this program is linked
 * with, so that the process holds one copy.
 * The plugin's defaults: the host-based principal service@host, the keytab
 * from the `keytab` option, MIT's default replay cache. */
#define _GNU_SOURCE /* dladdr */
#include "bench.h"

#include <dirent.h>
#include <dlfcn.h>
#include <kerbsasl.h>
#include <libgen.h>
#include <limits.h>
#include <sasl/sasl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char plugin_dir[PATH_MAX];

/* The real path of the shared object that defines `symbol`. */
static int object_of(void *symbol, char *path)
{
    Dl_info info;
    if (dladdr(symbol, &info) == 0 || info.dli_fname == NULL ||
        realpath(info.dli_fname, path) == NULL) {
        fprintf(stderr, "cyrus-kerbsasl: cannot locate the library of a symbol\n");
        return -1;
    }
    return 0;
}

/* dir/name into out (PATH_MAX bytes); -1 if it does not fit. */
static int join(char *out, const char *dir, const char *name)
{
    int used = snprintf(out, PATH_MAX, "%s/%s", dir, name);
    if (used < 0 || used >= PATH_MAX) {
        fprintf(stderr, "cyrus-kerbsasl: path too long: %s/%s\n", dir, name);
        return -1;
    }
    return 0;
}

static int link_into(const char *target, const char *name)
{
    char link[PATH_MAX];
    if (join(link, plugin_dir, name) != 0)
        return -1;
    if (symlink(target, link) != 0) {
        perror(link);
        return -1;
    }
    return 0;
}

static void remove_plugin_dir(void)
{
    DIR *dir = opendir(plugin_dir);
    struct dirent *entry;
    char path[PATH_MAX];
    if (dir == NULL)
        return;
    while ((entry = readdir(dir)) != NULL) {
        if (entry->d_name[0] == '.')
            continue;
        if (join(path, plugin_dir, entry->d_name) == 0)
            unlink(path);
    }
    closedir(dir);
    rmdir(plugin_dir);
}

/* libsasl2's plugin directory (sasl2/ beside libsasl2.so.2), with
 * libkerbsasl.so in place of libgssapiv2.so. */
static int make_plugin_dir(void)
{
    char sasl_lib[PATH_MAX], kerbsasl_lib[PATH_MAX], system_dir[PATH_MAX], target[PATH_MAX];
    const char *tmp = getenv("KERBSASL_TEST_DIR");
    if (tmp == NULL || tmp[0] == '\0')
        tmp = getenv("TMPDIR");
    DIR *dir;
    struct dirent *entry;
    int rc = 0;
    if (object_of((void *)(size_t)sasl_server_init, sasl_lib) != 0 ||
        object_of((void *)(size_t)kerbsasl_version, kerbsasl_lib) != 0)
        return -1;
    if (join(system_dir, dirname(sasl_lib), "sasl2") != 0 ||
        join(plugin_dir, tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp",
             "cyrus-kerbsasl-plugins.XXXXXX") != 0)
        return -1;
    if (mkdtemp(plugin_dir) == NULL) {
        perror("cyrus-kerbsasl: mkdtemp");
        return -1;
    }
    dir = opendir(system_dir);
    if (dir == NULL) {
        perror(system_dir);
        return -1;
    }
    while (rc == 0 && (entry = readdir(dir)) != NULL) {
        size_t len = strlen(entry->d_name);
        if (len < 3 || strcmp(entry->d_name + len - 3, ".so") != 0 ||
            strcmp(entry->d_name, "libgssapiv2.so") == 0)
            continue;
        rc = join(target, system_dir, entry->d_name) == 0 ? link_into(target, entry->d_name) : -1;
    }
    closedir(dir);
    return rc == 0 ? link_into(kerbsasl_lib, "libkerbsasl.so") : rc;
}

static int server_init(const bench_cfg *cfg)
{
    if (make_plugin_dir() != 0) {
        remove_plugin_dir();
        return -1;
    }
    return cyrus_server_start(cfg, plugin_dir);
}

static void server_fini(void)
{
    cyrus_server_fini();
    remove_plugin_dir();
}

static const side_ops cyrus_kerbsasl_server = {server_init, server_fini, cyrus_server_open,
                                               cyrus_server_step, cyrus_close};

static const contender cyrus_kerbsasl = {"cyrus-kerbsasl", &cyrus_kerbsasl_server,
                                         &cyrus_client_ops};
BENCH_CONTENDER(cyrus_kerbsasl)

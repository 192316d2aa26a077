/* Contender 5: Cyrus SASL (libsasl2) with the kerbsasl plugin in place of
 * gssapiv2: the same server and client code as contender 2 (per handshake
 * sasl_server_new + setprop, sasl_server_start, two sasl_server_step,
 * sasl_dispose), with libsasl2's server loading its plugins from
 * $BENCH_CYRUS_KERBSASL_PLUGINS: the system's plugins with kerbsasl in place
 * of gssapiv2, linked to the libkerbsasl this program is linked with
 * (c-tests/bench/run makes it).
 * The plugin's defaults: the host-based principal service@host, the keytab
 * from the `keytab` option, MIT's default replay cache. */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>

static int server_init(const bench_cfg *cfg)
{
    const char *plugins = getenv("BENCH_CYRUS_KERBSASL_PLUGINS");
    if (plugins == NULL || plugins[0] == '\0') {
        fprintf(stderr, "BENCH_CYRUS_KERBSASL_PLUGINS is not set (see c-tests/bench/run)\n");
        return -1;
    }
    return cyrus_server_start(cfg, plugins);
}

static const side_ops cyrus_kerbsasl_server = {server_init, cyrus_server_fini, cyrus_server_open,
                                               cyrus_server_step, cyrus_close};

const contender contender_cyrus_kerbsasl = {"cyrus-kerbsasl", &cyrus_kerbsasl_server,
                                            &cyrus_client_ops};

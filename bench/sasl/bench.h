/* Shared types for the SASL GSSAPI server benchmark: one "side" (server or
 * client) of one RFC 4752 exchange, driven step by step by bench.c. */
#ifndef BENCH_H
#define BENCH_H

#include <stdbool.h>
#include <stddef.h>

/* Command-line settings every contender may read. */
typedef struct {
    const char *principal; /* mqtt/broker.kerbsasl.test@KERBSASL.TEST */
    const char *keytab;    /* path of the service keytab */
    const char *service;   /* "mqtt", split out of principal */
    const char *host;      /* "broker.kerbsasl.test" */
    const char *realm;     /* "KERBSASL.TEST" */
    int threads;
    bool cred_per_thread;  /* MIT only: one acceptor cred per thread */
} bench_cfg;

/* A token. Outputs are borrowed from the session that produced them and stay
 * valid until the next call on that session (as in the kerbsasl C ABI). */
typedef struct {
    const unsigned char *data;
    size_t len;
} tok;

typedef enum { STEP_CONTINUE, STEP_DONE, STEP_FAIL } step_rc;

/* One side of one exchange. init/fini run once per process and are not
 * timed; open/step/close run per handshake and, on the server side, are
 * the only timed calls. On STEP_FAIL the side prints why to stderr. */
typedef struct {
    int (*init)(const bench_cfg *cfg); /* 0 on success */
    void (*fini)(void);
    void *(*open)(int tid); /* tid: 0..threads-1; NULL on failure */
    step_rc (*step)(void *session, const tok *in, tok *out);
    void (*close)(void *session); /* NULL is fine */
} side_ops;

typedef struct {
    const char *name;
    const side_ops *server;
    const side_ops *client;
} contender;

/* Contenders register themselves: a new one is a new contender_*.c file
 * (bench/sasl/run compiles every one) ending with BENCH_CONTENDER(name).
 * `bench --list` prints them, kerbsasl first, then in link order. */
void bench_register(const contender *c);
#define BENCH_CONTENDER(c)                                                                        \
    __attribute__((constructor)) static void register_##c(void) { bench_register(&c); }

/* The GSSAPI initiator (contender_mit.c), shared by MIT and kerbsasl. */
extern const side_ops gss_client_ops;
/* Its per-thread initiator cred (a gss_cred_id_t), valid between init and
 * fini; the Cyrus client borrows it. */
void *gss_initiator_cred(int tid);

/* The RFC 4752 security-layer offer/reply used here: "no layer", size 0,
 * because MQTT has no SASL framing to carry a layer. */
extern const unsigned char sasl_no_layer[4];

#endif

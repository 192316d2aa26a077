/*
 * Shared pieces of kerbsasl's C tests: the throwaway realm c-tests/run
 * starts (via target/debug/examples/testrealm), servers, SASL clients,
 * whole handshakes, and a check for result codes with their messages.
 */
#ifndef KERBSASL_TEST_FIXTURE_H
#define KERBSASL_TEST_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "check.h"
#include "kerbsasl.h"
#include "gss_test_client.h"

/* Ends a NULL-terminated variadic list. */
#define SENTINEL __attribute__((sentinel))

/* A result the test client failed with: not a kerbsasl code. */
#define CLIENT_FAILED 1000u

/* Exits unless the program runs inside testrealm, so that no test ever
 * touches the machine's own Kerberos setup. Call first in main. */
void fixture_init(void);

/* "KERBSASL.TEST" and "mqtt/broker.kerbsasl.test@KERBSASL.TEST". */
const char *fixture_realm(void);
const char *fixture_service(void);

/* `name` inside the realm's temp dir, which testrealm removes on exit. */
void fixture_path(char *out, size_t len, const char *name);

/* Runs one kadmin.local query (printf format); fatal if it fails. */
void fixture_kadmin(const char *query, ...) __attribute__((format(printf, 1, 2)));

/* Adds user principal `name` (e.g. "ops/admin") with the realm's test
 * password; fatal if kadmin fails. */
void fixture_add_user(const char *name);

/* Gets a TGT for an existing `user` into a new ccache of its own; writes
 * its name ("FILE:...") to `ccache`. Fatal if kinit fails. */
void fixture_kinit(const char *user, char *ccache, size_t len);

/* Creates a server from key, value, key, value, ..., NULL. */
kerbsasl_result server_new(kerbsasl_server **out, ...) SENTINEL;

/* The usual server (the realm's service and its keytab) plus key, value
 * pairs ending with NULL; fatal if it cannot be created. */
kerbsasl_server *default_server(const char *key, ...);

/* A client of the test's own (fatal on failure). `ccache` NULL means
 * alice's (KRB5CCNAME); `authzid` may be NULL. */
gss_test_client *client_new(const char *ccache, const char *target, int mutual,
                            const char *authzid);

/* Client tokens, malloc'd (free them); fatal if the client fails. */
uint8_t *client_initial(gss_test_client *client, size_t *len);
uint8_t *client_respond(gss_test_client *client, const uint8_t *in, size_t in_len,
                        size_t *len);
uint8_t *client_wrap(gss_test_client *client, const uint8_t *msg, size_t msg_len,
                     size_t *len);

/* One whole exchange, as a host would drive it. */
typedef struct {
    uint32_t code;             /* the last kerbsasl result, or CLIENT_FAILED */
    kerbsasl_session *session; /* NULL when start failed; see handshake_end */
    int calls;                 /* kerbsasl_server_start/step calls made */
    char message[1024];        /* on failure: why, from kerbsasl or the client */
} handshake;

/* Runs start and steps until a result other than KERBSASL_CONTINUE.
 * Thread-safe (never fatal): client failures give CLIENT_FAILED. */
void handshake_run(handshake *h, const kerbsasl_server *server, gss_test_client *client);

/* Disposes of the handshake's session. */
void handshake_end(handshake *h);

/* Checks a result code and that `message` contains every fragment of the
 * NULL-terminated list that follows. */
int check_result(const char *name, uint32_t got, uint32_t want, const char *message, ...)
    SENTINEL;

/* Checks a string from kerbsasl; `want` NULL means it must be NULL. */
int check_string(const char *name, const char *got, const char *want);

/* The name of a code check_result may see, CLIENT_FAILED included. */
const char *result_name(uint32_t code);

#endif

/*
 * A SASL GSSAPI (RFC 4752) client over MIT GSSAPI, for kerbsasl's C and
 * Erlang tests and benchmarks: it produces real initiator tokens.
 */
#ifndef KERBSASL_TEST_GSS_TEST_CLIENT_H
#define KERBSASL_TEST_GSS_TEST_CLIENT_H

#include <stddef.h>
#include <stdint.h>

typedef struct gss_test_client gss_test_client;

/* A client for service principal `target` (e.g. "mqtt/host@REALM") with
 * tickets from `ccache` ("FILE:/path"; NULL: KRB5CCNAME). `mutual` asks for
 * an AP-REP; `authzid` (may be NULL) is sent in the security-layer reply.
 * Returns NULL and writes a message to err on failure. */
gss_test_client *gss_test_client_new(const char *ccache, const char *target, int mutual,
                                     const char *authzid, char *err, size_t err_len);

/* Like gss_test_client_new without an authzid, but its tokens are SPNEGO
 * (RFC 4178) around Kerberos V5, as HTTP Negotiate clients such as curl
 * send them; gss_test_client_respond then takes the server's SPNEGO answer
 * (the mutual-authentication token). No security layer: not for SASL. */
gss_test_client *gss_test_client_new_spnego(const char *ccache, const char *target, int mutual,
                                            char *err, size_t err_len);

/* Each call returns 0 and a malloc'd token (free it), or -1 with
 * gss_test_client_error() set. */
int gss_test_client_initial(gss_test_client *client, uint8_t **out, size_t *out_len);
/* Answers a server challenge: the AP-REP gets an empty reply, the wrapped
 * offer gets "no security layer" plus the authzid. */
int gss_test_client_respond(gss_test_client *client, const uint8_t *in, size_t in_len,
                            uint8_t **out, size_t *out_len);
/* Reads the wrapped offer without answering it, for a test that sends its
 * own reply next (with gss_test_client_wrap: the client's first wrap token,
 * as the server's sequence check expects). */
int gss_test_client_read_offer(gss_test_client *client, const uint8_t *in, size_t in_len);
/* Wraps arbitrary bytes, to send malformed security-layer replies. */
int gss_test_client_wrap(gss_test_client *client, const uint8_t *msg, size_t msg_len,
                         uint8_t **out, size_t *out_len);

const char *gss_test_client_error(const gss_test_client *client);
void gss_test_client_free(gss_test_client *client);

#endif

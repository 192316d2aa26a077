#define _POSIX_C_SOURCE 200809L
#include "gss_test_client.h"

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct gss_test_client {
    gss_OID mech; /* krb5, or SPNEGO (gss_test_client_new_spnego) */
    gss_cred_id_t cred;
    gss_ctx_id_t context;
    gss_name_t target;
    OM_uint32 flags;
    int established;
    char *authzid;
    char error[512];
};

/* Formats major and minor status text into `out`. */
static void describe(OM_uint32 major, OM_uint32 minor, char *out, size_t len)
{
    OM_uint32 ignored, context = 0;
    gss_buffer_desc text = GSS_C_EMPTY_BUFFER;
    size_t used = 0;
    out[0] = '\0';
    gss_display_status(&ignored, major, GSS_C_GSS_CODE, GSS_C_NO_OID, &context, &text);
    used += (size_t)snprintf(out, len, "%.*s", (int)text.length, (char *)text.value);
    gss_release_buffer(&ignored, &text);
    if (minor != 0 && used < len) {
        context = 0;
        gss_display_status(&ignored, minor, GSS_C_MECH_CODE, GSS_C_NO_OID, &context, &text);
        snprintf(out + used, len - used, ": %.*s", (int)text.length, (char *)text.value);
        gss_release_buffer(&ignored, &text);
    }
}

static int fail(gss_test_client *client, const char *what, OM_uint32 major, OM_uint32 minor)
{
    char detail[400];
    describe(major, minor, detail, sizeof detail);
    snprintf(client->error, sizeof client->error, "%s: %s", what, detail);
    return -1;
}

/* Copies a GSSAPI buffer into malloc'd memory and releases it. */
static int take(gss_test_client *client, gss_buffer_t buffer, uint8_t **out, size_t *out_len)
{
    OM_uint32 ignored;
    *out_len = buffer->length;
    *out = malloc(buffer->length ? buffer->length : 1);
    if (*out == NULL) {
        gss_release_buffer(&ignored, buffer);
        snprintf(client->error, sizeof client->error, "out of memory");
        return -1;
    }
    if (buffer->length)
        memcpy(*out, buffer->value, buffer->length);
    gss_release_buffer(&ignored, buffer);
    return 0;
}

/* SPNEGO, 1.3.6.1.5.5.2: MIT's headers do not name it. */
static gss_OID_desc spnego_mech = {6, "\x2b\x06\x01\x05\x05\x02"};

static gss_test_client *client_create(const char *ccache, const char *target, int mutual,
                                      const char *authzid, int spnego, char *err, size_t err_len)
{
    OM_uint32 major, minor;
    gss_test_client *client = calloc(1, sizeof *client);
    if (client == NULL) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    client->mech = spnego ? &spnego_mech : (gss_OID)gss_mech_krb5;
    client->flags = GSS_C_INTEG_FLAG | GSS_C_SEQUENCE_FLAG | (mutual ? GSS_C_MUTUAL_FLAG : 0);
    client->authzid = strdup(authzid ? authzid : "");
    gss_buffer_desc name = {strlen(target), (void *)target};
    major = gss_import_name(&minor, &name, GSS_KRB5_NT_PRINCIPAL_NAME, &client->target);
    if (GSS_ERROR(major)) {
        fail(client, "gss_import_name", major, minor);
        goto failed;
    }
    /* A SPNEGO initiator needs a credential for SPNEGO and krb5 both. */
    gss_OID_desc mechs[2] = {*gss_mech_krb5, spnego_mech};
    gss_OID_set_desc mech_set = {spnego ? 2 : 1, mechs};
    gss_key_value_element_desc element = {"ccache", ccache};
    gss_key_value_set_desc store = {1, &element};
    major = gss_acquire_cred_from(&minor, GSS_C_NO_NAME, GSS_C_INDEFINITE, &mech_set,
                                  GSS_C_INITIATE, ccache ? &store : GSS_C_NO_CRED_STORE,
                                  &client->cred, NULL, NULL);
    if (GSS_ERROR(major)) {
        fail(client, "gss_acquire_cred_from", major, minor);
        goto failed;
    }
    return client;
failed:
    snprintf(err, err_len, "%s", client->error);
    gss_test_client_free(client);
    return NULL;
}

gss_test_client *gss_test_client_new(const char *ccache, const char *target, int mutual,
                                     const char *authzid, char *err, size_t err_len)
{
    return client_create(ccache, target, mutual, authzid, 0, err, err_len);
}

gss_test_client *gss_test_client_new_spnego(const char *ccache, const char *target, int mutual,
                                            char *err, size_t err_len)
{
    return client_create(ccache, target, mutual, NULL, 1, err, err_len);
}

static int step(gss_test_client *client, gss_buffer_t input, uint8_t **out, size_t *out_len)
{
    OM_uint32 major, minor;
    gss_buffer_desc output = GSS_C_EMPTY_BUFFER;
    major = gss_init_sec_context(&minor, client->cred, &client->context, client->target,
                                 client->mech, client->flags, 0,
                                 GSS_C_NO_CHANNEL_BINDINGS, input, NULL, &output, NULL, NULL);
    if (GSS_ERROR(major))
        return fail(client, "gss_init_sec_context", major, minor);
    client->established = !(major & GSS_S_CONTINUE_NEEDED);
    return take(client, &output, out, out_len);
}

int gss_test_client_initial(gss_test_client *client, uint8_t **out, size_t *out_len)
{
    return step(client, GSS_C_NO_BUFFER, out, out_len);
}

int gss_test_client_wrap(gss_test_client *client, const uint8_t *msg, size_t msg_len,
                         uint8_t **out, size_t *out_len)
{
    OM_uint32 major, minor;
    gss_buffer_desc input = {msg_len, (void *)msg};
    gss_buffer_desc output = GSS_C_EMPTY_BUFFER;
    major = gss_wrap(&minor, client->context, 0, GSS_C_QOP_DEFAULT, &input, NULL, &output);
    if (GSS_ERROR(major))
        return fail(client, "gss_wrap", major, minor);
    return take(client, &output, out, out_len);
}

int gss_test_client_read_offer(gss_test_client *client, const uint8_t *in, size_t in_len)
{
    OM_uint32 major, minor;
    gss_buffer_desc wrapped = {in_len, (void *)in};
    gss_buffer_desc offer = GSS_C_EMPTY_BUFFER;
    major = gss_unwrap(&minor, client->context, &wrapped, &offer, NULL, NULL);
    if (GSS_ERROR(major))
        return fail(client, "gss_unwrap", major, minor);
    int offered_none = offer.length == 4 && (((uint8_t *)offer.value)[0] & 0x01);
    gss_release_buffer(&minor, &offer);
    if (!offered_none) {
        snprintf(client->error, sizeof client->error, "unexpected security-layer offer");
        return -1;
    }
    return 0;
}

int gss_test_client_respond(gss_test_client *client, const uint8_t *in, size_t in_len,
                            uint8_t **out, size_t *out_len)
{
    if (!client->established) {
        gss_buffer_desc input = {in_len, (void *)in};
        return step(client, &input, out, out_len);
    }
    if (gss_test_client_read_offer(client, in, in_len) != 0)
        return -1;
    size_t authzid_len = strlen(client->authzid);
    uint8_t *reply = malloc(4 + authzid_len);
    if (reply == NULL) {
        snprintf(client->error, sizeof client->error, "out of memory");
        return -1;
    }
    reply[0] = 0x01; /* no security layer, maximum size 0 */
    reply[1] = reply[2] = reply[3] = 0;
    memcpy(reply + 4, client->authzid, authzid_len);
    int rc = gss_test_client_wrap(client, reply, 4 + authzid_len, out, out_len);
    free(reply);
    return rc;
}

const char *gss_test_client_error(const gss_test_client *client)
{
    return client->error;
}

void gss_test_client_free(gss_test_client *client)
{
    OM_uint32 minor;
    if (client == NULL)
        return;
    if (client->context != GSS_C_NO_CONTEXT)
        gss_delete_sec_context(&minor, &client->context, GSS_C_NO_BUFFER);
    if (client->cred != GSS_C_NO_CREDENTIAL)
        gss_release_cred(&minor, &client->cred);
    if (client->target != GSS_C_NO_NAME)
        gss_release_name(&minor, &client->target);
    free(client->authzid);
    free(client);
}

/* Makes fresh HTTP Negotiate tokens with MIT's GSSAPI initiator, one per
 * line ("Negotiate <base64>"), for the load generator (wrk + tokens.lua):
 * each request of a benchmark run carries its own token, never a replay.
 *
 *   tokens --count N [--target HTTP@localhost] [--mech spnego|krb5] > FILE
 *
 * Tickets come from the default credential cache (KRB5CCNAME). Every token
 * is the first token of a new security context with mutual authentication
 * requested, as curl and browsers send it. Prints the time taken to stderr.
 */
#include <gssapi/gssapi.h>
#include <gssapi/gssapi_krb5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static gss_OID_desc spnego_oid = {6, "\x2b\x06\x01\x05\x05\x02"};
static gss_OID_desc krb5_oid = {9, "\x2a\x86\x48\x86\xf7\x12\x01\x02\x02"};

static void die_gss(const char *what, OM_uint32 major, OM_uint32 minor, gss_OID mech)
{
    OM_uint32 context = 0, ignored;
    gss_buffer_desc text;
    fprintf(stderr, "tokens: %s failed:", what);
    do {
        gss_display_status(&ignored, major, GSS_C_GSS_CODE, GSS_C_NO_OID, &context, &text);
        fprintf(stderr, " %.*s;", (int)text.length, (const char *)text.value);
        gss_release_buffer(&ignored, &text);
    } while (context != 0);
    do {
        gss_display_status(&ignored, minor, GSS_C_MECH_CODE, mech, &context, &text);
        fprintf(stderr, " %.*s", (int)text.length, (const char *)text.value);
        gss_release_buffer(&ignored, &text);
    } while (context != 0);
    fputc('\n', stderr);
    exit(1);
}

static void write_base64(const unsigned char *data, size_t len, FILE *out)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i;
    for (i = 0; i + 2 < len; i += 3) {
        unsigned long v = (unsigned long)data[i] << 16 | (unsigned long)data[i + 1] << 8 | data[i + 2];
        fputc(alphabet[v >> 18 & 63], out);
        fputc(alphabet[v >> 12 & 63], out);
        fputc(alphabet[v >> 6 & 63], out);
        fputc(alphabet[v & 63], out);
    }
    if (i < len) {
        unsigned long v = (unsigned long)data[i] << 16;
        if (i + 1 < len)
            v |= (unsigned long)data[i + 1] << 8;
        fputc(alphabet[v >> 18 & 63], out);
        fputc(alphabet[v >> 12 & 63], out);
        fputc(i + 1 < len ? alphabet[v >> 6 & 63] : '=', out);
        fputc('=', out);
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: tokens --count N [--target HTTP@host] [--mech spnego|krb5]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    long count = -1;
    const char *target = "HTTP@localhost";
    gss_OID mech = &spnego_oid;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--count") == 0 && i + 1 < argc)
            count = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--target") == 0 && i + 1 < argc)
            target = argv[++i];
        else if (strcmp(argv[i], "--mech") == 0 && i + 1 < argc) {
            const char *name = argv[++i];
            if (strcmp(name, "spnego") == 0)
                mech = &spnego_oid;
            else if (strcmp(name, "krb5") == 0)
                mech = &krb5_oid;
            else
                usage();
        } else
            usage();
    }
    if (count <= 0)
        usage();

    OM_uint32 major, minor;
    gss_buffer_desc name_text = {strlen(target), (void *)target};
    gss_name_t name;
    major = gss_import_name(&minor, &name_text, GSS_C_NT_HOSTBASED_SERVICE, &name);
    if (GSS_ERROR(major))
        die_gss("gss_import_name", major, minor, GSS_C_NO_OID);
    gss_OID_set_desc mechs = {1, mech};
    gss_cred_id_t cred;
    major = gss_acquire_cred(&minor, GSS_C_NO_NAME, GSS_C_INDEFINITE, &mechs, GSS_C_INITIATE,
                             &cred, NULL, NULL);
    if (GSS_ERROR(major))
        die_gss("gss_acquire_cred", major, minor, mech);

    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (long n = 0; n < count; n++) {
        gss_ctx_id_t context = GSS_C_NO_CONTEXT;
        gss_buffer_desc token = GSS_C_EMPTY_BUFFER;
        major = gss_init_sec_context(&minor, cred, &context, name, mech, GSS_C_MUTUAL_FLAG, 0,
                                     GSS_C_NO_CHANNEL_BINDINGS, GSS_C_NO_BUFFER, NULL, &token,
                                     NULL, NULL);
        if (GSS_ERROR(major))
            die_gss("gss_init_sec_context", major, minor, mech);
        fputs("Negotiate ", stdout);
        write_base64(token.value, token.length, stdout);
        fputc('\n', stdout);
        gss_release_buffer(&minor, &token);
        gss_delete_sec_context(&minor, &context, GSS_C_NO_BUFFER);
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        perror("tokens: write");
        return 1;
    }
    double seconds = (double)(end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9;
    fprintf(stderr, "tokens: %ld tokens for %s in %.2f s (%.1f us each)\n", count, target,
            seconds, seconds * 1e6 / (double)count);
    gss_release_cred(&minor, &cred);
    gss_release_name(&minor, &name);
    return 0;
}

/*
 * A minimal C host for kerbsasl: it authenticates one client connection
 * over TCP with SASL GSSAPI (Kerberos V5) and prints who the client is.
 * Copy it as the starting point of your own server.
 *
 *   socket_server [-p PORT] [-o KEY=VALUE]...
 *
 * Listens on 127.0.0.1:PORT (default 0: a free port), prints "listening on
 * 127.0.0.1:PORT", accepts one connection, runs the exchange, prints
 * "authenticated USERNAME (principal PRINCIPAL)" and exits 0; or prints the
 * reason to stderr and exits 1. -o passes kerbsasl options, e.g.
 * -o principal=mqtt/broker.example.com@EXAMPLE.COM -o keytab=/etc/mqtt.keytab
 *
 * Framing (yours will differ: MQTT AUTH packets, LDAP binds, ...):
 *   client -> server: u32 length (big-endian), then that many token bytes;
 *   server -> client: one byte kind, u32 length, payload, where kind is
 *     'C' continue: the payload is the next token; answer with a frame;
 *     'O' ok: the payload is the username the server will use;
 *     'F' failed: no payload (the reason is for the server's log only).
 *
 * Build: cc -std=c11 socket_server.c $(pkg-config --cflags --libs kerbsasl)
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <kerbsasl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_OPTIONS 16
/* Tokens are a few KiB; refuse anything absurd before allocating it. */
#define MAX_FRAME 65536

static int write_all(int fd, const void *data, size_t len)
{
    const unsigned char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int read_all(int fd, void *data, size_t len)
{
    unsigned char *p = data;
    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads one client frame into a malloc'd buffer; -1 on EOF or a bad length. */
static int read_frame(int fd, unsigned char **data, size_t *len)
{
    uint32_t be;
    if (read_all(fd, &be, sizeof be) != 0)
        return -1;
    *len = ntohl(be);
    if (*len > MAX_FRAME)
        return -1;
    *data = malloc(*len > 0 ? *len : 1);
    if (*data == NULL || read_all(fd, *data, *len) != 0) {
        free(*data);
        *data = NULL;
        return -1;
    }
    return 0;
}

static int send_frame(int fd, char kind, const void *payload, size_t len)
{
    uint32_t be = htonl((uint32_t)len);
    unsigned char k = (unsigned char)kind;
    if (write_all(fd, &k, 1) != 0 || write_all(fd, &be, sizeof be) != 0)
        return -1;
    return len > 0 ? write_all(fd, payload, len) : 0;
}

/* kerbsasl's own records (server ready, keytab reloads, warnings). */
static void log_to_stderr(void *userdata, uint32_t level, const char *target,
                          const char *message)
{
    (void)userdata;
    (void)target;
    fprintf(stderr, "kerbsasl [%u]: %s\n", (unsigned)level, message);
}

/* Runs the exchange on one connection. Returns 0 when authenticated. */
static int authenticate(int fd, const kerbsasl_server *server)
{
    kerbsasl_session *session = NULL;
    const uint8_t *out = NULL;
    size_t out_len = 0, in_len = 0;
    unsigned char *in = NULL;
    kerbsasl_result rc;

    if (read_frame(fd, &in, &in_len) != 0) {
        fprintf(stderr, "socket_server: no initial token from the client\n");
        return 1;
    }
    rc = kerbsasl_server_start(server, in, in_len, &session, &out, &out_len);
    while (rc == KERBSASL_CONTINUE) {
        free(in);
        in = NULL;
        /* The output is borrowed from the session until the next call. */
        if (send_frame(fd, 'C', out, out_len) != 0 || read_frame(fd, &in, &in_len) != 0) {
            fprintf(stderr, "socket_server: the client went away mid-handshake\n");
            kerbsasl_dispose(session);
            return 1;
        }
        rc = kerbsasl_server_step(session, in, in_len, &out, &out_len);
    }
    free(in);

    int status = 1;
    if (rc == KERBSASL_OK) {
        /* The username is what ACLs should use: never anything the client typed. */
        const char *username = kerbsasl_session_username(session);
        printf("authenticated %s (principal %s)\n", username, kerbsasl_session_principal(session));
        status = send_frame(fd, 'O', username, strlen(username)) == 0 ? 0 : 1;
    } else {
        const char *why = session ? kerbsasl_session_error(session) : kerbsasl_last_error();
        fprintf(stderr, "socket_server: authentication failed: %s: %s\n", kerbsasl_result_str(rc),
                why ? why : "(no message)");
        send_frame(fd, 'F', NULL, 0);
    }
    kerbsasl_dispose(session); /* NULL is fine */
    return status;
}

/* A loopback socket listening on `port` (0: any); prints the port. */
static int listen_on(unsigned short port)
{
    struct sockaddr_in addr;
    socklen_t addr_len = sizeof addr;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 1) != 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &addr_len) != 0) {
        perror("socket_server: listen");
        if (fd >= 0)
            close(fd);
        return -1;
    }
    printf("listening on 127.0.0.1:%u\n", (unsigned)ntohs(addr.sin_port));
    fflush(stdout);
    return fd;
}

int main(int argc, char **argv)
{
    const char *keys[MAX_OPTIONS], *values[MAX_OPTIONS];
    size_t count = 0;
    unsigned short port = 0;
    kerbsasl_server *server = NULL;

    if (argc % 2 == 0) {
        fprintf(stderr, "usage: socket_server [-p PORT] [-o KEY=VALUE]...\n");
        return 2;
    }
    for (int i = 1; i + 1 < argc; i += 2) {
        char *eq = strchr(argv[i + 1], '=');
        if (strcmp(argv[i], "-p") == 0) {
            port = (unsigned short)atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "-o") == 0 && eq != NULL && count < MAX_OPTIONS) {
            *eq = '\0';
            keys[count] = argv[i + 1];
            values[count++] = eq + 1;
        } else {
            fprintf(stderr, "usage: socket_server [-p PORT] [-o KEY=VALUE]...\n");
            return 2;
        }
    }

    kerbsasl_set_log_callback(log_to_stderr, NULL, KERBSASL_LOG_INFO);
    /* Once per process: checks every option and loads the keytab. */
    if (kerbsasl_server_new(keys, values, count, &server) != KERBSASL_OK) {
        fprintf(stderr, "socket_server: %s\n", kerbsasl_last_error());
        return 1;
    }
    int listener = listen_on(port), status = 1;
    if (listener >= 0) {
        int client = accept(listener, NULL, NULL);
        if (client >= 0) {
            status = authenticate(client, server);
            close(client);
        } else {
            perror("socket_server: accept");
        }
        close(listener);
    }
    kerbsasl_server_free(server);
    kerbsasl_set_log_callback(NULL, NULL, KERBSASL_LOG_OFF);
    return status;
}

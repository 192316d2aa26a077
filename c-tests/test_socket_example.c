/*
 * examples/socket_server.c as a user runs it: its own process on a free
 * loopback port; a real SASL GSSAPI client authenticates over the socket
 * with the example's framing, and a client sending garbage is refused with
 * the reason on the server's stderr.
 *
 * Usage: test_socket_example COMMAND...  (the example, perhaps under valgrind)
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/fixture.h"

#define MAX_ARGS 32

typedef struct {
    pid_t pid;
    FILE *out;          /* the example's stdout */
    char err_path[512]; /* its stderr, kept in the realm's dir */
    unsigned port;
} example;

/* Starts COMMAND... -p 0 -o principal=... -o keytab=... and reads its port. */
static int example_start(example *e, char **command, const char *name)
{
    char keytab[600], principal[300], path[512];
    char *argv[MAX_ARGS];
    int n = 0, out[2];
    fixture_path(path, sizeof path, "mqtt.keytab");
    snprintf(keytab, sizeof keytab, "keytab=%s", path);
    snprintf(principal, sizeof principal, "principal=%s", fixture_service());
    fixture_path(e->err_path, sizeof e->err_path, name);
    while (*command != NULL && n < MAX_ARGS - 7)
        argv[n++] = *command++;
    argv[n++] = "-p";
    argv[n++] = "0";
    argv[n++] = "-o";
    argv[n++] = principal;
    argv[n++] = "-o";
    argv[n++] = keytab;
    argv[n] = NULL;
    if (pipe(out) != 0)
        check_fatal("pipe", "for the example's stdout");
    fflush(NULL);
    e->pid = fork();
    if (e->pid == 0) {
        dup2(out[1], 1);
        close(out[0]);
        close(out[1]);
        if (freopen(e->err_path, "w", stderr) == NULL)
            _exit(126);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(out[1]);
    e->out = fdopen(out[0], "r");
    char line[256];
    return check(e->pid > 0 && e->out != NULL && fgets(line, sizeof line, e->out) != NULL &&
                     sscanf(line, "listening on 127.0.0.1:%u", &e->port) == 1,
                 "the example starts and prints its port", "command %s", argv[0]);
}

/* Waits for the example; returns its exit status (-1: killed) and its
 * remaining stdout in `rest`. */
static int example_finish(example *e, char *rest, size_t len)
{
    int status;
    size_t used = fread(rest, 1, len - 1, e->out);
    rest[used] = '\0';
    fclose(e->out);
    waitpid(e->pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The example's stderr (empty string if none). */
static void read_stderr(const example *e, char *text, size_t len)
{
    FILE *f = fopen(e->err_path, "r");
    size_t used = f ? fread(text, 1, len - 1, f) : 0;
    text[used] = '\0';
    if (f)
        fclose(f);
}

static int connect_to(unsigned port)
{
    struct sockaddr_in addr;
    struct timeval timeout = {20, 0};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons((unsigned short)port);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0)
        check_fatal("connect to the example", "port %u", port);
    return fd;
}

static void send_token(int fd, const uint8_t *token, size_t len)
{
    uint32_t be = htonl((uint32_t)len);
    if (write(fd, &be, sizeof be) != (ssize_t)sizeof be ||
        (len > 0 && write(fd, token, len) != (ssize_t)len))
        check_fatal("send a frame to the example", "write failed");
}

static int read_exact(int fd, void *data, size_t len)
{
    uint8_t *p = data;
    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* One server frame: its kind ('?' on error) and malloc'd payload. */
static char read_reply(int fd, uint8_t **payload, size_t *len)
{
    uint8_t kind;
    uint32_t be;
    *payload = NULL;
    if (read_exact(fd, &kind, 1) != 0 || read_exact(fd, &be, sizeof be) != 0)
        return '?';
    *len = ntohl(be);
    *payload = malloc(*len + 1);
    if (*payload == NULL || read_exact(fd, *payload, *len) != 0)
        return '?';
    (*payload)[*len] = '\0';
    return (char)kind;
}

/* No sanitizer or valgrind report in the example's stderr. */
static void check_clean(const char *name, const char *err)
{
    int dirty = strstr(err, "Sanitizer") != NULL || strstr(err, "runtime error") != NULL ||
                strstr(err, "==") != NULL;
    check(!dirty, name, "stderr: %.300s", err);
}

static void authenticates_alice(char **command)
{
    example e;
    char rest[1024], err[4096];
    if (!example_start(&e, command, "example-ok.err"))
        return;
    int fd = connect_to(e.port);
    sasl_client *client = client_new(NULL, fixture_service(), 1, NULL);
    size_t len, reply_len = 0;
    uint8_t *token = client_initial(client, &len), *reply = NULL;
    char kind;
    for (int round = 0; round < 4; round++) {
        send_token(fd, token, len);
        free(token);
        token = NULL;
        kind = read_reply(fd, &reply, &reply_len);
        if (kind != 'C')
            break;
        token = client_respond(client, reply, reply_len, &len);
        free(reply);
        reply = NULL;
    }
    check(kind == 'O' && reply != NULL && strcmp((char *)reply, "alice@KERBSASL.TEST") == 0,
          "the client gets OK with its username", "kind %c, payload %s", kind,
          reply ? (char *)reply : "(none)");
    free(reply);
    free(token);
    close(fd);
    sasl_client_free(client);
    int status = example_finish(&e, rest, sizeof rest);
    read_stderr(&e, err, sizeof err);
    check(status == 0, "the example exits 0 after a success", "status %d; stderr: %.300s", status,
          err);
    check(strstr(rest, "authenticated alice@KERBSASL.TEST (principal alice@KERBSASL.TEST)") != NULL,
          "the example prints the identity", "stdout: %s", rest);
    check(strstr(err, "kerbsasl server ready") != NULL,
          "the example's log callback prints kerbsasl's records", "stderr: %.300s", err);
    check_clean("success: no sanitizer or valgrind report", err);
}

static void refuses_garbage(char **command)
{
    example e;
    char rest[1024], err[4096];
    if (!example_start(&e, command, "example-garbage.err"))
        return;
    int fd = connect_to(e.port);
    uint8_t *reply = NULL;
    size_t reply_len = 0;
    send_token(fd, (const uint8_t *)"junk", 4);
    char kind = read_reply(fd, &reply, &reply_len);
    check(kind == 'F' && reply_len == 0, "garbage gets F with no detail", "kind %c, %zu bytes",
          kind, reply_len);
    free(reply);
    close(fd);
    int status = example_finish(&e, rest, sizeof rest);
    read_stderr(&e, err, sizeof err);
    check(status == 1, "the example exits 1 after a failure", "status %d", status);
    check(strstr(err, "authentication failed: KERBSASL_BAD_TOKEN: ") != NULL &&
              strstr(err, "not a GSSAPI token") != NULL,
          "the example logs the code and the reason", "stderr: %.300s", err);
    check_clean("failure: no sanitizer or valgrind report", err);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_socket_example COMMAND...\n");
        return 2;
    }
    fixture_init();
    authenticates_alice(argv + 1);
    refuses_garbage(argv + 1);
    return check_exit_status();
}

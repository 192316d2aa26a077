/*
 * A small HTTP/1.1 server for kerbsasl's HTTP Negotiate suite: every
 * request goes through kerbsasl_http_authenticate, as a C host would do
 * it. Test code: one connection at a time, GET only, "Connection: close".
 *
 *   http_server PORTFILE [KEY=VALUE...]
 *
 * KEY=VALUE are kerbsasl_server_new options. The server listens on a free
 * port of 127.0.0.1, writes the port to PORTFILE, and serves until SIGTERM
 * or SIGINT, then frees everything and exits 0 (so that ASan's leak check
 * and valgrind see a clean exit).
 *
 * Responses (text/plain; the suite reads the body):
 *   200  "principal=...\nusername=...\nrealm=...\n", with the mutual
 *        token's WWW-Authenticate when there is one. On /corrupt-mutual
 *        one character of that token is changed, so that a client that
 *        verifies the token fails.
 *   401  WWW-Authenticate as kerbsasl says ("Negotiate");
 *        body "result=KERBSASL_...\nerror=...\n".
 *   400  a request the server cannot read.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "kerbsasl.h"

/* Larger than kerbsasl's bound on the header (98,304 bytes), so that
 * oversized headers reach kerbsasl. */
#define MAX_REQUEST (256 * 1024)
#define MAX_OPTIONS 16

static volatile sig_atomic_t stopping;

static void on_signal(int signal_number)
{
    (void)signal_number;
    stopping = 1;
}

static void send_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t sent = send(fd, data, len, MSG_NOSIGNAL);
        if (sent <= 0) {
            if (sent < 0 && errno == EINTR)
                continue;
            return;
        }
        data += sent;
        len -= (size_t)sent;
    }
}

static void respond(int fd, int status, const char *reason, const char *www, size_t www_len,
                    const char *body)
{
    char head[1024];
    int used = snprintf(head, sizeof head,
                        "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n"
                        "Content-Length: %zu\r\nConnection: close\r\n",
                        status, reason, strlen(body));
    send_all(fd, head, (size_t)used);
    if (www != NULL) {
        send_all(fd, "WWW-Authenticate: ", 18);
        send_all(fd, www, www_len);
        send_all(fd, "\r\n", 2);
    }
    send_all(fd, "\r\n", 2);
    send_all(fd, body, strlen(body));
}

/* Reads until the end of the headers; returns their length, or 0. */
static size_t read_headers(int fd, char *buffer, size_t size)
{
    size_t used = 0;
    while (used < size - 1) {
        ssize_t got = recv(fd, buffer + used, size - 1 - used, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return 0;
        used += (size_t)got;
        buffer[used] = '\0';
        char *end = strstr(buffer, "\r\n\r\n");
        if (end != NULL)
            return (size_t)(end - buffer) + 4;
    }
    return 0;
}

/* Finds the Authorization header's value (not NUL-terminated). */
static const char *find_authorization(const char *headers, size_t *len)
{
    const char *line = strstr(headers, "\r\n");
    while (line != NULL && line[2] != '\r') {
        line += 2;
        const char *end = strstr(line, "\r\n");
        if (end == NULL)
            return NULL;
        if (strncasecmp(line, "Authorization:", 14) == 0) {
            *len = (size_t)(end - line) - 14;
            return line + 14;
        }
        line = end;
    }
    return NULL;
}

static void serve(const kerbsasl_server *server, int fd, char *buffer)
{
    if (read_headers(fd, buffer, MAX_REQUEST) == 0) {
        respond(fd, 400, "Bad Request", NULL, 0, "unreadable request\n");
        return;
    }
    int corrupt = strncmp(buffer, "GET /corrupt-mutual ", 20) == 0;
    size_t header_len = 0;
    const char *header = find_authorization(buffer, &header_len);
    kerbsasl_session *session = NULL;
    const char *www = NULL;
    size_t www_len = 0;
    kerbsasl_result code =
        kerbsasl_http_authenticate(server, header, header_len, &session, &www, &www_len);
    char body[4096];
    if (code == KERBSASL_OK) {
        snprintf(body, sizeof body, "principal=%s\nusername=%s\nrealm=%s\n",
                 kerbsasl_session_principal(session), kerbsasl_session_username(session),
                 kerbsasl_session_realm(session));
        char *copy = NULL;
        if (corrupt && www != NULL && www_len > 20) {
            copy = malloc(www_len);
            if (copy != NULL) {
                memcpy(copy, www, www_len);
                copy[www_len - 8] = copy[www_len - 8] == 'A' ? 'B' : 'A';
                www = copy;
            }
        }
        respond(fd, 200, "OK", www, www_len, body);
        free(copy);
    } else {
        const char *error = code == KERBSASL_CONTINUE ? "" : kerbsasl_last_error();
        snprintf(body, sizeof body, "result=%s\nerror=%s\n", kerbsasl_result_str(code),
                 error ? error : "(none)");
        respond(fd, 401, "Unauthorized", www, www_len, body);
    }
    kerbsasl_dispose(session);
}

static int listen_on_loopback(const char *port_file)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address;
    socklen_t size = sizeof address;
    memset(&address, 0, sizeof address);
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&address, sizeof address) != 0 ||
        listen(fd, 16) != 0 || getsockname(fd, (struct sockaddr *)&address, &size) != 0) {
        perror("http_server: listen");
        return -1;
    }
    FILE *file = fopen(port_file, "w");
    if (file == NULL || fprintf(file, "%d\n", ntohs(address.sin_port)) < 0 || fclose(file) != 0) {
        perror("http_server: port file");
        return -1;
    }
    return fd;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc - 2 > MAX_OPTIONS) {
        fprintf(stderr, "usage: http_server PORTFILE [KEY=VALUE...]\n");
        return 2;
    }
    char *keys[MAX_OPTIONS] = {0};
    const char *values[MAX_OPTIONS] = {0};
    size_t count = 0;
    for (int i = 2; i < argc; i++, count++) {
        char *equals = strchr(argv[i], '=');
        if (equals == NULL) {
            fprintf(stderr, "http_server: option %s is not KEY=VALUE\n", argv[i]);
            return 2;
        }
        keys[count] = strndup(argv[i], (size_t)(equals - argv[i]));
        values[count] = equals + 1;
    }
    kerbsasl_server *server = NULL;
    kerbsasl_result code =
        kerbsasl_server_new((const char *const *)keys, values, count, &server);
    for (size_t i = 0; i < count; i++)
        free(keys[i]);
    if (code != KERBSASL_OK) {
        fprintf(stderr, "http_server: %s: %s\n", kerbsasl_result_str(code),
                kerbsasl_last_error());
        return 1;
    }
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_signal;
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGINT, &action, NULL);

    int listener = listen_on_loopback(argv[1]);
    char *buffer = malloc(MAX_REQUEST);
    if (listener < 0 || buffer == NULL) {
        kerbsasl_server_free(server);
        free(buffer);
        return 1;
    }
    struct timeval timeout = {10, 0};
    while (!stopping) {
        struct pollfd ready = {listener, POLLIN, 0};
        if (poll(&ready, 1, 200) <= 0)
            continue;
        int client = accept(listener, NULL, NULL);
        if (client < 0)
            continue;
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
        serve(server, client, buffer);
        close(client);
    }
    close(listener);
    free(buffer);
    kerbsasl_server_free(server);
    return 0;
}

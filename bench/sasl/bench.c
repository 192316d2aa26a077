/* Server-side cost of SASL GSSAPI (RFC 4752) handshakes.
 *
 *   bench --contender NAME [--handshakes N]
 *         [--threads T] [--principal mqtt/HOST@REALM] [--keytab PATH]
 *         [--batch B] [--warmup W] [--cred-per-thread] [--check-replay]
 *   bench --list      the contenders (kerbsasl, cyrus, mit-naive, ...), one a line
 *
 * Every handshake is a real one: a fresh AP-REQ from an in-process initiator
 * (gss_init_sec_context, or a Cyrus SASL client for Cyrus), so the replay
 * cache sees a new authenticator each time. Only server calls are timed
 * (clock_gettime around each) and, under callgrind, only they are counted.
 *
 * Each thread runs its handshakes in batches of B, in lockstep phases:
 * every client step for the batch, then every server step, and so on. All
 * threads enter and leave each server phase together (barriers), so the
 * server phases hold server work only and "handshakes_per_s" is handshakes
 * divided by the wall time of the server phases: client work never
 * overlaps it and is never charged to it.
 *
 * Output: one line of key=value pairs (see print_results). */
#include "bench.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <valgrind/callgrind.h>

/* Filled by BENCH_CONTENDER before main. */
#define MAX_CONTENDERS 32
static const contender *contenders[MAX_CONTENDERS];
static size_t contender_count;

void bench_register(const contender *c)
{
    if (contender_count == MAX_CONTENDERS) {
        fprintf(stderr, "bench: more than %d contenders\n", MAX_CONTENDERS);
        exit(2);
    }
    /* kerbsasl, the subject, comes first; the rest in link order. */
    size_t at = strcmp(c->name, "kerbsasl") == 0 ? 0 : contender_count;
    memmove(&contenders[at + 1], &contenders[at], (contender_count - at) * sizeof *contenders);
    contenders[at] = c;
    contender_count++;
}

/* ---- options ------------------------------------------------------------ */

typedef struct {
    const contender *who;
    long handshakes;
    long batch;
    long warmup;
    bool check_replay;
    bench_cfg cfg;
} options;

static void usage(void)
{
    fprintf(stderr,
            "usage: bench --contender NAME [--handshakes N] [--threads T]\n"
            "             [--principal svc/host@REALM] [--keytab PATH]\n"
            "             [--batch B] [--warmup W] [--cred-per-thread] [--check-replay]\n"
            "       bench --list\n"
            "contenders:");
    for (size_t i = 0; i < contender_count; i++)
        fprintf(stderr, " %s", contenders[i]->name);
    fprintf(stderr, "\nprincipal and keytab default to $BENCH_PRINCIPAL, $BENCH_KEYTAB\n");
    exit(2);
}

static long parse_count(const char *s)
{
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < 1)
        usage();
    return v;
}

static const contender *find_contender(const char *name)
{
    for (size_t i = 0; i < contender_count; i++)
        if (strcmp(contenders[i]->name, name) == 0)
            return contenders[i];
    usage();
    return NULL;
}

/* "svc/host@REALM" -> service, host, realm (Cyrus wants them apart). */
static void split_principal(bench_cfg *cfg)
{
    static char buf[512];
    char *slash, *at;
    if (snprintf(buf, sizeof buf, "%s", cfg->principal) >= (int)sizeof buf)
        usage();
    slash = strchr(buf, '/');
    at = strrchr(buf, '@');
    if (slash == NULL || at == NULL || at < slash) {
        fprintf(stderr, "principal must look like svc/host@REALM\n");
        exit(2);
    }
    *slash = *at = '\0';
    cfg->service = buf;
    cfg->host = slash + 1;
    cfg->realm = at + 1;
}

static options parse_options(int argc, char **argv)
{
    options o = {NULL, 20000, 64, 100, false,
                 {getenv("BENCH_PRINCIPAL"), getenv("BENCH_KEYTAB"),
                  NULL, NULL, NULL, 1, false}};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--cred-per-thread") == 0) {
            o.cfg.cred_per_thread = true;
            continue;
        }
        if (strcmp(a, "--check-replay") == 0) {
            o.check_replay = true;
            continue;
        }
        if (v == NULL)
            usage();
        i++;
        if (strcmp(a, "--contender") == 0)
            o.who = find_contender(v);
        else if (strcmp(a, "--handshakes") == 0)
            o.handshakes = parse_count(v);
        else if (strcmp(a, "--threads") == 0)
            o.cfg.threads = (int)parse_count(v);
        else if (strcmp(a, "--batch") == 0)
            o.batch = parse_count(v);
        else if (strcmp(a, "--warmup") == 0)
            o.warmup = strcmp(v, "0") == 0 ? 0 : parse_count(v);
        else if (strcmp(a, "--principal") == 0)
            o.cfg.principal = v;
        else if (strcmp(a, "--keytab") == 0)
            o.cfg.keytab = v;
        else
            usage();
    }
    if (o.who == NULL || o.cfg.principal == NULL || o.cfg.keytab == NULL)
        usage();
    split_principal(&o.cfg);
    return o;
}

/* ---- one batch of handshakes, in lockstep phases ------------------------- */

typedef struct {
    void *client, *server;
    tok to_server, to_client;
    bool done;
    uint64_t server_ns; /* sum over this handshake's server calls */
} handshake;

typedef struct {
    int tid;
    const side_ops *server, *client;
    pthread_barrier_t *barrier; /* NULL during warmup: not measured */
    long count;                 /* handshakes this thread runs */
    long batch;
    uint64_t *latency_ns;       /* count entries, or NULL */
    uint64_t server_wall_ns;    /* thread 0: wall time inside server phases */
    uint64_t server_cpu_ns;     /* this thread's CPU time in server phases */
} worker;

static uint64_t clock_ns(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}

static _Noreturn void die(const worker *w, const char *what)
{
    fprintf(stderr, "thread %d: %s failed; stopping\n", w->tid, what);
    exit(1);
}

typedef struct {
    uint64_t wall, cpu;
} phase_start;

/* CPU time is read once per phase, not per call: a thread-CPU clock read is
 * a real syscall. It leaves out time lost to other processes and to lock
 * waits, so it stays readable on a busy machine. */
static void phase_begin(worker *w, phase_start *p)
{
    if (w->barrier != NULL)
        pthread_barrier_wait(w->barrier);
    p->wall = now_ns();
    p->cpu = clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

static void phase_end(worker *w, const phase_start *p)
{
    if (w->barrier == NULL)
        return;
    w->server_cpu_ns += clock_ns(CLOCK_THREAD_CPUTIME_ID) - p->cpu;
    pthread_barrier_wait(w->barrier); /* waits for the slowest thread */
    if (w->tid == 0)
        w->server_wall_ns += now_ns() - p->wall;
}

typedef enum { SERVER_OPEN_STEP, SERVER_STEP, SERVER_CLOSE } server_call;

/* One timed server call. The callgrind toggles make
 * `valgrind --tool=callgrind --collect-atstart=no` count these calls only. */
static step_rc timed_server_call(worker *w, handshake *h, server_call call)
{
    const side_ops *srv = w->server;
    bool measured = w->barrier != NULL;
    step_rc rc = STEP_CONTINUE;
    uint64_t t0 = now_ns();

    if (measured)
        CALLGRIND_TOGGLE_COLLECT;
    if (call == SERVER_OPEN_STEP)
        h->server = srv->open(w->tid);
    if (call == SERVER_CLOSE)
        srv->close(h->server);
    else if (h->server == NULL)
        rc = STEP_FAIL;
    else
        rc = srv->step(h->server, &h->to_server, &h->to_client);
    if (measured)
        CALLGRIND_TOGGLE_COLLECT;
    h->server_ns += now_ns() - t0;
    return rc;
}

static bool server_phase(worker *w, handshake *b, long n, server_call call)
{
    bool any_left = false;
    phase_start t0;
    phase_begin(w, &t0);
    for (long i = 0; i < n; i++) {
        if (b[i].done && call != SERVER_CLOSE)
            continue;
        step_rc rc = timed_server_call(w, &b[i], call);
        if (rc == STEP_FAIL)
            die(w, "server step");
        b[i].done = rc == STEP_DONE;
        any_left |= !b[i].done;
    }
    phase_end(w, &t0);
    return any_left;
}

static void client_phase(worker *w, handshake *b, long n, bool first)
{
    const side_ops *cli = w->client;
    static const tok none = {NULL, 0};
    for (long i = 0; i < n; i++) {
        if (b[i].done)
            continue;
        if (first && (b[i].client = cli->open(w->tid)) == NULL)
            die(w, "client open");
        if (cli->step(b[i].client, first ? &none : &b[i].to_client,
                      &b[i].to_server) == STEP_FAIL)
            die(w, "client step");
    }
}

/* Every handshake in a batch takes the same number of server steps, so all
 * threads go through the same number of phases and barriers. */
static void run_batch(worker *w, handshake *b, long n)
{
    memset(b, 0, (size_t)n * sizeof *b);
    client_phase(w, b, n, true);
    bool left = server_phase(w, b, n, SERVER_OPEN_STEP);
    while (left) {
        client_phase(w, b, n, false);
        left = server_phase(w, b, n, SERVER_STEP);
    }
    server_phase(w, b, n, SERVER_CLOSE);
    for (long i = 0; i < n; i++)
        w->client->close(b[i].client);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    handshake *b = malloc((size_t)w->batch * sizeof *b);
    if (b == NULL)
        die(w, "malloc");
    for (long done = 0; done < w->count; done += w->batch) {
        long n = w->count - done < w->batch ? w->count - done : w->batch;
        run_batch(w, b, n);
        for (long i = 0; w->latency_ns != NULL && i < n; i++)
            w->latency_ns[done + i] = b[i].server_ns;
    }
    free(b);
    return NULL;
}

/* ---- results ------------------------------------------------------------ */

static long rss_kb(void)
{
    char line[256];
    long kb = -1;
    FILE *f = fopen("/proc/self/status", "r");
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    if (f != NULL)
        fclose(f);
    return kb;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void print_results(const options *o, uint64_t *lat, long n,
                          uint64_t wall_ns, uint64_t cpu_ns, long rss_before)
{
    double sum = 0;
    qsort(lat, (size_t)n, sizeof *lat, cmp_u64);
    for (long i = 0; i < n; i++)
        sum += (double)lat[i];
    long p99 = (n * 99 + 99) / 100 - 1; /* nearest-rank */
    printf("contender=%s threads=%d handshakes=%ld batch=%ld cred=%s "
           "median_us=%.1f p99_us=%.1f mean_us=%.1f cpu_us=%.1f handshakes_per_s=%.0f "
           "rss_kb=%ld rss_start_kb=%ld\n",
           o->who->name, o->cfg.threads, n, o->batch,
           o->cfg.cred_per_thread ? "per-thread" : "shared",
           (double)lat[n / 2] / 1e3, (double)lat[p99] / 1e3, sum / (double)n / 1e3,
           (double)cpu_ns / (double)n / 1e3,
           (double)n / ((double)wall_ns / 1e9), rss_kb(), rss_before);
}

/* ---- replay check ------------------------------------------------------- */

/* Feed one initial token to two fresh server sessions: the second must be
 * refused, which shows this contender really runs with a replay cache. */
static int check_replay(const options *o, const side_ops *server,
                        const side_ops *client)
{
    static const tok none = {NULL, 0};
    unsigned char copy[16384];
    tok first, out;
    step_rc rc[2];
    void *c = client->open(0);

    if (c == NULL || client->step(c, &none, &first) == STEP_FAIL ||
        first.len > sizeof copy)
        return 1;
    memcpy(copy, first.data, first.len); /* outlives the client session */
    first.data = copy;
    for (int i = 0; i < 2; i++) {
        if (i == 1)
            fprintf(stderr, "replaying the same token; expect a replay error:\n");
        void *s = server->open(0);
        rc[i] = s == NULL ? STEP_FAIL : server->step(s, &first, &out);
        server->close(s);
    }
    client->close(c);
    bool ok = rc[0] != STEP_FAIL && rc[1] == STEP_FAIL;
    printf("contender=%s replay_check=%s\n", o->who->name, ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}

/* ---- main ----------------------------------------------------------------- */

static void run_threads(int threads, worker *ws)
{
    pthread_t *tids = calloc((size_t)threads, sizeof *tids);
    if (tids == NULL)
        die(&ws[0], "calloc");
    for (int t = 0; t < threads; t++)
        if (pthread_create(&tids[t], NULL, worker_main, &ws[t]) != 0)
            die(&ws[t], "pthread_create");
    for (int t = 0; t < threads; t++)
        pthread_join(tids[t], NULL);
    free(tids);
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (size_t i = 0; i < contender_count; i++)
            printf("%s\n", contenders[i]->name);
        return 0;
    }
    options o = parse_options(argc, argv);
    int T = o.cfg.threads;
    long per_thread = o.handshakes / T, n = per_thread * T;
    const side_ops *server = o.who->server, *client = o.who->client;
    uint64_t *lat = calloc((size_t)n, sizeof *lat);
    worker *ws = calloc((size_t)T, sizeof *ws);
    pthread_barrier_t bar;

    if (lat == NULL || ws == NULL || per_thread < 1) {
        fprintf(stderr, "need at least one handshake per thread\n");
        return 2;
    }
    if (server->init(&o.cfg) != 0 || client->init(&o.cfg) != 0)
        return 1;
    if (o.check_replay)
        return check_replay(&o, server, client);
    /* Touch the latency array now (non-zero, or calloc+memset may be folded
     * away): its 8 bytes per handshake must not show up as RSS growth. */
    memset(lat, 1, (size_t)n * sizeof *lat);

    /* Warm up on one thread, unmeasured: first-use costs (plugin loading,
     * service ticket fetch, replay cache creation) are not per handshake. */
    worker warm = {0, server, client, NULL, o.warmup, o.batch, NULL, 0, 0};
    if (o.warmup > 0)
        worker_main(&warm);
    long rss_before = rss_kb();

    pthread_barrier_init(&bar, NULL, (unsigned)T);
    for (int t = 0; t < T; t++)
        ws[t] = (worker){t, server, client, &bar, per_thread, o.batch,
                         lat + (long)t * per_thread, 0, 0};
    run_threads(T, ws);
    pthread_barrier_destroy(&bar);

    uint64_t cpu_ns = 0;
    for (int t = 0; t < T; t++)
        cpu_ns += ws[t].server_cpu_ns;
    print_results(&o, lat, n, ws[0].server_wall_ns, cpu_ns, rss_before);
    client->fini();
    server->fini();
    free(ws);
    free(lat);
    return 0;
}

/*
 * loadgen: a small HTTPS load generator for keyhole's benchmark.
 *
 * Why a C program: the benchmark compares direct-to-upstream against through-keyhole on a 2-core machine,
 * and the load generator shares those cores. Python threads at concurrency 64 saturate long before nginx
 * does, and `curl --parallel` spends most of its time in its own transfer bookkeeping; either would make
 * the direct figure a measure of the client, and the keyhole/direct ratio meaningless. This program is one
 * epoll loop per thread with non-blocking OpenSSL connections, so its per-request cost is a few syscalls
 * and one TLS record each way. It verifies certificates like a real client (against --cafile) and never
 * resumes TLS sessions, so "new connection" really is a full handshake.
 *
 * Modes:
 *   keepalive  N connections, each sending GETs back to back (HTTP/1.1 keep-alive)
 *   newconn    N connections, each closed after one response and replaced by a new one (TCP + TLS [+ CONNECT])
 *   hold       open N connections (CONNECT + TLS, and one request with --hold-request), print "READY n",
 *              keep them idle for --hold-seconds, then report how many are still open
 * Through a proxy (--authority given) each connection starts with CONNECT authority + Proxy-Authorization.
 *
 * Prints one JSON object on stdout.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { M_KEEPALIVE, M_NEWCONN, M_HOLD };
enum { S_CONNECTING, S_PROXY_WRITE, S_PROXY_READ, S_TLS, S_WRITE, S_READ, S_IDLE, S_DEAD };
enum { B_HEAD, B_LENGTH, B_CHUNK_SIZE, B_CHUNK_DATA, B_CHUNK_CRLF, B_TRAILER, B_UNTIL_CLOSE };

static struct {
    struct sockaddr_in target;
    const char *authority, *proxy_auth_b64, *sni, *host, *cafile, *path;
    char headers[4096];
    int concurrency, threads, mode, hold_request;
    double duration, warmup, hold_seconds;
} cfg;

static SSL_CTX *ctx;
static char request[8192];
static size_t request_len;
static char connect_req[2048];
static size_t connect_len;
static volatile int stopping;
static double t_start, t_measure, t_end;

typedef struct conn {
    int fd, state;
    SSL *ssl;
    char buf[16384];
    size_t len, off;
    int body_state, status, close_after;
    long long remaining;
    char line[64];
    size_t line_len;
    double started;
    struct thread *owner;
} conn;

typedef struct thread {
    pthread_t tid;
    int ep, n;
    conn *conns;
    long long ok, bad, errors, connections, idle, closed_while_idle;
    double *lat;
    size_t lat_len, lat_cap;
} thread;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what) {
    fprintf(stderr, "loadgen: %s\n", what);
    exit(2);
}

static void base64(const char *in, char *out) {
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(in), i = 0, o = 0;
    for (; i + 2 < n; i += 3) {
        unsigned v = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8 | (unsigned char)in[i + 2];
        out[o++] = t[v >> 18]; out[o++] = t[(v >> 12) & 63]; out[o++] = t[(v >> 6) & 63]; out[o++] = t[v & 63];
    }
    if (n - i == 1) {
        unsigned v = (unsigned char)in[i] << 16;
        out[o++] = t[v >> 18]; out[o++] = t[(v >> 12) & 63]; out[o++] = '='; out[o++] = '=';
    } else if (n - i == 2) {
        unsigned v = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8;
        out[o++] = t[v >> 18]; out[o++] = t[(v >> 12) & 63]; out[o++] = t[(v >> 6) & 63]; out[o++] = '=';
    }
    out[o] = 0;
}

static void watch(conn *c, uint32_t events) {
    struct epoll_event ev = {.events = events, .data.ptr = c};
    if (epoll_ctl(c->owner->ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) epoll_ctl(c->owner->ep, EPOLL_CTL_ADD, c->fd, &ev);
}

static void drop(conn *c) {
    if (c->ssl) { SSL_free(c->ssl); c->ssl = NULL; }
    if (c->fd >= 0) { epoll_ctl(c->owner->ep, EPOLL_CTL_DEL, c->fd, NULL); close(c->fd); c->fd = -1; }
}

static void open_conn(conn *c) {
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) { c->state = S_DEAD; c->owner->errors++; return; }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->owner->connections++;
    c->state = S_CONNECTING;
    c->started = now();
    if (connect(c->fd, (struct sockaddr *)&cfg.target, sizeof cfg.target) < 0 && errno != EINPROGRESS) {
        c->owner->errors++;
        drop(c);
        c->state = S_DEAD;
        return;
    }
    watch(c, EPOLLOUT);
}

static void fail(conn *c) {
    c->owner->errors++;
    drop(c);
    if (cfg.mode == M_HOLD || stopping) { c->state = S_DEAD; return; }
    open_conn(c);
}

static int start_tls(conn *c) {
    c->ssl = SSL_new(ctx);
    SSL_set_fd(c->ssl, c->fd);
    SSL_set_tlsext_host_name(c->ssl, cfg.sni);
    SSL_set1_host(c->ssl, cfg.sni);
    SSL_set_connect_state(c->ssl);
    c->state = S_TLS;
    return 0;
}

static void begin_request(conn *c) {
    c->state = S_WRITE;
    c->off = 0;
    c->len = 0;
    c->body_state = B_HEAD;
    c->status = 0;
    c->close_after = 0;
    c->started = now();
}

/* Parses what is in c->buf[0..len) as a response; returns 1 when the response is complete. */
static int parse(conn *c) {
    size_t i = 0;
    if (c->body_state == B_HEAD) {
        char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
        if (!end) {
            if (c->len == sizeof c->buf) return -1;
            return 0;
        }
        size_t head = end - c->buf + 4;
        c->status = atoi(c->buf + 9);
        c->remaining = -1;
        int chunked = 0;
        for (char *p = c->buf; p < end;) {
            char *eol = memmem(p, end + 2 - p, "\r\n", 2);
            if (!eol) break;
            if (!strncasecmp(p, "content-length:", 15)) c->remaining = atoll(p + 15);
            else if (!strncasecmp(p, "transfer-encoding:", 18) && memmem(p, eol - p, "chunked", 7)) chunked = 1;
            else if (!strncasecmp(p, "connection:", 11) && memmem(p, eol - p, "close", 5)) c->close_after = 1;
            p = eol + 2;
        }
        i = head;
        if (c->status == 101 || c->status == 204 || c->status == 304) c->remaining = 0;
        if (chunked) { c->body_state = B_CHUNK_SIZE; c->line_len = 0; }
        else if (c->remaining >= 0) c->body_state = B_LENGTH;
        else { c->body_state = B_UNTIL_CLOSE; c->close_after = 1; }
    }
    while (1) {
        switch (c->body_state) {
        case B_LENGTH: {
            long long avail = c->len - i;
            long long take = avail < c->remaining ? avail : c->remaining;
            c->remaining -= take;
            i += take;
            c->len = 0;
            return c->remaining == 0;
        }
        case B_UNTIL_CLOSE:
            c->len = 0;
            return 0;
        case B_CHUNK_SIZE:
        case B_TRAILER:
            for (; i < c->len; i++) {
                char ch = c->buf[i];
                if (ch == '\n') {
                    c->line[c->line_len] = 0;
                    int empty = c->line_len == 0 || (c->line_len == 1 && c->line[0] == '\r');
                    c->line_len = 0;
                    if (c->body_state == B_TRAILER) {
                        if (empty) { c->len = 0; return 1; }
                        continue;
                    }
                    c->remaining = strtoll(c->line, NULL, 16);
                    c->body_state = c->remaining == 0 ? B_TRAILER : B_CHUNK_DATA;
                    i++;
                    break;
                }
                if (c->line_len < sizeof c->line - 1) c->line[c->line_len++] = ch;
            }
            if (i >= c->len) { c->len = 0; return 0; }
            break;
        case B_CHUNK_DATA: {
            long long avail = c->len - i;
            long long take = avail < c->remaining ? avail : c->remaining;
            c->remaining -= take;
            i += take;
            if (c->remaining == 0) { c->body_state = B_CHUNK_CRLF; c->remaining = 2; }
            if (i >= c->len) { c->len = 0; return 0; }
            break;
        }
        case B_CHUNK_CRLF: {
            long long avail = c->len - i;
            long long take = avail < c->remaining ? avail : c->remaining;
            c->remaining -= take;
            i += take;
            if (c->remaining == 0) { c->body_state = B_CHUNK_SIZE; c->line_len = 0; }
            if (i >= c->len) { c->len = 0; return 0; }
            break;
        }
        default:
            return -1;
        }
    }
}

static void completed(conn *c) {
    thread *t = c->owner;
    double done = now();
    if (done >= t_measure && done < t_end) {
        if (c->status >= 200 && c->status < 300) t->ok++;
        else t->bad++;
        if (t->lat_len < t->lat_cap) t->lat[t->lat_len++] = (done - c->started) * 1000.0;
    }
}

/* Drives one connection as far as it goes without blocking. */
static void advance(conn *c, uint32_t events) {
    for (;;) {
        switch (c->state) {
        case S_CONNECTING: {
            int err = 0;
            socklen_t l = sizeof err;
            getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
            if (err) { fail(c); return; }
            if (cfg.authority) { c->state = S_PROXY_WRITE; c->off = 0; }
            else start_tls(c);
            break;
        }
        case S_PROXY_WRITE: {
            ssize_t n = write(c->fd, connect_req + c->off, connect_len - c->off);
            if (n < 0) {
                if (errno == EAGAIN) { watch(c, EPOLLOUT); return; }
                fail(c); return;
            }
            c->off += n;
            if (c->off == connect_len) { c->state = S_PROXY_READ; c->len = 0; }
            break;
        }
        case S_PROXY_READ: {
            ssize_t n = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
            if (n < 0 && errno == EAGAIN) { watch(c, EPOLLIN); return; }
            if (n <= 0) { fail(c); return; }
            c->len += n;
            if (!memmem(c->buf, c->len, "\r\n\r\n", 4)) break;
            if (c->len < 12 || atoi(c->buf + 9) != 200) {
                static int told;
                if (!told++) fprintf(stderr, "loadgen: CONNECT answered: %.60s\n", c->buf);
                fail(c); return;
            }
            c->len = 0;
            start_tls(c);
            break;
        }
        case S_TLS: {
            int r = SSL_do_handshake(c->ssl);
            if (r == 1) {
                if (cfg.mode == M_HOLD && !cfg.hold_request) { c->state = S_IDLE; c->owner->idle++; watch(c, EPOLLIN); return; }
                begin_request(c);
                break;
            }
            int e = SSL_get_error(c->ssl, r);
            if (e == SSL_ERROR_WANT_READ) { watch(c, EPOLLIN); return; }
            if (e == SSL_ERROR_WANT_WRITE) { watch(c, EPOLLOUT); return; }
            static int told;
            if (!told++) {
                fprintf(stderr, "loadgen: TLS handshake failed: ");
                ERR_print_errors_fp(stderr);
                fprintf(stderr, "\n");
            }
            fail(c);
            return;
        }
        case S_WRITE: {
            int r = SSL_write(c->ssl, request + c->off, request_len - c->off);
            if (r <= 0) {
                int e = SSL_get_error(c->ssl, r);
                if (e == SSL_ERROR_WANT_READ) { watch(c, EPOLLIN); return; }
                if (e == SSL_ERROR_WANT_WRITE) { watch(c, EPOLLOUT); return; }
                fail(c); return;
            }
            c->off += r;
            if (c->off == request_len) { c->state = S_READ; c->len = 0; }
            break;
        }
        case S_READ: {
            int r = SSL_read(c->ssl, c->buf + c->len, sizeof c->buf - c->len);
            if (r <= 0) {
                int e = SSL_get_error(c->ssl, r);
                if (e == SSL_ERROR_WANT_READ) { watch(c, EPOLLIN); return; }
                if (e == SSL_ERROR_WANT_WRITE) { watch(c, EPOLLOUT); return; }
                if (c->body_state == B_UNTIL_CLOSE) { completed(c); drop(c); if (!stopping && cfg.mode != M_HOLD) open_conn(c); else c->state = S_DEAD; return; }
                fail(c); return;
            }
            c->len += r;
            int done = parse(c);
            if (done < 0) { fail(c); return; }
            if (!done) break;
            if (cfg.mode == M_HOLD) {
                c->state = S_IDLE; c->owner->idle++; watch(c, EPOLLIN);
                return;
            }
            completed(c);
            if (stopping) { drop(c); c->state = S_DEAD; return; }
            if (cfg.mode == M_NEWCONN || c->close_after) {
                drop(c);
                open_conn(c);
                return;
            }
            begin_request(c);
            break;
        }
        case S_IDLE: {
            char tmp[4096];
            int r = SSL_read(c->ssl, tmp, sizeof tmp);
            if (r > 0) break;
            int e = SSL_get_error(c->ssl, r);
            if (e == SSL_ERROR_WANT_READ) { watch(c, EPOLLIN); return; }
            c->owner->idle--;
            c->owner->closed_while_idle++;
            drop(c);
            c->state = S_DEAD;
            return;
        }
        default:
            return;
        }
    }
    (void)events;
}

static void *run_thread(void *arg) {
    thread *t = arg;
    t->ep = epoll_create1(EPOLL_CLOEXEC);
    for (int i = 0; i < t->n; i++) {
        t->conns[i].owner = t;
        t->conns[i].fd = -1;
        open_conn(&t->conns[i]);
    }
    struct epoll_event evs[256];
    double hold_until = 0;
    for (;;) {
        double tnow = now();
        if (cfg.mode != M_HOLD && tnow >= t_end) { stopping = 1; break; }
        if (cfg.mode == M_HOLD && hold_until && tnow >= hold_until) break;
        int n = epoll_wait(t->ep, evs, 256, 50);
        for (int i = 0; i < n; i++) advance(evs[i].data.ptr, evs[i].events);
        if (cfg.mode == M_HOLD && !hold_until) {
            int settled = 1;
            for (int i = 0; i < t->n; i++)
                if (t->conns[i].state != S_IDLE && t->conns[i].state != S_DEAD) { settled = 0; break; }
            if (settled || tnow - t_start > 60) {
                printf("READY %lld\n", t->idle);
                fflush(stdout);
                hold_until = now() + cfg.hold_seconds;
            }
        }
    }
    for (int i = 0; i < t->n; i++) drop(&t->conns[i]);
    return NULL;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void usage(void) {
    fprintf(stderr,
            "usage: loadgen --target IP:PORT --sni HOST --host HOST:PORT --cafile FILE [--path /p]\n"
            "               [--authority HOST:PORT --proxy-auth USER:PASS] [--header 'K: V']...\n"
            "               [--mode keepalive|newconn|hold] [--concurrency N] [--threads T]\n"
            "               [--duration S] [--warmup S] [--hold-seconds S] [--hold-request]\n");
    exit(2);
}

int main(int argc, char **argv) {
    cfg.concurrency = 1; cfg.threads = 1; cfg.duration = 5; cfg.warmup = 1; cfg.path = "/";
    cfg.hold_seconds = 3; cfg.mode = M_KEEPALIVE;
    const char *target = NULL, *proxy_auth = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--hold-request")) { cfg.hold_request = 1; continue; }
        if (!v) usage();
        i++;
        if (!strcmp(a, "--target")) target = v;
        else if (!strcmp(a, "--authority")) cfg.authority = v;
        else if (!strcmp(a, "--proxy-auth")) proxy_auth = v;
        else if (!strcmp(a, "--sni")) cfg.sni = v;
        else if (!strcmp(a, "--host")) cfg.host = v;
        else if (!strcmp(a, "--cafile")) cfg.cafile = v;
        else if (!strcmp(a, "--path")) cfg.path = v;
        else if (!strcmp(a, "--header")) {
            strncat(cfg.headers, v, sizeof cfg.headers - strlen(cfg.headers) - 3);
            strcat(cfg.headers, "\r\n");
        }
        else if (!strcmp(a, "--mode")) cfg.mode = !strcmp(v, "newconn") ? M_NEWCONN : !strcmp(v, "hold") ? M_HOLD : M_KEEPALIVE;
        else if (!strcmp(a, "--concurrency")) cfg.concurrency = atoi(v);
        else if (!strcmp(a, "--threads")) cfg.threads = atoi(v);
        else if (!strcmp(a, "--duration")) cfg.duration = atof(v);
        else if (!strcmp(a, "--warmup")) cfg.warmup = atof(v);
        else if (!strcmp(a, "--hold-seconds")) cfg.hold_seconds = atof(v);
        else usage();
    }
    if (!target || !cfg.sni || !cfg.host || !cfg.cafile) usage();
    if (cfg.threads < 1) cfg.threads = 1;
    if (cfg.threads > cfg.concurrency) cfg.threads = cfg.concurrency;
    char ip[64];
    const char *colon = strrchr(target, ':');
    if (!colon || colon - target >= (long)sizeof ip) usage();
    memcpy(ip, target, colon - target);
    ip[colon - target] = 0;
    cfg.target.sin_family = AF_INET;
    cfg.target.sin_port = htons(atoi(colon + 1));
    if (inet_pton(AF_INET, ip, &cfg.target.sin_addr) != 1) die("--target must be IPv4:PORT");

    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    signal(SIGPIPE, SIG_IGN);

    ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (SSL_CTX_load_verify_locations(ctx, cfg.cafile, NULL) != 1) die("cannot load --cafile");
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    static const unsigned char alpn[] = "\x08http/1.1";
    SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn - 1);

    request_len = snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: keyhole-loadgen\r\n%s\r\n",
                           cfg.path, cfg.host, cfg.headers);
    if (cfg.authority) {
        char b64[1024] = "";
        if (proxy_auth) base64(proxy_auth, b64);
        connect_len = snprintf(connect_req, sizeof connect_req, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s%s%s\r\n",
                               cfg.authority, cfg.authority, proxy_auth ? "Proxy-Authorization: Basic " : "",
                               b64, proxy_auth ? "\r\n" : "");
    }

    t_start = now();
    t_measure = t_start + cfg.warmup;
    t_end = t_measure + cfg.duration;
    thread *ts = calloc(cfg.threads, sizeof *ts);
    conn *all = calloc(cfg.concurrency, sizeof *all);
    int given = 0;
    for (int i = 0; i < cfg.threads; i++) {
        ts[i].n = cfg.concurrency / cfg.threads + (i < cfg.concurrency % cfg.threads);
        ts[i].conns = all + given;
        given += ts[i].n;
        ts[i].lat_cap = 4 << 20;
        ts[i].lat = malloc(ts[i].lat_cap * sizeof(double));
        pthread_create(&ts[i].tid, NULL, run_thread, &ts[i]);
    }
    long long ok = 0, bad = 0, errors = 0, conns = 0, idle = 0, closed = 0;
    size_t lat_len = 0;
    for (int i = 0; i < cfg.threads; i++) {
        pthread_join(ts[i].tid, NULL);
        ok += ts[i].ok; bad += ts[i].bad; errors += ts[i].errors; conns += ts[i].connections;
        idle += ts[i].idle; closed += ts[i].closed_while_idle; lat_len += ts[i].lat_len;
    }
    double *lat = malloc((lat_len + 1) * sizeof(double));
    size_t k = 0;
    for (int i = 0; i < cfg.threads; i++) {
        memcpy(lat + k, ts[i].lat, ts[i].lat_len * sizeof(double));
        k += ts[i].lat_len;
    }
    qsort(lat, lat_len, sizeof(double), cmp_double);
    double p50 = lat_len ? lat[lat_len / 2] : 0, p99 = lat_len ? lat[(size_t)(lat_len * 0.99)] : 0;
    if (cfg.mode == M_HOLD)
        printf("{\"mode\":\"hold\",\"opened\":%lld,\"still_open\":%lld,\"closed_while_idle\":%lld,\"errors\":%lld}\n",
               conns, idle, closed, errors);
    else
        printf("{\"mode\":\"%s\",\"concurrency\":%d,\"threads\":%d,\"seconds\":%.3f,\"ok\":%lld,\"non_2xx\":%lld,"
               "\"errors\":%lld,\"connections\":%lld,\"rps\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f}\n",
               cfg.mode == M_NEWCONN ? "newconn" : "keepalive", cfg.concurrency, cfg.threads, cfg.duration, ok, bad,
               errors, conns, ok / cfg.duration, p50, p99);
    return 0;
}

/*
 * loadgen: a cheap load generator for internet radio servers (txradio,
 * Icecast).  One epoll loop, non-blocking sockets, one big shared receive
 * buffer, no per-byte work except counting through the ICY metadata
 * interleave.  Built at run time by benchmarks/capacity.py with `cc -O2`.
 *
 * It opens N listener connections to 127.0.0.1:PORT at a given ramp rate,
 * sends "GET PATH HTTP/1.0" (with "Icy-MetaData: 1" unless --no-meta), and
 * records per listener:
 *
 *   - time to response headers and to the first audio byte (from the
 *     moment connect() was called);
 *   - burst: audio bytes received within BURST_WINDOW (200 ms) of the
 *     response headers;
 *   - audio over the steady window [t1, t2]: the delivered rate is measured
 *     between the first and the last receive event inside the window
 *     (bytes received after the first event up to and including the last,
 *     divided by the time between them), so that a server which writes in
 *     0.5 s ticks is not penalised by where the window edges fall; it is
 *     divided by the nominal byte rate;
 *   - a simulated player: it waits until it holds PREBUFFER (1 s) of audio
 *     at the nominal bitrate, then plays at the bitrate; when its buffer
 *     runs dry that is a stall, and it waits for PREBUFFER again (the time
 *     it waits is counted as stalled seconds);
 *   - disconnects: EOF or reset from the server before the end;
 *   - for the "stalled" listeners (a fraction, chosen evenly through the
 *     ramp): they set a small SO_RCVBUF, send the request and never read;
 *     epoll reports the reset when the server drops them, and the time of
 *     the drop (from connect) is recorded.
 *
 * Phase changes are written to stderr as lines ("phase ramp_done",
 * "phase steady_start", "phase steady_end") so that a driver can sample the
 * server process over exactly the steady window.  At the end it prints one
 * JSON object on stdout.
 *
 * It raises its own RLIMIT_NOFILE soft limit to the hard limit.
 *
 * Built with -DLOADGEN_TLS (and -lssl -lcrypto), it accepts --tls: every
 * listener then makes a TLS handshake (non-blocking, in the same epoll loop,
 * no certificate verification, no session resumption) before its request,
 * and reads through SSL_read; the accounting is the same as in plain mode,
 * with the time to first audio including the handshake.  The stalled
 * listeners shake hands and send their request, then never read.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#ifdef LOADGEN_TLS
#include <openssl/err.h>
#include <openssl/ssl.h>
#endif

#define BURST_WINDOW 0.2
#define HEAD_MAX 4096
#define RECV_BUF (1 << 20)
#define MAX_EVENTS 2048

enum state { S_IDLE, S_CONNECTING, S_HANDSHAKE, S_HEAD, S_BODY, S_DONE };
enum end { E_NONE, E_CONNECT_FAIL, E_HEAD_FAIL, E_EOF, E_RESET, E_CLOSED_BY_US };

struct listener {
    int fd;
    unsigned char state;
    unsigned char end;
    unsigned char stalled;    /* deliberately never reads */
    unsigned char syncBad;    /* first audio byte was not an MP3 sync byte */
    unsigned char expectLen;  /* next byte is a metadata length byte */
    unsigned short headLen;
    char *head;               /* only while reading the response head */
    int status;
    int metaint;
    int audioLeft;            /* audio bytes before the next metadata block */
    int metaLeft;             /* metadata bytes still to skip */
    double tStart, tHead, tFirst, tEnd;
    long long audio;          /* audio bytes received in total */
    long long burst;
    long long metaBlocks, metaFull, metaBad;
    /* steady window */
    double wFirstT, wLastT;
    long long wFirstBytes, wLastBytes, wBytes;
    /* simulated player */
    unsigned char playing;
    double anchorT, anchorPos, waitFrom;
    int stalls;
    double stalledSeconds;
#ifdef LOADGEN_TLS
    SSL *ssl;
#endif
};

static struct listener *L;
static int N = 100, port = 8000, meta = 1;
static double rate = 1000, settle = 5, windowLen = 10, bitrate = 128000, stalledFrac = 0, linger = 2;
static int rcvbufStalled = 4096;
static int sourcePortBase = 10000, sourcePortNext; /* 0: the kernel chooses */
static const char *path = "/stream";
static char request[512];
static int requestLen;
static double byteRate, prebufferBytes;
static int epfd;
static double t0;
static unsigned char *rbuf;
static int playerFrozen; /* the players stop at t2 */
static int tls;          /* --tls: speak TLS to the server */
#ifdef LOADGEN_TLS
static SSL_CTX *sslContext;
#endif

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9 - t0;
}

static double cpuSeconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
}

static void usage(void) {
    fprintf(stderr,
            "usage: loadgen --port P [--n N] [--rate CONN_PER_S] [--no-meta] [--path /stream]\n"
            "               [--settle S] [--window S] [--bitrate BITS_PER_S] [--stalled FRACTION]\n"
            "               [--stalled-rcvbuf BYTES] [--linger S] [--tls] [--source-port-base PORT|0]\n");
    exit(2);
}

/* The player: called with the time of an event, before new audio is added. */
static void playerAdvance(struct listener *l, double t) {
    if (playerFrozen)
        return;
    if (l->playing) {
        double pos = l->anchorPos + (t - l->anchorT) * byteRate;
        if (pos >= (double)l->audio) {
            /* ran dry at the moment the last byte received was played */
            double dry = l->anchorT + ((double)l->audio - l->anchorPos) / byteRate;
            l->playing = 0;
            l->stalls++;
            l->waitFrom = dry;
            l->anchorPos = (double)l->audio;
        }
    }
}

static void playerFed(struct listener *l, double t) {
    if (playerFrozen)
        return;
    if (!l->playing && (double)l->audio - l->anchorPos >= prebufferBytes) {
        if (l->stalls > 0 || l->waitFrom > 0)
            l->stalledSeconds += t - l->waitFrom;
        l->playing = 1;
        l->anchorT = t;
    }
}

static void closeListener(struct listener *l, enum end why, double t) {
    if (l->fd >= 0) {
        if (why == E_CLOSED_BY_US) {
            struct linger lg = {1, 0}; /* reset: leave no TIME_WAIT behind */
            setsockopt(l->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        }
        close(l->fd);
        l->fd = -1;
    }
#ifdef LOADGEN_TLS
    if (l->ssl) {
        SSL_free(l->ssl);
        l->ssl = NULL;
    }
#endif
    if (l->head) {
        free(l->head);
        l->head = NULL;
    }
    l->state = S_DONE;
    l->end = why;
    l->tEnd = t;
}

static double connectSeconds, connectMax; /* time spent in socket()..connect() */
static void startConnectAt(struct listener *l, double t);

static void startConnect(struct listener *l, double t) {
    double c0 = now();
    startConnectAt(l, t);
    double c = now() - c0;
    connectSeconds += c;
    if (c > connectMax)
        connectMax = c;
}

static void startConnectAt(struct listener *l, double t) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    l->tStart = t;
    if (fd < 0) {
        l->state = S_DONE;
        l->end = E_CONNECT_FAIL;
        return;
    }
    if (l->stalled) {
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbufStalled, sizeof rcvbufStalled);
    } else {
        int big = 262144;
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    }
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* Choose the source port here: with more than about half of the
     * ephemeral range in use, the kernel's search for a free port in
     * connect() grows with every connection (tens of ms each near 19,000),
     * and the ramp stalls in this loop. */
    for (int tries = 0; sourcePortBase && tries < 256; tries++) {
        sa.sin_port = htons(sourcePortNext);
        sourcePortNext = sourcePortNext >= 65535 ? sourcePortBase : sourcePortNext + 1;
        if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 || errno != EADDRINUSE)
            break;
    }
    sa.sin_port = htons(port);
    l->fd = fd;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS) {
        closeListener(l, E_CONNECT_FAIL, t);
        return;
    }
    l->state = S_CONNECTING;
    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = l};
    epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* Count through body bytes: audio, metadata length bytes, metadata. */
static void body(struct listener *l, const unsigned char *p, long n, double t) {
    if (n <= 0)
        return;
    long long before = l->audio;
    if (!l->metaint) {
        if (before == 0 && p[0] != 0xFF)
            l->syncBad = 1;
        l->audio += n;
    } else {
        while (n > 0) {
            if (l->metaLeft) {
                long k = n < l->metaLeft ? n : l->metaLeft;
                l->metaLeft -= k;
                p += k;
                n -= k;
            } else if (l->expectLen) {
                int len = p[0];
                l->metaBlocks++;
                if (len) {
                    l->metaFull++;
                    if (n > 1 && p[1] != 'S') /* StreamTitle=... */
                        l->metaBad++;
                }
                l->metaLeft = len * 16;
                l->expectLen = 0;
                l->audioLeft = l->metaint;
                p++;
                n--;
            } else {
                long k = n < l->audioLeft ? n : l->audioLeft;
                if (l->audio == 0 && p[0] != 0xFF)
                    l->syncBad = 1;
                l->audio += k;
                l->audioLeft -= k;
                p += k;
                n -= k;
                if (!l->audioLeft)
                    l->expectLen = 1;
            }
        }
    }
    long long got = l->audio - before;
    if (!got)
        return;
    if (before == 0)
        l->tFirst = t;
    if (t <= l->tHead + BURST_WINDOW)
        l->burst += got;
    playerFed(l, t);
}

static void headDone(struct listener *l, double t, long headEnd) {
    /* status line: "HTTP/1.x 200" or "ICY 200" */
    char *sp = memchr(l->head, ' ', headEnd);
    l->status = sp ? atoi(sp + 1) : 0;
    l->tHead = t;
    l->metaint = 0;
    const char *h = l->head;
    for (long i = 0; i + 12 < headEnd; i++) {
        if ((h[i] == '\n') && strncasecmp(h + i + 1, "icy-metaint:", 12) == 0) {
            l->metaint = atoi(h + i + 13);
            break;
        }
    }
    if (!meta)
        l->metaint = 0;
    l->audioLeft = l->metaint;
}

/* recv(), or SSL_read() in TLS mode: >0 bytes, 0 at EOF, -1 with errno. */
static ssize_t receive(struct listener *l) {
#ifdef LOADGEN_TLS
    if (l->ssl) {
        ERR_clear_error();
        int n = SSL_read(l->ssl, rbuf, RECV_BUF);
        if (n > 0)
            return n;
        switch (SSL_get_error(l->ssl, n)) {
        case SSL_ERROR_WANT_READ:
        case SSL_ERROR_WANT_WRITE:
            errno = EAGAIN;
            return -1;
        case SSL_ERROR_ZERO_RETURN:
            return 0;
        case SSL_ERROR_SYSCALL:
            if (errno == 0)
                return 0; /* EOF without close_notify */
            return -1;
        default:
            errno = ECONNRESET;
            return -1;
        }
    }
#endif
    return recv(l->fd, rbuf, RECV_BUF, 0);
}

static void readable(struct listener *l, double t, double t1, double t2) {
    for (;;) {
        ssize_t n = receive(l);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (errno == EINTR)
                continue;
            playerAdvance(l, t);
            closeListener(l, l->state == S_HEAD ? E_HEAD_FAIL : E_RESET, t);
            return;
        }
        if (n == 0) {
            playerAdvance(l, t);
            closeListener(l, l->state == S_HEAD ? E_HEAD_FAIL : E_EOF, t);
            return;
        }
        const unsigned char *p = rbuf;
        if (l->state == S_HEAD) {
            long room = HEAD_MAX - l->headLen;
            long take = n < room ? n : room;
            memcpy(l->head + l->headLen, p, take);
            long scanFrom = l->headLen > 3 ? l->headLen - 3 : 0;
            l->headLen += take;
            long endAt = -1;
            for (long i = scanFrom; i + 3 < l->headLen; i++) {
                if (l->head[i] == '\r' && l->head[i + 1] == '\n' && l->head[i + 2] == '\r' && l->head[i + 3] == '\n') {
                    endAt = i + 4;
                    break;
                }
            }
            if (endAt < 0) {
                if (l->headLen >= HEAD_MAX)
                    closeListener(l, E_HEAD_FAIL, t);
                continue;
            }
            headDone(l, t, endAt);
            if (l->status != 200) {
                closeListener(l, E_HEAD_FAIL, t);
                return;
            }
            long consumedFromThis = endAt - (l->headLen - take);
            free(l->head);
            l->head = NULL;
            l->state = S_BODY;
            p += consumedFromThis;
            n -= consumedFromThis;
        }
        playerAdvance(l, t);
        long long before = l->audio;
        body(l, p, n, t);
        long long got = l->audio - before;
        if (got && t >= t1 && t <= t2) {
            if (l->wFirstT == 0) {
                l->wFirstT = t;
                l->wFirstBytes = l->audio;
            }
            l->wLastT = t;
            l->wLastBytes = l->audio;
            l->wBytes += got;
        }
        /* SSL_read returns a record at a time: read on until it would block */
        if (n < RECV_BUF && !tls)
            return;
    }
}

/* The request has gone: wait for the answer (or, stalled, for the drop). */
static void requestSent(struct listener *l) {
    struct epoll_event mod = {.data.ptr = l};
    if (l->stalled) {
        /* never read: only hear about the server dropping us */
        mod.events = EPOLLRDHUP;
        l->state = S_BODY;
    } else {
        mod.events = EPOLLIN;
        l->state = S_HEAD;
        l->head = malloc(HEAD_MAX);
        l->headLen = 0;
    }
    epoll_ctl(epfd, EPOLL_CTL_MOD, l->fd, &mod);
}

#ifdef LOADGEN_TLS
/* Drive the handshake; once done, send the request through TLS. */
static void handshake(struct listener *l, double t) {
    ERR_clear_error();
    int r = SSL_do_handshake(l->ssl);
    if (r == 1) {
        if (SSL_write(l->ssl, request, requestLen) != requestLen) {
            closeListener(l, E_CONNECT_FAIL, t);
            return;
        }
        requestSent(l);
        return;
    }
    struct epoll_event mod = {.data.ptr = l};
    switch (SSL_get_error(l->ssl, r)) {
    case SSL_ERROR_WANT_READ:
        mod.events = EPOLLIN;
        break;
    case SSL_ERROR_WANT_WRITE:
        mod.events = EPOLLOUT;
        break;
    default:
        closeListener(l, E_CONNECT_FAIL, t);
        return;
    }
    epoll_ctl(epfd, EPOLL_CTL_MOD, l->fd, &mod);
}
#endif

static int cmpd(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, int n, double p) {
    if (n <= 0)
        return -1;
    double k = p / 100.0 * (n - 1);
    int i = (int)k;
    if (i >= n - 1)
        return v[n - 1];
    return v[i] + (v[i + 1] - v[i]) * (k - i);
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define ARG(name) (strcmp(a, name) == 0 && v && (i++, 1))
        if (ARG("--port")) port = atoi(v);
        else if (ARG("--n")) N = atoi(v);
        else if (ARG("--rate")) rate = atof(v);
        else if (ARG("--settle")) settle = atof(v);
        else if (ARG("--window")) windowLen = atof(v);
        else if (ARG("--bitrate")) bitrate = atof(v);
        else if (ARG("--stalled")) stalledFrac = atof(v);
        else if (ARG("--stalled-rcvbuf")) rcvbufStalled = atoi(v);
        else if (ARG("--path")) path = v;
        else if (ARG("--linger")) linger = atof(v);
        else if (ARG("--source-port-base")) sourcePortBase = atoi(v);
        else if (strcmp(a, "--no-meta") == 0) meta = 0;
        else if (strcmp(a, "--tls") == 0) tls = 1;
        else usage();
    }
    if (N <= 0 || rate <= 0 || windowLen <= 0 || bitrate <= 0)
        usage();
#ifdef LOADGEN_TLS
    if (tls) {
        sslContext = SSL_CTX_new(TLS_client_method());
        if (!sslContext)
            return 2;
        SSL_CTX_set_verify(sslContext, SSL_VERIFY_NONE, NULL);
        SSL_CTX_set_session_cache_mode(sslContext, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_mode(sslContext, SSL_MODE_RELEASE_BUFFERS);
        SSL_CTX_set_read_ahead(sslContext, 1);
    }
#else
    if (tls) {
        fprintf(stderr, "loadgen: built without TLS (compile with -DLOADGEN_TLS -lssl -lcrypto)\n");
        return 2;
    }
#endif
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    getrlimit(RLIMIT_NOFILE, &rl);
    if ((long long)rl.rlim_cur < (long long)N + 16) {
        fprintf(stderr, "loadgen: RLIMIT_NOFILE %llu is too low for %d listeners\n", (unsigned long long)rl.rlim_cur, N);
        return 2;
    }
    sourcePortNext = sourcePortBase;
    byteRate = bitrate / 8.0;
    prebufferBytes = byteRate * 1.0;
    requestLen = snprintf(request, sizeof request, "GET %s HTTP/1.0\r\nHost: 127.0.0.1:%d\r\nUser-Agent: txradio-loadgen\r\n%s\r\n",
                          path, port, meta ? "Icy-MetaData: 1\r\n" : "");
    L = calloc(N, sizeof *L);
    rbuf = malloc(RECV_BUF);
    if (!L || !rbuf)
        return 2;
    /* Spread the stalled listeners evenly through the ramp. */
    int nStalled = (int)floor(N * stalledFrac + 0.5);
    for (int i = 0; i < N; i++) {
        L[i].fd = -1;
        if (nStalled && (long long)(i + 1) * nStalled / N != (long long)i * nStalled / N)
            L[i].stalled = 1;
    }
    epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event *events = calloc(MAX_EVENTS, sizeof *events);
    t0 = 0;
    t0 = now();
    double cpu0 = cpuSeconds();
    double rampEnd = (N - 1) / rate;
    double t1 = rampEnd + settle, t2 = t1 + windowLen, tStop = t2 + linger;
    double cpuW1 = 0, cpuW2 = 0;
    int started = 0, rampDone = 0, inWindow = 0, windowDone = 0;
    fprintf(stderr, "phase start n=%d rate=%g t1=%.3f t2=%.3f\n", N, rate, t1, t2);
    for (;;) {
        double t = now();
        while (started < N && started <= t * rate) {
            startConnect(&L[started], t);
            started++;
        }
        if (started == N && !rampDone) {
            rampDone = 1;
            fprintf(stderr, "phase ramp_done %.3f\n", t);
        }
        if (!inWindow && t >= t1) {
            inWindow = 1;
            cpuW1 = cpuSeconds();
            fprintf(stderr, "phase steady_start %.3f\n", t);
        }
        if (inWindow && !windowDone && t >= t2) {
            windowDone = 1;
            cpuW2 = cpuSeconds();
            fprintf(stderr, "phase steady_end %.3f\n", t);
            /* close the players' accounts at t2 */
            for (int i = 0; i < N; i++) {
                struct listener *l = &L[i];
                if (l->stalled || l->tFirst == 0)
                    continue;
                if (l->state == S_BODY)
                    playerAdvance(l, t);
                if (!l->playing && l->stalls > 0)
                    l->stalledSeconds += (l->state == S_BODY ? t : l->tEnd) - l->waitFrom;
            }
            playerFrozen = 1;
        }
        if (t >= tStop)
            break;
        double next = tStop;
        if (started < N && started / rate < next)
            next = started / rate;
        if (!inWindow && t1 < next)
            next = t1;
        if (!windowDone && t2 < next)
            next = t2;
        int timeout = (int)ceil((next - t) * 1000);
        if (timeout < 0)
            timeout = 0;
        if (timeout > 100)
            timeout = 100;
        int ne = epoll_wait(epfd, events, MAX_EVENTS, timeout);
        for (int e = 0; e < ne; e++) {
            struct listener *l = events[e].data.ptr;
            uint32_t ev = events[e].events;
            double te = now();
            if (l->state == S_DONE)
                continue;
            if (l->state == S_CONNECTING) {
                int err = 0;
                socklen_t len = sizeof err;
                getsockopt(l->fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err || (ev & (EPOLLERR | EPOLLHUP))) {
                    closeListener(l, E_CONNECT_FAIL, te);
                    continue;
                }
#ifdef LOADGEN_TLS
                if (tls) {
                    l->ssl = SSL_new(sslContext);
                    if (!l->ssl || !SSL_set_fd(l->ssl, l->fd)) {
                        closeListener(l, E_CONNECT_FAIL, te);
                        continue;
                    }
                    SSL_set_connect_state(l->ssl);
                    l->state = S_HANDSHAKE;
                    handshake(l, te);
                    continue;
                }
#endif
                ssize_t w = send(l->fd, request, requestLen, MSG_NOSIGNAL);
                if (w != requestLen) {
                    closeListener(l, E_CONNECT_FAIL, te);
                    continue;
                }
                requestSent(l);
                continue;
            }
#ifdef LOADGEN_TLS
            if (l->state == S_HANDSHAKE) {
                handshake(l, te);
                continue;
            }
#endif
            if (l->stalled) {
                if (ev & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) {
                    int err = 0;
                    socklen_t len = sizeof err;
                    getsockopt(l->fd, SOL_SOCKET, SO_ERROR, &err, &len);
                    closeListener(l, err ? E_RESET : E_EOF, te);
                }
                continue;
            }
            readable(l, te, t1, t2);
        }
    }
    double tEndAll = now();
    double cpuAll = cpuSeconds() - cpu0;
    if (!windowDone)
        cpuW2 = cpuSeconds();

    /* Finish the players' accounts at t2 (the end of the measurement). */
    int nNormal = 0, nOK = 0, noAudio = 0, connectFail = 0, headFail = 0, disconnects = 0, syncBad = 0, listenersStalling = 0;
    long long stalls = 0, metaBlocks = 0, metaFull = 0, metaBad = 0;
    double stalledSeconds = 0;
    double *tth = malloc(N * sizeof(double)), *ttfa = malloc(N * sizeof(double)), *rateV = malloc(N * sizeof(double)),
           *burstV = malloc(N * sizeof(double)), *drop = malloc(N * sizeof(double));
    int nTth = 0, nTtfa = 0, nRate = 0, nBurst = 0, nDrop = 0, stalledTotal = 0, stalledDropped = 0, stalledEarly = 0;
    /* the average number of listeners being served during [t1, t2] */
    double listenerSeconds = 0;
    for (int i = 0; i < N; i++) {
        struct listener *l = &L[i];
        double from = l->stalled ? l->tStart : l->tHead;
        if (l->end == E_CONNECT_FAIL || l->end == E_HEAD_FAIL || from == 0)
            continue;
        double to = (l->end == E_EOF || l->end == E_RESET) ? l->tEnd : t2;
        if (from < t1)
            from = t1;
        if (to > t2)
            to = t2;
        if (to > from)
            listenerSeconds += to - from;
    }
    for (int i = 0; i < N; i++) {
        struct listener *l = &L[i];
        if (l->stalled) {
            stalledTotal++;
            if (l->end == E_RESET || l->end == E_EOF) {
                if (l->tEnd <= t2 + linger) {
                    stalledDropped++;
                    drop[nDrop++] = l->tEnd - l->tStart;
                }
            } else if (l->end == E_CONNECT_FAIL) {
                stalledEarly++;
            }
            continue;
        }
        nNormal++;
        if (l->end == E_CONNECT_FAIL) {
            connectFail++;
            continue;
        }
        if (l->end == E_HEAD_FAIL || l->tHead == 0) {
            headFail++;
            continue;
        }
        int lost = l->end == E_EOF || l->end == E_RESET;
        if (lost)
            disconnects++;
        else
            nOK++;
        tth[nTth++] = l->tHead - l->tStart;
        if (l->tFirst > 0) {
            ttfa[nTtfa++] = l->tFirst - l->tStart;
            burstV[nBurst++] = l->burst / byteRate;
        }
        if (l->syncBad)
            syncBad++;
        metaBlocks += l->metaBlocks;
        metaFull += l->metaFull;
        metaBad += l->metaBad;
        if (l->tFirst == 0)
            noAudio++;
        stalls += l->stalls;
        stalledSeconds += l->stalledSeconds;
        if (l->stalls)
            listenersStalling++;
        double r;
        if (l->wLastT > l->wFirstT + windowLen * 0.5)
            r = (double)(l->wLastBytes - l->wFirstBytes) / (l->wLastT - l->wFirstT) / byteRate;
        else
            r = (double)l->wBytes / windowLen / byteRate; /* too few events */
        rateV[nRate++] = r;
    }
    for (int i = 0; i < N; i++)
        if (L[i].fd >= 0)
            closeListener(&L[i], E_CLOSED_BY_US, tEndAll);
    qsort(tth, nTth, sizeof(double), cmpd);
    qsort(ttfa, nTtfa, sizeof(double), cmpd);
    qsort(rateV, nRate, sizeof(double), cmpd);
    qsort(burstV, nBurst, sizeof(double), cmpd);
    qsort(drop, nDrop, sizeof(double), cmpd);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"n\": %d, \"meta\": %s, \"rate\": %g, \"window\": %g, \"bitrate\": %g, \"listeners\": %d, \"ok\": %d, \"active_avg\": %.1f, "
           "\"connect_fail\": %d, \"head_fail\": %d, \"no_audio\": %d, \"disconnects\": %d, "
           "\"tth_p50_ms\": %.2f, \"tth_p99_ms\": %.2f, \"ttfa_p50_ms\": %.2f, \"ttfa_p99_ms\": %.2f, \"ttfa_max_ms\": %.2f, "
           "\"burst_p1_s\": %.3f, \"burst_p50_s\": %.3f, "
           "\"rate_p1\": %.4f, \"rate_p50\": %.4f, \"rate_min\": %.4f, "
           "\"stalls\": %lld, \"listeners_stalling\": %d, \"stalled_seconds\": %.2f, "
           "\"meta_blocks\": %lld, \"meta_full\": %lld, \"meta_bad\": %lld, \"sync_bad\": %d, "
           "\"stalled_listeners\": %d, \"stalled_dropped\": %d, \"stalled_connect_fail\": %d, "
           "\"drop_p50_s\": %.2f, \"drop_max_s\": %.2f, "
           "\"connect_s\": %.3f, \"connect_max_ms\": %.3f, \"cpu_s\": %.3f, \"cpu_window_cores\": %.4f, \"wall_s\": %.2f, \"maxrss_kib\": %ld}\n",
           N, meta ? "true" : "false", rate, windowLen, bitrate, nNormal, nOK, listenerSeconds / windowLen, connectFail, headFail, noAudio, disconnects,
           pct(tth, nTth, 50) * 1e3, pct(tth, nTth, 99) * 1e3, pct(ttfa, nTtfa, 50) * 1e3, pct(ttfa, nTtfa, 99) * 1e3,
           (nTtfa ? ttfa[nTtfa - 1] : -1) * 1e3, pct(burstV, nBurst, 1), pct(burstV, nBurst, 50), pct(rateV, nRate, 1),
           pct(rateV, nRate, 50), nRate ? rateV[0] : -1, stalls, listenersStalling, stalledSeconds, metaBlocks, metaFull,
           metaBad, syncBad, stalledTotal, stalledDropped, stalledEarly, pct(drop, nDrop, 50), nDrop ? drop[nDrop - 1] : -1,
           connectSeconds, connectMax * 1e3, cpuAll, (cpuW2 - cpuW1) / windowLen, tEndAll, ru.ru_maxrss);
    fflush(stdout);
    return 0;
}

/*
 * floor: the least a streaming server can do, as a reference for the
 * capacity benchmark.  One epoll loop, non-blocking sockets, one shared
 * buffer holding the whole MP3 file, and per listener only a descriptor and
 * a stream offset.  Built at run time by benchmarks/capacity.py with
 * `cc -O2`, like loadgen.c.
 *
 * A listener connects and sends any request ending in an empty line; it is
 * answered with "HTTP/1.0 200 OK", an audio/mpeg head (icy-br, no
 * icy-metaint: the floor sends no metadata) and a burst of BURST seconds of
 * audio ending at the live position and starting on an MP3 frame sync.
 * Then, once a TICK, every listener gets one send() of the audio between
 * what it was sent and the live position, from the shared buffer (two when
 * the position wraps round the end of the file).  A listener whose send
 * would block keeps its offset; one more than LAG bytes behind is closed.
 *
 * The listening socket's backlog, SO_SNDBUF of accepted sockets and the
 * number of connections accepted per readiness event can be set, so that
 * the benchmark can show which of them matter.  It raises its own
 * RLIMIT_NOFILE soft limit to the hard limit, and binds 127.0.0.1 only.
 *
 *   floor --port P --file F.mp3 [--bitrate 128000] [--burst 4] [--tick 1]
 *         [--backlog 4096] [--sndbuf BYTES] [--lag BYTES]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 1024
#define HEAD_MAX 2048

struct listener {
    int fd;
    int playing; /* the head and burst were sent */
    int headLen;
    long long pos; /* absolute stream offset sent up to */
    char *head;    /* the request, only until its end */
};

static struct listener **byFd;
static int maxFd;
static unsigned char *audio;
static long audioLen;
static double byteRate;
static long long live; /* absolute stream offset of the live position */
static int epfd, lfd;
static double burstSeconds = 4, tick = 1;
static long long lag = 524288;
static int sndbuf = 0;
static char response[256];
static int responseLen;
static volatile sig_atomic_t stopping;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void onSignal(int sig) {
    (void)sig;
    stopping = 1;
}

static void drop(struct listener *l) {
    epoll_ctl(epfd, EPOLL_CTL_DEL, l->fd, NULL);
    close(l->fd);
    byFd[l->fd] = NULL;
    free(l->head);
    free(l);
}

/* Send the audio [l->pos, upTo) from the shared buffer: one send, or one
 * writev when it wraps round the end of the file. */
static int feed(struct listener *l, long long upTo) {
    if (upTo - l->pos > lag)
        return -1;
    while (l->pos < upTo) {
        long from = (long)(l->pos % audioLen);
        long long want = upTo - l->pos;
        ssize_t n;
        if (from + want <= audioLen) {
            n = send(l->fd, audio + from, (size_t)want, MSG_DONTWAIT | MSG_NOSIGNAL);
        } else {
            struct iovec iov[2] = {{audio + from, (size_t)(audioLen - from)},
                                   {audio, (size_t)(want - (audioLen - from))}};
            struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
            n = sendmsg(l->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
        }
        if (n < 0)
            return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
        l->pos += n;
        if (n < want)
            return 0; /* the socket is full: the rest waits for the next tick */
    }
    return 0;
}

/* The first frame sync at or after the absolute offset p. */
static long long syncFrom(long long p) {
    for (long long q = p; q < p + 8192; q++) {
        long i = (long)(q % audioLen), j = (long)((q + 1) % audioLen);
        if (audio[i] == 0xFF && (audio[j] & 0xE0) == 0xE0)
            return q;
    }
    return p;
}

static void requestData(struct listener *l) {
    for (;;) {
        ssize_t n = recv(l->fd, l->head + l->headLen, HEAD_MAX - l->headLen, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            drop(l);
            return;
        }
        if (n < 0)
            return;
        l->headLen += n;
        if (memmem(l->head, l->headLen, "\r\n\r\n", 4))
            break;
        if (l->headLen >= HEAD_MAX) {
            drop(l);
            return;
        }
    }
    free(l->head);
    l->head = NULL;
    l->playing = 1;
    if (send(l->fd, response, responseLen, MSG_DONTWAIT | MSG_NOSIGNAL) != responseLen) {
        drop(l);
        return;
    }
    long long start = live - (long long)(burstSeconds * byteRate);
    l->pos = syncFrom(start < 0 ? 0 : start);
    /* only hear about the peer closing from now on */
    struct epoll_event ev = {.events = EPOLLRDHUP, .data.ptr = l};
    epoll_ctl(epfd, EPOLL_CTL_MOD, l->fd, &ev);
    if (feed(l, live) < 0)
        drop(l);
}

static void acceptAll(void) {
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN, or EMFILE: try again on the next event */
        if (fd >= maxFd) {
            close(fd);
            continue;
        }
        if (sndbuf > 0)
            setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
        struct listener *l = calloc(1, sizeof *l);
        l->fd = fd;
        l->head = malloc(HEAD_MAX);
        byFd[fd] = l;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = l};
        epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
    }
}

static long readFile(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    struct stat st;
    fstat(fileno(f), &st);
    audio = malloc(st.st_size);
    long n = (long)fread(audio, 1, st.st_size, f);
    fclose(f);
    /* skip an ID3v2 tag */
    long skip = 0;
    if (n > 10 && memcmp(audio, "ID3", 3) == 0)
        skip = 10 + ((audio[6] & 0x7f) << 21 | (audio[7] & 0x7f) << 14 | (audio[8] & 0x7f) << 7 | (audio[9] & 0x7f));
    if (skip >= n)
        return -1;
    memmove(audio, audio + skip, n - skip);
    return n - skip;
}

int main(int argc, char **argv) {
    int port = 0, backlog = 4096;
    double bitrate = 128000;
    const char *file = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define ARG(name) (strcmp(a, name) == 0 && v && (i++, 1))
        if (ARG("--port")) port = atoi(v);
        else if (ARG("--file")) file = v;
        else if (ARG("--bitrate")) bitrate = atof(v);
        else if (ARG("--burst")) burstSeconds = atof(v);
        else if (ARG("--tick")) tick = atof(v);
        else if (ARG("--backlog")) backlog = atoi(v);
        else if (ARG("--sndbuf")) sndbuf = atoi(v);
        else if (ARG("--lag")) lag = atoll(v);
        else {
            fprintf(stderr, "usage: floor --port P --file F.mp3 [--bitrate B] [--burst S] [--tick S] "
                            "[--backlog N] [--sndbuf BYTES] [--lag BYTES]\n");
            return 2;
        }
    }
    if (!port || !file || bitrate <= 0 || tick <= 0)
        return 2;
    audioLen = readFile(file);
    if (audioLen <= 0) {
        fprintf(stderr, "floor: cannot read %s\n", file);
        return 2;
    }
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    maxFd = (int)rl.rlim_cur;
    byFd = calloc(maxFd, sizeof *byFd);
    byteRate = bitrate / 8;
    responseLen = snprintf(response, sizeof response,
                           "HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\nicy-br: %.0f\r\n"
                           "Cache-Control: no-cache\r\n\r\n",
                           bitrate / 1000);
    signal(SIGTERM, onSignal);
    signal(SIGINT, onSignal);
    signal(SIGPIPE, SIG_IGN);

    lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, backlog) < 0) {
        perror("floor: bind/listen");
        return 1;
    }
    epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &lev);
    struct epoll_event *events = calloc(MAX_EVENTS, sizeof *events);

    double t0 = now(), nextTick = t0 + tick;
    /* start with BURST seconds already "played", so the first listener gets a burst */
    live = (long long)(burstSeconds * byteRate);
    while (!stopping) {
        double t = now();
        if (t >= nextTick) {
            live = (long long)(burstSeconds * byteRate + (t - t0) * byteRate);
            for (int fd = 0; fd < maxFd; fd++) {
                struct listener *l = byFd[fd];
                if (l && l->playing && feed(l, live) < 0)
                    drop(l);
            }
            while (nextTick <= t)
                nextTick += tick;
        }
        int timeout = (int)((nextTick - now()) * 1000) + 1;
        if (timeout < 0)
            timeout = 0;
        int ne = epoll_wait(epfd, events, MAX_EVENTS, timeout);
        for (int e = 0; e < ne; e++) {
            struct listener *l = events[e].data.ptr;
            if (!l) {
                acceptAll();
                continue;
            }
            if (events[e].events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) {
                drop(l);
                continue;
            }
            if (!l->playing)
                requestData(l);
        }
    }
    return 0;
}

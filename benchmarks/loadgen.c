/* loadgen: a closed-loop load generator for line echo servers, in C so that it costs
 * the machine little CPU per request (the Python one cost about as much as the servers
 * it measured, and capped them all near the same number on 2 cores).
 *
 *   loadgen -p PORT [-H 127.0.0.1] [-c 100] [-P 2] [-s 64] [-d 3] [-w 0.5]
 *   -> one JSON line: {"requests": N, "seconds": S, "rps": R, "p50_ms": .., "p99_ms": ..,
 *                      "errors": E, "client_cpu_us": C}
 *
 * -c connections are shared by -P processes (forked; each runs one epoll loop). Every
 * connection sends one line of -s bytes (the last one "\n"), waits for the whole echo,
 * records the round trip, and sends the next: closed loop, no pipelining, so requests/s
 * and latency measure the server, not a queue in front of it. Connections are opened and
 * run for -w seconds of warm-up; then requests completing in the next -d seconds are
 * counted. Latencies go into a histogram of 1 us buckets (up to HIST_US; slower ones into
 * the last bucket), merged over the processes for p50/p99. client_cpu_us is the
 * generator's own CPU time (user + system, all processes, warm-up included) per counted
 * request.
 *
 * Built by benchmarks/bench_serve.py with `cc -O2`; Linux only (epoll).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Latencies above 1 s land in the last bucket (p99 is then reported as >= 1000 ms). */
#define HIST_US 1000000
#define MAX_EVENTS 256

struct share {            /* one per process, in memory shared with the parent */
    uint64_t requests;
    uint64_t errors;
    uint32_t hist[HIST_US + 1];
};

struct conn {
    int fd;
    size_t sent, got;
    uint64_t started_ns;
};

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void usage(const char *why) {
    fprintf(stderr, "loadgen: %s\nusage: loadgen -p PORT [-H HOST] [-c CONNS] [-P PROCS] [-s LINE_BYTES] "
                    "[-d SECONDS] [-w WARMUP_SECONDS]\n", why);
    exit(2);
}

/* Write what is left of the line; 0 when all of it is out (or would block), -1 on error. */
static int push(struct conn *c, const char *line, size_t size) {
    while (c->sent < size) {
        ssize_t n = write(c->fd, line + c->sent, size - c->sent);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) return 0;
            return -1;
        }
        c->sent += (size_t)n;
    }
    return 0;
}

static void run(struct share *sh, struct sockaddr_in *addr, int conns, size_t size,
                uint64_t count_from, uint64_t count_to) {
    char *line = malloc(size);
    char buf[65536];
    memset(line, 'x', size - 1);
    line[size - 1] = '\n';
    struct conn *cs = calloc((size_t)conns, sizeof *cs);
    int ep = epoll_create1(0);
    int alive = 0;
    for (int i = 0; i < conns; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        if (fd < 0 || connect(fd, (struct sockaddr *)addr, sizeof *addr) < 0) {
            sh->errors++;
            if (fd >= 0) close(fd);
            cs[i].fd = -1;
            continue;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        cs[i].fd = fd;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &cs[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        alive++;
    }
    for (int i = 0; i < conns; i++) {   /* every connection's first line */
        if (cs[i].fd < 0) continue;
        cs[i].started_ns = now_ns();
        if (push(&cs[i], line, size) < 0) {
            sh->errors++;
            close(cs[i].fd);
            cs[i].fd = -1;
            alive--;
        }
    }
    struct epoll_event events[MAX_EVENTS];
    while (alive > 0) {
        uint64_t t = now_ns();
        if (t >= count_to) break;
        int timeout_ms = (int)((count_to - t) / 1000000u) + 1;
        int n = epoll_wait(ep, events, MAX_EVENTS, timeout_ms);
        if (n < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int k = 0; k < n; k++) {
            struct conn *c = events[k].data.ptr;
            if (c->fd < 0) continue;
            if (c->sent < size && push(c, line, size) < 0) goto broken;
            for (;;) {
                ssize_t r = read(c->fd, buf, sizeof buf);
                if (r < 0) {
                    if (errno == EINTR) continue;
                    if (errno == EAGAIN) break;
                    goto broken;
                }
                if (r == 0) goto broken;  /* the server closed: counted as an error */
                c->got += (size_t)r;
                if (c->got > size) goto broken;  /* more than we sent: not an echo */
                if (c->got == size) {
                    uint64_t done = now_ns();
                    if (done >= count_from && done < count_to) {
                        uint64_t us = (done - c->started_ns) / 1000u;
                        sh->hist[us > HIST_US ? HIST_US : us]++;
                        sh->requests++;
                    }
                    c->got = c->sent = 0;
                    c->started_ns = done;
                    if (push(c, line, size) < 0) goto broken;
                    break;  /* closed loop: nothing more can come until the server reads it */
                }
            }
            continue;
        broken:
            sh->errors++;
            epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
            close(c->fd);
            c->fd = -1;
            alive--;
        }
    }
    for (int i = 0; i < conns; i++)
        if (cs[i].fd >= 0) close(cs[i].fd);
    close(ep);
}

static double percentile(const uint64_t *hist, uint64_t total, double q) {
    uint64_t want = (uint64_t)(q * (double)total), seen = 0;
    for (int us = 0; us <= HIST_US; us++) {
        seen += hist[us];
        if (seen > want) return us / 1000.0 + 0.0005;  /* the bucket's middle, in ms */
    }
    return HIST_US / 1000.0;
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1";
    int port = -1, conns = 100, procs = 2;
    long size = 64;
    double seconds = 3.0, warmup = 0.5;
    int opt;
    while ((opt = getopt(argc, argv, "H:p:c:P:s:d:w:")) != -1) {
        switch (opt) {
        case 'H': host = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'c': conns = atoi(optarg); break;
        case 'P': procs = atoi(optarg); break;
        case 's': size = atol(optarg); break;
        case 'd': seconds = atof(optarg); break;
        case 'w': warmup = atof(optarg); break;
        default: usage("unknown option");
        }
    }
    if (port <= 0 || port > 65535) usage("-p PORT: a port 1-65535");
    if (conns < 1 || procs < 1 || procs > conns) usage("-c and -P: 1 <= PROCS <= CONNS");
    if (size < 1 || size > (1 << 20)) usage("-s LINE_BYTES: 1 to 1048576");
    if (!(seconds > 0) || warmup < 0) usage("-d SECONDS > 0, -w WARMUP >= 0");
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) usage("-H HOST: an IPv4 address");

    struct share *shares = mmap(NULL, sizeof(struct share) * (size_t)procs, PROT_READ | PROT_WRITE,
                                MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shares == MAP_FAILED) { perror("loadgen: mmap"); return 1; }
    uint64_t count_from = now_ns() + (uint64_t)(warmup * 1e9);
    uint64_t count_to = count_from + (uint64_t)(seconds * 1e9);
    for (int p = 0; p < procs; p++) {
        int mine = conns / procs + (p < conns % procs ? 1 : 0);
        pid_t pid = fork();
        if (pid < 0) { perror("loadgen: fork"); return 1; }
        if (pid == 0) {
            run(&shares[p], &addr, mine, (size_t)size, count_from, count_to);
            _exit(0);
        }
    }
    for (int p = 0; p < procs; p++) wait(NULL);

    static uint64_t hist[HIST_US + 1];
    uint64_t requests = 0, errors = 0;
    for (int p = 0; p < procs; p++) {
        requests += shares[p].requests;
        errors += shares[p].errors;
        for (int us = 0; us <= HIST_US; us++) hist[us] += shares[p].hist[us];
    }
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    if (requests == 0) {
        printf("{\"requests\": 0, \"seconds\": %.3f, \"rps\": 0, \"p50_ms\": null, \"p99_ms\": null, "
               "\"errors\": %llu, \"client_cpu_us\": null}\n", seconds, (unsigned long long)errors);
        return 1;
    }
    printf("{\"requests\": %llu, \"seconds\": %.3f, \"rps\": %.1f, \"p50_ms\": %.3f, \"p99_ms\": %.3f, "
           "\"errors\": %llu, \"client_cpu_us\": %.2f}\n",
           (unsigned long long)requests, seconds, requests / seconds, percentile(hist, requests, 0.50),
           percentile(hist, requests, 0.99), (unsigned long long)errors, cpu / requests * 1e6);
    return 0;
}

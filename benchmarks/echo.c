/* echo: the floor under every echo server measured by bench_serve.py -- a C epoll server
 * that reads what comes and writes it straight back (no line parsing: in a closed loop of
 * whole lines that is the same reads and writes a line echo makes). What it costs per
 * request is the kernel's loopback TCP cost plus almost nothing; no Python server can
 * cost less.
 *
 *   echo -p PORT [-W WORKERS]    -- prints "ready" on stdout when listening
 *
 * -W forks that many processes, each with its own epoll on the one listening socket
 * (EPOLLEXCLUSIVE: one wakes per connection). SIGTERM ends them all.
 * Built by benchmarks/bench_serve.py with `cc -O2`; Linux only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_EVENTS 256

static void serve(int lfd) {
    char buf[65536];
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.fd = lfd};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    struct epoll_event events[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(ep, events, MAX_EVENTS, -1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return;
        for (int k = 0; k < n; k++) {
            int fd = events[k].data.fd;
            if (fd == lfd) {
                int c;
                while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    int one = 1;
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                }
                continue;
            }
            ssize_t r = read(fd, buf, sizeof buf);
            if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            if (r <= 0 || write(fd, buf, (size_t)r) != r) {  /* small replies: the buffer has room */
                close(fd);
            }
        }
    }
}

int main(int argc, char **argv) {
    int port = -1, workers = 1, opt;
    while ((opt = getopt(argc, argv, "p:W:")) != -1) {
        if (opt == 'p') port = atoi(optarg);
        else if (opt == 'W') workers = atoi(optarg);
        else { fprintf(stderr, "usage: echo -p PORT [-W WORKERS]\n"); return 2; }
    }
    if (port <= 0 || port > 65535 || workers < 1) {
        fprintf(stderr, "echo: -p PORT (1-65535) and -W WORKERS (1 or more)\nusage: echo -p PORT [-W WORKERS]\n");
        return 2;
    }
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lfd, 1024) < 0) {
        perror("echo: listen");
        return 1;
    }
    if (workers == 1) {
        printf("ready\n");
        fflush(stdout);
        serve(lfd);
        return 0;
    }
    pid_t pids[256];
    int started = 0;
    for (; started < workers && started < 256; started++) {
        pid_t pid = fork();
        if (pid == 0) { serve(lfd); _exit(0); }
        pids[started] = pid;
    }
    printf("ready\n");
    fflush(stdout);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int sig;
    sigwait(&set, &sig);
    for (int i = 0; i < started; i++) kill(pids[i], SIGTERM);
    while (wait(NULL) > 0) {}
    return 0;
}

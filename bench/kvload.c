// kvload: one closed-loop load client for both sides of the persistence figures, so that
// meshkv-node (HTTP/1.1 `GET /set?k=..&v=..`, `/get?k=..`) and Redis (RESP `SET`, `GET`) are
// driven by the same program: C connections, one request in flight on each (no pipelining),
// the next request sent as soon as the previous answer is complete, random keys
// PREFIX0..PREFIX<keys-1>, values of exactly VALUE_BYTES bytes, one thread, epoll.
// Counts only answers that mean success (HTTP 200, RESP +OK or a bulk string); anything else
// is an error. Prints one line: requests, errors, req/s, p50/p99/max in ms. With --lat-out it
// also writes "<start unix us> <latency us>" per request (bench/persistence.sh cuts a window).
// SIGINT or SIGTERM ends a run early with the same output (bench/ttl.sh stops it that way).
// Built by bench/persistence.sh with `cc -O2`; loopback benchmarking only.
// The one thing to get right: a response may arrive in pieces or, never here (one in flight),
// glued to the next; parse from the connection's buffer and keep what is left.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum proto { HTTP, RESP };
enum op { SET, GET };

struct conn {
  int fd;
  char req[4096];
  size_t reqLen, sent;
  char buf[65536];
  size_t have;
  uint64_t startNs, startWallUs;
};

static struct {
  enum proto proto;
  enum op op;
  const char* host;
  int port, conns;
  double seconds;
  uint64_t keys;
  const char* prefix;
  int valueBytes;
  const char* latOut;
} cfg = {HTTP, SET, "127.0.0.1", 0, 50, 8, 100000, "key:", 100, NULL};

static uint64_t nowNs(clockid_t c) {
  struct timespec ts;
  clock_gettime(c, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static void buildRequest(struct conn* c) {
  uint64_t k = next_rand() % cfg.keys;
  char key[256], value[2048];
  snprintf(key, sizeof key, "%s%llu", cfg.prefix, (unsigned long long)k);
  int n = snprintf(value, sizeof value, "v%llu-", (unsigned long long)k);
  while (n < cfg.valueBytes && n < (int)sizeof value - 1) value[n++] = 'y';
  value[cfg.valueBytes < n ? cfg.valueBytes : n] = 0;
  if (cfg.proto == HTTP) {
    if (cfg.op == SET) {
      c->reqLen = (size_t)snprintf(c->req, sizeof c->req,
                                   "GET /set?k=%s&v=%s HTTP/1.1\r\nHost: %s\r\n\r\n", key, value,
                                   cfg.host);
    } else {
      c->reqLen = (size_t)snprintf(c->req, sizeof c->req, "GET /get?k=%s HTTP/1.1\r\nHost: %s\r\n\r\n",
                                   key, cfg.host);
    }
  } else if (cfg.op == SET) {
    c->reqLen = (size_t)snprintf(c->req, sizeof c->req, "*3\r\n$3\r\nSET\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n",
                                 strlen(key), key, strlen(value), value);
  } else {
    c->reqLen = (size_t)snprintf(c->req, sizeof c->req, "*2\r\n$3\r\nGET\r\n$%zu\r\n%s\r\n",
                                 strlen(key), key);
  }
  c->sent = 0;
}

// Returns the length of the complete response at the start of buf (0: incomplete) and sets *ok.
static size_t parseResponse(const char* buf, size_t have, int* ok) {
  if (cfg.proto == HTTP) {
    const char* end = memmem(buf, have, "\r\n\r\n", 4);
    if (!end) return 0;
    size_t head = (size_t)(end - buf) + 4;
    long body = 0;
    for (const char* p = buf; p < end; p++) {
      if ((p == buf || p[-1] == '\n') && strncasecmp(p, "content-length:", 15) == 0) {
        body = strtol(p + 15, NULL, 10);
      }
    }
    if (have < head + (size_t)body) return 0;
    *ok = have >= 12 && memcmp(buf + 9, "200", 3) == 0;
    return head + (size_t)body;
  }
  const char* eol = memmem(buf, have, "\r\n", 2);
  if (!eol) return 0;
  size_t line = (size_t)(eol - buf) + 2;
  if (buf[0] == '$') {
    long n = strtol(buf + 1, NULL, 10);
    if (n < 0) {  // a missing key: an answer, not a failure of the server
      *ok = 1;
      return line;
    }
    if (have < line + (size_t)n + 2) return 0;
    *ok = 1;
    return line + (size_t)n + 2;
  }
  *ok = buf[0] == '+';
  return line;
}

// SIGINT/SIGTERM end the run early, as if -d had run out (the summary and --lat-out still come).
static volatile sig_atomic_t stopping = 0;
static void onStop(int sig) {
  (void)sig;
  stopping = 1;
}

static int connectTo(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cfg.port)};
  inet_pton(AF_INET, cfg.host, &a.sin_addr);
  if (connect(fd, (struct sockaddr*)&a, sizeof a) != 0) {
    perror("connect");
    exit(2);
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  fcntl(fd, F_SETFL, O_NONBLOCK);
  return fd;
}

static int cmpU32(const void* a, const void* b) {
  uint32_t x = *(const uint32_t*)a, y = *(const uint32_t*)b;
  return x < y ? -1 : x > y;
}

static void usage(void) {
  fprintf(stderr,
          "usage: kvload --port P [--proto http|resp] [--op set|get] [-c 50] [-d 8] "
          "[--keys 100000] [--prefix key:] [--value-bytes 100] [--lat-out FILE] [--host IP]\n");
  exit(2);
}

int main(int argc, char** argv) {
  for (int i = 1; i < argc; i++) {
    const char* a = argv[i];
    if (i + 1 >= argc) usage();
    const char* v = argv[++i];
    if (!strcmp(a, "--proto")) cfg.proto = strcmp(v, "resp") ? HTTP : RESP;
    else if (!strcmp(a, "--op")) cfg.op = strcmp(v, "get") ? SET : GET;
    else if (!strcmp(a, "--host")) cfg.host = v;
    else if (!strcmp(a, "--port")) cfg.port = atoi(v);
    else if (!strcmp(a, "-c")) cfg.conns = atoi(v);
    else if (!strcmp(a, "-d")) cfg.seconds = atof(v);
    else if (!strcmp(a, "--keys")) cfg.keys = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--prefix")) cfg.prefix = v;
    else if (!strcmp(a, "--value-bytes")) cfg.valueBytes = atoi(v);
    else if (!strcmp(a, "--lat-out")) cfg.latOut = v;
    else usage();
  }
  if (cfg.port <= 0 || cfg.conns <= 0 || cfg.keys == 0 || cfg.valueBytes > 1900) usage();
  rng ^= nowNs(CLOCK_REALTIME);

  size_t cap = 1 << 20, count = 0;
  uint32_t* lat = malloc(cap * sizeof *lat);
  uint64_t* wall = cfg.latOut ? malloc(cap * sizeof *wall) : NULL;
  uint64_t errors = 0;
  int ep = epoll_create1(0);
  struct conn* cs = calloc((size_t)cfg.conns, sizeof *cs);
  uint64_t t0 = nowNs(CLOCK_MONOTONIC), stopAt = t0 + (uint64_t)(cfg.seconds * 1e9);
  for (int i = 0; i < cfg.conns; i++) {
    struct conn* c = &cs[i];
    c->fd = connectTo();
    buildRequest(c);
    c->startNs = nowNs(CLOCK_MONOTONIC);
    c->startWallUs = nowNs(CLOCK_REALTIME) / 1000;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
  }
  struct epoll_event evs[256];
  uint64_t now = t0;
  signal(SIGINT, onStop);
  signal(SIGTERM, onStop);
  while (now < stopAt && !stopping) {
    int n = epoll_wait(ep, evs, 256, 100);
    now = nowNs(CLOCK_MONOTONIC);
    for (int e = 0; e < n; e++) {
      struct conn* c = evs[e].data.ptr;
      if ((evs[e].events & EPOLLOUT) && c->sent < c->reqLen) {
        ssize_t w = write(c->fd, c->req + c->sent, c->reqLen - c->sent);
        if (w > 0) c->sent += (size_t)w;
        if (c->sent == c->reqLen) {
          struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
          epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        }
      }
      if (!(evs[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) continue;
      ssize_t r = read(c->fd, c->buf + c->have, sizeof c->buf - c->have);
      if (r == 0 || (r < 0 && errno != EAGAIN)) {
        fprintf(stderr, "kvload: the server closed a connection\n");
        return 1;
      }
      if (r < 0) continue;
      c->have += (size_t)r;
      int ok = 0;
      size_t len = parseResponse(c->buf, c->have, &ok);
      if (len == 0) continue;
      memmove(c->buf, c->buf + len, c->have - len);
      c->have -= len;
      if (!ok) errors++;
      if (count == cap) {
        cap *= 2;
        lat = realloc(lat, cap * sizeof *lat);
        if (wall) wall = realloc(wall, cap * sizeof *wall);
      }
      uint64_t end = nowNs(CLOCK_MONOTONIC);
      lat[count] = (uint32_t)((end - c->startNs) / 1000);
      if (wall) wall[count] = c->startWallUs;
      count++;
      buildRequest(c);
      c->startNs = end;
      c->startWallUs = nowNs(CLOCK_REALTIME) / 1000;
      ssize_t w = write(c->fd, c->req, c->reqLen);
      c->sent = w > 0 ? (size_t)w : 0;
      if (c->sent < c->reqLen) {
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
      }
    }
  }
  double secs = (double)(now - t0) / 1e9;
  if (cfg.latOut) {
    FILE* f = fopen(cfg.latOut, "w");
    for (size_t i = 0; f && i < count; i++) {
      fprintf(f, "%llu %u\n", (unsigned long long)wall[i], lat[i]);
    }
    if (f) fclose(f);
  }
  qsort(lat, count, sizeof *lat, cmpU32);
  double p50 = count ? lat[count / 2] / 1000.0 : 0;
  double p99 = count ? lat[(size_t)(count * 0.99)] / 1000.0 : 0;
  double mx = count ? lat[count - 1] / 1000.0 : 0;
  printf("requests %zu errors %llu rps %.0f p50_ms %.2f p99_ms %.2f max_ms %.2f\n", count,
         (unsigned long long)errors, (double)count / secs, p50, p99, mx);
  return 0;
}

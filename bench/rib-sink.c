// rib-sink.c — the RR clients of `npm run bench:rib` (bench/rib-ns.ts): many iBGP
// sessions in one process, each from its own source address, that count the prefixes they
// are announced and report when each holds all of them. C, one thread, epoll, because a
// reflector that sends one prefix per UPDATE (2,000 clients × 2,000 routes = 4,000,000
// UPDATEs) must not find its clients to be the bottleneck: reads are batched (after a
// round that read data the loop sleeps --batch-us before the next epoll_wait, so each read
// takes whatever queued meanwhile; a prefix arrives at most that much later).
//
// A prefix is counted by its slot, (address - base) >> shift, in a bitmap per session: a
// prefix announced twice counts once, a withdrawal clears it. Optionally each session
// announces one prefix of its own (announce-base + index << announce-shift), when Established
// (`up`) or on the `announce` command (`command`); its own slot counts as held from the start.
//
// Commands on stdin, one a line: announce | window | status | quit.
// Events on stdout, JSON lines: ready, announced, status, done, notification, lost.
// Times are CLOCK_REALTIME milliseconds (comparable with the other processes of the bench).
//
// Build: cc -O2 -o rib-sink rib-sink.c   (rib-ns.ts does it on first use)
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXMSG 4096
#define RDBUF (1 << 20)

typedef struct {
  int fd;
  uint32_t addr;    // host order
  int index;
  int connecting, got_open, eor, lost;
  double established, done_at, retry_at;
  long count;
  long messages;
  uint8_t *bits;
  uint8_t rest[MAXMSG];
  int nrest;
} conn;

static conn *C;
static int n, concurrency = 8, announce_mode = 0;  // 0 none, 1 up, 2 command
static uint32_t server, first, ubase, abase;
static int port = 179, ushift = 8, ashift = 6, asn = 65000, batch_us = 1000;
static long ucount;
static int ep;
static long established_n, eor_n, done_n, started, retries;
static double first_connect, last_established, first_update, announced_at, window_wall;
static double window_cpu;
static long long rx_bytes;
static int ready_sent;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double cpu_ms(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec * 1e3 + ru.ru_utime.tv_usec / 1e3 + ru.ru_stime.tv_sec * 1e3 + ru.ru_stime.tv_usec / 1e3;
}

static void emit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void emit(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  putchar('\n');
  fflush(stdout);
}

static uint32_t addr_of(int i) { return first + (uint32_t)(i / 250) * 256 + (uint32_t)(i % 250); }

static void send_all(conn *c, const uint8_t *b, int len) {
  int off = 0;
  while (off < len) {
    ssize_t w = send(c->fd, b + off, len - off, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EAGAIN || errno == EINTR) {
        // tiny control messages only: wait until the socket takes them
        struct timespec t = {0, 100000};
        nanosleep(&t, NULL);
        continue;
      }
      return;
    }
    off += (int)w;
  }
}

static int header(uint8_t *b, int len, int type) {
  memset(b, 0xff, 16);
  b[16] = len >> 8;
  b[17] = len & 0xff;
  b[18] = type;
  return 19;
}

static void send_open(conn *c) {
  uint8_t b[128];
  int p = 19;
  b[p++] = 4;
  b[p++] = asn >> 8;
  b[p++] = asn & 0xff;
  b[p++] = 0;  // hold time 90
  b[p++] = 90;
  uint32_t id = htonl(c->addr);
  memcpy(b + p, &id, 4);
  p += 4;
  int optlen_at = p++;
  int cap_at = p;
  b[p++] = 2;  // capabilities parameter
  int caplen_at = p++;
  // multiprotocol IPv4 unicast
  b[p++] = 1; b[p++] = 4; b[p++] = 0; b[p++] = 1; b[p++] = 0; b[p++] = 1;
  // route refresh
  b[p++] = 2; b[p++] = 0;
  // 4-octet AS
  b[p++] = 65; b[p++] = 4; b[p++] = 0; b[p++] = 0; b[p++] = asn >> 8; b[p++] = asn & 0xff;
  // graceful restart (End-of-RIB is owed to peers that advertise it): 120 s, IPv4 unicast
  b[p++] = 64; b[p++] = 6; b[p++] = 0; b[p++] = 120; b[p++] = 0; b[p++] = 1; b[p++] = 1; b[p++] = 0;
  b[caplen_at] = p - caplen_at - 1;
  b[optlen_at] = p - cap_at;
  header(b, p, 1);
  send_all(c, b, p);
}

static const uint8_t KEEPALIVE[19] = {255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 0, 19, 4};

static void send_own(conn *c) {
  uint8_t b[64];
  int p = 19;
  b[p++] = 0; b[p++] = 0;  // no withdrawals
  int al_at = p;
  p += 2;
  b[p++] = 0x40; b[p++] = 1; b[p++] = 1; b[p++] = 0;                 // ORIGIN IGP
  b[p++] = 0x40; b[p++] = 2; b[p++] = 0;                             // AS_PATH empty
  b[p++] = 0x40; b[p++] = 3; b[p++] = 4;                             // NEXT_HOP
  uint32_t nh = htonl(c->addr);
  memcpy(b + p, &nh, 4);
  p += 4;
  b[p++] = 0x40; b[p++] = 5; b[p++] = 4; b[p++] = 0; b[p++] = 0; b[p++] = 0; b[p++] = 100;  // LOCAL_PREF
  int al = p - al_at - 2;
  b[al_at] = al >> 8;
  b[al_at + 1] = al & 0xff;
  int plen = 32 - ashift;
  uint32_t a = abase + ((uint32_t)c->index << ashift);
  b[p++] = plen;
  int nb = (plen + 7) / 8;
  for (int i = 0; i < nb; i++) b[p++] = (a >> (24 - 8 * i)) & 0xff;
  header(b, p, 2);
  send_all(c, b, p);
}

static void open_conn(conn *c);

static void check_ready(void) {
  if (!ready_sent && established_n == n && eor_n == n) {
    ready_sent = 1;
    emit("{\"event\":\"ready\",\"firstConnect\":%.3f,\"lastEstablished\":%.3f,\"retries\":%ld,\"at\":%.3f}", first_connect, last_established, retries, now_ms());
    if (announce_mode == 0) {
      window_cpu = cpu_ms();
      window_wall = now_ms();
    }
  }
}

static void finish(void) {
  double last = 0, firstd = 1e300;
  long msgs = 0;
  for (int i = 0; i < n; i++) {
    if (C[i].done_at > last) last = C[i].done_at;
    if (C[i].done_at < firstd) firstd = C[i].done_at;
    msgs += C[i].messages;
  }
  double cpu = cpu_ms() - window_cpu;
  double wall = now_ms() - window_wall;
  emit("{\"event\":\"done\",\"firstUpdate\":%.3f,\"firstDone\":%.3f,\"lastDone\":%.3f,\"lastEstablished\":%.3f,\"firstConnect\":%.3f,\"announcedAt\":%.3f,\"retries\":%ld,"
       "\"sinkCpuMs\":%.1f,\"sinkElu\":%.4f,\"rxBytes\":%lld,\"messages\":%ld}",
       first_update, firstd, last, last_established, first_connect, announced_at, retries, cpu, wall > 0 ? cpu / wall : 0, rx_bytes, msgs);
}

static inline void mark(conn *c, const uint8_t *b, int len, int set) {
  const uint8_t *p = b, *end = b + len;
  while (p < end) {
    int plen = p[0];
    int nb = (plen + 7) >> 3;
    uint32_t a = 0;
    if (nb > 0) a = (uint32_t)p[1] << 24;
    if (nb > 1) a |= (uint32_t)p[2] << 16;
    if (nb > 2) a |= (uint32_t)p[3] << 8;
    if (nb > 3) a |= p[4];
    p += 1 + nb;
    if (a < ubase) continue;
    uint32_t slot = (a - ubase) >> ushift;
    if (slot >= (uint32_t)ucount) continue;
    uint8_t bit = 1 << (slot & 7);
    int had = (c->bits[slot >> 3] & bit) != 0;
    if (set && !had) {
      c->bits[slot >> 3] |= bit;
      c->count++;
    } else if (!set && had) {
      c->bits[slot >> 3] &= ~bit;
      c->count--;
    }
  }
}

static void on_message(conn *c, const uint8_t *m, int len) {
  int type = m[18];
  if (type == 2) {
    c->messages++;
    if (first_update == 0) first_update = now_ms();
    int wl = (m[19] << 8) | m[20];
    if (wl) mark(c, m + 21, wl, 0);
    const uint8_t *ap = m + 21 + wl;
    int al = (ap[0] << 8) | ap[1];
    int nl = len - (int)(ap + 2 + al - m);
    if (nl > 0)
      mark(c, ap + 2 + al, nl, 1);
    else if (wl == 0 && al == 0) {
      if (!c->eor) {
        c->eor = 1;
        eor_n++;
        check_ready();
      }
    } else if (al > 0) {
      // MP_REACH / MP_UNREACH for IPv4 unicast
      const uint8_t *q = ap + 2, *end = q + al;
      while (q < end) {
        int flags = q[0], code = q[1];
        int ext = flags & 0x10;
        int alen = ext ? (q[2] << 8) | q[3] : q[2];
        const uint8_t *v = q + (ext ? 4 : 3);
        if ((code == 14 || code == 15) && v[0] == 0 && v[1] == 1 && v[2] == 1) {
          if (code == 15)
            mark(c, v + 3, alen - 3, 0);
          else {
            int nhl = v[3];
            const uint8_t *s = v + 4 + nhl + 1;
            mark(c, s, (int)(v + alen - s), 1);
          }
        }
        q = v + alen;
      }
    }
    if (c->count == ucount && c->done_at == 0) {
      c->done_at = now_ms();
      done_n++;
      if (done_n == n) finish();
    }
  } else if (type == 4) {
    if (c->got_open && c->established == 0) {
      c->established = now_ms();
      last_established = c->established;
      established_n++;
      if (announce_mode == 1) send_own(c);
      check_ready();
    }
  } else if (type == 1) {
    c->got_open = 1;
    send_all(c, KEEPALIVE, 19);
  } else if (type == 3) {
    struct in_addr ia = {htonl(c->addr)};
    emit("{\"event\":\"notification\",\"address\":\"%s\",\"code\":%d,\"subcode\":%d}", inet_ntoa(ia), m[19], m[20]);
  }
}

static void closed(conn *c) {
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  c->fd = -1;
  if (c->established) {
    struct in_addr ia = {htonl(c->addr)};
    if (!c->lost) emit("{\"event\":\"lost\",\"address\":\"%s\"}", inet_ntoa(ia));
    c->lost = 1;
    return;
  }
  retries++;
  c->retry_at = now_ms() + 1000;
}

static uint8_t rdbuf[RDBUF + MAXMSG];

static void on_readable(conn *c) {
  for (;;) {
    int have = c->nrest;
    if (have) memcpy(rdbuf, c->rest, have);
    ssize_t r = recv(c->fd, rdbuf + have, RDBUF, 0);
    if (r == 0) {
      closed(c);
      return;
    }
    if (r < 0) {
      if (errno == EAGAIN || errno == EINTR) return;
      closed(c);
      return;
    }
    rx_bytes += r;
    int total = have + (int)r, off = 0;
    while (total - off >= 19) {
      int len = (rdbuf[off + 16] << 8) | rdbuf[off + 17];
      if (len < 19 || len > MAXMSG) {
        closed(c);
        return;
      }
      if (total - off < len) break;
      on_message(c, rdbuf + off, len);
      if (c->fd < 0) return;
      off += len;
    }
    c->nrest = total - off;
    if (c->nrest) memmove(c->rest, rdbuf + off, c->nrest);
    if (r < RDBUF) return;
  }
}

static void open_conn(conn *c) {
  if (first_connect == 0) first_connect = now_ms();
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    perror("socket");
    exit(1);
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(fd, SOL_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  struct sockaddr_in la = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(c->addr)};
  if (bind(fd, (struct sockaddr *)&la, sizeof la) < 0) {
    perror("bind");
    exit(1);
  }
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(server)};
  c->fd = fd;
  c->connecting = 1;
  c->got_open = 0;
  c->nrest = 0;
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS) closed(c);
}

static void start_more(void) {
  while (started < n && started - established_n < concurrency) open_conn(&C[started++]);
}

static void command(const char *line) {
  if (!strcmp(line, "announce")) {
    window_cpu = cpu_ms();
    window_wall = now_ms();
    announced_at = now_ms();
    for (int i = 0; i < n; i++)
      if (C[i].fd >= 0) send_own(&C[i]);
    emit("{\"event\":\"announced\",\"at\":%.3f}", announced_at);
  } else if (!strcmp(line, "window")) {
    window_cpu = cpu_ms();
    window_wall = now_ms();
  } else if (!strcmp(line, "status")) {
    long held = 0, min = -1;
    for (int i = 0; i < n; i++) {
      held += C[i].count;
      if (min < 0 || C[i].count < min) min = C[i].count;
    }
    emit("{\"event\":\"status\",\"established\":%ld,\"eors\":%ld,\"done\":%ld,\"held\":%ld,\"min\":%ld,\"retries\":%ld}", established_n, eor_n, done_n, held, min, retries);
  } else if (!strcmp(line, "quit")) {
    exit(0);
  }
}

static uint32_t ip(const char *s) {
  struct in_addr a;
  if (inet_pton(AF_INET, s, &a) != 1) {
    fprintf(stderr, "not an IPv4 address: %s\n", s);
    exit(2);
  }
  return ntohl(a.s_addr);
}

int main(int argc, char **argv) {
  static struct option opts[] = {
      {"server", 1, 0, 's'}, {"port", 1, 0, 'p'}, {"first", 1, 0, 'f'}, {"n", 1, 0, 'n'}, {"asn", 1, 0, 'a'},
      {"universe-base", 1, 0, 'B'}, {"universe-shift", 1, 0, 'S'}, {"universe-count", 1, 0, 'N'},
      {"announce", 1, 0, 'A'}, {"announce-base", 1, 0, 'b'}, {"announce-shift", 1, 0, 'h'},
      {"concurrency", 1, 0, 'c'}, {"batch-us", 1, 0, 'u'}, {0, 0, 0, 0}};
  abase = ip("10.200.0.0");
  int o;
  while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (o) {
      case 's': server = ip(optarg); break;
      case 'p': port = atoi(optarg); break;
      case 'f': first = ip(optarg); break;
      case 'n': n = atoi(optarg); break;
      case 'a': asn = atoi(optarg); break;
      case 'B': ubase = ip(optarg); break;
      case 'S': ushift = atoi(optarg); break;
      case 'N': ucount = atol(optarg); break;
      case 'A': announce_mode = !strcmp(optarg, "up") ? 1 : !strcmp(optarg, "command") ? 2 : 0; break;
      case 'b': abase = ip(optarg); break;
      case 'h': ashift = atoi(optarg); break;
      case 'c': concurrency = atoi(optarg); break;
      case 'u': batch_us = atoi(optarg); break;
      default: fprintf(stderr, "usage: rib-sink --server A --first A --n N --universe-base A --universe-shift S --universe-count N [--announce none|up|command] ...\n"); return 2;
    }
  }
  if (!server || !first || n <= 0 || ucount <= 0 || asn <= 0 || asn > 65535) {
    fprintf(stderr, "rib-sink: --server, --first, --n, --universe-count and a 2-octet --asn are required\n");
    return 2;
  }
  C = calloc(n, sizeof *C);
  for (int i = 0; i < n; i++) {
    C[i].fd = -1;
    C[i].index = i;
    C[i].addr = addr_of(i);
    C[i].bits = calloc((ucount + 7) / 8, 1);
    if (announce_mode) {
      uint32_t a = abase + ((uint32_t)i << ashift);
      if (a >= ubase && ((a - ubase) >> ushift) < (uint32_t)ucount) {
        uint32_t slot = (a - ubase) >> ushift;
        C[i].bits[slot >> 3] |= 1 << (slot & 7);
        C[i].count = 1;
      }
    }
  }
  ep = epoll_create1(EPOLL_CLOEXEC);
  fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
  struct epoll_event sev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(ep, EPOLL_CTL_ADD, 0, &sev);
  window_cpu = cpu_ms();
  window_wall = now_ms();
  start_more();
  char line[256];
  int nline = 0;
  double next_keepalive = now_ms() + 30000;
  struct epoll_event evs[512];
  for (;;) {
    int k = epoll_wait(ep, evs, 512, 100);
    long long before = rx_bytes;
    for (int i = 0; i < k; i++) {
      conn *c = evs[i].data.ptr;
      if (c == NULL) {
        char b[256];
        ssize_t r = read(0, b, sizeof b);
        if (r == 0) exit(0);
        for (ssize_t j = 0; j < r; j++) {
          if (b[j] == '\n') {
            line[nline] = 0;
            command(line);
            nline = 0;
          } else if (nline < (int)sizeof line - 1)
            line[nline++] = b[j];
        }
        continue;
      }
      if (c->fd < 0) continue;
      if (c->connecting && (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        int err = 0;
        socklen_t el = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err) {
          closed(c);
          continue;
        }
        c->connecting = 0;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        send_open(c);
      }
      if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(c);
    }
    start_more();
    double t = now_ms();
    for (int i = 0; i < started; i++)
      if (C[i].fd < 0 && !C[i].established && C[i].retry_at && C[i].retry_at <= t) {
        C[i].retry_at = 0;
        open_conn(&C[i]);
      }
    if (t >= next_keepalive) {
      next_keepalive = t + 30000;
      for (int i = 0; i < n; i++)
        if (C[i].fd >= 0 && C[i].established) send_all(&C[i], KEEPALIVE, 19);
    }
    if (rx_bytes != before && batch_us > 0) {
      struct timespec ts = {0, batch_us * 1000L};
      nanosleep(&ts, NULL);
    }
  }
}

// update-floor.c — what an UPDATE → kernel path costs at the least on this machine, for
// `npm run bench:latency -- --c-floor` (bench/latency.ts), as ../shared/bench/netlink-floor is
// the floor of a bulk install. A BGP receiver in C that does nothing but the path itself: one
// thread asleep in poll() on its sessions; on an UPDATE it parses the message, writes each
// announced IPv4 prefix to the main table (RTM_NEWROUTE via the NEXT_HOP attribute,
// NLM_F_CREATE|NLM_F_REPLACE|NLM_F_ACK) and reads the kernel's answer before it reads on;
// a withdrawn prefix is deleted the same way. No RIB, no decision, no policy, no export, no
// hold timer: not a daemon, the lower bound a daemon's figure is read against.
//
// Sessions: it listens on ADDRESS port 179; an OPEN is answered with an OPEN (AS ASN,
// identifier ADDRESS, hold time 90, the four-octet AS capability, IPv4 unicast) and a
// KEEPALIVE; it sends a KEEPALIVE every 30 s; a NOTIFICATION or a framing error ends the
// session. Routes carry rtm_protocol PROTOCOL.
//
// Prints {"event":"ready"} once listening, {"event":"error",…} on a refused route (and goes
// on); exits when stdin closes.
//   update-floor ADDRESS ASN PROTOCOL
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SESSIONS 8
#define BUF (1 << 16)

struct session {
  int fd;
  size_t have;
  unsigned char buf[BUF];
};

static struct session sessions[MAX_SESSIONS];
static int nl;
static uint32_t seq;
static uint32_t asn;
static struct in_addr self;
static int protocol;

static void die(const char *what) {
  fprintf(stderr, "update-floor: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void put_attr(struct nlmsghdr *h, int type, const void *data, int len) {
  struct rtattr *a = (struct rtattr *)((char *)h + NLMSG_ALIGN(h->nlmsg_len));
  a->rta_type = type;
  a->rta_len = RTA_LENGTH(len);
  memcpy(RTA_DATA(a), data, len);
  h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + RTA_ALIGN(a->rta_len);
}

// One route message, sent; the kernel answers inside sendmsg, so the answer is read at once.
static void route(int add, const unsigned char *addr, int len, uint32_t gateway) {
  char req[256] __attribute__((aligned(4)));
  memset(req, 0, sizeof req);
  struct nlmsghdr *h = (struct nlmsghdr *)req;
  h->nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
  h->nlmsg_type = add ? RTM_NEWROUTE : RTM_DELROUTE;
  h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_REPLACE : 0);
  h->nlmsg_seq = ++seq;
  struct rtmsg *r = NLMSG_DATA(h);
  r->rtm_family = AF_INET;
  r->rtm_dst_len = len;
  r->rtm_table = RT_TABLE_MAIN;
  r->rtm_protocol = protocol;
  r->rtm_scope = RT_SCOPE_UNIVERSE;
  r->rtm_type = RTN_UNICAST;
  uint32_t dst = 0;
  memcpy(&dst, addr, (len + 7) / 8);
  put_attr(h, RTA_DST, &dst, 4);
  if (add) put_attr(h, RTA_GATEWAY, &gateway, 4);
  if (send(nl, req, h->nlmsg_len, 0) < 0) die("send to rtnetlink");
  char ans[1024];
  ssize_t n = recv(nl, ans, sizeof ans, 0);
  if (n < 0) die("recv from rtnetlink");
  struct nlmsghdr *a = (struct nlmsghdr *)ans;
  if (a->nlmsg_type == NLMSG_ERROR) {
    int err = ((struct nlmsgerr *)NLMSG_DATA(a))->error;
    if (err) printf("{\"event\":\"error\",\"errno\":%d}\n", -err), fflush(stdout);
  }
}

// IPv4 prefixes of an NLRI or withdrawn field: a length octet, then the octets it needs.
static int prefixes(const unsigned char *p, size_t n, int add, uint32_t gateway) {
  size_t i = 0;
  while (i < n) {
    int len = p[i];
    size_t octets = (len + 7) / 8;
    if (len > 32 || i + 1 + octets > n) return -1;
    route(add, p + i + 1, len, gateway);
    i += 1 + octets;
  }
  return 0;
}

static int update(const unsigned char *m, size_t len) {
  size_t i = 19;
  if (len < 23) return -1;
  size_t wl = (m[i] << 8) | m[i + 1];
  i += 2;
  if (i + wl + 2 > len) return -1;
  if (prefixes(m + i, wl, 0, 0)) return -1;
  i += wl;
  size_t al = (m[i] << 8) | m[i + 1];
  i += 2;
  if (i + al > len) return -1;
  uint32_t gateway = 0;
  for (size_t j = i; j + 3 <= i + al;) {
    int flags = m[j], type = m[j + 1];
    size_t vl = flags & 0x10 ? (size_t)((m[j + 2] << 8) | m[j + 3]) : m[j + 2];
    size_t v = j + (flags & 0x10 ? 4 : 3);
    if (v + vl > i + al) return -1;
    if (type == 3 && vl == 4) memcpy(&gateway, m + v, 4);
    j = v + vl;
  }
  i += al;
  if (i < len && !gateway) return -1;
  return prefixes(m + i, len - i, 1, gateway);
}

static void header(unsigned char *b, int len, int type) {
  memset(b, 0xff, 16);
  b[16] = len >> 8;
  b[17] = len & 0xff;
  b[18] = type;
}

static void say_open(int fd) {
  unsigned char b[64];
  int n = 19;
  b[n++] = 4;
  b[n++] = asn > 65535 ? 0x5b : asn >> 8;  // AS_TRANS (23456) for a four-octet AS
  b[n++] = asn > 65535 ? 0xa0 : asn & 0xff;
  b[n++] = 0;
  b[n++] = 90;
  memcpy(b + n, &self, 4);
  n += 4;
  unsigned char caps[] = {2, 14, 1, 4, 0, 1, 0, 1, 65, 4, asn >> 24, asn >> 16, asn >> 8, asn};
  b[n++] = sizeof caps;
  memcpy(b + n, caps, sizeof caps);
  n += sizeof caps;
  header(b, n, 1);
  unsigned char k[19];
  header(k, 19, 4);
  if (write(fd, b, n) != n || write(fd, k, 19) != 19) fprintf(stderr, "update-floor: write: %s\n", strerror(errno));
}

static void keepalive_all(void) {
  unsigned char k[19];
  header(k, 19, 4);
  for (int s = 0; s < MAX_SESSIONS; s++)
    if (sessions[s].fd >= 0 && write(sessions[s].fd, k, 19) != 19) fprintf(stderr, "update-floor: keepalive: %s\n", strerror(errno));
}

static void end(struct session *s) {
  close(s->fd);
  s->fd = -1;
  s->have = 0;
}

// Read what the socket has, and handle every whole message in the buffer.
static void readable(struct session *s) {
  ssize_t n = read(s->fd, s->buf + s->have, BUF - s->have);
  if (n <= 0) {
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    end(s);
    return;
  }
  s->have += n;
  size_t off = 0;
  while (s->have - off >= 19) {
    unsigned char *m = s->buf + off;
    size_t len = (m[16] << 8) | m[17];
    if (len < 19 || len > 4096) {
      end(s);
      return;
    }
    if (s->have - off < len) break;
    if (m[18] == 1) say_open(s->fd);
    else if (m[18] == 2 && update(m, len)) fprintf(stderr, "update-floor: a malformed UPDATE, skipped\n");
    else if (m[18] == 3) {
      end(s);
      return;
    }
    off += len;
  }
  memmove(s->buf, s->buf + off, s->have - off);
  s->have -= off;
}

int main(int argc, char **argv) {
  if (argc != 4 || inet_pton(AF_INET, argv[1], &self) != 1) {
    fprintf(stderr, "usage: update-floor ADDRESS ASN PROTOCOL\n");
    return 2;
  }
  asn = strtoul(argv[2], NULL, 10);
  protocol = atoi(argv[3]);
  nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (nl < 0) die("rtnetlink socket");
  int one = 1;
  setsockopt(nl, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (lfd < 0) die("socket");
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(179), .sin_addr = self};
  if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) || listen(lfd, 8)) die("listen on port 179");
  for (int s = 0; s < MAX_SESSIONS; s++) sessions[s].fd = -1;
  printf("{\"event\":\"ready\"}\n");
  fflush(stdout);
  time_t last = time(NULL);
  for (;;) {
    struct pollfd p[MAX_SESSIONS + 2];
    int map[MAX_SESSIONS + 2];
    int n = 0;
    p[n] = (struct pollfd){.fd = 0, .events = POLLIN};
    map[n++] = -2;
    p[n] = (struct pollfd){.fd = lfd, .events = POLLIN};
    map[n++] = -1;
    for (int s = 0; s < MAX_SESSIONS; s++)
      if (sessions[s].fd >= 0) p[n] = (struct pollfd){.fd = sessions[s].fd, .events = POLLIN}, map[n++] = s;
    if (poll(p, n, 1000) < 0 && errno != EINTR) die("poll");
    for (int i = 0; i < n; i++) {
      if (!p[i].revents) continue;
      if (map[i] == -2) {
        char c[64];
        if (read(0, c, sizeof c) <= 0) return 0;
      } else if (map[i] == -1) {
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        int s = 0;
        while (s < MAX_SESSIONS && sessions[s].fd >= 0) s++;
        if (fd >= 0 && s < MAX_SESSIONS) {
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          sessions[s].fd = fd;
          sessions[s].have = 0;
        } else if (fd >= 0) close(fd);
      } else readable(&sessions[map[i]]);
    }
    if (time(NULL) - last >= 30) {
      last = time(NULL);
      keepalive_all();
    }
  }
}

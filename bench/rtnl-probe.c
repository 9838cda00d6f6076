// rtnl-probe: the kernel's own share of a lone route's latency while a table loads (issue 15).
// Adds one /32 every GAP ms on a netlink socket of its own and times sendmsg → acknowledgement,
// K times or until SIGUSR1; prints one JSON line of percentiles (µs). Run beside `netlink-floor -n N` in the same
// namespace: the gaps it sees are the ones any second route writer (routelet's urgent writer,
// BIRD) would see, from the kernel holding its RTNL lock. Built by bench/rtnl-bound.ts.
//
//   rtnl-probe K GAP_MS DEV GATEWAY PROTOCOL
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static void addattr(struct nlmsghdr *n, int type, const void *d, int len) {
  struct rtattr *a = (struct rtattr *)((char *)n + NLMSG_ALIGN(n->nlmsg_len));
  a->rta_type = type;
  a->rta_len = RTA_LENGTH(len);
  memcpy(RTA_DATA(a), d, len);
  n->nlmsg_len = NLMSG_ALIGN(n->nlmsg_len) + RTA_ALIGN(a->rta_len);
}

static volatile sig_atomic_t stop;
static void on_stop(int sig) { (void)sig; stop = 1; }

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: rtnl-probe K GAP_MS DEV GATEWAY PROTOCOL\n");
    return 2;
  }
  int k = atoi(argv[1]), gap = atoi(argv[2]), proto = atoi(argv[5]);
  unsigned oif = if_nametoindex(argv[3]);
  struct in_addr gw;
  if (k < 1 || gap < 0 || !oif || inet_pton(AF_INET, argv[4], &gw) != 1) {
    fprintf(stderr, "rtnl-probe: bad arguments\n");
    return 2;
  }
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
  if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    perror("rtnl-probe: netlink socket");
    return 1;
  }
  struct sigaction act = {.sa_handler = on_stop};
  sigaction(SIGUSR1, &act, NULL);
  double *lat = calloc(k, sizeof *lat);
  char buf[8192];
  int errors = 0, done = 0;
  for (int i = 0; i < k && !stop; i++) {
    usleep(gap * 1000);
    if (stop) break;
    char req[256] = {0};
    struct nlmsghdr *n = (struct nlmsghdr *)req;
    n->nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
    n->nlmsg_type = RTM_NEWROUTE;
    n->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
    n->nlmsg_seq = i + 1;
    struct rtmsg *r = NLMSG_DATA(n);
    r->rtm_family = AF_INET;
    r->rtm_dst_len = 32;
    r->rtm_table = RT_TABLE_MAIN;
    r->rtm_protocol = proto;
    r->rtm_scope = RT_SCOPE_UNIVERSE;
    r->rtm_type = RTN_UNICAST;
    uint32_t dst = htonl(0x64400000u + i);  // 100.64.0.0 upwards
    addattr(n, RTA_DST, &dst, 4);
    addattr(n, RTA_GATEWAY, &gw, 4);
    addattr(n, RTA_OIF, &oif, 4);
    double t0 = now_us();
    if (send(fd, req, n->nlmsg_len, 0) < 0 || recv(fd, buf, sizeof buf, 0) < 0) errors++;
    lat[done++] = now_us() - t0;
    struct nlmsghdr *h = (struct nlmsghdr *)buf;
    if (h->nlmsg_type == NLMSG_ERROR && ((struct nlmsgerr *)NLMSG_DATA(h))->error) errors++;
  }
  if (!done) {
    printf("{\"n\":0,\"errors\":%d}\n", errors);
    return 1;
  }
  qsort(lat, done, sizeof *lat, cmp);
  printf("{\"n\":%d,\"errors\":%d,\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"max\":%.1f}\n", done, errors, lat[done / 2],
         lat[done * 9 / 10], lat[done * 99 / 100], lat[done - 1]);
  return errors ? 1 : 0;
}

// bench:latency's kernel clock: run in the daemon's namespace, attaches bench/nl-stamp.bpf.c
// to an rtnetlink socket joined to the IPv4 route group, says {"event":"ready"}, and on each
// "dump" line on stdin prints {"event":"stamps","stamps":[["10.1.2.3",ns],…]}; it exits when
// stdin closes. With PROTOCOL and TARGET, the filter counts the main table's routes of that
// protocol, and "wait SECONDS" looks at the count every 2 ms until it reaches TARGET or the
// seconds pass, then prints {"event":"load","ns":…,"count":…} (ns: the kernel's CLOCK_MONOTONIC
// stamp of the notification that reached it; 0 when it was not reached in time).
//   nl-stamp OBJECT [PROTOCOL TARGET]
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SO_ATTACH_BPF
#define SO_ATTACH_BPF 50
#endif

static int fail(const char *what) {
  fprintf(stderr, "nl-stamp: %s: %s\n", what, strerror(errno));
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 2 && argc != 4) {
    fprintf(stderr, "usage: nl-stamp OBJECT [PROTOCOL TARGET]\n");
    return 2;
  }
  struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
  if (!obj || libbpf_get_error(obj)) return fail("open the BPF object");
  if (bpf_object__load(obj)) return fail("load the BPF object");
  struct bpf_program *prog = bpf_object__find_program_by_name(obj, "stamp");
  struct bpf_map *map = bpf_object__find_map_by_name(obj, "stamps");
  if (!prog || !map) return fail("find the program and map");
  struct bpf_map *cmap = bpf_object__find_map_by_name(obj, "count");
  if (!cmap) return fail("find the count map");
  int pfd = bpf_program__fd(prog), mfd = bpf_map__fd(map), cfd = bpf_map__fd(cmap);
  if (argc == 4) {
    __u32 k0 = 0, k1 = 1;
    __u64 proto = strtoull(argv[2], NULL, 10), target = strtoull(argv[3], NULL, 10);
    if (bpf_map_update_elem(cfd, &k1, &target, BPF_ANY) || bpf_map_update_elem(cfd, &k0, &proto, BPF_ANY)) return fail("set the count");
  }
  int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (s < 0) return fail("socket");
  if (setsockopt(s, SOL_SOCKET, SO_ATTACH_BPF, &pfd, sizeof pfd) < 0) return fail("SO_ATTACH_BPF");
  struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = RTMGRP_IPV4_ROUTE};
  if (bind(s, (struct sockaddr *)&sa, sizeof sa) < 0) return fail("bind");
  printf("{\"event\":\"ready\"}\n");
  fflush(stdout);
  char line[64];
  while (fgets(line, sizeof line, stdin)) {
    if (strncmp(line, "wait", 4) == 0) {
      double limit = atof(line + 4);
      struct timespec t0, t;
      clock_gettime(CLOCK_MONOTONIC, &t0);
      for (;;) {
        __u32 k2 = 2, k3 = 3;
        __u64 n = 0, at = 0;
        bpf_map_lookup_elem(cfd, &k2, &n);
        bpf_map_lookup_elem(cfd, &k3, &at);
        clock_gettime(CLOCK_MONOTONIC, &t);
        double waited = (t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) * 1e-9;
        if (at || waited > limit) {
          printf("{\"event\":\"load\",\"ns\":%llu,\"count\":%lld}\n", (unsigned long long)at, (long long)n);
          fflush(stdout);
          break;
        }
        usleep(2000);
      }
      continue;
    }
    if (strncmp(line, "dump", 4) != 0) continue;
    printf("{\"event\":\"stamps\",\"stamps\":[");
    __u32 key, next;
    __u64 ns;
    int first = 1, more = bpf_map_get_next_key(mfd, NULL, &next) == 0;
    while (more) {
      key = next;
      if (bpf_map_lookup_elem(mfd, &key, &ns) == 0) {
        char a[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &key, a, sizeof a);
        printf("%s[\"%s\",%llu]", first ? "" : ",", a, (unsigned long long)ns);
        first = 0;
      }
      more = bpf_map_get_next_key(mfd, &key, &next) == 0;
    }
    printf("]}\n");
    fflush(stdout);
  }
  close(s);
  bpf_object__close(obj);
  return 0;
}

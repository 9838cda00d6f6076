// bench:latency's kernel clock: run in the daemon's namespace, attaches bench/nl-stamp.bpf.c
// to an rtnetlink socket joined to the IPv4 route group, says {"event":"ready"}, and on each
// "dump" line on stdin prints {"event":"stamps","stamps":[["10.1.2.3",ns],…]}; it exits when
// stdin closes.
//   nl-stamp OBJECT
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
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
  if (argc != 2) {
    fprintf(stderr, "usage: nl-stamp OBJECT\n");
    return 2;
  }
  struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
  if (!obj || libbpf_get_error(obj)) return fail("open the BPF object");
  if (bpf_object__load(obj)) return fail("load the BPF object");
  struct bpf_program *prog = bpf_object__find_program_by_name(obj, "stamp");
  struct bpf_map *map = bpf_object__find_map_by_name(obj, "stamps");
  if (!prog || !map) return fail("find the program and map");
  int pfd = bpf_program__fd(prog), mfd = bpf_map__fd(map);
  int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (s < 0) return fail("socket");
  if (setsockopt(s, SOL_SOCKET, SO_ATTACH_BPF, &pfd, sizeof pfd) < 0) return fail("SO_ATTACH_BPF");
  struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = RTMGRP_IPV4_ROUTE};
  if (bind(s, (struct sockaddr *)&sa, sizeof sa) < 0) return fail("bind");
  printf("{\"event\":\"ready\"}\n");
  fflush(stdout);
  char line[64];
  while (fgets(line, sizeof line, stdin)) {
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

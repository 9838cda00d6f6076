// bench:latency's kernel clock (bench/nl-stamp.c loads it): a socket filter on an rtnetlink
// socket joined to the IPv4 route group. It runs when the kernel notifies a route, right after
// the route went into the FIB, and records bpf_ktime_get_ns() (CLOCK_MONOTONIC, the clock
// the bench stamps its sends with) for the first RTM_NEWROUTE of each /32. It also counts the
// daemon's routes shorter than /32 in the main table (added, not replaced, less deleted) and stamps the moment
// the count first reaches a target: the end of a table load, seen without a process reading
// every notification (netlink-floor -W did, 2.2 s of CPU beside a 6 s load on 2 CPUs). It
// accepts nothing: the socket never wakes its process. What it costs is its own run per route
// notification, in the kernel (bench/latency.ts gives the figure).
#include <linux/bpf.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <bpf/bpf_helpers.h>

#define AF_INET 2

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1 << 18);
  __type(key, __u32);   // the /32, network order
  __type(value, __u64); // ns, CLOCK_MONOTONIC
} stamps SEC(".maps");

// [0] the protocol counted (set by nl-stamp; 0: none), [1] the target, [2] the count,
// [3] ns when the count first reached the target
enum { C_PROTO, C_TARGET, C_COUNT, C_REACHED };
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 4);
  __type(key, __u32);
  __type(value, __u64);
} count SEC(".maps");

static __u64 *slot(__u32 k) { return bpf_map_lookup_elem(&count, &k); }

static void count_route(const struct nlmsghdr *nh, const struct rtmsg *rt, __u64 now) {
  __u64 *proto = slot(C_PROTO), *target = slot(C_TARGET), *n = slot(C_COUNT), *reached = slot(C_REACHED);
  if (!proto || !target || !n || !reached || *proto == 0) return;
  if (rt->rtm_family != AF_INET || rt->rtm_type != RTN_UNICAST || rt->rtm_table != RT_TABLE_MAIN || rt->rtm_protocol != *proto) return;
  // the feeds' prefixes only: bench:latency's probes (and their warm-up) are /32s, which would
  // bring the count to its target a few thousand routes before the load's end
  if (rt->rtm_dst_len == 32) return;
  if (nh->nlmsg_type == RTM_DELROUTE) {
    __sync_fetch_and_add(n, -1);
    return;
  }
  if (nh->nlmsg_flags & NLM_F_REPLACE) return;
  __sync_fetch_and_add(n, 1);
  if (*target && *reached == 0 && (__s64)*n >= (__s64)*target) *reached = now;
}

SEC("socket")
int stamp(struct __sk_buff *skb) {
  __u64 now = bpf_ktime_get_ns();
  struct nlmsghdr nh;
  struct rtmsg rt;
  if (bpf_skb_load_bytes(skb, 0, &nh, sizeof nh)) return 0;
  if (nh.nlmsg_type != RTM_NEWROUTE && nh.nlmsg_type != RTM_DELROUTE) return 0;
  if (bpf_skb_load_bytes(skb, NLMSG_HDRLEN, &rt, sizeof rt)) return 0;
  count_route(&nh, &rt, now);
  if (nh.nlmsg_type != RTM_NEWROUTE || rt.rtm_family != AF_INET || rt.rtm_dst_len != 32) return 0;
  __u32 off = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof rt);
  for (int i = 0; i < 16; i++) {
    struct rtattr a;
    if (off + sizeof a > nh.nlmsg_len || off > 4096) return 0;
    if (bpf_skb_load_bytes(skb, off, &a, sizeof a)) return 0;
    if (a.rta_len < sizeof a) return 0;
    if (a.rta_type == RTA_DST) {
      __u32 dst;
      if (bpf_skb_load_bytes(skb, off + sizeof a, &dst, sizeof dst)) return 0;
      bpf_map_update_elem(&stamps, &dst, &now, BPF_NOEXIST);
      return 0;
    }
    off += RTA_ALIGN(a.rta_len);
  }
  return 0;
}

char LICENSE[] SEC("license") = "GPL";

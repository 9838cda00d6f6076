// bench:latency's kernel clock (bench/nl-stamp.c loads it): a socket filter on an rtnetlink
// socket joined to the IPv4 route group. It runs when the kernel notifies a route, right after
// the route went into the FIB, and records bpf_ktime_get_ns() (CLOCK_MONOTONIC, the clock
// the bench stamps its sends with) for the first RTM_NEWROUTE of each /32. It accepts nothing:
// the socket never wakes its process. What it costs is its own run per route notification,
// in the kernel (bench/latency.ts gives the figure).
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

SEC("socket")
int stamp(struct __sk_buff *skb) {
  __u64 now = bpf_ktime_get_ns();
  struct nlmsghdr nh;
  struct rtmsg rt;
  if (bpf_skb_load_bytes(skb, 0, &nh, sizeof nh)) return 0;
  if (nh.nlmsg_type != RTM_NEWROUTE) return 0;
  if (bpf_skb_load_bytes(skb, NLMSG_HDRLEN, &rt, sizeof rt)) return 0;
  if (rt.rtm_family != AF_INET || rt.rtm_dst_len != 32) return 0;
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

// The byte layouts shared with TypeScript (src/native/netlink.ts), and rtnetlink message
// building and parsing for routes and next hops. No I/O here.
//
// Route operation (what TypeScript hands over, 32 bytes each, host byte order):
//   u8  op            1 = replace (NLM_F_CREATE|NLM_F_REPLACE), 2 = delete
//   u8  family        4 or 6
//   u8  prefix length
//   u8  flags         1 = echo: the kernel sends the route back as it installed it (with the
//                     device it resolved the gateway to); 2 = exclusive: create only
//                     (NLM_F_EXCL instead of NLM_F_REPLACE), so a route of another owner with
//                     the same key fails with EEXIST instead of being replaced; 4 = metric:
//                     the op's own metric is in `metric` (a delete of an adopted route
//                     written at another metric), else the queue's metric applies
//   u32 next-hop handle (replace; defined beforehand with defineNexthop / defineGroup)
//   u32 metric        (with flag 4)
//   u32 reserved
//   u8  destination[16]: IPv4 as a host-order u32 in the first four bytes, IPv6 as 16
//       network-order bytes
//
// Route record (what dumps and the monitor hand back; 4-byte aligned, host byte order):
//   u16 record length, u8 action (1 new, 2 delete), u8 family (4|6),
//   u8 prefix length, u8 protocol, u8 rtm_type, u8 next-hop count,
//   u32 table, u32 priority (metric), u32 nhid (0 = none), u32 nlmsg_pid,
//   u16 nlmsg_flags, u16 rtm_flags, u8 destination[16] (network order),
//   then per next hop (24 bytes): u32 ifindex, u8 gateway family (0|4|6), u8 rtnh_flags,
//   u16 weight (1-256), u8 gateway[16].
//
// Next-hop object record (dumps of RTM_GETNEXTHOP):
//   u16 record length, u8 family (4|6|0), u8 protocol, u32 id, u32 ifindex, u8 flags,
//   u8 gateway family (0|4|6), u8 kind (0 single, 1 group, 2 blackhole), u8 reserved,
//   u8 gateway[16], u16 group size, u16 reserved, then per member: u32 id, u16 weight, u16 0.
#pragma once
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <cstdint>
#include <string>
#include <vector>

namespace routelet::route {

constexpr size_t kOpBytes = 32;
constexpr uint8_t kOpReplace = 1;
constexpr uint8_t kOpDelete = 2;
constexpr uint8_t kOpFlagEcho = 1;
constexpr uint8_t kOpFlagExclusive = 2;
constexpr uint8_t kOpFlagMetric = 4;
constexpr uint32_t kMaxHandle = (1u << 24) - 1;

struct Op {
  uint8_t op, family, length, flags;
  uint32_t handle;
  uint32_t metric;
  uint32_t reserved2;
  uint8_t dst[16];
};
static_assert(sizeof(Op) == kOpBytes, "route operation layout");

// One gateway/device next hop as TypeScript defines it.
struct Hop {
  uint8_t gwFamily = 0;  // 0 = no gateway (device route), 4 or 6
  uint8_t gw[16] = {};
  uint32_t ifindex = 0;
  bool onlink = false;
  uint16_t weight = 1;  // 1-256
};

// What a next-hop handle stands for: one hop, or a group of hops (ECMP).
struct Handle {
  bool defined = false;
  uint8_t family = 0;  // of the routes that use it
  bool group = false;
  std::vector<Hop> hops;
  std::vector<uint32_t> members;  // group: member handles (kernel next-hop object mode)
  // A kernel next-hop object (RTM_NEWNEXTHOP, routes carry RTA_NH_ID) rather than inline
  // attributes: in next-hop object mode, when every hop names its device.
  bool object = false;
  // Route header fields and attribute bytes appended to every route using this handle.
  uint8_t scope = RT_SCOPE_UNIVERSE;
  uint32_t rtmFlags = 0;
  std::vector<uint8_t> attrs;
};

struct Config {
  uint32_t table = RT_TABLE_MAIN;
  uint8_t protocol = 201;
  bool nexthopObjects = false;
  uint32_t nexthopIdBase = 0;  // kernel next-hop id = base + handle
  // RTA_PRIORITY of every route written or deleted (the route's key is table, prefix and
  // metric: a metric of our own keeps our routes apart from the kernel's connected routes)
  bool hasMetric = false;
  uint32_t metric = 0;
};

// Fill h->attrs/scope/flags for the configured mode. Groups read their members' hops.
void EncodeHandle(const Config& c, Handle* h);

// Largest route message BuildRoute can produce for a handle (to reserve buffer room).
size_t RouteMessageBytes(const Handle* h);

// Build one RTM_NEWROUTE / RTM_DELROUTE at p for op; h is the handle (replace) or null.
// Returns the message length.
size_t BuildRoute(char* p, const Config& c, const Op& op, const Handle* h, uint32_t seq, uint16_t extraFlags);

// Build RTM_NEWNEXTHOP (create or replace) for handle id, or RTM_DELNEXTHOP when del.
size_t BuildNexthop(char* p, size_t room, const Config& c, uint32_t handle, const Handle& h, bool del, uint32_t seq,
                    uint16_t extraFlags);

// Dump requests (strict-checked: the kernel filters by table and protocol).
size_t BuildRouteDump(char* p, uint8_t family, uint32_t table, uint8_t protocol, uint32_t seq);
size_t BuildNexthopDump(char* p, uint32_t seq);

// Append the record for an RTM_NEWROUTE/RTM_DELROUTE message; false when it is not a route
// of `table` (0 = any table) that the record format can hold.
bool AppendRouteRecord(std::vector<uint8_t>* out, const nlmsghdr* h, uint32_t table);
bool AppendNexthopRecord(std::vector<uint8_t>* out, const nlmsghdr* h);

}  // namespace routelet::route

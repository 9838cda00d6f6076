#include "route_wire.h"

#include <arpa/inet.h>
#include <linux/nexthop.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "nlmsg.h"

namespace routelet::route {
namespace {

int Af(uint8_t family) { return family == 6 ? AF_INET6 : AF_INET; }
size_t AddrLen(uint8_t family) { return family == 6 ? 16 : 4; }

void Put(std::vector<uint8_t>* v, const void* p, size_t n) {
  auto* b = static_cast<const uint8_t*>(p);
  v->insert(v->end(), b, b + n);
}

// Append an rtattr to a byte vector (for pre-encoded handle attributes).
size_t PutAttr(std::vector<uint8_t>* v, uint16_t type, const void* data, size_t len) {
  size_t at = v->size();
  rtattr a{static_cast<unsigned short>(RTA_LENGTH(len)), type};
  Put(v, &a, sizeof a);
  if (len) Put(v, data, len);
  v->resize(at + RTA_ALIGN(RTA_LENGTH(len)), 0);
  return at;
}

// Gateway of a hop as an attribute of a route of `family`: RTA_GATEWAY, or RTA_VIA when the
// families differ (an IPv4 route via an IPv6 neighbour, RFC 5549).
void PutGateway(std::vector<uint8_t>* v, uint8_t family, const Hop& hop) {
  if (hop.gwFamily == 0) return;
  if (hop.gwFamily == family) {
    PutAttr(v, RTA_GATEWAY, hop.gw, AddrLen(family));
    return;
  }
  uint8_t via[2 + 16] = {};
  uint16_t af = static_cast<uint16_t>(Af(hop.gwFamily));
  std::memcpy(via, &af, 2);
  std::memcpy(via + 2, hop.gw, AddrLen(hop.gwFamily));
  PutAttr(v, RTA_VIA, via, 2 + AddrLen(hop.gwFamily));
}

bool UsesObject(const Config& c, const Handle& h) {
  if (!c.nexthopObjects) return false;
  // The kernel needs a device for every next-hop object; a gateway-only hop is sent inline.
  return std::all_of(h.hops.begin(), h.hops.end(), [](const Hop& x) { return x.ifindex != 0; });
}

}  // namespace

void EncodeHandle(const Config& c, Handle* h) {
  h->attrs.clear();
  h->rtmFlags = 0;
  h->scope = RT_SCOPE_UNIVERSE;
  h->object = UsesObject(c, *h);
  if (h->object) return;  // routes carry RTA_NH_ID, added by BuildRoute from the handle number
  if (!h->group && h->hops.size() == 1) {
    const Hop& hop = h->hops[0];
    PutGateway(&h->attrs, h->family, hop);
    if (hop.ifindex) PutAttr(&h->attrs, RTA_OIF, &hop.ifindex, 4);
    if (hop.onlink) h->rtmFlags |= RTNH_F_ONLINK;
    if (hop.gwFamily == 0 && h->family == 4) h->scope = RT_SCOPE_LINK;
    return;
  }
  size_t nest = PutAttr(&h->attrs, RTA_MULTIPATH, nullptr, 0);
  for (const Hop& hop : h->hops) {
    size_t at = h->attrs.size();
    rtnexthop rtnh{};
    rtnh.rtnh_flags = hop.onlink ? RTNH_F_ONLINK : 0;
    rtnh.rtnh_hops = static_cast<unsigned char>(hop.weight - 1);
    rtnh.rtnh_ifindex = static_cast<int>(hop.ifindex);
    Put(&h->attrs, &rtnh, sizeof rtnh);
    PutGateway(&h->attrs, h->family, hop);
    uint16_t len = static_cast<uint16_t>(h->attrs.size() - at);
    std::memcpy(h->attrs.data() + at, &len, 2);  // rtnh_len
  }
  uint16_t nlen = static_cast<uint16_t>(h->attrs.size() - nest);
  std::memcpy(h->attrs.data() + nest, &nlen, 2);  // rta_len
}

size_t RouteMessageBytes(const Handle* h) {
  return NLMSG_LENGTH(sizeof(rtmsg)) + RTA_SPACE(16) + RTA_SPACE(4) * 3 + (h ? h->attrs.size() : 0);
}

size_t BuildRoute(char* p, const Config& c, const Op& op, const Handle* h, uint32_t seq, uint16_t extraFlags) {
  constexpr size_t head = NLMSG_LENGTH(sizeof(rtmsg));
  std::memset(p, 0, head);
  auto* n = reinterpret_cast<nlmsghdr*>(p);
  n->nlmsg_len = head;
  n->nlmsg_seq = seq;
  auto* r = static_cast<rtmsg*>(NLMSG_DATA(n));
  r->rtm_family = static_cast<unsigned char>(Af(op.family));
  r->rtm_dst_len = op.length;
  r->rtm_table = static_cast<unsigned char>(c.table < 256 ? c.table : static_cast<uint32_t>(RT_TABLE_UNSPEC));
  r->rtm_protocol = c.protocol;
  if (op.op == kOpDelete) {
    n->nlmsg_type = RTM_DELROUTE;
    n->nlmsg_flags = NLM_F_REQUEST | extraFlags;
    r->rtm_scope = RT_SCOPE_NOWHERE;
  } else {
    n->nlmsg_type = RTM_NEWROUTE;
    n->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | ((op.flags & kOpFlagExclusive) ? NLM_F_EXCL : NLM_F_REPLACE) | extraFlags;
    r->rtm_scope = h->scope;
    r->rtm_type = RTN_UNICAST;
    r->rtm_flags = h->rtmFlags;
  }
  if (op.family == 6) {
    nl::AddAttr(n, RTA_DST, op.dst, 16);
  } else {
    uint32_t host;
    std::memcpy(&host, op.dst, 4);
    uint32_t dst = htonl(host);
    nl::AddAttr(n, RTA_DST, &dst, 4);
  }
  if (c.table >= 256) nl::AddU32(n, RTA_TABLE, c.table);
  if (op.flags & kOpFlagMetric) nl::AddU32(n, RTA_PRIORITY, op.metric);
  else if (c.hasMetric) nl::AddU32(n, RTA_PRIORITY, c.metric);
  if (op.op != kOpDelete) {
    if (h->object) {
      nl::AddU32(n, RTA_NH_ID, c.nexthopIdBase + op.handle);
    } else {
      std::memcpy(p + n->nlmsg_len, h->attrs.data(), h->attrs.size());
      n->nlmsg_len += static_cast<uint32_t>(h->attrs.size());
    }
  }
  return n->nlmsg_len;
}

size_t BuildNexthop(char* p, size_t room, const Config& c, uint32_t handle, const Handle& h, bool del, uint32_t seq,
                    uint16_t extraFlags) {
  size_t need = NLMSG_LENGTH(sizeof(nhmsg)) + RTA_SPACE(4) * 3 + RTA_SPACE(16) +
                RTA_SPACE(sizeof(nexthop_grp) * h.members.size());
  if (need > room) return 0;
  std::memset(p, 0, NLMSG_LENGTH(sizeof(nhmsg)));
  auto* n = reinterpret_cast<nlmsghdr*>(p);
  n->nlmsg_len = NLMSG_LENGTH(sizeof(nhmsg));
  n->nlmsg_seq = seq;
  auto* m = static_cast<nhmsg*>(NLMSG_DATA(n));
  nl::AddU32(n, NHA_ID, c.nexthopIdBase + handle);
  if (del) {
    n->nlmsg_type = RTM_DELNEXTHOP;
    n->nlmsg_flags = NLM_F_REQUEST | extraFlags;
    return n->nlmsg_len;
  }
  n->nlmsg_type = RTM_NEWNEXTHOP;
  n->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE | extraFlags;
  m->nh_protocol = c.protocol;
  if (h.group) {
    m->nh_family = AF_UNSPEC;
    std::vector<nexthop_grp> g(h.members.size());
    for (size_t i = 0; i < g.size(); i++) {
      g[i].id = c.nexthopIdBase + h.members[i];
      uint16_t w = static_cast<uint16_t>(h.hops[i].weight - 1);
      g[i].weight = static_cast<uint8_t>(w & 0xff);
      g[i].weight_high = static_cast<uint8_t>(w >> 8);
    }
    nl::AddAttr(n, NHA_GROUP, g.data(), sizeof(nexthop_grp) * g.size());
    return n->nlmsg_len;
  }
  const Hop& hop = h.hops[0];
  m->nh_family = static_cast<unsigned char>(Af(hop.gwFamily ? hop.gwFamily : h.family));
  if (hop.onlink) m->nh_flags = RTNH_F_ONLINK;
  if (hop.gwFamily) nl::AddAttr(n, NHA_GATEWAY, hop.gw, AddrLen(hop.gwFamily));
  if (hop.ifindex) nl::AddU32(n, NHA_OIF, hop.ifindex);
  return n->nlmsg_len;
}

size_t BuildRouteDump(char* p, uint8_t family, uint32_t table, uint8_t protocol, uint32_t seq) {
  std::memset(p, 0, NLMSG_LENGTH(sizeof(rtmsg)));
  auto* n = reinterpret_cast<nlmsghdr*>(p);
  n->nlmsg_len = NLMSG_LENGTH(sizeof(rtmsg));
  n->nlmsg_type = RTM_GETROUTE;
  n->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  n->nlmsg_seq = seq;
  auto* r = static_cast<rtmsg*>(NLMSG_DATA(n));
  r->rtm_family = static_cast<unsigned char>(Af(family));
  r->rtm_protocol = protocol;
  if (table < 256) {
    r->rtm_table = static_cast<unsigned char>(table);
  } else {
    nl::AddU32(n, RTA_TABLE, table);
  }
  return n->nlmsg_len;
}

size_t BuildNexthopDump(char* p, uint32_t seq) {
  std::memset(p, 0, NLMSG_LENGTH(sizeof(nhmsg)));
  auto* n = reinterpret_cast<nlmsghdr*>(p);
  n->nlmsg_len = NLMSG_LENGTH(sizeof(nhmsg));
  n->nlmsg_type = RTM_GETNEXTHOP;
  n->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  n->nlmsg_seq = seq;
  return n->nlmsg_len;
}

namespace {

struct RecordHead {
  uint16_t length;
  uint8_t action, family, dstLen, protocol, type, hopCount;
  uint32_t table, priority, nhid, portId;
  uint16_t nlFlags, rtmFlags;
  uint8_t dst[16];
};
static_assert(sizeof(RecordHead) == 44, "route record layout");

struct RecordHop {
  uint32_t ifindex;
  uint8_t gwFamily, flags;
  uint16_t weight;
  uint8_t gw[16];
};
static_assert(sizeof(RecordHop) == 24, "route record next hop layout");

uint8_t FamilyOf(int af) { return af == AF_INET ? 4 : af == AF_INET6 ? 6 : 0; }

// A gateway from RTA_GATEWAY (route family) or RTA_VIA (its own family).
void ReadGateway(const rtattr* a, uint8_t family, RecordHop* hop) {
  size_t len = RTA_PAYLOAD(a);
  auto* d = static_cast<const uint8_t*>(RTA_DATA(a));
  if (a->rta_type == RTA_GATEWAY && len == AddrLen(family)) {
    hop->gwFamily = family;
    std::memcpy(hop->gw, d, len);
  } else if (a->rta_type == RTA_VIA && len >= 2) {
    uint16_t af;
    std::memcpy(&af, d, 2);
    uint8_t f = FamilyOf(af);
    if (f && len >= 2 + AddrLen(f)) {
      hop->gwFamily = f;
      std::memcpy(hop->gw, d + 2, AddrLen(f));
    }
  }
}

}  // namespace

bool AppendRouteRecord(std::vector<uint8_t>* out, const nlmsghdr* h, uint32_t table) {
  if (h->nlmsg_type != RTM_NEWROUTE && h->nlmsg_type != RTM_DELROUTE) return false;
  if (h->nlmsg_len < NLMSG_LENGTH(sizeof(rtmsg))) return false;
  auto* r = static_cast<const rtmsg*>(NLMSG_DATA(h));
  RecordHead head{};
  head.family = FamilyOf(r->rtm_family);
  if (!head.family || (r->rtm_flags & RTM_F_CLONED)) return false;
  head.action = h->nlmsg_type == RTM_NEWROUTE ? 1 : 2;
  head.dstLen = r->rtm_dst_len;
  head.protocol = r->rtm_protocol;
  head.type = r->rtm_type;
  head.table = r->rtm_table;
  head.portId = h->nlmsg_pid;
  head.nlFlags = h->nlmsg_flags;
  head.rtmFlags = static_cast<uint16_t>(r->rtm_flags);
  RecordHop single{};
  single.weight = 1;
  bool haveSingle = false;
  std::vector<RecordHop> multi;
  int alen = static_cast<int>(RTM_PAYLOAD(h));
  for (auto* a = RTM_RTA(r); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
    size_t len = RTA_PAYLOAD(a);
    switch (a->rta_type) {
      case RTA_TABLE:
        if (len >= 4) std::memcpy(&head.table, RTA_DATA(a), 4);
        break;
      case RTA_DST:
        if (len == AddrLen(head.family)) std::memcpy(head.dst, RTA_DATA(a), len);
        break;
      case RTA_PRIORITY:
        if (len >= 4) std::memcpy(&head.priority, RTA_DATA(a), 4);
        break;
      case RTA_NH_ID:
        if (len >= 4) std::memcpy(&head.nhid, RTA_DATA(a), 4);
        break;
      case RTA_OIF:
        if (len >= 4) std::memcpy(&single.ifindex, RTA_DATA(a), 4);
        haveSingle = true;
        break;
      case RTA_GATEWAY:
      case RTA_VIA:
        ReadGateway(a, head.family, &single);
        haveSingle = true;
        break;
      case RTA_MULTIPATH: {
        auto* nh = static_cast<const rtnexthop*>(RTA_DATA(a));
        int left = static_cast<int>(len);
        while (RTNH_OK(nh, left)) {
          RecordHop hop{};
          hop.ifindex = static_cast<uint32_t>(nh->rtnh_ifindex);
          hop.flags = nh->rtnh_flags;
          hop.weight = static_cast<uint16_t>(nh->rtnh_hops + 1);
          int inner = nh->rtnh_len - static_cast<int>(sizeof(rtnexthop));
          for (auto* b = RTNH_DATA(nh); RTA_OK(b, inner); b = RTA_NEXT(b, inner))
            if (b->rta_type == RTA_GATEWAY || b->rta_type == RTA_VIA) ReadGateway(b, head.family, &hop);
          multi.push_back(hop);
          left -= RTNH_ALIGN(nh->rtnh_len);
          nh = RTNH_NEXT(nh);
        }
        break;
      }
      default:
        break;
    }
  }
  if (table != 0 && head.table != table) return false;
  if (multi.empty() && haveSingle) {
    single.flags = static_cast<uint8_t>(r->rtm_flags & 0xff);
    multi.push_back(single);
  }
  if (multi.size() > 255) multi.resize(255);
  head.hopCount = static_cast<uint8_t>(multi.size());
  head.length = static_cast<uint16_t>(sizeof head + multi.size() * sizeof(RecordHop));
  Put(out, &head, sizeof head);
  if (!multi.empty()) Put(out, multi.data(), multi.size() * sizeof(RecordHop));
  return true;
}

bool AppendNexthopRecord(std::vector<uint8_t>* out, const nlmsghdr* h) {
  if (h->nlmsg_type != RTM_NEWNEXTHOP || h->nlmsg_len < NLMSG_LENGTH(sizeof(nhmsg))) return false;
  auto* m = static_cast<const nhmsg*>(NLMSG_DATA(h));
  struct {
    uint16_t length;
    uint8_t family, protocol;
    uint32_t id, ifindex;
    uint8_t flags, gwFamily, kind, reserved;
    uint8_t gw[16];
    uint16_t groupSize, reserved2;
  } head{};
  static_assert(sizeof head == 36, "next-hop record layout");
  struct Member {
    uint32_t id;
    uint16_t weight, zero;
  };
  head.family = FamilyOf(m->nh_family);
  head.protocol = m->nh_protocol;
  head.flags = static_cast<uint8_t>(m->nh_flags & 0xff);
  std::vector<Member> members;
  int alen = static_cast<int>(h->nlmsg_len - NLMSG_LENGTH(sizeof(nhmsg)));
  auto* a = reinterpret_cast<const rtattr*>(reinterpret_cast<const char*>(m) + NLMSG_ALIGN(sizeof(nhmsg)));
  for (; RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
    size_t len = RTA_PAYLOAD(a);
    switch (a->rta_type) {
      case NHA_ID:
        if (len >= 4) std::memcpy(&head.id, RTA_DATA(a), 4);
        break;
      case NHA_OIF:
        if (len >= 4) std::memcpy(&head.ifindex, RTA_DATA(a), 4);
        break;
      case NHA_BLACKHOLE:
        head.kind = 2;
        break;
      case NHA_GATEWAY:
        if (len == 4 || len == 16) {
          head.gwFamily = len == 4 ? 4 : 6;
          std::memcpy(head.gw, RTA_DATA(a), len);
        }
        break;
      case NHA_GROUP: {
        head.kind = 1;
        auto* g = static_cast<const nexthop_grp*>(RTA_DATA(a));
        for (size_t i = 0; i < len / sizeof(nexthop_grp); i++)
          members.push_back({g[i].id, static_cast<uint16_t>(((g[i].weight_high << 8) | g[i].weight) + 1), 0});
        break;
      }
      default:
        break;
    }
  }
  head.groupSize = static_cast<uint16_t>(std::min<size_t>(members.size(), 0xffff));
  head.length = static_cast<uint16_t>(sizeof head + head.groupSize * sizeof(Member));
  Put(out, &head, sizeof head);
  if (head.groupSize) Put(out, members.data(), head.groupSize * sizeof(Member));
  return true;
}

}  // namespace routelet::route

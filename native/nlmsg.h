// Minimal rtnetlink message building shared by the route queue and the capability probe.
#pragma once
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <cstdint>
#include <cstring>

namespace routelet::nl {

// Append an attribute to the message at n (the buffer behind n must have room).
inline rtattr* AddAttr(nlmsghdr* n, uint16_t type, const void* data, size_t len) {
  auto* rta = reinterpret_cast<rtattr*>(reinterpret_cast<char*>(n) + NLMSG_ALIGN(n->nlmsg_len));
  rta->rta_type = type;
  rta->rta_len = RTA_LENGTH(len);
  if (len) std::memcpy(RTA_DATA(rta), data, len);
  n->nlmsg_len = NLMSG_ALIGN(n->nlmsg_len) + RTA_ALIGN(rta->rta_len);
  return rta;
}

inline rtattr* AddU32(nlmsghdr* n, uint16_t type, uint32_t v) { return AddAttr(n, type, &v, sizeof v); }

// Start a nested attribute; close it with EndNest.
inline rtattr* BeginNest(nlmsghdr* n, uint16_t type) { return AddAttr(n, type, nullptr, 0); }
inline void EndNest(nlmsghdr* n, rtattr* nest) {
  nest->rta_len = static_cast<unsigned short>(reinterpret_cast<char*>(n) + n->nlmsg_len - reinterpret_cast<char*>(nest));
}

// Send one request with NLM_F_ACK on fd and wait for its acknowledgement.
// Returns 0 or a positive errno (from the kernel's NLMSG_ERROR or the socket).
int Talk(int fd, nlmsghdr* req);

// Open a NETLINK_ROUTE socket (CLOEXEC, extended acks, capped acks). Returns fd or -errno.
int OpenRoute(int rcvbuf = 0);

}  // namespace routelet::nl

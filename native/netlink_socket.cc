#include "netlink_socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <thread>

#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif
#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_GET_STRICT_CHK
#define NETLINK_GET_STRICT_CHK 12
#endif
#ifndef NLM_F_ACK_TLVS
#define NLM_F_ACK_TLVS 0x200
#endif

namespace routelet::nl {

int EnterNetns(const std::string& path, std::string* syscall) {
  if (path.empty()) return 0;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *syscall = "open";
    return errno;
  }
  int rc = setns(fd, CLONE_NEWNET);
  int e = errno;
  close(fd);
  if (rc < 0) *syscall = "setns";
  return rc < 0 ? e : 0;
}

static void SetBuf(int fd, int forced, int plain, int bytes) {
  if (bytes <= 0) return;
  if (setsockopt(fd, SOL_SOCKET, forced, &bytes, sizeof bytes) < 0) setsockopt(fd, SOL_SOCKET, plain, &bytes, sizeof bytes);
}

int OpenSocket(const SocketOptions& o) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | (o.nonblocking ? SOCK_NONBLOCK : 0), NETLINK_ROUTE);
  if (fd < 0) return -errno;
  int one = 1;
  setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  if (o.strictDump) setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof one);
  SetBuf(fd, SO_RCVBUFFORCE, SO_RCVBUF, o.rcvbuf);
  SetBuf(fd, SO_SNDBUFFORCE, SO_SNDBUF, o.sndbuf);
  sockaddr_nl sa{};
  sa.nl_pid = o.portId;
  sa.nl_family = AF_NETLINK;
  sa.nl_groups = o.groups;
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  return fd;
}

int JoinGroup(int fd, unsigned group) {
  return setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof group) < 0 ? errno : 0;
}

uint32_t PortId(int fd) {
  sockaddr_nl sa{};
  socklen_t len = sizeof sa;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) < 0) return 0;
  return sa.nl_pid;
}

int FilterNotifications(int fd, uint32_t portId, int routeLength) {
  // A BPF_ABS load reads network order; nlmsg_pid (offset 12) and nlmsg_type (4) are in host
  // order. Notifications come one message per datagram.
  constexpr uint32_t kAccept = 8, kDrop = 9;
  auto jeq = [](uint32_t i, uint32_t k, uint32_t yes, uint32_t no) {
    return sock_filter BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, k, static_cast<uint8_t>(yes - i - 1), static_cast<uint8_t>(no - i - 1));
  };
  sock_filter code[] = {
      // 0–2: our own port ids (skipped without one: port id 0 is the kernel's own)
      portId ? sock_filter BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(nlmsghdr, nlmsg_pid)) : sock_filter BPF_STMT(BPF_JMP | BPF_JA, 2),
      jeq(1, ntohl(portId), kDrop, 2),
      jeq(2, ntohl(portId ^ kLanePortBit), kDrop, 3),
      // 3–7: a route's prefix length (rtm_dst_len, the octet after rtm_family)
      routeLength >= 0 ? sock_filter BPF_STMT(BPF_LD | BPF_H | BPF_ABS, offsetof(nlmsghdr, nlmsg_type))
                       : sock_filter BPF_STMT(BPF_JMP | BPF_JA, kAccept - 4),
      jeq(4, htons(RTM_NEWROUTE), 6, 5),
      jeq(5, htons(RTM_DELROUTE), 6, kAccept),
      BPF_STMT(BPF_LD | BPF_B | BPF_ABS, sizeof(nlmsghdr) + offsetof(rtmsg, rtm_dst_len)),
      jeq(7, static_cast<uint32_t>(routeLength), kAccept, kDrop),
      BPF_STMT(BPF_RET | BPF_K, 0xffffffff),  // 8: accept
      BPF_STMT(BPF_RET | BPF_K, 0),           // 9: drop
  };
  sock_fprog prog{static_cast<unsigned short>(sizeof code / sizeof code[0]), code};
  return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) < 0 ? errno : 0;
}

int OpenSocketIn(const std::string& netnsPath, const SocketOptions& o, std::string* syscall) {
  if (netnsPath.empty()) {
    int fd = OpenSocket(o);
    if (fd < 0) *syscall = "socket";
    return fd;
  }
  int result = 0;
  // setns changes only the calling thread: do it on a thread that exists for this alone.
  std::thread t([&] {
    if (int e = EnterNetns(netnsPath, syscall)) {
      result = -e;
      return;
    }
    result = OpenSocket(o);
    if (result < 0) *syscall = "socket";
  });
  t.join();
  return result;
}

Ack DecodeAck(const nlmsghdr* h) {
  Ack a{h->nlmsg_seq, 0, {}};
  if (h->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) {
    a.err = EBADMSG;
    return a;
  }
  auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
  a.err = -e->error;
  if (!(h->nlmsg_flags & NLM_F_ACK_TLVS)) return a;
  // TLVs follow the error and the echoed request (only its header with NETLINK_CAP_ACK).
  size_t off = NLMSG_LENGTH(sizeof(nlmsgerr));
  if (!(h->nlmsg_flags & NLM_F_CAPPED)) off += NLMSG_ALIGN(e->msg.nlmsg_len) - sizeof(nlmsghdr);
  const char* base = reinterpret_cast<const char*>(h);
  while (off + sizeof(nlattr) <= h->nlmsg_len) {
    auto* at = reinterpret_cast<const nlattr*>(base + off);
    if (at->nla_len < sizeof(nlattr) || off + at->nla_len > h->nlmsg_len) break;
    if ((at->nla_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG) {
      const char* s = base + off + NLA_HDRLEN;
      a.message.assign(s, strnlen(s, at->nla_len - NLA_HDRLEN));
    }
    off += NLA_ALIGN(at->nla_len);
  }
  return a;
}

BulkReader::BulkReader(int slots, int slotBytes)
    : slots_(slots),
      slotBytes_(slotBytes),
      data_(static_cast<size_t>(slots) * slotBytes),
      lens_(slots),
      mm_(slots),
      iov_(slots) {}

int BulkReader::Receive(int fd, bool wait) {
  for (int i = 0; i < slots_; i++) {
    iov_[i] = {data_.data() + static_cast<size_t>(i) * slotBytes_, static_cast<size_t>(slotBytes_)};
    std::memset(&mm_[i], 0, sizeof mm_[i]);
    mm_[i].msg_hdr.msg_iov = &iov_[i];
    mm_[i].msg_hdr.msg_iovlen = 1;
  }
  for (;;) {
    int r = recvmmsg(fd, mm_.data(), slots_, wait ? MSG_WAITFORONE : MSG_DONTWAIT, nullptr);
    if (r >= 0) {
      for (int i = 0; i < r; i++) lens_[i] = mm_[i].msg_len;
      return r;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    return -errno;
  }
}

const nlmsghdr* BulkReader::Datagram(int i, int* len) const {
  *len = static_cast<int>(std::min<unsigned>(lens_[i], static_cast<unsigned>(slotBytes_)));
  return reinterpret_cast<const nlmsghdr*>(data_.data() + static_cast<size_t>(i) * slotBytes_);
}

}  // namespace routelet::nl

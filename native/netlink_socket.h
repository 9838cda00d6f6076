// NETLINK_ROUTE sockets for the route queue, dumps and the monitor: opening them inside a
// given network namespace, reading replies in bulk, and decoding acknowledgements.
#pragma once
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <vector>

namespace routelet::nl {

// Move the calling thread into the network namespace at path (a file under
// /var/run/netns or /proc/PID/ns/net). Empty path: stay. Returns 0 or a positive errno, with
// *syscall naming the step that failed ("open" or "setns").
int EnterNetns(const std::string& path, std::string* syscall);

struct SocketOptions {
  int rcvbuf = 0;        // bytes, forced (root) when possible; 0 keeps the default
  int sndbuf = 0;
  uint32_t groups = 0;   // legacy RTMGRP_* bit mask to join
  bool strictDump = false;  // NETLINK_GET_STRICT_CHK: the kernel filters dumps itself
  bool nonblocking = false;
  uint32_t portId = 0;      // bind to this netlink port id; 0 lets the kernel choose
};

// The route queue's second socket (its lane for a few routes sent from the JavaScript thread)
// is bound at the first socket's port id with this bit flipped, so that one port id names
// both to a monitor (FilterNotifications drops the pair).
constexpr uint32_t kLanePortBit = 0x80000000u;

// Open and bind a NETLINK_ROUTE socket in the calling thread's namespace: CLOEXEC, capped and
// extended acks. Returns the fd, or -errno.
int OpenSocket(const SocketOptions& o);

// Join an rtnetlink group by number (RTNLGRP_*), for groups past the legacy 32-bit mask.
int JoinGroup(int fd, unsigned group);

// The netlink port id the kernel assigned to fd (nlmsg_pid of notifications it causes).
uint32_t PortId(int fd);

// Attach a classic BPF filter to a monitor socket: with portId, it drops notifications caused
// by the socket of that port id and by its lane socket (portId ^ kLanePortBit): our own
// changes, so a monitor only sees other writers; with routeLength >= 0, it drops route
// notifications of other prefix lengths (a benchmark watching its /32 probes among a
// full-table load, which would overflow the socket). Returns 0 or errno.
int FilterNotifications(int fd, uint32_t portId, int routeLength);

// Open a socket like OpenSocket, but inside the namespace at path, from a short-lived thread
// (the caller's own namespace is untouched). Returns the fd or -errno; *syscall names the
// step that failed.
int OpenSocketIn(const std::string& netnsPath, const SocketOptions& o, std::string* syscall);

// One NLMSG_ERROR reply: the sequence number it answers, the error (0 = ack, else a positive
// errno) and the kernel's extended-ack text, if any.
struct Ack {
  uint32_t seq;
  int err;
  std::string message;
};

// Decode an NLMSG_ERROR message.
Ack DecodeAck(const nlmsghdr* h);

// Reads many datagrams per system call (recvmmsg) into fixed slots.
class BulkReader {
 public:
  BulkReader(int slots, int slotBytes);
  // Receive up to `slots` datagrams. wait: block until at least one arrives.
  // Returns the number received (0 when none was waiting), or -errno.
  int Receive(int fd, bool wait);
  const nlmsghdr* Datagram(int i, int* len) const;

 private:
  int slots_, slotBytes_;
  std::vector<char> data_;
  std::vector<unsigned> lens_;
  std::vector<mmsghdr> mm_;
  std::vector<iovec> iov_;
};

}  // namespace routelet::nl

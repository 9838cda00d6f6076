// BFD (RFC 5880 asynchronous mode; single hop RFC 5881, multihop RFC 5883) on a native
// thread of its own, so that a busy JavaScript event loop never makes a healthy peer look
// dead. The thread owns every session, socket and timer; JavaScript talks to it through a
// command queue (each call runs on the thread and waits for its result, so sockets are made
// inside the service's network namespace) and hears state changes in batches through an
// eventfd polled with uv_poll on the event loop.
//
// Cost (issue 14): under load the thread wakes about once per kCoalesceUs, not once per
// packet: each wake-up sends every packet whose jittered window is open and reads every
// datagram queued on the shared receive sockets (recvmmsg). Transmit sockets stay one per
// session, for RFC 5881 §4's source port unique to the session, so a send is one system call
// per packet (connected when the session has a local address: no route lookup per packet).
//
// new BfdService({ netns? }, onEvents)
//   .addSession({ peer, local?, ifname?, multihop, desiredMinTxMs, requiredMinRxMs,
//                 multiplier, auth?: { type, keyId, key } }) -> local discriminator (the id)
//   .removeSession(id)            one AdminDown packet is sent first
//   .setAdminDown(id, bool)
//   .setTimers(id, { desiredMinTxMs?, requiredMinRxMs?, multiplier? })   a poll sequence
//   .sessions() -> snapshot objects;  .stats() -> service counters
//   .close(), .ref(), .unref()
//   onEvents(events[]): { type: 'state', id, peer, local, ifname, multihop, from, to, diag,
//                         remoteState, remoteDiag, failure, at }
#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <queue>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bfd_packet.h"
#include "errors.h"
#include "registry.h"

namespace routelet {
namespace {

using namespace bfd;

constexpr uint16_t kPortSingleHop = 3784;
constexpr uint16_t kPortMultihop = 4784;
constexpr uint32_t kSlowTxUs = 1'000'000;  // §6.8.3: at least 1 s while not Up
constexpr int kTtl = 255;
// The thread wakes at most about once per kCoalesceUs under load: a transmission may go up
// to this much before its time (the jitter's lower bound is raised by as much, so that every
// interval stays within RFC 5880 §6.8.7's 75–100 %), and received packets are read in a batch
// at most this long after they arrive. Detection timers are not brought forward.
constexpr int64_t kCoalesceUs = 10'000;
constexpr int kRxBatch = 32;
constexpr size_t kRxBufLen = 2048;  // BFD control packets are at most 24 + 28 bytes

int64_t MonoUs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

double WallMs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return double(ts.tv_sec) * 1000.0 + double(ts.tv_nsec / 1000) / 1000.0;
}

struct Addr {
  int family = 0;
  sockaddr_storage ss{};
  socklen_t len = 0;
};

bool ParseAddr(const std::string& text, uint16_t port, uint32_t scope, Addr* a) {
  std::memset(&a->ss, 0, sizeof a->ss);
  auto* s4 = reinterpret_cast<sockaddr_in*>(&a->ss);
  auto* s6 = reinterpret_cast<sockaddr_in6*>(&a->ss);
  if (inet_pton(AF_INET, text.c_str(), &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    s4->sin_port = htons(port);
    a->family = AF_INET;
    a->len = sizeof *s4;
    return true;
  }
  std::memset(&a->ss, 0, sizeof a->ss);
  if (inet_pton(AF_INET6, text.c_str(), &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(port);
    if (IN6_IS_ADDR_LINKLOCAL(&s6->sin6_addr)) s6->sin6_scope_id = scope;
    a->family = AF_INET6;
    a->len = sizeof *s6;
    return true;
  }
  return false;
}

// Same IP address (ports ignored)
bool SameIp(const sockaddr_storage& a, const sockaddr_storage& b) {
  if (a.ss_family != b.ss_family) return false;
  if (a.ss_family == AF_INET)
    return reinterpret_cast<const sockaddr_in&>(a).sin_addr.s_addr == reinterpret_cast<const sockaddr_in&>(b).sin_addr.s_addr;
  return std::memcmp(&reinterpret_cast<const sockaddr_in6&>(a).sin6_addr, &reinterpret_cast<const sockaddr_in6&>(b).sin6_addr,
                     sizeof(in6_addr)) == 0;
}

struct LastDown {
  double at = 0;
  uint8_t from = 0;
  uint8_t diag = 0;
  uint8_t remote_state = 0;
  uint8_t remote_diag = 0;
  bool failure = false;
};

struct Session {
  uint32_t local_disc = 0;
  uint32_t remote_disc = 0;
  std::string peer_text, local_text, ifname;
  Addr peer;
  Addr local;
  bool has_local = false;
  int ifindex = 0;
  bool multihop = false;
  int fd = -1;
  bool connected = false;  // fd is connected to the peer: send() without a route lookup

  uint8_t state = kDown;
  uint8_t remote_state = kDown;
  uint8_t diag = kDiagNone;
  uint8_t remote_diag = kDiagNone;
  bool admin_down = false;

  // configured
  uint32_t cfg_tx_us = 0, cfg_rx_us = 0;
  uint8_t mult = 3;
  // advertised in our packets now
  uint32_t adv_tx_us = kSlowTxUs, adv_rx_us = 0;
  // in use for the transmit interval and the detection time (held until a poll sequence ends)
  uint32_t use_tx_us = kSlowTxUs, use_rx_us = 0;
  // learnt from the peer
  uint32_t remote_min_rx_us = 1, remote_min_tx_us = 0;
  uint8_t remote_mult = 0;
  bool remote_demand = false, remote_cpi = false;

  bool poll_active = false;
  bool send_final = false;
  int64_t next_tx_us = 0;
  int64_t detect_deadline_us = 0;  // 0: not armed
  int64_t detect_queued_at = 0;    // the live detection heap entry's time (0: none)
  int64_t last_rx_us = 0;

  AuthConfig auth;
  uint32_t xmit_seq = 0;
  bool rcv_seq_known = false;
  uint32_t rcv_seq = 0;

  double up_since = 0;
  bool have_last_down = false;
  LastDown last_down;
  uint64_t tx_packets = 0, rx_packets = 0, rx_auth_failures = 0, tx_errors = 0, polls = 0;
  int last_tx_errno = 0;
};

// Local discriminator → session: open addressing with linear probing in one flat array,
// since every packet, sent or received, looks its session up (a node-based hash map costs
// a cache miss or two more per lookup). Discriminators are nonzero, so 0 marks a free slot.
class DiscIndex {
 public:
  Session* Find(uint32_t key) const {
    if (slots_.empty()) return nullptr;
    for (size_t i = Home(key);; i = (i + 1) & mask_) {
      const Slot& e = slots_[i];
      if (e.key == key) return e.session;
      if (!e.key) return nullptr;
    }
  }

  void Insert(uint32_t key, Session* s) {
    if ((count_ + 1) * 2 > slots_.size()) Grow();
    Put(key, s);
    count_++;
  }

  void Erase(uint32_t key) {
    if (slots_.empty()) return;
    size_t i = Home(key);
    while (slots_[i].key != key) {
      if (!slots_[i].key) return;
      i = (i + 1) & mask_;
    }
    // close the gap: move back each later entry of the run that may not sit past it
    for (size_t j = (i + 1) & mask_; slots_[j].key; j = (j + 1) & mask_) {
      size_t h = Home(slots_[j].key);
      bool stays = i <= j ? (i < h && h <= j) : (i < h || h <= j);
      if (!stays) {
        slots_[i] = slots_[j];
        i = j;
      }
    }
    slots_[i] = Slot{};
    count_--;
  }

  void Clear() {
    slots_.clear();
    count_ = 0;
    mask_ = 0;
    bits_ = 0;
  }

 private:
  struct Slot {
    uint32_t key = 0;
    Session* session = nullptr;
  };

  size_t Home(uint32_t key) const { return size_t(uint32_t(key * 0x9E3779B1u) >> (32 - bits_)) & mask_; }

  void Put(uint32_t key, Session* s) {
    size_t i = Home(key);
    while (slots_[i].key) i = (i + 1) & mask_;
    slots_[i] = Slot{key, s};
  }

  void Grow() {
    std::vector<Slot> old;
    old.swap(slots_);
    bits_ = bits_ ? bits_ + 1 : 6;
    slots_.assign(size_t(1) << bits_, Slot{});
    mask_ = slots_.size() - 1;
    for (const Slot& e : old)
      if (e.key) Put(e.key, e.session);
  }

  std::vector<Slot> slots_;
  size_t count_ = 0, mask_ = 0;
  int bits_ = 0;
};

struct Event {
  uint32_t id;
  std::string peer, local, ifname;
  bool multihop;
  uint8_t from, to, diag, remote_state, remote_diag;
  bool failure;
  double at;
};

struct Stats {
  uint64_t rx_packets = 0, rx_bad_ttl = 0, rx_malformed = 0, rx_no_session = 0, rx_auth = 0;
};

class Engine {
 public:
  Engine() : rng_(std::random_device{}()) {}

  ~Engine() { Stop(); }

  // Starts the thread; it enters `netns` first. 0 or a positive errno with *syscall set.
  int Start(const std::string& netns, std::string* syscall) {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) return *syscall = "epoll_create1", errno;
    ep_cmd_ = epoll_create1(EPOLL_CLOEXEC);
    if (ep_cmd_ < 0) return *syscall = "epoll_create1", errno;
    wake_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    notify_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_ < 0 || notify_ < 0) return *syscall = "eventfd", errno;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = wake_;
    epoll_ctl(ep_, EPOLL_CTL_ADD, wake_, &ev);
    epoll_ctl(ep_cmd_, EPOLL_CTL_ADD, wake_, &ev);
    std::mutex m;
    std::condition_variable cv;
    bool ready = false;
    int err = 0;
    std::string sc;
    thread_ = std::thread([&, netns] {
      int e = 0;
      if (!netns.empty()) {
        int fd = open(netns.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
          e = errno;
          sc = "open";
        } else if (setns(fd, CLONE_NEWNET) < 0) {
          e = errno;
          sc = "setns";
        }
        if (fd >= 0) close(fd);
      }
      {
        std::lock_guard<std::mutex> g(m);
        err = e;
        ready = true;
      }
      cv.notify_one();
      if (e) return;
      Loop();
    });
    std::unique_lock<std::mutex> g(m);
    cv.wait(g, [&] { return ready; });
    if (err) {
      thread_.join();
      *syscall = sc;
      return err;
    }
    running_ = true;
    return 0;
  }

  void Stop() {
    if (running_) {
      Call([this] {
        for (auto& [id, s] : sessions_) SendAdminDownAndClose(s.get());
        sessions_.clear();
        index_.Clear();
        stop_ = true;
      });
      thread_.join();
      running_ = false;
    }
    for (auto& [k, fd] : rx_) close(fd);
    rx_.clear();
    if (ep_ >= 0) close(ep_);
    if (ep_cmd_ >= 0) close(ep_cmd_);
    if (wake_ >= 0) close(wake_);
    if (notify_ >= 0) close(notify_);
    ep_ = ep_cmd_ = wake_ = notify_ = -1;
  }

  bool running() const { return running_; }
  int notify_fd() const { return notify_; }

  // Run fn on the thread and wait for it.
  void Call(std::function<void()> fn) {
    std::mutex m;
    std::condition_variable cv;
    bool done = false;
    {
      std::lock_guard<std::mutex> g(cmd_mu_);
      cmds_.push_back([&] {
        fn();
        std::lock_guard<std::mutex> g2(m);
        done = true;
        cv.notify_one();
      });
    }
    uint64_t one = 1;
    (void)!write(wake_, &one, sizeof one);
    std::unique_lock<std::mutex> g(m);
    cv.wait(g, [&] { return done; });
  }

  std::vector<Event> TakeEvents() {
    uint64_t n;
    (void)!read(notify_, &n, sizeof n);
    std::lock_guard<std::mutex> g(ev_mu_);
    std::vector<Event> out;
    out.swap(events_);
    return out;
  }

  // --- everything below runs on the thread (through Call or the loop)

  struct AddRequest {
    std::string peer, local, ifname;
    bool multihop = false;
    uint32_t tx_us = 300000, rx_us = 300000;
    uint8_t mult = 3;
    AuthConfig auth;
  };

  // returns the local discriminator, or 0 with err/syscall/detail set
  uint32_t Add(const AddRequest& r, int* err, std::string* syscall, std::string* detail) {
    auto s = std::make_unique<Session>();
    s->peer_text = r.peer;
    s->local_text = r.local;
    s->ifname = r.ifname;
    s->multihop = r.multihop;
    if (!r.ifname.empty()) {
      s->ifindex = int(if_nametoindex(r.ifname.c_str()));
      if (!s->ifindex) return *err = errno, *syscall = "if_nametoindex", *detail = r.ifname, 0;
    }
    uint16_t port = r.multihop ? kPortMultihop : kPortSingleHop;
    if (!ParseAddr(r.peer, port, s->ifindex, &s->peer)) return *err = EINVAL, *syscall = "inet_pton", *detail = "peer " + r.peer, 0;
    if (!r.local.empty()) {
      if (!ParseAddr(r.local, 0, s->ifindex, &s->local) || s->local.family != s->peer.family)
        return *err = EINVAL, *syscall = "inet_pton", *detail = "local " + r.local, 0;
      s->has_local = true;
    }
    for (auto& [id, o] : sessions_) {
      if (o->multihop == s->multihop && SameIp(o->peer.ss, s->peer.ss) && o->ifindex == s->ifindex &&
          o->local_text == s->local_text)
        return *err = EEXIST, *syscall = "bfd", *detail = "a session to " + r.peer + " exists", 0;
    }
    if (int e = OpenRx(s->peer.family, s->multihop)) return *err = e, *syscall = "bind", *detail = "BFD receive port " + std::to_string(port), 0;
    int e = OpenTx(s.get(), syscall);
    if (e) return *err = e, *detail = "BFD transmit socket to " + r.peer, 0;
    s->cfg_tx_us = r.tx_us;
    s->cfg_rx_us = r.rx_us;
    s->mult = r.mult;
    s->auth = r.auth;
    s->xmit_seq = uint32_t(rng_());
    s->adv_tx_us = s->use_tx_us = std::max(r.tx_us, kSlowTxUs);
    s->adv_rx_us = s->use_rx_us = r.rx_us;
    uint32_t d;
    do d = uint32_t(rng_()); while (d == 0 || sessions_.count(d));
    s->local_disc = d;
    Session* raw = s.get();
    sessions_[d] = std::move(s);
    index_.Insert(d, raw);
    SetTx(raw, MonoUs());  // first packet at once
    return d;
  }

  bool Remove(uint32_t id) {
    auto it = sessions_.find(id);
    if (it == sessions_.end()) return false;
    SendAdminDownAndClose(it->second.get());
    index_.Erase(id);
    sessions_.erase(it);
    return true;
  }

  bool SetAdminDown(uint32_t id, bool down) {
    Session* s = Find(id);
    if (!s) return false;
    if (down == s->admin_down) return true;
    s->admin_down = down;
    if (down) {
      s->poll_active = false;
      ChangeState(s, kAdminDown, kDiagAdminDown);
    } else {
      ChangeState(s, kDown, kDiagNone);
      s->remote_disc = 0;
    }
    SetTx(s, MonoUs());
    return true;
  }

  bool SetTimers(uint32_t id, int64_t tx_us, int64_t rx_us, int mult) {
    Session* s = Find(id);
    if (!s) return false;
    if (tx_us > 0) s->cfg_tx_us = uint32_t(tx_us);
    if (rx_us > 0) s->cfg_rx_us = uint32_t(rx_us);
    bool mult_changed = mult > 0 && mult != s->mult;
    if (mult > 0) s->mult = uint8_t(mult);
    UpdateAdvertised(s, mult_changed);
    return true;
  }

  Session* Find(uint32_t id) { return index_.Find(id); }

  const std::map<uint32_t, std::unique_ptr<Session>>& sessions() const { return sessions_; }
  const Stats& stats() const { return stats_; }

  static uint32_t TxIntervalUs(const Session* s) { return std::max(s->use_tx_us, s->remote_min_rx_us); }
  static uint32_t RxIntervalUs(const Session* s) { return std::max(s->use_rx_us, s->remote_min_tx_us); }
  static uint64_t DetectionUs(const Session* s) { return uint64_t(s->remote_mult) * RxIntervalUs(s); }

 private:
  // One wake-up serves every timer and packet that is due: after the receive sockets were
  // read, they are left alone (the thread waits on the command eventfd only) for kCoalesceUs,
  // so that under load the thread wakes about once per kCoalesceUs whatever the packet rate,
  // and at once for a lone session's packet.
  void Loop() {
    epoll_event evs[16];
    for (int i = 0; i < kRxBatch; i++) {
      rx_iov_[i] = iovec{rx_bufs_[i], kRxBufLen};
      msghdr& mh = rx_msgs_[i].msg_hdr;
      mh.msg_name = &rx_from_[i];
      mh.msg_iov = &rx_iov_[i];
      mh.msg_iovlen = 1;
      mh.msg_control = rx_control_[i];
    }
    bool pwait2 = true;
    while (!stop_) {
      int64_t now = MonoUs();
      int64_t next = now + 1'000'000;
      PruneTimers();
      if (!tx_timers_.empty()) next = std::min(next, tx_timers_.top().due);
      if (!detect_timers_.empty()) next = std::min(next, detect_timers_.top().at);
      bool rx_open = now >= rx_quiet_until_;
      if (!rx_open) next = std::min(next, rx_quiet_until_);
      int64_t wait_us = std::max<int64_t>(next - now, 0);
      int ep = rx_open ? ep_ : ep_cmd_;
      int n = -1;
      if (pwait2) {
        timespec ts{time_t(wait_us / 1'000'000), long(wait_us % 1'000'000) * 1000};
        n = epoll_pwait2(ep, evs, 16, &ts, nullptr);
        if (n < 0 && errno == ENOSYS) pwait2 = false;
      }
      if (!pwait2) n = epoll_wait(ep, evs, 16, int((wait_us + 999) / 1000));
      bool rx = false;
      for (int i = 0; i < n; i++) {
        int fd = evs[i].data.fd;
        if (fd == wake_) {
          uint64_t v;
          (void)!read(wake_, &v, sizeof v);
          RunCommands();
        } else {
          rx = true;
        }
      }
      now = MonoUs();
      // the quiet time over: read what came meanwhile; nothing came, wait for packets again
      if (rx || (rx_quiet_until_ && now >= rx_quiet_until_)) {
        int got = ReceiveAll();
        rx_quiet_until_ = rx || got ? now + kCoalesceUs : 0;
      }
      Timers(MonoUs());
      Flush();
    }
    RunCommands();
    Flush();
  }

  // the number of datagrams read
  int ReceiveAll() {
    int n = 0;
    for (auto& [key, fd] : rx_) n += Receive(fd, (key & 1) != 0);
    return n;
  }

  void RunCommands() {
    std::deque<std::function<void()>> q;
    {
      std::lock_guard<std::mutex> g(cmd_mu_);
      q.swap(cmds_);
    }
    for (auto& f : q) f();
  }

  void Flush() {
    if (pending_.empty()) return;
    {
      std::lock_guard<std::mutex> g(ev_mu_);
      for (auto& e : pending_) events_.push_back(std::move(e));
    }
    pending_.clear();
    uint64_t one = 1;
    (void)!write(notify_, &one, sizeof one);
  }

  int OpenRx(int family, bool multihop) {
    int key = (family == AF_INET6 ? 2 : 0) | (multihop ? 1 : 0);
    if (rx_.count(key)) return 0;
    int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    // read once per kCoalesceUs: room for the packets of thousands of sessions meanwhile
    int rcvbuf = 1 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    Addr a;
    uint16_t port = multihop ? kPortMultihop : kPortSingleHop;
    if (family == AF_INET) {
      setsockopt(fd, IPPROTO_IP, IP_RECVTTL, &one, sizeof one);
      setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
      ParseAddr("0.0.0.0", port, 0, &a);
    } else {
      setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
      setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &one, sizeof one);
      setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);
      ParseAddr("::", port, 0, &a);
    }
    if (bind(fd, reinterpret_cast<sockaddr*>(&a.ss), a.len) < 0) {
      int e = errno;
      close(fd);
      return e;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
    rx_[key] = fd;
    return 0;
  }

  // The session's own socket: TTL/hop limit 255, CS6, bound to the local address (if any)
  // and a source port in 49152–65535 (RFC 5881 §4), unique to the session.
  int OpenTx(Session* s, std::string* syscall) {
    int fam = s->peer.family;
    int fd = socket(fam, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return *syscall = "socket", errno;
    int ttl = kTtl, tos = 0xc0;
    if (fam == AF_INET) {
      setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl);
      setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof tos);
      // DF: a control packet is never fragmented, and the kernel then skips the shared IP ID
      // generator (a hash and an atomic per packet)
      int pmtu = IP_PMTUDISC_DO;
      setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof pmtu);
    } else {
      setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof ttl);
      setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof tos);
      int one = 1;
      setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    }
    if (!s->ifname.empty() && setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, s->ifname.c_str(), socklen_t(s->ifname.size())) < 0) {
      int e = errno;
      close(fd);
      return *syscall = "setsockopt", e;
    }
    Addr a;
    if (s->has_local) a = s->local;
    else ParseAddr(fam == AF_INET ? "0.0.0.0" : "::", 0, 0, &a);
    std::uniform_int_distribution<int> port(49152, 65535);
    int e = EADDRINUSE;
    for (int tries = 0; tries < 256 && e == EADDRINUSE; tries++) {
      uint16_t p = htons(uint16_t(port(rng_)));
      if (fam == AF_INET) reinterpret_cast<sockaddr_in*>(&a.ss)->sin_port = p;
      else reinterpret_cast<sockaddr_in6*>(&a.ss)->sin6_port = p;
      e = bind(fd, reinterpret_cast<sockaddr*>(&a.ss), a.len) < 0 ? errno : 0;
    }
    if (e) {
      close(fd);
      return *syscall = "bind", e;
    }
    // Bound to a local address, the socket is also connected to the peer, so that the kernel
    // keeps the route (a send is then no route lookup and no check of the source address);
    // it is looked up again when the routing changes. Not when unbound: connect would pin
    // the source address the routing picks now. If it fails (no route yet), sendto it is.
    if (s->has_local && connect(fd, reinterpret_cast<sockaddr*>(&s->peer.ss), s->peer.len) == 0) s->connected = true;
    s->fd = fd;
    return 0;
  }

  void SendAdminDownAndClose(Session* s) {
    if (s->state != kAdminDown) {
      s->state = kAdminDown;
      s->diag = kDiagAdminDown;
      s->poll_active = false;
      Send(s, false);
    }
    if (s->fd >= 0) close(s->fd);
    s->fd = -1;
  }

  // §6.8.3: a change of the advertised intervals starts a poll sequence; an increased
  // transmit interval or a reduced receive interval takes effect only when it ends.
  void UpdateAdvertised(Session* s, bool force_poll) {
    uint32_t tx = s->state == kUp ? s->cfg_tx_us : std::max(s->cfg_tx_us, kSlowTxUs);
    uint32_t rx = s->cfg_rx_us;
    if (tx == s->adv_tx_us && rx == s->adv_rx_us && !force_poll) return;
    bool up = s->state == kUp;
    s->adv_tx_us = tx;
    s->adv_rx_us = rx;
    if (!up || tx < s->use_tx_us) s->use_tx_us = tx;
    if (!up || rx > s->use_rx_us) s->use_rx_us = rx;
    if (up || s->state == kInit) {
      if (!s->poll_active) s->polls++;
      s->poll_active = true;
      SetTx(s, MonoUs());
    }
    RearmDetect(s);
  }

  void RearmDetect(Session* s) {
    if (s->last_rx_us && s->remote_mult) SetDetect(s, s->last_rx_us + int64_t(DetectionUs(s)));
  }

  void ChangeState(Session* s, uint8_t to, uint8_t diag) {
    uint8_t from = s->state;
    if (from == to) return;
    s->state = to;
    s->diag = diag;
    Event e{s->local_disc, s->peer_text, s->local_text, s->ifname, s->multihop, from, to, diag, s->remote_state, s->remote_diag, false, WallMs()};
    if (to == kUp) s->up_since = e.at;
    if (from == kUp) {
      // RFC 5882 §3.2: a neighbor's administrative shutdown, or our own, is not a failure
      e.failure = to == kDown && s->remote_state != kAdminDown;
      s->up_since = 0;
      s->have_last_down = true;
      s->last_down = LastDown{e.at, from, diag, s->remote_state, s->remote_diag, e.failure};
    } else if (to == kDown && diag == kDiagDetectExpired) {
      s->have_last_down = true;
      s->last_down = LastDown{e.at, from, diag, s->remote_state, s->remote_diag, false};
    }
    pending_.push_back(std::move(e));
    // slow start (§6.8.3): at least 1 s while not Up, the configured interval once Up
    UpdateAdvertised(s, false);
    if (to != kUp && to != kInit) s->poll_active = false;
  }

  // Timers: two min-heaps of (time, session). A transmit entry that no longer matches the
  // session's next_tx_us (rescheduled, or the session removed) is dropped when it surfaces.
  // A detection entry is pushed only when the deadline comes earlier than the one queued: the
  // deadline moves later with every packet received, and the queued entry, when it surfaces,
  // is pushed again for the deadline of that time (one entry per detection time, not per packet).
  struct TxTimer {
    int64_t due;       // the latest time to send
    int64_t earliest;  // the earliest: a wake-up within [earliest, due] sends it
    uint32_t disc;
    bool operator>(const TxTimer& o) const { return due > o.due; }
  };
  struct DetectTimer {
    int64_t at;
    uint32_t disc;
    bool operator>(const DetectTimer& o) const { return at > o.at; }
  };

  void SetTx(Session* s, int64_t at, int64_t slack = 0) {
    s->next_tx_us = at;
    if (at) tx_timers_.push(TxTimer{at, at - slack, s->local_disc});
  }

  void SetDetect(Session* s, int64_t at) {
    s->detect_deadline_us = at;
    if (at && (!s->detect_queued_at || at < s->detect_queued_at)) QueueDetect(s);
  }

  void QueueDetect(Session* s) {
    s->detect_queued_at = s->detect_deadline_us;
    detect_timers_.push(DetectTimer{s->detect_deadline_us, s->local_disc});
  }

  // Before the thread sleeps: the heaps' tops are live, and the detection top is the
  // session's deadline now (a deadline that moved is queued again here, not woken for).
  void PruneTimers() {
    while (!tx_timers_.empty()) {
      const TxTimer& t = tx_timers_.top();
      Session* s = Find(t.disc);
      if (s && s->next_tx_us == t.due) break;
      tx_timers_.pop();
    }
    while (!detect_timers_.empty()) {
      DetectTimer t = detect_timers_.top();
      Session* s = Find(t.disc);
      if (s && s->detect_queued_at == t.at && s->detect_deadline_us == t.at) break;
      detect_timers_.pop();
      if (!s || s->detect_queued_at != t.at) continue;
      s->detect_queued_at = 0;
      if (s->detect_deadline_us) QueueDetect(s);
    }
  }

  void Timers(int64_t now) {
    // every transmission whose window has opened, if its latest time is within kCoalesceUs
    deferred_.clear();
    while (!tx_timers_.empty() && tx_timers_.top().due <= now + kCoalesceUs) {
      TxTimer t = tx_timers_.top();
      tx_timers_.pop();
      Session* s = Find(t.disc);
      if (!s || s->next_tx_us != t.due) continue;
      if (t.earliest > now) {
        deferred_.push_back(t);
        continue;
      }
      Send(s, false);
      ScheduleTx(s, now);
    }
    for (const TxTimer& t : deferred_) tx_timers_.push(t);
    bool drained = false;
    while (!detect_timers_.empty() && detect_timers_.top().at <= now) {
      DetectTimer t = detect_timers_.top();
      detect_timers_.pop();
      Session* s = Find(t.disc);
      if (!s || s->detect_queued_at != t.at) continue;
      s->detect_queued_at = 0;
      if (!s->detect_deadline_us) continue;
      if (s->detect_deadline_us > now) {
        QueueDetect(s);  // packets came since it was queued
        continue;
      }
      // packets that arrived while the receive sockets were left alone count first
      if (!drained) {
        drained = true;
        ReceiveAll();
        if (s->detect_deadline_us > now) {
          if (!s->detect_queued_at) QueueDetect(s);
          continue;
        }
      }
      s->detect_deadline_us = 0;
      s->remote_disc = 0;
      s->remote_state = kDown;
      s->remote_min_rx_us = 1;
      s->rcv_seq_known = false;
      if (s->state == kInit || s->state == kUp) ChangeState(s, kDown, kDiagDetectExpired);
    }
  }

  // §6.8.7: the interval less 0–25 % at random (10–25 % when the multiplier is 1)
  void ScheduleTx(Session* s, int64_t now) {
    if (s->remote_min_rx_us == 0) {
      SetTx(s, 0);  // the peer asked for no packets
      return;
    }
    // the send may come up to `slack` before `due`; the interval stays within the bounds
    double interval = TxIntervalUs(s);
    double lo = 0.75 * interval, hi = (s->mult == 1 ? 0.90 : 1.0) * interval;
    double slack = std::min(double(kCoalesceUs), (hi - lo) / 2);
    std::uniform_real_distribution<double> j(lo + slack, hi);
    SetTx(s, now + int64_t(j(rng_)), int64_t(slack));
  }

  void Send(Session* s, bool final) {
    if (s->fd < 0) return;
    Packet p;
    p.diag = s->diag;
    p.state = s->state;
    p.final = final;
    p.poll = !final && s->poll_active;
    p.detect_mult = s->mult;
    p.my_disc = s->local_disc;
    p.your_disc = s->remote_disc;
    p.desired_min_tx_us = s->adv_tx_us;
    p.required_min_rx_us = s->adv_rx_us;
    if (s->auth.type != kAuthNone && (Meticulous(s->auth.type) || s->auth.type != kAuthSimple)) s->xmit_seq++;
    std::vector<uint8_t> b = Encode(p, s->auth, s->xmit_seq);
    ssize_t n;
    if (s->connected) {
      n = send(s->fd, b.data(), b.size(), 0);
      // an ICMP error from the peer (say port unreachable while its BFD is not running) is
      // reported by a connected socket's next send instead of sending; unconnected, it was
      // ignored: it is now too, and the packet sent
      if (n < 0 && (errno == ECONNREFUSED || errno == EHOSTUNREACH || errno == ENETUNREACH || errno == EHOSTDOWN))
        n = send(s->fd, b.data(), b.size(), 0);
    } else {
      n = sendto(s->fd, b.data(), b.size(), 0, reinterpret_cast<sockaddr*>(&s->peer.ss), s->peer.len);
    }
    if (n < 0) {
      s->tx_errors++;
      s->last_tx_errno = errno;
    } else {
      s->tx_packets++;
    }
  }

  // Everything queued on a receive socket, kRxBatch datagrams per system call (at most
  // 256 batches, so that one busy socket cannot hold up the timers).
  int Receive(int fd, bool multihop) {
    int total = 0;
    for (int round = 0; round < 256; round++) {
      for (int i = 0; i < kRxBatch; i++) {
        rx_msgs_[i].msg_hdr.msg_namelen = sizeof rx_from_[i];
        rx_msgs_[i].msg_hdr.msg_controllen = sizeof rx_control_[i];
        rx_msgs_[i].msg_hdr.msg_flags = 0;
      }
      int got = recvmmsg(fd, rx_msgs_, kRxBatch, MSG_DONTWAIT, nullptr);
      if (got <= 0) break;
      total += got;
      for (int i = 0; i < got; i++) Datagram(rx_msgs_[i], rx_bufs_[i], rx_from_[i], multihop);
      if (got < kRxBatch) break;
    }
    return total;
  }

  void Datagram(mmsghdr& m, const uint8_t* data, const sockaddr_storage& from, bool multihop) {
    msghdr& mh = m.msg_hdr;
    size_t n = m.msg_len;
    stats_.rx_packets++;
    int ttl = -1, ifindex = 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) {
        std::memcpy(&ttl, CMSG_DATA(c), sizeof ttl);
      } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
        in_pktinfo pi;
        std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
        ifindex = pi.ipi_ifindex;
      } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT) {
        std::memcpy(&ttl, CMSG_DATA(c), sizeof ttl);
      } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
        in6_pktinfo pi;
        std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
        ifindex = int(pi.ipi6_ifindex);
      }
    }
    // RFC 5881 §5: single hop packets must arrive with TTL / hop limit 255
    if (!multihop && ttl != kTtl) {
      stats_.rx_bad_ttl++;
      return;
    }
    Packet p;
    // a datagram longer than the slot is truncated (MSG_TRUNC): longer than any BFD packet
    if ((mh.msg_flags & MSG_TRUNC) || !Decode(data, n, &p).empty()) {
      stats_.rx_malformed++;
      return;
    }
    Session* s = Lookup(p, from, multihop, ifindex);
    if (!s) {
      stats_.rx_no_session++;
      return;
    }
    Handle(s, p, data, n);
  }

  Session* Lookup(const Packet& p, const sockaddr_storage& from, bool multihop, int ifindex) {
    if (p.your_disc) {
      Session* s = Find(p.your_disc);
      if (!s || s->multihop != multihop || !SameIp(s->peer.ss, from)) return nullptr;
      return s;
    }
    for (auto& [id, s] : sessions_) {
      if (s->multihop != multihop || !SameIp(s->peer.ss, from)) continue;
      if (s->ifindex && ifindex && s->ifindex != ifindex) continue;
      return s.get();
    }
    return nullptr;
  }

  bool SeqAcceptable(Session* s, uint32_t seq) {
    if (!s->rcv_seq_known) return true;
    uint32_t window = 3u * std::max<uint32_t>(s->remote_mult ? s->remote_mult : s->mult, 1);
    uint32_t d = seq - s->rcv_seq;  // modulo 2^32
    return Meticulous(s->auth.type) ? (d >= 1 && d <= window) : d <= window;
  }

  // RFC 5880 §6.8.6, after the session is selected
  void Handle(Session* s, const Packet& p, const uint8_t* data, size_t len) {
    if (!VerifyAuth(data, len, p, s->auth).empty()) {
      s->rx_auth_failures++;
      stats_.rx_auth++;
      return;
    }
    if (s->auth.type != kAuthNone && s->auth.type != kAuthSimple) {
      if (!SeqAcceptable(s, p.auth_seq)) {
        s->rx_auth_failures++;
        stats_.rx_auth++;
        return;
      }
      s->rcv_seq = p.auth_seq;
      s->rcv_seq_known = true;
    }
    int64_t now = MonoUs();
    s->rx_packets++;
    s->remote_disc = p.my_disc;
    s->remote_state = p.state;
    s->remote_diag = p.diag;
    s->remote_demand = p.demand;
    s->remote_cpi = p.cpi;
    s->remote_mult = p.detect_mult;
    uint32_t old_remote_rx = s->remote_min_rx_us;
    s->remote_min_tx_us = p.desired_min_tx_us;
    s->remote_min_rx_us = p.required_min_rx_us;
    if (p.final && s->poll_active) {
      s->poll_active = false;
      s->use_tx_us = s->adv_tx_us;
      s->use_rx_us = s->adv_rx_us;
    }
    s->last_rx_us = now;
    RearmDetect(s);
    // the peer now wants packets faster (or at all): do not wait out the old interval
    if (s->remote_min_rx_us != old_remote_rx && s->remote_min_rx_us) {
      int64_t soonest = now + int64_t(TxIntervalUs(s));
      if (!s->next_tx_us || s->next_tx_us > soonest) ScheduleTx(s, now);
    }
    if (s->state == kAdminDown) return;
    if (p.state == kAdminDown) {
      if (s->state != kDown) ChangeState(s, kDown, kDiagNeighborDown);
    } else if (s->state == kDown) {
      if (p.state == kDown) ChangeState(s, kInit, kDiagNone);
      else if (p.state == kInit) ChangeState(s, kUp, kDiagNone);
    } else if (s->state == kInit) {
      if (p.state == kInit || p.state == kUp) ChangeState(s, kUp, kDiagNone);
    } else if (p.state == kDown) {
      ChangeState(s, kDown, kDiagNeighborDown);
    }
    // a poll is answered at once with a final (§6.8.7)
    if (p.poll) Send(s, true);
  }

  std::thread thread_;
  bool running_ = false;
  bool stop_ = false;
  int ep_ = -1, ep_cmd_ = -1, wake_ = -1, notify_ = -1;
  std::mutex cmd_mu_;
  std::deque<std::function<void()>> cmds_;
  std::mutex ev_mu_;
  std::vector<Event> events_;
  std::vector<Event> pending_;
  std::map<uint32_t, std::unique_ptr<Session>> sessions_;  // owns them, in discriminator order
  DiscIndex index_;                                        // the lookups of the packet path
  std::priority_queue<TxTimer, std::vector<TxTimer>, std::greater<TxTimer>> tx_timers_;
  std::priority_queue<DetectTimer, std::vector<DetectTimer>, std::greater<DetectTimer>> detect_timers_;
  std::vector<TxTimer> deferred_;
  int64_t rx_quiet_until_ = 0;
  // recvmmsg slots
  mmsghdr rx_msgs_[kRxBatch]{};
  iovec rx_iov_[kRxBatch]{};
  sockaddr_storage rx_from_[kRxBatch]{};
  alignas(cmsghdr) char rx_control_[kRxBatch][128]{};
  uint8_t rx_bufs_[kRxBatch][kRxBufLen]{};
  std::map<int, int> rx_;
  std::mt19937_64 rng_;
  Stats stats_;
};

double Ms(uint64_t us) { return double(us) / 1000.0; }

Napi::Object SessionObject(Napi::Env env, const Session* s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("id", s->local_disc);
  o.Set("peer", s->peer_text);
  o.Set("local", s->local_text.empty() ? env.Null() : Napi::String::New(env, s->local_text));
  o.Set("ifname", s->ifname.empty() ? env.Null() : Napi::String::New(env, s->ifname));
  o.Set("multihop", s->multihop);
  o.Set("family", s->peer.family == AF_INET ? 4 : 6);
  o.Set("state", StateName(s->state));
  o.Set("remoteState", StateName(s->remote_state));
  o.Set("diag", s->diag);
  o.Set("remoteDiag", s->remote_diag);
  o.Set("adminDown", s->admin_down);
  o.Set("localDiscriminator", s->local_disc);
  o.Set("remoteDiscriminator", s->remote_disc);
  o.Set("desiredMinTxMs", Ms(s->cfg_tx_us));
  o.Set("requiredMinRxMs", Ms(s->cfg_rx_us));
  o.Set("multiplier", s->mult);
  o.Set("advertisedMinTxMs", Ms(s->adv_tx_us));
  o.Set("remoteDesiredMinTxMs", Ms(s->remote_min_tx_us));
  o.Set("remoteRequiredMinRxMs", Ms(s->remote_min_rx_us));
  o.Set("remoteMultiplier", s->remote_mult);
  o.Set("remoteCpi", s->remote_cpi);
  o.Set("txIntervalMs", Ms(Engine::TxIntervalUs(s)));
  o.Set("rxIntervalMs", Ms(Engine::RxIntervalUs(s)));
  o.Set("detectionTimeMs", Ms(Engine::DetectionUs(s)));
  o.Set("pollActive", s->poll_active);
  o.Set("polls", double(s->polls));
  o.Set("auth", AuthTypeName(s->auth.type));
  o.Set("upSince", s->up_since ? Napi::Number::New(env, s->up_since) : env.Null());
  if (s->have_last_down) {
    Napi::Object d = Napi::Object::New(env);
    d.Set("at", s->last_down.at);
    d.Set("from", StateName(s->last_down.from));
    d.Set("diag", s->last_down.diag);
    d.Set("remoteState", StateName(s->last_down.remote_state));
    d.Set("remoteDiag", s->last_down.remote_diag);
    d.Set("failure", s->last_down.failure);
    o.Set("lastDown", d);
  } else {
    o.Set("lastDown", env.Null());
  }
  o.Set("txPackets", double(s->tx_packets));
  o.Set("rxPackets", double(s->rx_packets));
  o.Set("rxAuthFailures", double(s->rx_auth_failures));
  o.Set("txErrors", double(s->tx_errors));
  o.Set("lastTxError", s->last_tx_errno ? Napi::String::New(env, ErrnoName(s->last_tx_errno)) : env.Null());
  return o;
}

uint32_t MsToUs(Napi::Env env, Napi::Object o, const char* name, bool required, uint32_t def) {
  if (!o.Has(name) || o.Get(name).IsUndefined()) {
    if (required) throw Napi::TypeError::New(env, std::string(name) + " is required");
    return def;
  }
  double v = o.Get(name).ToNumber().DoubleValue();
  if (!(v >= 1 && v <= 4'000'000)) throw Napi::RangeError::New(env, std::string(name) + " must be 1 ms to 4000 s");
  return uint32_t(v * 1000);
}

AuthConfig ParseAuth(Napi::Env env, Napi::Value v) {
  AuthConfig a;
  if (v.IsUndefined() || v.IsNull()) return a;
  if (!v.IsObject()) throw Napi::TypeError::New(env, "auth must be { type, keyId, key }");
  Napi::Object o = v.As<Napi::Object>();
  int t = AuthTypeFromName(o.Get("type").ToString().Utf8Value());
  if (t < 0) throw Napi::TypeError::New(env, "auth.type must be simple, keyed-md5, meticulous-keyed-md5, keyed-sha1 or meticulous-keyed-sha1");
  a.type = uint8_t(t);
  double id = o.Has("keyId") ? o.Get("keyId").ToNumber().DoubleValue() : 0;
  if (!(id >= 0 && id <= 255)) throw Napi::RangeError::New(env, "auth.keyId must be 0–255");
  a.key_id = uint8_t(id);
  Napi::Value k = o.Get("key");
  if (k.IsBuffer()) a.key.assign(k.As<Napi::Buffer<char>>().Data(), k.As<Napi::Buffer<char>>().Length());
  else a.key = k.ToString().Utf8Value();
  std::string why = CheckAuthConfig(a);
  if (!why.empty()) throw Napi::RangeError::New(env, "auth: " + why);
  return a;
}

class BfdService : public Napi::ObjectWrap<BfdService> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "BfdService",
                       {
                           InstanceMethod<&BfdService::AddSession>("addSession"),
                           InstanceMethod<&BfdService::RemoveSession>("removeSession"),
                           InstanceMethod<&BfdService::SetAdminDown>("setAdminDown"),
                           InstanceMethod<&BfdService::SetTimers>("setTimers"),
                           InstanceMethod<&BfdService::Sessions>("sessions"),
                           InstanceMethod<&BfdService::StatsFn>("stats"),
                           InstanceMethod<&BfdService::Close>("close"),
                           InstanceMethod<&BfdService::RefFn>("ref"),
                           InstanceMethod<&BfdService::UnrefFn>("unref"),
                       });
  }

  explicit BfdService(const Napi::CallbackInfo& info) : Napi::ObjectWrap<BfdService>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction())
      throw Napi::TypeError::New(env, "BfdService(options, onEvents)");
    Napi::Object o = info[0].As<Napi::Object>();
    std::string netns = o.Has("netns") && o.Get("netns").IsString() ? o.Get("netns").As<Napi::String>().Utf8Value() : "";
    std::string syscall;
    if (int e = engine_.Start(netns, &syscall)) throw ErrnoError(env, e, syscall, netns.empty() ? "cannot start the BFD thread" : "cannot enter " + netns);
    callback_ = Napi::Persistent(info[1].As<Napi::Function>());
    context_ = std::make_unique<Napi::AsyncContext>(env, "routelet bfd");
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    poll_ = new uv_poll_t;
    uv_poll_init(loop, poll_, engine_.notify_fd());
    poll_->data = this;
    uv_poll_start(poll_, UV_READABLE, OnReadable);
    Napi::ObjectWrap<BfdService>::Ref();
    napi_add_env_cleanup_hook(env, CleanupHook, this);
    hooked_ = true;
  }

  ~BfdService() override { Shutdown(); }

 private:
  static void CleanupHook(void* self) {
    auto* m = static_cast<BfdService*>(self);
    m->hooked_ = false;
    m->Shutdown();
  }

  void Shutdown() {
    if (hooked_) {
      napi_remove_env_cleanup_hook(Env(), CleanupHook, this);
      hooked_ = false;
    }
    if (poll_) {
      uv_poll_stop(poll_);
      uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
      poll_ = nullptr;
    }
    engine_.Stop();
  }

  void RequireOpen(Napi::Env env) {
    if (!engine_.running()) throw Napi::Error::New(env, "BfdService is closed");
  }

  uint32_t Id(const Napi::CallbackInfo& info) {
    if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(info.Env(), "session id (a number) expected");
    return info[0].As<Napi::Number>().Uint32Value();
  }

  Napi::Value AddSession(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    RequireOpen(env);
    if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "addSession(options)");
    Napi::Object o = info[0].As<Napi::Object>();
    Engine::AddRequest r;
    if (!o.Get("peer").IsString()) throw Napi::TypeError::New(env, "peer (an IP address) is required");
    r.peer = o.Get("peer").As<Napi::String>().Utf8Value();
    if (o.Get("local").IsString()) r.local = o.Get("local").As<Napi::String>().Utf8Value();
    if (o.Get("ifname").IsString()) r.ifname = o.Get("ifname").As<Napi::String>().Utf8Value();
    r.multihop = o.Get("multihop").ToBoolean();
    r.tx_us = MsToUs(env, o, "desiredMinTxMs", false, 300000);
    r.rx_us = MsToUs(env, o, "requiredMinRxMs", false, 300000);
    double m = o.Has("multiplier") && !o.Get("multiplier").IsUndefined() ? o.Get("multiplier").ToNumber().DoubleValue() : 3;
    if (!(m >= 1 && m <= 255)) throw Napi::RangeError::New(env, "multiplier must be 1–255");
    r.mult = uint8_t(m);
    r.auth = ParseAuth(env, o.Get("auth"));
    int err = 0;
    std::string syscall, detail;
    uint32_t id = 0;
    engine_.Call([&] { id = engine_.Add(r, &err, &syscall, &detail); });
    if (!id) throw ErrnoError(env, err, syscall, detail);
    return Napi::Number::New(env, id);
  }

  Napi::Value RemoveSession(const Napi::CallbackInfo& info) {
    RequireOpen(info.Env());
    uint32_t id = Id(info);
    bool ok = false;
    engine_.Call([&] { ok = engine_.Remove(id); });
    return Napi::Boolean::New(info.Env(), ok);
  }

  Napi::Value SetAdminDown(const Napi::CallbackInfo& info) {
    RequireOpen(info.Env());
    uint32_t id = Id(info);
    bool down = info.Length() < 2 || info[1].ToBoolean();
    bool ok = false;
    engine_.Call([&] { ok = engine_.SetAdminDown(id, down); });
    return Napi::Boolean::New(info.Env(), ok);
  }

  Napi::Value SetTimers(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    RequireOpen(env);
    uint32_t id = Id(info);
    if (info.Length() < 2 || !info[1].IsObject()) throw Napi::TypeError::New(env, "setTimers(id, { desiredMinTxMs?, requiredMinRxMs?, multiplier? })");
    Napi::Object o = info[1].As<Napi::Object>();
    int64_t tx = MsToUs(env, o, "desiredMinTxMs", false, 0);
    int64_t rx = MsToUs(env, o, "requiredMinRxMs", false, 0);
    int mult = 0;
    if (o.Has("multiplier") && !o.Get("multiplier").IsUndefined()) {
      double m = o.Get("multiplier").ToNumber().DoubleValue();
      if (!(m >= 1 && m <= 255)) throw Napi::RangeError::New(env, "multiplier must be 1–255");
      mult = int(m);
    }
    bool ok = false;
    engine_.Call([&] { ok = engine_.SetTimers(id, tx, rx, mult); });
    return Napi::Boolean::New(env, ok);
  }

  Napi::Value Sessions(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Array out = Napi::Array::New(env);
    if (!engine_.running()) return out;
    // copied on the thread, turned into objects here
    std::vector<Session> copy;
    engine_.Call([&] {
      for (auto& [id, s] : engine_.sessions()) copy.push_back(*s);
    });
    for (auto& s : copy) out.Set(out.Length(), SessionObject(env, &s));
    return out;
  }

  Napi::Value StatsFn(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Stats st;
    if (engine_.running()) engine_.Call([&] { st = engine_.stats(); });
    Napi::Object o = Napi::Object::New(env);
    o.Set("rxPackets", double(st.rx_packets));
    o.Set("rxBadTtl", double(st.rx_bad_ttl));
    o.Set("rxMalformed", double(st.rx_malformed));
    o.Set("rxNoSession", double(st.rx_no_session));
    o.Set("rxAuthFailures", double(st.rx_auth));
    return o;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (poll_ || engine_.running()) {
      // every peer is told AdminDown; events not yet delivered are dropped
      Shutdown();
      Napi::ObjectWrap<BfdService>::Unref();
    }
    return info.Env().Undefined();
  }

  Napi::Value RefFn(const Napi::CallbackInfo& info) {
    if (poll_) uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
    return info.Env().Undefined();
  }

  Napi::Value UnrefFn(const Napi::CallbackInfo& info) {
    if (poll_) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
    return info.Env().Undefined();
  }

  static void OnReadable(uv_poll_t* h, int status, int) {
    auto* self = static_cast<BfdService*>(h->data);
    if (status < 0 || !self->poll_) return;
    self->Deliver();
  }

  void Deliver() {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    std::vector<Event> evs = engine_.TakeEvents();
    if (evs.empty()) return;
    Napi::Array arr = Napi::Array::New(env, evs.size());
    for (size_t i = 0; i < evs.size(); i++) {
      const Event& e = evs[i];
      Napi::Object o = Napi::Object::New(env);
      o.Set("type", "state");
      o.Set("id", e.id);
      o.Set("peer", e.peer);
      o.Set("local", e.local.empty() ? env.Null() : Napi::String::New(env, e.local));
      o.Set("ifname", e.ifname.empty() ? env.Null() : Napi::String::New(env, e.ifname));
      o.Set("multihop", e.multihop);
      o.Set("from", StateName(e.from));
      o.Set("to", StateName(e.to));
      o.Set("diag", e.diag);
      o.Set("remoteState", StateName(e.remote_state));
      o.Set("remoteDiag", e.remote_diag);
      o.Set("failure", e.failure);
      o.Set("at", e.at);
      arr.Set(uint32_t(i), o);
    }
    callback_.MakeCallback(Value(), {arr}, *context_);
  }

  Engine engine_;
  Napi::FunctionReference callback_;
  std::unique_ptr<Napi::AsyncContext> context_;
  uv_poll_t* poll_ = nullptr;
  bool hooked_ = false;
};

void Init(Napi::Env env, Napi::Object exports) { exports.Set("BfdService", BfdService::Define(env)); }

ROUTELET_REGISTER(Init);

}  // namespace
}  // namespace routelet

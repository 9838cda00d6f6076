// Capability probes for `routelet agent --check`. Each performs the real operation and
// reports { ok, errno, code, syscall, message }; none throws for a kernel refusal.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/tcp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <thread>

#include "errors.h"
#include "registry.h"
#include "libbpf_log.h"
#include "nlmsg.h"
#include "probe.skel.h"

namespace routelet {
namespace {

struct Result {
  int err = 0;
  std::string syscall;
  std::string message;
};

Result Fail(int err, std::string syscall, std::string message = "") {
  return {err, std::move(syscall), std::move(message)};
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { if (fd_ >= 0) close(fd_); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
 private:
  int fd_;
};

// ---- rtnetlink: add, see and delete a route in a namespace private to one thread

constexpr uint8_t kProbeProto = 201;

int RouteMsg(int fd, uint16_t type, uint16_t flags, uint32_t dst) {
  alignas(nlmsghdr) char buf[256] = {};
  auto* n = reinterpret_cast<nlmsghdr*>(buf);
  n->nlmsg_len = NLMSG_LENGTH(sizeof(rtmsg));
  n->nlmsg_type = type;
  n->nlmsg_flags = flags;
  auto* r = static_cast<rtmsg*>(NLMSG_DATA(n));
  r->rtm_family = AF_INET;
  r->rtm_dst_len = 24;
  r->rtm_table = RT_TABLE_MAIN;
  r->rtm_protocol = kProbeProto;
  r->rtm_scope = RT_SCOPE_LINK;
  r->rtm_type = RTN_UNICAST;
  nl::AddAttr(n, RTA_DST, &dst, 4);
  nl::AddU32(n, RTA_OIF, 1);  // lo
  return nl::Talk(fd, n);
}

// Count routes to dst/24 of the probe protocol in the main table; -errno on failure.
int CountRoutes(int fd, uint32_t dst) {
  struct {
    nlmsghdr n;
    rtmsg r;
  } req{};
  req.n.nlmsg_len = NLMSG_LENGTH(sizeof(rtmsg));
  req.n.nlmsg_type = RTM_GETROUTE;
  req.n.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.n.nlmsg_seq = 7;
  req.r.rtm_family = AF_INET;
  if (send(fd, &req, req.n.nlmsg_len, 0) < 0) return -errno;
  alignas(nlmsghdr) char buf[32768];
  int count = 0;
  for (;;) {
    ssize_t len = recv(fd, buf, sizeof buf, 0);
    if (len < 0) return -errno;
    int left = static_cast<int>(len);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, static_cast<unsigned>(left)); h = NLMSG_NEXT(h, left)) {
      if (h->nlmsg_type == NLMSG_DONE) return count;
      if (h->nlmsg_type == NLMSG_ERROR) return static_cast<nlmsgerr*>(NLMSG_DATA(h))->error;
      if (h->nlmsg_type != RTM_NEWROUTE) continue;
      auto* r = static_cast<rtmsg*>(NLMSG_DATA(h));
      if (r->rtm_protocol != kProbeProto || r->rtm_dst_len != 24) continue;
      int alen = RTM_PAYLOAD(h);
      for (auto* a = RTM_RTA(r); RTA_OK(a, alen); a = RTA_NEXT(a, alen))
        if (a->rta_type == RTA_DST && std::memcmp(RTA_DATA(a), &dst, 4) == 0) count++;
    }
  }
}

Result RtnetlinkInScratchNamespace() {
  if (unshare(CLONE_NEWNET) < 0) return Fail(errno, "unshare", "cannot create a scratch network namespace");
  int fd = nl::OpenRoute();
  if (fd < 0) return Fail(-fd, "socket", "cannot open NETLINK_ROUTE");
  Fd guard(fd);
  alignas(nlmsghdr) char buf[128] = {};
  auto* n = reinterpret_cast<nlmsghdr*>(buf);
  n->nlmsg_len = NLMSG_LENGTH(sizeof(ifinfomsg));
  n->nlmsg_type = RTM_NEWLINK;
  auto* ifi = static_cast<ifinfomsg*>(NLMSG_DATA(n));
  ifi->ifi_index = 1;
  ifi->ifi_flags = IFF_UP;
  ifi->ifi_change = IFF_UP;
  if (int e = nl::Talk(fd, n)) return Fail(e, "RTM_NEWLINK", "cannot bring lo up");
  uint32_t dst = htonl(0xC6336400);  // 198.51.100.0/24 (TEST-NET-2)
  if (int e = RouteMsg(fd, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, dst)) return Fail(e, "RTM_NEWROUTE", "route add refused");
  int c = CountRoutes(fd, dst);
  if (c < 0) return Fail(-c, "RTM_GETROUTE", "route dump failed");
  if (c != 1) return Fail(ENOENT, "RTM_GETROUTE", "route added but not found in the dump");
  if (int e = RouteMsg(fd, RTM_DELROUTE, 0, dst)) return Fail(e, "RTM_DELROUTE", "route delete refused");
  c = CountRoutes(fd, dst);
  if (c < 0) return Fail(-c, "RTM_GETROUTE", "route dump failed");
  if (c != 0) return Fail(EEXIST, "RTM_GETROUTE", "route still present after delete");
  return {0, "", "route add, dump and delete in a scratch network namespace"};
}

// ---- BPF

// Bind a loopback listener on an ephemeral port; returns fd and port.
int LoopbackListener(uint16_t* port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t sl = sizeof sa;
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0 || listen(fd, 4) < 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &sl) < 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  *port = ntohs(sa.sin_port);
  return fd;
}

int ConnectLoopback(uint16_t port) {
  Fd c(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (c.get() < 0) return errno;
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons(port);
  if (connect(c.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) return errno;
  return 0;
}

struct Skeleton {
  probe_bpf* skel = nullptr;
  ~Skeleton() { probe_bpf__destroy(skel); }
};

std::string WithLog(const std::string& what) {
  std::string log = TakeLibbpfLog();
  return log.empty() ? what : what + ": " + log;
}

// Open and load the probe object with only `keep` autoloaded.
Result LoadProbe(Skeleton& s, const std::string& btf_path, bpf_program* (*keep)(probe_bpf*), uint16_t port) {
  InstallLibbpfLogger();
  TakeLibbpfLog();
  LIBBPF_OPTS(bpf_object_open_opts, opts);
  if (!btf_path.empty()) opts.btf_custom_path = btf_path.c_str();
  s.skel = probe_bpf__open_opts(&opts);
  if (!s.skel) return Fail(errno ? errno : EINVAL, "bpf_object__open", WithLog("cannot open the probe object"));
  bpf_program* prog;
  bpf_object__for_each_program(prog, s.skel->obj) bpf_program__set_autoload(prog, prog == keep(s.skel));
  s.skel->rodata->probe_port = port;
  int e = probe_bpf__load(s.skel);
  if (e) return Fail(-e, "bpf(BPF_PROG_LOAD)", WithLog("load refused"));
  return {};
}

Result TracepointProbe(const std::string& btf_path) {
  uint16_t port = 0;
  int lfd = LoopbackListener(&port);
  if (lfd < 0) return Fail(-lfd, "listen", "cannot open a loopback listener");
  Fd lguard(lfd);
  Skeleton s;
  Result r = LoadProbe(s, btf_path, [](probe_bpf* k) { return k->progs.probe_state; }, port);
  if (r.err) return r;
  bpf_link* link = bpf_program__attach(s.skel->progs.probe_state);
  if (!link) return Fail(errno, "bpf(BPF_RAW_TRACEPOINT_OPEN)", WithLog("attach to tp_btf/inet_sock_set_state refused"));
  int ce = ConnectLoopback(port);
  uint64_t hits = s.skel->bss->tp_hits;
  bpf_link__destroy(link);
  if (ce) return Fail(ce, "connect", "loopback connection for the probe failed");
  if (hits == 0) return Fail(ENODATA, "tp_btf", "attached, but the program saw no state change of its own connection");
  return {0, "", "tp_btf/inet_sock_set_state loaded, attached, and saw " + std::to_string(hits) + " state changes"};
}

Result SockopsProbe(const std::string& cgroup_path, const std::string& btf_path) {
  uint16_t port = 0;
  int lfd = LoopbackListener(&port);
  if (lfd < 0) return Fail(-lfd, "listen", "cannot open a loopback listener");
  Fd lguard(lfd);
  Fd cg(open(cgroup_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (cg.get() < 0) return Fail(errno, "open", "cgroup v2 directory " + cgroup_path);
  Skeleton s;
  Result r = LoadProbe(s, btf_path, [](probe_bpf* k) { return k->progs.probe_sockops; }, port);
  if (r.err) return r;
  bpf_link* link = bpf_program__attach_cgroup(s.skel->progs.probe_sockops, cg.get());
  if (!link) return Fail(errno, "bpf(BPF_LINK_CREATE)", WithLog("sockops attach to " + cgroup_path + " refused"));
  int ce = ConnectLoopback(port);
  uint64_t hits = s.skel->bss->sockops_hits;
  bpf_link__destroy(link);
  if (ce) return Fail(ce, "connect", "loopback connection for the probe failed");
  if (hits == 0)
    return Fail(ENODATA, "sockops", "attached to " + cgroup_path + ", but saw none of this process's connections");
  return {0, "", "sockops attached to " + cgroup_path + " and saw " + std::to_string(hits) + " callbacks"};
}

// ---- socket options

Result TcpMd5(int key_len) {
  Fd s(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (s.get() < 0) return Fail(errno, "socket");
  tcp_md5sig sig{};
  auto* sin = reinterpret_cast<sockaddr_in*>(&sig.tcpm_addr);
  sin->sin_family = AF_INET;
  sin->sin_addr.s_addr = htonl(0x7F000001);
  sig.tcpm_keylen = static_cast<uint16_t>(key_len);
  std::memset(sig.tcpm_key, 'k', std::min<int>(key_len, TCP_MD5SIG_MAXKEYLEN));
  if (setsockopt(s.get(), IPPROTO_TCP, TCP_MD5SIG, &sig, sizeof sig) < 0)
    return Fail(errno, "setsockopt(TCP_MD5SIG)", "per-address key refused");
  tcp_md5sig ext = sig;
  sin = reinterpret_cast<sockaddr_in*>(&ext.tcpm_addr);
  sin->sin_addr.s_addr = htonl(0x0A000000);
  ext.tcpm_flags = TCP_MD5SIG_FLAG_PREFIX;
  ext.tcpm_prefixlen = 8;
  if (setsockopt(s.get(), IPPROTO_TCP, TCP_MD5SIG_EXT, &ext, sizeof ext) < 0)
    return Fail(errno, "setsockopt(TCP_MD5SIG_EXT)", "per-prefix key refused");
  return {0, "", "TCP_MD5SIG per address and TCP_MD5SIG_EXT per prefix (10.0.0.0/8)"};
}

Result MinTtl(int value) {
  Fd s4(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (s4.get() < 0) return Fail(errno, "socket");
  if (setsockopt(s4.get(), IPPROTO_IP, IP_MINTTL, &value, sizeof value) < 0)
    return Fail(errno, "setsockopt(IP_MINTTL)");
  int ttl = 255;
  if (setsockopt(s4.get(), IPPROTO_IP, IP_TTL, &ttl, sizeof ttl) < 0) return Fail(errno, "setsockopt(IP_TTL)");
  Fd s6(socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (s6.get() < 0) return {0, "", "IP_MINTTL " + std::to_string(value) + " (no IPv6 on this host)"};
  if (setsockopt(s6.get(), IPPROTO_IPV6, IPV6_MINHOPCOUNT, &value, sizeof value) < 0)
    return Fail(errno, "setsockopt(IPV6_MINHOPCOUNT)");
  return {0, "", "IP_MINTTL and IPV6_MINHOPCOUNT " + std::to_string(value) + ", TTL 255 on send"};
}

Napi::Value ToJs(Napi::Env env, const Result& r) { return Outcome(env, r.err, r.syscall, r.message); }

std::string OptString(const Napi::CallbackInfo& info, size_t i) {
  return info.Length() > i && info[i].IsString() ? info[i].As<Napi::String>().Utf8Value() : "";
}

Napi::Value ProbeRtnetlink(const Napi::CallbackInfo& info) {
  Result r;
  // Namespaces belong to threads: the scratch namespace lives and dies with this one.
  std::thread t([&r] { r = RtnetlinkInScratchNamespace(); });
  t.join();
  return ToJs(info.Env(), r);
}

Napi::Value ProbeTracepoint(const Napi::CallbackInfo& info) { return ToJs(info.Env(), TracepointProbe(OptString(info, 0))); }

Napi::Value ProbeSockops(const Napi::CallbackInfo& info) {
  return ToJs(info.Env(), SockopsProbe(OptString(info, 0), OptString(info, 1)));
}

Napi::Value ProbeTcpMd5(const Napi::CallbackInfo& info) {
  return ToJs(info.Env(), TcpMd5(info[0].As<Napi::Number>().Int32Value()));
}

Napi::Value ProbeMinTtl(const Napi::CallbackInfo& info) {
  return ToJs(info.Env(), MinTtl(info[0].As<Napi::Number>().Int32Value()));
}

}  // namespace

void InitCheck(Napi::Env env, Napi::Object exports) {
  exports.Set("probeRtnetlink", Napi::Function::New(env, ProbeRtnetlink));
  exports.Set("probeTracepoint", Napi::Function::New(env, ProbeTracepoint));
  exports.Set("probeSockops", Napi::Function::New(env, ProbeSockops));
  exports.Set("probeTcpMd5", Napi::Function::New(env, ProbeTcpMd5));
  exports.Set("probeMinTtl", Napi::Function::New(env, ProbeMinTtl));
}

ROUTELET_REGISTER(InitCheck);

}  // namespace routelet

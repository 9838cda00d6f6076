// BGP sockets: what Node's net module cannot do. Create TCP sockets (optionally in another
// network namespace), set the options BGP needs (TCP-MD5 per address and per prefix, GTSM
// minimum TTL, send TTL, dual stack, SO_REUSEPORT with a classic-BPF shard selector), bind,
// listen, read socket facts (TCP_INFO, option memory, addresses) and close with a reset.
// Policy (which key where, which TTL) is decided in TypeScript (src/native/sockets.ts and
// src/bgp/transport/); this file only performs. Kernel refusals become Errors in Node's shape
// (ErrnoError) or, for per-key operations that must never throw, Outcome objects.
#include "sockets.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <thread>

#include "errors.h"
#include "registry.h"

#ifndef SO_MEMINFO
#define SO_MEMINFO 55
#endif

namespace routelet::sock {

socklen_t ToSockaddr(int sock_family, const std::string& text, uint16_t port, sockaddr_storage* out) {
  std::memset(out, 0, sizeof *out);
  in_addr a4{};
  in6_addr a6{};
  if (inet_pton(AF_INET, text.c_str(), &a4) == 1) {
    if (sock_family == AF_INET) {
      auto* s = reinterpret_cast<sockaddr_in*>(out);
      s->sin_family = AF_INET;
      s->sin_port = htons(port);
      s->sin_addr = a4;
      return sizeof(sockaddr_in);
    }
    auto* s = reinterpret_cast<sockaddr_in6*>(out);
    s->sin6_family = AF_INET6;
    s->sin6_port = htons(port);
    s->sin6_addr.s6_addr[10] = 0xff;
    s->sin6_addr.s6_addr[11] = 0xff;
    std::memcpy(&s->sin6_addr.s6_addr[12], &a4, 4);
    return sizeof(sockaddr_in6);
  }
  if (inet_pton(AF_INET6, text.c_str(), &a6) == 1 && sock_family == AF_INET6) {
    auto* s = reinterpret_cast<sockaddr_in6*>(out);
    s->sin6_family = AF_INET6;
    s->sin6_port = htons(port);
    s->sin6_addr = a6;
    return sizeof(sockaddr_in6);
  }
  return 0;
}

std::string AddressText(const sockaddr_storage& sa) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (sa.ss_family == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&sa)->sin_addr, buf, sizeof buf);
  else if (sa.ss_family == AF_INET6)
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&sa)->sin6_addr, buf, sizeof buf);
  return buf;
}

uint16_t PortOf(const sockaddr_storage& sa) {
  if (sa.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&sa)->sin_port);
  if (sa.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&sa)->sin6_port);
  return 0;
}

Napi::Object EndpointObject(Napi::Env env, const sockaddr_storage& sa) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("address", AddressText(sa));
  o.Set("port", PortOf(sa));
  o.Set("family", sa.ss_family == AF_INET ? 4 : 6);
  return o;
}

int DomainOf(int fd) {
  int domain = 0;
  socklen_t len = sizeof domain;
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0) return -errno;
  return domain;
}

int IntArg(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().Int32Value(); }
std::string StringArg(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::String>().Utf8Value(); }

namespace {

// Run fn with the calling thread in the network namespace at `netns_path` (a file such as
// /var/run/netns/NAME or /proc/PID/ns/net); the namespace belongs to a short-lived thread, so
// the JavaScript thread never changes namespace. Sockets keep the namespace they were made in.
// Returns 0 or a positive errno from opening or entering the namespace; fn reports its own.
int InNetns(const std::string& netns_path, const std::function<void()>& fn, std::string* failed_syscall) {
  if (netns_path.empty()) {
    fn();
    return 0;
  }
  int nsfd = open(netns_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (nsfd < 0) {
    *failed_syscall = "open";
    return errno;
  }
  int err = 0;
  std::thread t([&] {
    if (setns(nsfd, CLONE_NEWNET) < 0) {
      err = errno;
      *failed_syscall = "setns";
      return;
    }
    fn();
  });
  t.join();
  close(nsfd);
  return err;
}

std::string OptionalString(const Napi::CallbackInfo& info, size_t i) {
  return info.Length() > i && info[i].IsString() ? info[i].As<Napi::String>().Utf8Value() : "";
}

// ---- socket creation

Napi::Value Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int family = IntArg(info, 0) == 4 ? AF_INET : AF_INET6;
  std::string netns = OptionalString(info, 1);
  int fd = -1, err = 0;
  std::string syscall = "socket";
  int nserr = InNetns(netns, [&] {
    fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd < 0) err = errno;
  }, &syscall);
  if (nserr) throw ErrnoError(env, nserr, syscall, netns);
  if (fd < 0) throw ErrnoError(env, err, "socket");
  return Napi::Number::New(env, fd);
}

// ---- integer socket options, by their kernel names; which ones to set is policy (TypeScript)

struct IntOption {
  const char* name;
  int level;
  int optname;
};

constexpr IntOption kIntOptions[] = {
    {"SO_REUSEADDR", SOL_SOCKET, SO_REUSEADDR},
    {"SO_REUSEPORT", SOL_SOCKET, SO_REUSEPORT},
    {"SO_KEEPALIVE", SOL_SOCKET, SO_KEEPALIVE},
    {"SO_ERROR", SOL_SOCKET, SO_ERROR},
    {"SO_RCVBUF", SOL_SOCKET, SO_RCVBUF},
    {"SO_SNDBUF", SOL_SOCKET, SO_SNDBUF},
    {"IP_TTL", IPPROTO_IP, IP_TTL},
    {"IP_MINTTL", IPPROTO_IP, IP_MINTTL},
    {"IP_TOS", IPPROTO_IP, IP_TOS},
    {"IPV6_V6ONLY", IPPROTO_IPV6, IPV6_V6ONLY},
    {"IPV6_UNICAST_HOPS", IPPROTO_IPV6, IPV6_UNICAST_HOPS},
    {"IPV6_MINHOPCOUNT", IPPROTO_IPV6, IPV6_MINHOPCOUNT},
    {"IPV6_TCLASS", IPPROTO_IPV6, IPV6_TCLASS},
    {"TCP_NODELAY", IPPROTO_TCP, TCP_NODELAY},
    {"TCP_SYNCNT", IPPROTO_TCP, TCP_SYNCNT},
    {"TCP_USER_TIMEOUT", IPPROTO_TCP, TCP_USER_TIMEOUT},
};

const IntOption* FindOption(const std::string& name) {
  for (const auto& o : kIntOptions)
    if (name == o.name) return &o;
  return nullptr;
}

Napi::Value SetOption(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = IntArg(info, 0);
  std::string name = StringArg(info, 1);
  int value = IntArg(info, 2);
  const IntOption* o = FindOption(name);
  if (!o) throw ErrnoError(env, ENOPROTOOPT, "setsockopt(" + name + ")", "unknown option name");
  if (setsockopt(fd, o->level, o->optname, &value, sizeof value) < 0)
    throw ErrnoError(env, errno, "setsockopt(" + name + ")", std::to_string(value));
  return env.Undefined();
}

Napi::Value GetOption(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = IntArg(info, 0);
  std::string name = StringArg(info, 1);
  const IntOption* o = FindOption(name);
  if (!o) throw ErrnoError(env, ENOPROTOOPT, "getsockopt(" + name + ")", "unknown option name");
  int value = 0;
  socklen_t len = sizeof value;
  if (getsockopt(fd, o->level, o->optname, &value, &len) < 0) throw ErrnoError(env, errno, "getsockopt(" + name + ")");
  return Napi::Number::New(env, value);
}

// ---- bind, listen, close

Napi::Value Bind(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = IntArg(info, 0);
  std::string address = StringArg(info, 1);
  int port = IntArg(info, 2);
  int domain = DomainOf(fd);
  if (domain < 0) throw ErrnoError(env, -domain, "getsockopt(SO_DOMAIN)");
  sockaddr_storage sa;
  socklen_t len = ToSockaddr(domain, address, static_cast<uint16_t>(port), &sa);
  if (!len) throw ErrnoError(env, EAFNOSUPPORT, "bind", address + " on an " + (domain == AF_INET ? "IPv4" : "IPv6") + " socket");
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), len) < 0)
    throw ErrnoError(env, errno, "bind", address + " port " + std::to_string(port));
  return env.Undefined();
}

Napi::Value Listen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (listen(IntArg(info, 0), IntArg(info, 1)) < 0) throw ErrnoError(env, errno, "listen");
  return env.Undefined();
}

// Close; with reset, SO_LINGER {1, 0} first so the peer gets a RST and no TIME_WAIT remains.
Napi::Value Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = IntArg(info, 0);
  bool reset = info.Length() > 1 && info[1].ToBoolean().Value();
  if (reset) {
    linger l{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  if (close(fd) < 0) throw ErrnoError(env, errno, "close");
  return env.Undefined();
}

// ---- TCP-MD5

// Add (key given) or delete (key empty) the TCP-MD5 key for address/prefix_len on fd.
// The key is always set with TCP_MD5SIG_EXT; a prefix shorter than the full address sets
// TCP_MD5SIG_FLAG_PREFIX. An IPv4 address on an AF_INET6 socket is given in v4-mapped form
// with the prefix length counted in IPv4 bits, the form the kernel matches IPv4 peers of a
// dual-stack socket against (it stores such a key as an AF_INET key).
int Md5(int fd, const std::string& address, int prefix_len, const uint8_t* key, size_t key_len, std::string* detail) {
  int domain = DomainOf(fd);
  if (domain < 0) return -domain;
  tcp_md5sig sig{};
  sockaddr_storage sa;
  if (!ToSockaddr(domain, address, 0, &sa)) {
    *detail = address + " on an " + (domain == AF_INET ? "IPv4" : "IPv6") + " socket";
    return EAFNOSUPPORT;
  }
  std::memcpy(&sig.tcpm_addr, &sa, sizeof sa);
  bool v4 = address.find(':') == std::string::npos;
  int full = v4 ? 32 : 128;
  if (prefix_len < 0 || prefix_len > full) return EINVAL;
  if (prefix_len < full) {
    sig.tcpm_flags = TCP_MD5SIG_FLAG_PREFIX;
    sig.tcpm_prefixlen = static_cast<uint8_t>(prefix_len);
  }
  if (key_len > TCP_MD5SIG_MAXKEYLEN) return EINVAL;
  sig.tcpm_keylen = static_cast<uint16_t>(key_len);
  if (key_len) std::memcpy(sig.tcpm_key, key, key_len);
  if (setsockopt(fd, IPPROTO_TCP, TCP_MD5SIG_EXT, &sig, sizeof sig) < 0) return errno;
  return 0;
}

Napi::Value SetMd5(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = IntArg(info, 0);
  std::string address = StringArg(info, 1);
  int prefix_len = IntArg(info, 2);
  const uint8_t* key = nullptr;
  size_t key_len = 0;
  if (info.Length() > 3 && info[3].IsBuffer()) {
    auto b = info[3].As<Napi::Buffer<uint8_t>>();
    key = b.Data();
    key_len = b.Length();
  }
  std::string detail;
  int err = Md5(fd, address, prefix_len, key, key_len, &detail);
  std::string what = (key_len ? "add key for " : "delete key for ") + address + "/" + std::to_string(prefix_len);
  if (!detail.empty()) what += " (" + detail + ")";
  return Outcome(env, err, "setsockopt(TCP_MD5SIG_EXT)", err ? what + ": " + std::strerror(err) : what);
}

// How many TCP-MD5 keys one socket of `family` holds in the namespace: add distinct
// per-address keys to a scratch socket until the kernel refuses (ENOMEM: the socket's option
// memory, net.core.optmem_max, is spent). Measured, not computed, so it stays true on any
// kernel. Returns { keys, bytesPerKey, optmem, errno?, code? }.
Napi::Value Md5Capacity(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int family = IntArg(info, 0) == 4 ? AF_INET : AF_INET6;
  std::string netns = OptionalString(info, 1);
  int limit = info.Length() > 2 && info[2].IsNumber() ? IntArg(info, 2) : 1 << 20;
  int keys = 0, stop_err = 0, sock_err = 0;
  uint32_t per_key = 0, total = 0;
  std::string syscall;
  int nserr = InNetns(netns, [&] {
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      sock_err = errno;
      return;
    }
    auto optmem = [fd]() -> uint32_t {
      uint32_t m[SK_MEMINFO_VARS] = {};
      socklen_t len = sizeof m;
      return getsockopt(fd, SOL_SOCKET, SO_MEMINFO, m, &len) < 0 ? 0 : m[SK_MEMINFO_OPTMEM];
    };
    tcp_md5sig sig{};
    sig.tcpm_keylen = 16;
    std::memset(sig.tcpm_key, 'k', 16);
    for (; keys < limit; keys++) {
      sockaddr_storage sa{};
      if (family == AF_INET) {
        auto* s = reinterpret_cast<sockaddr_in*>(&sa);
        s->sin_family = AF_INET;
        s->sin_addr.s_addr = htonl(0x0A000000u + static_cast<uint32_t>(keys));
      } else {
        auto* s = reinterpret_cast<sockaddr_in6*>(&sa);
        s->sin6_family = AF_INET6;
        s->sin6_addr.s6_addr[0] = 0xfd;
        uint32_t n = htonl(static_cast<uint32_t>(keys));
        std::memcpy(&s->sin6_addr.s6_addr[12], &n, 4);
      }
      std::memcpy(&sig.tcpm_addr, &sa, sizeof sa);
      if (setsockopt(fd, IPPROTO_TCP, TCP_MD5SIG, &sig, sizeof sig) < 0) {
        stop_err = errno;
        break;
      }
      if (keys == 0) per_key = optmem();
    }
    total = optmem();
    close(fd);
  }, &syscall);
  if (nserr) throw ErrnoError(env, nserr, syscall, netns);
  if (sock_err) throw ErrnoError(env, sock_err, "socket");
  Napi::Object o = Napi::Object::New(env);
  o.Set("keys", keys);
  o.Set("bytesPerKey", per_key);
  o.Set("optmem", total);
  if (stop_err) {
    o.Set("errno", -stop_err);
    o.Set("code", ErrnoName(stop_err));
  }
  return o;
}

// ---- reuseport shard selection

// Attach a classic BPF program (an array of struct sock_filter, 8 bytes each) that picks the
// listening socket of a SO_REUSEPORT group by index; the program is the group's, whichever
// member it is attached through.
Napi::Value AttachReuseportCbpf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = IntArg(info, 0);
  auto code = info[1].As<Napi::Buffer<uint8_t>>();
  if (code.Length() == 0 || code.Length() % sizeof(sock_filter) != 0)
    throw ErrnoError(env, EINVAL, "setsockopt(SO_ATTACH_REUSEPORT_CBPF)", "program length");
  sock_fprog prog{};
  prog.len = static_cast<unsigned short>(code.Length() / sizeof(sock_filter));
  prog.filter = reinterpret_cast<sock_filter*>(code.Data());
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof prog) < 0)
    throw ErrnoError(env, errno, "setsockopt(SO_ATTACH_REUSEPORT_CBPF)", std::to_string(prog.len) + " instructions");
  return env.Undefined();
}

// ---- facts

const char* TcpStateName(int s) {
  static const char* names[] = {"", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT",
                                "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING", "NEW_SYN_RECV"};
  return s > 0 && s < static_cast<int>(sizeof names / sizeof names[0]) ? names[s] : "UNKNOWN";
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = IntArg(info, 0);
  int domain = DomainOf(fd);
  if (domain < 0) throw ErrnoError(env, -domain, "getsockopt(SO_DOMAIN)");
  Napi::Object o = Napi::Object::New(env);
  o.Set("family", domain == AF_INET ? 4 : 6);
  sockaddr_storage sa{};
  socklen_t len = sizeof sa;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) < 0) throw ErrnoError(env, errno, "getsockname");
  o.Set("local", EndpointObject(env, sa));
  len = sizeof sa;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&sa), &len) == 0)
    o.Set("remote", EndpointObject(env, sa));
  else
    o.Set("remote", env.Null());
  int soerr = 0;
  len = sizeof soerr;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
  o.Set("error", soerr ? Napi::Value(Napi::String::New(env, ErrnoName(soerr))) : env.Null());
  uint32_t m[SK_MEMINFO_VARS] = {};
  len = sizeof m;
  if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, m, &len) == 0) o.Set("optmem", m[SK_MEMINFO_OPTMEM]);
  tcp_info ti{};
  len = sizeof ti;
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0) {
    Napi::Object t = Napi::Object::New(env);
    t.Set("state", TcpStateName(ti.tcpi_state));
    t.Set("rttUs", ti.tcpi_rtt);
    t.Set("rttVarUs", ti.tcpi_rttvar);
    t.Set("rtoUs", ti.tcpi_rto);
    t.Set("retransmits", ti.tcpi_retransmits);
    t.Set("totalRetrans", ti.tcpi_total_retrans);
    t.Set("unacked", ti.tcpi_unacked);
    t.Set("lastDataRecvMs", ti.tcpi_last_data_recv);
    t.Set("lastAckRecvMs", ti.tcpi_last_ack_recv);
    if (ti.tcpi_state == 10 /* TCP_LISTEN */) {
      t.Set("acceptQueue", ti.tcpi_unacked);  // connections waiting for accept()
      t.Set("backlog", ti.tcpi_sacked);       // the effective backlog (capped by somaxconn)
    }
    o.Set("tcp", t);
  }
  return o;
}

// Read integer sysctls (names as paths under /proc/sys, e.g. "net/core/somaxconn") as the
// namespace at netns (optional) sees them. Missing or unreadable ones are null.
Napi::Value Sysctls(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto names = info[0].As<Napi::Array>();
  std::string netns = OptionalString(info, 1);
  std::vector<std::string> paths;
  for (uint32_t i = 0; i < names.Length(); i++) paths.push_back(names.Get(i).As<Napi::String>().Utf8Value());
  std::vector<std::pair<bool, long long>> values(paths.size(), {false, 0});
  std::string syscall;
  int nserr = InNetns(netns, [&] {
    for (size_t i = 0; i < paths.size(); i++) {
      if (paths[i].find("..") != std::string::npos) continue;
      std::ifstream f("/proc/sys/" + paths[i]);
      long long v;
      if (f >> v) values[i] = {true, v};
    }
  }, &syscall);
  if (nserr) throw ErrnoError(env, nserr, syscall, netns);
  Napi::Object o = Napi::Object::New(env);
  for (size_t i = 0; i < paths.size(); i++)
    o.Set(paths[i], values[i].first ? Napi::Value(Napi::Number::New(env, static_cast<double>(values[i].second))) : env.Null());
  return o;
}

}  // namespace

void InitSockets(Napi::Env env, Napi::Object exports) {
  exports.Set("sockOpen", Napi::Function::New(env, Open));
  exports.Set("sockSetOption", Napi::Function::New(env, SetOption));
  exports.Set("sockGetOption", Napi::Function::New(env, GetOption));
  exports.Set("sockBind", Napi::Function::New(env, Bind));
  exports.Set("sockListen", Napi::Function::New(env, Listen));
  exports.Set("sockClose", Napi::Function::New(env, Close));
  exports.Set("sockMd5", Napi::Function::New(env, SetMd5));
  exports.Set("sockMd5Capacity", Napi::Function::New(env, Md5Capacity));
  exports.Set("sockAttachReuseportCbpf", Napi::Function::New(env, AttachReuseportCbpf));
  exports.Set("sockInfo", Napi::Function::New(env, Info));
  exports.Set("sockSysctls", Napi::Function::New(env, Sysctls));
}

ROUTELET_REGISTER(InitSockets);

}  // namespace routelet::sock

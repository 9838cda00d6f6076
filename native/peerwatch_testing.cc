// Test-only helper for the peerwatch tests: a TCP socket created inside a given network
// namespace (a thread of its own joins it, so the process stays where it is), with TCP-MD5
// keys set and optionally bound. Node then adopts the fd (new net.Socket({ fd }) to
// connect, server.listen({ fd }) to accept): the socket keeps its namespace for life.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "errors.h"
#include "registry.h"

namespace routelet {
namespace {

struct Key {
  std::string address;
  std::string key;
};

struct Request {
  std::string netns;
  int family = 4;
  std::string bind_address;
  int bind_port = -1;
  std::vector<Key> md5;
};

struct Result {
  int fd = -1;
  int err = 0;
  std::string syscall;
  std::string detail;
};

bool ToSockaddr(int family, const std::string& text, int port, sockaddr_storage* ss, socklen_t* len) {
  std::memset(ss, 0, sizeof *ss);
  if (family == 4) {
    auto* s = reinterpret_cast<sockaddr_in*>(ss);
    s->sin_family = AF_INET;
    s->sin_port = htons(port);
    *len = sizeof *s;
    return inet_pton(AF_INET, text.c_str(), &s->sin_addr) == 1;
  }
  auto* s = reinterpret_cast<sockaddr_in6*>(ss);
  s->sin6_family = AF_INET6;
  s->sin6_port = htons(port);
  *len = sizeof *s;
  return inet_pton(AF_INET6, text.c_str(), &s->sin6_addr) == 1;
}

Result Make(const Request& r) {
  Result out;
  auto fail = [&](const char* sc, const std::string& d) {
    out.err = errno ? errno : EINVAL;
    out.syscall = sc;
    out.detail = d;
    if (out.fd >= 0) close(out.fd);
    out.fd = -1;
    return out;
  };
  if (!r.netns.empty()) {
    int ns = open(r.netns.c_str(), O_RDONLY | O_CLOEXEC);
    if (ns < 0) return fail("open", r.netns);
    int e = setns(ns, CLONE_NEWNET);
    close(ns);
    if (e < 0) return fail("setns", r.netns);
  }
  out.fd = socket(r.family == 4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (out.fd < 0) return fail("socket", "");
  int one = 1;
  setsockopt(out.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  for (const Key& k : r.md5) {
    tcp_md5sig sig{};
    socklen_t len;
    int fam = k.address.find(':') != std::string::npos ? 6 : 4;
    if (!ToSockaddr(fam, k.address, 0, reinterpret_cast<sockaddr_storage*>(&sig.tcpm_addr), &len)) {
      errno = EINVAL;
      return fail("inet_pton", k.address);
    }
    sig.tcpm_keylen = static_cast<uint16_t>(k.key.size());
    std::memcpy(sig.tcpm_key, k.key.data(), std::min<size_t>(k.key.size(), TCP_MD5SIG_MAXKEYLEN));
    if (setsockopt(out.fd, IPPROTO_TCP, TCP_MD5SIG, &sig, sizeof sig) < 0) return fail("setsockopt(TCP_MD5SIG)", k.address);
  }
  if (r.bind_port >= 0) {
    sockaddr_storage ss;
    socklen_t len;
    if (!ToSockaddr(r.family, r.bind_address, r.bind_port, &ss, &len)) {
      errno = EINVAL;
      return fail("inet_pton", r.bind_address);
    }
    if (bind(out.fd, reinterpret_cast<sockaddr*>(&ss), len) < 0) return fail("bind", r.bind_address);
  }
  return out;
}

// peerwatchTestSocket(netnsPath: string, { family: 4|6, bind?: {address, port}, md5?: [{address, key}] }) → fd
Napi::Value TestSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString() || !info[1].IsObject()) throw Napi::TypeError::New(env, "peerwatchTestSocket(netnsPath, options)");
  Request r;
  r.netns = info[0].As<Napi::String>().Utf8Value();
  Napi::Object o = info[1].As<Napi::Object>();
  r.family = o.Get("family").ToNumber().Int32Value() == 6 ? 6 : 4;
  if (o.Get("bind").IsObject()) {
    Napi::Object b = o.Get("bind").As<Napi::Object>();
    r.bind_address = b.Get("address").ToString().Utf8Value();
    r.bind_port = b.Get("port").ToNumber().Int32Value();
  }
  if (o.Get("md5").IsArray()) {
    Napi::Array a = o.Get("md5").As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) {
      Napi::Object k = a.Get(i).As<Napi::Object>();
      r.md5.push_back({k.Get("address").ToString().Utf8Value(), k.Get("key").ToString().Utf8Value()});
    }
  }
  Result res;
  std::thread t([&] { res = Make(r); });
  t.join();
  if (res.fd < 0) throw ErrnoError(env, res.err, res.syscall, res.detail);
  return Napi::Number::New(env, res.fd);
}

}  // namespace

void InitPeerWatchTesting(Napi::Env env, Napi::Object exports) {
  exports.Set("peerwatchTestSocket", Napi::Function::New(env, TestSocket));
}

ROUTELET_REGISTER(InitPeerWatchTesting);

}  // namespace routelet

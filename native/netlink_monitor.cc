// The netlink monitor: route, link, address and next-hop notifications of one network
// namespace, polled on the event loop with uv_poll and delivered to JavaScript in batches.
// Notifications caused by the route queue's own socket are dropped in the kernel by a socket
// filter, so a bulk install costs the monitor nothing and the events left are other writers'.
//
// new NetlinkMonitor({ netns, table, ignorePortId, routeLength }, onEvents)
//   onEvents(routes: Buffer of route records (route_wire.h), events: object[])
//   events: { type: 'link', action, ifindex, name, up, running }
//           { type: 'address', action, family, ifindex, address, prefixLength }
//           { type: 'nexthop', action, id, protocol }
//           { type: 'overflow' }   (notifications were lost: resynchronise by a dump)
#include <arpa/inet.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/nexthop.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "errors.h"
#include "netlink_socket.h"
#include "registry.h"
#include "route_wire.h"

namespace routelet {
namespace {

constexpr int kMonitorRcvbuf = 16 << 20;
constexpr int kRoundsPerWakeup = 64;

class NetlinkMonitor : public Napi::ObjectWrap<NetlinkMonitor> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NetlinkMonitor",
                       {
                           InstanceMethod<&NetlinkMonitor::Close>("close"),
                           InstanceMethod<&NetlinkMonitor::Ref>("ref"),
                           InstanceMethod<&NetlinkMonitor::Unref>("unref"),
                       });
  }

  explicit NetlinkMonitor(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NetlinkMonitor>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction())
      throw Napi::TypeError::New(env, "NetlinkMonitor(options, onEvents)");
    Napi::Object o = info[0].As<Napi::Object>();
    std::string netns = o.Has("netns") && o.Get("netns").IsString() ? o.Get("netns").As<Napi::String>().Utf8Value() : "";
    table_ = o.Get("table").As<Napi::Number>().Uint32Value();
    uint32_t ignore = o.Has("ignorePortId") && o.Get("ignorePortId").IsNumber()
                          ? o.Get("ignorePortId").As<Napi::Number>().Uint32Value()
                          : 0;
    int routeLength = o.Has("routeLength") && o.Get("routeLength").IsNumber() ? o.Get("routeLength").As<Napi::Number>().Int32Value() : -1;
    nl::SocketOptions so;
    so.rcvbuf = kMonitorRcvbuf;
    so.nonblocking = true;
    so.groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE;
    std::string syscall;
    fd_ = nl::OpenSocketIn(netns, so, &syscall);
    if (fd_ < 0) throw ErrnoError(env, -fd_, syscall, netns.empty() ? "cannot open NETLINK_ROUTE" : "cannot enter " + netns);
    nl::JoinGroup(fd_, RTNLGRP_NEXTHOP);  // older kernels have no next-hop objects: not fatal
    if (ignore || routeLength >= 0) {
      if (int e = nl::FilterNotifications(fd_, ignore, routeLength)) {
        close(fd_);
        throw ErrnoError(env, e, "setsockopt", "SO_ATTACH_FILTER on the monitor socket");
      }
    }
    callback_ = Napi::Persistent(info[1].As<Napi::Function>());
    context_ = std::make_unique<Napi::AsyncContext>(env, "routelet netlink monitor");
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    poll_ = new uv_poll_t;
    uv_poll_init(loop, poll_, fd_);
    poll_->data = this;
    uv_poll_start(poll_, UV_READABLE, OnReadable);
    Napi::ObjectWrap<NetlinkMonitor>::Ref();  // stay alive while polling
    napi_add_env_cleanup_hook(env, CleanupHook, this);
  }

  ~NetlinkMonitor() override { Shutdown(); }

 private:
  static void CleanupHook(void* self) {
    auto* m = static_cast<NetlinkMonitor*>(self);
    m->hooked_ = false;
    m->Shutdown();
  }

  void Shutdown() {
    if (hooked_) {
      napi_remove_env_cleanup_hook(Env(), CleanupHook, this);
      hooked_ = false;
    }
    if (!poll_) return;
    uv_poll_stop(poll_);
    poll_->data = reinterpret_cast<void*>(static_cast<intptr_t>(fd_));
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) {
      close(static_cast<int>(reinterpret_cast<intptr_t>(h->data)));
      delete reinterpret_cast<uv_poll_t*>(h);
    });
    poll_ = nullptr;
    fd_ = -1;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (poll_) {
      Shutdown();
      Napi::ObjectWrap<NetlinkMonitor>::Unref();
    }
    return info.Env().Undefined();
  }

  Napi::Value Ref(const Napi::CallbackInfo& info) {
    if (poll_) uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
    return info.Env().Undefined();
  }

  Napi::Value Unref(const Napi::CallbackInfo& info) {
    if (poll_) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
    return info.Env().Undefined();
  }

  static void OnReadable(uv_poll_t* h, int status, int) {
    auto* m = static_cast<NetlinkMonitor*>(h->data);
    m->ReadAndDeliver(status);
  }

  void ReadAndDeliver(int status) {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    std::vector<uint8_t> routes;
    Napi::Array events = Napi::Array::New(env);
    for (int round = 0; round < kRoundsPerWakeup && fd_ >= 0; round++) {
      int n = reader_.Receive(fd_, false);
      if (n == -ENOBUFS) {
        Napi::Object e = Napi::Object::New(env);
        e.Set("type", "overflow");
        events.Set(events.Length(), e);
        continue;
      }
      if (n <= 0) break;
      for (int i = 0; i < n; i++) {
        int len;
        const nlmsghdr* msg = reader_.Datagram(i, &len);
        for (; NLMSG_OK(msg, static_cast<unsigned>(len)); msg = NLMSG_NEXT(msg, len)) Decode(env, msg, &routes, events);
      }
    }
    if (routes.empty() && events.Length() == 0) return;
    auto* heap = new std::vector<uint8_t>(std::move(routes));
    Napi::Buffer<uint8_t> buf = Napi::Buffer<uint8_t>::New(
        env, heap->data(), heap->size(), [](Napi::Env, uint8_t*, std::vector<uint8_t>* v) { delete v; }, heap);
    try {
      callback_.MakeCallback(Value(), {buf, events}, *context_);
    } catch (const Napi::Error& e) {
      napi_fatal_exception(env, e.Value());
    }
  }

  void Decode(Napi::Env env, const nlmsghdr* h, std::vector<uint8_t>* routes, Napi::Array& events) {
    switch (h->nlmsg_type) {
      case RTM_NEWROUTE:
      case RTM_DELROUTE:
        route::AppendRouteRecord(routes, h, table_);
        return;
      case RTM_NEWLINK:
      case RTM_DELLINK: {
        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(ifinfomsg))) return;
        auto* ifi = static_cast<const ifinfomsg*>(NLMSG_DATA(h));
        Napi::Object e = Napi::Object::New(env);
        e.Set("type", "link");
        e.Set("action", h->nlmsg_type == RTM_NEWLINK ? "new" : "delete");
        e.Set("ifindex", ifi->ifi_index);
        e.Set("up", (ifi->ifi_flags & IFF_UP) != 0);
        e.Set("running", (ifi->ifi_flags & IFF_RUNNING) != 0 && (ifi->ifi_flags & IFF_LOWER_UP) != 0);
        std::string name;
        int alen = static_cast<int>(IFLA_PAYLOAD(h));
        for (auto* a = IFLA_RTA(ifi); RTA_OK(a, alen); a = RTA_NEXT(a, alen))
          if (a->rta_type == IFLA_IFNAME) name.assign(static_cast<const char*>(RTA_DATA(a)), strnlen(static_cast<const char*>(RTA_DATA(a)), RTA_PAYLOAD(a)));
        e.Set("name", name);
        events.Set(events.Length(), e);
        return;
      }
      case RTM_NEWADDR:
      case RTM_DELADDR: {
        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(ifaddrmsg))) return;
        auto* ifa = static_cast<const ifaddrmsg*>(NLMSG_DATA(h));
        const void* addr = nullptr;
        int alen = static_cast<int>(IFA_PAYLOAD(h));
        for (auto* a = IFA_RTA(ifa); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
          if (a->rta_type == IFA_LOCAL || (a->rta_type == IFA_ADDRESS && !addr)) addr = RTA_DATA(a);
        }
        char text[INET6_ADDRSTRLEN] = "";
        if (addr) inet_ntop(ifa->ifa_family, addr, text, sizeof text);
        Napi::Object e = Napi::Object::New(env);
        e.Set("type", "address");
        e.Set("action", h->nlmsg_type == RTM_NEWADDR ? "new" : "delete");
        e.Set("family", ifa->ifa_family == AF_INET6 ? 6 : 4);
        e.Set("ifindex", ifa->ifa_index);
        e.Set("address", std::string(text));
        e.Set("prefixLength", ifa->ifa_prefixlen);
        events.Set(events.Length(), e);
        return;
      }
      case RTM_NEWNEXTHOP:
      case RTM_DELNEXTHOP: {
        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(nhmsg))) return;
        auto* nh = static_cast<const nhmsg*>(NLMSG_DATA(h));
        uint32_t id = 0;
        int alen = static_cast<int>(h->nlmsg_len - NLMSG_LENGTH(sizeof(nhmsg)));
        auto* a = reinterpret_cast<const rtattr*>(reinterpret_cast<const char*>(nh) + NLMSG_ALIGN(sizeof(nhmsg)));
        for (; RTA_OK(a, alen); a = RTA_NEXT(a, alen))
          if (a->rta_type == NHA_ID && RTA_PAYLOAD(a) >= 4) std::memcpy(&id, RTA_DATA(a), 4);
        Napi::Object e = Napi::Object::New(env);
        e.Set("type", "nexthop");
        e.Set("action", h->nlmsg_type == RTM_NEWNEXTHOP ? "new" : "delete");
        e.Set("id", id);
        e.Set("protocol", nh->nh_protocol);
        events.Set(events.Length(), e);
        return;
      }
      default:
        return;
    }
  }

  int fd_ = -1;
  uint32_t table_ = 0;
  uv_poll_t* poll_ = nullptr;
  bool hooked_ = true;
  Napi::FunctionReference callback_;
  std::unique_ptr<Napi::AsyncContext> context_;
  nl::BulkReader reader_{64, 16384};
};

void InitMonitor(Napi::Env env, Napi::Object exports) { exports.Set("NetlinkMonitor", NetlinkMonitor::Define(env)); }

}  // namespace

ROUTELET_REGISTER(InitMonitor);

}  // namespace routelet

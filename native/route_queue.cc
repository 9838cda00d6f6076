#include "route_queue.h"

#include <malloc.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstring>
#include <future>
#include <memory>

#include "errors.h"
#include "registry.h"

namespace routelet {
namespace {

constexpr int kAckRcvbuf = 32 << 20;
constexpr int kDumpRcvbuf = 8 << 20;
constexpr int kSpinMicros = 50;
constexpr size_t kTrimAfterBytes = 8 << 20;
constexpr uint8_t kPing = 255;

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

std::string HandleText(uint32_t h) { return "next-hop handle " + std::to_string(h); }

Napi::Value ResultToJs(Napi::Env env, QueueResult& r) {
  Napi::Object o = Napi::Object::New(env);
  switch (r.kind) {
    case QueueResult::kRoutes: {
      o.Set("kind", "routes");
      o.Set("batch", r.id);
      o.Set("start", r.start);
      o.Set("count", r.count);
      if (!r.failures.empty()) {
        auto f = Napi::Int32Array::New(env, r.failures.size());
        std::memcpy(f.Data(), r.failures.data(), r.failures.size() * sizeof(int32_t));
        o.Set("failures", f);
        Napi::Array m = Napi::Array::New(env, r.messages.size());
        for (uint32_t i = 0; i < r.messages.size(); i++) m.Set(i, r.messages[i]);
        o.Set("messages", m);
      }
      break;
    }
    case QueueResult::kNexthop:
      o.Set("kind", "nexthop");
      o.Set("handle", r.id);
      o.Set("release", r.release);
      o.Set("errno", r.err);
      o.Set("message", r.message);
      break;
    case QueueResult::kDump: {
      o.Set("kind", "dump");
      o.Set("request", r.id);
      o.Set("errno", r.err);
      auto* heap = new std::vector<uint8_t>(std::move(r.data));
      o.Set("data", Napi::Buffer<uint8_t>::New(env, heap->data(), heap->size(),
                                               [](Napi::Env, uint8_t*, std::vector<uint8_t>* v) { delete v; }, heap));
      break;
    }
    case QueueResult::kEcho: {
      o.Set("kind", "echo");
      auto* heap = new std::vector<uint8_t>(std::move(r.data));
      o.Set("data", Napi::Buffer<uint8_t>::New(env, heap->data(), heap->size(),
                                               [](Napi::Env, uint8_t*, std::vector<uint8_t>* v) { delete v; }, heap));
      break;
    }
    case QueueResult::kClosed:
      o.Set("kind", "closed");
      break;
  }
  return o;
}

}  // namespace

void DeliverResults(Napi::Env env, Napi::Function callback, Outbox* box, void*) {
  std::vector<QueueResult> items;
  {
    std::lock_guard<std::mutex> g(box->m);
    items.swap(box->items);
    box->scheduled = false;
  }
  if (env == nullptr || items.empty()) return;
  Napi::Array arr = Napi::Array::New(env, items.size());
  for (uint32_t i = 0; i < items.size(); i++) arr.Set(i, ResultToJs(env, items[i]));
  callback.Call({arr});
}

Napi::Function RouteQueue::Define(Napi::Env env) {
  return DefineClass(env, "RouteQueue",
                     {
                         InstanceMethod<&RouteQueue::Submit>("submit"),
                         InstanceMethod<&RouteQueue::SubmitNow>("submitNow"),
                         InstanceMethod<&RouteQueue::DefineNexthop>("defineNexthop"),
                         InstanceMethod<&RouteQueue::DefineGroup>("defineGroup"),
                         InstanceMethod<&RouteQueue::ReleaseNexthop>("releaseNexthop"),
                         InstanceMethod<&RouteQueue::Dump>("dump"),
                         InstanceMethod<&RouteQueue::Close>("close"),
                         InstanceMethod<&RouteQueue::Ref>("ref"),
                         InstanceMethod<&RouteQueue::Unref>("unref"),
                         InstanceAccessor<&RouteQueue::GetPortId>("portId"),
                         InstanceAccessor<&RouteQueue::GetNexthopObjects>("nexthopObjects"),
                     });
}

// new RouteQueue({ netns, table, protocol, metric, nexthopObjects, nexthopIdBase, batchBytes }, onResults)
// The facade (src/native/netlink.ts) validates every option first.
RouteQueue::RouteQueue(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RouteQueue>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction())
    throw Napi::TypeError::New(env, "RouteQueue(options, onResults)");
  Napi::Object o = info[0].As<Napi::Object>();
  std::string netns = o.Has("netns") && o.Get("netns").IsString() ? o.Get("netns").As<Napi::String>().Utf8Value() : "";
  cfg_.table = o.Get("table").As<Napi::Number>().Uint32Value();
  cfg_.protocol = static_cast<uint8_t>(o.Get("protocol").As<Napi::Number>().Uint32Value());
  cfg_.nexthopObjects = o.Get("nexthopObjects").ToBoolean();
  cfg_.nexthopIdBase = o.Get("nexthopIdBase").As<Napi::Number>().Uint32Value();
  if (o.Has("metric") && o.Get("metric").IsNumber()) {
    cfg_.hasMetric = true;
    cfg_.metric = o.Get("metric").As<Napi::Number>().Uint32Value();
  }
  if (o.Has("batchBytes") && o.Get("batchBytes").IsNumber())
    batchBytes_ = std::max<size_t>(4096, o.Get("batchBytes").As<Napi::Number>().Uint32Value());
  buf_.resize(batchBytes_ + 65536);

  outbox_ = new Outbox();
  results_ = ResultsFn::New(env, info[1].As<Napi::Function>(), "routelet route queue", 0, 1, outbox_,
                            [](Napi::Env, void*, Outbox* box) { delete box; }, static_cast<void*>(nullptr));

  auto started = std::make_shared<std::promise<std::pair<int, std::string>>>();
  auto ready = started->get_future();
  thread_ = std::thread([this, netns, started] {
    std::string syscall;
    if (int e = nl::EnterNetns(netns, &syscall)) {
      started->set_value({e, syscall});
      return;
    }
    nl::SocketOptions so;
    so.rcvbuf = kAckRcvbuf;
    so.sndbuf = static_cast<int>(batchBytes_ * 2 + 65536);
    fd_ = nl::OpenSocket(so);
    if (fd_ < 0) {
      started->set_value({-fd_, "socket"});
      return;
    }
    nl::SocketOptions ds;
    ds.rcvbuf = kDumpRcvbuf;
    ds.strictDump = true;
    dumpFd_ = nl::OpenSocket(ds);
    if (dumpFd_ < 0) {
      started->set_value({-dumpFd_, "socket"});
      return;
    }
    portId_ = nl::PortId(fd_);
    // The lane's socket; without it (its port id taken) every submission uses the thread.
    nl::SocketOptions ls;
    ls.nonblocking = true;
    ls.portId = portId_ ^ nl::kLanePortBit;
    laneFd_ = nl::OpenSocket(ls);
    if (laneFd_ < 0) laneFd_ = -1;
    started->set_value({0, ""});
    Run();
  });
  auto [err, syscall] = ready.get();
  if (err) {
    thread_.join();
    if (fd_ >= 0) close(fd_);
    if (dumpFd_ >= 0) close(dumpFd_);
    results_.Release();
    released_ = true;
    throw ErrnoError(env, err, syscall, netns.empty() ? "cannot open NETLINK_ROUTE" : "cannot enter " + netns);
  }
  if (laneFd_ >= 0) writer_ = std::thread([this] { RunWriter(); });
  napi_add_env_cleanup_hook(env, CleanupHook, this);
  hooked_ = true;
}

RouteQueue::~RouteQueue() {
  Stop(true);
  if (hooked_) napi_remove_env_cleanup_hook(Env(), CleanupHook, this);
}

void RouteQueue::CleanupHook(void* self) {
  auto* q = static_cast<RouteQueue*>(self);
  q->hooked_ = false;
  q->Stop(true);
}

void RouteQueue::Stop(bool abort) {
  {
    std::lock_guard<std::mutex> g(mutex_);
    stopping_ = true;
    if (abort) abort_ = true;
  }
  cv_.notify_one();
  {
    std::lock_guard<std::mutex> g(writerMutex_);
    writerStop_ = true;
  }
  writerCv_.notify_one();
  if (thread_.joinable()) thread_.join();
  if (writer_.joinable()) writer_.join();
  if (fd_ >= 0) close(fd_);
  if (dumpFd_ >= 0) close(dumpFd_);
  if (laneFd_ >= 0) close(laneFd_);
  fd_ = dumpFd_ = laneFd_ = -1;
}

void RouteQueue::Push(Command c) {
  {
    std::lock_guard<std::mutex> g(mutex_);
    if (stopping_) throw std::runtime_error("route queue is closed");
    c.seq = ++cmdSeq_;
    queue_.push_back(std::move(c));
    queued_.store(true, std::memory_order_release);
  }
  cv_.notify_one();
}

// submit(batchId, ops: Uint8Array, count, urgent?): queued in order, or with urgent (and
// handles the thread already has) to the urgent writer, ahead of the queue (route_queue.h).
// Returns whether it went ahead.
Napi::Value RouteQueue::Submit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[1].IsTypedArray()) throw Napi::TypeError::New(env, "submit(batch, ops, count, urgent?)");
  auto ops = info[1].As<Napi::Uint8Array>();
  uint32_t count = info[2].As<Napi::Number>().Uint32Value();
  if (static_cast<size_t>(count) * route::kOpBytes > ops.ByteLength())
    throw Napi::RangeError::New(env, "submit: ops holds fewer than count operations");
  uint32_t id = info[0].As<Napi::Number>().Uint32Value();
  bool urgent = info.Length() > 3 && info[3].ToBoolean() && writer_.joinable() &&
                LaneOk(ops.Data(), count, doneCmd_.load(std::memory_order_acquire));
  if (!urgent) {
    Command c(Command::kRoutes);
    c.id = id;
    c.count = count;
    c.bytes.assign(ops.Data(), ops.Data() + static_cast<size_t>(count) * route::kOpBytes);
    try {
      Push(std::move(c));
    } catch (const std::runtime_error& e) {
      throw Napi::Error::New(env, e.what());
    }
    return Napi::Boolean::New(env, false);
  }
  UrgentWrite w;
  w.id = id;
  w.count = count;
  route::Op list[kLaneMaxOps];
  std::memcpy(list, ops.Data(), static_cast<size_t>(count) * route::kOpBytes);
  w.msgs.resize(BuildLane(list, count, &w.msgs, &w.firstSeq, &w.syncSeq));
  {
    std::lock_guard<std::mutex> g(mutex_);
    if (stopping_) throw Napi::Error::New(env, "route queue is closed");
    writesPending_.fetch_add(1, std::memory_order_relaxed);
  }
  {
    std::lock_guard<std::mutex> g(writerMutex_);
    writes_.push_back(std::move(w));
  }
  writerCv_.notify_one();
  return Napi::Boolean::New(env, true);
}

// Whether the lane or the urgent writer may send operations ahead of the queue: a few, each
// valid, and each handle's current definition already taken by the thread (commands up to
// `done` are processed and sent, so a kernel object it names exists).
bool RouteQueue::LaneOk(const uint8_t* bytes, uint32_t count, uint64_t done) const {
  if (count == 0 || count > kLaneMaxOps) return false;
  for (uint32_t i = 0; i < count; i++) {
    route::Op op;
    std::memcpy(&op, bytes + static_cast<size_t>(i) * route::kOpBytes, sizeof op);
    if ((op.family != 4 && op.family != 6) || op.length > (op.family == 4 ? 32 : 128)) return false;
    if (op.op == route::kOpDelete) continue;
    if (op.op != route::kOpReplace || op.handle >= jsHandles_.size()) return false;
    const route::Handle& h = jsHandles_[op.handle];
    if (!h.defined || h.family != op.family || jsDefinedAt_[op.handle] > done) return false;
  }
  return true;
}

// defineNexthop(handle, family, gwFamily, gateway: Uint8Array | null, ifindex, onlink)
Napi::Value RouteQueue::DefineNexthop(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Command c(Command::kDefine);
  c.id = info[0].As<Napi::Number>().Uint32Value();
  route::Handle& h = c.handle;
  h.family = static_cast<uint8_t>(info[1].As<Napi::Number>().Uint32Value());
  route::Hop hop;
  hop.gwFamily = static_cast<uint8_t>(info[2].As<Napi::Number>().Uint32Value());
  if (hop.gwFamily) {
    auto gw = info[3].As<Napi::Uint8Array>();
    std::memcpy(hop.gw, gw.Data(), std::min<size_t>(gw.ByteLength(), 16));
  }
  hop.ifindex = info[4].As<Napi::Number>().Uint32Value();
  hop.onlink = info[5].ToBoolean();
  h.hops.push_back(hop);
  route::Handle copy = h;
  try {
    Push(std::move(c));
  } catch (const std::runtime_error& e) {
    throw Napi::Error::New(env, e.what());
  }
  MirrorDefine(c.id, std::move(copy), false, {}, {});
  return env.Undefined();
}

// defineGroup(handle, family, members: Uint32Array, weights: Uint16Array)
Napi::Value RouteQueue::DefineGroup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Command c(Command::kGroup);
  c.id = info[0].As<Napi::Number>().Uint32Value();
  c.handle.family = static_cast<uint8_t>(info[1].As<Napi::Number>().Uint32Value());
  auto members = info[2].As<Napi::Uint32Array>();
  auto weights = info[3].As<Napi::Uint16Array>();
  c.members.assign(members.Data(), members.Data() + members.ElementLength());
  c.weights.assign(weights.Data(), weights.Data() + weights.ElementLength());
  uint32_t id = c.id;
  route::Handle g;
  g.family = c.handle.family;
  std::vector<uint32_t> ms = c.members;
  std::vector<uint16_t> ws = c.weights;
  try {
    Push(std::move(c));
  } catch (const std::runtime_error& e) {
    throw Napi::Error::New(env, e.what());
  }
  MirrorDefine(id, std::move(g), true, ms, ws);
  return env.Undefined();
}

Napi::Value RouteQueue::ReleaseNexthop(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Command c(Command::kRelease);
  uint32_t id = c.id = info[0].As<Napi::Number>().Uint32Value();
  try {
    Push(std::move(c));
  } catch (const std::runtime_error& e) {
    throw Napi::Error::New(env, e.what());
  }
  if (id < jsHandles_.size()) jsHandles_[id] = route::Handle{};
  return env.Undefined();
}

// The JavaScript thread's copy of a handle, for the lane: the same checks and encoding as the
// thread's (Process, AddDefine); a definition the thread will refuse leaves it undefined.
void RouteQueue::MirrorDefine(uint32_t handle, route::Handle h, bool group, const std::vector<uint32_t>& members,
                              const std::vector<uint16_t>& weights) {
  if (handle == 0 || handle > route::kMaxHandle) return;
  if (handle >= jsHandles_.size()) {
    size_t n = std::max<size_t>(handle + 1, jsHandles_.size() * 2);
    jsHandles_.resize(n);
    jsDefinedAt_.resize(n);
  }
  jsHandles_[handle] = route::Handle{};
  if (group) {
    h.group = true;
    for (size_t i = 0; i < members.size(); i++) {
      uint32_t m = members[i];
      if (m >= jsHandles_.size() || !jsHandles_[m].defined || jsHandles_[m].group) return;
      route::Hop hop = jsHandles_[m].hops[0];
      hop.weight = i < weights.size() ? weights[i] : 1;
      h.hops.push_back(hop);
      h.members.push_back(m);
    }
  }
  h.defined = true;
  route::EncodeHandle(cfg_, &h);
  jsHandles_[handle] = std::move(h);
  jsDefinedAt_[handle] = cmdSeq_;
}

// submitNow(batch, ops: Uint8Array, count): the lane (route_queue.h). Returns true when it
// sent the operations and every one succeeded with nothing echoed, the results (as onResults
// receives them) when it sent them otherwise, or undefined when they must go through submit:
// too many, a handle the lane cannot use yet, an invalid operation (the thread reports it),
// or earlier work still on the thread.
Napi::Value RouteQueue::SubmitNow(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[1].IsTypedArray()) throw Napi::TypeError::New(env, "submitNow(batch, ops, count)");
  auto bytes = info[1].As<Napi::Uint8Array>();
  uint32_t count = info[2].As<Napi::Number>().Uint32Value();
  if (static_cast<size_t>(count) * route::kOpBytes > bytes.ByteLength())
    throw Napi::RangeError::New(env, "submitNow: ops holds fewer than count operations");
  if (laneFd_ < 0 || count == 0 || count > kLaneMaxOps) return env.Undefined();
  {
    std::lock_guard<std::mutex> g(mutex_);
    if (stopping_) throw Napi::Error::New(env, "route queue is closed");
  }
  uint64_t done = doneCmd_.load(std::memory_order_acquire);
  if (done != cmdSeq_) return env.Undefined();
  // the urgent writer has the socket until it is done
  if (writesPending_.load(std::memory_order_acquire) != 0) return env.Undefined();
  if (!LaneOk(bytes.Data(), count, done)) return env.Undefined();
  uint32_t batch = info[0].As<Napi::Number>().Uint32Value();

  route::Op ops[kLaneMaxOps];
  std::memcpy(ops, bytes.Data(), static_cast<size_t>(count) * route::kOpBytes);
  uint32_t firstSeq = 0, syncSeq = 0;
  size_t used = BuildLane(ops, count, &laneBuf_, &firstSeq, &syncSeq);
  if (laneRecv_.empty()) laneRecv_.resize(64 * 1024);
  LaneAnswer a;
  Exchange(laneBuf_.data(), used, firstSeq, count, syncSeq, &laneRecv_, &a);
  if (AnswerClean(a)) return Napi::Boolean::New(env, true);
  std::vector<QueueResult> results;
  AnswerResults(batch, count, a, &results);
  Napi::Array out = Napi::Array::New(env, results.size());
  for (uint32_t k = 0; k < results.size(); k++) out.Set(k, ResultToJs(env, results[k]));
  return out;
}

// The lane's messages for ops (valid, their handles usable: the caller checked) into out.
size_t RouteQueue::BuildLane(const route::Op* ops, uint32_t count, std::vector<char>* out, uint32_t* firstSeq,
                             uint32_t* syncSeq) {
  size_t room = 0;
  for (uint32_t i = 0; i < count; i++) {
    const route::Handle* h = ops[i].op == route::kOpReplace ? &jsHandles_[ops[i].handle] : nullptr;
    room += NLMSG_ALIGN(route::RouteMessageBytes(h));
  }
  if (out->size() < room) out->resize(room);
  size_t used = 0, lastMsg = 0;
  *firstSeq = laneSeq_;
  for (uint32_t i = 0; i < count; i++) {
    const route::Op& op = ops[i];
    const route::Handle* h = op.op == route::kOpReplace ? &jsHandles_[op.handle] : nullptr;
    lastMsg = used;
    used += NLMSG_ALIGN(route::BuildRoute(out->data() + used, cfg_, op, h, laneSeq_++,
                                          (op.flags & route::kOpFlagEcho) ? NLM_F_ECHO : 0));
  }
  if (laneSeq_ > 0xf0000000u) laneSeq_ = 1;
  auto* last = reinterpret_cast<nlmsghdr*>(out->data() + lastMsg);
  last->nlmsg_flags |= NLM_F_ACK;
  *syncSeq = last->nlmsg_seq;
  return used;
}

// Send on the lane's socket and read every answer: the kernel answers inside sendmsg, so
// nothing more to read means lost (never waited for).
void RouteQueue::Exchange(const char* msgs, size_t used, uint32_t firstSeq, uint32_t count, uint32_t syncSeq,
                          std::vector<char>* recvBuf, LaneAnswer* a) const {
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  ssize_t sent;
  do {
    sent = sendto(laneFd_, msgs, used, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) {
    a->missing = errno;
    return;
  }
  if (recvBuf->empty()) recvBuf->resize(64 * 1024);
  bool synced = false;
  while (!synced) {
    ssize_t n = recv(laneFd_, recvBuf->data(), recvBuf->size(), MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      a->missing = errno == EAGAIN ? EIO : errno;
      return;
    }
    int left = static_cast<int>(n);
    for (auto* h = reinterpret_cast<const nlmsghdr*>(recvBuf->data()); NLMSG_OK(h, static_cast<unsigned>(left));
         h = NLMSG_NEXT(h, left)) {
      if (h->nlmsg_type == RTM_NEWROUTE) route::AppendRouteRecord(&a->echoes, h, 0);
      if (h->nlmsg_type != NLMSG_ERROR) continue;
      nl::Ack ack = nl::DecodeAck(h);
      uint32_t k = ack.seq - firstSeq;
      if (k < count && ack.err) {
        a->errs[k] = ack.err;
        if (a->msgs.empty()) a->msgs.resize(count);
        a->msgs[k] = std::move(ack.message);
        a->failed = true;
      }
      if (ack.seq == syncSeq) synced = true;
    }
  }
}

// A lane answer as onResults receives it: the batch's routes (failures by index), and the
// echoed routes if any.
void RouteQueue::AnswerResults(uint32_t batch, uint32_t count, LaneAnswer& a, std::vector<QueueResult>* out) {
  if (a.msgs.empty()) a.msgs.resize(count);
  QueueResult r(QueueResult::kRoutes);
  r.id = batch;
  r.count = count;
  for (uint32_t k = 0; k < count; k++) {
    int e = a.errs[k] ? a.errs[k] : a.missing;
    if (!e) continue;
    r.failures.push_back(static_cast<int32_t>(k));
    r.failures.push_back(e);
    r.messages.push_back(std::move(a.msgs[k]));
  }
  out->push_back(std::move(r));
  if (!a.echoes.empty()) {
    QueueResult e(QueueResult::kEcho);
    e.data = std::move(a.echoes);
    out->push_back(std::move(e));
  }
}

// dump(request, what): what 4 / 6 = routes of that family in our table and protocol,
// 0 = every kernel next-hop object, 255 = nothing (a ping through the queue).
Napi::Value RouteQueue::Dump(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Command c(Command::kDump);
  c.id = info[0].As<Napi::Number>().Uint32Value();
  c.bytes.push_back(static_cast<uint8_t>(info[1].As<Napi::Number>().Uint32Value()));
  try {
    Push(std::move(c));
  } catch (const std::runtime_error& e) {
    throw Napi::Error::New(env, e.what());
  }
  return env.Undefined();
}

// close(): finish what is queued, then a { kind: 'closed' } result; the thread ends.
Napi::Value RouteQueue::Close(const Napi::CallbackInfo& info) {
  {
    std::lock_guard<std::mutex> g(mutex_);
    stopping_ = true;
  }
  cv_.notify_one();
  return info.Env().Undefined();
}

Napi::Value RouteQueue::Ref(const Napi::CallbackInfo& info) {
  if (!released_) results_.Ref(info.Env());
  return info.Env().Undefined();
}

Napi::Value RouteQueue::Unref(const Napi::CallbackInfo& info) {
  if (!released_) results_.Unref(info.Env());
  return info.Env().Undefined();
}

Napi::Value RouteQueue::GetPortId(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), portId_); }

Napi::Value RouteQueue::GetNexthopObjects(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), cfg_.nexthopObjects);
}

// ---------------------------------------------------------------- the thread

void RouteQueue::Run() {
  for (;;) {
    // A single change answered is often followed at once by the next (the caller reacts to
    // the answer): watch for it briefly before sleeping, which saves a thread wake-up.
    auto spinUntil = std::chrono::steady_clock::now() + std::chrono::microseconds(kSpinMicros);
    while (!queued_.load(std::memory_order_acquire) && std::chrono::steady_clock::now() < spinUntil)
      CpuRelax();
#ifdef __GLIBC__
    // After a bulk install, give the operation copies' memory back to the system while idle.
    if (bytesSinceTrim_ > kTrimAfterBytes && !queued_.load(std::memory_order_acquire)) {
      malloc_trim(0);
      bytesSinceTrim_ = 0;
    }
#endif
    std::deque<Command> work;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [this] { return !queue_.empty() || stopping_; });
      if (abort_) break;
      if (queue_.empty()) break;  // stopping, nothing left
      work.swap(queue_);
      queued_.store(false, std::memory_order_relaxed);
    }

    for (Command& c : work) {
      if (abort_.load(std::memory_order_relaxed)) break;
      Process(c);
    }
    // More arrived while we worked: keep filling the buffer; otherwise send what we have.
    {
      std::lock_guard<std::mutex> g(mutex_);
      if (!queue_.empty() && !abort_) continue;
    }
    Flush();
    Publish();
  }
  // the writer's answers come before closed, and none after the results function goes
  WaitWriterIdle();
  if (!abort_) {
    Flush();
    QueueResult r(QueueResult::kClosed);
    std::vector<QueueResult> v;
    v.push_back(std::move(r));
    Emit(std::move(v));
  }
  results_.Release();
}

void RouteQueue::Emit(std::vector<QueueResult> results) {
  if (results.empty()) return;
  bool call = false;
  {
    std::lock_guard<std::mutex> g(outbox_->m);
    for (auto& r : results) outbox_->items.push_back(std::move(r));
    if (!outbox_->scheduled) {
      outbox_->scheduled = true;
      call = true;
    }
  }
  if (call) results_.NonBlockingCall();
}

// Every command up to lastProcessed_ is in the kernel and answered: the lane may go ahead
// (published before the answers are handed over, so that JavaScript holding an answer sees it).
void RouteQueue::Publish() { doneCmd_.store(lastProcessed_, std::memory_order_release); }

void RouteQueue::Process(Command& c) {
  ProcessOne(c);
  lastProcessed_ = c.seq;
}

void RouteQueue::ProcessOne(Command& c) {
  switch (c.kind) {
    case Command::kRoutes:
      AddRoutes(c);
      bytesSinceTrim_ += c.bytes.size();
      break;
    case Command::kDefine:
      AddDefine(c.id, std::move(c.handle), false);
      break;
    case Command::kGroup: {
      route::Handle g;
      g.family = c.handle.family;
      g.group = true;
      for (size_t i = 0; i < c.members.size(); i++) {
        uint32_t m = c.members[i];
        if (m >= handles_.size() || !handles_[m].defined || handles_[m].group) {
          AddLocalFailure(Segment::kNexthop, c.id, 0, EINVAL, "group member " + HandleText(m) + " is not a defined next hop");
          return;
        }
        route::Hop hop = handles_[m].hops[0];
        hop.weight = i < c.weights.size() ? c.weights[i] : 1;
        g.hops.push_back(hop);
        g.members.push_back(m);
      }
      AddDefine(c.id, std::move(g), true);
      break;
    }
    case Command::kRelease:
      AddRelease(c.id);
      break;
    case Command::kDump:
      Flush();
      lastProcessed_ = c.seq;
      RunDump(c);
      break;
  }
}

char* RouteQueue::Reserve(size_t bytes) {
  if (used_ + bytes > batchBytes_ && used_ > 0) Flush();
  return buf_.data() + used_;
}

// ---------------------------------------------------------------- the urgent writer

void RouteQueue::RunWriter() {
  for (;;) {
    UrgentWrite w;
    {
      std::unique_lock<std::mutex> lock(writerMutex_);
      writerCv_.wait(lock, [this] { return !writes_.empty() || writerStop_; });
      if (abort_.load(std::memory_order_relaxed) || writes_.empty()) {
        uint32_t dropped = static_cast<uint32_t>(writes_.size());
        writes_.clear();
        if (dropped) writesPending_.fetch_sub(dropped, std::memory_order_release);
        return;
      }
      w = std::move(writes_.front());
      writes_.pop_front();
    }
    LaneAnswer a;
    Exchange(w.msgs.data(), w.msgs.size(), w.firstSeq, w.count, w.syncSeq, &writerRecv_, &a);
    if (!abort_.load(std::memory_order_relaxed)) {
      std::vector<QueueResult> out;
      AnswerResults(w.id, w.count, a, &out);
      Emit(std::move(out));
    }
    writesPending_.fetch_sub(1, std::memory_order_release);
  }
}

// The route thread, closing: every urgent batch answered (or, aborting, dropped).
void RouteQueue::WaitWriterIdle() {
  while (writesPending_.load(std::memory_order_acquire) != 0) std::this_thread::sleep_for(std::chrono::microseconds(100));
}

void RouteQueue::AddLocalFailure(Segment::Kind kind, uint32_t id, uint32_t index, int err, std::string message) {
  Segment s(kind, 0, 1, id, index);
  s.localErr = err;
  s.localMessage = std::move(message);
  segments_.push_back(std::move(s));
}

void RouteQueue::AddRoutes(const Command& c) {
  for (uint32_t i = 0; i < c.count; i++) {
    route::Op op;
    std::memcpy(&op, c.bytes.data() + static_cast<size_t>(i) * route::kOpBytes, sizeof op);
    const route::Handle* h = nullptr;
    const char* bad = nullptr;
    if ((op.family != 4 && op.family != 6) || op.length > (op.family == 4 ? 32 : 128)) {
      bad = "invalid family or prefix length";
    } else if (op.op == route::kOpReplace) {
      if (op.handle >= handles_.size() || !handles_[op.handle].defined) bad = "is not defined";
      else if (handles_[op.handle].family != op.family) bad = "is of the other address family";
      else h = &handles_[op.handle];
    } else if (op.op != route::kOpDelete) {
      bad = "invalid operation";
    }
    if (bad) {
      bool aboutHandle = op.op == route::kOpReplace && std::strncmp(bad, "is ", 3) == 0;
      AddLocalFailure(Segment::kRoutes, c.id, i, EINVAL, aboutHandle ? HandleText(op.handle) + " " + bad : bad);
      continue;
    }
    char* p = Reserve(route::RouteMessageBytes(h));
    uint32_t seq = seq_++;
    size_t len = route::BuildRoute(p, cfg_, op, h, seq, (op.flags & route::kOpFlagEcho) ? NLM_F_ECHO : 0);
    lastMsg_ = used_;
    used_ += NLMSG_ALIGN(len);
    Segment* last = segments_.empty() ? nullptr : &segments_.back();
    if (last && last->kind == Segment::kRoutes && !last->localErr && last->id == c.id && last->start + last->count == i &&
        last->firstSeq + last->count == seq) {
      last->count++;
    } else {
      segments_.push_back(Segment(Segment::kRoutes, seq, 1, c.id, i));
    }
  }
}

void RouteQueue::AddDefine(uint32_t handle, route::Handle h, bool group) {
  if (handle == 0 || handle > route::kMaxHandle) {
    AddLocalFailure(Segment::kNexthop, handle, 0, EINVAL, HandleText(handle) + " out of range");
    return;
  }
  h.defined = true;
  h.group = group;
  route::EncodeHandle(cfg_, &h);
  if (handle >= handles_.size()) handles_.resize(std::max<size_t>(handle + 1, handles_.size() * 2));
  handles_[handle] = std::move(h);
  const route::Handle& stored = handles_[handle];
  if (!stored.object) return;  // inline: nothing to tell the kernel until a route uses it
  char* p = Reserve(1024 + stored.members.size() * 8);
  uint32_t seq = seq_++;
  size_t len = route::BuildNexthop(p, buf_.size() - used_, cfg_, handle, stored, false, seq, 0);
  lastMsg_ = used_;
  used_ += NLMSG_ALIGN(len);
  segments_.push_back(Segment(Segment::kNexthop, seq, 1, handle, 0));
}

void RouteQueue::AddRelease(uint32_t handle) {
  if (handle >= handles_.size() || !handles_[handle].defined) return;
  route::Handle h = std::move(handles_[handle]);
  handles_[handle] = route::Handle{};
  if (!h.object) return;
  char* p = Reserve(256);
  uint32_t seq = seq_++;
  size_t len = route::BuildNexthop(p, buf_.size() - used_, cfg_, handle, h, true, seq, 0);
  lastMsg_ = used_;
  used_ += NLMSG_ALIGN(len);
  segments_.push_back(Segment(Segment::kRelease, seq, 1, handle, 0));
}

// Send the buffer (only its last message asks for an acknowledgement: the kernel reports
// every failure anyway and answers in order), read the replies in bulk, hand results back.
void RouteQueue::Flush() {
  if (segments_.empty()) return;
  struct Failure {
    uint32_t seq;
    int err;
    std::string message;
  };
  std::vector<Failure> failures;
  std::vector<uint8_t> echoes;
  int sendErr = 0;
  int lostErr = 0;  // replies we could not read: every message not otherwise answered
  if (used_ > 0) {
    auto* last = reinterpret_cast<nlmsghdr*>(buf_.data() + lastMsg_);
    last->nlmsg_flags |= NLM_F_ACK;
    uint32_t syncSeq = last->nlmsg_seq;
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    ssize_t sent;
    do {
      sent = sendto(fd_, buf_.data(), used_, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
    } while (sent < 0 && errno == EINTR);
    if (sent < 0) {
      sendErr = errno;
    } else {
      // The kernel handled the whole buffer inside sendto: its replies are already queued.
      bool synced = false;
      while (!synced) {
        int n = reader_.Receive(fd_, !lostErr);
        if (n < 0) {
          if (n == -ENOBUFS) {
            lostErr = ENOBUFS;
            continue;
          }
          lostErr = -n;
          break;
        }
        if (n == 0) {
          if (lostErr) break;
          pollfd pfd{fd_, POLLIN, 0};
          if (poll(&pfd, 1, 5000) <= 0) {
            lostErr = ETIMEDOUT;
            break;
          }
          continue;
        }
        for (int i = 0; i < n; i++) {
          int len;
          const nlmsghdr* h = reader_.Datagram(i, &len);
          for (; NLMSG_OK(h, static_cast<unsigned>(len)); h = NLMSG_NEXT(h, len)) {
            if (h->nlmsg_type == RTM_NEWROUTE) route::AppendRouteRecord(&echoes, h, 0);  // asked for with echo
            if (h->nlmsg_type != NLMSG_ERROR) continue;
            nl::Ack a = nl::DecodeAck(h);
            if (a.err) failures.push_back({a.seq, a.err, std::move(a.message)});
            if (a.seq == syncSeq) synced = true;
          }
        }
      }
    }
  }
  std::sort(failures.begin(), failures.end(), [](const Failure& a, const Failure& b) { return a.seq < b.seq; });

  std::vector<QueueResult> out;
  size_t f = 0;
  for (const Segment& s : segments_) {
    auto failOf = [&](uint32_t seq, int* err, std::string* msg) {
      while (f < failures.size() && failures[f].seq < seq) f++;
      if (f < failures.size() && failures[f].seq == seq) {
        *err = failures[f].err;
        *msg = failures[f].message;
        return;
      }
      *err = sendErr ? sendErr : lostErr;
      msg->clear();
    };
    if (s.kind == Segment::kRoutes) {
      QueueResult* r = out.empty() ? nullptr : &out.back();
      if (!(r && r->kind == QueueResult::kRoutes && r->id == s.id && r->start + r->count == s.start)) {
        out.push_back(QueueResult(QueueResult::kRoutes));
        r = &out.back();
        r->id = s.id;
        r->start = s.start;
      }
      r->count += s.count;
      if (s.localErr) {
        r->failures.push_back(static_cast<int32_t>(s.start));
        r->failures.push_back(s.localErr);
        r->messages.push_back(s.localMessage);
        continue;
      }
      bool clean = !sendErr && !lostErr;
      for (uint32_t k = 0; k < s.count; k++) {
        uint32_t seq = s.firstSeq + k;
        if (clean && (f >= failures.size() || failures[f].seq > s.firstSeq + s.count - 1)) break;  // fast path
        int err;
        std::string msg;
        failOf(seq, &err, &msg);
        if (!err) continue;
        r->failures.push_back(static_cast<int32_t>(s.start + k));
        r->failures.push_back(err);
        r->messages.push_back(std::move(msg));
      }
    } else {
      QueueResult r(QueueResult::kNexthop);
      r.id = s.id;
      r.release = s.kind == Segment::kRelease;
      if (s.localErr) {
        r.err = s.localErr;
        r.message = s.localMessage;
      } else {
        failOf(s.firstSeq, &r.err, &r.message);
      }
      out.push_back(std::move(r));
    }
  }
  if (!echoes.empty()) {
    QueueResult r(QueueResult::kEcho);
    r.data = std::move(echoes);
    out.push_back(std::move(r));
  }
  segments_.clear();
  used_ = 0;
  if (seq_ > 0xf0000000u) seq_ = 1;  // numbers only need to be unique within one buffer
  Publish();
  Emit(std::move(out));
}

void RouteQueue::RunDump(const Command& c) {
  QueueResult r(QueueResult::kDump);
  r.id = c.id;
  uint8_t what = c.bytes.empty() ? 0 : c.bytes[0];
  if (what == kPing) {  // nothing to dump: the answer shows the thread is alive and caught up
    std::vector<QueueResult> v;
    v.push_back(std::move(r));
    Publish();
    Emit(std::move(v));
    return;
  }
  alignas(nlmsghdr) char req[256];
  uint32_t seq = seq_++;
  size_t len = what == 0 ? route::BuildNexthopDump(req, seq) : route::BuildRouteDump(req, what, cfg_.table, cfg_.protocol, seq);
  if (send(dumpFd_, req, len, 0) < 0) {
    r.err = errno;
  } else {
    std::vector<char> buf(1 << 16);
    bool done = false;
    while (!done) {
      ssize_t n = recv(dumpFd_, buf.data(), buf.size(), 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        r.err = errno;
        break;
      }
      int left = static_cast<int>(n);
      for (auto* h = reinterpret_cast<const nlmsghdr*>(buf.data()); NLMSG_OK(h, static_cast<unsigned>(left));
           h = NLMSG_NEXT(h, left)) {
        if (h->nlmsg_seq != seq) continue;
        if (h->nlmsg_type == NLMSG_DONE) {
          done = true;
          break;
        }
        if (h->nlmsg_type == NLMSG_ERROR) {
          nl::Ack a = nl::DecodeAck(h);
          r.err = a.err;
          r.message = a.message;
          done = true;
          break;
        }
        if (what == 0) route::AppendNexthopRecord(&r.data, h);
        else route::AppendRouteRecord(&r.data, h, cfg_.table);
      }
    }
  }
  std::vector<QueueResult> v;
  v.push_back(std::move(r));
  Publish();
  Emit(std::move(v));
}

namespace {
void InitRouteQueue(Napi::Env env, Napi::Object exports) { exports.Set("RouteQueue", RouteQueue::Define(env)); }
}  // namespace

ROUTELET_REGISTER(InitRouteQueue);

}  // namespace routelet

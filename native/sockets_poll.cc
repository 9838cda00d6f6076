// Event-loop side of BGP sockets: a SocketWatch polls one socket fd with uv_poll on Node's own
// loop, so nothing ever blocks the JavaScript thread.
//  - accept mode: a listening socket; each wakeup accepts up to kAcceptBatch connections
//    (non-blocking, close-on-exec) and hands them to JavaScript in one call as
//    [{ fd, address, port, family }]; the policy there decides to wrap or to reset each one
//    before any byte is read. Out of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM),
//    polling pauses and the error is reported, so a level-triggered fd cannot spin.
//  - connect mode: a non-blocking connect(); completion or the kernel's errno (SO_ERROR) is
//    reported once, then polling ends. The fd stays the caller's.
// The callback is cb(err, value) with err an outcome { errno, code, syscall, message } or null.
// While active, a watch holds a reference to itself and to its callback; stop() lets go.
#include <napi.h>
#include <uv.h>

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "errors.h"
#include "registry.h"
#include "sockets.h"

namespace routelet::sock {
namespace {

constexpr int kAcceptBatch = 256;

class SocketWatch;

// The uv handle lives apart from the JavaScript object: uv_close finishes on a later loop turn,
// after which only this memory is freed.
struct Poll {
  uv_poll_t handle;
  SocketWatch* owner;
};

void FreePoll(uv_handle_t* h) { delete static_cast<Poll*>(h->data); }

class SocketWatch : public Napi::ObjectWrap<SocketWatch> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "SocketWatch",
                       {InstanceMethod("accept", &SocketWatch::Accept), InstanceMethod("connect", &SocketWatch::Connect),
                        InstanceMethod("pause", &SocketWatch::Pause), InstanceMethod("resume", &SocketWatch::Resume),
                        InstanceMethod("stop", &SocketWatch::Stop), InstanceMethod("unref", &SocketWatch::Unref),
                        InstanceMethod("ref", &SocketWatch::Ref)});
  }

  // new SocketWatch(fd, callback)
  explicit SocketWatch(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SocketWatch>(info) {
    fd_ = IntArg(info, 0);
    cb_ = Napi::Persistent(info[1].As<Napi::Function>());
  }

  ~SocketWatch() override { Release(); }

 private:
  enum class Mode { kIdle, kAccept, kConnect };

  // Start polling the fd for `events`; holds the object alive while active.
  int Begin(Napi::Env env, Mode mode, int events) {
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok) return EINVAL;
    auto* p = new Poll{};
    p->owner = this;
    p->handle.data = p;
    int r = uv_poll_init_socket(loop, &p->handle, fd_);
    if (r < 0) {
      delete p;
      return -r;
    }
    poll_ = p;
    mode_ = mode;
    events_ = events;
    ctx_ = std::make_unique<Napi::AsyncContext>(env, mode == Mode::kAccept ? "routelet.accept" : "routelet.connect");
    self_ = Napi::Persistent(Value());
    napi_add_env_cleanup_hook(env, &SocketWatch::Teardown, this);
    hooked_ = true;
    uv_poll_start(&p->handle, events, &SocketWatch::OnPoll);
    return 0;
  }

  static void Teardown(void* arg) { static_cast<SocketWatch*>(arg)->Release(); }

  // End polling and let go of everything JavaScript; safe to call more than once.
  void Release() {
    if (poll_) {
      poll_->owner = nullptr;
      uv_close(reinterpret_cast<uv_handle_t*>(&poll_->handle), FreePoll);
      poll_ = nullptr;
    }
    if (hooked_) {
      napi_remove_env_cleanup_hook(Env(), &SocketWatch::Teardown, this);
      hooked_ = false;
    }
    if (!in_call_) ctx_.reset();  // else Call() drops it when the callback returns
    mode_ = Mode::kIdle;
    if (!self_.IsEmpty()) self_.Reset();
  }

  void Call(Napi::Value err, Napi::Value value) {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    Napi::Function fn = cb_.Value();
    in_call_ = true;
    try {
      fn.MakeCallback(Value(), {err, value}, *ctx_);
    } catch (const Napi::Error& e) {
      napi_fatal_exception(env, e.Value());
    }
    in_call_ = false;
    if (mode_ == Mode::kIdle) ctx_.reset();  // stopped during the call
  }

  static void OnPoll(uv_poll_t* h, int status, int events) {
    auto* p = static_cast<Poll*>(h->data);
    if (!p->owner) return;
    if (p->owner->mode_ == Mode::kAccept)
      p->owner->OnAcceptable();
    else if (p->owner->mode_ == Mode::kConnect)
      p->owner->OnConnected(status);
  }

  // ---- accept

  Napi::Value Accept(const Napi::CallbackInfo& info) {
    if (mode_ != Mode::kIdle) throw ErrnoError(info.Env(), EBUSY, "uv_poll_start", "this watch is already in use");
    if (int e = Begin(info.Env(), Mode::kAccept, UV_READABLE)) throw ErrnoError(info.Env(), e, "uv_poll_init_socket");
    return info.Env().Undefined();
  }

  static bool Transient(int e) {
    // errors of one connection that Linux reports through accept(); the next one may be fine
    return e == ECONNABORTED || e == EPROTO || e == ENETDOWN || e == ENOPROTOOPT || e == EHOSTDOWN ||
           e == ENONET || e == EHOSTUNREACH || e == EOPNOTSUPP || e == ENETUNREACH || e == EINTR || e == EPERM;
  }

  void OnAcceptable() {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    Napi::Array batch = Napi::Array::New(env);
    uint32_t n = 0;
    int fatal = 0;
    for (int i = 0; i < kAcceptBatch; i++) {
      sockaddr_storage sa{};
      socklen_t len = sizeof sa;
      int c = accept4(fd_, reinterpret_cast<sockaddr*>(&sa), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (c < 0) {
        int e = errno;
        if (e == EAGAIN || e == EWOULDBLOCK) break;
        if (Transient(e)) continue;
        fatal = e;
        break;
      }
      Napi::Object conn = EndpointObject(env, sa);
      conn.Set("fd", c);
      batch.Set(n++, conn);
    }
    if (fatal && poll_) uv_poll_stop(&poll_->handle);  // resume() polls again
    if (n == 0 && !fatal) return;
    Call(fatal ? Outcome(env, fatal, "accept4", "accepting paused") : env.Null(), batch);
  }

  Napi::Value Pause(const Napi::CallbackInfo& info) {
    if (poll_) uv_poll_stop(&poll_->handle);
    return info.Env().Undefined();
  }

  Napi::Value Resume(const Napi::CallbackInfo& info) {
    if (poll_) uv_poll_start(&poll_->handle, events_, &SocketWatch::OnPoll);
    return info.Env().Undefined();
  }

  // ---- connect

  // connect(address, port): null when the connection is under way (the callback reports its
  // end), or an outcome when connect() itself failed at once (no callback then).
  Napi::Value Connect(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (mode_ != Mode::kIdle) throw ErrnoError(env, EBUSY, "connect", "this watch is already in use");
    std::string address = StringArg(info, 0);
    int port = IntArg(info, 1);
    int domain = DomainOf(fd_);
    if (domain < 0) return Outcome(env, -domain, "getsockopt(SO_DOMAIN)", "");
    sockaddr_storage sa;
    socklen_t len = ToSockaddr(domain, address, static_cast<uint16_t>(port), &sa);
    if (!len) return Outcome(env, EAFNOSUPPORT, "connect", address);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&sa), len) < 0 && errno != EINPROGRESS)
      return Outcome(env, errno, "connect", std::strerror(errno));
    if (int e = Begin(env, Mode::kConnect, UV_WRITABLE)) return Outcome(env, e, "uv_poll_init_socket", "");
    return env.Null();
  }

  void OnConnected(int status) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    if (!err) {
      sockaddr_storage sa{};
      socklen_t sl = sizeof sa;
      if (getpeername(fd_, reinterpret_cast<sockaddr*>(&sa), &sl) < 0) err = status < 0 ? -status : errno;
    }
    // The poll ends before the call: the callback owns the fd from here (it may wrap or close it).
    if (poll_) {
      poll_->owner = nullptr;
      uv_close(reinterpret_cast<uv_handle_t*>(&poll_->handle), FreePoll);
      poll_ = nullptr;
    }
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    Call(err ? Outcome(env, err, "connect", std::strerror(err)) : env.Null(), env.Undefined());
    Release();
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    Release();
    return info.Env().Undefined();
  }

  Napi::Value Unref(const Napi::CallbackInfo& info) {
    if (poll_) uv_unref(reinterpret_cast<uv_handle_t*>(&poll_->handle));
    return info.Env().Undefined();
  }

  Napi::Value Ref(const Napi::CallbackInfo& info) {
    if (poll_) uv_ref(reinterpret_cast<uv_handle_t*>(&poll_->handle));
    return info.Env().Undefined();
  }

  int fd_ = -1;
  Mode mode_ = Mode::kIdle;
  int events_ = 0;
  bool hooked_ = false;
  bool in_call_ = false;
  Poll* poll_ = nullptr;
  Napi::FunctionReference cb_;
  std::unique_ptr<Napi::AsyncContext> ctx_;
  Napi::ObjectReference self_;
};

}  // namespace

void InitSocketsPoll(Napi::Env env, Napi::Object exports) { exports.Set("SocketWatch", SocketWatch::Define(env)); }

ROUTELET_REGISTER(InitSocketsPoll);

}  // namespace routelet::sock

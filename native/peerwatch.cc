// peerwatch loader: the BPF programs of bpf/peerwatch.bpf.c as one native object.
// open → configure (const volatile globals, map sizes) → load → attach → poll; every path
// out goes through Teardown(). The ring buffer's epoll fd is polled with uv_poll on the
// Node loop; each wakeup drains it and hands JavaScript one Buffer of pw_event records.
// The peer map and the per-CPU counters are read and written here, never from JavaScript.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "errors.h"
#include "libbpf_log.h"
#include "peerwatch.h"
#include "peerwatch.skel.h"
#include "registry.h"

namespace routelet {
namespace {

static_assert(sizeof(pw_event) == PW_EVENT_SIZE, "pw_event layout");
static_assert(sizeof(pw_peer_key) == 20, "pw_peer_key layout");
static_assert(sizeof(pw_peer_val) == 32, "pw_peer_val layout");

std::string WithLog(const std::string& what) {
  std::string log = TakeLibbpfLog();
  return log.empty() ? what : what + ": " + log;
}

// "memlock:" of a BPF map fd in /proc/self/fdinfo: the kernel's own account of its memory.
double MapMemlock(int fd) {
  std::ifstream in("/proc/self/fdinfo/" + std::to_string(fd));
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("memlock:", 0) == 0) return std::stod(line.substr(8));
  return -1;
}

uint32_t U32(const Napi::Object& o, const char* name, uint32_t dflt) {
  Napi::Value v = o.Get(name);
  return v.IsNumber() ? v.As<Napi::Number>().Uint32Value() : dflt;
}

std::string Str(const Napi::Object& o, const char* name) {
  Napi::Value v = o.Get(name);
  return v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
}

// ---- open, configure and load: the slow part (BTF, the verifier), on any one thread

struct LoadOptions {
  std::string btf;
  bool sockops = false;
  uint32_t netns = 0, maxPeers = 65536, ring = 256 * 1024, md5Ms = 1000, synRtoMs = 0;
  bool operator==(const LoadOptions& o) const {
    return btf == o.btf && sockops == o.sockops && netns == o.netns && maxPeers == o.maxPeers && ring == o.ring &&
           md5Ms == o.md5Ms && synRtoMs == o.synRtoMs;
  }
};

LoadOptions ReadOptions(const Napi::Object& o) {
  LoadOptions l;
  l.btf = Str(o, "btfPath");
  l.sockops = !Str(o, "cgroupPath").empty();
  l.netns = U32(o, "netnsInode", 0);
  l.maxPeers = U32(o, "maxPeers", 65536);
  l.ring = U32(o, "ringBytes", 256 * 1024);
  l.md5Ms = U32(o, "md5IntervalMs", 1000);
  l.synRtoMs = U32(o, "synRtoMs", 0);
  return l;
}

struct Loaded {
  peerwatch_bpf* skel = nullptr;
  int err = 0;
  std::string syscall, error;
};

Loaded LoadObject(const LoadOptions& lo) {
  Loaded r;
  auto fail = [&](int err, const char* syscall, const std::string& what) {
    r.err = err ? err : EINVAL;
    r.syscall = syscall;
    r.error = WithLog(what);
    if (r.skel) peerwatch_bpf__destroy(r.skel);
    r.skel = nullptr;
    return r;
  };
  TakeLibbpfLog();
  LIBBPF_OPTS(bpf_object_open_opts, opts);
  if (!lo.btf.empty()) opts.btf_custom_path = lo.btf.c_str();
  r.skel = peerwatch_bpf__open_opts(&opts);
  if (!r.skel) return fail(errno, "bpf_object__open", "cannot open the peerwatch BPF object");
  r.skel->rodata->netns_ino = lo.netns;
  r.skel->rodata->md5_event_interval_ns = uint64_t(lo.md5Ms) * 1000000ULL;
  r.skel->rodata->syn_rto_ms = lo.synRtoMs;
  for (bpf_map* m : {r.skel->maps.peers, r.skel->maps.counters})
    if (int e = bpf_map__set_max_entries(m, lo.maxPeers)) return fail(-e, "bpf_map__set_max_entries", "peer maps");
  if (int e = bpf_map__set_max_entries(r.skel->maps.events, lo.ring)) return fail(-e, "bpf_map__set_max_entries", "ring buffer");
  if (!lo.sockops) bpf_program__set_autoload(r.skel->progs.pw_sockops, false);
  if (int e = peerwatch_bpf__load(r.skel)) return fail(-e, "bpf(BPF_PROG_LOAD)", "the kernel refused the peerwatch programs");
  return r;
}

// ---- preload: the agent starts the load on a thread of its own as its first act, so the
// kernel verifies the programs while Node loads the agent's modules (about 80 ms of start-up
// off the path to the first BGP connection). The handle constructed later takes the result
// when its options are the same, else loads again. JS thread only, at most one at a time.
struct Preload {
  LoadOptions opts;
  std::thread thread;
  Loaded result;
  napi_env env = nullptr;
};
Preload* g_preload = nullptr;

void DropPreload(void*) {
  Preload* p = g_preload;
  if (!p) return;
  g_preload = nullptr;
  if (p->thread.joinable()) p->thread.join();
  if (p->result.skel) peerwatch_bpf__destroy(p->result.skel);
  delete p;
}

// Take the preloaded object for these options (joins the loading thread); false when none.
bool TakePreload(const LoadOptions& lo, Loaded* out) {
  Preload* p = g_preload;
  if (!p) return false;
  p->thread.join();
  napi_remove_env_cleanup_hook(p->env, &DropPreload, nullptr);
  bool same = p->opts == lo;
  if (same) {
    *out = std::move(p->result);
    p->result.skel = nullptr;
  }
  g_preload = nullptr;
  if (p->result.skel) peerwatch_bpf__destroy(p->result.skel);
  delete p;
  return same;
}

// peerwatchPreload(options): start loading; false when a preload is already running.
Napi::Value PreloadPeerWatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) throw Napi::TypeError::New(env, "peerwatchPreload: options object expected");
  if (g_preload) return Napi::Boolean::New(env, false);
  InstallLibbpfLogger();
  auto* p = new Preload();
  p->opts = ReadOptions(info[0].As<Napi::Object>());
  p->env = env;
  g_preload = p;
  napi_add_env_cleanup_hook(env, &DropPreload, nullptr);
  p->thread = std::thread([p] { p->result = LoadObject(p->opts); });
  return Napi::Boolean::New(env, true);
}

class PeerWatchHandle : public Napi::ObjectWrap<PeerWatchHandle> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "PeerWatchHandle",
                       {
                           InstanceMethod("updatePeers", &PeerWatchHandle::UpdatePeers),
                           InstanceMethod("deletePeers", &PeerWatchHandle::DeletePeers),
                           InstanceMethod("resetCounters", &PeerWatchHandle::ResetCounters),
                           InstanceMethod("readCounters", &PeerWatchHandle::ReadCounters),
                           InstanceMethod("readGlobals", &PeerWatchHandle::ReadGlobals),
                           InstanceMethod("info", &PeerWatchHandle::Info),
                           InstanceMethod("drain", &PeerWatchHandle::Drain),
                           InstanceMethod("ref", &PeerWatchHandle::Ref),
                           InstanceMethod("unref", &PeerWatchHandle::Unref),
                           InstanceMethod("destroy", &PeerWatchHandle::Destroy),
                       });
  }

  // new PeerWatchHandle({ onEvents, btfPath?, cgroupPath?, netnsInode, maxPeers, ringBytes, md5IntervalMs, synRtoMs })
  explicit PeerWatchHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PeerWatchHandle>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) throw Napi::TypeError::New(env, "PeerWatchHandle: options object expected");
    Napi::Object o = info[0].As<Napi::Object>();
    if (!o.Get("onEvents").IsFunction()) throw Napi::TypeError::New(env, "PeerWatchHandle: onEvents must be a function");
    on_events_ = Napi::Persistent(o.Get("onEvents").As<Napi::Function>());
    env_ = env;
    napi_add_env_cleanup_hook(env, &PeerWatchHandle::CleanupHook, this);
    hook_ = true;
    int err = Open(o);
    if (err) {
      std::string msg = error_;
      std::string sc = syscall_;
      Teardown();
      throw ErrnoError(env, err, sc, msg);
    }
  }

  ~PeerWatchHandle() override { Teardown(); }

 private:
  static void CleanupHook(void* self) { static_cast<PeerWatchHandle*>(self)->Teardown(); }

  int Fail(int err, const char* syscall, const std::string& what) {
    syscall_ = syscall;
    error_ = WithLog(what);
    return err ? err : EINVAL;
  }

  int Open(const Napi::Object& o) {
    InstallLibbpfLogger();
    TakeLibbpfLog();
    std::string cgroup = Str(o, "cgroupPath");
    LoadOptions lo = ReadOptions(o);
    max_peers_ = lo.maxPeers;
    Loaded l;
    preloaded_ = TakePreload(lo, &l);
    if (!preloaded_) l = LoadObject(lo);
    if (!l.skel) {
      syscall_ = l.syscall;
      error_ = l.error;
      return l.err;
    }
    skel_ = l.skel;
    // attach: every tracepoint, then sockops on the cgroup (if one is given)
    bpf_program* prog;
    bpf_object__for_each_program(prog, skel_->obj) {
      if (prog == skel_->progs.pw_sockops) continue;
      bpf_link* l = bpf_program__attach(prog);
      if (!l)
        return Fail(errno, "bpf(BPF_RAW_TRACEPOINT_OPEN)",
                    std::string("attach ") + bpf_program__section_name(prog) + " refused");
      links_.push_back(l);
      attached_.push_back(bpf_program__section_name(prog));
    }
    if (!cgroup.empty()) {
      int cg = open(cgroup.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (cg < 0) return Fail(errno, "open", "cgroup v2 directory " + cgroup);
      bpf_link* l = bpf_program__attach_cgroup(skel_->progs.pw_sockops, cg);
      int e = errno;
      close(cg);
      if (!l) return Fail(e, "bpf(BPF_LINK_CREATE)", "sockops attach to " + cgroup + " refused");
      links_.push_back(l);
      attached_.push_back("sockops:" + cgroup);
    }
    // ring buffer on the loop
    rb_ = ring_buffer__new(bpf_map__fd(skel_->maps.events), &PeerWatchHandle::OnSample, this, nullptr);
    if (!rb_) return Fail(errno, "ring_buffer__new", "cannot map the ring buffer");
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env_, &loop) != napi_ok) return Fail(EINVAL, "napi_get_uv_event_loop", "no event loop");
    poll_ = new uv_poll_t;
    if (int e = uv_poll_init(loop, poll_, ring_buffer__epoll_fd(rb_))) {
      delete poll_;
      poll_ = nullptr;
      return Fail(-e, "uv_poll_init", "cannot poll the ring buffer");
    }
    poll_->data = this;
    uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
    if (int e = uv_poll_start(poll_, UV_READABLE, &PeerWatchHandle::OnReadable))
      return Fail(-e, "uv_poll_start", "cannot poll the ring buffer");
    return 0;
  }

  // The one cleanup path: stop polling, detach everything, free the object.
  void Teardown() {
    if (poll_) {
      uv_poll_stop(poll_);
      uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
      poll_ = nullptr;
    }
    if (rb_) ring_buffer__free(rb_);
    rb_ = nullptr;
    for (bpf_link* l : links_) bpf_link__destroy(l);
    links_.clear();
    attached_.clear();
    if (skel_) peerwatch_bpf__destroy(skel_);
    skel_ = nullptr;
    if (hook_) {
      napi_remove_env_cleanup_hook(env_, &PeerWatchHandle::CleanupHook, this);
      hook_ = false;
    }
    if (!on_events_.IsEmpty()) on_events_.Reset();
  }

  static int OnSample(void* ctx, void* data, size_t size) {
    auto* self = static_cast<PeerWatchHandle*>(ctx);
    if (size >= PW_EVENT_SIZE) self->batch_.append(static_cast<const char*>(data), PW_EVENT_SIZE);
    return 0;
  }

  static void OnReadable(uv_poll_t* h, int status, int events) {
    auto* self = static_cast<PeerWatchHandle*>(h->data);
    if (status < 0 || !self->rb_) return;
    self->Deliver();
  }

  // Drain the ring buffer and call onEvents(buffer) once; returns the number of events.
  size_t Deliver() {
    ring_buffer__consume(rb_);
    if (batch_.empty() || on_events_.IsEmpty()) return 0;
    std::string batch;
    batch.swap(batch_);
    size_t n = batch.size() / PW_EVENT_SIZE;
    Napi::HandleScope scope(env_);
    Napi::Buffer<char> buf = Napi::Buffer<char>::Copy(env_, batch.data(), batch.size());
    try {
      on_events_.MakeCallback(Napi::Env(env_).Global(), {buf});
    } catch (const Napi::Error& e) {
      napi_fatal_exception(env_, e.Value());
    }
    return n;
  }

  bool Live(const Napi::CallbackInfo& info) {
    if (skel_) return true;
    throw ErrnoError(info.Env(), EBADF, "peerwatch", "the BPF programs are detached (destroyed)");
  }

  // updatePeers(keys: Buffer n×20, values: Buffer n×32)
  Napi::Value UpdatePeers(const Napi::CallbackInfo& info) {
    Live(info);
    auto keys = info[0].As<Napi::Buffer<uint8_t>>();
    auto vals = info[1].As<Napi::Buffer<uint8_t>>();
    size_t n = keys.Length() / sizeof(pw_peer_key);
    if (keys.Length() % sizeof(pw_peer_key) || vals.Length() != n * sizeof(pw_peer_val))
      throw Napi::RangeError::New(info.Env(), "updatePeers: keys and values of different counts");
    int fd = bpf_map__fd(skel_->maps.peers);
    for (size_t i = 0; i < n; i++) {
      const void* k = keys.Data() + i * sizeof(pw_peer_key);
      const auto* v = reinterpret_cast<const pw_peer_val*>(vals.Data() + i * sizeof(pw_peer_val));
      if (v->slot >= max_peers_) throw Napi::RangeError::New(info.Env(), "updatePeers: slot beyond maxPeers");
      if (bpf_map_update_elem(fd, k, v, BPF_ANY) < 0)
        throw ErrnoError(info.Env(), errno, "bpf(BPF_MAP_UPDATE_ELEM)",
                         errno == E2BIG ? "the peer map is full (maxPeers " + std::to_string(max_peers_) + ")" : "peer map");
    }
    return info.Env().Undefined();
  }

  // deletePeers(keys: Buffer n×20) → how many were present
  Napi::Value DeletePeers(const Napi::CallbackInfo& info) {
    Live(info);
    auto keys = info[0].As<Napi::Buffer<uint8_t>>();
    int fd = bpf_map__fd(skel_->maps.peers);
    size_t n = keys.Length() / sizeof(pw_peer_key), gone = 0;
    for (size_t i = 0; i < n; i++) {
      if (bpf_map_delete_elem(fd, keys.Data() + i * sizeof(pw_peer_key)) == 0)
        gone++;
      else if (errno != ENOENT)
        throw ErrnoError(info.Env(), errno, "bpf(BPF_MAP_DELETE_ELEM)", "peer map");
    }
    return Napi::Number::New(info.Env(), double(gone));
  }

  // resetCounters(slot, present): create a slot's per-CPU counters at zero, or (present
  // false) delete them
  Napi::Value ResetCounters(const Napi::CallbackInfo& info) {
    Live(info);
    uint32_t slot = info[0].As<Napi::Number>().Uint32Value();
    bool present = info[1].ToBoolean().Value();
    if (slot >= max_peers_) throw Napi::RangeError::New(info.Env(), "resetCounters: slot beyond maxPeers");
    int fd = bpf_map__fd(skel_->maps.counters);
    if (!present) {
      if (bpf_map_delete_elem(fd, &slot) < 0 && errno != ENOENT)
        throw ErrnoError(info.Env(), errno, "bpf(BPF_MAP_DELETE_ELEM)", "counters");
      return info.Env().Undefined();
    }
    std::vector<pw_counters> zero(libbpf_num_possible_cpus());
    std::memset(zero.data(), 0, zero.size() * sizeof(pw_counters));
    if (bpf_map_update_elem(fd, &slot, zero.data(), BPF_ANY) < 0)
      throw ErrnoError(info.Env(), errno, "bpf(BPF_MAP_UPDATE_ELEM)", "counters");
    return info.Env().Undefined();
  }

  // readCounters(slots: Uint32Array) → Float64Array(slots.length × PW_COUNTERS), summed over CPUs
  Napi::Value ReadCounters(const Napi::CallbackInfo& info) {
    Live(info);
    auto slots = info[0].As<Napi::Uint32Array>();
    size_t n = slots.ElementLength();
    auto out = Napi::Float64Array::New(info.Env(), n * PW_COUNTERS);
    std::vector<pw_counters> per(libbpf_num_possible_cpus());
    int fd = bpf_map__fd(skel_->maps.counters);
    for (size_t i = 0; i < n; i++) {
      uint32_t slot = slots[i];
      for (int c = 0; c < PW_COUNTERS; c++) out[i * PW_COUNTERS + c] = 0;
      if (slot >= max_peers_ || bpf_map_lookup_elem(fd, &slot, per.data()) < 0) continue;
      for (const pw_counters& p : per)
        for (int c = 0; c < PW_COUNTERS; c++) out[i * PW_COUNTERS + c] += double(p.v[c]);
    }
    return out;
  }

  Napi::Value ReadGlobals(const Napi::CallbackInfo& info) {
    Live(info);
    auto out = Napi::Float64Array::New(info.Env(), PW_GLOBALS);
    std::vector<pw_globals> per(libbpf_num_possible_cpus());
    uint32_t zero = 0;
    for (int c = 0; c < PW_GLOBALS; c++) out[c] = 0;
    if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.globals), &zero, per.data()) == 0)
      for (const pw_globals& p : per)
        for (int c = 0; c < PW_GLOBALS; c++) out[c] += double(p.v[c]);
    return out;
  }

  // info() → { abi, eventSize, counters, globals, cpus, maxPeers, attached: string[], programIds: number[],
  //           maps: [{name, maxEntries, memlock}] }
  Napi::Value Info(const Napi::CallbackInfo& info) {
    Live(info);
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("abi", PW_ABI_VERSION);
    o.Set("eventSize", PW_EVENT_SIZE);
    o.Set("counters", PW_COUNTERS);
    o.Set("globals", PW_GLOBALS);
    o.Set("cpus", libbpf_num_possible_cpus());
    o.Set("maxPeers", max_peers_);
    o.Set("preloaded", preloaded_);
    Napi::Array att = Napi::Array::New(env, attached_.size());
    for (size_t i = 0; i < attached_.size(); i++) att.Set(i, attached_[i]);
    o.Set("attached", att);
    Napi::Array ids = Napi::Array::New(env);
    uint32_t n = 0;
    bpf_program* prog;
    bpf_object__for_each_program(prog, skel_->obj) {
      int fd = bpf_program__fd(prog);
      if (fd < 0) continue;
      bpf_prog_info pi{};
      uint32_t len = sizeof pi;
      if (bpf_obj_get_info_by_fd(fd, &pi, &len) == 0) ids.Set(n++, pi.id);
    }
    o.Set("programIds", ids);
    Napi::Array maps = Napi::Array::New(env);
    uint32_t i = 0;
    bpf_map* m;
    bpf_object__for_each_map(m, skel_->obj) {
      if (bpf_map__fd(m) < 0) continue;
      Napi::Object mo = Napi::Object::New(env);
      mo.Set("name", bpf_map__name(m));
      mo.Set("maxEntries", bpf_map__max_entries(m));
      mo.Set("memlock", MapMemlock(bpf_map__fd(m)));
      maps.Set(i++, mo);
    }
    o.Set("maps", maps);
    return o;
  }

  // drain(): deliver whatever the ring buffer holds now, synchronously; → number of events
  Napi::Value Drain(const Napi::CallbackInfo& info) {
    Live(info);
    return Napi::Number::New(info.Env(), double(Deliver()));
  }

  Napi::Value Ref(const Napi::CallbackInfo& info) {
    if (poll_) uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
    return info.Env().Undefined();
  }

  Napi::Value Unref(const Napi::CallbackInfo& info) {
    if (poll_) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
    return info.Env().Undefined();
  }

  Napi::Value Destroy(const Napi::CallbackInfo& info) {
    Teardown();
    return info.Env().Undefined();
  }

  napi_env env_ = nullptr;
  bool hook_ = false;
  Napi::FunctionReference on_events_;
  peerwatch_bpf* skel_ = nullptr;
  std::vector<bpf_link*> links_;
  std::vector<std::string> attached_;
  ring_buffer* rb_ = nullptr;
  uv_poll_t* poll_ = nullptr;
  std::string batch_;
  uint32_t max_peers_ = 0;
  bool preloaded_ = false;
  std::string error_, syscall_;
};

}  // namespace

void InitPeerWatch(Napi::Env env, Napi::Object exports) {
  exports.Set("PeerWatchHandle", PeerWatchHandle::Define(env));
  exports.Set("peerwatchPreload", Napi::Function::New(env, PreloadPeerWatch, "peerwatchPreload"));
  Napi::Object layout = Napi::Object::New(env);
  layout.Set("abi", PW_ABI_VERSION);
  layout.Set("eventSize", PW_EVENT_SIZE);
  layout.Set("kinds", static_cast<int>(PW_KIND_COUNT));
  layout.Set("counters", PW_COUNTERS);
  layout.Set("globals", PW_GLOBALS);
  exports.Set("peerwatchLayout", layout);
}

ROUTELET_REGISTER(InitPeerWatch);

}  // namespace routelet

// The scheduling policy of V8's worker threads (Node's platform pool: background compiles,
// concurrent marking, parallel scavenging), set from inside each of them.
//
// Why: on a node whose CPUs are idle, the JavaScript thread wakes a worker when it hands it a
// compile job, and the scheduler often puts the worker on the same CPU and lets it preempt the
// JavaScript thread at once (measured: 0.5–3.3 ms compiles in the middle of a route's path while
// the other CPU idled). SCHED_BATCH keeps a worker's share of the CPU (same weight as
// SCHED_OTHER at the same nice value, so nothing the JavaScript thread may wait for is starved)
// but a woken SCHED_BATCH thread never preempts the running one. Under a table load it costs:
// the workers help the JavaScript thread's scavenges only once a CPU frees up, and the load
// took about 11 % longer; so the agent sets them back to SCHED_OTHER while bulk work goes on
// (setThreadsPolicy, src/sys/workers.ts).
//
// How: Node exposes its platform to embedders and addons (node.h). One task per worker it
// reports is posted; each task sets its own thread's policy, then holds its worker until every
// task has started, or all but one and none for 100 ms, so that no worker takes two of them.
// (Node 20 counts its delayed-task scheduler thread among the workers, and that thread runs
// no task: the last task waits for a free worker and runs after the others, on a thread
// already set.)
#include <node.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <v8-platform.h>
#include <v8.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <algorithm>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "errors.h"
#include "registry.h"

namespace routelet {
namespace {

struct Round {
  std::mutex mu;
  std::condition_variable cv;
  int want = 0;
  int started = 0;
  int policy = SCHED_OTHER;
  std::vector<int> tids;
  int firstError = 0;
  std::chrono::steady_clock::time_point lastStart;

  // every task started, or all but one and none for a while (Node 20 counts its delayed-task
  // thread among the workers): every worker has taken one. A busy worker is waited for.
  bool Settled() const {
    return started >= want || (started >= want - 1 && started > 0 && std::chrono::steady_clock::now() - lastStart >= kQuiet);
  }
  static constexpr std::chrono::milliseconds kQuiet{100};
};

// Wait on r's condition until it settles or the deadline passes.
bool WaitSettled(Round& r, std::unique_lock<std::mutex>& l, std::chrono::steady_clock::time_point deadline) {
  while (!r.Settled()) {
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    auto next = r.started > 0 ? std::min(deadline, r.lastStart + Round::kQuiet) : deadline;
    r.cv.wait_until(l, std::max(next, now + std::chrono::milliseconds(1)));
  }
  return true;
}

// 'batch' → SCHED_BATCH, 'normal' → SCHED_OTHER, anything else -1
int PolicyOf(const std::string& name) { return name == "batch" ? SCHED_BATCH : name == "normal" ? SCHED_OTHER : -1; }

class SetPolicyTask : public v8::Task {
 public:
  explicit SetPolicyTask(std::shared_ptr<Round> r) : r_(std::move(r)) {}
  void Run() override {
    struct sched_param sp {};
    int err = sched_setscheduler(0, r_->policy, &sp) == 0 ? 0 : errno;  // 0: the calling thread
    std::unique_lock<std::mutex> l(r_->mu);
    r_->started++;
    r_->lastStart = std::chrono::steady_clock::now();
    if (err == 0)
      r_->tids.push_back(static_cast<int>(syscall(SYS_gettid)));
    else if (r_->firstError == 0)
      r_->firstError = err;
    r_->cv.notify_all();
    // hold this worker until the others have taken theirs, so that no worker runs two of them
    WaitSettled(*r_, l, std::chrono::steady_clock::now() + std::chrono::seconds(2));
  }

 private:
  std::shared_ptr<Round> r_;
};

// setWorkerThreadsPolicy(policy: 'batch' | 'normal', timeoutMs) →
//   { ok, workers, threads: number[], errno?, code?, syscall?, message }
Napi::Value SetWorkerThreadsPolicy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>().Utf8Value();
  int timeoutMs = info[1].As<Napi::Number>().Int32Value();
  int policy = PolicyOf(name);
  if (policy < 0) return Outcome(env, EINVAL, "sched_setscheduler", "policy must be batch or normal, not " + name);

  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  node::Environment* nodeEnv = isolate ? node::GetCurrentEnvironment(isolate->GetCurrentContext()) : nullptr;
  node::MultiIsolatePlatform* platform = nodeEnv ? node::GetMultiIsolatePlatform(nodeEnv) : nullptr;
  if (platform == nullptr) return Outcome(env, ENOSYS, "platform", "Node's platform is not available to this addon");

  auto r = std::make_shared<Round>();
  r->want = platform->NumberOfWorkerThreads();
  r->policy = policy;
  for (int i = 0; i < r->want; i++) platform->CallOnWorkerThread(std::make_unique<SetPolicyTask>(r));
  std::vector<int> tids;
  int err;
  bool settled;
  {
    std::unique_lock<std::mutex> l(r->mu);
    settled = WaitSettled(*r, l, std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs));
    tids = r->tids;
    err = r->firstError;
  }
  std::sort(tids.begin(), tids.end());  // the late task ran on a thread already counted
  tids.erase(std::unique(tids.begin(), tids.end()), tids.end());
  Napi::Object o;
  if (err != 0)
    o = Outcome(env, err, "sched_setscheduler", "on a V8 worker thread");
  else if (!settled)
    o = Outcome(env, ETIMEDOUT, "platform", std::to_string(tids.size()) + " V8 worker threads took the task within " + std::to_string(timeoutMs) + " ms");
  else
    o = Outcome(env, 0, "", std::to_string(tids.size()) + " V8 worker threads set to SCHED_" + (policy == SCHED_BATCH ? "BATCH" : "OTHER"));
  o.Set("workers", Napi::Number::New(env, r->want));
  Napi::Array a = Napi::Array::New(env, tids.size());
  for (size_t i = 0; i < tids.size(); i++) a.Set(static_cast<uint32_t>(i), Napi::Number::New(env, tids[i]));
  o.Set("threads", a);
  return o;
}

// setThreadsPolicy(tids: number[], policy: 'batch' | 'normal') → { ok, errno?, code?, syscall?, message }
// The threads found by setWorkerThreadsPolicy, set again from this thread: a system call each,
// no task, no wait (the agent switches its workers back to SCHED_OTHER for a table load).
Napi::Value SetThreadsPolicy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array tids = info[0].As<Napi::Array>();
  std::string name = info[1].As<Napi::String>().Utf8Value();
  int policy = PolicyOf(name);
  if (policy < 0) return Outcome(env, EINVAL, "sched_setscheduler", "policy must be batch or normal, not " + name);
  struct sched_param sp {};
  for (uint32_t i = 0; i < tids.Length(); i++) {
    int tid = tids.Get(i).As<Napi::Number>().Int32Value();
    if (sched_setscheduler(tid, policy, &sp) < 0) return Outcome(env, errno, "sched_setscheduler", "thread " + std::to_string(tid));
  }
  return Outcome(env, 0, "", std::to_string(tids.Length()) + " threads set");
}

}  // namespace

void InitRuntimeThreads(Napi::Env env, Napi::Object exports) {
  exports.Set("setWorkerThreadsPolicy", Napi::Function::New(env, SetWorkerThreadsPolicy));
  exports.Set("setThreadsPolicy", Napi::Function::New(env, SetThreadsPolicy));
}

ROUTELET_REGISTER(InitRuntimeThreads);

}  // namespace routelet

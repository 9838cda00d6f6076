// The route queue: a thread the addon owns programs routes and kernel next-hop objects over
// rtnetlink, many messages per sendmsg, and hands per-route results back to JavaScript in
// batches through a thread-safe function. Dumps run on the same thread, in order with the
// changes queued before them.
//
// The lane: a few route operations (kLaneMaxOps) can instead be sent from the JavaScript
// thread itself (submitNow) on a second socket of the queue, answered within the call (the
// kernel handles a route message inside sendmsg, so its acknowledgement is queued when
// sendmsg returns: one non-blocking read). Taken only when the thread has finished everything
// submitted before (order kept, and no bulk work of ours holds the kernel's RTNL lock: a
// lane write during a bulk load waited up to a second for it, the event loop stopped).
//
// While the thread works, an urgent submission (submit with urgent) goes to the urgent writer
// instead: a thread of its own that sends it on the lane's socket at once, beside the route
// thread's bulk work. The kernel takes its RTNL lock per route message, not per sendmsg, so
// the urgent route waits for the one message being handled, not for the route thread's whole
// 256 KB batch (measured with the raw C loader putting 1,000,000 routes in while a second
// writer adds a /32 every 15 ms: p50 30 µs, p90 0.5 ms; what is left are the kernel's own
// stalls, its trie resizes, up to 0.45 s: npm run bench:rtnl). The messages are built on the
// JavaScript thread from its copy of the next-hop handles, as for the lane; a handle is used
// ahead of the queue only once the thread has taken (and, for kernel objects, sent) its
// definition. The lane waits while the writer has work (one socket, one writer at a time). The
// caller must not have the same prefix in flight twice. Neither the JavaScript thread nor the
// writer waits for the route thread.
#pragma once
#include <napi.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "netlink_socket.h"
#include "route_wire.h"

namespace routelet {

// What the thread hands back; turned into plain JavaScript objects on the loop.
struct QueueResult {
  enum Kind : uint8_t { kRoutes, kNexthop, kDump, kEcho, kClosed } kind;
  explicit QueueResult(Kind k) : kind(k) {}
  uint32_t id = 0;     // batch, handle or dump request
  uint32_t start = 0;  // kRoutes: first operation index of the batch covered
  uint32_t count = 0;  // kRoutes: operations covered
  std::vector<int32_t> failures;       // kRoutes: pairs (operation index, positive errno)
  std::vector<std::string> messages;   // kRoutes: kernel's text per failure (may be empty)
  int err = 0;                         // kNexthop, kDump
  std::string message;
  bool release = false;                // kNexthop: the answer to a release
  std::vector<uint8_t> data;           // kDump, kEcho: route records (route_wire.h)
};

struct Outbox {
  std::mutex m;
  std::vector<QueueResult> items;
  bool scheduled = false;
};

void DeliverResults(Napi::Env env, Napi::Function callback, Outbox* box, void*);
using ResultsFn = Napi::TypedThreadSafeFunction<Outbox, void, DeliverResults>;

class RouteQueue : public Napi::ObjectWrap<RouteQueue> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit RouteQueue(const Napi::CallbackInfo& info);
  ~RouteQueue() override;

 private:
  struct Command {
    enum Kind : uint8_t { kRoutes, kDefine, kGroup, kRelease, kDump } kind;
    explicit Command(Kind k) : kind(k) {}
    uint64_t seq = 0;                 // order of submission (cmdSeq_)
    uint32_t id = 0;
    uint32_t count = 0;
    std::vector<uint8_t> bytes;       // kRoutes: operations; kDump: what to dump
    route::Handle handle;             // kDefine
    std::vector<uint32_t> members;    // kGroup
    std::vector<uint16_t> weights;
  };
  // A run of messages in the send buffer that came from one place.
  struct Segment {
    enum Kind : uint8_t { kRoutes, kNexthop, kRelease } kind;
    Segment(Kind k, uint32_t seq, uint32_t n, uint32_t origin, uint32_t first)
        : kind(k), firstSeq(seq), count(n), id(origin), start(first) {}
    uint32_t firstSeq;
    uint32_t count;
    uint32_t id;     // batch or handle
    uint32_t start;  // first operation index
    int localErr = 0;  // refused before reaching the kernel
    std::string localMessage;
  };

  Napi::Value Submit(const Napi::CallbackInfo& info);
  Napi::Value SubmitNow(const Napi::CallbackInfo& info);
  Napi::Value DefineNexthop(const Napi::CallbackInfo& info);
  Napi::Value DefineGroup(const Napi::CallbackInfo& info);
  Napi::Value ReleaseNexthop(const Napi::CallbackInfo& info);
  Napi::Value Dump(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Ref(const Napi::CallbackInfo& info);
  Napi::Value Unref(const Napi::CallbackInfo& info);
  Napi::Value GetPortId(const Napi::CallbackInfo& info);
  Napi::Value GetNexthopObjects(const Napi::CallbackInfo& info);

  // The most operations the lane (or the urgent writer) sends in one call (about 3 µs of
  // kernel work each): more goes to the route thread.
  static constexpr uint32_t kLaneMaxOps = 64;
  // A lane exchange's outcome: per operation 0 or the kernel's errno (or `missing` for those
  // not answered), the kernel's texts, echoed routes (route_wire.h records).
  struct LaneAnswer {
    int errs[kLaneMaxOps] = {};
    std::vector<std::string> msgs;  // sized at the first failure
    bool failed = false;
    int missing = 0;
    std::vector<uint8_t> echoes;
  };
  // An urgent batch for the writer: its messages, built on the JavaScript thread.
  struct UrgentWrite {
    uint32_t id = 0;
    uint32_t count = 0;
    uint32_t firstSeq = 0;
    uint32_t syncSeq = 0;
    std::vector<char> msgs;
  };

  void Push(Command c);
  bool LaneOk(const uint8_t* ops, uint32_t count, uint64_t done) const;
  // JS thread: the lane's messages for ops (checked by the caller) into out; their seq numbers.
  size_t BuildLane(const route::Op* ops, uint32_t count, std::vector<char>* out, uint32_t* firstSeq, uint32_t* syncSeq);
  // Send msgs on the lane's socket and read the answers (inside sendmsg, so without waiting).
  void Exchange(const char* msgs, size_t used, uint32_t firstSeq, uint32_t count, uint32_t syncSeq,
                std::vector<char>* recvBuf, LaneAnswer* a) const;
  static bool AnswerClean(const LaneAnswer& a) { return !a.failed && !a.missing && a.echoes.empty(); }
  static void AnswerResults(uint32_t batch, uint32_t count, LaneAnswer& a, std::vector<QueueResult>* out);
  void MirrorDefine(uint32_t handle, route::Handle h, bool group, const std::vector<uint32_t>& members,
                    const std::vector<uint16_t>& weights);
  void Stop(bool abort);
  static void CleanupHook(void* self);

  // --- the thread
  void Run();
  void Process(Command& c);
  void ProcessOne(Command& c);
  void Publish();
  void AddRoutes(const Command& c);
  void AddDefine(uint32_t handle, route::Handle h, bool group);
  void AddRelease(uint32_t handle);
  void AddLocalFailure(Segment::Kind kind, uint32_t id, uint32_t index, int err, std::string message);
  char* Reserve(size_t bytes);
  void Flush();
  // --- the urgent writer
  void RunWriter();
  void WaitWriterIdle();
  void RunDump(const Command& c);
  void Emit(std::vector<QueueResult> results);

  route::Config cfg_;
  size_t batchBytes_ = 256 * 1024;
  ResultsFn results_;
  Outbox* outbox_ = nullptr;
  bool released_ = false;  // JS thread: the thread-safe function is gone

  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Command> queue_;
  std::atomic<bool> queued_{false};
  // The urgent writer: its queue (under writerMutex_), and the batches queued or being sent
  // (counted up under mutex_, with stopping_, so that none comes after the thread's close).
  std::thread writer_;
  std::mutex writerMutex_;
  std::condition_variable writerCv_;
  std::deque<UrgentWrite> writes_;
  bool writerStop_ = false;
  std::atomic<uint32_t> writesPending_{0};
  std::vector<char> writerRecv_;  // the writer's
  // Commands numbered in submission order (JS thread); the thread publishes the number of the
  // last one it has fully sent and read the answers of.
  uint64_t cmdSeq_ = 0;
  std::atomic<uint64_t> doneCmd_{0};
  uint64_t lastProcessed_ = 0;  // the thread's: the last command whose messages are built

  // The lane, owned by the JavaScript thread (the socket is opened on the route thread, in
  // the namespace, before the constructor returns).
  int laneFd_ = -1;
  uint32_t laneSeq_ = 1;
  std::vector<route::Handle> jsHandles_;
  std::vector<uint64_t> jsDefinedAt_;  // the command that defined each handle
  std::vector<char> laneBuf_;
  std::vector<char> laneRecv_;
  bool stopping_ = false;
  std::atomic<bool> abort_{false};
  bool hooked_ = false;

  // Owned by the thread once it runs.
  int fd_ = -1;
  int dumpFd_ = -1;
  uint32_t portId_ = 0;
  std::vector<route::Handle> handles_;
  std::vector<char> buf_;
  size_t used_ = 0;
  size_t lastMsg_ = 0;
  uint32_t seq_ = 1;
  size_t bytesSinceTrim_ = 0;
  std::vector<Segment> segments_;
  nl::BulkReader reader_{256, 1024};
};

}  // namespace routelet

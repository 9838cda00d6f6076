// cgroup v2 for sockops: `ip netns exec` gives a process a fresh /sys without the cgroup2
// mount, so routelet can mount a private one where it needs to attach.
#include <sys/mount.h>
#include <sys/stat.h>

#include <cerrno>
#include <string>

#include "errors.h"
#include "registry.h"

namespace routelet {
namespace {

int MkdirP(const std::string& path) {
  for (size_t i = 1; i <= path.size(); i++) {
    if (i == path.size() || path[i] == '/') {
      std::string part = path.substr(0, i);
      if (mkdir(part.c_str(), 0755) < 0 && errno != EEXIST) return errno;
    }
  }
  return 0;
}

Napi::Value MountCgroup2(const Napi::CallbackInfo& info) {
  std::string dir = info[0].As<Napi::String>().Utf8Value();
  if (int e = MkdirP(dir)) return Outcome(info.Env(), e, "mkdir", dir);
  if (mount("cgroup2", dir.c_str(), "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) < 0 && errno != EBUSY)
    return Outcome(info.Env(), errno, "mount", "cgroup2 on " + dir);
  return Outcome(info.Env(), 0, "", "cgroup2 mounted on " + dir);
}

}  // namespace

void InitCgroup(Napi::Env env, Napi::Object exports) {
  exports.Set("mountCgroup2", Napi::Function::New(env, MountCgroup2));
}

ROUTELET_REGISTER(InitCgroup);

}  // namespace routelet

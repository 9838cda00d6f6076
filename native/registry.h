// Each part of the addon registers its exports with ROUTELET_REGISTER(InitFn) in its own .cc
// file; addon.cc calls them all at load. No central list to edit when a part is added.
#pragma once
#include <napi.h>

#include <vector>

namespace routelet {

using InitFn = void (*)(Napi::Env env, Napi::Object exports);

inline std::vector<InitFn>& Registry() {
  static std::vector<InitFn> fns;
  return fns;
}

struct Registrar {
  explicit Registrar(InitFn fn) { Registry().push_back(fn); }
};

}  // namespace routelet

#define ROUTELET_REGISTER_CAT2(a, b) a##b
#define ROUTELET_REGISTER_CAT(a, b) ROUTELET_REGISTER_CAT2(a, b)
#define ROUTELET_REGISTER(fn) \
  static ::routelet::Registrar ROUTELET_REGISTER_CAT(routelet_registrar_, __LINE__)(fn)

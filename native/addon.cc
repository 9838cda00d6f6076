// Entry of the routelet native addon. Each part registers its functions with
// ROUTELET_REGISTER (registry.h); the only importer on the TypeScript side is
// src/native/addon.ts.
#include <napi.h>

#include "registry.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  for (auto fn : routelet::Registry()) fn(env, exports);
  return exports;
}

NODE_API_MODULE(routelet_native, Init)

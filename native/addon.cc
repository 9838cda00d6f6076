// Entry of the routelet native addon. Each part registers its functions here; the only
// importer on the TypeScript side is src/native/index.ts.
#include <napi.h>

namespace routelet {
void InitCheck(Napi::Env env, Napi::Object exports);
void InitCgroup(Napi::Env env, Napi::Object exports);
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  routelet::InitCheck(env, exports);
  routelet::InitCgroup(env, exports);
  return exports;
}

NODE_API_MODULE(routelet_native, Init)

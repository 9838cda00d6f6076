#include "errors.h"

#include <uv.h>

#include <cstring>

namespace routelet {

std::string ErrnoName(int err) {
  if (err <= 0) return "OK";
  const char* name = uv_err_name(-err);
  if (name == nullptr || std::strncmp(name, "Unknown", 7) == 0) return "E" + std::to_string(err);
  return name;
}

Napi::Error ErrnoError(Napi::Env env, int err, const std::string& syscall, const std::string& detail) {
  std::string code = ErrnoName(err);
  std::string msg = syscall + " " + code + " (" + std::strerror(err) + ")";
  if (!detail.empty()) msg += ": " + detail;
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("errno", Napi::Number::New(env, -err));
  e.Set("code", Napi::String::New(env, code));
  e.Set("syscall", Napi::String::New(env, syscall));
  return e;
}

Napi::Object Outcome(Napi::Env env, int err, const std::string& syscall, const std::string& message) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("ok", Napi::Boolean::New(env, err == 0));
  if (err != 0) {
    o.Set("errno", Napi::Number::New(env, -err));
    o.Set("code", Napi::String::New(env, ErrnoName(err)));
    o.Set("syscall", Napi::String::New(env, syscall));
  }
  o.Set("message", Napi::String::New(env, message));
  return o;
}

}  // namespace routelet

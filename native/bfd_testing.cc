// Test hook for the BFD packet functions (bfd_packet.h): bfdTesting.encode / decode /
// verify, pure functions on buffers, so the tests check the wire format and the
// authentication section without sockets.
//   encode(packet, auth?, seq?) -> Buffer
//   decode(buffer) -> packet object, or { error }
//   verify(buffer, auth?) -> '' when the authentication section checks, else why not
#include "bfd_packet.h"
#include "registry.h"

namespace routelet {
namespace {

using namespace bfd;

AuthConfig AuthArg(Napi::Env env, Napi::Value v) {
  AuthConfig a;
  if (!v.IsObject()) return a;
  Napi::Object o = v.As<Napi::Object>();
  int t = AuthTypeFromName(o.Get("type").ToString().Utf8Value());
  if (t < 0) throw Napi::TypeError::New(env, "unknown auth type");
  a.type = uint8_t(t);
  a.key_id = uint8_t(o.Get("keyId").ToNumber().Uint32Value());
  a.key = o.Get("key").ToString().Utf8Value();
  return a;
}

uint8_t StateArg(const std::string& s) {
  if (s == "adminDown") return kAdminDown;
  if (s == "init") return kInit;
  if (s == "up") return kUp;
  return kDown;
}

uint32_t U32(Napi::Object o, const char* k) { return o.Has(k) ? o.Get(k).ToNumber().Uint32Value() : 0; }
bool Flag(Napi::Object o, const char* k) { return o.Has(k) && o.Get(k).ToBoolean(); }

Napi::Value EncodeFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = info[0].As<Napi::Object>();
  Packet p;
  p.diag = uint8_t(U32(o, "diag"));
  p.state = StateArg(o.Has("state") ? o.Get("state").ToString().Utf8Value() : "down");
  p.poll = Flag(o, "poll");
  p.final = Flag(o, "final");
  p.cpi = Flag(o, "cpi");
  p.demand = Flag(o, "demand");
  p.multipoint = Flag(o, "multipoint");
  p.detect_mult = uint8_t(U32(o, "detectMult"));
  p.my_disc = U32(o, "myDisc");
  p.your_disc = U32(o, "yourDisc");
  p.desired_min_tx_us = U32(o, "desiredMinTxUs");
  p.required_min_rx_us = U32(o, "requiredMinRxUs");
  p.required_min_echo_rx_us = U32(o, "requiredMinEchoRxUs");
  AuthConfig a = AuthArg(env, info.Length() > 1 ? info[1] : env.Undefined());
  std::string why = CheckAuthConfig(a);
  if (!why.empty()) throw Napi::RangeError::New(env, why);
  uint32_t seq = info.Length() > 2 ? info[2].ToNumber().Uint32Value() : 0;
  std::vector<uint8_t> b = Encode(p, a, seq);
  return Napi::Buffer<uint8_t>::Copy(env, b.data(), b.size());
}

Napi::Value DecodeFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto b = info[0].As<Napi::Buffer<uint8_t>>();
  Packet p;
  std::string err = Decode(b.Data(), b.Length(), &p);
  Napi::Object o = Napi::Object::New(env);
  if (!err.empty()) {
    o.Set("error", err);
    return o;
  }
  o.Set("version", p.version);
  o.Set("diag", p.diag);
  o.Set("state", StateName(p.state));
  o.Set("poll", p.poll);
  o.Set("final", p.final);
  o.Set("cpi", p.cpi);
  o.Set("auth", p.auth);
  o.Set("demand", p.demand);
  o.Set("detectMult", p.detect_mult);
  o.Set("myDisc", p.my_disc);
  o.Set("yourDisc", p.your_disc);
  o.Set("desiredMinTxUs", p.desired_min_tx_us);
  o.Set("requiredMinRxUs", p.required_min_rx_us);
  o.Set("requiredMinEchoRxUs", p.required_min_echo_rx_us);
  if (p.auth) {
    o.Set("authType", AuthTypeName(p.auth_type));
    o.Set("authKeyId", p.auth_key_id);
    o.Set("authSeq", p.auth_seq);
  }
  return o;
}

Napi::Value VerifyFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto b = info[0].As<Napi::Buffer<uint8_t>>();
  Packet p;
  std::string err = Decode(b.Data(), b.Length(), &p);
  if (err.empty()) err = VerifyAuth(b.Data(), b.Length(), p, AuthArg(env, info.Length() > 1 ? info[1] : env.Undefined()));
  return Napi::String::New(env, err);
}

void Init(Napi::Env env, Napi::Object exports) {
  Napi::Object t = Napi::Object::New(env);
  t.Set("encode", Napi::Function::New(env, EncodeFn, "encode"));
  t.Set("decode", Napi::Function::New(env, DecodeFn, "decode"));
  t.Set("verify", Napi::Function::New(env, VerifyFn, "verify"));
  exports.Set("bfdTesting", t);
}

ROUTELET_REGISTER(Init);

}  // namespace
}  // namespace routelet

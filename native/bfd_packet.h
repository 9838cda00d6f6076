// BFD control packets (RFC 5880 §4): encoding, decoding and the authentication section
// (§4.2–4.4, §6.7), as pure functions with no I/O and no clock, so they are tested
// through the addon's bfdTesting hook (bfd_testing.cc) without sockets.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace routelet {
namespace bfd {

enum State : uint8_t { kAdminDown = 0, kDown = 1, kInit = 2, kUp = 3 };

// RFC 5880 §4.1 diagnostic codes
enum Diag : uint8_t {
  kDiagNone = 0,
  kDiagDetectExpired = 1,
  kDiagEchoFailed = 2,
  kDiagNeighborDown = 3,
  kDiagForwardingReset = 4,
  kDiagPathDown = 5,
  kDiagConcatPathDown = 6,
  kDiagAdminDown = 7,
  kDiagReverseConcatPathDown = 8,
};

enum AuthType : uint8_t {
  kAuthNone = 0,
  kAuthSimple = 1,
  kAuthKeyedMd5 = 2,
  kAuthMeticulousMd5 = 3,
  kAuthKeyedSha1 = 4,
  kAuthMeticulousSha1 = 5,
};

constexpr size_t kHeaderLen = 24;
constexpr size_t kMaxPacketLen = 24 + 28;

struct Packet {
  uint8_t version = 1;
  uint8_t diag = 0;
  uint8_t state = kDown;
  bool poll = false;
  bool final = false;
  bool cpi = false;     // control plane independent (C)
  bool auth = false;    // authentication present (A)
  bool demand = false;  // D
  bool multipoint = false;
  uint8_t detect_mult = 0;
  uint32_t my_disc = 0;
  uint32_t your_disc = 0;
  uint32_t desired_min_tx_us = 0;
  uint32_t required_min_rx_us = 0;
  uint32_t required_min_echo_rx_us = 0;
  // authentication section, when auth
  uint8_t auth_type = kAuthNone;
  uint8_t auth_len = 0;
  uint8_t auth_key_id = 0;
  uint32_t auth_seq = 0;
};

struct AuthConfig {
  uint8_t type = kAuthNone;
  uint8_t key_id = 0;
  std::string key;  // password (simple) or secret (MD5 ≤ 16, SHA1 ≤ 20 bytes)
};

// Whether the configuration is usable; an error text otherwise.
std::string CheckAuthConfig(const AuthConfig& a);

// Encode `p` (its auth fields are taken from `a` and `seq`, the A bit from a.type != none)
// into wire bytes, digest computed.
std::vector<uint8_t> Encode(const Packet& p, const AuthConfig& a, uint32_t seq);

// Decode and check the fixed rules of RFC 5880 §6.8.6 that need no session (version, length,
// multiplier, M bit, My Discriminator, authentication section shape). "" when valid,
// otherwise why the packet is to be discarded.
std::string Decode(const uint8_t* data, size_t len, Packet* out);

// Check the authentication section of a decoded packet against `a`: type, key id, password
// or digest. Sequence numbers are the session's business. "" when valid.
std::string VerifyAuth(const uint8_t* data, size_t len, const Packet& p, const AuthConfig& a);

bool Meticulous(uint8_t auth_type);
const char* StateName(uint8_t s);
const char* AuthTypeName(uint8_t t);
// -1 when unknown
int AuthTypeFromName(const std::string& name);

}  // namespace bfd
}  // namespace routelet

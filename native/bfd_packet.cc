// BFD control packet encoding and decoding (RFC 5880 §4, §6.7, §6.8.6): see bfd_packet.h.
#include "bfd_packet.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstring>

namespace routelet {
namespace bfd {
namespace {

void Put32(uint8_t* p, uint32_t v) {
  p[0] = v >> 24;
  p[1] = v >> 16;
  p[2] = v >> 8;
  p[3] = v;
}

uint32_t Get32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
}

bool IsMd5(uint8_t t) { return t == kAuthKeyedMd5 || t == kAuthMeticulousMd5; }
bool IsSha1(uint8_t t) { return t == kAuthKeyedSha1 || t == kAuthMeticulousSha1; }
size_t DigestLen(uint8_t t) { return IsMd5(t) ? 16 : 20; }

// Auth section length on the wire for a configuration
size_t AuthLen(const AuthConfig& a) {
  if (a.type == kAuthSimple) return 3 + a.key.size();
  if (IsMd5(a.type)) return 24;
  if (IsSha1(a.type)) return 28;
  return 0;
}

// The digest over the whole packet with the key (zero padded) in the digest field (§6.7.3, §6.7.4).
void Digest(uint8_t* pkt, size_t len, uint8_t type, const std::string& key, uint8_t* out) {
  size_t dl = DigestLen(type);
  uint8_t* field = pkt + kHeaderLen + 8;
  std::memset(field, 0, dl);
  std::memcpy(field, key.data(), key.size() < dl ? key.size() : dl);
  unsigned int n = 0;
  EVP_Digest(pkt, len, out, &n, IsMd5(type) ? EVP_md5() : EVP_sha1(), nullptr);
}

}  // namespace

bool Meticulous(uint8_t t) { return t == kAuthMeticulousMd5 || t == kAuthMeticulousSha1; }

const char* StateName(uint8_t s) {
  switch (s) {
    case kAdminDown: return "adminDown";
    case kDown: return "down";
    case kInit: return "init";
    default: return "up";
  }
}

static const char* const kAuthNames[] = {"none", "simple", "keyed-md5", "meticulous-keyed-md5", "keyed-sha1", "meticulous-keyed-sha1"};

const char* AuthTypeName(uint8_t t) { return t <= 5 ? kAuthNames[t] : "unknown"; }

int AuthTypeFromName(const std::string& name) {
  for (int i = 0; i <= 5; i++)
    if (name == kAuthNames[i]) return i;
  return -1;
}

std::string CheckAuthConfig(const AuthConfig& a) {
  if (a.type == kAuthNone) return "";
  if (a.type > kAuthMeticulousSha1) return "unknown authentication type";
  if (a.key.empty()) return "authentication key is empty";
  if (a.type == kAuthSimple && a.key.size() > 16) return "simple password longer than 16 bytes";
  if (IsMd5(a.type) && a.key.size() > 16) return "MD5 key longer than 16 bytes";
  if (IsSha1(a.type) && a.key.size() > 20) return "SHA1 key longer than 20 bytes";
  return "";
}

std::vector<uint8_t> Encode(const Packet& p, const AuthConfig& a, uint32_t seq) {
  size_t alen = AuthLen(a);
  std::vector<uint8_t> b(kHeaderLen + alen, 0);
  b[0] = uint8_t((1 << 5) | (p.diag & 0x1f));
  b[1] = uint8_t(((p.state & 3) << 6) | (p.poll ? 0x20 : 0) | (p.final ? 0x10 : 0) | (p.cpi ? 0x08 : 0) |
                 (alen ? 0x04 : 0) | (p.demand ? 0x02 : 0) | (p.multipoint ? 0x01 : 0));
  b[2] = p.detect_mult;
  b[3] = uint8_t(b.size());
  Put32(&b[4], p.my_disc);
  Put32(&b[8], p.your_disc);
  Put32(&b[12], p.desired_min_tx_us);
  Put32(&b[16], p.required_min_rx_us);
  Put32(&b[20], p.required_min_echo_rx_us);
  if (!alen) return b;
  uint8_t* s = &b[kHeaderLen];
  s[0] = a.type;
  s[1] = uint8_t(alen);
  s[2] = a.key_id;
  if (a.type == kAuthSimple) {
    std::memcpy(s + 3, a.key.data(), a.key.size());
    return b;
  }
  s[3] = 0;
  Put32(s + 4, seq);
  uint8_t out[EVP_MAX_MD_SIZE];
  Digest(b.data(), b.size(), a.type, a.key, out);
  std::memcpy(s + 8, out, DigestLen(a.type));
  return b;
}

std::string Decode(const uint8_t* d, size_t len, Packet* p) {
  if (len < kHeaderLen) return "shorter than 24 bytes";
  p->version = d[0] >> 5;
  p->diag = d[0] & 0x1f;
  p->state = d[1] >> 6;
  p->poll = d[1] & 0x20;
  p->final = d[1] & 0x10;
  p->cpi = d[1] & 0x08;
  p->auth = d[1] & 0x04;
  p->demand = d[1] & 0x02;
  p->multipoint = d[1] & 0x01;
  p->detect_mult = d[2];
  uint8_t length = d[3];
  p->my_disc = Get32(d + 4);
  p->your_disc = Get32(d + 8);
  p->desired_min_tx_us = Get32(d + 12);
  p->required_min_rx_us = Get32(d + 16);
  p->required_min_echo_rx_us = Get32(d + 20);
  if (p->version != 1) return "version is not 1";
  if (length < (p->auth ? 26 : 24)) return "length field too small";
  if (length > len) return "length field larger than the payload";
  if (p->detect_mult == 0) return "detect multiplier is zero";
  if (p->multipoint) return "multipoint bit set";
  if (p->my_disc == 0) return "my discriminator is zero";
  if (p->your_disc == 0 && p->state != kDown && p->state != kAdminDown)
    return "your discriminator is zero and state is not Down or AdminDown";
  if (p->auth) {
    const uint8_t* s = d + kHeaderLen;
    p->auth_type = s[0];
    p->auth_len = s[1];
    p->auth_key_id = s[2];
    if (kHeaderLen + p->auth_len != length) return "authentication length does not match the packet length";
    if (p->auth_type == kAuthSimple) {
      if (p->auth_len < 4 || p->auth_len > 19) return "simple password length out of range";
    } else if (IsMd5(p->auth_type)) {
      if (p->auth_len != 24) return "MD5 authentication length is not 24";
      p->auth_seq = Get32(s + 4);
    } else if (IsSha1(p->auth_type)) {
      if (p->auth_len != 28) return "SHA1 authentication length is not 28";
      p->auth_seq = Get32(s + 4);
    } else {
      return "unknown authentication type";
    }
  }
  return "";
}

std::string VerifyAuth(const uint8_t* d, size_t len, const Packet& p, const AuthConfig& a) {
  if (a.type == kAuthNone) return p.auth ? "authentication present but not configured" : "";
  if (!p.auth) return "authentication configured but absent";
  if (p.auth_type != a.type) return "authentication type mismatch";
  if (p.auth_key_id != a.key_id) return "authentication key id mismatch";
  size_t length = kHeaderLen + p.auth_len;
  if (length > len) return "truncated";
  const uint8_t* s = d + kHeaderLen;
  if (a.type == kAuthSimple) {
    if (size_t(p.auth_len - 3) != a.key.size() || std::memcmp(s + 3, a.key.data(), a.key.size()) != 0)
      return "password mismatch";
    return "";
  }
  uint8_t copy[kMaxPacketLen];
  std::memcpy(copy, d, length);
  uint8_t got[20];
  size_t dl = DigestLen(a.type);
  std::memcpy(got, s + 8, dl);
  uint8_t out[EVP_MAX_MD_SIZE];
  Digest(copy, length, a.type, a.key, out);
  if (CRYPTO_memcmp(out, got, dl) != 0) return "digest mismatch";
  return "";
}

}  // namespace bfd
}  // namespace routelet

// Shared helpers of the BGP socket part of the addon (sockets.cc, sockets_poll.cc):
// addresses as text <-> sockaddr, and the argument readers both files use.
#pragma once
#include <napi.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <string>

namespace routelet::sock {

// Parse `text` (IPv4 or IPv6) into a sockaddr for a socket of `sock_family` (AF_INET or
// AF_INET6). An IPv4 address for an AF_INET6 socket becomes its v4-mapped form
// (::ffff:a.b.c.d), which is how a dual-stack socket names IPv4 peers. Returns the length
// of the filled sockaddr, or 0 when the text is not an address usable on that socket.
socklen_t ToSockaddr(int sock_family, const std::string& text, uint16_t port, sockaddr_storage* out);

// The address text (inet_ntop) and port of a sockaddr.
std::string AddressText(const sockaddr_storage& sa);
uint16_t PortOf(const sockaddr_storage& sa);

// { address, port, family } of a sockaddr, family 4 or 6 as the socket reports it (an IPv4
// peer on a dual-stack socket is reported as its v4-mapped IPv6 text; src/net/ip.ts
// normalises it).
Napi::Object EndpointObject(Napi::Env env, const sockaddr_storage& sa);

// The socket's domain (AF_INET or AF_INET6), or -errno.
int DomainOf(int fd);

int IntArg(const Napi::CallbackInfo& info, size_t i);
std::string StringArg(const Napi::CallbackInfo& info, size_t i);

}  // namespace routelet::sock

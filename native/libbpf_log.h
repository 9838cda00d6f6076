// libbpf prints through one global callback; routelet keeps its last messages so a failed
// load can say why (the verifier's or libbpf's own words) instead of writing to stderr.
#pragma once
#include <string>

namespace routelet {
void InstallLibbpfLogger();
// The libbpf messages of warning level logged on this thread since the last call.
std::string TakeLibbpfLog();
}  // namespace routelet

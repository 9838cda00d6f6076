// Errors in Node's own shape: errno (negative, as libuv reports it), code ('EPERM'), syscall.
#pragma once
#include <napi.h>
#include <string>

namespace routelet {

// Build (not throw) an Error for a positive errno value from a failed system call.
Napi::Error ErrnoError(Napi::Env env, int err, const std::string& syscall, const std::string& detail = "");

// The libuv name of a positive errno value ("ECONNREFUSED"), or "E<n>" when it has none.
std::string ErrnoName(int err);

// A plain result object for probes and per-item outcomes that must never throw:
// { ok, errno?, code?, syscall?, message }
Napi::Object Outcome(Napi::Env env, int err, const std::string& syscall, const std::string& message);

}  // namespace routelet

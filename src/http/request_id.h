// Request ids: every request carries one, echoed in the X-Request-ID response header and in error
// bodies, so a client report can be matched with the server log. Thread-safe (a per-thread
// generator; nothing shared).
#pragma once

#include <string>
#include <string_view>

namespace jrvs::http {

// True if `id` is 1..64 characters of [A-Za-z0-9._-]: an incoming X-Request-ID the server honours.
bool IsValidRequestId(std::string_view id);

// A fresh random id: 32 lower-case hex characters (128 bits).
std::string NewRequestId();
// The same, written into `out` (reusing its capacity).
void NewRequestId(std::string* out);

}  // namespace jrvs::http

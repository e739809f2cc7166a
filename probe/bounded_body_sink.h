#pragma once

// BoundedBodySink: where a libcurl transfer writes a reply body that must stay under a limit
// (CURLOPT_WRITEFUNCTION = BoundedBodySink::Write, CURLOPT_WRITEDATA = the sink): the transfer
// is aborted as soon as the body would pass `limit`, and `overflowed` says that was why, so a
// hostile or broken server cannot make the probe buffer without bound.
// Thread-safety: one sink per transfer, used on the transfer's thread.

#include <cstddef>
#include <string>

namespace pharos {

struct BoundedBodySink {
  std::string* body;
  size_t limit;
  bool overflowed = false;

  static size_t Write(char* data, size_t size, size_t count, void* user) {
    auto* sink = static_cast<BoundedBodySink*>(user);
    const size_t bytes = size * count;
    if (sink->body->size() + bytes > sink->limit) {
      sink->overflowed = true;
      return 0;  // aborts the transfer
    }
    sink->body->append(data, bytes);
    return bytes;
  }
};

}  // namespace pharos

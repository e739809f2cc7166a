#pragma once

// WatchEventParser: turns the body of a watch response, which arrives in arbitrary chunks, into
// WatchEvents. The body is one JSON object per line: {"type":"ADDED","object":{...}}. Chunks may
// end in the middle of a line (or of a UTF-8 character); the rest is kept for the next chunk.
// Blank lines are ignored. A line that is not a valid event is an error that ends parsing.
// Thread-safety: not thread-safe; one parser per watch.

#include <cstddef>
#include <string>
#include <string_view>

#include "common/result.h"
#include "operator/kube/kube_client.h"

namespace pharos {

class WatchEventParser {
 public:
  // A single event larger than this is refused (the API server's own limit is far smaller).
  static constexpr size_t kMaxEventBytes = size_t{64} * 1024 * 1024;

  // Parses every complete line in `bytes` (plus what was kept from earlier chunks) and passes
  // each event to `handler`. Stops early, without error, when the handler returns false (then
  // stopped() is true and further input is ignored).
  Status Feed(std::string_view bytes, const KubeClient::WatchHandler& handler);
  // Call at the end of the stream: a last line without its newline is still delivered when it is
  // a whole event; an error when an incomplete one is left over.
  Status Finish(const KubeClient::WatchHandler& handler);

  // Decodes one line; exposed for tests.
  static Result<WatchEvent> ParseLine(std::string_view line);

  size_t events() const { return events_; }
  bool stopped() const { return stopped_; }

 private:
  std::string pending_;
  size_t events_ = 0;
  bool stopped_ = false;
};

}  // namespace pharos

// Fuzz target: the Kubernetes watch stream parser — the body of a watch response, one JSON event
// per line, arriving in chunks that may split lines and UTF-8 characters anywhere. Input: one
// byte giving the chunk size, then the stream.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "operator/kube/watch_event_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  const size_t chunk = static_cast<size_t>(data[0]) + 1;
  const std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);
  size_t events = 0;
  const pharos::KubeClient::WatchHandler handler = [&events](const pharos::WatchEvent& event) {
    (void)event.object.dump();
    return ++events < 1000;
  };
  pharos::WatchEventParser parser;
  for (size_t offset = 0; offset < stream.size(); offset += chunk) {
    if (!parser.Feed(stream.substr(offset, chunk), handler).ok()) {
      return 0;
    }
  }
  (void)parser.Finish(handler);
  return 0;
}

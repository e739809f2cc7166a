#include "operator/kube/watch_event_parser.h"

namespace pharos {
namespace {

std::string Excerpt(std::string_view line) {
  constexpr size_t kMax = 120;
  if (line.size() <= kMax) return std::string(line);
  return std::string(line.substr(0, kMax)) + "...";
}

}  // namespace

Result<WatchEvent> WatchEventParser::ParseLine(std::string_view line) {
  nlohmann::json parsed = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return Error{"watch stream: a line is not a JSON object: " + Excerpt(line)};
  }
  const std::string type = JsonStringAt(parsed, {"type"});
  WatchEvent event;
  if (type == "ADDED") {
    event.type = WatchEvent::Type::kAdded;
  } else if (type == "MODIFIED") {
    event.type = WatchEvent::Type::kModified;
  } else if (type == "DELETED") {
    event.type = WatchEvent::Type::kDeleted;
  } else if (type == "BOOKMARK") {
    event.type = WatchEvent::Type::kBookmark;
  } else if (type == "ERROR") {
    event.type = WatchEvent::Type::kError;
  } else {
    return Error{"watch stream: unknown event type \"" + type + "\" in " + Excerpt(line)};
  }
  auto object = parsed.find("object");
  if (object == parsed.end() || !object->is_object()) {
    return Error{"watch stream: " + type + " event without an object: " + Excerpt(line)};
  }
  event.object = std::move(*object);
  if (event.type == WatchEvent::Type::kError &&
      !KubeStatus::FromJson(event.object, &event.status)) {
    event.status.status = "Failure";
    event.status.message = "watch ERROR event without a Status: " + Excerpt(line);
  }
  return event;
}

Status WatchEventParser::Feed(std::string_view bytes, const KubeClient::WatchHandler& handler) {
  if (stopped_) return OkStatus();
  while (!bytes.empty()) {
    const size_t newline = bytes.find('\n');
    if (newline == std::string_view::npos) {
      if (pending_.size() + bytes.size() > kMaxEventBytes) {
        return Error{"watch stream: an event is larger than " +
                     std::to_string(kMaxEventBytes / (size_t{1024} * 1024)) + " MiB"};
      }
      pending_.append(bytes);
      return OkStatus();
    }
    std::string_view line = bytes.substr(0, newline);
    bytes.remove_prefix(newline + 1);
    if (!pending_.empty()) {
      pending_.append(line);
      line = pending_;
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) {
      pending_.clear();
      continue;
    }
    auto event = ParseLine(line);
    pending_.clear();
    if (!event.ok()) return Error{event.error()};
    ++events_;
    if (!handler(*event)) {
      stopped_ = true;
      return OkStatus();
    }
  }
  return OkStatus();
}

Status WatchEventParser::Finish(const KubeClient::WatchHandler& handler) {
  if (stopped_ || pending_.find_first_not_of(" \t\r") == std::string::npos) return OkStatus();
  auto event = ParseLine(pending_);
  if (!event.ok()) {
    return Error{"watch stream ended in the middle of an event: " + Excerpt(pending_)};
  }
  pending_.clear();
  ++events_;
  if (!handler(*event)) stopped_ = true;
  return OkStatus();
}

}  // namespace pharos

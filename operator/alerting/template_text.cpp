#include "operator/alerting/template_text.h"

#include <algorithm>

#include "operator/alerting/document_reader.h"

namespace pharos {
namespace {

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// Calls `on_text` for literal runs and `on_name` for placeholders; an error for an unclosed one.
template <typename OnText, typename OnName>
Status Walk(std::string_view text, OnText on_text, OnName on_name) {
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t open = text.find("{{", pos);
    if (open == std::string_view::npos) {
      on_text(text.substr(pos));
      break;
    }
    on_text(text.substr(pos, open - pos));
    const size_t close = text.find("}}", open + 2);
    if (close == std::string_view::npos) {
      return Error{"{{ at offset " + std::to_string(open) + " is never closed with }}",
                   ErrorKind::kInvalidArgument};
    }
    if (Status named = on_name(Trim(text.substr(open + 2, close - open - 2)), open); !named) {
      return named;
    }
    pos = close + 2;
  }
  return OkStatus();
}

}  // namespace

const std::vector<std::string_view>& TemplateText::Names() {
  static const std::vector<std::string_view> kNames = {"event",
                                                       "state",
                                                       "deliveryId",
                                                       "occurredAt",
                                                       "channel",
                                                       "monitor.namespace",
                                                       "monitor.name",
                                                       "monitor.key",
                                                       "monitor.type",
                                                       "monitor.target",
                                                       "incident.id",
                                                       "incident.startedAt",
                                                       "incident.resolvedAt",
                                                       "regions",
                                                       "reason",
                                                       "title",
                                                       "text",
                                                       "acknowledgedBy"};
  return kNames;
}

Status TemplateText::Check(std::string_view text) {
  const auto& names = Names();
  return Walk(
      text, [](std::string_view) {},
      [&](std::string_view name, size_t offset) -> Status {
        if (std::find(names.begin(), names.end(), name) != names.end()) {
          return OkStatus();
        }
        return Error{"unknown placeholder {{ " + std::string(name) + " }} at offset " +
                         std::to_string(offset) + ": " + DocumentReader::NotOneOf(name, names),
                     ErrorKind::kInvalidArgument};
      });
}

std::string TemplateText::Render(std::string_view text,
                                 const std::map<std::string, std::string>& values) {
  std::string out;
  const Status walked = Walk(
      text, [&](std::string_view piece) { out.append(piece); },
      [&](std::string_view name, size_t) -> Status {
        if (auto found = values.find(std::string(name)); found != values.end()) {
          out += found->second;
        }
        return OkStatus();
      });
  if (!walked) {
    return std::string(text);  // Check refuses such templates; never reached for valid ones
  }
  return out;
}

}  // namespace pharos

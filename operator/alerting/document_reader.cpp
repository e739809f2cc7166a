#include "operator/alerting/document_reader.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "common/duration.h"
#include "common/field_locations.h"
#include "common/name_syntax.h"

namespace pharos {
namespace {

using Kind = DocumentNode::Kind;

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                                  std::tolower(static_cast<unsigned char>(b[j - 1]))
                              ? 0
                              : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
    }
  }
  return d[a.size()][b.size()];
}

std::string_view Suggest(std::string_view word, const std::vector<std::string_view>& candidates) {
  std::string_view best;
  size_t best_distance = 3;
  for (const std::string_view candidate : candidates) {
    const size_t distance = EditDistance(word, candidate);
    if (distance < best_distance && distance * 2 <= candidate.size()) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

std::string Join(const std::vector<std::string_view>& words) {
  std::string text;
  for (const std::string_view word : words) {
    text += (text.empty() ? "" : ", ") + std::string(word);
  }
  return text;
}

}  // namespace

std::string DocumentReader::Child(const std::string& path, std::string_view key) {
  return FieldLocations::Child(path, key);
}

std::string DocumentReader::Item(const std::string& path, size_t index) {
  return FieldLocations::Item(path, index);
}

std::string DocumentReader::Quote(std::string_view text) {
  constexpr size_t kShown = 80;
  if (text.size() > kShown) {
    return "\"" + std::string(text.substr(0, kShown - 3)) + "...\"";
  }
  return "\"" + std::string(text) + "\"";
}

std::string DocumentReader::NotOneOf(std::string_view got,
                                     const std::vector<std::string_view>& allowed) {
  const std::string_view suggestion = Suggest(got, allowed);
  return "must be one of " + Join(allowed) + " (got " + Quote(got) +
         (suggestion.empty() ? "" : "; did you mean " + Quote(suggestion) + "?") + ")";
}

void DocumentReader::Fail(const SourceLocation& where, const std::string& path,
                          const std::string& message) {
  errors_.push_back(ValidationError{where, path, message});
}

std::optional<std::map<std::string, const DocumentNode*>> DocumentReader::Fields(
    const DocumentNode& node, const std::string& path, std::vector<std::string_view> known,
    bool ignore_unknown) {
  if (node.kind != Kind::kMapping) {
    Fail(node.location, path, "expected a mapping, got " + node.KindName());
    return std::nullopt;
  }
  std::map<std::string, const DocumentNode*> fields;
  for (const DocumentNode::Member& member : node.members) {
    const std::string field_path = Child(path, member.key);
    if (std::find(known.begin(), known.end(), member.key) == known.end()) {
      if (!ignore_unknown) {
        const std::string_view suggestion = Suggest(member.key, known);
        Fail(member.key_location, field_path,
             "unknown field" + (suggestion.empty() ? " (known: " + Join(known) + ")"
                                                   : "; did you mean " + Quote(suggestion) + "?"));
      }
      continue;
    }
    if (fields.contains(member.key)) {
      Fail(member.key_location, field_path, "duplicate field");
      continue;
    }
    if (member.value.kind == Kind::kNull) {
      continue;  // written without a value: absent
    }
    fields.emplace(member.key, &member.value);
  }
  return fields;
}

const DocumentNode* DocumentReader::Envelope(const DocumentNode& document, std::string_view kind,
                                             ObjectMeta* meta) {
  document_location_ = document.location;
  const bool api = origin_ == DocumentOrigin::kApiObject;
  auto fields = Fields(document, "", {"apiVersion", "kind", "metadata", "spec", "status"},
                       /*ignore_unknown=*/api);
  if (!fields) {
    return nullptr;
  }
  const auto get = [&](const char* key) -> const DocumentNode* {
    auto found = fields->find(key);
    return found == fields->end() ? nullptr : found->second;
  };
  if (const DocumentNode* version = get("apiVersion")) {
    std::string text;
    if (String(*version, "apiVersion", &text) && text != kMonitorApiVersion) {
      Fail(version->location, "apiVersion",
           "must be " + std::string(kMonitorApiVersion) + " (got " + Quote(text) + ")");
    }
  } else if (!api) {
    Fail(document.location, "apiVersion", "required: " + std::string(kMonitorApiVersion));
  }
  if (const DocumentNode* written = get("kind")) {
    std::string text;
    if (String(*written, "kind", &text) && text != kind) {
      Fail(written->location, "kind",
           "must be " + std::string(kind) + " (got " + Quote(text) + ")");
    }
  }
  const DocumentNode* metadata = get("metadata");
  if (metadata == nullptr) {
    Fail(document.location, "metadata", "required: metadata.name at least");
  } else if (auto meta_fields =
                 Fields(*metadata, "metadata",
                        {"name", "namespace", "uid", "generation", "labels", "annotations"}, api)) {
    const auto meta_get = [&](const char* key) -> const DocumentNode* {
      auto found = meta_fields->find(key);
      return found == meta_fields->end() ? nullptr : found->second;
    };
    if (const DocumentNode* name = meta_get("name")) {
      if (String(*name, "metadata.name", &meta->name) && !IsDns1123Subdomain(meta->name)) {
        Fail(name->location, "metadata.name",
             Quote(meta->name) +
                 " is not a valid name: use at most 253 lowercase letters, digits, '-' and '.', "
                 "starting and ending with a letter or digit");
      }
    } else {
      Fail(metadata->location, "metadata.name", "required");
    }
    if (const DocumentNode* namespace_node = meta_get("namespace")) {
      if (String(*namespace_node, "metadata.namespace", &meta->namespace_name) &&
          !IsDns1123Label(meta->namespace_name)) {
        Fail(namespace_node->location, "metadata.namespace",
             Quote(meta->namespace_name) +
                 " is not a valid namespace: use at most 63 lowercase letters, digits and '-'");
      }
    }
    if (const DocumentNode* uid = meta_get("uid")) {
      String(*uid, "metadata.uid", &meta->uid);
    }
    if (const DocumentNode* generation = meta_get("generation")) {
      Int(*generation, "metadata.generation", &meta->generation);
    }
    if (const DocumentNode* labels = meta_get("labels")) {
      StringMap(*labels, "metadata.labels", &meta->labels);
    }
    if (const DocumentNode* annotations = meta_get("annotations")) {
      StringMap(*annotations, "metadata.annotations", &meta->annotations);
    }
  }
  if (meta->uid.empty()) {
    meta->uid = "file:" + std::string(kind) + ":" + meta->Key();
  }
  const DocumentNode* spec = get("spec");
  if (spec == nullptr) {
    Fail(document.location, "spec", "required");
  }
  return spec;
}

bool DocumentReader::String(const DocumentNode& node, const std::string& path, std::string* out) {
  if (node.kind != Kind::kScalar) {
    Fail(node.location, path, "expected a string, got " + node.KindName());
    return false;
  }
  *out = node.scalar;
  return true;
}

bool DocumentReader::Bool(const DocumentNode& node, const std::string& path, bool* out) {
  if (node.kind == Kind::kScalar && !node.quoted) {
    if (node.scalar == "true") {
      *out = true;
      return true;
    }
    if (node.scalar == "false") {
      *out = false;
      return true;
    }
  }
  Fail(node.location, path, "expected true or false, got " + node.KindName());
  return false;
}

bool DocumentReader::Int(const DocumentNode& node, const std::string& path, int64_t* out) {
  if (node.kind == Kind::kScalar && !node.quoted) {
    int64_t value = 0;
    const char* begin = node.scalar.data();
    const char* end = begin + node.scalar.size();
    auto [ptr, error] = std::from_chars(begin, end, value);
    if (error == std::errc() && ptr == end) {
      *out = value;
      return true;
    }
  }
  Fail(node.location, path, "expected an integer, got " + node.KindName());
  return false;
}

bool DocumentReader::Duration(const DocumentNode& node, const std::string& path,
                              std::chrono::milliseconds* out) {
  std::string text;
  if (!String(node, path, &text)) {
    return false;
  }
  Result<Millis> duration = ParseDuration(text);
  if (!duration) {
    Fail(node.location, path, duration.error());
    return false;
  }
  if (!IsMonitorDurationSyntax(text)) {
    Fail(node.location, path,
         "invalid duration " + Quote(text) + ": write numbers with a unit (ms, s, m, h), e.g. 30s");
    return false;
  }
  *out = *duration;
  return true;
}

bool DocumentReader::StringList(const DocumentNode& node, const std::string& path,
                                std::vector<std::string>* out) {
  if (node.kind != Kind::kSequence) {
    Fail(node.location, path, "expected a list, got " + node.KindName());
    return false;
  }
  bool ok = true;
  out->clear();
  for (size_t i = 0; i < node.items.size(); ++i) {
    std::string item;
    if (String(node.items[i], Item(path, i), &item)) {
      out->push_back(std::move(item));
    } else {
      ok = false;
    }
  }
  return ok;
}

bool DocumentReader::StringMap(const DocumentNode& node, const std::string& path,
                               std::map<std::string, std::string>* out) {
  if (node.kind != Kind::kMapping) {
    Fail(node.location, path, "expected a mapping, got " + node.KindName());
    return false;
  }
  bool ok = true;
  for (const DocumentNode::Member& member : node.members) {
    std::string value;
    if (String(member.value, Child(path, member.key), &value)) {
      (*out)[member.key] = std::move(value);
    } else {
      ok = false;
    }
  }
  return ok;
}

}  // namespace pharos

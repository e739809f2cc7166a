#pragma once

// FieldLocations: where each field of one Monitor document was written ("spec.http.url" →
// monitors.yaml:14:7), which fields were present and which failed to parse, so that
// MonitorValidator can point its errors at the right place and skip fields already reported.
// Thread-safety: a value type.

#include <map>
#include <set>
#include <string>
#include <string_view>

#include "common/monitor.h"

namespace pharos {

class FieldLocations {
 public:
  explicit FieldLocations(SourceLocation document = {}) : document_(std::move(document)) {}

  // `key` is where the field's name was written, `value` where its value starts. A field written
  // as null (`timeout:` or `timeout: null`) counts as absent but still has a location.
  void Record(const std::string& path, const SourceLocation& key, const SourceLocation& value,
              bool is_null = false);
  void MarkInvalid(const std::string& path) { invalid_.insert(path); }

  bool Present(const std::string& path) const;
  // True when the field, a field under it or one of its ancestors already has a parse error.
  bool Invalid(const std::string& path) const;

  // The value of `path` when it was written; otherwise the key of its nearest written ancestor
  // (a missing "spec.http.url" points at "http:"), or the document.
  SourceLocation At(const std::string& path) const;
  // Where the field's name was written (for unknown or misplaced fields).
  SourceLocation KeyAt(const std::string& path) const;

  const SourceLocation& document() const { return document_; }

  // "spec.assertions[2].value" → "spec.assertions[2]" → "spec.assertions" → "spec" → "".
  static std::string Parent(const std::string& path);
  // "spec" + "http" → "spec.http"; keys that would confuse the syntax are quoted:
  // "metadata.labels" + "app.kubernetes.io/name" → `metadata.labels["app.kubernetes.io/name"]`.
  static std::string Child(const std::string& path, std::string_view key);
  // "spec.assertions" + 2 → "spec.assertions[2]".
  static std::string Item(const std::string& path, size_t index);

 private:
  struct Where {
    SourceLocation key;
    SourceLocation value;
    bool is_null = false;
  };
  SourceLocation document_;
  std::map<std::string, Where> fields_;
  std::set<std::string> invalid_;
};

}  // namespace pharos

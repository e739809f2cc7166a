#pragma once

// DocumentReader: reads the documents of the alerting kinds (AlertChannel, MaintenanceWindow)
// field by field from a DocumentNode — a file (with the location of every key and value) or an
// object from the Kubernetes API (no locations) — reporting each problem as a ValidationError
// with its field path and location, as the Monitor parser does: unknown fields (with a
// suggestion), duplicate keys, wrong types. Rules across values are the kinds' own.
// Thread-safety: one reader per document (it appends to the caller's error list).

#include <chrono>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/document_node.h"
#include "common/monitor.h"
#include "common/monitor_loader.h"

namespace pharos {

// Where a document came from: files may use env/file sources; API objects may not (they would
// read the operator's own environment and files), and use secretKeyRef instead.
enum class DocumentOrigin { kFile, kApiObject };

// The metadata every alerting kind has.
struct ObjectMeta {
  std::string namespace_name = "default";
  std::string name;
  std::string uid;
  int64_t generation = 1;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;

  std::string Key() const { return namespace_name + "/" + name; }
  bool operator==(const ObjectMeta&) const = default;
};

class DocumentReader {
 public:
  DocumentReader(DocumentOrigin origin, std::vector<ValidationError>& errors)
      : origin_(origin), errors_(errors) {}

  DocumentOrigin origin() const { return origin_; }

  // The members of a mapping by key, after reporting unknown keys (with a suggestion) and
  // duplicates. Null when `node` is not a mapping (reported).
  std::optional<std::map<std::string, const DocumentNode*>> Fields(
      const DocumentNode& node, const std::string& path, std::vector<std::string_view> known,
      bool ignore_unknown = false);

  // apiVersion (pharos.dev/v1alpha1), kind, metadata; the spec node (null when missing:
  // reported). In API objects apiVersion and kind may be absent and unknown keys (status,
  // metadata.resourceVersion...) are ignored.
  const DocumentNode* Envelope(const DocumentNode& document, std::string_view kind,
                               ObjectMeta* meta);

  bool String(const DocumentNode& node, const std::string& path, std::string* out);
  bool Bool(const DocumentNode& node, const std::string& path, bool* out);
  bool Int(const DocumentNode& node, const std::string& path, int64_t* out);
  bool Duration(const DocumentNode& node, const std::string& path, std::chrono::milliseconds* out);
  bool StringList(const DocumentNode& node, const std::string& path, std::vector<std::string>* out);
  bool StringMap(const DocumentNode& node, const std::string& path,
                 std::map<std::string, std::string>* out);

  void Fail(const SourceLocation& where, const std::string& path, const std::string& message);
  // The location of the document (for errors about a missing field).
  const SourceLocation& document_location() const { return document_location_; }

  static std::string Child(const std::string& path, std::string_view key);
  static std::string Item(const std::string& path, size_t index);
  // `must be one of a, b, c (got "x"; did you mean "y"?)`
  static std::string NotOneOf(std::string_view got, const std::vector<std::string_view>& allowed);
  static std::string Quote(std::string_view text);

 private:
  DocumentOrigin origin_;
  std::vector<ValidationError>& errors_;
  SourceLocation document_location_;
};

}  // namespace pharos

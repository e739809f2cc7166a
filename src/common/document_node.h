#pragma once

// DocumentNode: a YAML or JSON document as a plain tree that remembers where every key and value
// was written, so MonitorParser has one input form for files (yaml-cpp, which also reads JSON)
// and for objects from the Kubernetes API (nlohmann::json, no positions).
// Thread-safety: a value type.

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "common/monitor.h"
#include "common/monitor_loader.h"
#include "common/result.h"

namespace pharos {

struct DocumentNode {
  enum class Kind { kNull, kScalar, kSequence, kMapping };
  struct Member;

  Kind kind = Kind::kNull;
  std::string scalar;               // kScalar: the text as written ("5432", "true", "https://...")
  bool quoted = false;              // kScalar: certainly a string (quoted in YAML, a JSON string)
  SourceLocation location;          // of the value; for nulls, of their key
  std::vector<DocumentNode> items;  // kSequence
  std::vector<Member> members;      // kMapping, in the order written (duplicates kept)

  // For error messages: "a mapping", "a list", "null", "\"abc\"" (a plain scalar) or
  // "the string \"5432\"" (a quoted one, where a number or boolean was expected).
  std::string KindName() const;
};

struct DocumentNode::Member {
  std::string key;
  SourceLocation key_location;
  DocumentNode value;
};

// Every non-empty document of a YAML stream (JSON is YAML); empty documents (a trailing
// `---`, comments only) are skipped. A syntax error ends the stream (the documents before it
// are kept); a document that cannot be represented (a list as a mapping key, absurd nesting,
// text that is not UTF-8, more than 100,000 values) is left out with an error.
struct ParsedDocuments {
  std::vector<DocumentNode> documents;
  std::vector<ValidationError> errors;
};
ParsedDocuments ParseYamlDocuments(const std::string& text, const std::string& file_name);
// The same, one document at a time: `on_document` gets each as soon as it is parsed and
// `on_error` each error, in the order they appear in the text, so that a file of tens of
// thousands of documents is never held as one tree.
void ForEachYamlDocument(const std::string& text, const std::string& file_name,
                         const std::function<void(DocumentNode)>& on_document,
                         const std::function<void(ValidationError)>& on_error);

// A Kubernetes API object; locations are unknown (line 0). Fails only on absurd nesting.
Result<DocumentNode> DocumentNodeFromJson(const nlohmann::json& value);

}  // namespace pharos

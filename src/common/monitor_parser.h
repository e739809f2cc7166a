#pragma once

// MonitorParser: turns one document (DocumentNode) into a Monitor with defaults applied,
// reporting shape problems — unknown or duplicate fields, wrong types, unknown enum values,
// malformed durations, missing required fields — each with its location and field path.
// Rules across values (ranges, formats, combinations) are MonitorValidator's.
// Thread-safety: one parser per thread (it appends to the caller's error list).

#include <string>
#include <vector>

#include "common/document_node.h"
#include "common/field_locations.h"
#include "common/monitor.h"
#include "common/monitor_loader.h"

namespace pharos {

class MonitorParser {
 public:
  enum class Mode {
    kFile,       // YAML/JSON files: every field must be known; apiVersion and kind required
    kApiObject,  // from the Kubernetes API: unknown metadata fields (resourceVersion, ...) ignored
  };

  struct Parsed {
    Monitor monitor;  // fields that failed to parse keep their defaults
    FieldLocations fields;
  };

  MonitorParser(Mode mode, std::vector<ValidationError>* errors) : mode_(mode), errors_(*errors) {}

  // Errors are appended to the list given at construction.
  Parsed Parse(const DocumentNode& document);

 private:
  class Mapping;

  void ParseMetadata(const DocumentNode& node, Parsed* out);
  void ParseSpec(const DocumentNode& node, Parsed* out);
  void ParseHttp(const DocumentNode& node, const std::string& path, Parsed* out);
  void ParseTcp(const DocumentNode& node, const std::string& path, Parsed* out);
  void ParseDns(const DocumentNode& node, const std::string& path, Parsed* out);
  void ParseIcmp(const DocumentNode& node, const std::string& path, Parsed* out);
  void ParseGrpc(const DocumentNode& node, const std::string& path, Parsed* out);
  void ParsePush(const DocumentNode& node, const std::string& path, Parsed* out);
  void ParseTarget(const DocumentNode& node, const std::string& path, Parsed* out);
  void ParseConversation(const DocumentNode& node, const std::string& path, TcpSpec* tcp,
                         Parsed* out);
  void ParseResolve(const DocumentNode& node, const std::string& path, ResolveMode* mode,
                    Parsed* out);
  // An integer >= 1 or "majority" (nullopt).
  void ParseQuorum(const DocumentNode& node, const std::string& path, std::optional<int>* quorum,
                   Parsed* out);
  void ParseTls(const DocumentNode& node, const std::string& path, TlsOptions* tls, Parsed* out);
  void ParseAssertion(const DocumentNode& node, const std::string& path, Parsed* out);
  void ParseAlerting(const DocumentNode& node, const std::string& path, Parsed* out);

  bool ReadString(const DocumentNode& node, const std::string& path, std::string* out,
                  Parsed* parsed);
  bool ReadString(const DocumentNode& node, const std::string& path, CompactString* out,
                  Parsed* parsed);
  bool ReadBool(const DocumentNode& node, const std::string& path, bool* out, Parsed* parsed);
  bool ReadInt(const DocumentNode& node, const std::string& path, int64_t* out, Parsed* parsed);
  bool ReadInt(const DocumentNode& node, const std::string& path, int* out, Parsed* parsed);
  bool ReadDuration(const DocumentNode& node, const std::string& path, Millis* out, Parsed* parsed);
  bool ReadStringList(const DocumentNode& node, const std::string& path,
                      std::vector<std::string>* out, Parsed* parsed);
  bool ReadStringMap(const DocumentNode& node, const std::string& path,
                     std::vector<std::pair<std::string, std::string>>* out, Parsed* parsed);
  // Checks `node` is a mapping; reports it otherwise.
  bool ExpectMapping(const DocumentNode& node, const std::string& path, Parsed* parsed);

  void Fail(const SourceLocation& where, const std::string& path, const std::string& message,
            Parsed* parsed);

  Mode mode_;
  std::vector<ValidationError>& errors_;
};

}  // namespace pharos

#pragma once

// Loading Monitors from files and from API objects, with every error located precisely:
// "monitors.yaml:14:7: spec.http.url: scheme must be http or https".
// Thread-safety: free functions; no shared state.

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/monitor.h"
#include "common/result.h"

namespace pharos {

struct ValidationError {
  SourceLocation location;  // file may be empty (API objects); line 0 = unknown
  std::string path;         // field path: "spec.http.url", "spec.assertions[2].value"
  std::string message;
  // "file:line:col: path: message" (parts that are unknown are left out).
  std::string ToString() const;
};

struct DocumentNode;

// A document of a kind other than Monitor that the caller asked for (AlertChannel,
// MaintenanceWindow, StatusPage...): its `kind` and the document itself, with the location of
// every key and value, for that kind's own parser (which reports file:line:col errors too).
struct OtherDocument {
  std::string kind;
  std::shared_ptr<const DocumentNode> document;
};

struct LoadedMonitors {
  std::vector<Monitor> monitors;
  std::vector<OtherDocument> others;  // in the order written, files in the order read
  std::vector<ValidationError> errors;
  int files = 0;  // files read
};

// Kinds besides Monitor that a caller reads from the same files. A document of any other kind
// is an error naming the kinds accepted.
using OtherKinds = std::vector<std::string>;

// Reads .yaml/.yml/.json files and directories (recursively, those extensions only); each file
// may hold several YAML documents. Parses, applies defaults, validates; a Monitor with any error
// is left out of `monitors`. Duplicate namespace/name across documents is an error. Documents
// whose kind is in `other_kinds` are handed back unparsed in `others`.
LoadedMonitors LoadMonitorFiles(const std::vector<std::string>& paths,
                                const OtherKinds& other_kinds = {});

// Parses and validates YAML/JSON text (one or more documents) as if read from `file_name`.
LoadedMonitors LoadMonitorsFromText(const std::string& text, const std::string& file_name,
                                    const OtherKinds& other_kinds = {});

// Converts a Monitor object as served by the Kubernetes API (JSON) into a validated Monitor
// (metadata.uid and metadata.generation are taken from it). Errors carry field paths only.
Result<Monitor> MonitorFromApiObject(const nlohmann::json& object,
                                     std::vector<ValidationError>* errors);

// The Kubernetes form of a Monitor (apiVersion, kind, metadata, spec), defaults made explicit.
nlohmann::json MonitorToJson(const Monitor& monitor);

}  // namespace pharos

#include "common/monitor_loader.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "common/document_node.h"
#include "common/duration.h"
#include "common/monitor_parser.h"
#include "common/monitor_validator.h"

namespace pharos {
namespace {

namespace fs = std::filesystem;

std::string Where(const SourceLocation& location) {
  std::string text = location.file;
  if (location.line > 0) {
    if (!text.empty()) {
      text += ":";
    }
    text += std::to_string(location.line) + ":" + std::to_string(location.column);
  }
  return text;
}

bool HasMonitorExtension(const fs::path& path) {
  const std::string extension = path.extension().string();
  return extension == ".yaml" || extension == ".yml" || extension == ".json";
}

bool IsHidden(const fs::path& path) {
  const std::string name = path.filename().string();
  return !name.empty() && name[0] == '.';
}

// Parses and validates documents one by one, keeping what every loader entry point shares:
// the list of errors, the valid monitors and the names seen so far (duplicates are errors).
class MonitorCollector {
 public:
  MonitorCollector(MonitorParser::Mode mode, OtherKinds other_kinds)
      : mode_(mode), other_kinds_(std::move(other_kinds)) {}

  LoadedMonitors& loaded() { return loaded_; }

  // Document by document: a file of 50,000 monitors held as parsed trees would take about
  // 5 KB each, many times what the monitors themselves take.
  void AddText(const std::string& text, const std::string& file_name) {
    ForEachYamlDocument(
        text, file_name, [this](DocumentNode document) { Route(std::move(document)); },
        [this](ValidationError error) { loaded_.errors.push_back(std::move(error)); });
  }

  // A Monitor (or a document without a kind, which the Monitor parser reports) is parsed here; a
  // document of another kind the caller reads is handed back; any other kind is an error.
  void Route(DocumentNode document) {
    const DocumentNode* kind = KindOf(document);
    if (kind == nullptr || kind->scalar == kMonitorKind || other_kinds_.empty()) {
      AddDocument(document);  // the Monitor parser reports a wrong or missing kind
      return;
    }
    if (std::find(other_kinds_.begin(), other_kinds_.end(), kind->scalar) != other_kinds_.end()) {
      std::string name = kind->scalar;
      loaded_.others.push_back(OtherDocument{
          std::move(name), std::make_shared<const DocumentNode>(std::move(document))});
      return;
    }
    std::string accepted(kMonitorKind);
    for (const std::string& other : other_kinds_) {
      accepted += ", " + other;
    }
    loaded_.errors.push_back(ValidationError{kind->location, "kind",
                                             "\"" + kind->scalar.substr(0, 64) +
                                                 "\" is not a kind Pharos reads here (expected " +
                                                 accepted + ")"});
  }

  // The document's `kind` when it is a plain string; null otherwise.
  static const DocumentNode* KindOf(const DocumentNode& document) {
    if (document.kind != DocumentNode::Kind::kMapping) {
      return nullptr;
    }
    for (const DocumentNode::Member& member : document.members) {
      if (member.key == "kind") {
        return member.value.kind == DocumentNode::Kind::kScalar ? &member.value : nullptr;
      }
    }
    return nullptr;
  }

  // Returns how many errors the document had.
  size_t AddDocument(const DocumentNode& document) {
    std::vector<ValidationError> errors;
    MonitorParser::Parsed parsed = MonitorParser(mode_, &errors).Parse(document);
    Monitor& monitor = parsed.monitor;
    MonitorValidator(monitor, parsed.fields, &errors).Validate();
    if (monitor.uid.empty()) {
      monitor.uid = "file:" + monitor.Key();
    }

    if (parsed.fields.Present("metadata.name") && !parsed.fields.Invalid("metadata.name") &&
        !parsed.fields.Invalid("metadata.namespace")) {
      const SourceLocation here = parsed.fields.At("metadata.name");
      const auto [first, inserted] = seen_.emplace(monitor.Key(), here);
      if (!inserted) {
        const std::string first_at = Where(first->second);
        errors.push_back(
            ValidationError{here, "metadata.name",
                            "duplicate monitor " + monitor.Key() +
                                (first_at.empty() ? "" : " (first defined at " + first_at + ")")});
      }
    }
    std::stable_sort(errors.begin(), errors.end(),
                     [](const ValidationError& a, const ValidationError& b) {
                       return std::pair(a.location.line, a.location.column) <
                              std::pair(b.location.line, b.location.column);
                     });
    const size_t count = errors.size();
    for (ValidationError& error : errors) {
      loaded_.errors.push_back(std::move(error));
    }
    if (count == 0) {
      loaded_.monitors.push_back(std::move(monitor));
    }
    return count;
  }

  void AddFile(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    if (in) {
      text << in.rdbuf();
    }
    if (!in || in.bad()) {
      loaded_.errors.push_back(ValidationError{
          SourceLocation{path.string()}, "", "cannot read: " + std::string(std::strerror(errno))});
      return;
    }
    ++loaded_.files;
    AddText(text.str(), path.string());
  }

  // Every .yaml/.yml/.json below `directory`, in name order; hidden entries are skipped (a
  // mounted ConfigMap keeps each file twice, once under "..data").
  void AddDirectory(const fs::path& directory) {
    std::vector<fs::path> files;
    std::error_code error;
    fs::recursive_directory_iterator it(directory, error);
    for (; !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
      const fs::path& entry = it->path();
      if (IsHidden(entry)) {
        if (it->is_directory(error)) {
          it.disable_recursion_pending();
        }
        continue;
      }
      if (it->is_regular_file(error) && HasMonitorExtension(entry)) {
        files.push_back(entry);
      }
    }
    if (error) {
      loaded_.errors.push_back(ValidationError{SourceLocation{directory.string()}, "",
                                               "cannot list directory: " + error.message()});
    }
    std::sort(files.begin(), files.end());
    for (const fs::path& file : files) {
      AddFile(file);
    }
  }

  void AddPath(const std::string& path) {
    std::error_code error;
    const fs::file_status status = fs::status(path, error);
    if (status.type() == fs::file_type::not_found) {
      loaded_.errors.push_back(
          ValidationError{SourceLocation{path}, "", "no such file or directory"});
    } else if (error) {
      loaded_.errors.push_back(ValidationError{SourceLocation{path}, "", error.message()});
    } else if (fs::is_directory(status)) {
      AddDirectory(path);
    } else {
      // A file named explicitly is read whatever its extension.
      AddFile(path);
    }
  }

 private:
  MonitorParser::Mode mode_;
  const OtherKinds other_kinds_;
  LoadedMonitors loaded_;
  std::map<std::string, SourceLocation> seen_;  // namespace/name → where its name was written
};

nlohmann::json TlsToJson(const TlsOptions& tls) {
  return {{"insecureSkipVerify", tls.insecure_skip_verify}, {"serverName", tls.server_name.str()}};
}

nlohmann::json StringMapToJson(const CompactStringMap& map) {
  nlohmann::json object = nlohmann::json::object();
  for (const auto& [key, value] : map) {
    object[key] = value;
  }
  return object;
}

}  // namespace

std::string ValidationError::ToString() const {
  std::string text = Where(location);
  if (!text.empty()) {
    text += ": ";
  }
  if (!path.empty()) {
    text += path + ": ";
  }
  return text + message;
}

LoadedMonitors LoadMonitorFiles(const std::vector<std::string>& paths,
                                const OtherKinds& other_kinds) {
  MonitorCollector collector(MonitorParser::Mode::kFile, other_kinds);
  for (const std::string& path : paths) {
    collector.AddPath(path);
  }
  return std::move(collector.loaded());
}

LoadedMonitors LoadMonitorsFromText(const std::string& text, const std::string& file_name,
                                    const OtherKinds& other_kinds) {
  MonitorCollector collector(MonitorParser::Mode::kFile, other_kinds);
  collector.AddText(text, file_name);
  return std::move(collector.loaded());
}

Result<Monitor> MonitorFromApiObject(const nlohmann::json& object,
                                     std::vector<ValidationError>* errors) {
  std::vector<ValidationError> local;
  std::vector<ValidationError>& found = errors != nullptr ? *errors : local;
  Result<DocumentNode> document = DocumentNodeFromJson(object);
  if (!document.ok()) {
    found.push_back(ValidationError{{}, "", document.error()});
    return Error{document.error()};
  }
  MonitorCollector collector(MonitorParser::Mode::kApiObject, {});
  collector.AddDocument(*document);
  LoadedMonitors& loaded = collector.loaded();
  if (loaded.errors.empty()) {
    return std::move(loaded.monitors.front());
  }
  std::string message;
  for (const ValidationError& error : loaded.errors) {
    if (!message.empty()) {
      message += "; ";
    }
    message += error.ToString();
    found.push_back(error);
  }
  return Error{message};
}

nlohmann::json MonitorToJson(const Monitor& monitor) {
  using nlohmann::json;
  json metadata = {{"name", monitor.name},
                   {"namespace", monitor.namespace_name},
                   {"generation", monitor.generation}};
  if (!monitor.uid.empty()) {
    metadata["uid"] = monitor.uid;
  }
  if (!monitor.labels.empty()) {
    metadata["labels"] = StringMapToJson(monitor.labels);
  }
  if (!monitor.annotations.empty()) {
    metadata["annotations"] = StringMapToJson(monitor.annotations);
  }

  json spec = {{"type", ToString(monitor.type)}, {"frequency", FormatDuration(monitor.frequency)},
               {"regions", monitor.regions},     {"timeout", FormatDuration(monitor.timeout)},
               {"retries", monitor.retries},     {"suspend", monitor.suspend}};
  if (monitor.degraded_after) {
    spec["degradedAfter"] = FormatDuration(*monitor.degraded_after);
  }
  // Fields added after the first release (resolve, conversation, addressQuorum, target) are
  // written only when set: probes of that release read every spec of the older shapes, and they
  // refuse fields they do not know.
  const bool service = monitor.service.has_value();
  if (monitor.http) {
    json headers = json::object();
    for (const auto& [name, value] : monitor.http->headers) {
      headers[name] = value;
    }
    json http = {{"method", ToString(monitor.http->method)},
                 {"headers", headers},
                 {"body", monitor.http->body.str()},
                 {"followRedirects", monitor.http->follow_redirects},
                 {"tls", TlsToJson(monitor.http->tls)}};
    if (!service) {
      http["url"] = monitor.http->url;
      if (monitor.http->resolve != ResolveMode::kOne) {
        http["resolve"] = ToString(monitor.http->resolve);
      }
    }
    spec["http"] = std::move(http);
  }
  if (monitor.tcp) {
    json tcp = {{"tls", monitor.tcp->tls}, {"tlsOptions", TlsToJson(monitor.tcp->tls_options)}};
    if (!service) {
      tcp["host"] = monitor.tcp->host;
      tcp["port"] = monitor.tcp->port;
      if (monitor.tcp->resolve != ResolveMode::kOne) {
        tcp["resolve"] = ToString(monitor.tcp->resolve);
      }
    }
    if (!monitor.tcp->conversation.empty()) {
      json steps = json::array();
      for (const TcpStep& step : monitor.tcp->conversation) {
        json item;
        switch (step.kind) {
          case TcpStep::Kind::kSend:
            item["send"] = step.text;
            break;
          case TcpStep::Kind::kExpect:
            item["expect"] = step.text;
            break;
          case TcpStep::Kind::kExpectRegex:
            item["expectRegex"] = step.text;
            break;
          case TcpStep::Kind::kStartTls:
            item["startTls"] = true;
            break;
        }
        if (step.timeout) {
          item["timeout"] = FormatDuration(*step.timeout);
        }
        steps.push_back(std::move(item));
      }
      tcp["conversation"] = std::move(steps);
    }
    spec["tcp"] = std::move(tcp);
  }
  if (monitor.dns) {
    spec["dns"] = {{"name", monitor.dns->name},
                   {"recordType", ToString(monitor.dns->record_type)},
                   {"server", monitor.dns->server}};
  }
  if (monitor.icmp) {
    json icmp = {{"count", monitor.icmp->count},
                 {"interval", FormatDuration(monitor.icmp->interval)},
                 {"packetSize", monitor.icmp->packet_size},
                 {"ipFamily", ToString(monitor.icmp->ip_family)}};
    if (!service) {
      icmp["host"] = monitor.icmp->host;
      icmp["resolve"] = ToString(monitor.icmp->resolve);
    }
    spec["icmp"] = std::move(icmp);
  }
  if (monitor.grpc) {
    json metadata = json::object();
    for (const auto& [name, value] : monitor.grpc->metadata) {
      metadata[name] = value;
    }
    json grpc = {{"service", monitor.grpc->service},
                 {"tls", monitor.grpc->tls},
                 {"tlsOptions", TlsToJson(monitor.grpc->tls_options)},
                 {"authority", monitor.grpc->authority.str()},
                 {"metadata", std::move(metadata)}};
    if (!service) {
      grpc["address"] = monitor.grpc->address;
      grpc["resolve"] = ToString(monitor.grpc->resolve);
    }
    spec["grpc"] = std::move(grpc);
  }
  if (monitor.push) {
    json push = {{"expectEvery", FormatDuration(monitor.push->expect_every)},
                 {"grace", FormatDuration(monitor.push->grace)}};
    if (monitor.push->max_run_time) {
      push["maxRunTime"] = FormatDuration(*monitor.push->max_run_time);
    }
    if (const std::optional<PushTokenSource>& from = monitor.push->token_from) {
      json source = json::object();
      if (!from->env.empty()) source["env"] = from->env;
      if (!from->file.empty()) source["file"] = from->file;
      if (!from->secret_name.empty()) {
        source["secretKeyRef"] = {{"name", from->secret_name}, {"key", from->secret_key}};
      }
      push["tokenFrom"] = std::move(source);
    }
    spec["push"] = std::move(push);
  }
  if (service) {
    const ServiceTarget& target = *monitor.service;
    json described = {{"name", target.name}};
    if (!target.port_name.empty()) {
      described["port"] = target.port_name;
    } else if (monitor.type != MonitorType::kIcmp) {
      described["port"] = target.port;
    }
    if (monitor.type == MonitorType::kHttp) {
      described["path"] = target.path;
      described["scheme"] = target.scheme;
    }
    spec["target"] = {{"service", std::move(described)}};
  }
  json assertions = json::array();
  for (const Assertion& assertion : monitor.assertions) {
    json item = {{"type", ToString(assertion.type)}, {"op", ToString(assertion.op)}};
    if (assertion.type == AssertionType::kHeader) {
      item["name"] = assertion.name;
    }
    if (assertion.type == AssertionType::kJsonPath) {
      item["path"] = assertion.path;
    }
    if (assertion.op != CompareOp::kEmpty && assertion.op != CompareOp::kNotEmpty) {
      item["value"] = assertion.value;
    }
    assertions.push_back(std::move(item));
  }
  spec["assertions"] = std::move(assertions);
  const AlertingSpec& alerting = monitor.alerting;
  spec["alerting"] = {
      {"failureThreshold", alerting.failure_threshold},
      {"successThreshold", alerting.success_threshold},
      {"regionQuorum", alerting.region_quorum ? json(*alerting.region_quorum) : json("majority")},
      {"channels", alerting.channels},
      {"screenshot", alerting.screenshot},
      {"sendOnResolved", alerting.send_on_resolved}};
  if (alerting.remind_every) {
    spec["alerting"]["remindEvery"] = FormatDuration(*alerting.remind_every);
  }
  if (alerting.address_quorum != std::optional<int>(1)) {
    spec["alerting"]["addressQuorum"] =
        alerting.address_quorum ? json(*alerting.address_quorum) : json("majority");
  }

  return {{"apiVersion", kMonitorApiVersion},
          {"kind", kMonitorKind},
          {"metadata", std::move(metadata)},
          {"spec", std::move(spec)}};
}

}  // namespace pharos

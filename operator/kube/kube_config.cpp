#include "operator/kube/kube_config.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <utility>

namespace pharos {
namespace {

namespace fs = std::filesystem;

std::optional<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return out.str();
}

std::string Trim(std::string_view text) {
  const auto begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return "";
  const auto end = text.find_last_not_of(" \t\r\n");
  return std::string(text.substr(begin, end - begin + 1));
}

// One named entry (cluster, user or context) and the file it was read from.
struct Entry {
  std::string file;
  std::string index_path;  // "users[1]", for error messages
  YAML::Node body;         // the "cluster" / "user" / "context" mapping
};

struct MergedKubeconfig {
  std::map<std::string, Entry> clusters;
  std::map<std::string, Entry> users;
  std::map<std::string, Entry> contexts;
  std::string current_context;
  std::string current_context_file;
  std::vector<std::string> files_read;
};

std::string Describe(const Entry& entry, std::string_view kind, std::string_view name) {
  return "kubeconfig " + entry.file + ": " + std::string(kind) + " \"" + std::string(name) +
         "\" (" + entry.index_path + ")";
}

// Scalar field of a mapping as a string; empty when absent or null.
Result<std::string> StringField(const YAML::Node& map, const std::string& key,
                                const std::string& where) {
  const YAML::Node value = map[key];
  if (!value || value.IsNull()) return std::string();
  if (!value.IsScalar()) return Error{where + ": " + key + " must be a string"};
  return value.Scalar();
}

Result<bool> BoolField(const YAML::Node& map, const std::string& key, const std::string& where) {
  const YAML::Node value = map[key];
  if (!value || value.IsNull()) return false;
  bool result = false;
  if (!value.IsScalar() || !YAML::convert<bool>::decode(value, result)) {
    return Error{where + ": " + key + " must be true or false"};
  }
  return result;
}

// Adds the entries of one list ("clusters", "users", "contexts") that are not defined yet.
Status MergeList(const YAML::Node& root, const std::string& list, const std::string& body_key,
                 const std::string& file, std::map<std::string, Entry>* into) {
  const YAML::Node items = root[list];
  if (!items || items.IsNull()) return OkStatus();
  if (!items.IsSequence()) return Error{"kubeconfig " + file + ": " + list + " must be a list"};
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string index_path = fmt::format("{}[{}]", list, i);
    const std::string where = fmt::format("kubeconfig {}: {}", file, index_path);
    const YAML::Node item = items[i];
    if (!item.IsMap()) return Error{where + " must be a mapping"};
    auto name = StringField(item, "name", where);
    if (!name.ok()) return Error{name.error()};
    if (name->empty()) return Error{where + " has no name"};
    YAML::Node body = item[body_key];
    if (body && !body.IsNull() && !body.IsMap()) {
      return Error{fmt::format("{}.{} must be a mapping", where, body_key)};
    }
    if (!body || body.IsNull()) body = YAML::Node(YAML::NodeType::Map);
    into->emplace(*name, Entry{file, index_path, body});
  }
  return OkStatus();
}

Status MergeFile(const std::string& file, const std::string& text, MergedKubeconfig* merged) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return Error{"kubeconfig " + file + ": not valid YAML: line " +
                 std::to_string(e.mark.line + 1) + ": " + e.msg};
  }
  if (!root || root.IsNull()) return OkStatus();  // an empty file adds nothing
  if (!root.IsMap()) return Error{"kubeconfig " + file + ": the document must be a mapping"};
  try {
    if (auto s = MergeList(root, "clusters", "cluster", file, &merged->clusters); !s) return s;
    if (auto s = MergeList(root, "users", "user", file, &merged->users); !s) return s;
    if (auto s = MergeList(root, "contexts", "context", file, &merged->contexts); !s) return s;
    auto current = StringField(root, "current-context", "kubeconfig " + file);
    if (!current.ok()) return Error{current.error()};
    if (merged->current_context.empty() && !current->empty()) {
      merged->current_context = *current;
      merged->current_context_file = file;
    }
  } catch (const YAML::Exception& e) {
    return Error{"kubeconfig " + file + ": " + e.msg};
  }
  return OkStatus();
}

// A path from a kubeconfig, relative to the folder of the file it was written in.
std::string ResolvePath(const std::string& path, const std::string& kubeconfig_file) {
  if (path.empty() || fs::path(path).is_absolute()) return path;
  return (fs::path(kubeconfig_file).parent_path() / path).lexically_normal().string();
}

// `field`-data (base64 PEM) or `field` (a file path) of an entry; at most one may be set.
Status ReadPemOrFile(const Entry& entry, const std::string& where, const std::string& field,
                     std::string* file, std::string* pem) {
  auto path = StringField(entry.body, field, where);
  if (!path.ok()) return Error{path.error()};
  auto data = StringField(entry.body, field + "-data", where);
  if (!data.ok()) return Error{data.error()};
  if (!data->empty()) {
    auto decoded = DecodeBase64(*data);
    if (!decoded) return Error{where + ": " + field + "-data is not valid base64"};
    *pem = std::move(*decoded);
    return OkStatus();
  }
  if (path->empty()) return OkStatus();
  *file = ResolvePath(*path, entry.file);
  std::ifstream probe(*file);
  if (!probe) return Error{where + ": " + field + " " + *file + " cannot be read"};
  return OkStatus();
}

Status ApplyCluster(const Entry& entry, const std::string& name, KubeConfig* config) {
  const std::string where = Describe(entry, "cluster", name);
  auto proxy = StringField(entry.body, "proxy-url", where);
  if (!proxy.ok()) return Error{proxy.error()};
  if (!proxy->empty()) return Error{where + ": proxy-url is not supported by pharos-operator"};
  auto server = StringField(entry.body, "server", where);
  if (!server.ok()) return Error{server.error()};
  if (server->empty()) return Error{where + ": server is not set"};
  if (server->rfind("https://", 0) != 0 && server->rfind("http://", 0) != 0) {
    return Error{where + ": server \"" + *server + "\" must start with https:// or http://"};
  }
  while (!server->empty() && server->back() == '/') server->pop_back();
  config->server = *server;
  if (auto s =
          ReadPemOrFile(entry, where, "certificate-authority", &config->ca_file, &config->ca_pem);
      !s) {
    return s;
  }
  auto insecure = BoolField(entry.body, "insecure-skip-tls-verify", where);
  if (!insecure.ok()) return Error{insecure.error()};
  config->insecure_skip_tls_verify = *insecure;
  auto tls_name = StringField(entry.body, "tls-server-name", where);
  if (!tls_name.ok()) return Error{tls_name.error()};
  config->tls_server_name = *tls_name;
  return OkStatus();
}

Status ApplyUser(const Entry& entry, const std::string& name, KubeConfig* config) {
  const std::string where = Describe(entry, "user", name);
  if (entry.body["exec"] && !entry.body["exec"].IsNull()) {
    return Error{where +
                 " uses an exec credential plugin, which pharos-operator does not support; give "
                 "the user a token, tokenFile or client certificate (e.g. a ServiceAccount token)"};
  }
  if (entry.body["auth-provider"] && !entry.body["auth-provider"].IsNull()) {
    return Error{where +
                 " uses an auth-provider plugin, which pharos-operator does not support; give the "
                 "user a token, tokenFile or client certificate"};
  }
  for (const char* field : {"username", "password"}) {
    if (entry.body[field] && !entry.body[field].IsNull()) {
      return Error{where + " uses basic authentication (" + field +
                   "), which Kubernetes no longer supports; use a token or client certificate"};
    }
  }
  for (const char* field : {"as", "as-uid", "as-groups", "as-user-extra"}) {
    if (entry.body[field] && !entry.body[field].IsNull()) {
      return Error{where + " uses impersonation (" + field +
                   "), which pharos-operator does not support"};
    }
  }
  auto token = StringField(entry.body, "token", where);
  if (!token.ok()) return Error{token.error()};
  config->token = Trim(*token);
  auto token_file = StringField(entry.body, "tokenFile", where);
  if (!token_file.ok()) return Error{token_file.error()};
  if (!token_file->empty()) {
    config->token_file = ResolvePath(*token_file, entry.file);
    if (!ReadWholeFile(config->token_file)) {
      return Error{where + ": tokenFile " + config->token_file + " cannot be read"};
    }
  }
  if (auto s = ReadPemOrFile(entry, where, "client-certificate", &config->client_cert_file,
                             &config->client_cert_pem);
      !s) {
    return s;
  }
  if (auto s = ReadPemOrFile(entry, where, "client-key", &config->client_key_file,
                             &config->client_key_pem);
      !s) {
    return s;
  }
  const bool has_cert = !config->client_cert_file.empty() || !config->client_cert_pem.empty();
  const bool has_key = !config->client_key_file.empty() || !config->client_key_pem.empty();
  if (has_cert != has_key) {
    return Error{where + ": client-certificate and client-key must be given together"};
  }
  return OkStatus();
}

std::optional<std::string> DefaultGetenv(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

}  // namespace

std::string JoinHostPort(std::string_view host, std::string_view port) {
  if (host.find(':') != std::string_view::npos &&
      !(host.size() >= 2 && host.front() == '[' && host.back() == ']')) {
    return "[" + std::string(host) + "]:" + std::string(port);
  }
  return std::string(host) + ":" + std::string(port);
}

std::optional<std::string> DecodeBase64(std::string_view text) {
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t buffer = 0;
  int bits = 0;
  bool padding = false;
  for (char c : text) {
    int value;
    if (c >= 'A' && c <= 'Z') {
      value = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      value = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      value = c - '0' + 52;
    } else if (c == '+') {
      value = 62;
    } else if (c == '/') {
      value = 63;
    } else if (c == '=') {
      padding = true;
      continue;
    } else if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
      continue;
    } else {
      return std::nullopt;
    }
    if (padding) return std::nullopt;  // data after '='
    buffer = (buffer << 6) | static_cast<uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xFF));
    }
  }
  if (bits >= 6) return std::nullopt;  // a lone trailing character cannot be a whole byte
  return out;
}

std::vector<std::string> KubeConfig::SplitPathList(std::string_view value) {
  std::vector<std::string> paths;
  size_t start = 0;
  while (start <= value.size()) {
    size_t end = value.find(':', start);
    if (end == std::string_view::npos) end = value.size();
    std::string part(value.substr(start, end - start));
    bool seen = false;
    for (const auto& p : paths) seen = seen || p == part;
    if (!part.empty() && !seen) paths.push_back(std::move(part));
    start = end + 1;
  }
  return paths;
}

Result<KubeConfig> KubeConfig::FromFiles(const std::vector<std::string>& files,
                                         std::string_view context) {
  MergedKubeconfig merged;
  for (const auto& file : files) {
    std::error_code ec;
    if (!fs::exists(file, ec)) continue;
    auto text = ReadWholeFile(file);
    if (!text) return Error{"kubeconfig " + file + ": cannot be read"};
    if (auto s = MergeFile(file, *text, &merged); !s) return Error{s.error()};
    merged.files_read.push_back(file);
  }
  std::string all_files;
  for (const auto& f : files) all_files += (all_files.empty() ? "" : ", ") + f;
  if (merged.files_read.empty()) {
    return Error{"no kubeconfig file found (looked for " + all_files + ")"};
  }

  const std::string context_name = context.empty() ? merged.current_context : std::string(context);
  if (context_name.empty()) {
    return Error{"kubeconfig " + all_files +
                 ": no current-context is set; pass --context or set current-context"};
  }
  const auto context_it = merged.contexts.find(context_name);
  if (context_it == merged.contexts.end()) {
    return Error{"kubeconfig " + all_files + ": context \"" + context_name + "\"" +
                 (context.empty() ? " (current-context of " + merged.current_context_file + ")"
                                  : std::string()) +
                 " is not defined"};
  }
  const Entry& context_entry = context_it->second;
  const std::string context_where = Describe(context_entry, "context", context_name);
  KubeConfig config;
  try {
    auto cluster_name = StringField(context_entry.body, "cluster", context_where);
    if (!cluster_name.ok()) return Error{cluster_name.error()};
    auto user_name = StringField(context_entry.body, "user", context_where);
    if (!user_name.ok()) return Error{user_name.error()};
    auto namespace_name = StringField(context_entry.body, "namespace", context_where);
    if (!namespace_name.ok()) return Error{namespace_name.error()};
    if (cluster_name->empty()) return Error{context_where + ": cluster is not set"};
    const auto cluster_it = merged.clusters.find(*cluster_name);
    if (cluster_it == merged.clusters.end()) {
      return Error{context_where + ": cluster \"" + *cluster_name + "\" is not defined in " +
                   all_files};
    }
    if (auto s = ApplyCluster(cluster_it->second, *cluster_name, &config); !s) {
      return Error{s.error()};
    }
    if (!user_name->empty()) {
      const auto user_it = merged.users.find(*user_name);
      if (user_it == merged.users.end()) {
        return Error{context_where + ": user \"" + *user_name + "\" is not defined in " +
                     all_files};
      }
      if (auto s = ApplyUser(user_it->second, *user_name, &config); !s) return Error{s.error()};
    }
    if (!namespace_name->empty()) config.namespace_name = *namespace_name;
  } catch (const YAML::Exception& e) {
    return Error{context_where + ": " + e.msg};
  }
  config.source = "kubeconfig " + context_entry.file + " (context " + context_name + ")";
  return config;
}

Result<KubeConfig> KubeConfig::InCluster(const KubeConfigLoadOptions& options) {
  const auto getenv = options.getenv ? options.getenv : DefaultGetenv;
  const auto host = getenv("KUBERNETES_SERVICE_HOST");
  const auto port = getenv("KUBERNETES_SERVICE_PORT");
  if (!host || host->empty() || !port || port->empty()) {
    return Error{
        "in-cluster config: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set "
        "(they are inside a pod); outside a cluster pass --kubeconfig"};
  }
  const fs::path dir(options.service_account_dir);
  KubeConfig config;
  config.server = "https://" + JoinHostPort(*host, *port);
  config.token_file = (dir / "token").string();
  const auto token = ReadWholeFile(config.token_file);
  if (!token || Trim(*token).empty()) {
    return Error{"in-cluster config: service account token " + config.token_file +
                 " is missing or empty (is automountServiceAccountToken off?)"};
  }
  config.ca_file = (dir / "ca.crt").string();
  if (!ReadWholeFile(config.ca_file)) {
    return Error{"in-cluster config: CA bundle " + config.ca_file + " cannot be read"};
  }
  if (const auto ns = ReadWholeFile((dir / "namespace").string()); ns && !Trim(*ns).empty()) {
    config.namespace_name = Trim(*ns);
  }
  config.source = "in-cluster (" + config.server + ")";
  return config;
}

Result<KubeConfig> KubeConfig::Load(const KubeConfigLoadOptions& options) {
  const auto getenv = options.getenv ? options.getenv : DefaultGetenv;
  if (!options.kubeconfig_path.empty()) {
    std::error_code ec;
    if (!fs::exists(options.kubeconfig_path, ec)) {
      return Error{"kubeconfig " + options.kubeconfig_path + " (--kubeconfig) does not exist"};
    }
    return FromFiles({options.kubeconfig_path}, options.context);
  }
  if (const auto env = getenv("KUBECONFIG"); env && !env->empty()) {
    return FromFiles(SplitPathList(*env), options.context);
  }
  if (const auto host = getenv("KUBERNETES_SERVICE_HOST"); host && !host->empty()) {
    return InCluster(options);
  }
  if (const auto home = getenv("HOME"); home && !home->empty()) {
    const std::string path = (fs::path(*home) / ".kube" / "config").string();
    std::error_code ec;
    if (fs::exists(path, ec)) return FromFiles({path}, options.context);
  }
  return Error{
      "no Kubernetes configuration found: no --kubeconfig, $KUBECONFIG is not set, not in a "
      "cluster (KUBERNETES_SERVICE_HOST unset) and no $HOME/.kube/config"};
}

}  // namespace pharos

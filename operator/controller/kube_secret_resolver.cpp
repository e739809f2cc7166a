#include "operator/controller/kube_secret_resolver.h"

#include <openssl/evp.h>

namespace pharos {
namespace {

Result<std::string> DecodeBase64(const std::string& text) {
  std::string out(text.size() / 4 * 3 + 3, '\0');
  const int length = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                     reinterpret_cast<const unsigned char*>(text.data()),
                                     static_cast<int>(text.size()));
  if (length < 0) return Error{"not base64"};
  size_t size = static_cast<size_t>(length);
  // EVP_DecodeBlock counts the padding as zero bytes.
  for (size_t i = text.size(); i > 0 && text[i - 1] == '=' && size > 0; --i) --size;
  out.resize(size);
  return out;
}

}  // namespace

Result<std::string> ReadSecretKey(KubeClient& client, const std::string& namespace_name,
                                  const std::string& name, const std::string& key) {
  const std::string secret = "Secret " + namespace_name + "/" + name;
  KubeResponse response = client.Get(ApiResource::Secrets(), namespace_name, name);
  if (response.IsNotFound()) {
    return Error{secret + " does not exist", ErrorKind::kInvalidArgument};
  }
  if (response.http_status == 403) {
    return Error{"the operator may not read " + secret, ErrorKind::kInvalidArgument};
  }
  if (!response.ok()) {
    return Error{"reading " + secret + ": " + response.Describe()};
  }
  const nlohmann::json* data = response.body.contains("data") && response.body["data"].is_object()
                                   ? &response.body["data"]
                                   : nullptr;
  auto value = data == nullptr ? nlohmann::json::const_iterator() : data->find(key);
  if (data == nullptr || value == data->end() || !value->is_string()) {
    return Error{secret + " has no key \"" + key + "\"", ErrorKind::kInvalidArgument};
  }
  Result<std::string> decoded = DecodeBase64(value->get<std::string>());
  if (!decoded) {
    return Error{"key \"" + key + "\" of " + secret + " is not base64"};
  }
  std::string text = std::move(decoded).value();
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

Result<std::string> KubeSecretResolver::Resolve(const AlertChannel& channel,
                                                const ValueSource& source) {
  if (source.value) return *source.value;
  if (source.secret_name.empty()) {
    if (source.env.empty() && source.file.empty()) return std::string();
    return Error{"AlertChannel " + channel.Key() +
                     ": env and file sources are not read in Kubernetes; use secretKeyRef",
                 ErrorKind::kInvalidArgument};
  }
  const std::string& ns = channel.meta.namespace_name;
  const std::string key = ns + "/" + source.secret_name;
  nlohmann::json data;
  {
    MutexLock lock(mu_);
    auto found = cache_.find(key);
    if (found != cache_.end() && clock_.SteadyNow() - found->second.at < cache_for_) {
      data = found->second.data;
    }
  }
  if (data.is_null()) {
    KubeResponse response = client_.Get(ApiResource::Secrets(), ns, source.secret_name);
    if (response.IsNotFound()) {
      return Error{"AlertChannel " + channel.Key() + ": Secret " + key + " does not exist",
                   ErrorKind::kInvalidArgument};
    }
    if (response.http_status == 403) {
      return Error{"AlertChannel " + channel.Key() + ": the operator may not read Secret " + key +
                       " (add its name to the chart's alerting.secretNames)",
                   ErrorKind::kInvalidArgument};
    }
    if (!response.ok()) {
      return Error{"AlertChannel " + channel.Key() + ": reading Secret " + key + ": " +
                   response.Describe()};
    }
    data = response.body.contains("data") && response.body["data"].is_object()
               ? response.body["data"]
               : nlohmann::json::object();
    MutexLock lock(mu_);
    cache_[key] = Cached{clock_.SteadyNow(), data};
  }
  auto value = data.find(source.secret_key);
  if (value == data.end() || !value->is_string()) {
    return Error{"AlertChannel " + channel.Key() + ": Secret " + key + " has no key \"" +
                     source.secret_key + "\"",
                 ErrorKind::kInvalidArgument};
  }
  Result<std::string> decoded = DecodeBase64(value->get<std::string>());
  if (!decoded) {
    return Error{"AlertChannel " + channel.Key() + ": key \"" + source.secret_key +
                 "\" of Secret " + key + " is not base64"};
  }
  std::string text = std::move(decoded).value();
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

}  // namespace pharos

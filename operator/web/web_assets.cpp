#include "operator/web/web_assets.h"

#include <fmt/format.h>

#include <map>

#include "common/stable_hash.h"

namespace pharos {
namespace {

std::string ContentType(std::string_view name) {
  const auto ends_with = [&](std::string_view suffix) {
    return name.size() >= suffix.size() && name.substr(name.size() - suffix.size()) == suffix;
  };
  if (ends_with(".css")) return "text/css; charset=utf-8";
  if (ends_with(".js")) return "text/javascript; charset=utf-8";
  if (ends_with(".svg")) return "image/svg+xml";
  if (ends_with(".png")) return "image/png";
  if (ends_with(".ico")) return "image/x-icon";
  return "application/octet-stream";
}

const std::map<std::string, WebAsset, std::less<>>& All() {
  static const std::map<std::string, WebAsset, std::less<>> assets = [] {
    std::map<std::string, WebAsset, std::less<>> out;
    for (const EmbeddedFile& file : EmbeddedWebFiles()) {
      WebAsset asset{std::string(file.name), ContentType(file.name), file.content,
                     fmt::format("\"{:016x}\"", StableHash64(file.content))};
      out.emplace(asset.name, std::move(asset));
    }
    return out;
  }();
  return assets;
}

}  // namespace

const WebAsset* WebAssets::Find(std::string_view name) {
  const auto found = All().find(name);
  return found == All().end() ? nullptr : &found->second;
}

std::string WebAssets::Url(std::string_view name) {
  const WebAsset* asset = Find(name);
  return "/assets/" + std::string(name) + (asset ? "?v=" + asset->etag.substr(1, 8) : "");
}

}  // namespace pharos

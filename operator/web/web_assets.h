#pragma once

// WebAssets: the files the pages load — stylesheet, script, icons — compiled into the binary from
// operator/web/assets/ (embed_assets.cmake), so pages work in an air-gapped cluster with nothing
// to install or fetch. Each is served at /assets/<name>; pages link /assets/<name>?v=<hash>, a
// URL that changes with the content, so it can be cached for a year.
// Thread-safety: immutable after the first call.

#include <string>
#include <string_view>
#include <vector>

namespace pharos {

struct EmbeddedFile {
  std::string_view name;
  std::string_view content;
};
// Generated: every file of operator/web/assets/, by name.
const std::vector<EmbeddedFile>& EmbeddedWebFiles();

struct WebAsset {
  std::string name;
  std::string content_type;
  std::string_view content;
  std::string etag;  // "\"<16 hex digits>\"" of the content
};

class WebAssets {
 public:
  // nullptr when there is no such asset.
  static const WebAsset* Find(std::string_view name);
  // "/assets/pharos.css?v=0123abcd"; the name must exist.
  static std::string Url(std::string_view name);
};

}  // namespace pharos

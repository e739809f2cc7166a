#pragma once

// WebResponse: how the web pages answer — with an ETag (a hash of the body) and Cache-Control,
// 304 Not Modified when the client's If-None-Match holds that ETag, and gzip when the client
// accepts it and the body is worth compressing (status pages of hundreds of components shrink
// about 15 times).
// Thread-safety: free functions.

#include <string>
#include <string_view>

#include "common/http_server.h"

namespace pharos {

class WebResponse {
 public:
  static constexpr std::string_view kHtml = "text/html; charset=utf-8";
  static constexpr size_t kCompressAbove = 1'024;

  // `cache_control` e.g. "public, max-age=30"; the ETag is computed from `body`.
  static HttpResponse Make(const HttpRequest& request, int status, std::string_view content_type,
                           const std::string& body, std::string_view cache_control);
  // The same with a known ETag (quoted) and a body that is not copied until needed.
  static HttpResponse MakeWithEtag(const HttpRequest& request, int status,
                                   std::string_view content_type, std::string_view body,
                                   std::string_view etag, std::string_view cache_control);
  // The same with the body already compressed (`gzip`, empty when it is not worth it).
  static HttpResponse MakePrepared(const HttpRequest& request, int status,
                                   std::string_view content_type, std::string_view body,
                                   std::string_view gzip, std::string_view etag,
                                   std::string_view cache_control);
  // 302/303 to `location`.
  static HttpResponse Redirect(int status, const std::string& location);

  // Whether the request's Accept-Encoding takes gzip.
  static bool AcceptsGzip(const HttpRequest& request);
  // "\"<16 hex digits>\"" of the body.
  static std::string EtagOf(std::string_view body);
  // Whether an If-None-Match header value names `etag` (or is "*").
  static bool Matches(std::string_view if_none_match, std::string_view etag);
  // gzip (RFC 1952) of `body`; empty on failure.
  static std::string Gzip(std::string_view body);
};

}  // namespace pharos

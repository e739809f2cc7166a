#include "operator/analytics/curl_clickhouse_transport.h"

#include <curl/curl.h>
#include <zlib.h>

#include <algorithm>
#include <memory>
#include <mutex>

namespace pharos {
namespace {

struct CurlDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct ListDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

// Keeps at most `max` bytes of the answer; the rest is read and dropped (marked truncated).
struct BodySink {
  ClickHouseResponse* response;
  size_t max;
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<BodySink*>(user);
  std::string& body = sink->response->body;
  const size_t bytes = size * count;
  const size_t kept = body.size() < sink->max ? std::min(bytes, sink->max - body.size()) : 0;
  body.append(data, kept);
  if (kept < bytes) sink->response->truncated = true;
  return bytes;
}

std::string UrlEncode(CURL* curl, std::string_view text) {
  char* encoded = curl_easy_escape(curl, text.data(), static_cast<int>(text.size()));
  std::string out = encoded ? encoded : "";
  curl_free(encoded);
  return out;
}

}  // namespace

Result<std::string> GzipCompress(std::string_view data) {
  z_stream stream{};
  // 15 + 16: a gzip header and trailer rather than zlib's.
  if (deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    return Error{"gzip: deflateInit2 failed"};
  }
  std::string out(deflateBound(&stream, data.size()) + 32, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&stream, Z_FINISH);
  const size_t written = stream.total_out;
  deflateEnd(&stream);
  if (rc != Z_STREAM_END) {
    return Error{"gzip: deflate did not finish"};
  }
  out.resize(written);
  return out;
}

Result<CurlClickHouseTransport> CurlClickHouseTransport::Create(Options options) {
  const std::string& url = options.url;
  const bool http = url.rfind("http://", 0) == 0;
  const bool https = url.rfind("https://", 0) == 0;
  const size_t host_at = http ? 7 : 8;
  if ((!http && !https) || url.size() <= host_at || url[host_at] == '/' ||
      url.find_first_of("?# ") != std::string::npos) {
    return Error{"\"" + url +
                     "\" is not a ClickHouse HTTP URL: expected http(s)://HOST[:PORT], e.g. "
                     "http://clickhouse:8123",
                 ErrorKind::kInvalidArgument};
  }
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  while (!options.url.empty() && options.url.back() == '/') {
    options.url.pop_back();
  }
  return CurlClickHouseTransport(std::move(options));
}

Result<ClickHouseResponse> CurlClickHouseTransport::Send(const ClickHouseRequest& request) {
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) {
    return Error{"curl_easy_init failed", ErrorKind::kFailed};
  }
  std::string url = options_.url + "/";
  if (!request.query.empty()) {
    url += "?query=" + UrlEncode(curl.get(), request.query);
  }

  std::string compressed;
  std::string_view body = request.body;
  std::unique_ptr<curl_slist, ListDeleter> headers;
  auto add_header = [&headers](const char* header) {
    headers.reset(curl_slist_append(headers.release(), header));
  };
  add_header("Content-Type: text/plain; charset=utf-8");
  add_header("Expect:");
  if (request.gzip) {
    Result<std::string> packed = GzipCompress(request.body);
    if (!packed) {
      return Error{packed.error()};
    }
    compressed = std::move(packed).value();
    body = compressed;
    add_header("Content-Encoding: gzip");
  }

  ClickHouseResponse response;
  BodySink sink{&response, options_.max_response_bytes};
  char error_text[CURL_ERROR_SIZE] = {};
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_USERNAME, options_.user.c_str());
  curl_easy_setopt(c, CURLOPT_PASSWORD, options_.password.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error_text);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(std::max(options_.timeout, request.timeout).count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  const CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    return Error{"ClickHouse at " + options_.url + " unreachable: " +
                     (error_text[0] != '\0' ? std::string(error_text) : curl_easy_strerror(rc)),
                 ErrorKind::kUnavailable};
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  response.status = static_cast<int>(status);
  return response;
}

}  // namespace pharos

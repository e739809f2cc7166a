#include "operator/web/web_response.h"

#include <fmt/format.h>
#include <zlib.h>

#include <cstdint>
#include <cstring>

namespace pharos {
namespace {}  // namespace

bool WebResponse::AcceptsGzip(const HttpRequest& request) {
  const std::string_view accept = request.Header("Accept-Encoding");
  size_t at = accept.find("gzip");
  if (at == std::string_view::npos) return false;
  // "gzip;q=0" refuses it.
  const std::string_view rest = accept.substr(at + 4);
  const size_t comma = rest.find(',');
  const std::string_view params = rest.substr(0, comma);
  return params.find("q=0") == std::string_view::npos ||
         params.find("q=0.") != std::string_view::npos;
}

namespace {

bool Compressible(std::string_view content_type) {
  return content_type.substr(0, 5) == "text/" ||
         content_type.find("json") != std::string_view::npos ||
         content_type.find("xml") != std::string_view::npos ||
         content_type.find("svg") != std::string_view::npos;
}

}  // namespace

std::string WebResponse::EtagOf(std::string_view body) {
  // Pages are megabytes and are tagged at every build, so the bytes are hashed eight at a time
  // in four independent lanes rather than one at a time. Each step of a lane is a bijection of
  // its state for a given word, so a body differing from another in one word always gets a
  // different lane state. A validator, not a defence against forgery.
  constexpr uint64_t kMultiplier = 0x9e3779b97f4a7c15ULL;
  uint64_t lanes[4] = {0x243f6a8885a308d3ULL, 0x13198a2e03707344ULL, 0xa4093822299f31d0ULL,
                       0x082efa98ec4e6c89ULL};
  const size_t size = body.size();
  size_t at = 0;
  for (; at + 32 <= size; at += 32) {
    for (size_t lane = 0; lane < 4; ++lane) {
      uint64_t word = 0;
      std::memcpy(&word, body.data() + at + lane * 8, 8);
      lanes[lane] = (lanes[lane] ^ word) * kMultiplier;
      lanes[lane] ^= lanes[lane] >> 29;
    }
  }
  for (; at < size; ++at) {
    lanes[at % 4] = (lanes[at % 4] ^ static_cast<unsigned char>(body[at])) * kMultiplier;
    lanes[at % 4] ^= lanes[at % 4] >> 29;
  }
  uint64_t hash = size;
  for (uint64_t lane : lanes) {
    hash = (hash ^ lane) * 0xff51afd7ed558ccdULL;
    hash ^= hash >> 33;
  }
  hash *= 0xc4ceb9fe1a85ec53ULL;
  hash ^= hash >> 33;
  return fmt::format("\"{:016x}\"", hash);
}

bool WebResponse::Matches(std::string_view if_none_match, std::string_view etag) {
  if (if_none_match.empty()) return false;
  const std::string_view bare = etag.size() >= 2 ? etag.substr(1, etag.size() - 2) : etag;
  while (!if_none_match.empty()) {
    const size_t comma = if_none_match.find(',');
    std::string_view candidate = if_none_match.substr(0, comma);
    if_none_match =
        comma == std::string_view::npos ? std::string_view() : if_none_match.substr(comma + 1);
    while (!candidate.empty() && candidate.front() == ' ') candidate.remove_prefix(1);
    while (!candidate.empty() && candidate.back() == ' ') candidate.remove_suffix(1);
    if (candidate == "*") return true;
    if (candidate.substr(0, 2) == "W/") candidate.remove_prefix(2);
    if (candidate.size() >= 2 && candidate.front() == '"') {
      candidate = candidate.substr(1, candidate.size() - 2);
    }
    // The gzip variant's tag ("<hash>-gz") names the same content.
    if (candidate.size() > 3 && candidate.substr(candidate.size() - 3) == "-gz") {
      candidate.remove_suffix(3);
    }
    if (candidate == bare) return true;
  }
  return false;
}

std::string WebResponse::Gzip(std::string_view body) {
  z_stream stream{};
  if (deflateInit2(&stream, 5, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return {};
  std::string out(deflateBound(&stream, body.size()), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data()));
  stream.avail_in = static_cast<uInt>(body.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  const int result = deflate(&stream, Z_FINISH);
  const size_t written = stream.total_out;
  deflateEnd(&stream);
  if (result != Z_STREAM_END) return {};
  out.resize(written);
  return out;
}

HttpResponse WebResponse::Make(const HttpRequest& request, int status,
                               std::string_view content_type, const std::string& body,
                               std::string_view cache_control) {
  const std::string etag = EtagOf(body);
  return MakeWithEtag(request, status, content_type, body, etag, cache_control);
}

HttpResponse WebResponse::MakeWithEtag(const HttpRequest& request, int status,
                                       std::string_view content_type, std::string_view body,
                                       std::string_view etag, std::string_view cache_control) {
  HttpResponse response;
  response.status = status;
  response.content_type = std::string(content_type);
  const bool gzip = body.size() >= WebResponse::kCompressAbove && Compressible(content_type) &&
                    AcceptsGzip(request);
  const auto variant = [&](bool compressed) {
    return compressed ? std::string(etag.substr(0, etag.size() - 1)) + "-gz\"" : std::string(etag);
  };
  response.headers.emplace_back("Cache-Control", std::string(cache_control));
  response.headers.emplace_back("Vary", "Accept-Encoding");
  if (status == 200 && Matches(request.Header("If-None-Match"), etag)) {
    response.status = 304;
    response.content_type.clear();
    response.headers.emplace_back("ETag", variant(gzip));
    return response;
  }
  std::string compressed = gzip ? Gzip(body) : std::string();
  if (status == 200) response.headers.emplace_back("ETag", variant(!compressed.empty()));
  if (!compressed.empty()) {
    response.headers.emplace_back("Content-Encoding", "gzip");
    response.body = std::move(compressed);
  } else {
    response.body = std::string(body);
  }
  return response;
}

HttpResponse WebResponse::MakePrepared(const HttpRequest& request, int status,
                                       std::string_view content_type, std::string_view body,
                                       std::string_view gzip, std::string_view etag,
                                       std::string_view cache_control) {
  HttpResponse response;
  response.status = status;
  response.content_type = std::string(content_type);
  const bool compressed = !gzip.empty() && AcceptsGzip(request);
  const std::string tag =
      compressed ? std::string(etag.substr(0, etag.size() - 1)) + "-gz\"" : std::string(etag);
  response.headers.emplace_back("Cache-Control", std::string(cache_control));
  response.headers.emplace_back("Vary", "Accept-Encoding");
  if (status == 200) response.headers.emplace_back("ETag", tag);
  if (status == 200 && Matches(request.Header("If-None-Match"), etag)) {
    response.status = 304;
    response.content_type.clear();
    return response;
  }
  if (compressed) {
    response.headers.emplace_back("Content-Encoding", "gzip");
    response.body = std::string(gzip);
  } else {
    response.body = std::string(body);
  }
  return response;
}

HttpResponse WebResponse::Redirect(int status, const std::string& location) {
  HttpResponse response;
  response.status = status;
  response.content_type = "text/plain; charset=utf-8";
  response.headers.emplace_back("Location", location);
  response.body = "See " + location + "\n";
  return response;
}

}  // namespace pharos

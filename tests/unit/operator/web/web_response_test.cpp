#include "operator/web/web_response.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <set>
#include <string>

namespace pharos {
namespace {

std::string Header(const HttpResponse& response, std::string_view name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) return value;
  }
  return "";
}

std::string Gunzip(const std::string& data) {
  z_stream stream{};
  EXPECT_EQ(inflateInit2(&stream, 15 + 16), Z_OK);
  std::string out(1 << 20, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&stream, Z_FINISH), Z_STREAM_END);
  out.resize(stream.total_out);
  inflateEnd(&stream);
  return out;
}

TEST(WebResponseTest, EtagAndNotModified) {
  HttpRequest request;
  const std::string body = "<p>hello</p>";
  HttpResponse first =
      WebResponse::Make(request, 200, WebResponse::kHtml, body, "public, max-age=30");
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(first.body, body);
  const std::string etag = Header(first, "ETag");
  EXPECT_EQ(etag, WebResponse::EtagOf(body));
  EXPECT_EQ(Header(first, "Cache-Control"), "public, max-age=30");
  request.headers["If-None-Match"] = etag;
  HttpResponse second =
      WebResponse::Make(request, 200, WebResponse::kHtml, body, "public, max-age=30");
  EXPECT_EQ(second.status, 304);
  EXPECT_TRUE(second.body.empty());
  EXPECT_EQ(Header(second, "ETag"), etag);
  request.headers["If-None-Match"] = "\"other\"";
  EXPECT_EQ(WebResponse::Make(request, 200, WebResponse::kHtml, body, "x").status, 200);
  // Errors are never 304.
  request.headers["If-None-Match"] = etag;
  EXPECT_EQ(WebResponse::Make(request, 404, WebResponse::kHtml, body, "x").status, 404);
}

TEST(WebResponseTest, EtagChangesWithAnyByte) {
  std::string body(100'003, 'x');
  const std::string etag = WebResponse::EtagOf(body);
  EXPECT_EQ(etag.size(), 18u);
  EXPECT_EQ(etag, WebResponse::EtagOf(body));
  std::set<std::string> tags{etag};
  for (size_t at :
       {size_t{0}, size_t{7}, size_t{31}, size_t{32}, size_t{50'000}, size_t{100'002}}) {
    std::string changed = body;
    changed[at] = 'y';
    tags.insert(WebResponse::EtagOf(changed));
  }
  tags.insert(WebResponse::EtagOf(body.substr(1)));
  tags.insert(WebResponse::EtagOf(""));
  EXPECT_EQ(tags.size(), 9u);
}

TEST(WebResponseTest, IfNoneMatchForms) {
  EXPECT_TRUE(WebResponse::Matches("\"abc\"", "\"abc\""));
  EXPECT_TRUE(WebResponse::Matches("W/\"abc\"", "\"abc\""));
  EXPECT_TRUE(WebResponse::Matches("\"x\", \"abc-gz\"", "\"abc\""));
  EXPECT_TRUE(WebResponse::Matches("*", "\"abc\""));
  EXPECT_FALSE(WebResponse::Matches("", "\"abc\""));
  EXPECT_FALSE(WebResponse::Matches("\"abcd\"", "\"abc\""));
}

TEST(WebResponseTest, GzipWhenAcceptedAndWorthIt) {
  HttpRequest request;
  request.headers["Accept-Encoding"] = "gzip, deflate, br";
  std::string body;
  for (int i = 0; i < 500; ++i) body += "<span class=\"up\" title=\"1 Jan 2026\"></span>";
  HttpResponse response = WebResponse::Make(request, 200, WebResponse::kHtml, body, "x");
  EXPECT_EQ(Header(response, "Content-Encoding"), "gzip");
  EXPECT_EQ(Header(response, "Vary"), "Accept-Encoding");
  EXPECT_LT(response.body.size(), body.size() / 10);
  EXPECT_EQ(Gunzip(response.body), body);
  EXPECT_EQ(Header(response, "ETag"), WebResponse::EtagOf(body).substr(0, 17) + "-gz\"");
  // The gzip variant's tag is accepted for the same content.
  request.headers["If-None-Match"] = Header(response, "ETag");
  EXPECT_EQ(WebResponse::Make(request, 200, WebResponse::kHtml, body, "x").status, 304);
  // Not for small bodies, images, or clients that refuse it.
  request.headers.erase("If-None-Match");
  EXPECT_EQ(
      Header(WebResponse::Make(request, 200, WebResponse::kHtml, "short", "x"), "Content-Encoding"),
      "");
  EXPECT_EQ(Header(WebResponse::Make(request, 200, "image/png", body, "x"), "Content-Encoding"),
            "");
  request.headers["Accept-Encoding"] = "gzip;q=0, identity";
  EXPECT_EQ(
      Header(WebResponse::Make(request, 200, WebResponse::kHtml, body, "x"), "Content-Encoding"),
      "");
}

}  // namespace
}  // namespace pharos

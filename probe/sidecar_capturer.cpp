#include "probe/sidecar_capturer.h"

#include <curl/curl.h>

#include <nlohmann/json.hpp>

#include "probe/bounded_body_sink.h"

namespace pharos {

SidecarCapturer::SidecarCapturer(Options options)
    : options_(std::move(options)), transfer_(std::make_unique<CancellableTransfer>()) {}

namespace {

nlohmann::json PolicyJson(const TargetPolicy& policy) {
  nlohmann::json deny = nlohmann::json::array();
  nlohmann::json allow = nlohmann::json::array();
  for (const Cidr& cidr : policy.deny()) deny.push_back(cidr.ToString());
  for (const Cidr& cidr : policy.allow()) allow.push_back(cidr.ToString());
  return {{"deny", std::move(deny)}, {"allow", std::move(allow)}};
}

}  // namespace

Result<std::string> SidecarCapturer::Capture(const std::string& url, const TargetPolicy& added) {
  CURL* easy = transfer_->easy();
  if (easy == nullptr) {
    return Error{"the screenshot sidecar cannot be asked: libcurl could not start"};
  }
  curl_easy_reset(easy);
  const std::string endpoint = options_.base_url + "/capture";
  const std::string body =
      nlohmann::json{{"url", url}, {"targetPolicy", PolicyJson(options_.policy.MergedWith(added))}}
          .dump();
  std::string reply;
  BoundedBodySink sink{&reply, options_.max_bytes + size_t{64} * 1024};
  char error_text[CURL_ERROR_SIZE] = "";
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  curl_easy_setopt(easy, CURLOPT_URL, endpoint.c_str());
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http");
  curl_easy_setopt(easy, CURLOPT_POST, 1L);
  curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, BoundedBodySink::Write);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error_text);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout.count()));
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, 5'000L);
  const CancellableTransfer::Outcome outcome = transfer_->Run(std::stop_token());
  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_reset(easy);
  curl_slist_free_all(headers);
  if (outcome.code != CURLE_OK) {
    std::string detail = error_text[0] != '\0' ? error_text : curl_easy_strerror(outcome.code);
    if (sink.overflowed) {
      detail = "its reply is larger than " + std::to_string(sink.limit) + " bytes";
    }
    return Error{"the screenshot sidecar at " + options_.base_url + " did not answer: " + detail +
                 " (is the sidecar container running? probe.screenshots.enabled)"};
  }
  if (status != 200) {
    const nlohmann::json json = nlohmann::json::parse(reply, nullptr, false);
    if (json.is_object() && json.contains("error") && json["error"].is_string()) {
      return Error{json["error"].get<std::string>()};
    }
    return Error{"the screenshot sidecar answered HTTP " + std::to_string(status)};
  }
  if (reply.size() > options_.max_bytes) {
    return Error{"the screenshot has " + std::to_string(reply.size()) + " bytes; at most " +
                 std::to_string(options_.max_bytes) + " are sent"};
  }
  return reply;
}

}  // namespace pharos

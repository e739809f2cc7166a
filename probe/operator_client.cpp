#include "probe/operator_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstdlib>

#include "common/logging.h"
#include "probe/bounded_body_sink.h"

namespace pharos {
namespace {

constexpr const char* kRegisterPath = "/api/v1/probes/register";
constexpr const char* kLeasePath = "/api/v1/work/lease";
constexpr const char* kResultsPath = "/api/v1/work/results";
constexpr const char* kMonitorsPath = "/api/v1/work/monitors";
constexpr const char* kScreenshotLeasePath = "/api/v1/work/screenshots/lease";
constexpr const char* kScreenshotUploadPath = "/api/v1/work/screenshots/upload";
constexpr const char* kScreenshotFailedPath = "/api/v1/work/screenshots/failed";

size_t ReadHeader(char* data, size_t size, size_t count, void* user) {
  const size_t bytes = size * count;
  const std::string_view line(data, bytes);
  constexpr std::string_view kDate = "date:";
  if (line.size() > kDate.size()) {
    std::string name(line.substr(0, kDate.size()));
    std::transform(name.begin(), name.end(), name.begin(), ::tolower);
    if (name == kDate) {
      std::string value(line.substr(kDate.size()));
      const size_t begin = value.find_first_not_of(" \t");
      const size_t end = value.find_last_not_of(" \t\r\n");
      *static_cast<std::string*>(user) =
          begin == std::string::npos ? "" : value.substr(begin, end - begin + 1);
    }
  }
  return bytes;
}

// The {"error": "..."} message of an operator error reply, else the start of the body.
std::string OperatorMessage(const std::string& body) {
  const nlohmann::json json = nlohmann::json::parse(body, nullptr, false);
  if (json.is_object() && json.contains("error") && json["error"].is_string()) {
    return json["error"].get<std::string>();
  }
  std::string text = body.substr(0, 200);
  std::replace_if(
      text.begin(), text.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
  return text;
}

bool IsTlsConfigurationError(CURLcode code) {
  return code == CURLE_PEER_FAILED_VERIFICATION || code == CURLE_SSL_CACERT_BADFILE ||
         code == CURLE_SSL_CERTPROBLEM || code == CURLE_SSL_ISSUER_ERROR ||
         code == CURLE_SSL_PINNEDPUBKEYNOTMATCH || code == CURLE_SSL_CRL_BADFILE;
}

}  // namespace

const char* ToString(OperatorErrorKind kind) {
  switch (kind) {
    case OperatorErrorKind::kConfiguration:
      return "configuration";
    case OperatorErrorKind::kBadRequest:
      return "bad_request";
    case OperatorErrorKind::kTooLarge:
      return "too_large";
    case OperatorErrorKind::kUnavailable:
      return "unavailable";
    case OperatorErrorKind::kCancelled:
      return "cancelled";
  }
  return "unavailable";
}

OperatorClient::OperatorClient(Options options)
    : options_(std::move(options)),
      base_url_([this] {
        std::string url = options_.operator_url;
        while (!url.empty() && url.back() == '/') url.pop_back();
        return url;
      }()),
      token_(options_.token_file) {}

OperatorClient::~OperatorClient() = default;

std::unique_ptr<OperatorClient::Handle> OperatorClient::AcquireHandle() {
  {
    MutexLock lock(pool_mutex_);
    if (!idle_handles_.empty()) {
      std::unique_ptr<Handle> handle = std::move(idle_handles_.back());
      idle_handles_.pop_back();
      return handle;
    }
  }
  auto handle = std::make_unique<Handle>();
  if (handle->easy() == nullptr) return nullptr;
  return handle;
}

void OperatorClient::ReleaseHandle(std::unique_ptr<Handle> handle) {
  MutexLock lock(pool_mutex_);
  idle_handles_.push_back(std::move(handle));
}

OperatorReply<OperatorClient::HttpReply> OperatorClient::Post(
    const std::string& path, const std::string& body, std::chrono::milliseconds timeout,
    const std::stop_token& stop, size_t max_reply_bytes, const std::string& content_type) {
  OperatorReply<HttpReply> reply;
  const std::string url = base_url_ + path;
  const std::string where = "POST " + RedactUrl(url);
  if (stop.stop_requested()) {
    reply.error = {OperatorErrorKind::kCancelled, 0, where + ": cancelled"};
    return reply;
  }
  Result<std::string> token = token_.Token();
  if (!token.ok()) {
    reply.error = {OperatorErrorKind::kConfiguration, 0,
                   token.error() + " (--token-file must name a file holding the probe token)"};
    return reply;
  }
  std::unique_ptr<Handle> handle = AcquireHandle();
  if (!handle) {
    reply.error = {OperatorErrorKind::kUnavailable, 0, where + ": libcurl could not start"};
    return reply;
  }
  CURL* easy = handle->easy();
  curl_easy_reset(easy);

  HttpReply http;
  BoundedBodySink sink{&http.body, max_reply_bytes};
  char error_text[CURL_ERROR_SIZE] = "";
  curl_slist* header_list = nullptr;
  const std::string authorization = "Authorization: Bearer " + *token;
  for (const std::string& header :
       {"Content-Type: " + content_type, std::string("Accept: application/json"),
        std::string("Expect:"), authorization}) {
    curl_slist* appended = curl_slist_append(header_list, header.c_str());
    if (appended == nullptr) {
      curl_slist_free_all(header_list);
      ReleaseHandle(std::move(handle));
      reply.error = {OperatorErrorKind::kUnavailable, 0, where + ": out of memory"};
      return reply;
    }
    header_list = appended;
  }
  const std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers(header_list,
                                                                            curl_slist_free_all);
  const std::string user_agent = "pharos-probe/" + options_.probe.version;
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_POST, 1L);
  curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(easy, CURLOPT_USERAGENT, user_agent.c_str());
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, BoundedBodySink::Write);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, ReadHeader);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &http.date);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error_text);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
  if (!options_.ca_file.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, options_.ca_file.c_str());
  if (options_.insecure_skip_verify) {
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
  }

  const CancellableTransfer::Outcome outcome = handle->Run(stop);
  CURLcode code = outcome.code;
  const bool cancelled = outcome.cancelled;
  if (!outcome.multi_error.empty()) {
    snprintf(error_text, sizeof(error_text), "%s", outcome.multi_error.c_str());
  }
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &http.status);
  // The handle keeps pointers to this call's buffers; clear them before another call reuses it.
  curl_easy_reset(easy);
  ReleaseHandle(std::move(handle));

  if (cancelled) {
    reply.error = {OperatorErrorKind::kCancelled, 0, where + ": cancelled"};
    return reply;
  }
  if (code != CURLE_OK) {
    std::string detail = error_text[0] != '\0' ? error_text : curl_easy_strerror(code);
    if (sink.overflowed) {
      detail = "the reply is larger than " + std::to_string(max_reply_bytes) + " bytes";
    }
    if (code == CURLE_OPERATION_TIMEDOUT) {
      detail += " (no complete answer within " + std::to_string(timeout.count()) + " ms)";
    }
    if (IsTlsConfigurationError(code)) {
      reply.error = {OperatorErrorKind::kConfiguration, 0,
                     where + ": TLS: " + detail +
                         " (set --ca-file to the CA that signed the operator's certificate)"};
    } else {
      reply.error = {OperatorErrorKind::kUnavailable, 0, where + ": " + detail};
    }
    return reply;
  }
  reply.value = std::move(http);
  return reply;
}

OperatorError OperatorClient::StatusError(const std::string& what, const std::string& path,
                                          const HttpReply& reply) const {
  const int status = static_cast<int>(reply.status);
  const std::string where =
      what + " (POST " + RedactUrl(base_url_ + path) + "): HTTP " + std::to_string(status);
  const std::string said = reply.body.empty() ? "" : ": " + OperatorMessage(reply.body);
  if (status == 401) {
    return {OperatorErrorKind::kConfiguration, status,
            where + said + " — the operator does not accept the probe token; put a token listed " +
                "in the operator's --probe-token-file (a line TOKEN, or " + options_.probe.region +
                "=TOKEN) into " + options_.token_file};
  }
  if (status == 403) {
    return {OperatorErrorKind::kConfiguration, status,
            where + said + " — the token is not valid for region \"" + options_.probe.region +
                "\"; use a token of that region or an any-region token"};
  }
  if (status == 404 || status == 405) {
    return {OperatorErrorKind::kConfiguration, status,
            where + said + " — no probe API at this address; --operator must be the base URL " +
                "of the operator's probe API, e.g. http://pharos-operator.pharos:8080"};
  }
  if (status >= 300 && status < 400) {
    return {OperatorErrorKind::kConfiguration, status,
            where + " — the operator redirects; point --operator at the final address"};
  }
  if (status == 413) return {OperatorErrorKind::kTooLarge, status, where + said};
  if (status == 408 || status == 429 || status >= 500 || status < 200) {
    return {OperatorErrorKind::kUnavailable, status, where + said};
  }
  return {OperatorErrorKind::kBadRequest, status, where + said};
}

OperatorReply<nlohmann::json> OperatorClient::Call(const std::string& what, const std::string& path,
                                                   const std::string& body,
                                                   std::chrono::milliseconds timeout,
                                                   const std::stop_token& stop, HttpReply* raw,
                                                   size_t max_reply_bytes,
                                                   const std::string& content_type) {
  OperatorReply<nlohmann::json> reply;
  OperatorReply<HttpReply> http =
      Post(path, body, timeout, stop,
           max_reply_bytes == 0 ? options_.max_reply_bytes : max_reply_bytes, content_type);
  if (!http.ok()) {
    reply.error = http.error;
    reply.error.message = what + ": " + reply.error.message;
    return reply;
  }
  if (http.value->status < 200 || http.value->status >= 300) {
    reply.error = StatusError(what, path, *http.value);
    return reply;
  }
  nlohmann::json json = nlohmann::json::parse(http.value->body, nullptr, false);
  if (json.is_discarded()) {
    reply.error = {OperatorErrorKind::kUnavailable, static_cast<int>(http.value->status),
                   what + ": the operator's reply is not JSON"};
    return reply;
  }
  if (raw != nullptr) *raw = std::move(*http.value);
  reply.value = std::move(json);
  return reply;
}

OperatorReply<RegisterReply> OperatorClient::Register(size_t capacity,
                                                      const std::stop_token& stop) {
  return Parsed<RegisterReply>(
      Call("register", kRegisterPath, RegisterRequestBody(options_.probe, capacity),
           options_.request_timeout, stop),
      ParseRegisterReply);
}

size_t OperatorClient::LeaseReplyLimit(size_t max_items) const {
  const size_t items = std::min<size_t>(max_items, 1'000'000);
  return std::max<size_t>(
      1, std::min(options_.max_reply_bytes,
                  options_.lease_reply_base_bytes + items * options_.lease_reply_item_bytes));
}

OperatorReply<LeaseReply> OperatorClient::Lease(size_t max_items, int wait_seconds,
                                                const std::stop_token& stop) {
  OperatorReply<LeaseReply> reply;
  HttpReply raw;
  auto json = Call("lease", kLeasePath, LeaseRequestBody(options_.probe, max_items, wait_seconds),
                   std::chrono::seconds(std::max(wait_seconds, 0)) + options_.lease_margin, stop,
                   &raw, LeaseReplyLimit(max_items));
  if (!json.ok()) {
    reply.error = json.error;
    return reply;
  }
  Result<LeaseReply> parsed = ParseLeaseReply(*json.value);
  if (!parsed.ok()) {
    reply.error = {OperatorErrorKind::kUnavailable, 200, parsed.error()};
    return reply;
  }
  if (!raw.date.empty()) {
    const time_t operator_seconds = curl_getdate(raw.date.c_str(), nullptr);
    if (operator_seconds >= 0) {
      const auto operator_now = std::chrono::system_clock::from_time_t(operator_seconds);
      const auto offset = std::chrono::duration_cast<std::chrono::milliseconds>(
          operator_now - std::chrono::system_clock::now());
      // The header has whole seconds: smaller differences are its rounding, not skew.
      if (offset >= std::chrono::seconds(2) || offset <= std::chrono::seconds(-2)) {
        parsed->clock_offset = offset;
      }
    }
  }
  reply.value = std::move(parsed).value();
  return reply;
}

OperatorReply<ResultsReply> OperatorClient::SendResults(const std::vector<std::string>& results,
                                                        const std::stop_token& stop) {
  return Parsed<ResultsReply>(
      Call("results", kResultsPath, ResultsRequestBody(options_.probe, results),
           options_.request_timeout, stop),
      ParseResultsReply);
}

OperatorReply<MonitorSpecsReply> OperatorClient::FetchMonitorSpecs(
    const std::vector<std::string>& uids, const std::stop_token& stop) {
  return Parsed<MonitorSpecsReply>(
      Call("monitors", kMonitorsPath, MonitorSpecsRequestBody(options_.probe, uids),
           options_.request_timeout, stop, nullptr, LeaseReplyLimit(uids.size())),
      ParseMonitorSpecsReply);
}

OperatorReply<std::vector<ScreenshotLeaseItem>> OperatorClient::LeaseScreenshots(
    size_t max, const std::stop_token& stop) {
  constexpr size_t kReplyLimit = size_t{1024} * 1024;
  return Parsed<std::vector<ScreenshotLeaseItem>>(
      Call("screenshot lease", kScreenshotLeasePath,
           ScreenshotLeaseRequestBody(options_.probe, max), options_.request_timeout, stop, nullptr,
           kReplyLimit),
      ParseScreenshotLeaseReply);
}

OperatorReply<std::string> OperatorClient::UploadScreenshot(const std::string& id,
                                                            const std::string& png,
                                                            const std::stop_token& stop) {
  OperatorReply<std::string> reply;
  auto json =
      Call("screenshot upload", kScreenshotUploadPath + ScreenshotUploadQuery(options_.probe, id),
           png, options_.request_timeout, stop, nullptr, 0, "image/png");
  if (!json.ok()) {
    reply.error = json.error;
    return reply;
  }
  reply.value = json.value->is_object() ? json.value->value("url", std::string()) : std::string();
  return reply;
}

OperatorReply<bool> OperatorClient::ReportScreenshotFailure(const std::string& id,
                                                            const std::string& error,
                                                            const std::stop_token& stop) {
  OperatorReply<bool> reply;
  auto json =
      Call("screenshot failure", kScreenshotFailedPath,
           ScreenshotFailedRequestBody(options_.probe, id, error), options_.request_timeout, stop);
  if (!json.ok()) {
    reply.error = json.error;
    return reply;
  }
  reply.value = true;
  return reply;
}

}  // namespace pharos

#include "operator/alerting/curl_notification_transport.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <memory>

namespace pharos {
namespace {

constexpr size_t kKeptBody = 2048;

struct CurlDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct ListDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

struct Exchange {
  std::string body;
  std::string retry_after;
  std::string_view upload;
  size_t uploaded = 0;
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* exchange = static_cast<Exchange*>(user);
  const size_t bytes = size * count;
  if (exchange->body.size() < kKeptBody) {
    exchange->body.append(data, std::min(bytes, kKeptBody - exchange->body.size()));
  }
  return bytes;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* exchange = static_cast<Exchange*>(user);
  const size_t bytes = size * count;
  std::string_view line(data, bytes);
  constexpr std::string_view kName = "retry-after:";
  if (line.size() > kName.size() && strncasecmp(line.data(), kName.data(), kName.size()) == 0) {
    std::string value(line.substr(kName.size()));
    while (!value.empty() &&
           (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
      value.pop_back();
    }
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    exchange->retry_after = value;
  }
  return bytes;
}

size_t OnRead(char* buffer, size_t size, size_t count, void* user) {
  auto* exchange = static_cast<Exchange*>(user);
  const size_t room = size * count;
  const size_t left = exchange->upload.size() - exchange->uploaded;
  const size_t n = std::min(room, left);
  std::memcpy(buffer, exchange->upload.data() + exchange->uploaded, n);
  exchange->uploaded += n;
  return n;
}

// Retry-After: delta-seconds or an HTTP date.
std::chrono::seconds ParseRetryAfter(const std::string& value) {
  if (value.empty()) return std::chrono::seconds(0);
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (value.size() > 9) return std::chrono::seconds(86400);
    return std::chrono::seconds(std::stoll(value));
  }
  std::tm tm{};
  if (strptime(value.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm) != nullptr) {
    const std::time_t at = timegm(&tm);
    const std::time_t now = std::time(nullptr);
    return std::chrono::seconds(at > now ? at - now : 0);
  }
  return std::chrono::seconds(0);
}

void CommonOptions(CURL* curl, const OutgoingMessage& message, char* error_buffer) {
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(message.timeout.count()));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::min<int64_t>(message.timeout.count(), 10'000)));
  if (!message.ca_file.empty()) {
    curl_easy_setopt(curl, CURLOPT_CAINFO, message.ca_file.c_str());
  }
  if (message.insecure_skip_verify) {
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
  }
}

TransportResult SendHttp(const HttpMessage& http, const OutgoingMessage& message) {
  TransportResult result;
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) {
    result.error = "cannot create a curl handle";
    return result;
  }
  char error_buffer[CURL_ERROR_SIZE] = {};
  Exchange exchange;
  CommonOptions(curl.get(), message, error_buffer);
  curl_easy_setopt(curl.get(), CURLOPT_URL, http.url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl.get(), CURLOPT_CUSTOMREQUEST, http.method.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, http.body.data());
  curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDSIZE_LARGE,
                   static_cast<curl_off_t>(http.body.size()));
  curl_easy_setopt(curl.get(), CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &exchange);
  curl_easy_setopt(curl.get(), CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(curl.get(), CURLOPT_HEADERDATA, &exchange);
  std::unique_ptr<curl_slist, ListDeleter> headers;
  curl_slist* list = nullptr;
  for (const auto& [name, value] : http.headers) {
    std::string line = name;
    line += ": ";
    line += value;
    list = curl_slist_append(list, line.c_str());
  }
  list = curl_slist_append(list, "Expect:");  // no 100-continue round trip
  headers.reset(list);
  curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers.get());
  const CURLcode code = curl_easy_perform(curl.get());
  long status = 0;
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
  result.status = static_cast<int>(status);
  result.body = std::move(exchange.body);
  result.retry_after = ParseRetryAfter(exchange.retry_after);
  if (code != CURLE_OK) {
    result.error = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
    result.status = 0;
  }
  return result;
}

TransportResult SendMail(const MailMessage& mail, const OutgoingMessage& message) {
  TransportResult result;
  result.smtp = true;
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) {
    result.error = "cannot create a curl handle";
    return result;
  }
  char error_buffer[CURL_ERROR_SIZE] = {};
  Exchange exchange;
  exchange.upload = mail.data;
  CommonOptions(curl.get(), message, error_buffer);
  curl_easy_setopt(curl.get(), CURLOPT_URL, mail.url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  if (mail.require_tls) curl_easy_setopt(curl.get(), CURLOPT_USE_SSL, CURLUSESSL_ALL);
  if (!mail.username.empty()) {
    curl_easy_setopt(curl.get(), CURLOPT_USERNAME, mail.username.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_PASSWORD, mail.password.c_str());
  }
  const std::string from = "<" + mail.from + ">";
  curl_easy_setopt(curl.get(), CURLOPT_MAIL_FROM, from.c_str());
  std::unique_ptr<curl_slist, ListDeleter> recipients;
  curl_slist* list = nullptr;
  for (const std::string& to : mail.to) list = curl_slist_append(list, ("<" + to + ">").c_str());
  recipients.reset(list);
  curl_easy_setopt(curl.get(), CURLOPT_MAIL_RCPT, recipients.get());
  curl_easy_setopt(curl.get(), CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_READFUNCTION, OnRead);
  curl_easy_setopt(curl.get(), CURLOPT_READDATA, &exchange);
  curl_easy_setopt(curl.get(), CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(mail.data.size()));
  const CURLcode code = curl_easy_perform(curl.get());
  long reply = 0;
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &reply);
  result.status = static_cast<int>(reply);
  if (code != CURLE_OK) {
    result.error = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
    // Refused credentials, a server that will not do TLS when it is required, or a 5xx reply
    // (the mailbox does not exist, the message is refused): the same answer every time.
    result.permanent_error =
        code == CURLE_LOGIN_DENIED || code == CURLE_USE_SSL_FAILED || (reply >= 500 && reply < 600);
    if (reply < 400) result.status = 0;
  } else {
    result.status = 250;
  }
  return result;
}

}  // namespace

TransportResult CurlNotificationTransport::Send(const OutgoingMessage& message) {
  if (const auto* http = std::get_if<HttpMessage>(&message.content)) {
    return SendHttp(*http, message);
  }
  return SendMail(std::get<MailMessage>(message.content), message);
}

}  // namespace pharos

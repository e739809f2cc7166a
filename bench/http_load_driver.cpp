#include "bench/http_load_driver.h"

#include <curl/curl.h>

#include <chrono>
#include <memory>
#include <vector>

namespace pharos::bench {
namespace {

struct EasyDeleter {
  void operator()(CURL* easy) const { curl_easy_cleanup(easy); }
};

struct MultiDeleter {
  void operator()(CURLM* multi) const { curl_multi_cleanup(multi); }
};

// One request slot: its easy handle (keeping its connection) and the body of the current
// response.
struct Slot {
  std::unique_ptr<CURL, EasyDeleter> easy;
  std::string body;
};

size_t AppendBody(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

}  // namespace

Result<HttpLoadDriver::Report> HttpLoadDriver::Run() {
  if (options_.url.empty() || options_.requests == 0 || options_.concurrency == 0) {
    return Error{"load driver: url, requests and concurrency must be given"};
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const size_t slots_used = std::min(options_.concurrency, options_.requests);
  std::vector<Slot> slots(slots_used);
  for (auto& slot : slots) {
    slot.easy.reset(curl_easy_init());
    if (!slot.easy) {
      return Error{"load driver: curl_easy_init failed"};
    }
    CURL* easy = slot.easy.get();
    curl_easy_setopt(easy, CURLOPT_URL, options_.url.c_str());
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &AppendBody);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &slot.body);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, &slot);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, options_.timeout_ms);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
  }

  // Declared after the slots so it is cleaned up first (libcurl wants the multi gone or empty
  // before its easy handles go).
  std::unique_ptr<CURLM, MultiDeleter> multi(curl_multi_init());
  if (!multi) {
    return Error{"load driver: curl_multi_init failed"};
  }
  curl_multi_setopt(multi.get(), CURLMOPT_MAXCONNECTS, static_cast<long>(options_.concurrency));

  Report report;
  size_t started = 0;
  const auto begin = std::chrono::steady_clock::now();
  for (auto& slot : slots) {
    curl_multi_add_handle(multi.get(), slot.easy.get());
    ++started;
  }
  int running = 0;
  while (report.completed + report.transport_errors < options_.requests) {
    if (curl_multi_perform(multi.get(), &running) != CURLM_OK) {
      return Error{"load driver: curl_multi_perform failed"};
    }
    int queued = 0;
    while (CURLMsg* message = curl_multi_info_read(multi.get(), &queued)) {
      if (message->msg != CURLMSG_DONE) {
        continue;
      }
      CURL* easy = message->easy_handle;
      const CURLcode code = message->data.result;
      Slot* slot = nullptr;
      curl_easy_getinfo(easy, CURLINFO_PRIVATE, &slot);
      curl_multi_remove_handle(multi.get(), easy);
      if (code != CURLE_OK) {
        ++report.transport_errors;
        if (report.first_failure.empty()) {
          report.first_failure = curl_easy_strerror(code);
        }
      } else {
        ++report.completed;
        long status = 0;
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
        const bool marked = options_.success_marker.empty() ||
                            slot->body.find(options_.success_marker) != std::string::npos;
        if (status == 200 && marked) {
          ++report.succeeded;
        } else {
          ++report.failed;
          if (report.first_failure.empty()) {
            report.first_failure =
                "HTTP " + std::to_string(status) + ": " + slot->body.substr(0, 300);
          }
        }
      }
      slot->body.clear();
      if (started < options_.requests) {
        curl_multi_add_handle(multi.get(), easy);
        ++started;
      }
    }
    if (report.completed + report.transport_errors >= options_.requests) {
      break;
    }
    curl_multi_poll(multi.get(), nullptr, 0, 1000, nullptr);
  }
  report.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  return report;
}

}  // namespace pharos::bench

#include "common/cancellable_transfer.h"

namespace pharos {

CancellableTransfer::CancellableTransfer() : multi_(curl_multi_init()), easy_(curl_easy_init()) {}

CancellableTransfer::~CancellableTransfer() {
  if (easy_ != nullptr) {
    curl_easy_cleanup(easy_);
  }
  if (multi_ != nullptr) {
    curl_multi_cleanup(multi_);
  }
}

CancellableTransfer::Outcome CancellableTransfer::Run(const std::stop_token& stop) {
  Outcome outcome;
  if (multi_ == nullptr || easy_ == nullptr) {
    outcome.code = CURLE_FAILED_INIT;
    outcome.multi_error = "libcurl could not create a handle (out of memory?)";
    return outcome;
  }
  curl_multi_add_handle(multi_, easy_);
  {
    CURLM* multi = multi_;
    std::stop_callback wake(stop, [multi] { curl_multi_wakeup(multi); });
    while (true) {
      if (stop.stop_requested()) {
        outcome.cancelled = true;
        break;
      }
      int running = 0;
      const CURLMcode multi_code = curl_multi_perform(multi_, &running);
      if (multi_code != CURLM_OK) {
        outcome.code = CURLE_FAILED_INIT;
        outcome.multi_error = curl_multi_strerror(multi_code);
        break;
      }
      bool finished = false;
      int queued = 0;
      while (CURLMsg* message = curl_multi_info_read(multi_, &queued)) {
        if (message->msg == CURLMSG_DONE && message->easy_handle == easy_) {
          outcome.code = message->data.result;
          finished = true;
        }
      }
      if (finished) {
        break;
      }
      curl_multi_poll(multi_, nullptr, 0, 1000, nullptr);
    }
  }
  curl_multi_remove_handle(multi_, easy_);
  return outcome;
}

}  // namespace pharos

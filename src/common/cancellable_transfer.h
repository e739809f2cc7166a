#pragma once

// CancellableTransfer: one libcurl easy handle inside its own multi handle, so that a blocking
// transfer can be cut short from another thread. The multi handle keeps the keep-alive connection
// cache, so reusing a CancellableTransfer reuses its connection. Run() drives the transfer until
// it completes or `stop` is requested; a stop request wakes the poll at once
// (curl_multi_wakeup), it does not wait for the next timeout. Used by every outbound client that
// must stop promptly: the Kubernetes client, the probe's operator client, notification senders.
// Thread-safety: one transfer at a time per object; `stop` may be requested from any thread.

#include <curl/curl.h>

#include <stop_token>
#include <string>

namespace pharos {

class CancellableTransfer {
 public:
  struct Outcome {
    CURLcode code = CURLE_OK;  // the transfer's result when it finished
    bool cancelled = false;    // `stop` was requested first
    std::string multi_error;   // the multi interface failed (code is then CURLE_FAILED_INIT)
  };

  CancellableTransfer();
  ~CancellableTransfer();
  CancellableTransfer(const CancellableTransfer&) = delete;
  CancellableTransfer& operator=(const CancellableTransfer&) = delete;

  // The easy handle to configure before Run (options persist between transfers unless reset).
  CURL* easy() const { return easy_; }
  // Performs the configured transfer.
  Outcome Run(const std::stop_token& stop);

 private:
  CURLM* multi_;
  CURL* easy_;
};

}  // namespace pharos

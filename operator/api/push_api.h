#pragma once

// PushApi: the ping URLs of push monitors (docs/api.md#push), on both editions' HTTP server:
//   GET|POST /api/v1/push/{token}         success: the job ran (ends a run begun by /start)
//   GET|POST /api/v1/push/{token}/start   a run begins (its length becomes the result's latency)
//   GET|POST /api/v1/push/{token}/fail    the job failed
// No other authentication: the token is the secret. An unknown token is 404 with a body that
// says nothing about which monitors exist, and counts as a wrong token for the client's address
// (BadTokenGuard, api "push": beyond its allowance the address is answered 429); a replica that is
// not the leader answers 503 (the job retries); 200 once the ping's result is stored, with what it
// was judged. The request body is ignored. Tokens are never logged. Handle can be called directly
// (tests) with a Reply. Thread-safety: handlers may run concurrently on any thread.

#include <functional>

#include "common/bad_token_guard.h"
#include "common/http_server.h"
#include "common/result.h"
#include "operator/api/push_tokens.h"
#include "operator/control/push_receiver.h"

namespace pharos {

class PushApi {
 public:
  // Called once, possibly on another thread (the store's writer) after Handle returned.
  using Reply = std::function<void(HttpResponse)>;

  // All must outlive the API.
  PushApi(const PushTokens& tokens, PushReceiver& receiver, BadTokenGuard& bad_tokens)
      : tokens_(tokens), receiver_(receiver), bad_tokens_(bad_tokens) {}

  // Adds the routes above (GET and POST each).
  Status Register(HttpServer& server);

  void Handle(const HttpRequest& request, PushPing ping, Reply reply);

 private:
  const PushTokens& tokens_;
  PushReceiver& receiver_;
  BadTokenGuard& bad_tokens_;
};

}  // namespace pharos

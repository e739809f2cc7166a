#include "operator/alerting/alerting_flags.h"

#include <algorithm>
#include <utility>

namespace pharos {

void AddAlertingFlags(CommandLine& flags) {
  flags.AddFlag("notification-backoff", '\0', "DURATION",
                "first wait before a failed notification is retried (doubling each time)", "2s");
  flags.AddFlag("notification-backoff-max", '\0', "DURATION",
                "longest wait between retries of a notification", "5m");
  flags.AddFlag("notification-give-up", '\0', "DURATION",
                "a notification still not delivered this long after it was decided is recorded "
                "failed",
                "24h");
  flags.AddFlag("alerting-interval", '\0', "DURATION",
                "how often reminders are decided and missed notifications caught up", "10s");
  flags.AddFlag("public-url", '\0', "URL",
                "the address people reach this server at (e.g. https://status.example.com); links "
                "in notifications (screenshots) start with it",
                "");
}

Result<AlertingTimings> AlertingTimingsFromFlags(const CommandLine& flags, AlertingTimings base) {
  Result<Millis> backoff = flags.GetDuration("notification-backoff", Millis(10));
  Result<Millis> backoff_max = flags.GetDuration("notification-backoff-max", Millis(10));
  Result<Millis> give_up = flags.GetDuration("notification-give-up", Millis(1'000));
  Result<Millis> interval = flags.GetDuration("alerting-interval", Millis(100));
  for (const Result<Millis>* parsed : {&backoff, &backoff_max, &give_up, &interval}) {
    if (!*parsed) {
      return Error{parsed->error()};
    }
  }
  base.delivery.initial_backoff = *backoff;
  base.delivery.max_backoff = std::max(*backoff_max, *backoff);
  base.delivery.give_up_after = *give_up;
  base.engine.housekeeping_interval = *interval;
  std::string public_url = flags.Get("public-url");
  if (!public_url.empty()) {
    if (public_url.rfind("http://", 0) != 0 && public_url.rfind("https://", 0) != 0) {
      return Error{
          "--public-url: \"" + public_url.substr(0, 200) + "\" is not an http:// or https:// URL",
          ErrorKind::kInvalidArgument};
    }
    while (!public_url.empty() && public_url.back() == '/') public_url.pop_back();
  }
  base.engine.public_url = std::move(public_url);
  return base;
}

}  // namespace pharos

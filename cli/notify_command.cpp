#include "cli/notify_command.h"

#include <ostream>

#include "common/clock.h"
#include "common/command_line.h"
#include "common/monitor_loader.h"
#include "common/version.h"
#include "operator/alerting/alerting_documents.h"
#include "operator/alerting/curl_notification_transport.h"
#include "operator/alerting/delivery_dispatcher.h"
#include "operator/alerting/memory_outbox.h"
#include "operator/alerting/secret_resolver.h"

namespace pharos {
namespace {

constexpr int kExitDelivered = 0;
constexpr int kExitNotDelivered = 1;
constexpr int kExitBadInput = 2;

constexpr const char* kHelp =
    "Usage: pharos notify test [FLAGS] PATH... --channel NAME\n\n"
    "Sends a `test` notification to the AlertChannel NAME (or NAMESPACE/NAME) defined in PATH\n"
    "(YAML or JSON files, directories recursively), once, and prints the receiver's answer.\n"
    "Secrets are read from their valueFrom (env or file) as `pharos run` would. Exit 0 when\n"
    "delivered, 1 when not, 2 for invalid files or an unknown channel.\n\n"
    "Flags:\n";

}  // namespace

int NotifyCommand::Run(const std::vector<std::string>& args) {
  CommandLine flags;
  flags.AddFlag("channel", '\0', "NAME", "the AlertChannel: NAME or NAMESPACE/NAME");
  flags.AddFlag("text", '\0', "TEXT", "the message's text (default: a standard test text)");
  flags.AddSwitch("help", 'h', "show this help");
  std::vector<std::string> rest = args;
  if (!rest.empty() && rest.front() == "test") {
    rest.erase(rest.begin());
  } else if (rest.empty() || (rest.front() != "--help" && rest.front() != "-h")) {
    err_ << "pharos notify: the only subcommand is `test` (pharos notify test PATH... --channel "
            "NAME)\n";
    return kExitBadInput;
  }
  if (Status parsed = flags.Parse(rest); !parsed) {
    err_ << "pharos notify test: " << parsed.error() << "\n";
    return kExitBadInput;
  }
  if (flags.IsSet("help")) {
    out_ << kHelp << flags.FlagsHelp();
    return kExitDelivered;
  }
  if (flags.positional().empty() || !flags.IsSet("channel")) {
    err_ << "pharos notify test: give the files and --channel NAME (see --help)\n";
    return kExitBadInput;
  }
  LoadedMonitors loaded = LoadMonitorFiles(flags.positional(), kAlertingKinds);
  AlertingDocuments alerting = AlertingDocuments::Parse(loaded.others);
  for (ValidationError& error : alerting.errors) loaded.errors.push_back(std::move(error));
  if (!loaded.errors.empty()) {
    for (const ValidationError& error : loaded.errors) err_ << error.ToString() << "\n";
    err_ << "pharos notify test: invalid files; nothing was sent\n";
    return kExitBadInput;
  }
  const std::string wanted = flags.Get("channel");
  std::vector<const AlertChannel*> matches;
  for (const AlertChannel& channel : alerting.channels) {
    if (channel.Key() == wanted || channel.meta.name == wanted) matches.push_back(&channel);
  }
  if (matches.size() != 1) {
    err_ << "pharos notify test: "
         << (matches.empty() ? "no AlertChannel \"" + wanted + "\" in the files"
                             : "\"" + wanted +
                                   "\" names AlertChannels in several namespaces: "
                                   "write NAMESPACE/NAME")
         << "\n";
    return kExitBadInput;
  }
  const AlertChannel channel = *matches.front();

  SystemClock clock;
  MemoryOutbox outbox;
  CurlNotificationTransport transport;
  LocalSecretResolver secrets;
  DeliveryDispatcher::Options options;
  options.user_agent = std::string("pharos/") + kVersion;
  auto shared = std::make_shared<const AlertChannel>(channel);
  DeliveryDispatcher dispatcher(
      outbox, transport, secrets,
      [&](const std::string& key) { return key == channel.Key() ? shared : nullptr; }, clock,
      options);
  Notification n;
  n.event = NotificationEvent::kTest;
  n.monitor_uid = "test:" + channel.Key();
  n.monitor_namespace = channel.meta.namespace_name;
  n.monitor_name = "pharos-test";
  n.monitor_type = "test";
  n.state = "Up";
  n.reason = flags.Get("text");
  n.occurred_at = clock.Now();
  const Delivery delivery = Delivery::Of(n, channel.Key(), clock.Now());
  (void)outbox.Add({delivery});
  (void)dispatcher.DeliverDue(channel.Key(), clock.Now());
  const std::optional<Delivery> done = outbox.Get(delivery.id);
  if (done && done->state == DeliveryState::kDelivered) {
    out_ << "delivered a test notification to " << ToString(channel.type) << " channel "
         << channel.Key() << " (delivery " << delivery.id << ")\n";
    return kExitDelivered;
  }
  err_ << "pharos notify test: " << ToString(channel.type) << " channel " << channel.Key()
       << " did not take the test notification: "
       << (done ? done->last_error : std::string("unknown error")) << "\n";
  return kExitNotDelivered;
}

}  // namespace pharos

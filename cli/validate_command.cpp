#include "cli/validate_command.h"

#include <ostream>

#include "common/command_line.h"
#include "common/monitor_loader.h"
#include "common/target_policy_flags.h"
#include "common/target_policy_warnings.h"
#include "operator/alerting/alerting_documents.h"

namespace pharos {

int ValidateCommand::Run(const std::vector<std::string>& args) {
  CommandLine flags;
  AddTargetPolicyFlags(flags, /*runs_checks=*/false);
  flags.AddSwitch("help", 'h', "show this help");
  if (Status parsed = flags.Parse(args); !parsed.ok()) {
    err_ << "pharos validate: " << parsed.error() << "\n";
    return 2;
  }
  if (flags.IsSet("help")) {
    out_
        << "Usage: pharos validate PATH...\n\n"
           "Validates Monitor files (YAML or JSON, directories recursively) with the same rules\n"
           "the operator applies — and the AlertChannel and MaintenanceWindow documents in them —\n"
           "and prints every error as file:line:col: field: message. A Monitor naming an\n"
           "AlertChannel the files do not define is a warning, and so is a target that is an IP\n"
           "address the probes' target policy blocks (--deny-cidr/--allow-cidr as on the probe).\n"
           "Exit 0 when all are valid (warnings\n"
           "allowed), 2 otherwise.\n\nFlags:\n"
        << flags.FlagsHelp();
    return 0;
  }
  if (flags.positional().empty()) {
    err_ << "pharos validate: no PATH given (see --help)\n";
    return 2;
  }
  Result<TargetPolicy> policy = TargetPolicyFromFlags(flags);
  if (!policy.ok()) {
    err_ << "pharos validate: " << policy.error() << "\n";
    return 2;
  }
  LoadedMonitors loaded = LoadMonitorFiles(flags.positional(), kAlertingKinds);
  AlertingDocuments alerting = AlertingDocuments::Parse(loaded.others);
  for (ValidationError& error : alerting.errors) loaded.errors.push_back(std::move(error));
  for (const ValidationError& error : loaded.errors) {
    err_ << error.ToString() << "\n";
  }
  for (const ValidationError& warning :
       MissingChannelWarnings(loaded.monitors, alerting.channels)) {
    err_ << "warning: " << warning.ToString() << "\n";
  }
  for (const ValidationError& warning : BlockedTargetWarnings(loaded.monitors, *policy)) {
    err_ << "warning: " << warning.ToString() << "\n";
  }
  if (!loaded.errors.empty()) {
    err_ << loaded.errors.size() << (loaded.errors.size() == 1 ? " error" : " errors") << " in "
         << loaded.files << (loaded.files == 1 ? " file" : " files") << "\n";
    return 2;
  }
  out_ << loaded.monitors.size() << (loaded.monitors.size() == 1 ? " monitor" : " monitors");
  if (!alerting.channels.empty()) {
    out_ << ", " << alerting.channels.size()
         << (alerting.channels.size() == 1 ? " alert channel" : " alert channels");
  }
  if (!alerting.windows.empty()) {
    out_ << ", " << alerting.windows.size()
         << (alerting.windows.size() == 1 ? " maintenance window" : " maintenance windows");
  }
  out_ << " in " << loaded.files << (loaded.files == 1 ? " file" : " files") << ": valid\n";
  return 0;
}

}  // namespace pharos

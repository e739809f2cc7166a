#include "common/target_policy_flags.h"

namespace pharos {

void AddTargetPolicyFlags(CommandLine& flags, bool runs_checks) {
  flags.AddFlag("deny-cidr", '\0', "CIDR",
                "never connect to these addresses (repeatable; wins over --allow-cidr)");
  flags.AddFlag("allow-cidr", '\0', "CIDR",
                "connect to these even if the default policy blocks them (repeatable)",
                "none; link-local and cloud metadata are blocked");
  if (!runs_checks) return;
  flags.AddSwitch("redact-bodies", '\0',
                  "failed header/body/jsonPath assertions name the assertion only, never the "
                  "response's content");
}

Result<TargetPolicy> TargetPolicyFromFlags(const CommandLine& flags) {
  return TargetPolicy::Create(flags.GetAll("deny-cidr"), flags.GetAll("allow-cidr"));
}

}  // namespace pharos

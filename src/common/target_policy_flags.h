#pragma once

// TargetPolicyFlags: the --deny-cidr / --allow-cidr flags shared by `pharos-probe`, `pharos run`
// and `pharos check`, so they mean the same everywhere (docs/security.md, "Target policy"). Both
// are repeatable and take comma-separated lists.
// Thread-safety: free functions; used once at start-up.

#include "common/command_line.h"
#include "common/result.h"
#include "common/target_policy.h"

namespace pharos {

// With `runs_checks`, also --redact-bodies (what a probe reports about responses).
void AddTargetPolicyFlags(CommandLine& flags, bool runs_checks = true);

// The defaults plus the flags' entries; the error names the flag and the bad entry.
Result<TargetPolicy> TargetPolicyFromFlags(const CommandLine& flags);

}  // namespace pharos

#pragma once

// EngineFlags: the command-line flags of the check engine that `pharos check`, `pharos run` and
// `pharos-probe` share (docs/probe.md, "Flags"): --resolver (DNS servers for the targets' host
// names, also $PHAROS_RESOLVER), --icmp-socket (auto, datagram or raw), and the target policy's
// --deny-cidr / --allow-cidr with --redact-bodies (common/target_policy_flags.h).
// Thread-safety: pure functions, used once at start-up.

#include "common/command_line.h"
#include "common/result.h"
#include "probe/check_engine.h"

namespace pharos {

struct EngineFlags {
  static void Add(CommandLine& flags);
  // Reads them into `options`; the error names the flag and what is wrong.
  static Status Read(const CommandLine& flags, CheckEngine::Options* options);
};

}  // namespace pharos

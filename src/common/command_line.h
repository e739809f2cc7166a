#pragma once

// CommandLine: the flag parser shared by `pharos`, `pharos-probe` and `pharos-operator`.
// Accepts `--name value`, `--name=value`, `-x value`, boolean `--name`, and positional arguments;
// `--` ends flags; a flag given twice keeps its last value for Get and all of them for
// GetAll. Unknown flags and missing values are errors that name the flag.
// Thread-safety: not thread-safe; used once at start-up.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/duration.h"
#include "common/result.h"

namespace pharos {

class CommandLine {
 public:
  // A flag taking a value. `short_name` may be '\0'. `default_value` is shown in --help.
  void AddFlag(const std::string& name, char short_name, const std::string& value_name,
               const std::string& help, const std::string& default_value = "");
  // A flag without value (present = true).
  void AddSwitch(const std::string& name, char short_name, const std::string& help);

  Status Parse(const std::vector<std::string>& args);

  // The value given, else the default.
  std::string Get(const std::string& name) const;
  bool IsSet(const std::string& name) const;
  // Every value of a repeatable flag, in order; each value may also hold several, comma-separated.
  std::vector<std::string> GetAll(const std::string& name) const;
  // The value as a whole number in [min, max]; the error names the flag, the range and the text.
  Result<int64_t> GetInteger(const std::string& name, int64_t min, int64_t max) const;
  // The value as a finite number in [min, max] (a qps, a ratio).
  Result<double> GetNumber(const std::string& name, double min, double max) const;
  // The value as a duration ("30s", "1h30m") of at least `min`.
  Result<Millis> GetDuration(const std::string& name, Millis min) const;
  const std::vector<std::string>& positional() const { return positional_; }

  // The flag table for --help.
  std::string FlagsHelp() const;

 private:
  struct Flag {
    std::string name;
    char short_name = '\0';
    std::string value_name;  // empty for switches
    std::string help;
    std::string default_value;
  };
  const Flag* Find(const std::string& name) const;
  const Flag* FindShort(char short_name) const;

  std::vector<Flag> flags_;
  std::map<std::string, std::string> values_;  // the last value of each flag
  std::map<std::string, std::vector<std::string>> all_values_;
  std::vector<std::string> positional_;
};

}  // namespace pharos

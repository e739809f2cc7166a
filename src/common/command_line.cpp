#include "common/command_line.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <sstream>

namespace pharos {

void CommandLine::AddFlag(const std::string& name, char short_name, const std::string& value_name,
                          const std::string& help, const std::string& default_value) {
  flags_.push_back(
      {name, short_name, value_name.empty() ? "VALUE" : value_name, help, default_value});
}

void CommandLine::AddSwitch(const std::string& name, char short_name, const std::string& help) {
  flags_.push_back({name, short_name, "", help, ""});
}

const CommandLine::Flag* CommandLine::Find(const std::string& name) const {
  auto it = std::find_if(flags_.begin(), flags_.end(),
                         [&](const Flag& flag) { return flag.name == name; });
  return it == flags_.end() ? nullptr : &*it;
}

const CommandLine::Flag* CommandLine::FindShort(char short_name) const {
  auto it = std::find_if(flags_.begin(), flags_.end(),
                         [&](const Flag& flag) { return flag.short_name == short_name; });
  return it == flags_.end() ? nullptr : &*it;
}

Status CommandLine::Parse(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      positional_.insert(positional_.end(), args.begin() + static_cast<long>(i) + 1, args.end());
      break;
    }
    const Flag* flag = nullptr;
    std::optional<std::string> inline_value;
    std::string spelled = arg;
    if (arg.size() > 2 && arg.compare(0, 2, "--") == 0) {
      std::string name = arg.substr(2);
      if (auto eq = name.find('='); eq != std::string::npos) {
        inline_value = name.substr(eq + 1);
        name.resize(eq);
      }
      flag = Find(name);
      spelled = "--" + name;
    } else if (arg.size() == 2 && arg[0] == '-' && arg[1] != '-') {
      flag = FindShort(arg[1]);
    } else {
      positional_.push_back(arg);
      continue;
    }
    if (flag == nullptr) {
      return Error{"unknown flag " + spelled + " (see --help)"};
    }
    if (flag->value_name.empty()) {
      if (inline_value) {
        return Error{"flag " + spelled + " takes no value"};
      }
      values_[flag->name] = "true";
      continue;
    }
    if (inline_value) {
      values_[flag->name] = *inline_value;
    } else if (i + 1 < args.size()) {
      values_[flag->name] = args[++i];
    } else {
      return Error{"flag " + spelled + " needs a value (" + flag->value_name + ")"};
    }
    all_values_[flag->name].push_back(values_[flag->name]);
  }
  return OkStatus();
}

std::string CommandLine::Get(const std::string& name) const {
  if (auto it = values_.find(name); it != values_.end()) {
    return it->second;
  }
  const Flag* flag = Find(name);
  return flag == nullptr ? "" : flag->default_value;
}

bool CommandLine::IsSet(const std::string& name) const { return values_.count(name) != 0; }

std::vector<std::string> CommandLine::GetAll(const std::string& name) const {
  std::vector<std::string> all;
  auto it = all_values_.find(name);
  if (it == all_values_.end()) return all;
  for (const std::string& value : it->second) {
    size_t start = 0;
    while (start <= value.size()) {
      const size_t comma = std::min(value.find(',', start), value.size());
      if (comma > start) all.push_back(value.substr(start, comma - start));
      start = comma + 1;
    }
  }
  return all;
}

std::string CommandLine::FlagsHelp() const {
  std::ostringstream out;
  for (const Flag& flag : flags_) {
    std::string left = "  ";
    left += flag.short_name != '\0' ? std::string("-") + flag.short_name + ", " : "    ";
    left += "--" + flag.name;
    if (!flag.value_name.empty()) {
      left += " " + flag.value_name;
    }
    out << left;
    out << std::string(left.size() < 34 ? 34 - left.size() : 1, ' ') << flag.help;
    if (!flag.default_value.empty()) {
      out << " (default " << flag.default_value << ")";
    }
    out << "\n";
  }
  return out.str();
}

Result<int64_t> CommandLine::GetInteger(const std::string& name, int64_t min, int64_t max) const {
  const std::string text = Get(name);
  int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || value < min ||
      value > max) {
    return Error{"--" + name + ": expected a whole number from " + std::to_string(min) + " to " +
                     std::to_string(max) + ", got \"" + text.substr(0, 64) + "\"",
                 ErrorKind::kInvalidArgument};
  }
  return value;
}

Result<double> CommandLine::GetNumber(const std::string& name, double min, double max) const {
  const std::string text = Get(name);
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() ||
      !std::isfinite(value) || value < min || value > max) {
    std::ostringstream range;
    range << min << " to " << max;
    return Error{"--" + name + ": expected a number from " + range.str() + ", got \"" +
                     text.substr(0, 64) + "\"",
                 ErrorKind::kInvalidArgument};
  }
  return value;
}

Result<Millis> CommandLine::GetDuration(const std::string& name, Millis min) const {
  Result<Millis> parsed = ParseDuration(Get(name));
  if (!parsed) {
    return Error{"--" + name + ": " + parsed.error(), ErrorKind::kInvalidArgument};
  }
  if (*parsed < min) {
    return Error{"--" + name + " must be at least " + FormatDuration(min),
                 ErrorKind::kInvalidArgument};
  }
  return *parsed;
}

}  // namespace pharos

#include "common/name_syntax.h"

#include <arpa/inet.h>

#include <cstring>

namespace pharos {
namespace {

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return IsLowerAlnum(c) || (c >= 'A' && c <= 'Z'); }

bool IsDomainLabel(std::string_view label) {
  if (label.empty() || label.size() > 63) {
    return false;
  }
  if (label.front() == '-' || label.back() == '-') {
    return false;
  }
  for (const char c : label) {
    if (!IsAlnum(c) && c != '-' && c != '_') {
      return false;
    }
  }
  return true;
}

}  // namespace

bool IsDns1123Label(std::string_view text) {
  if (text.empty() || text.size() > 63) {
    return false;
  }
  if (!IsLowerAlnum(text.front()) || !IsLowerAlnum(text.back())) {
    return false;
  }
  for (const char c : text) {
    if (!IsLowerAlnum(c) && c != '-') {
      return false;
    }
  }
  return true;
}

bool IsDns1123Subdomain(std::string_view text) {
  if (text.empty() || text.size() > 253) {
    return false;
  }
  size_t start = 0;
  while (true) {
    const size_t dot = text.find('.', start);
    const std::string_view label =
        text.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    // Labels here may be longer than 63; Kubernetes only bounds the whole name.
    if (label.empty() || !IsLowerAlnum(label.front()) || !IsLowerAlnum(label.back())) {
      return false;
    }
    for (const char c : label) {
      if (!IsLowerAlnum(c) && c != '-') {
        return false;
      }
    }
    if (dot == std::string_view::npos) {
      return true;
    }
    start = dot + 1;
  }
}

bool IsDomainName(std::string_view text) {
  if (!text.empty() && text.back() == '.') {
    text.remove_suffix(1);
  }
  if (text.empty() || text.size() > 253) {
    return false;
  }
  size_t start = 0;
  while (true) {
    const size_t dot = text.find('.', start);
    const std::string_view label =
        text.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (!IsDomainLabel(label)) {
      return false;
    }
    if (dot == std::string_view::npos) {
      return true;
    }
    start = dot + 1;
  }
}

bool IsHttpToken(std::string_view text) {
  if (text.empty()) {
    return false;
  }
  for (const char c : text) {
    if (!IsAlnum(c) && std::strchr("!#$%&'*+-.^_`|~", c) == nullptr) {
      return false;
    }
  }
  return true;
}

bool IsIpAddress(std::string_view text) {
  if (text.size() > 45) {
    return false;
  }
  const std::string copy(text);
  unsigned char buffer[16];
  return inet_pton(AF_INET, copy.c_str(), buffer) == 1 ||
         inet_pton(AF_INET6, copy.c_str(), buffer) == 1;
}

Result<HostPort> ParseHostPort(std::string_view text) {
  if (text.empty()) {
    return Error{"empty; expected host or host:port"};
  }
  HostPort out;
  std::string_view rest;
  if (text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return Error{"missing ']' after the IPv6 address"};
    }
    out.host = std::string(text.substr(1, close - 1));
    if (out.host.find(':') == std::string::npos || !IsIpAddress(out.host)) {
      return Error{"\"" + out.host + "\" is not an IPv6 address"};
    }
    rest = text.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') {
      return Error{"expected ':port' after ']'"};
    }
  } else {
    const size_t colon = text.find(':');
    if (colon != std::string_view::npos && text.find(':', colon + 1) != std::string_view::npos) {
      return Error{"IPv6 addresses need brackets, e.g. [" + std::string(text) + "]:53"};
    }
    out.host = std::string(text.substr(0, colon));
    rest = colon == std::string_view::npos ? std::string_view() : text.substr(colon);
    if (!IsDomainName(out.host)) {
      return Error{"\"" + out.host + "\" is not a valid host name or IPv4 address"};
    }
  }
  if (!rest.empty()) {
    const std::string_view digits = rest.substr(1);
    int port = 0;
    bool valid = !digits.empty() && digits.size() <= 5;
    for (const char c : digits) {
      if (c < '0' || c > '9') {
        valid = false;
      }
    }
    if (valid) {
      for (const char c : digits) {
        port = port * 10 + (c - '0');
      }
    }
    if (!valid || port < 1 || port > 65535) {
      return Error{"port must be a number from 1 to 65535 (got \"" + std::string(digits) + "\")"};
    }
    out.port = port;
  }
  return out;
}

}  // namespace pharos

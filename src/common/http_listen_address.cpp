#include "common/http_listen_address.h"

#include <arpa/inet.h>

#include <charconv>
#include <string_view>

namespace pharos {

Result<HttpListenAddress> HttpListenAddress::Parse(const std::string& listen) {
  const auto invalid = [&](std::string_view why) {
    return Error{"invalid listen address \"" + listen + "\": " + std::string(why) +
                     " (expected HOST:PORT, e.g. 127.0.0.1:8080, localhost:8080, :8080, "
                     "[::1]:8080 or [::]:8080)",
                 ErrorKind::kInvalidArgument};
  };
  HttpListenAddress address;
  std::string_view port_text;
  if (!listen.empty() && listen[0] == '[') {
    const size_t close = listen.find(']');
    if (close == std::string::npos) {
      return invalid("missing ] after the IPv6 address");
    }
    address.host = listen.substr(1, close - 1);
    in6_addr parsed{};
    if (inet_pton(AF_INET6, address.host.c_str(), &parsed) != 1) {
      return invalid("\"" + address.host + "\" is not an IPv6 address");
    }
    if (close + 1 >= listen.size() || listen[close + 1] != ':') {
      return invalid("missing :PORT after ]");
    }
    address.ipv6_literal = true;
    port_text = std::string_view(listen).substr(close + 2);
  } else {
    const size_t colon = listen.rfind(':');
    if (colon == std::string::npos) {
      return invalid("missing :PORT");
    }
    address.host = listen.substr(0, colon);
    if (address.host.find(':') != std::string::npos) {
      return invalid("an IPv6 address must be written in brackets, e.g. [::1]:8080");
    }
    if (address.host.empty()) {
      address.host = "0.0.0.0";
    }
    port_text = std::string_view(listen).substr(colon + 1);
  }
  const auto [end, error] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), address.port);
  if (port_text.empty() || error != std::errc() || end != port_text.data() + port_text.size() ||
      address.port < 0 || address.port > 65535) {
    return invalid("the port must be a number from 0 to 65535");
  }
  return address;
}

}  // namespace pharos

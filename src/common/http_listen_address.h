#pragma once

// HttpListenAddress: the "HOST:PORT" an HttpServer listens on, parsed.
// Forms: "127.0.0.1:8080", "localhost:9090" (a name, resolved when the server starts), ":8080"
// (every IPv4 interface, as 0.0.0.0), "[::1]:8080" and "[::]:8080" (IPv6 literals in brackets;
// "[::]" also accepts IPv4 connections unless the host forbids it). Port 0 asks for a free port.
// Thread-safety: a value type.

#include <string>

#include "common/result.h"

namespace pharos {

struct HttpListenAddress {
  std::string host;  // without brackets; "0.0.0.0" for ":PORT"
  int port = 0;
  bool ipv6_literal = false;

  // Errors say what is wrong and show the accepted forms.
  static Result<HttpListenAddress> Parse(const std::string& listen);

  // The host as it appears in a URL: "[::1]" for an IPv6 literal.
  std::string UrlHost() const { return ipv6_literal ? "[" + host + "]" : host; }
};

}  // namespace pharos

#pragma once

// OutgoingMessage: one rendered notification as it goes on the wire — an HTTP request (every
// chat, paging and webhook channel) or an e-mail for an SMTP server — with the connection
// settings of its channel. MessageRenderer makes them; NotificationTransport sends them.
// Thread-safety: value types.

#include <chrono>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace pharos {

struct HttpMessage {
  std::string method = "POST";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct MailMessage {
  std::string url;          // smtp://host:port (STARTTLS or plain) or smtps://host:port
  bool require_tls = true;  // smtp:// with STARTTLS required
  std::string username;     // empty = no AUTH
  std::string password;
  std::string from;
  std::vector<std::string> to;
  std::string data;  // the whole RFC 5322 message, CRLF line ends
};

struct OutgoingMessage {
  std::variant<HttpMessage, MailMessage> content;
  std::chrono::milliseconds timeout{10'000};
  std::string ca_file;
  bool insecure_skip_verify = false;
};

}  // namespace pharos

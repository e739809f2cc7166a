#include "probe/dns_attempt.h"

#include <ares.h>

#include <algorithm>
#include <cstdlib>

#include "probe/dns_answer_parser.h"
#include "probe/error_text.h"
#include "probe/event_loop.h"

namespace pharos {
namespace {

std::string ServerCsv(const SocketAddress& address, int port) {
  const std::string host = address.ToString();
  return (address.family() == AF_INET6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<int> ParsePort(std::string_view text, std::string_view whole) {
  if (text.empty() || text.size() > 5 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return Error{"invalid DNS server \"" + std::string(whole) + "\": bad port"};
  }
  const int port = std::atoi(std::string(text).c_str());
  if (port <= 0 || port > 65535) {
    return Error{"invalid DNS server \"" + std::string(whole) + "\": port out of range"};
  }
  return port;
}

}  // namespace

Result<DnsServer> ParseDnsServer(std::string_view text) {
  DnsServer server;
  if (text.empty()) return Error{"empty DNS server"};
  if (text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return Error{"invalid DNS server \"" + std::string(text) + "\": missing ]"};
    }
    server.host = std::string(text.substr(1, close - 1));
    const std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return Error{"invalid DNS server \"" + std::string(text) + "\": junk after ]"};
      }
      auto port = ParsePort(rest.substr(1), text);
      if (!port.ok()) return Error{port.error()};
      server.port = port.value();
    }
  } else if (const size_t colon = text.find(':');
             colon != std::string_view::npos &&
             text.find(':', colon + 1) == std::string_view::npos) {
    server.host = std::string(text.substr(0, colon));
    auto port = ParsePort(text.substr(colon + 1), text);
    if (!port.ok()) return Error{port.error()};
    server.port = port.value();
  } else {
    server.host = std::string(text);  // a name or address alone (a bare IPv6 one too): default port
  }
  if (server.host.empty()) {
    return Error{"invalid DNS server \"" + std::string(text) + "\": no host"};
  }
  return server;
}

DnsAttempt::DnsAttempt(const AttemptEnvironment& environment, const Monitor& monitor, Finish finish)
    : environment_(environment),
      monitor_(monitor),
      finish_(std::move(finish)),
      policy_(environment.policy) {}

AresChannel::Options DnsAttempt::ChannelOptions() const {
  return AresChannel::Options::ForCheckTimeout(monitor_.timeout);
}

int64_t DnsAttempt::ElapsedMicros() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(environment_.loop.Now() - started_)
      .count();
}

void DnsAttempt::Start() {
  started_ = environment_.loop.Now();
  if (!monitor_.dns || monitor_.dns->name.empty()) {
    Fail("monitor has no dns name", true);
    return;
  }
  if (monitor_.dns->server.empty()) {
    Query("");
    return;
  }
  auto server = ParseDnsServer(monitor_.dns->server);
  if (!server.ok()) {
    Fail(server.error(), true);
    return;
  }
  server_ = server.value();
  if (auto literal = ParseIpLiteral(server_.host, server_.port)) {
    if (auto blocked = policy_->Check(reinterpret_cast<const sockaddr*>(&literal->storage))) {
      Fail(std::move(*blocked), true);
      return;
    }
    Query(ServerCsv(*literal, server_.port));
    return;
  }
  auto channel = AresChannel::Create(environment_.loop, ChannelOptions());
  if (!channel.ok()) {
    Fail(channel.error(), true);
    return;
  }
  channel_ = std::move(channel).value();
  channel_->Lookup(server_.host, [this](int status, const std::vector<SocketAddress>& addresses) {
    OnServerLookupDone(status, addresses);
  });
}

void DnsAttempt::OnServerLookupDone(int status, const std::vector<SocketAddress>& addresses) {
  channel_.reset();
  if (status != ARES_SUCCESS || addresses.empty()) {
    TransportError error =
        DescribeHostLookupFailure(status == ARES_SUCCESS ? ARES_ENODATA : status, server_.host);
    Fail("DNS server " + server_.host + ": " + error.message, error.probe_fault);
    return;
  }
  // The first address the policy allows; the query goes to exactly that one.
  std::optional<std::string> blocked;
  for (const SocketAddress& address : addresses) {
    blocked = policy_->Check(reinterpret_cast<const sockaddr*>(&address.storage));
    if (!blocked) {
      Query(ServerCsv(address, server_.port));
      return;
    }
  }
  Fail(std::move(*blocked), true);
}

void DnsAttempt::Query(const std::string& servers_csv) {
  AresChannel::Options options = ChannelOptions();
  options.servers = servers_csv;
  options.use_search_domains = false;
  options.report_server_failures = true;
  auto channel = AresChannel::Create(environment_.loop, options);
  if (!channel.ok()) {
    Fail(channel.error(), true);
    return;
  }
  channel_ = std::move(channel).value();
  channel_->Query(
      monitor_.dns->name, DnsTypeNumber(monitor_.dns->record_type),
      [this](int status, const std::vector<unsigned char>& answer) { OnAnswer(status, answer); });
}

void DnsAttempt::OnAnswer(int status, const std::vector<unsigned char>& answer) {
  const int socket_errno = channel_ ? channel_->socket_errno() : 0;
  if (status == ARES_ENODATA) {
    Observation observation;  // the name exists but has no records of this type
    observation.timings.dns_us = observation.timings.total_us = ElapsedMicros();
    Report(std::move(observation));
    return;
  }
  if (status != ARES_SUCCESS) {
    if (socket_errno != 0 && IsProbeResourceError(socket_errno)) {
      Fail("DNS: cannot open a socket: " + DescribeErrno(socket_errno), true);
      return;
    }
    TransportError error = DescribeDnsQueryFailure(status, monitor_.dns->name);
    Fail(std::move(error.message), error.probe_fault);
    return;
  }
  auto records = ParseDnsAnswers(answer, monitor_.dns->record_type);
  if (!records.ok()) {
    Fail("DNS: malformed response: " + records.error(), false);
    return;
  }
  Observation observation;
  observation.dns_records = std::move(records).value();
  observation.timings.dns_us = observation.timings.total_us = ElapsedMicros();
  Report(std::move(observation));
}

void DnsAttempt::Fail(std::string message, bool probe_fault) {
  Observation observation;
  observation.error = std::move(message);
  observation.probe_fault = probe_fault;
  observation.timings.dns_us = observation.timings.total_us = ElapsedMicros();
  Report(std::move(observation));
}

Observation DnsAttempt::Abort(std::chrono::milliseconds timeout) {
  if (reported_) return *reported_;
  channel_.reset();
  Observation observation;
  observation.error = DescribeTimeout(timeout, kPhaseDns);
  observation.timings.dns_us = observation.timings.total_us = ElapsedMicros();
  reported_ = observation;
  return observation;
}

void DnsAttempt::Report(Observation observation) {
  if (reported_) return;
  reported_ = observation;
  finish_(std::move(observation));
}

}  // namespace pharos

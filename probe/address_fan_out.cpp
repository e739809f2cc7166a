#include "probe/address_fan_out.h"

#include <ares.h>
#include <curl/curl.h>

#include <algorithm>

#include "common/address_verdict.h"
#include "common/name_syntax.h"
#include "probe/assertion_evaluator.h"
#include "probe/error_text.h"
#include "probe/event_loop.h"

namespace pharos {
namespace {

// The host of an http URL (brackets removed).
Result<std::string> UrlHost(const std::string& url) {
  std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> handle(curl_url(), &curl_url_cleanup);
  if (!handle || curl_url_set(handle.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) {
    return Error{"invalid URL \"" + SanitizeText(url) + "\""};
  }
  char* host = nullptr;
  if (curl_url_get(handle.get(), CURLUPART_HOST, &host, 0) != CURLUE_OK || host == nullptr) {
    return Error{"invalid URL \"" + SanitizeText(url) + "\": no host"};
  }
  std::string text(host);
  curl_free(host);
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  return text;
}

}  // namespace

AddressFanOut::AddressFanOut(const AttemptEnvironment& environment, const Monitor& monitor,
                             std::optional<std::vector<ServiceEndpoint>> endpoints,
                             MakeAttempt make, Finish finish)
    : environment_(environment),
      monitor_(monitor),
      endpoints_(std::move(endpoints)),
      make_(std::move(make)),
      finish_(std::move(finish)) {}

AddressFanOut::~AddressFanOut() {
  *alive_ = false;
  resolver_.reset();
}

Result<std::pair<std::string, int>> AddressFanOut::HostAndPort(const Monitor& monitor) {
  switch (monitor.type) {
    case MonitorType::kHttp: {
      if (!monitor.http) break;
      Result<std::string> host = UrlHost(monitor.http->url);
      if (!host.ok()) return Error{host.error()};
      return std::make_pair(*host, 0);
    }
    case MonitorType::kTcp:
      if (!monitor.tcp) break;
      return std::make_pair(monitor.tcp->host, monitor.tcp->port);
    case MonitorType::kGrpc: {
      if (!monitor.grpc) break;
      Result<HostPort> address = ParseHostPort(monitor.grpc->address);
      if (!address.ok()) return Error{address.error()};
      return std::make_pair(address->host, address->port);
    }
    case MonitorType::kIcmp:
      if (!monitor.icmp) break;
      return std::make_pair(monitor.icmp->host, 0);
    case MonitorType::kDns:
    case MonitorType::kPush:
      break;
  }
  return Error{std::string("a ") + ToString(monitor.type) + " monitor has no addresses to check"};
}

void AddressFanOut::Start() {
  started_ = environment_.loop.Now();
  if (monitor_.service) {
    const std::string service = monitor_.namespace_name + "/" + monitor_.service->name;
    if (!endpoints_) {
      Fail("the endpoints of Service " + service +
               " are not known here: spec.target.service is resolved by pharos-operator from "
               "the Service's EndpointSlices",
           true);
      return;
    }
    if (endpoints_->empty()) {
      Fail("Service " + service + " has no ready endpoints", false);
      return;
    }
    std::vector<Target> targets;
    for (const ServiceEndpoint& endpoint : *endpoints_) {
      std::optional<SocketAddress> address = ParseIpLiteral(endpoint.address, endpoint.port);
      if (!address) continue;  // the operator hands over IP addresses only
      targets.push_back(Target{*address, endpoint.HostPort(), endpoint});
    }
    CheckAll(std::move(targets));
    return;
  }
  Result<std::pair<std::string, int>> host_port = HostAndPort(monitor_);
  if (!host_port.ok()) {
    Fail(host_port.error(), true);
    return;
  }
  host_ = host_port->first;
  port_ = host_port->second;
  if (std::optional<SocketAddress> literal = ParseIpLiteral(host_, port_)) {
    CheckAll({Target{*literal, literal->ToString(), std::nullopt}});
    return;
  }
  auto resolver =
      AresChannel::ForTargetLookup(environment_.loop, monitor_.timeout, environment_.resolver);
  if (!resolver.ok()) {
    Fail(resolver.error(), true);
    return;
  }
  resolver_ = std::move(resolver).value();
  resolver_->Lookup(host_, [this](int status, std::vector<SocketAddress> addresses) {
    OnLookupDone(status, std::move(addresses));
  });
}

void AddressFanOut::OnLookupDone(int status, std::vector<SocketAddress> addresses) {
  dns_us_ =
      std::chrono::duration_cast<std::chrono::microseconds>(environment_.loop.Now() - started_)
          .count();
  const int socket_errno = resolver_->socket_errno();
  resolver_.reset();
  if (monitor_.type == MonitorType::kIcmp && monitor_.icmp->ip_family != IpFamily::kAny) {
    const int wanted = monitor_.icmp->ip_family == IpFamily::kIpv4 ? AF_INET : AF_INET6;
    std::erase_if(addresses, [&](const SocketAddress& a) { return a.family() != wanted; });
  }
  if (status != ARES_SUCCESS || addresses.empty()) {
    if (socket_errno != 0 && status != ARES_ENOTFOUND) {
      Fail("DNS: cannot open a socket: " + DescribeErrno(socket_errno),
           IsProbeResourceError(socket_errno));
      return;
    }
    TransportError error =
        DescribeHostLookupFailure(status == ARES_SUCCESS ? ARES_ENODATA : status, host_);
    Fail(std::move(error.message), error.probe_fault);
    return;
  }
  std::vector<Target> targets;
  for (SocketAddress& address : addresses) {
    address.SetPort(port_);
    const std::string label = address.ToString();
    // c-ares may list an address twice (one per socket type it asked for).
    if (std::none_of(targets.begin(), targets.end(),
                     [&](const Target& t) { return t.label == label; })) {
      targets.push_back(Target{address, label, std::nullopt});
    }
  }
  CheckAll(std::move(targets));
}

void AddressFanOut::CheckAll(std::vector<Target> targets) {
  if (targets.empty()) {
    Fail("no address to check", true);
    return;
  }
  if (targets.size() > kMaxAddresses) {
    targets.resize(kMaxAddresses);
  }
  checks_.reserve(targets.size());
  for (Target& target : targets) {
    checks_.push_back(Check{std::move(target), nullptr, std::nullopt});
  }
  pending_ = checks_.size();
  for (size_t i = 0; i < checks_.size(); ++i) {
    checks_[i].attempt =
        make_(checks_[i].target, [this, i, alive = alive_](Observation observation) {
          // Attempts may finish inside curl or c-ares, or inside Start: react outside them.
          environment_.loop.Post([this, i, alive, observation = std::move(observation)]() mutable {
            if (*alive) OnAddressDone(i, std::move(observation));
          });
        });
  }
  for (Check& check : checks_) {
    check.attempt->Start();
  }
}

void AddressFanOut::OnAddressDone(size_t index, Observation observation) {
  Check& check = checks_[index];
  if (reported_ || check.observation) return;
  check.observation = std::move(observation);
  check.attempt.reset();
  if (--pending_ == 0) Report(Combine());
}

Observation AddressFanOut::Combine() {
  std::vector<AddressResult> results;
  results.reserve(checks_.size());
  for (const Check& check : checks_) {
    const Observation& observation = *check.observation;
    AddressResult result;
    result.address = check.target.label;
    if (check.target.endpoint) result.name = check.target.endpoint->name;
    const AssertionEvaluator::Verdict verdict =
        environment_.evaluator->Judge(monitor_, observation);
    result.outcome = verdict.outcome;
    result.status_code = observation.status_code;
    result.total_us = observation.timings.total_us;
    result.message = !observation.error.empty() ? observation.error
                     : verdict.failed_assertion ? verdict.failed_assertion->message
                                                : std::string();
    result.icmp = observation.icmp;
    results.push_back(std::move(result));
  }
  const AddressVerdict verdict = AddressVerdict::Of(results, monitor_.alerting.address_quorum);
  // The address that stands for the others.
  size_t chosen = 0;
  const auto first = [&](auto predicate) {
    for (size_t i = 0; i < results.size(); ++i) {
      if (predicate(results[i])) return i;
    }
    return size_t{0};
  };
  switch (verdict.outcome) {
    case Outcome::kDown:
      chosen = first([](const AddressResult& r) { return r.outcome == Outcome::kDown; });
      break;
    case Outcome::kDegraded:
      chosen = first([](const AddressResult& r) {
        return r.outcome == Outcome::kDown || r.outcome == Outcome::kDegraded;
      });
      break;
    case Outcome::kError:
      chosen = 0;
      break;
    case Outcome::kUp: {
      int64_t slowest = -1;
      for (size_t i = 0; i < results.size(); ++i) {
        if (results[i].outcome != Outcome::kError && results[i].total_us > slowest) {
          slowest = results[i].total_us;
          chosen = i;
        }
      }
      break;
    }
  }
  Observation out = *checks_[chosen].observation;
  out.timings.dns_us += dns_us_;
  out.addresses = std::move(results);
  return out;
}

void AddressFanOut::Fail(std::string message, bool probe_fault) {
  Observation observation;
  observation.error = std::move(message);
  observation.probe_fault = probe_fault;
  observation.timings.dns_us = dns_us_;
  observation.timings.total_us =
      std::chrono::duration_cast<std::chrono::microseconds>(environment_.loop.Now() - started_)
          .count();
  Report(std::move(observation));
}

Observation AddressFanOut::Abort(std::chrono::milliseconds timeout) {
  if (reported_) return *reported_;
  Observation observation;
  if (checks_.empty()) {
    observation.error = DescribeTimeout(timeout, kPhaseDns);
    observation.timings.dns_us = observation.timings.total_us =
        std::chrono::duration_cast<std::chrono::microseconds>(environment_.loop.Now() - started_)
            .count();
  } else {
    for (Check& check : checks_) {
      if (!check.observation) check.observation = check.attempt->Abort(timeout);
      check.attempt.reset();
    }
    observation = Combine();
  }
  resolver_.reset();
  reported_ = observation;
  return observation;
}

void AddressFanOut::Report(Observation observation) {
  if (reported_) return;
  reported_ = observation;
  finish_(std::move(observation));
}

}  // namespace pharos

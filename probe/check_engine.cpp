#include "probe/check_engine.h"

#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <deque>
#include <set>
#include <thread>
#include <unordered_map>

#include "common/address_verdict.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "common/version.h"
#include "probe/address_fan_out.h"
#include "probe/assertion_evaluator.h"
#include "probe/check_attempt.h"
#include "probe/curl_multi.h"
#include "probe/dns_attempt.h"
#include "probe/event_loop.h"
#include "probe/grpc_attempt.h"
#include "probe/http_attempt.h"
#include "probe/icmp_attempt.h"
#include "probe/tcp_attempt.h"
#include "probe/tls_context.h"

namespace pharos {
namespace {

// How long the loop sleeps when nothing at all is happening; Submit wakes it anyway.
constexpr std::chrono::milliseconds kIdleWait{1000};

// What a failed assertion says about the response's headers and body goes; which assertion
// failed and what it expected stays.
void RedactResponseContent(FailedAssertion& failure) {
  const std::optional<AssertionType> type = ParseAssertionType(failure.type);
  if (type != AssertionType::kHeader && type != AssertionType::kBody &&
      type != AssertionType::kJsonPath) {
    return;
  }
  failure.actual.clear();
  failure.message = failure.type + " assertion failed: expected " + failure.expected +
                    " (the response is not shown: the probe runs with --redact-bodies)";
}

}  // namespace

// The engine's state. Fields under "engine thread" are touched only by the loop thread (and by
// the constructor before it starts, and the destructor after it ended).
class CheckEngine::Loop {
 public:
  explicit Loop(Options options);
  ~Loop();

  void Submit(std::shared_ptr<const Monitor> monitor, Callback done,
              std::optional<std::vector<ServiceEndpoint>> endpoints);
  void Drain();
  size_t InFlight() const;
  void SetClusterPolicy(const TargetPolicy& cluster);

 private:
  struct Check {
    uint64_t id = 0;
    std::shared_ptr<const Monitor> monitor;
    Callback done;
    std::optional<std::vector<ServiceEndpoint>> endpoints;
  };
  struct Active {
    Check check;
    int attempts = 0;
    std::chrono::system_clock::time_point started_at;
    std::unique_ptr<CheckAttempt> attempt;
    EventLoop::TimerId deadline = 0;
  };

  void Run();
  void TakeSubmissions();
  void StartWaiting();
  void StartAttempt(Active& active);
  void OnAttemptFinished(uint64_t id, int attempt, Observation observation);
  void OnDeadline(uint64_t id, int attempt);
  void Judge(Active& active, Observation observation);
  void Report(uint64_t id, CheckResult result);
  std::unique_ptr<CheckAttempt> MakeAttempt(const Check& check, CheckAttempt::Finish finish);
  // The attempt of one address of a check of every address.
  std::unique_ptr<CheckAttempt> MakeAddressAttempt(const Monitor& monitor,
                                                   const AddressFanOut::Target& target,
                                                   CheckAttempt::Finish finish);
  void MarkReported(uint64_t id);

  const Options options_;

  mutable Mutex mutex_;
  CondVar reported_;
  uint64_t next_id_ GUARDED_BY(mutex_) = 1;
  std::deque<Check> incoming_ GUARDED_BY(mutex_);
  std::set<uint64_t> unreported_ GUARDED_BY(mutex_);  // submitted, callback not yet done
  // A policy SetClusterPolicy gave, for the engine thread to take.
  std::shared_ptr<const TargetPolicy> new_policy_ GUARDED_BY(mutex_);
  std::atomic<bool> stopping_{false};

  // Engine thread.
  std::string init_error_;  // set when the engine could not start; then there is no thread
  std::unique_ptr<EventLoop> loop_;
  std::unique_ptr<CurlMulti> curl_;
  std::unique_ptr<TlsContext> tls_;
  std::unique_ptr<AttemptEnvironment> environment_;
  SystemClock clock_;
  AssertionEvaluator evaluator_{clock_};
  std::deque<Check> waiting_;
  std::unordered_map<uint64_t, std::unique_ptr<Active>> active_;

  std::thread thread_;
};

CheckEngine::Loop::Loop(Options options) : options_(std::move(options)) {
  auto loop = EventLoop::Create();
  if (!loop.ok()) {
    init_error_ = loop.error();
  } else {
    loop_ = std::move(loop).value();
    auto curl = CurlMulti::Create(*loop_);
    if (!curl.ok()) {
      init_error_ = curl.error();
    } else {
      curl_ = std::move(curl).value();
    }
  }
  if (!init_error_.empty()) {
    spdlog::error("check engine cannot start: {}; every check will report outcome error",
                  init_error_);
    return;
  }
  environment_ = std::make_unique<AttemptEnvironment>(AttemptEnvironment{*loop_, *curl_});
  auto tls = TlsContext::Create(options_.ca_file);
  if (tls.ok()) {
    tls_ = std::move(tls).value();
    environment_->tls = tls_.get();
  } else {
    environment_->tls_error = tls.error();
    spdlog::error("TCP checks with tls: true will fail: {}", tls.error());
  }
  environment_->max_body_bytes = options_.max_body_bytes;
  environment_->max_redirects = options_.max_redirects;
  environment_->user_agent =
      options_.user_agent.empty() ? std::string("pharos/") + kVersion : options_.user_agent;
  environment_->ca_file = options_.ca_file;
  environment_->resolver = options_.resolver;
  environment_->icmp_socket = options_.icmp_socket;
  environment_->evaluator = &evaluator_;
  environment_->policy = std::make_shared<const TargetPolicy>(options_.target_policy);
  thread_ = std::thread([this] { Run(); });
}

CheckEngine::Loop::~Loop() {
  stopping_ = true;
  if (thread_.joinable()) {
    loop_->Wake();
    thread_.join();
  }
}

void CheckEngine::Loop::Submit(std::shared_ptr<const Monitor> monitor, Callback done,
                               std::optional<std::vector<ServiceEndpoint>> endpoints) {
  if (!init_error_.empty()) {
    CheckResult result = monitor ? CheckResult::Of(*monitor) : CheckResult{};
    result.started_at = std::chrono::system_clock::now();
    result.outcome = Outcome::kError;
    result.error = "the check engine could not start: " + init_error_;
    result.attempts = 0;
    if (done) done(std::move(result));
    return;
  }
  {
    MutexLock lock(mutex_);
    const uint64_t id = next_id_++;
    unreported_.insert(id);
    incoming_.push_back(Check{id, std::move(monitor), std::move(done), std::move(endpoints)});
  }
  loop_->Wake();
}

void CheckEngine::Loop::Drain() {
  MutexLock lock(mutex_);
  const uint64_t last = next_id_ - 1;
  reported_.Wait(mutex_, [&]() REQUIRES(mutex_) {
    return unreported_.empty() || *unreported_.begin() > last;
  });
}

size_t CheckEngine::Loop::InFlight() const {
  MutexLock lock(mutex_);
  return unreported_.size();
}

void CheckEngine::Loop::SetClusterPolicy(const TargetPolicy& cluster) {
  auto merged = std::make_shared<const TargetPolicy>(options_.target_policy.MergedWith(cluster));
  MutexLock lock(mutex_);
  new_policy_ = std::move(merged);
}

void CheckEngine::Loop::Run() {
  pthread_setname_np(pthread_self(), "pharos-checks");
  // A TLS handshake writing to a socket the peer closed must not kill the process; the write
  // fails with EPIPE instead.
  sigset_t pipe_signal;
  sigemptyset(&pipe_signal);
  sigaddset(&pipe_signal, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_signal, nullptr);

  while (!stopping_) {
    TakeSubmissions();
    StartWaiting();
    loop_->RunOnce(kIdleWait);
  }
  // Abandon what is left, releasing every socket and handle on this thread.
  active_.clear();
  waiting_.clear();
}

void CheckEngine::Loop::TakeSubmissions() {
  MutexLock lock(mutex_);
  if (new_policy_) environment_->policy = std::move(new_policy_);
  while (!incoming_.empty()) {
    waiting_.push_back(std::move(incoming_.front()));
    incoming_.pop_front();
  }
}

void CheckEngine::Loop::StartWaiting() {
  const size_t limit = std::max<size_t>(1, options_.max_concurrency);
  while (active_.size() < limit && !waiting_.empty()) {
    Check check = std::move(waiting_.front());
    waiting_.pop_front();
    const uint64_t id = check.id;
    const bool has_monitor = check.monitor != nullptr;
    auto active = std::make_unique<Active>();
    active->check = std::move(check);
    active->started_at = std::chrono::system_clock::now();
    Active& started = *active;
    active_.emplace(id, std::move(active));
    if (!has_monitor) {
      CheckResult result;
      result.started_at = started.started_at;
      result.outcome = Outcome::kError;
      result.error = "no monitor given";
      Report(id, std::move(result));
      continue;
    }
    if (started.check.monitor->type == MonitorType::kPush) {
      CheckResult result = CheckResult::Of(*started.check.monitor);
      result.started_at = started.started_at;
      result.outcome = Outcome::kError;
      result.error = "push monitors are not checked by a probe: the job pings the operator";
      result.attempts = 0;
      Report(id, std::move(result));
      continue;
    }
    StartAttempt(started);
  }
}

std::unique_ptr<CheckAttempt> CheckEngine::Loop::MakeAttempt(const Check& check,
                                                             CheckAttempt::Finish finish) {
  const Monitor& monitor = *check.monitor;
  if (monitor.ChecksEveryAddress()) {
    return std::make_unique<AddressFanOut>(
        *environment_, monitor, check.endpoints,
        [this, &monitor](const AddressFanOut::Target& target, CheckAttempt::Finish done) {
          return MakeAddressAttempt(monitor, target, std::move(done));
        },
        std::move(finish));
  }
  switch (monitor.type) {
    case MonitorType::kHttp:
      return std::make_unique<HttpAttempt>(*environment_, HttpRequestPlan::ForMonitor(monitor),
                                           std::move(finish));
    case MonitorType::kTcp:
      return std::make_unique<TcpAttempt>(*environment_, monitor, std::nullopt, std::move(finish));
    case MonitorType::kDns:
      return std::make_unique<DnsAttempt>(*environment_, monitor, std::move(finish));
    case MonitorType::kIcmp:
      return std::make_unique<IcmpAttempt>(*environment_, monitor, std::nullopt, std::move(finish));
    case MonitorType::kGrpc:
      return std::make_unique<GrpcAttempt>(*environment_, monitor, std::nullopt, std::nullopt,
                                           std::move(finish));
    case MonitorType::kPush:
      break;  // never submitted (see StartWaiting)
  }
  return std::make_unique<HttpAttempt>(*environment_, HttpRequestPlan::ForMonitor(monitor),
                                       std::move(finish));
}

std::unique_ptr<CheckAttempt> CheckEngine::Loop::MakeAddressAttempt(
    const Monitor& monitor, const AddressFanOut::Target& target, CheckAttempt::Finish finish) {
  switch (monitor.type) {
    case MonitorType::kHttp: {
      HttpRequestPlan plan = target.endpoint
                                 ? HttpRequestPlan::ForEndpoint(monitor, *target.endpoint)
                                 : HttpRequestPlan::ForMonitor(monitor);
      plan.pinned = target.address;
      return std::make_unique<HttpAttempt>(*environment_, std::move(plan), std::move(finish));
    }
    case MonitorType::kTcp:
      return std::make_unique<TcpAttempt>(*environment_, monitor, target.address,
                                          std::move(finish));
    case MonitorType::kIcmp:
      return std::make_unique<IcmpAttempt>(*environment_, monitor, target.address,
                                           std::move(finish));
    case MonitorType::kGrpc:
      return std::make_unique<GrpcAttempt>(*environment_, monitor, target.address, target.endpoint,
                                           std::move(finish));
    case MonitorType::kDns:
    case MonitorType::kPush:
      break;
  }
  return std::make_unique<DnsAttempt>(*environment_, monitor, std::move(finish));
}

void CheckEngine::Loop::StartAttempt(Active& active) {
  const int attempt = ++active.attempts;
  const uint64_t id = active.check.id;
  const Monitor& monitor = *active.check.monitor;
  // Attempts may finish from inside curl or c-ares; the reaction waits until those returned.
  CheckAttempt::Finish finish = [this, id, attempt](Observation observation) {
    loop_->Post([this, id, attempt, observation = std::move(observation)]() mutable {
      OnAttemptFinished(id, attempt, std::move(observation));
    });
  };
  active.attempt = MakeAttempt(active.check, std::move(finish));
  const auto timeout = std::max(monitor.timeout, std::chrono::milliseconds(1));
  active.deadline =
      loop_->AddTimer(loop_->Now() + timeout, [this, id, attempt] { OnDeadline(id, attempt); });
  active.attempt->Start();
}

void CheckEngine::Loop::OnAttemptFinished(uint64_t id, int attempt, Observation observation) {
  auto it = active_.find(id);
  if (it == active_.end() || it->second->attempts != attempt || !it->second->attempt) return;
  loop_->CancelTimer(it->second->deadline);
  Judge(*it->second, std::move(observation));
}

void CheckEngine::Loop::OnDeadline(uint64_t id, int attempt) {
  auto it = active_.find(id);
  if (it == active_.end() || it->second->attempts != attempt || !it->second->attempt) return;
  Active& active = *it->second;
  const auto timeout = std::max(active.check.monitor->timeout, std::chrono::milliseconds(1));
  Judge(active, active.attempt->Abort(timeout));
}

void CheckEngine::Loop::Judge(Active& active, Observation observation) {
  active.attempt.reset();
  active.deadline = 0;
  const Monitor& monitor = *active.check.monitor;
  AssertionEvaluator::Verdict verdict = evaluator_.Judge(monitor, observation);
  if (!observation.addresses.empty()) {
    // Every address was judged on its own; together they decide under addressQuorum, and the
    // words of the address that stands for them name the failing ones.
    const AddressVerdict addresses =
        AddressVerdict::Of(observation.addresses, monitor.alerting.address_quorum);
    verdict.outcome = addresses.outcome;
    if (addresses.outcome == Outcome::kUp || addresses.outcome == Outcome::kDegraded) {
      observation.error.clear();
      verdict.failed_assertion.reset();
    } else if (!observation.error.empty() || !verdict.failed_assertion) {
      observation.error = addresses.reason;
    } else {
      verdict.failed_assertion->message = addresses.reason;
    }
  }
  if (verdict.outcome == Outcome::kDown && active.attempts <= monitor.retries && !stopping_) {
    StartAttempt(active);
    return;
  }
  CheckResult result = CheckResult::Of(monitor);
  result.started_at = active.started_at;
  result.outcome = verdict.outcome;
  result.status_code = observation.status_code;
  result.timings = observation.timings;
  result.cert_expiry = observation.cert_expiry;
  result.cert_earliest_expiry = observation.cert_earliest_expiry;
  result.failed_assertion = std::move(verdict.failed_assertion);
  if (options_.redact_bodies && result.failed_assertion) {
    RedactResponseContent(*result.failed_assertion);
  }
  result.error = std::move(observation.error);
  result.attempts = active.attempts;
  result.dns_records = std::move(observation.dns_records);
  result.icmp = observation.icmp;
  result.addresses = std::move(observation.addresses);
  Report(active.check.id, std::move(result));
}

void CheckEngine::Loop::Report(uint64_t id, CheckResult result) {
  auto it = active_.find(id);
  if (it == active_.end()) return;
  Callback done = std::move(it->second->check.done);
  active_.erase(it);
  if (done) {
    try {
      done(std::move(result));
    } catch (const std::exception& error) {
      spdlog::error("check result callback failed: {}", error.what());
    } catch (...) {
      spdlog::error("check result callback failed with an unknown exception");
    }
  }
  MarkReported(id);
}

void CheckEngine::Loop::MarkReported(uint64_t id) {
  {
    MutexLock lock(mutex_);
    unreported_.erase(id);
  }
  reported_.NotifyAll();
}

CheckEngine::CheckEngine(Options options) : loop_(std::make_unique<Loop>(std::move(options))) {}

CheckEngine::~CheckEngine() = default;

void CheckEngine::Submit(std::shared_ptr<const Monitor> monitor, Callback done,
                         std::optional<std::vector<ServiceEndpoint>> endpoints) {
  loop_->Submit(std::move(monitor), std::move(done), std::move(endpoints));
}

void CheckEngine::Drain() { loop_->Drain(); }

size_t CheckEngine::InFlight() const { return loop_->InFlight(); }

void CheckEngine::SetClusterPolicy(const TargetPolicy& cluster) {
  loop_->SetClusterPolicy(cluster);
}

std::vector<CheckResult> RunChecksOnce(const std::vector<Monitor>& monitors,
                                       CheckEngine::Options options) {
  std::vector<CheckResult> results(monitors.size());
  CheckEngine engine(std::move(options));
  for (size_t i = 0; i < monitors.size(); ++i) {
    engine.Submit(std::make_shared<const Monitor>(monitors[i]),
                  [&results, i](CheckResult result) { results[i] = std::move(result); });
  }
  engine.Drain();
  return results;
}

}  // namespace pharos

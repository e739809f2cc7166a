#include "operator/analytics/clickhouse_sink.h"

#include <pthread.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <utility>

#include "common/logging.h"

namespace pharos {
namespace {

const Logger& Log() {
  static const Logger logger("clickhouse");
  return logger;
}

constexpr std::chrono::milliseconds kGaugeRefresh{1'000};

}  // namespace

ClickHouseSink::ClickHouseSink(ClickHouseTransport& transport, ClickHouseSpool& spool,
                               const Clock& clock, MetricsRegistry& registry, Options options)
    : transport_(transport),
      spool_(spool),
      clock_(clock),
      options_(std::move(options)),
      insert_statement_(ClickHouseSchema::InsertStatement(options_.database)),
      rows_sent_(registry
                     .AddCounter("pharos_clickhouse_rows_sent_total",
                                 "Check results ClickHouse has taken (spooled ones included once "
                                 "drained).")
                     .WithLabels({})),
      rows_spooled_(registry
                        .AddCounter("pharos_clickhouse_rows_spooled_total",
                                    "Check results written to the disk spool because ClickHouse "
                                    "was away or refused their batch.")
                        .WithLabels({})),
      rows_dropped_(registry
                        .AddCounter("pharos_clickhouse_rows_dropped_total",
                                    "Check results not sent to ClickHouse because the spool was "
                                    "full (they are still in SQLite).")
                        .WithLabels({})),
      batches_failed_(registry.AddCounter(
          "pharos_clickhouse_batches_failed_total",
          "Statements ClickHouse did not take (inserts, spool drains, schema creation, rollup "
          "refreshes), by "
          "reason: unreachable, auth, missing_table, refused.",
          {"reason"})),
      spool_bytes_(registry
                       .AddGauge("pharos_clickhouse_spool_bytes",
                                 "Bytes of check results waiting in the disk spool.")
                       .WithLabels({})),
      spool_rows_(
          registry
              .AddGauge("pharos_clickhouse_spool_rows", "Check results waiting in the disk spool.")
              .WithLabels({})),
      spool_oldest_age_(registry
                            .AddGauge("pharos_clickhouse_spool_oldest_age_seconds",
                                      "Age of the oldest check result in the disk spool (0 when "
                                      "empty).")
                            .WithLabels({})),
      up_(registry
              .AddGauge("pharos_clickhouse_up",
                        "1 when the last statement sent to ClickHouse succeeded, else 0.")
              .WithLabels({})),
      insert_seconds_(
          registry
              .AddHistogram("pharos_clickhouse_insert_seconds",
                            "Time of one INSERT of a batch into ClickHouse, answer "
                            "included (failed ones too).",
                            {}, {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30})
              .WithLabels({})) {
  const int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(clock.Now().time_since_epoch()).count();
  start_hour_s_ = now - ((now % 3600) + 3600) % 3600;
  for (ClickHouseFailure kind : {ClickHouseFailure::kUnreachable, ClickHouseFailure::kAuth,
                                 ClickHouseFailure::kMissingTable, ClickHouseFailure::kRefused}) {
    batches_failed_.WithLabels({ToString(kind)});
  }
  local_id_prefix_ = "local-" +
                     std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        clock_.Now().time_since_epoch())
                                        .count()) +
                     "-";
  if (Result<uint64_t> journal = spool_.OpenJournal(""); journal) {
    journal_ = *journal;
  } else {
    Log().Warn(
        "cannot journal check results for ClickHouse; a crash before they are sent would "
        "leave them in SQLite only",
        {{"error", journal.error()}});
  }
  UpdateSpoolGauges();
}

ClickHouseSink::~ClickHouseSink() { Stop(); }

void ClickHouseSink::Add(const std::vector<CheckResult>& results) {
  if (results.empty()) {
    return;
  }
  Batch overflow;
  {
    MutexLock lock(mutex_);
    if (buffer_.rows == 0) {
      buffer_since_ = clock_.SteadyNow();
      buffer_.oldest = clock_.Now();
    }
    std::string rows;
    for (const CheckResult& result : results) {
      const std::string fallback =
          result.item_id.empty() ? local_id_prefix_ + std::to_string(next_local_id_++) : "";
      rows += ClickHouseSchema::EncodeRow(result, fallback);
    }
    if (journal_ != 0) {
      if (Status journaled = spool_.AppendJournal(rows); !journaled) {
        Log().Warn(
            "cannot journal check results for ClickHouse; a crash before they are sent "
            "would leave them in SQLite only",
            {{"error", journaled.error()}});
      }
    }
    buffer_.body += rows;
    buffer_.rows += results.size();
    if (buffer_.rows >= options_.max_buffered_rows) {
      overflow = TakeBatch(buffer_.rows);
    } else if (buffer_.rows < options_.batch_rows) {
      return;
    }
  }
  if (overflow.rows > 0) {
    SpoolBatch(overflow, "the sender is behind (a slow or hanging ClickHouse)");
    Handled(overflow);
    UpdateSpoolGauges();
    return;
  }
  wake_.NotifyAll();
}

bool ClickHouseSink::Waiting(std::chrono::steady_clock::time_point now) const {
  return buffer_.rows > 0 && (stopping_ || buffer_.rows >= options_.batch_rows ||
                              now - buffer_since_ >= options_.max_delay);
}

std::chrono::steady_clock::time_point ClickHouseSink::Pump(bool flush) {
  const auto now = clock_.SteadyNow();
  const bool may_try = !down_ || now >= next_attempt_;
  if (!schema_ready_ && may_try) {
    EnsureSchema();
  }

  Batch due;
  {
    MutexLock lock(mutex_);
    if (buffer_.rows > 0 && (flush || Waiting(now))) {
      due = TakeBatch(options_.batch_rows);
    }
  }
  if (due.rows > 0) {
    if (schema_ready_ && (!down_ || clock_.SteadyNow() >= next_attempt_)) {
      if (std::optional<ClickHouseError> failed = Insert(due.body, due.rows)) {
        Failed(*failed, "sending a batch");
        SpoolBatch(due, ToString(failed->kind));
      } else {
        Recovered();
        Touch(due.body);
      }
    } else {
      SpoolBatch(due, "ClickHouse is away");
    }
    Handled(due);
  }

  bool drained = false;
  if (schema_ready_ && (!down_ || clock_.SteadyNow() >= next_attempt_) && spool_.segments() > 0) {
    Result<std::optional<ClickHouseSpool::Segment>> oldest = spool_.Oldest();
    if (!oldest) {
      Failed({ClickHouseFailure::kRefused, oldest.error() + " (remove the file if it is damaged)"},
             "reading the spool");
    } else if (*oldest) {
      const ClickHouseSpool::Segment& segment = **oldest;
      if (std::optional<ClickHouseError> failed = Insert(segment.body, segment.rows)) {
        Failed(*failed, "draining the spool");
      } else {
        Recovered();
        Touch(segment.body);
        if (Status removed = spool_.Remove(segment.sequence); !removed) {
          Log().Error(
              "a drained batch could not be deleted from the spool; it will be sent again "
              "(ClickHouse collapses the copies by item id)",
              {{"error", removed.error()}});
        }
        drained = true;
      }
    }
  }
  if (!touched_.empty() && schema_ready_ && (!down_ || clock_.SteadyNow() >= next_attempt_) &&
      (flush || clock_.SteadyNow() >= next_refresh_)) {
    if (RefreshRollups()) {
      next_refresh_ = clock_.SteadyNow() + options_.rollup_interval;
    }
  }
  UpdateSpoolGauges();

  const auto after = clock_.SteadyNow();
  if (drained && spool_.segments() > 0) {
    return after;
  }
  auto next = after + kGaugeRefresh;
  if (down_ || !schema_ready_) {
    next = std::min(next, std::max(next_attempt_, after));
  } else if (!touched_.empty()) {
    next = std::min(next, std::max(next_refresh_, after));
  }
  MutexLock lock(mutex_);
  if (buffer_.rows > 0) {
    next = std::min(
        next, buffer_.rows >= options_.batch_rows ? after : buffer_since_ + options_.max_delay);
  }
  return next;
}

ClickHouseSink::Batch ClickHouseSink::TakeBatch(size_t max_rows) {
  Batch batch;
  if (buffer_.rows <= max_rows) {
    batch = std::exchange(buffer_, Batch{});
  } else {
    // Rows are single lines (JSON escapes newlines): cut after the max_rows-th.
    size_t cut = 0;
    for (size_t row = 0; row < max_rows; ++row) {
      cut = buffer_.body.find('\n', cut) + 1;
    }
    batch.body = buffer_.body.substr(0, cut);
    batch.rows = max_rows;
    batch.oldest = buffer_.oldest;
    buffer_.body.erase(0, cut);
    buffer_.rows -= max_rows;  // the rest keeps its (conservative) oldest time and deadline
  }
  // The batch's rows stay journaled until it is sent or spooled; what remains in memory moves
  // to a new journal (so both hold it for a moment: a crash then sends it twice, collapsed).
  if (journal_ != 0) {
    batch.journal = journal_;
    Result<uint64_t> next = spool_.OpenJournal(buffer_.body);
    if (!next) {
      Log().Warn(
          "cannot start a new ClickHouse journal; a crash before results are sent would "
          "leave them in SQLite only",
          {{"error", next.error()}});
      journal_ = 0;
    } else {
      journal_ = *next;
    }
  }
  return batch;
}

void ClickHouseSink::Handled(const Batch& batch) {
  if (batch.journal != 0) {
    spool_.DropJournal(batch.journal);
  }
}

void ClickHouseSink::Touch(const std::string& body) {
  if (catching_up_ &&
      std::chrono::duration_cast<std::chrono::seconds>(clock_.Now().time_since_epoch()).count() >=
          start_hour_s_ + int64_t{2} * 3600) {
    catching_up_ = false;
    caught_up_.clear();
  }
  size_t start = 0;
  while (start < body.size()) {
    size_t end = body.find('\n', start);
    if (end == std::string::npos) end = body.size();
    const nlohmann::json row =
        nlohmann::json::parse(body.begin() + static_cast<ptrdiff_t>(start),
                              body.begin() + static_cast<ptrdiff_t>(end), nullptr, false);
    start = end + 1;
    if (!row.is_object() || !row.contains("time") || !row["time"].is_number_integer() ||
        !row.contains("monitor_uid") || !row["monitor_uid"].is_string()) {
      continue;
    }
    const int64_t at = row["time"].get<int64_t>();
    const std::string& uid = row["monitor_uid"].get_ref<const std::string&>();
    touched_[at - ((at % 3600) + 3600) % 3600].insert(uid);
    if (catching_up_ && caught_up_.insert(uid).second) {
      touched_[start_hour_s_ - 3600].insert(uid);
      touched_[start_hour_s_].insert(uid);
    }
  }
}

bool ClickHouseSink::RefreshRollups() {
  // Hours first (oldest first, each erased once recomputed), then the days they belong to.
  std::map<int64_t, std::set<std::string>> days;
  for (const auto& [hour, uids] : touched_) {
    days[hour - ((hour % 86400) + 86400) % 86400].insert(uids.begin(), uids.end());
  }
  const auto run = [&](const std::set<std::string>& uids, auto statement) -> bool {
    std::vector<std::string> chunk;
    for (auto it = uids.begin(); it != uids.end();) {
      chunk.push_back(*it++);
      if (chunk.size() < options_.rollup_monitors_per_statement && it != uids.end()) continue;
      Result<ClickHouseResponse> answer = transport_.Send({"", statement(chunk), false});
      chunk.clear();
      std::optional<ClickHouseError> error;
      if (!answer) {
        error = ClickHouseError{ClickHouseFailure::kUnreachable, answer.error()};
      } else if (!answer->ok()) {
        error = ClassifyClickHouseAnswer(*answer);
      }
      if (error) {
        Failed(*error, "refreshing the rollups");
        return false;
      }
    }
    return true;
  };
  for (const auto& [hour, uids] : touched_) {
    if (!run(uids, [&, hour = hour](const std::vector<std::string>& chunk) {
          return ClickHouseSchema::RefreshHourly(options_.database, chunk, hour, hour + 3600);
        })) {
      return false;
    }
  }
  for (const auto& [day, uids] : days) {
    if (!run(uids, [&, day = day](const std::vector<std::string>& chunk) {
          return ClickHouseSchema::RefreshDaily(options_.database, chunk, day, day + 86400);
        })) {
      return false;
    }
  }
  touched_.clear();
  Recovered();
  return true;
}

bool ClickHouseSink::EnsureSchema() {
  ClickHouseError failure;
  if (Status ensured = ClickHouseSchema::Ensure(transport_, options_.database, &failure);
      !ensured) {
    Failed(failure, "creating the tables");
    return false;
  }
  schema_ready_ = true;
  Recovered();
  Log().Info("ClickHouse tables ready",
             {{"database", options_.database}, {"schema_version", ClickHouseSchema::kVersion}});
  return true;
}

std::optional<ClickHouseError> ClickHouseSink::Insert(const std::string& body, size_t rows) {
  const auto started = std::chrono::steady_clock::now();
  Result<ClickHouseResponse> answer = transport_.Send({insert_statement_, body, options_.gzip});
  insert_seconds_.Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  if (!answer) {
    return ClickHouseError{ClickHouseFailure::kUnreachable, answer.error()};
  }
  if (!answer->ok()) {
    return ClassifyClickHouseAnswer(*answer);
  }
  rows_sent_.Inc(static_cast<double>(rows));
  return std::nullopt;
}

void ClickHouseSink::Failed(const ClickHouseError& error, std::string_view what) {
  const auto now = clock_.SteadyNow();
  batches_failed_.WithLabels({ToString(error.kind)}).Inc();
  up_.Set(0);
  if (error.kind == ClickHouseFailure::kMissingTable) {
    schema_ready_ = false;
  }
  down_ = true;
  away_ = true;
  backoff_ =
      backoff_.count() == 0 ? options_.retry_initial : std::min(backoff_ * 2, options_.retry_max);
  next_attempt_ = now + backoff_;
  if (last_logged_kind_ != error.kind || now - last_logged_at_ >= options_.log_repeat) {
    last_logged_kind_ = error.kind;
    last_logged_at_ = now;
    Log().Error(
        "ClickHouse did not take the check results; they are kept in the disk spool and "
        "sent when it answers again (watch pharos_clickhouse_spool_bytes)",
        {{"while", what},
         {"reason", ToString(error.kind)},
         {"error", error.message},
         {"retry_in_ms", static_cast<int64_t>(backoff_.count())},
         {"spool", spool_.folder().string()},
         {"spooled_rows", static_cast<int64_t>(spool_.rows())}});
  }
}

void ClickHouseSink::Recovered() {
  up_.Set(1);
  if (down_) {
    Log().Info("ClickHouse takes check results again; draining the spool",
               {{"spooled_rows", static_cast<int64_t>(spool_.rows())}});
  }
  down_ = false;
  away_ = false;
  backoff_ = std::chrono::milliseconds(0);
  last_logged_kind_.reset();
}

void ClickHouseSink::SpoolBatch(const Batch& batch, std::string_view why) {
  if (Status put = spool_.Put(batch.body, batch.rows, batch.oldest); !put) {
    rows_dropped_.Inc(static_cast<double>(batch.rows));
    Log().Error(
        "check results not sent to ClickHouse: the spool cannot take them (they stay in "
        "SQLite); bring ClickHouse back or raise --clickhouse-spool-max-bytes",
        {{"rows", static_cast<int64_t>(batch.rows)}, {"why", why}, {"error", put.error()}});
    return;
  }
  rows_spooled_.Inc(static_cast<double>(batch.rows));
}

void ClickHouseSink::UpdateSpoolGauges() {
  spool_bytes_.Set(static_cast<double>(spool_.bytes()));
  spool_rows_.Set(static_cast<double>(spool_.rows()));
  const std::optional<std::chrono::system_clock::time_point> oldest = spool_.oldest_time();
  spool_oldest_age_.Set(
      oldest ? std::max(0.0, std::chrono::duration<double>(clock_.Now() - *oldest).count()) : 0.0);
}

void ClickHouseSink::Start() {
  MutexLock lock(mutex_);
  if (thread_.joinable() || stopped_) {
    return;
  }
  thread_ = std::thread([this] { Run(); });
}

void ClickHouseSink::Run() {
  pthread_setname_np(pthread_self(), "pharos-ch-sink");
  while (true) {
    const auto next = Pump(false);
    MutexLock lock(mutex_);
    if (stopping_) {
      break;
    }
    // Virtual deadlines from the clock are turned into a real wait of the same length.
    const auto wait = next - clock_.SteadyNow();
    if (wait <= std::chrono::steady_clock::duration::zero()) {
      continue;
    }
    wake_.WaitFor(mutex_, wait, [this]() REQUIRES(mutex_) {
      return stopping_ || buffer_.rows >= options_.batch_rows;
    });
    if (stopping_) {
      break;
    }
  }
}

void ClickHouseSink::Stop() {
  std::thread thread;
  {
    MutexLock lock(mutex_);
    if (stopped_) {
      return;
    }
    stopped_ = true;
    stopping_ = true;
    thread = std::move(thread_);
  }
  wake_.NotifyAll();
  if (thread.joinable()) {
    thread.join();
  }
  // Each step sends, spools or (spool full) drops one batch, so the buffer empties.
  do {
    Pump(/*flush=*/true);
  } while (buffered_rows() > 0);
  MutexLock lock(mutex_);
  if (journal_ != 0) {
    spool_.DropJournal(journal_);  // empty: everything was sent or spooled
  }
  journal_ = 0;
}

size_t ClickHouseSink::buffered_rows() const {
  MutexLock lock(mutex_);
  return buffer_.rows;
}

bool ClickHouseSink::schema_ready() const { return schema_ready_; }

std::optional<std::string> ClickHouseSink::LocalReadReason() const {
  if (!schema_ready_) return "starting";
  if (away_) return "away";
  if (spool_.segments() > 0) return "spool";
  return std::nullopt;
}

}  // namespace pharos

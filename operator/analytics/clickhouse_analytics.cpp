#include "operator/analytics/clickhouse_analytics.h"

#include <cstdlib>
#include <fstream>

#include "common/duration.h"
#include "common/logging.h"

namespace pharos {
namespace {

Error BadFlag(const std::string& flag, const std::string& why) {
  return Error{"--" + flag + ": " + why, ErrorKind::kInvalidArgument};
}

Result<uint64_t> PositiveNumber(const CommandLine& flags, const std::string& flag) {
  const std::string text = flags.Get(flag);
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9' || value > (UINT64_MAX - 9) / 10) {
      return BadFlag(flag, "\"" + text + "\" is not a positive whole number");
    }
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  if (text.empty() || value == 0) {
    return BadFlag(flag, "must be a positive whole number");
  }
  return value;
}

Result<std::chrono::milliseconds> PositiveDuration(const CommandLine& flags,
                                                   const std::string& flag) {
  Result<Millis> parsed = ParseDuration(flags.Get(flag));
  if (!parsed) {
    return BadFlag(flag, parsed.error());
  }
  if (parsed->count() <= 0) {
    return BadFlag(flag, "must be longer than 0s");
  }
  return std::chrono::milliseconds(parsed->count());
}

}  // namespace

void ClickHouseAnalytics::AddFlags(CommandLine& flags) {
  flags.AddFlag("clickhouse-url", '\0', "URL",
                "also copy every check result to ClickHouse's HTTP interface, e.g. "
                "http://clickhouse:8123 (docs/analytics.md)");
  flags.AddFlag("clickhouse-database", '\0', "NAME", "ClickHouse database of the Pharos tables",
                "pharos");
  flags.AddFlag("clickhouse-user", '\0', "NAME", "ClickHouse user", "default");
  flags.AddFlag("clickhouse-password-file", '\0', "FILE",
                "file whose first line is the ClickHouse password (default: "
                "$PHAROS_CLICKHOUSE_PASSWORD, else no password)");
  flags.AddFlag("clickhouse-batch-rows", '\0', "N", "check results per ClickHouse INSERT at most",
                "1000");
  flags.AddFlag("clickhouse-flush-interval", '\0', "DURATION",
                "longest a check result waits before its batch is sent", "5s");
  flags.AddFlag("clickhouse-retry-max", '\0', "DURATION",
                "longest wait between retries while ClickHouse is away", "30s");
  flags.AddFlag("clickhouse-spool-dir", '\0', "DIR",
                "where batches wait while ClickHouse is away (default: <db>.clickhouse-spool)");
  flags.AddFlag("clickhouse-spool-max-bytes", '\0', "N",
                "size bound of the spool; beyond it results reach SQLite only", "1073741824");
  flags.AddFlag("clickhouse-summary-batch", '\0', "N",
                "monitors whose uptime and latency one ClickHouse query computes", "2000");
  flags.AddFlag("clickhouse-summary-pause", '\0', "DURATION",
                "rest between two uptime-summary queries (0s: refresh as fast as ClickHouse "
                "answers)",
                "0s");
}

Result<std::optional<ClickHouseAnalytics::Options>> ClickHouseAnalytics::OptionsFromFlags(
    const CommandLine& flags, const std::string& db_path) {
  if (!flags.IsSet("clickhouse-url") || flags.Get("clickhouse-url").empty()) {
    return std::optional<Options>();
  }
  Options options;
  options.connection.url = flags.Get("clickhouse-url");
  options.connection.user = flags.Get("clickhouse-user");
  options.sink.database = flags.Get("clickhouse-database");
  if (!ClickHouseSchema::ValidDatabaseName(options.sink.database)) {
    return BadFlag("clickhouse-database",
                   "\"" + options.sink.database +
                       "\": use letters, digits and underscores, not starting with a digit");
  }
  if (flags.IsSet("clickhouse-password-file")) {
    const std::string path = flags.Get("clickhouse-password-file");
    std::ifstream in(path);
    if (!in) {
      return BadFlag("clickhouse-password-file", "cannot read " + path);
    }
    std::getline(in, options.connection.password);
    while (!options.connection.password.empty() && (options.connection.password.back() == '\r' ||
                                                    options.connection.password.back() == ' ')) {
      options.connection.password.pop_back();
    }
  } else if (const char* password = std::getenv("PHAROS_CLICKHOUSE_PASSWORD")) {
    options.connection.password = password;
  }
  if (Result<CurlClickHouseTransport> checked = CurlClickHouseTransport::Create(options.connection);
      !checked) {
    return BadFlag("clickhouse-url", checked.error());
  }
  Result<uint64_t> batch = PositiveNumber(flags, "clickhouse-batch-rows");
  if (!batch) {
    return Error{batch.error(), ErrorKind::kInvalidArgument};
  }
  options.sink.batch_rows = static_cast<size_t>(*batch);
  options.sink.max_buffered_rows = std::max<size_t>(options.sink.max_buffered_rows, 10 * *batch);
  Result<std::chrono::milliseconds> interval = PositiveDuration(flags, "clickhouse-flush-interval");
  if (!interval) {
    return Error{interval.error(), ErrorKind::kInvalidArgument};
  }
  options.sink.max_delay = *interval;
  Result<std::chrono::milliseconds> retry = PositiveDuration(flags, "clickhouse-retry-max");
  if (!retry) {
    return Error{retry.error(), ErrorKind::kInvalidArgument};
  }
  options.sink.retry_max = *retry;
  options.sink.retry_initial = std::min(options.sink.retry_initial, *retry);
  Result<uint64_t> max_bytes = PositiveNumber(flags, "clickhouse-spool-max-bytes");
  if (!max_bytes) {
    return Error{max_bytes.error(), ErrorKind::kInvalidArgument};
  }
  options.spool_max_bytes = *max_bytes;
  Result<uint64_t> summary_batch = PositiveNumber(flags, "clickhouse-summary-batch");
  if (!summary_batch) {
    return Error{summary_batch.error(), ErrorKind::kInvalidArgument};
  }
  options.summary_batch = static_cast<size_t>(*summary_batch);
  Result<Millis> summary_pause = flags.GetDuration("clickhouse-summary-pause", Millis(0));
  if (!summary_pause) {
    return Error{summary_pause.error(), ErrorKind::kInvalidArgument};
  }
  options.summary_pause = *summary_pause;
  options.spool_dir =
      flags.IsSet("clickhouse-spool-dir") && !flags.Get("clickhouse-spool-dir").empty()
          ? std::filesystem::path(flags.Get("clickhouse-spool-dir"))
          : std::filesystem::path(db_path + ".clickhouse-spool");
  return std::optional<Options>(std::move(options));
}

Result<std::unique_ptr<ClickHouseAnalytics>> ClickHouseAnalytics::Open(const Options& options,
                                                                       const Clock& clock,
                                                                       MetricsRegistry& registry) {
  std::unique_ptr<ClickHouseAnalytics> analytics(new ClickHouseAnalytics());
  Result<CurlClickHouseTransport> transport = CurlClickHouseTransport::Create(options.connection);
  if (!transport) {
    return Error{"--clickhouse-url: " + transport.error(), ErrorKind::kInvalidArgument};
  }
  analytics->transport_ = std::make_unique<CurlClickHouseTransport>(std::move(transport).value());
  CurlClickHouseTransport::Options read_options = options.connection;
  read_options.timeout = std::chrono::milliseconds(10'000);
  read_options.connect_timeout = std::chrono::milliseconds(2'000);
  read_options.max_response_bytes = 256u << 20;  // 100,000 results of a few hundred bytes
  Result<CurlClickHouseTransport> read_transport = CurlClickHouseTransport::Create(read_options);
  if (!read_transport) {
    return Error{"--clickhouse-url: " + read_transport.error(), ErrorKind::kInvalidArgument};
  }
  analytics->read_transport_ =
      std::make_unique<CurlClickHouseTransport>(std::move(read_transport).value());
  analytics->clock_ = &clock;
  analytics->registry_ = &registry;
  analytics->database_ = options.sink.database;
  Result<std::unique_ptr<ClickHouseSpool>> spool =
      ClickHouseSpool::Open(options.spool_dir, options.spool_max_bytes);
  if (!spool) {
    return Error{spool.error() + " (--clickhouse-spool-dir)"};
  }
  analytics->spool_ = std::move(spool).value();
  if (analytics->spool_->segments() > 0) {
    Logger("clickhouse")
        .Info(
            "check results from an earlier run wait in the ClickHouse spool; "
            "they are sent once ClickHouse answers",
            {{"spool", options.spool_dir.string()},
             {"rows", static_cast<int64_t>(analytics->spool_->rows())}});
  }
  analytics->sink_ = std::make_unique<ClickHouseSink>(*analytics->transport_, *analytics->spool_,
                                                      clock, registry, options.sink);
  analytics->sink_->Start();
  return analytics;
}

ClickHouseAnalytics::~ClickHouseAnalytics() { Stop(); }

std::unique_ptr<ResultStore> ClickHouseAnalytics::Wrap(ResultStore& primary) {
  reader_ = std::make_unique<ClickHouseHistoryReader>(*read_transport_, database_, *clock_);
  ClickHouseSink& sink = *sink_;
  fallback_ = std::make_unique<FallbackHistoryReader>(
      *reader_, primary, [&sink] { return sink.LocalReadReason(); }, *registry_, *clock_);
  return std::make_unique<AnalyticsResultStore>(primary, *sink_, *fallback_);
}

void ClickHouseAnalytics::Stop() {
  if (sink_) {
    sink_->Stop();
  }
}

}  // namespace pharos

#include "operator/controller/operator_command.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace pharos {
namespace {

using Args = std::vector<std::string>;

TEST(OperatorCommandTest, DefaultsMatchTheDocumentation) {
  Result<OperatorCommand::Parsed> parsed = OperatorCommand::Parse({});
  ASSERT_TRUE(parsed) << parsed.error();
  const KubeOperatorOptions& options = parsed->options;
  EXPECT_EQ(options.watch_namespace, "");
  EXPECT_EQ(options.listen, "0.0.0.0:8080");
  EXPECT_EQ(options.db_path, "pharos.db");
  EXPECT_FALSE(options.leader_elect);
  EXPECT_EQ(options.leader_election_id, "pharos-operator");
  EXPECT_NE(options.identity.find('_'), std::string::npos);  // hostname_pid
  EXPECT_EQ(options.status_interval, std::chrono::seconds(30));
  EXPECT_DOUBLE_EQ(options.status_qps, 10);
  EXPECT_EQ(options.lease_duration, std::chrono::seconds(15));
  EXPECT_EQ(options.renew_deadline, std::chrono::seconds(10));
  EXPECT_EQ(options.retry_period, std::chrono::seconds(2));
  EXPECT_EQ(options.duration_phases, OperatorMetrics::DurationPhases::kAll);
  EXPECT_TRUE(options.discovery);
}

TEST(OperatorCommandTest, NoDiscoveryTurnsDiscoveryOff) {
  Result<OperatorCommand::Parsed> parsed = OperatorCommand::Parse({"--no-discovery"});
  ASSERT_TRUE(parsed) << parsed.error();
  EXPECT_FALSE(parsed->options.discovery);
}

TEST(OperatorCommandTest, DurationPhasesTotal) {
  Result<OperatorCommand::Parsed> parsed = OperatorCommand::Parse({"--duration-phases=total"});
  ASSERT_TRUE(parsed) << parsed.error();
  EXPECT_EQ(parsed->options.duration_phases, OperatorMetrics::DurationPhases::kTotal);
}

TEST(OperatorCommandTest, AcceptsTheHelmChartArguments) {
  Result<OperatorCommand::Parsed> parsed = OperatorCommand::Parse(
      {"--namespace", "", "--listen", "0.0.0.0:8080", "--db", "/var/lib/pharos/pharos.db",
       "--leader-elect", "--leader-election-namespace", "pharos-system", "--regions-config",
       "/etc/pharos/regions.yaml", "--probe-token-file", "/etc/pharos/token/token",
       "--status-interval", "30s", "--log-format", "json"});
  ASSERT_TRUE(parsed) << parsed.error();
  EXPECT_EQ(parsed->options.watch_namespace, "");
  EXPECT_TRUE(parsed->options.leader_elect);
  EXPECT_EQ(parsed->options.leader_election_namespace, "pharos-system");
  EXPECT_EQ(parsed->options.regions_config_path, "/etc/pharos/regions.yaml");
  EXPECT_EQ(parsed->log_format, "json");
}

TEST(OperatorCommandTest, ClickHouseFlagsConfigureTheSink) {
  Result<OperatorCommand::Parsed> none = OperatorCommand::Parse({});
  ASSERT_TRUE(none) << none.error();
  EXPECT_FALSE(none->options.clickhouse);

  Result<OperatorCommand::Parsed> parsed = OperatorCommand::Parse(
      {"--clickhouse-url", "http://clickhouse:8123", "--clickhouse-database", "history",
       "--clickhouse-user", "pharos", "--db", "/data/pharos.db", "--clickhouse-batch-rows", "200",
       "--clickhouse-flush-interval", "2s"});
  ASSERT_TRUE(parsed) << parsed.error();
  ASSERT_TRUE(parsed->options.clickhouse);
  const ClickHouseAnalytics::Options& clickhouse = *parsed->options.clickhouse;
  EXPECT_EQ(clickhouse.connection.url, "http://clickhouse:8123");
  EXPECT_EQ(clickhouse.connection.user, "pharos");
  EXPECT_EQ(clickhouse.sink.database, "history");
  EXPECT_EQ(clickhouse.sink.batch_rows, 200u);
  EXPECT_EQ(clickhouse.sink.max_delay, std::chrono::seconds(2));
  EXPECT_EQ(clickhouse.spool_dir, "/data/pharos.db.clickhouse-spool");
  EXPECT_EQ(clickhouse.summary_batch, 2'000u);
  EXPECT_EQ(clickhouse.summary_pause, std::chrono::milliseconds(0));
  Result<OperatorCommand::Parsed> paced = OperatorCommand::Parse(
      {"--clickhouse-url", "http://clickhouse:8123", "--clickhouse-summary-batch", "500",
       "--clickhouse-summary-pause", "2s"});
  ASSERT_TRUE(paced) << paced.error();
  EXPECT_EQ(paced->options.clickhouse->summary_batch, 500u);
  EXPECT_EQ(paced->options.clickhouse->summary_pause, std::chrono::seconds(2));

  for (const Args& args :
       {Args{"--clickhouse-url", "clickhouse:8123"},
        Args{"--clickhouse-url", "http://ch:8123", "--clickhouse-database", "a-b"},
        Args{"--clickhouse-url", "http://ch:8123", "--clickhouse-batch-rows", "0"},
        Args{"--clickhouse-url", "http://ch:8123", "--clickhouse-summary-batch", "0"},
        Args{"--clickhouse-url", "http://ch:8123", "--clickhouse-summary-pause", "-1s"},
        Args{"--clickhouse-url", "http://ch:8123", "--clickhouse-password-file",
             "/nonexistent/pw"}}) {
    Result<OperatorCommand::Parsed> bad = OperatorCommand::Parse(args);
    ASSERT_FALSE(bad) << args[2 % args.size()];
    EXPECT_NE(bad.error().find("--clickhouse-"), std::string::npos) << bad.error();
  }
}

TEST(OperatorCommandTest, RefusesBadValuesNamingTheFlag) {
  const std::vector<std::pair<Args, std::string>> cases = {
      {{"--status-interval", "soon"}, "--status-interval"},
      {{"--status-interval", "0s"}, "--status-interval"},
      {{"--status-qps", "0"}, "--status-qps"},
      {{"--status-qps", "10x"}, "--status-qps"},
      {{"--lease-duration", "-1s"}, "--lease-duration"},
      {{"--retention", "10m"}, "--retention"},
      {{"--identity", ""}, "--identity"},
      {{"--operator-url", "pharos:8080"}, "--operator-url"},
      {{"--log-level", "loud"}, "--log-level"},
      {{"--duration-phases", "some"}, "--duration-phases"},
      {{"--no-such-flag"}, "no-such-flag"},
      {{"positional"}, "positional"},
  };
  for (const auto& [args, flag] : cases) {
    Result<OperatorCommand::Parsed> parsed = OperatorCommand::Parse(args);
    ASSERT_FALSE(parsed) << args.front();
    EXPECT_NE(parsed.error().find(flag), std::string::npos) << parsed.error();
  }
}

TEST(OperatorCommandTest, HelpListsEveryFlagAndExitsZero) {
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(OperatorCommand(out, err).Run({"--help"}), 0);
  for (const char* flag : {"--kubeconfig",
                           "--context",
                           "--namespace",
                           "--listen",
                           "--db",
                           "--leader-elect",
                           "--leader-election-namespace",
                           "--leader-election-id",
                           "--identity",
                           "--regions-config",
                           "--probe-token-file",
                           "--status-interval",
                           "--status-qps",
                           "--probe-image",
                           "--operator-url",
                           "--log-format",
                           "--log-level",
                           "--duration-phases",
                           "--no-discovery",
                           "--version"}) {
    EXPECT_NE(out.str().find(flag), std::string::npos) << flag;
  }
}

TEST(OperatorCommandTest, BadFlagsExitTwo) {
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(OperatorCommand(out, err).Run({"--status-qps", "-3"}), 2);
  EXPECT_NE(err.str().find("--status-qps"), std::string::npos);
}

TEST(OperatorCommandTest, AMissingRegionsConfigIsABadInput) {
  std::ostringstream out;
  std::ostringstream err;
  const std::string kubeconfig = ::testing::TempDir() + "/operator-command-kubeconfig";
  {
    std::ofstream file(kubeconfig);
    file << "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
            "clusters: [{name: k, cluster: {server: 'https://127.0.0.1:1'}}]\n"
            "users: [{name: u, user: {token: t}}]\n"
            "contexts: [{name: c, context: {cluster: k, user: u}}]\n";
  }
  EXPECT_EQ(OperatorCommand(out, err).Run({"--kubeconfig", kubeconfig, "--regions-config",
                                           "/nonexistent/regions.yaml", "--db", ":memory:"}),
            2);
  EXPECT_NE(err.str().find("--regions-config"), std::string::npos) << err.str();
}

}  // namespace
}  // namespace pharos

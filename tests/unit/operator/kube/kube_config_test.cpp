#include "operator/kube/kube_config.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "common/manual_clock.h"
#include "operator/kube/bearer_token_source.h"

namespace pharos {
namespace {

namespace fs = std::filesystem;

// "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n" in base64.
constexpr const char* kCaPem = "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n";
constexpr const char* kCaBase64 =
    "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCkNBCi0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K";

class KubeConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("pharos-kubeconfig-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const std::string& relative, const std::string& text) {
    const fs::path path = dir_ / relative;
    fs::create_directories(path.parent_path());
    std::ofstream(path) << text;
    return path.string();
  }

  KubeConfigLoadOptions Options(const std::map<std::string, std::string>& env) {
    KubeConfigLoadOptions options;
    options.getenv = [env](const std::string& name) -> std::optional<std::string> {
      const auto it = env.find(name);
      if (it == env.end()) return std::nullopt;
      return it->second;
    };
    options.service_account_dir = (dir_ / "sa").string();
    return options;
  }

  fs::path dir_;
};

TEST_F(KubeConfigTest, ReadsTokenUserWithInlineCa) {
  const std::string file = Write("config", std::string(R"(
apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: https://127.0.0.1:6443/
    certificate-authority-data: )") + kCaBase64 +
                                               R"(
users:
- name: admin
  user:
    token: " secret-token "
contexts:
- name: test
  context: {cluster: test, user: admin, namespace: shop}
current-context: test
)");
  auto config = KubeConfig::FromFiles({file}, "");
  ASSERT_TRUE(config.ok()) << config.error();
  EXPECT_EQ(config->server, "https://127.0.0.1:6443");
  EXPECT_EQ(config->ca_pem, kCaPem);
  EXPECT_TRUE(config->ca_file.empty());
  EXPECT_EQ(config->token, "secret-token");
  EXPECT_EQ(config->namespace_name, "shop");
  EXPECT_FALSE(config->insecure_skip_tls_verify);
  EXPECT_NE(config->source.find("context test"), std::string::npos);
}

TEST_F(KubeConfigTest, ResolvesRelativePathsAgainstTheFileTheyAreWrittenIn) {
  Write("a/pki/ca.crt", kCaPem);
  Write("a/pki/admin.crt", "cert");
  Write("a/pki/admin.key", "key");
  Write("b/token", "from-file\n");
  const std::string a = Write("a/config", R"(
clusters:
- name: c
  cluster: {server: "https://k8s.example:443", certificate-authority: pki/ca.crt}
users:
- name: cert-user
  user: {client-certificate: pki/admin.crt, client-key: pki/admin.key}
contexts:
- name: with-cert
  context: {cluster: c, user: cert-user}
- name: with-token-file
  context: {cluster: c, user: file-user}
current-context: with-cert
)");
  const std::string b = Write("b/config", R"(
users:
- name: file-user
  user: {tokenFile: token}
)");
  auto config = KubeConfig::FromFiles({a, b}, "");
  ASSERT_TRUE(config.ok()) << config.error();
  EXPECT_EQ(config->ca_file, (dir_ / "a/pki/ca.crt").string());
  EXPECT_EQ(config->client_cert_file, (dir_ / "a/pki/admin.crt").string());
  EXPECT_EQ(config->client_key_file, (dir_ / "a/pki/admin.key").string());
  EXPECT_EQ(config->namespace_name, "default");

  auto token_config = KubeConfig::FromFiles({a, b}, "with-token-file");
  ASSERT_TRUE(token_config.ok()) << token_config.error();
  EXPECT_EQ(token_config->token_file, (dir_ / "b/token").string());  // b's folder, not a's
}

TEST_F(KubeConfigTest, MergesKubeconfigListFirstFileWinsPerEntry) {
  const std::string first = Write("first", R"(
clusters:
- name: shared
  cluster: {server: "https://first:6443", insecure-skip-tls-verify: true}
users:
- name: shared-user
  user: {token: first-token}
contexts:
- name: only-in-first
  context: {cluster: shared, user: shared-user, namespace: one}
current-context: only-in-second
)");
  const std::string second = Write("second", R"(
clusters:
- name: shared
  cluster: {server: "https://second:6443"}
users:
- name: shared-user
  user: {token: second-token}
- name: second-user
  user: {token: only-second}
contexts:
- name: only-in-second
  context: {cluster: shared, user: second-user, namespace: two}
current-context: only-in-first
)");
  auto env = Options({{"KUBECONFIG", first + "::" + dir_.string() + "/missing:" + second}});
  auto config = KubeConfig::Load(env);
  ASSERT_TRUE(config.ok()) << config.error();
  // current-context from the first file that sets it, the context from the second file, the
  // cluster from the first file that defines it.
  EXPECT_EQ(config->server, "https://first:6443");
  EXPECT_TRUE(config->insecure_skip_tls_verify);
  EXPECT_EQ(config->token, "only-second");
  EXPECT_EQ(config->namespace_name, "two");

  env.context = "only-in-first";
  auto overridden = KubeConfig::Load(env);
  ASSERT_TRUE(overridden.ok()) << overridden.error();
  EXPECT_EQ(overridden->token, "first-token");
  EXPECT_EQ(overridden->namespace_name, "one");
}

TEST_F(KubeConfigTest, ErrorsNameTheFileAndTheEntry) {
  const std::string file = Write("config", R"(
clusters:
- name: c
  cluster: {server: "https://x:6443"}
users:
- name: ok
  user: {token: t}
- name: eks-user
  user:
    exec: {apiVersion: client.authentication.k8s.io/v1, command: aws}
- name: half-cert
  user: {client-certificate-data: Y2VydA==}
- name: bad-file
  user: {client-certificate: nope.crt, client-key: nope.key}
contexts:
- {name: exec, context: {cluster: c, user: eks-user}}
- {name: half, context: {cluster: c, user: half-cert}}
- {name: missing-cluster, context: {cluster: gone, user: ok}}
- {name: missing-file, context: {cluster: c, user: bad-file}}
)");
  auto exec = KubeConfig::FromFiles({file}, "exec");
  ASSERT_FALSE(exec.ok());
  EXPECT_NE(exec.error().find("user \"eks-user\""), std::string::npos) << exec.error();
  EXPECT_NE(exec.error().find(file), std::string::npos) << exec.error();
  EXPECT_NE(exec.error().find("exec credential plugin"), std::string::npos) << exec.error();
  EXPECT_NE(exec.error().find("users[1]"), std::string::npos) << exec.error();

  auto half = KubeConfig::FromFiles({file}, "half");
  ASSERT_FALSE(half.ok());
  EXPECT_NE(half.error().find("must be given together"), std::string::npos) << half.error();

  auto cluster = KubeConfig::FromFiles({file}, "missing-cluster");
  ASSERT_FALSE(cluster.ok());
  EXPECT_NE(cluster.error().find("cluster \"gone\" is not defined"), std::string::npos)
      << cluster.error();

  auto missing = KubeConfig::FromFiles({file}, "missing-file");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find((dir_ / "nope.crt").string()), std::string::npos)
      << missing.error();

  auto no_context = KubeConfig::FromFiles({file}, "");
  ASSERT_FALSE(no_context.ok());
  EXPECT_NE(no_context.error().find("no current-context"), std::string::npos) << no_context.error();

  auto unknown = KubeConfig::FromFiles({file}, "typo");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().find("context \"typo\" is not defined"), std::string::npos)
      << unknown.error();
}

TEST_F(KubeConfigTest, RejectsBrokenFiles) {
  const std::string bad_yaml = Write("bad", "clusters: [\n");
  auto parsed = KubeConfig::FromFiles({bad_yaml}, "");
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.error().find(bad_yaml), std::string::npos) << parsed.error();

  const std::string no_server = Write("noserver", R"(
clusters: [{name: c, cluster: {certificate-authority-data: "%%%"}}]
contexts: [{name: x, context: {cluster: c}}]
current-context: x
)");
  auto server = KubeConfig::FromFiles({no_server}, "");
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.error().find("server is not set"), std::string::npos) << server.error();

  auto none = KubeConfig::FromFiles({(dir_ / "a").string(), (dir_ / "b").string()}, "");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().find("no kubeconfig file found"), std::string::npos) << none.error();
}

TEST_F(KubeConfigTest, TlsServerNameIsKept) {
  const std::string file = Write("config", R"(
clusters: [{name: c, cluster: {server: "https://10.0.0.1:6443", tls-server-name: kubernetes.default}}]
contexts: [{name: x, context: {cluster: c}}]
current-context: x
)");
  auto config = KubeConfig::FromFiles({file}, "");
  ASSERT_TRUE(config.ok()) << config.error();
  EXPECT_EQ(config->tls_server_name, "kubernetes.default");
  EXPECT_TRUE(config->token.empty());
}

TEST_F(KubeConfigTest, InClusterJoinsIpv6HostsAndReadsTheServiceAccount) {
  Write("sa/token", "sa-token\n");
  Write("sa/ca.crt", kCaPem);
  Write("sa/namespace", "pharos-system\n");
  auto config = KubeConfig::InCluster(
      Options({{"KUBERNETES_SERVICE_HOST", "fd00:10:96::1"}, {"KUBERNETES_SERVICE_PORT", "443"}}));
  ASSERT_TRUE(config.ok()) << config.error();
  EXPECT_EQ(config->server, "https://[fd00:10:96::1]:443");
  EXPECT_EQ(config->token_file, (dir_ / "sa/token").string());
  EXPECT_EQ(config->ca_file, (dir_ / "sa/ca.crt").string());
  EXPECT_EQ(config->namespace_name, "pharos-system");

  auto v4 = KubeConfig::InCluster(
      Options({{"KUBERNETES_SERVICE_HOST", "10.96.0.1"}, {"KUBERNETES_SERVICE_PORT", "6443"}}));
  ASSERT_TRUE(v4.ok()) << v4.error();
  EXPECT_EQ(v4->server, "https://10.96.0.1:6443");
}

TEST_F(KubeConfigTest, InClusterErrorsSayWhatIsMissing) {
  auto no_env = KubeConfig::InCluster(Options({}));
  ASSERT_FALSE(no_env.ok());
  EXPECT_NE(no_env.error().find("KUBERNETES_SERVICE_HOST"), std::string::npos);

  auto no_token = KubeConfig::InCluster(
      Options({{"KUBERNETES_SERVICE_HOST", "10.0.0.1"}, {"KUBERNETES_SERVICE_PORT", "443"}}));
  ASSERT_FALSE(no_token.ok());
  EXPECT_NE(no_token.error().find((dir_ / "sa/token").string()), std::string::npos)
      << no_token.error();
}

TEST_F(KubeConfigTest, LoadOrderIsFlagThenEnvThenInClusterThenHome) {
  const auto kubeconfig = [&](const std::string& name, const std::string& server) {
    return Write(name, "clusters: [{name: c, cluster: {server: \"" + server +
                           "\"}}]\ncontexts: [{name: x, context: {cluster: c}}]\n"
                           "current-context: x\n");
  };
  const std::string flag = kubeconfig("flag", "https://flag:1");
  const std::string env = kubeconfig("env", "https://env:1");
  kubeconfig("home/.kube/config", "https://home:1");
  Write("sa/token", "t");
  Write("sa/ca.crt", kCaPem);
  const std::map<std::string, std::string> everything = {{"KUBECONFIG", env},
                                                         {"KUBERNETES_SERVICE_HOST", "10.0.0.1"},
                                                         {"KUBERNETES_SERVICE_PORT", "443"},
                                                         {"HOME", (dir_ / "home").string()}};

  auto options = Options(everything);
  options.kubeconfig_path = flag;
  EXPECT_EQ(KubeConfig::Load(options)->server, "https://flag:1");
  EXPECT_EQ(KubeConfig::Load(Options(everything))->server, "https://env:1");
  auto without_env = everything;
  without_env.erase("KUBECONFIG");
  EXPECT_EQ(KubeConfig::Load(Options(without_env))->server, "https://10.0.0.1:443");
  without_env.erase("KUBERNETES_SERVICE_HOST");
  EXPECT_EQ(KubeConfig::Load(Options(without_env))->server, "https://home:1");
  without_env.erase("HOME");
  auto nothing = KubeConfig::Load(Options(without_env));
  ASSERT_FALSE(nothing.ok());
  EXPECT_NE(nothing.error().find("no Kubernetes configuration found"), std::string::npos);

  options.kubeconfig_path = (dir_ / "does-not-exist").string();
  auto missing = KubeConfig::Load(options);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find("does-not-exist"), std::string::npos);
}

TEST(KubeConfigHelpersTest, SplitPathListDropsEmptiesAndRepeats) {
  EXPECT_EQ(KubeConfig::SplitPathList("a::b:a:"), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(KubeConfig::SplitPathList("").empty());
}

TEST(KubeConfigHelpersTest, JoinHostPortBracketsIpv6) {
  EXPECT_EQ(JoinHostPort("::1", "443"), "[::1]:443");
  EXPECT_EQ(JoinHostPort("[::1]", "443"), "[::1]:443");
  EXPECT_EQ(JoinHostPort("kubernetes.default.svc", "443"), "kubernetes.default.svc:443");
}

TEST(KubeConfigHelpersTest, DecodesBase64) {
  EXPECT_EQ(DecodeBase64("aGVsbG8="), "hello");
  EXPECT_EQ(DecodeBase64("aGVs\nbG8"), "hello");
  EXPECT_EQ(DecodeBase64(""), "");
  EXPECT_FALSE(DecodeBase64("a$b").has_value());
  EXPECT_FALSE(DecodeBase64("aGVsbG8=x").has_value());
}

TEST_F(KubeConfigTest, BearerTokenFileIsReReadEveryMinute) {
  const std::string file = Write("token", "first\n");
  ManualClock clock;
  BearerTokenSource source("ignored", file, clock);
  EXPECT_EQ(*source.Token(), "first");
  Write("token", "second\n");
  clock.Advance(std::chrono::seconds(59));
  EXPECT_EQ(*source.Token(), "first");
  clock.Advance(std::chrono::seconds(1));
  EXPECT_EQ(*source.Token(), "second");
  fs::remove(file);
  clock.Advance(std::chrono::seconds(61));
  EXPECT_EQ(*source.Token(), "second");  // a failed re-read keeps the last good token

  BearerTokenSource fixed("fixed", "", clock);
  EXPECT_EQ(*fixed.Token(), "fixed");
  BearerTokenSource missing("", (dir_ / "missing").string(), clock);
  EXPECT_FALSE(missing.Token().ok());
}

}  // namespace
}  // namespace pharos

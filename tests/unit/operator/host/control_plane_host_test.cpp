#include "operator/host/control_plane_host.h"

#include <curl/curl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "common/manual_clock.h"
#include "unit/operator/control/core_test_support.h"

namespace pharos {
namespace {

using ::pharos::testing::MakeMonitor;
using ::pharos::testing::SampleValue;
using ::pharos::testing::TempDirectory;
using ::testing::HasSubstr;

size_t Append(char* data, size_t size, size_t count, void* body) {
  static_cast<std::string*>(body)->append(data, size * count);
  return size * count;
}

// GET url → (status, body).
std::pair<long, std::string> Get(const std::string& url) {
  CURL* curl = curl_easy_init();
  std::string body;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Append);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
  long status = 0;
  if (curl_easy_perform(curl) == CURLE_OK) {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  }
  curl_easy_cleanup(curl);
  return {status, body};
}

ControlPlaneHost::Options HostOptions(const TempDirectory& dir) {
  ControlPlaneHost::Options options;
  options.db_path = (dir.path() / "pharos.db").string();
  options.core.metrics.version = "test";
  return options;
}

TEST(ControlPlaneHostTest, ServesTheApisTheMetricsAndTheEditionsOwnRoutes) {
  TempDirectory dir;
  SystemClock clock;
  auto opened = ControlPlaneHost::Open(clock, nullptr, HostOptions(dir));
  ASSERT_TRUE(opened.ok()) << opened.error();
  ControlPlaneHost& host = **opened;
  ASSERT_TRUE(host.Route("GET", "/edition",
                         [](const HttpRequest&, const HttpResponder& responder) {
                           responder.Send(HttpResponse::Text(200, "standalone"));
                         })
                  .ok());
  ASSERT_TRUE(host.core().UpsertMonitor(MakeMonitor("api")).ok());
  host.core().MarkMonitorsLoaded();
  ASSERT_TRUE(host.Start("127.0.0.1:0").ok());

  EXPECT_EQ(Get(host.base_url() + "/healthz").first, 200);
  EXPECT_EQ(Get(host.base_url() + "/readyz").first, 200);
  EXPECT_EQ(Get(host.base_url() + "/edition"), std::make_pair(200L, std::string("standalone")));
  const auto monitors = Get(host.base_url() + "/api/v1/monitors");
  EXPECT_EQ(monitors.first, 200);
  EXPECT_THAT(monitors.second, HasSubstr("\"api\""));
  // Without probe tokens every external probe is refused.
  EXPECT_EQ(Get(host.base_url() + "/api/v1/work/lease").first, 405) << "POST only";

  host.CountStatusWrite("ok");
  host.CountStatusWrite("something else");
  const std::string metrics = host.registry().Expose();
  EXPECT_EQ(SampleValue(metrics, "pharos_status_writes_total{result=\"ok\"}"), 1.0);
  EXPECT_EQ(SampleValue(metrics, "pharos_status_writes_total{result=\"conflict\"}"), 0.0);
  EXPECT_EQ(SampleValue(metrics, "pharos_status_writes_total{result=\"error\"}"), 1.0);
  EXPECT_EQ(SampleValue(metrics, "pharos_build_info{version=\"test\"}"), 1.0);

  host.BeginShutdown();
  host.Stop();
  host.Stop();  // idempotent
}

TEST(ControlPlaneHostTest, ADatabaseThatCannotBeOpenedNamesTheFlag) {
  TempDirectory dir;
  SystemClock clock;
  ControlPlaneHost::Options options = HostOptions(dir);
  options.db_path = (dir.path() / "no" / "such" / "dir" / "pharos.db").string();
  auto opened = ControlPlaneHost::Open(clock, nullptr, options);
  ASSERT_FALSE(opened.ok());
  EXPECT_THAT(opened.error(), HasSubstr("(--db)"));
  EXPECT_THAT(opened.error(), HasSubstr(options.db_path));
}

TEST(ControlPlaneHostTest, AnAddressInUseIsRefusedWithTheAddress) {
  TempDirectory first_dir;
  TempDirectory second_dir;
  SystemClock clock;
  auto first = ControlPlaneHost::Open(clock, nullptr, HostOptions(first_dir));
  auto second = ControlPlaneHost::Open(clock, nullptr, HostOptions(second_dir));
  ASSERT_TRUE(first.ok() && second.ok());
  ASSERT_TRUE((*first)->Start("127.0.0.1:0").ok());
  const std::string address = (*first)->base_url().substr(std::string("http://").size());
  Status refused = (*second)->Start(address);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.error(), HasSubstr("cannot listen on " + address));
}

}  // namespace
}  // namespace pharos

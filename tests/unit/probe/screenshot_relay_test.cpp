#include "probe/screenshot_relay.h"

#include <curl/curl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "common/http_server.h"
#include "probe/screenshot_server.h"
#include "probe/sidecar_capturer.h"
#include "unit/eventually.h"
#include "unit/probe/temp_token_file.h"

namespace pharos {
namespace {

using Json = nlohmann::json;
using ::testing::ElementsAre;
using testing::Eventually;
using ::testing::HasSubstr;
using testing::TempTokenFile;

const std::string kPng = std::string("\x89PNG\r\n\x1a\n", 8) + "pixels";

// Stands in for the browser: answers from the URL ("…/fail" fails), can hold a capture until
// released (a hanging page).
class ScriptedCapturer final : public ScreenshotCapturer {
 public:
  Result<std::string> Capture(const std::string& url, const TargetPolicy& added) override {
    std::unique_lock lock(mu_);
    urls_.push_back(url);
    policies_.push_back(added);
    cv_.notify_all();
    cv_.wait(lock, [this] { return !hold_; });
    if (url.ends_with("/fail")) return Error{"screenshot of " + url + " timed out after 30 s"};
    return kPng;
  }
  void Hold(bool hold) {
    std::lock_guard lock(mu_);
    hold_ = hold;
    cv_.notify_all();
  }
  size_t captures() {
    std::lock_guard lock(mu_);
    return urls_.size();
  }
  std::vector<TargetPolicy> policies() {
    std::lock_guard lock(mu_);
    return policies_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool hold_ = false;
  std::vector<std::string> urls_;
  std::vector<TargetPolicy> policies_;
};

// The operator's three screenshot routes, recording what the probe sent.
class ScreenshotOperator {
 public:
  ScreenshotOperator() {
    EXPECT_TRUE(server_
                    .Route("POST", "/api/v1/work/screenshots/lease",
                           [this](const HttpRequest& request, const HttpResponder& responder) {
                             std::lock_guard lock(mu_);
                             lease_bodies_.push_back(Json::parse(request.body));
                             Json list = Json::array();
                             if (!requests_.empty()) {
                               list.push_back(requests_.front());
                               requests_.erase(requests_.begin());
                             }
                             Json reply = {{"requests", list}};
                             if (!policy_.is_null()) reply["targetPolicy"] = policy_;
                             responder.Send(HttpResponse::Json(200, reply.dump()));
                           })
                    .ok());
    EXPECT_TRUE(server_
                    .Route("POST", "/api/v1/work/screenshots/upload",
                           [this](const HttpRequest& request, const HttpResponder& responder) {
                             std::lock_guard lock(mu_);
                             uploads_.push_back(
                                 request.query.at("name") + "/" + request.query.at("region") + "/" +
                                 request.query.at("id") + "/" +
                                 std::string(request.Header("Content-Type")) + "/" + request.body);
                             responder.Send(HttpResponse::Json(200, R"({"url":"/x.png"})"));
                           })
                    .ok());
    EXPECT_TRUE(server_
                    .Route("POST", "/api/v1/work/screenshots/failed",
                           [this](const HttpRequest& request, const HttpResponder& responder) {
                             std::lock_guard lock(mu_);
                             const Json body = Json::parse(request.body);
                             failures_.push_back(body["id"].get<std::string>() + ": " +
                                                 body["error"].get<std::string>());
                             responder.Send(HttpResponse::Json(200, "{}"));
                           })
                    .ok());
    EXPECT_TRUE(server_.Start("127.0.0.1:0").ok());
  }
  ~ScreenshotOperator() { server_.Stop(); }

  void Ask(const std::string& id, const std::string& url) {
    std::lock_guard lock(mu_);
    requests_.push_back({{"id", id},
                         {"url", url},
                         {"monitor", "shop/front"},
                         {"incident", "inc-" + id},
                         {"moment", "down"}});
  }
  // The cluster-wide policy sent with the requests.
  void SetPolicy(Json policy) {
    std::lock_guard lock(mu_);
    policy_ = std::move(policy);
  }
  std::string url() const { return server_.base_url(); }
  std::vector<std::string> uploads() {
    std::lock_guard lock(mu_);
    return uploads_;
  }
  std::vector<std::string> failures() {
    std::lock_guard lock(mu_);
    return failures_;
  }
  std::vector<Json> lease_bodies() {
    std::lock_guard lock(mu_);
    return lease_bodies_;
  }

 private:
  HttpServer server_{HttpServerOptions{}};
  std::mutex mu_;
  std::vector<Json> requests_;
  std::vector<std::string> uploads_;
  std::vector<std::string> failures_;
  std::vector<Json> lease_bodies_;
  Json policy_;
};

class ScreenshotRelayTest : public ::testing::Test {
 protected:
  ScreenshotRelayTest() : sidecar_(browser_) {
    EXPECT_TRUE(sidecar_.Register(sidecar_server_).ok());
    sidecar_.Start();
    EXPECT_TRUE(sidecar_server_.Start("127.0.0.1:0").ok());
    OperatorClient::Options options;
    options.operator_url = operator_.url();
    options.token_file = token_.path();
    options.probe = {"probe-eu-1", "eu-west", "9.9.9"};
    client_ = std::make_unique<OperatorClient>(options);
    capturer_ =
        std::make_unique<SidecarCapturer>(SidecarCapturer::Options{sidecar_server_.base_url()});
  }
  ~ScreenshotRelayTest() override {
    browser_.Hold(false);
    sidecar_server_.Stop();
    sidecar_.Stop();
  }

  TempTokenFile token_{"probe-token-1"};
  ScreenshotOperator operator_;
  ScriptedCapturer browser_;
  ScreenshotServer sidecar_;
  HttpServer sidecar_server_{HttpServerOptions{}};
  std::unique_ptr<OperatorClient> client_;
  std::unique_ptr<SidecarCapturer> capturer_;
};

TEST_F(ScreenshotRelayTest, LeasesCapturesWithTheSidecarAndUploadsThePng) {
  ScreenshotRelay relay(*client_, *capturer_, {});
  EXPECT_EQ(relay.RunOnce({}), ScreenshotRelay::Round::kIdle);
  operator_.Ask("0a1b", "http://shop.example/");
  EXPECT_EQ(relay.RunOnce({}), ScreenshotRelay::Round::kHandled);
  EXPECT_THAT(operator_.uploads(), ElementsAre("probe-eu-1/eu-west/0a1b/image/png/" + kPng));
  EXPECT_EQ(operator_.lease_bodies().front(),
            (Json{{"name", "probe-eu-1"}, {"region", "eu-west"}, {"max", 1}}));
}

TEST_F(ScreenshotRelayTest, TheSidecarsBrowserGetsTheProbesAndTheClustersTargetPolicy) {
  SidecarCapturer::Options options{sidecar_server_.base_url()};
  Result<TargetPolicy> own = TargetPolicy::Create({"10.0.0.0/8"}, {"169.254.7.0/24"});
  ASSERT_TRUE(own.ok());
  options.policy = *own;
  SidecarCapturer capturer(options);
  operator_.SetPolicy({{"deny", {"127.0.0.2/32"}}, {"allow", Json::array()}});
  ScreenshotRelay relay(*client_, capturer, {});
  operator_.Ask("0a1d", "http://shop.example/");
  EXPECT_EQ(relay.RunOnce({}), ScreenshotRelay::Round::kHandled);
  ASSERT_EQ(browser_.policies().size(), 1U);
  const TargetPolicy given = browser_.policies().front();
  EXPECT_THAT(given.deny(),
              ElementsAre(Cidr::Parse("10.0.0.0/8").value(), Cidr::Parse("127.0.0.2/32").value()));
  EXPECT_THAT(given.allow(), ElementsAre(Cidr::Parse("169.254.7.0/24").value()));
  // The defaults travel with the class, not the request: still in force on the sidecar.
  EXPECT_TRUE(given.CheckLiteral("169.254.169.254").has_value());
  EXPECT_FALSE(given.CheckLiteral("169.254.7.1").has_value());
}

TEST_F(ScreenshotRelayTest, ABadClusterPolicyIsRefusedBeforeAnyCapture) {
  operator_.SetPolicy({{"deny", {"not-a-cidr"}}});
  ScreenshotRelay relay(*client_, *capturer_, {});
  operator_.Ask("0a1e", "http://shop.example/");
  EXPECT_EQ(relay.RunOnce({}), ScreenshotRelay::Round::kOperatorError);
  EXPECT_EQ(browser_.captures(), 0U);
}

TEST_F(ScreenshotRelayTest, AFailedCaptureIsReportedWithTheSidecarsReason) {
  ScreenshotRelay relay(*client_, *capturer_, {});
  operator_.Ask("0a1c", "http://shop.example/fail");
  EXPECT_EQ(relay.RunOnce({}), ScreenshotRelay::Round::kHandled);
  EXPECT_TRUE(operator_.uploads().empty());
  EXPECT_THAT(operator_.failures(),
              ElementsAre("0a1c: screenshot of http://shop.example/fail timed out after 30 s"));
}

TEST_F(ScreenshotRelayTest, TheSidecarTakesOneCaptureAtATimeAndRefusesWhatIsNotAUrl) {
  browser_.Hold(true);
  std::thread first([&] { EXPECT_TRUE(capturer_->Capture("http://shop.example/a", {}).ok()); });
  ASSERT_TRUE(Eventually([&] { return browser_.captures() == 1; }));
  SidecarCapturer second(SidecarCapturer::Options{sidecar_server_.base_url()});
  Result<std::string> busy = second.Capture("http://shop.example/b", {});
  ASSERT_FALSE(busy.ok());
  EXPECT_THAT(busy.error(), HasSubstr("a capture is in progress"));
  browser_.Hold(false);
  first.join();

  Result<std::string> file = second.Capture("file:///etc/passwd", {});
  ASSERT_FALSE(file.ok());
  EXPECT_THAT(file.error(), HasSubstr("expected an http:// or https:// URL"));
  EXPECT_EQ(browser_.captures(), 1u);
}

TEST_F(ScreenshotRelayTest, ASidecarThatIsNotThereIsAFailureNamingIt) {
  SidecarCapturer nowhere(SidecarCapturer::Options{"http://127.0.0.1:1"});
  Result<std::string> png = nowhere.Capture("http://shop.example/", {});
  ASSERT_FALSE(png.ok());
  EXPECT_THAT(png.error(),
              HasSubstr("the screenshot sidecar at http://127.0.0.1:1 did not answer"));
}

TEST_F(ScreenshotRelayTest, StartAndStopRunTheLoopOnItsOwnThread) {
  ScreenshotRelay::Options options;
  options.poll_interval = std::chrono::milliseconds(20);
  ScreenshotRelay relay(*client_, *capturer_, options);
  relay.Start();
  operator_.Ask("0a1d", "http://shop.example/");
  ASSERT_TRUE(Eventually([&] { return operator_.uploads().size() == 1; }));
  relay.Stop();
}

}  // namespace
}  // namespace pharos

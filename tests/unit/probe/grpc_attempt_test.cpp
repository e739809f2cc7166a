// gRPC health checks without a server: the hand-made HealthCheckRequest/Response framing
// (GrpcHealthMessage), the HTTP/2 request a monitor plans (GrpcAttempt::Plan), and how an HTTP
// exchange's answer becomes the check's (GrpcAttempt::Interpret), down to hostile answers.
// The calls themselves run against a real grpcio server in tests/integration/test_grpc_check.py.

#include "probe/grpc_attempt.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/clock.h"
#include "probe/assertion_evaluator.h"
#include "probe/grpc_health_message.h"

namespace pharos {
namespace {

using ::testing::HasSubstr;

std::string Frame(const std::string& message) {
  std::string frame(5, '\0');
  frame[4] = static_cast<char>(message.size());
  return frame + message;
}

Observation Answer(const std::string& body, const std::string& grpc_status,
                   const std::string& grpc_message = "") {
  Observation http;
  http.status_code = 200;
  http.headers = {{"content-type", "application/grpc"}};
  if (!grpc_status.empty()) http.headers.emplace_back("grpc-status", grpc_status);
  if (!grpc_message.empty()) http.headers.emplace_back("grpc-message", grpc_message);
  http.body = body;
  return http;
}

Monitor Grpc(const std::string& address, const std::string& service = "") {
  Monitor monitor;
  monitor.name = "grpc";
  monitor.type = MonitorType::kGrpc;
  monitor.grpc.emplace();
  monitor.grpc->address = address;
  monitor.grpc->service = service;
  return monitor;
}

TEST(GrpcHealthMessageTest, RequestIsAFramedStringField) {
  EXPECT_EQ(GrpcHealthMessage::FramedRequest(""), std::string(5, '\0'));
  EXPECT_EQ(GrpcHealthMessage::FramedRequest("db"), Frame("\x0a\x02"
                                                          "db"));
  const std::string long_name(200, 's');
  const std::string framed = GrpcHealthMessage::FramedRequest(long_name);
  EXPECT_EQ(framed.size(), 5u + 3u + 200u);  // a two-byte varint length
  EXPECT_EQ(static_cast<uint8_t>(framed[6]), 0xC8);
  EXPECT_EQ(static_cast<uint8_t>(framed[7]), 0x01);
}

TEST(GrpcHealthMessageTest, ResponseStatusAndUnknownFieldsAreSkipped) {
  EXPECT_EQ(*GrpcHealthMessage::ServingStatus(Frame("\x08\x01")), 1);
  EXPECT_EQ(*GrpcHealthMessage::ServingStatus(Frame("\x08\x02")), 2);
  EXPECT_EQ(*GrpcHealthMessage::ServingStatus(Frame("")), 0);  // proto3 default: UNKNOWN
  // A field the message does not define (field 2, a string) before the status.
  EXPECT_EQ(*GrpcHealthMessage::ServingStatus(Frame(std::string("\x12\x01x\x08\x01", 5))), 1);
  EXPECT_EQ(GrpcHealthMessage::ServingStatusName(1), "SERVING");
  EXPECT_EQ(GrpcHealthMessage::ServingStatusName(3), "SERVICE_UNKNOWN");
  EXPECT_EQ(GrpcHealthMessage::ServingStatusName(9), "status 9");
  EXPECT_EQ(GrpcHealthMessage::StatusCodeName(5), "NOT_FOUND");
  EXPECT_EQ(GrpcHealthMessage::StatusCodeName(12), "UNIMPLEMENTED");
  EXPECT_EQ(GrpcHealthMessage::DecodeStatusMessage("unknown%20service%zz"), "unknown service%zz");
}

TEST(GrpcHealthMessageTest, HostileResponsesAreErrorsInWords) {
  EXPECT_THAT(GrpcHealthMessage::ServingStatus("").error(), HasSubstr("no response message"));
  EXPECT_THAT(GrpcHealthMessage::ServingStatus(std::string("\0\0", 2)).error(),
              HasSubstr("truncated"));
  std::string compressed = Frame("\x08\x01");
  compressed[0] = 1;
  EXPECT_THAT(GrpcHealthMessage::ServingStatus(compressed).error(), HasSubstr("compressed"));
  std::string too_long = Frame("\x08\x01");
  too_long[1] = '\x7f';
  EXPECT_THAT(GrpcHealthMessage::ServingStatus(too_long).error(), HasSubstr("truncated"));
  EXPECT_THAT(GrpcHealthMessage::ServingStatus(Frame("\x08")).error(), HasSubstr("malformed"));
  EXPECT_THAT(
      GrpcHealthMessage::ServingStatus(Frame("\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"))
          .error(),
      HasSubstr("malformed"));
  EXPECT_THAT(GrpcHealthMessage::ServingStatus(Frame("\x0f\x01")).error(), HasSubstr("wire type"));
}

TEST(GrpcAttemptTest, PlanIsAnHttp2PostWithGrpcHeaders) {
  Monitor monitor = Grpc("127.0.0.1:50051", "db");
  monitor.timeout = std::chrono::milliseconds(2500);
  monitor.grpc->metadata = {{"x-team", "core"}};
  monitor.grpc->authority = "health.test";
  Result<HttpRequestPlan> plan = GrpcAttempt::Plan(monitor, std::nullopt);
  ASSERT_TRUE(plan.ok()) << plan.error();
  EXPECT_EQ(plan->url, "http://127.0.0.1:50051/grpc.health.v1.Health/Check");
  EXPECT_EQ(plan->method, HttpMethod::kPost);
  EXPECT_EQ(plan->version, HttpRequestPlan::Version::kHttp2PriorKnowledge);
  EXPECT_FALSE(plan->follow_redirects);
  EXPECT_EQ(plan->body, GrpcHealthMessage::FramedRequest("db"));
  using Header = std::pair<std::string, std::string>;
  EXPECT_THAT(plan->headers, ::testing::Contains(Header{"Content-Type", "application/grpc"}));
  EXPECT_THAT(plan->headers, ::testing::Contains(Header{"TE", "trailers"}));
  EXPECT_THAT(plan->headers, ::testing::Contains(Header{"grpc-timeout", "2500m"}));
  EXPECT_THAT(plan->headers, ::testing::Contains(Header{"Host", "health.test"}));
  EXPECT_THAT(plan->headers, ::testing::Contains(Header{"x-team", "core"}));

  monitor.grpc->tls = true;
  monitor.grpc->address = "[::1]:443";
  plan = GrpcAttempt::Plan(monitor, std::nullopt);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->url, "https://[::1]:443/grpc.health.v1.Health/Check");
  EXPECT_EQ(plan->version, HttpRequestPlan::Version::kHttp2OverTls);

  EXPECT_FALSE(GrpcAttempt::Plan(Grpc("no-port"), std::nullopt).ok());
}

TEST(GrpcAttemptTest, PlanForAServiceEndpointNamesTheServiceAndPinsTheAddress) {
  Monitor monitor = Grpc("");
  monitor.namespace_name = "shop";
  monitor.service.emplace();
  monitor.service->name = "orders";
  ServiceEndpoint endpoint{"10.1.2.3", 9090, "orders-abc"};
  Result<HttpRequestPlan> plan = GrpcAttempt::Plan(monitor, endpoint);
  ASSERT_TRUE(plan.ok()) << plan.error();
  EXPECT_EQ(plan->url, "http://orders.shop.svc:9090/grpc.health.v1.Health/Check");
  ASSERT_TRUE(plan->pinned.has_value());
  EXPECT_EQ(plan->pinned->ToString(), "10.1.2.3");
  EXPECT_EQ(plan->pinned->port(), 9090);
}

TEST(GrpcAttemptTest, InterpretServingStatuses) {
  Observation serving = GrpcAttempt::Interpret(Answer(Frame("\x08\x01"), "0"));
  EXPECT_EQ(serving.error, "");
  EXPECT_EQ(serving.grpc_serving, "SERVING");
  Observation not_serving = GrpcAttempt::Interpret(Answer(Frame("\x08\x02"), "0"));
  EXPECT_EQ(not_serving.grpc_serving, "NOT_SERVING");

  SystemClock clock;
  AssertionEvaluator evaluator(clock);
  const Monitor monitor = Grpc("127.0.0.1:1", "db");
  EXPECT_EQ(evaluator.Judge(monitor, serving).outcome, Outcome::kUp);
  const AssertionEvaluator::Verdict down = evaluator.Judge(monitor, not_serving);
  EXPECT_EQ(down.outcome, Outcome::kDown);
  ASSERT_TRUE(down.failed_assertion.has_value());
  EXPECT_EQ(down.failed_assertion->message,
            "gRPC health is NOT_SERVING for service \"db\", expected SERVING");
}

TEST(GrpcAttemptTest, InterpretFailedCallsAndNonGrpcAnswers) {
  EXPECT_EQ(GrpcAttempt::Interpret(Answer("", "5", "unknown%20service")).error,
            "gRPC status NOT_FOUND (5): unknown service (the health service does not know this "
            "service)");
  EXPECT_THAT(GrpcAttempt::Interpret(Answer("", "12")).error,
              HasSubstr("does not implement grpc.health.v1.Health"));
  Observation html = Answer("<html>", "");
  html.status_code = 404;
  EXPECT_EQ(GrpcAttempt::Interpret(html).error,
            "not a gRPC answer: HTTP 404 without a grpc-status");
  EXPECT_THAT(GrpcAttempt::Interpret(Answer("", "0")).error, HasSubstr("no response message"));
  EXPECT_THAT(GrpcAttempt::Interpret(Answer("", "abc")).error, HasSubstr("gRPC status code -1"));
  Observation refused;
  refused.error = "connection refused";
  EXPECT_EQ(GrpcAttempt::Interpret(refused).error, "connection refused");
}

}  // namespace
}  // namespace pharos

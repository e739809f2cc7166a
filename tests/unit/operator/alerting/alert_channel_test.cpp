#include "operator/alerting/alert_channel.h"

#include <gtest/gtest.h>

#include "operator/alerting/message_renderer.h"

namespace pharos {
namespace {

std::string Errors(const std::string& spec, DocumentOrigin origin = DocumentOrigin::kFile) {
  ParsedDocuments documents = ParseYamlDocuments(
      "apiVersion: pharos.dev/v1alpha1\nkind: AlertChannel\nmetadata: {name: c, namespace: "
      "shop}\nspec:\n" +
          spec,
      "channels.yaml");
  EXPECT_TRUE(documents.errors.empty());
  std::vector<ValidationError> errors;
  (void)ParseAlertChannel(documents.documents.at(0), origin, &errors);
  std::string text;
  for (const ValidationError& error : errors) text += error.ToString() + "\n";
  return text;
}

AlertChannel Parse(const std::string& spec, DocumentOrigin origin = DocumentOrigin::kFile) {
  ParsedDocuments documents = ParseYamlDocuments(
      "apiVersion: pharos.dev/v1alpha1\nkind: AlertChannel\nmetadata: {name: c, namespace: "
      "shop}\nspec:\n" +
          spec,
      "channels.yaml");
  std::vector<ValidationError> errors;
  Result<AlertChannel> channel = ParseAlertChannel(documents.documents.at(0), origin, &errors);
  EXPECT_TRUE(channel.ok()) << (channel.ok() ? "" : channel.error());
  return channel.ok() ? *channel : AlertChannel{};
}

TEST(AlertChannelTest, ParsesEachTypeWithDefaults) {
  AlertChannel hook = Parse(
      "  type: webhook\n  default: true\n  webhook:\n    url: https://hooks.example.com/x\n"
      "    secret: {valueFrom: {env: HOOK_SECRET}}\n");
  EXPECT_EQ(hook.type, ChannelType::kWebhook);
  EXPECT_TRUE(hook.is_default);
  EXPECT_EQ(*hook.url.value, "https://hooks.example.com/x");
  EXPECT_EQ(hook.secret.env, "HOOK_SECRET");
  AlertChannel pager =
      Parse("  type: pagerduty\n  pagerduty: {routingKey: {valueFrom: {file: /run/pd}}}\n");
  EXPECT_EQ(*pager.url.value, kPagerDutyEventsUrl);
  EXPECT_EQ(pager.severity, "critical");
  AlertChannel mail = Parse(
      "  type: email\n  email: {server: \"smtp.example.com:465\", security: tls, from: "
      "a@example.com, to: [b@example.com]}\n");
  EXPECT_EQ(mail.smtp_security, SmtpSecurity::kImplicitTls);
  AlertChannel kube =
      Parse("  type: slack\n  slack: {url: {valueFrom: {secretKeyRef: {name: slack, key: url}}}}\n",
            DocumentOrigin::kApiObject);
  EXPECT_EQ(kube.url.secret_name, "slack");
  EXPECT_EQ(kube.url.secret_key, "url");
}

TEST(AlertChannelTest, BadInputIsALocatedErrorNeverACrash) {
  EXPECT_NE(Errors("  type: webhok\n  webhok: {url: x}\n")
                .find("channels.yaml:5:9: spec.type: must be one of webhook, slack"),
            std::string::npos);
  EXPECT_NE(Errors("  type: webhok\n").find("did you mean \"webhook\"?"), std::string::npos);
  EXPECT_NE(Errors("  type: webhook\n  webhook: {url: \"ftp://x\"}\n")
                .find("spec.webhook.url: scheme must be http or https"),
            std::string::npos);
  EXPECT_NE(Errors("  type: webhook\n  webhook: {url: \"not a url\"}\n")
                .find("spec.webhook.url: must be an absolute URL"),
            std::string::npos);
  EXPECT_NE(Errors("  type: webhook\n  webhook: {url: \"https://x\", secret: plain}\n")
                .find("spec.webhook.secret: a secret is never written in the document"),
            std::string::npos);
  EXPECT_NE(
      Errors("  type: pagerduty\n  pagerduty: {}\n").find("spec.pagerduty.routingKey: required"),
      std::string::npos);
  EXPECT_NE(Errors("  type: slack\n").find("spec.slack: required for type slack"),
            std::string::npos);
  EXPECT_NE(
      Errors("  type: slack\n  slack: {url: \"https://x\"}\n  discord: {url: \"https://y\"}\n")
          .find("spec.discord: only the block of spec.type"),
      std::string::npos);
  EXPECT_NE(Errors("  type: webhook\n  webhook: {url: \"https://x\"}\n  template: {title: "
                   "\"{{ monitor.nme }}\"}\n")
                .find("spec.template.title: unknown placeholder {{ monitor.nme }}"),
            std::string::npos);
  EXPECT_NE(
      Errors("  type: webhook\n  webhook: {url: \"https://x\"}\n  template: {text: \"{{ x\"}\n")
          .find("never closed"),
      std::string::npos);
  EXPECT_NE(Errors("  type: webhook\n  webhook: {url: \"https://x\", secret: {valueFrom: {file: "
                   "/var/run/secrets/token}}}\n",
                   DocumentOrigin::kApiObject)
                .find("file would read the operator's own files"),
            std::string::npos);
  EXPECT_NE(
      Errors("  type: slack\n  slack: {url: {valueFrom: {secretKeyRef: {name: s, key: k}}}}\n")
          .find("secretKeyRef is for AlertChannel resources in Kubernetes"),
      std::string::npos);
  EXPECT_NE(Errors("  type: email\n  email: {server: smtp, from: nobody, to: []}\n")
                .find("spec.email.server: must be HOST:PORT"),
            std::string::npos);
}

TEST(MessageRendererTest, WebhookSignatureIsHmacSha256OfTheBody) {
  // RFC 4231 test case 2.
  EXPECT_EQ(MessageRenderer::Signature("Jefe", "what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

}  // namespace
}  // namespace pharos

#include "operator/web/status_page_parser.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace pharos {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

ParsedStatusPage ParseText(const std::string& text,
                           StatusPageSource source = StatusPageSource::kFile) {
  ParsedDocuments documents = ParseYamlDocuments(text, "pages.yaml");
  EXPECT_THAT(documents.errors, IsEmpty());
  EXPECT_EQ(documents.documents.size(), 1u);
  return ParseStatusPage(documents.documents.at(0), source);
}

std::vector<std::string> Errors(const ParsedStatusPage& parsed) {
  std::vector<std::string> out;
  for (const ValidationError& error : parsed.errors) out.push_back(error.ToString());
  return out;
}

constexpr const char* kFull = R"(apiVersion: pharos.dev/v1alpha1
kind: StatusPage
metadata:
  name: shop-page
  namespace: shop
spec:
  slug: shop
  title: Example Shop
  description: Everything the shop runs on.
  logoUrl: https://shop.example.com/logo.svg
  theme: dark
  regions: [eu-west, us-east]
  groups:
    - name: Storefront
      components:
        - monitor: homepage
          name: Website
          description: Public pages
        - monitor: payments
          namespace: billing
    - components:
        - selector:
            matchLabels: {tier: web}
  footerLinks:
    - {title: Support, url: "mailto:help@example.com"}
    - {title: Home, url: https://example.com}
  access:
    password: s3cret
    allowedCidrs: [10.0.0.0/8, "2001:db8::/32"]
)";

TEST(StatusPageParserTest, ReadsEveryField) {
  const ParsedStatusPage parsed = ParseText(kFull);
  EXPECT_THAT(Errors(parsed), IsEmpty());
  const StatusPage& page = parsed.page;
  EXPECT_EQ(page.Key(), "shop/shop-page");
  EXPECT_EQ(page.slug, "shop");
  EXPECT_EQ(page.title, "Example Shop");
  EXPECT_EQ(page.description, "Everything the shop runs on.");
  EXPECT_EQ(page.logo_url, "https://shop.example.com/logo.svg");
  EXPECT_EQ(page.theme, PageTheme::kDark);
  EXPECT_THAT(page.regions, ElementsAre("eu-west", "us-east"));
  ASSERT_EQ(page.groups.size(), 2u);
  EXPECT_EQ(page.groups[0].name, "Storefront");
  ASSERT_EQ(page.groups[0].components.size(), 2u);
  const StatusPageComponent& homepage = page.groups[0].components[0];
  EXPECT_EQ(homepage.namespace_name, "shop");  // the page's namespace
  EXPECT_EQ(homepage.monitor, "homepage");
  EXPECT_EQ(homepage.display_name, "Website");
  EXPECT_EQ(homepage.description, "Public pages");
  EXPECT_EQ(page.groups[0].components[1].namespace_name, "billing");
  EXPECT_EQ(page.groups[1].name, "");
  const StatusPageComponent& selected = page.groups[1].components[0];
  EXPECT_TRUE(selected.selects());
  EXPECT_EQ(selected.match_labels.at("tier"), "web");
  ASSERT_EQ(page.footer_links.size(), 2u);
  EXPECT_EQ(page.footer_links[0].url, "mailto:help@example.com");
  EXPECT_EQ(page.access.password, "s3cret");
  ASSERT_EQ(page.access.allowed_cidrs.size(), 2u);
  EXPECT_EQ(page.access.allowed_cidrs[1].ToString(), "2001:db8::/32");
  EXPECT_FALSE(page.access.is_public());
  EXPECT_EQ(page.source.line, 1);
}

TEST(StatusPageParserTest, DefaultsSlugAndTitleFromTheName) {
  const ParsedStatusPage parsed = ParseText(R"(apiVersion: pharos.dev/v1alpha1
kind: StatusPage
metadata: {name: public}
spec:
  groups: [{components: [{monitor: web}]}]
)");
  EXPECT_THAT(Errors(parsed), IsEmpty());
  EXPECT_EQ(parsed.page.slug, "public");
  EXPECT_EQ(parsed.page.title, "public");
  EXPECT_EQ(parsed.page.namespace_name, "default");
  EXPECT_EQ(parsed.page.theme, PageTheme::kAuto);
  EXPECT_TRUE(parsed.page.access.is_public());
}

TEST(StatusPageParserTest, ReportsEveryProblemWithItsLocation) {
  const ParsedStatusPage parsed = ParseText(R"(apiVersion: pharos.dev/v1alpha1
kind: StatusPage
metadata: {name: shop}
spec:
  slug: Shop_Page
  theme: neon
  logoUrl: javascript:alert(1)
  regions: [EU]
  colour: red
  groups:
    - name: A
      components:
        - {monitor: web, selector: {matchLabels: {}}}
        - {name: nothing}
        - {monitor: Not_A_Name}
    - name: B
  footerLinks: [{title: Bad, url: "ftp://x"}]
  access:
    allowedCidrs: [10.1.2.3/8, 300.0.0.0/8, 10.0.0.0/40]
)");
  EXPECT_THAT(
      Errors(parsed),
      ElementsAre(
          HasSubstr("pages.yaml:9:3: spec.colour: unknown field \"colour\""),
          HasSubstr("pages.yaml:5:9: spec.slug: \"Shop_Page\" cannot be a slug"),
          HasSubstr("pages.yaml:7:12: spec.logoUrl: \"javascript:alert(1)\" is not an http(s) URL"),
          HasSubstr("pages.yaml:6:10: spec.theme: \"neon\" is not a theme: auto, light or dark"),
          HasSubstr("pages.yaml:8:13: spec.regions[0]: \"EU\" is not a region name"),
          HasSubstr("pages.yaml:13:11: spec.groups[0].components[0]: give either monitor"),
          HasSubstr("pages.yaml:14:11: spec.groups[0].components[1]: needs monitor"),
          HasSubstr(
              "pages.yaml:15:21: spec.groups[0].components[2].monitor: \"Not_A_Name\" is not"),
          HasSubstr("pages.yaml:16:7: spec.groups[1].components: required"),
          HasSubstr("pages.yaml:17:35: spec.footerLinks[0].url: \"ftp://x\" is not an http(s) URL"),
          HasSubstr(
              "spec.access.allowedCidrs[0]: \"10.1.2.3/8\": address bits are set below the /8 "
              "prefix (did you mean 10.0.0.0/8?)"),
          HasSubstr("spec.access.allowedCidrs[1]: \"300.0.0.0/8\" is not an IP address"),
          HasSubstr(
              "spec.access.allowedCidrs[2]: \"10.0.0.0/40\": prefix length 40 is larger than 32")));
}

TEST(StatusPageParserTest, RequiredParts) {
  EXPECT_THAT(Errors(ParseText("kind: StatusPage\nmetadata: {name: x}\n")),
              ElementsAre(HasSubstr("apiVersion: required"), HasSubstr("spec: required")));
  EXPECT_THAT(Errors(ParseText("apiVersion: pharos.dev/v1alpha1\nkind: StatusPage\n"
                               "metadata: {name: x}\nspec: {groups: []}\n")),
              ElementsAre(HasSubstr("spec.groups: needs at least one group")));
}

TEST(StatusPageParserTest, PasswordSecretsOnlyInKubernetes) {
  const std::string text = R"(apiVersion: pharos.dev/v1alpha1
kind: StatusPage
metadata: {name: x, namespace: shop, uid: abc, resourceVersion: "12"}
spec:
  groups: [{components: [{monitor: web}]}]
  access: {passwordSecretRef: {name: status-page, key: password}}
status: {}
)";
  const ParsedStatusPage from_api = ParseText(text, StatusPageSource::kApiObject);
  EXPECT_THAT(Errors(from_api), IsEmpty());
  ASSERT_TRUE(from_api.page.access.password_secret.has_value());
  EXPECT_EQ(from_api.page.access.password_secret->name, "status-page");
  EXPECT_FALSE(from_api.page.access.is_public());
  EXPECT_THAT(Errors(ParseText(text)),
              ElementsAre(HasSubstr("metadata.uid: unknown field"),
                          HasSubstr("metadata.resourceVersion: unknown field"),
                          HasSubstr("spec.access.passwordSecretRef: Secrets exist only in "
                                    "Kubernetes: in pharos run files write access.password")));
}

TEST(StatusPageParserTest, TwoPagesCannotShareASlug) {
  StatusPage a;
  a.namespace_name = "shop";
  a.name = "a";
  a.slug = "status";
  StatusPage b = a;
  b.name = "b";
  b.source = SourceLocation{"more.yaml", 3, 1};
  StatusPage c = a;
  c.name = "c";
  c.slug = "other";
  EXPECT_THAT(CheckStatusPageSet({a, b, c}),
              ElementsAre(::testing::Field(
                  &ValidationError::message,
                  HasSubstr("slug \"status\" is already used by StatusPage shop/a"))));
}

}  // namespace
}  // namespace pharos

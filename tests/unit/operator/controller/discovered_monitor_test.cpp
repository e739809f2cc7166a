#include "operator/controller/discovered_monitor.h"

#include <gtest/gtest.h>

#include <string>

namespace pharos {
namespace {

using Json = nlohmann::json;
using Kind = DiscoveredMonitor::SourceKind;

Json Ingress(Json annotations, Json spec) {
  return {{"apiVersion", "networking.k8s.io/v1"},
          {"kind", "Ingress"},
          {"metadata",
           {{"name", "shop"}, {"namespace", "web"}, {"uid", "u-1"}, {"annotations", annotations}}},
          {"spec", std::move(spec)}};
}

Json Rules(const std::string& host, const std::string& path = "/",
           const std::string& type = "Prefix") {
  return Json::array(
      {{{"host", host}, {"http", {{"paths", {{{"path", path}, {"pathType", type}}}}}}}});
}

Json Route(Json annotations, Json spec) {
  return {{"metadata",
           {{"name", "api"}, {"namespace", "web"}, {"uid", "u-2"}, {"annotations", annotations}}},
          {"spec", std::move(spec)}};
}

Json Built(Kind kind, const Json& source) {
  Result<std::optional<Json>> built = DiscoveredMonitor::For(kind, source);
  EXPECT_TRUE(built) << (built ? "" : built.error());
  EXPECT_TRUE(built && built->has_value());
  return built && built->has_value() ? **built : Json();
}

std::string BuildError(Kind kind, const Json& source) {
  Result<std::optional<Json>> built = DiscoveredMonitor::For(kind, source);
  EXPECT_FALSE(built);
  return built ? "" : built.error();
}

const Json kWanted = {{"pharos.dev/monitor", "true"}};

TEST(DiscoveredMonitorTest, AnIngressWithoutTheAnnotationWantsNoMonitor) {
  for (const Json& annotations : {Json::object(), Json{{"pharos.dev/monitor", "false"}},
                                  Json{{"pharos.dev/monitor", "yes"}}}) {
    Result<std::optional<Json>> built =
        DiscoveredMonitor::For(Kind::kIngress, Ingress(annotations, {{"rules", Rules("a.b")}}));
    ASSERT_TRUE(built);
    EXPECT_FALSE(built->has_value()) << annotations;
  }
}

TEST(DiscoveredMonitorTest, AnIngressBecomesAnHttpMonitorOwnedByIt) {
  Json monitor = Built(
      Kind::kIngress, Ingress(kWanted, {{"rules", Rules("shop.example.com", "/store", "Prefix")}}));
  EXPECT_EQ(monitor["apiVersion"], "pharos.dev/v1alpha1");
  EXPECT_EQ(monitor["kind"], "Monitor");
  EXPECT_EQ(monitor["metadata"]["name"], "shop-ingress");
  EXPECT_EQ(monitor["metadata"]["namespace"], "web");
  EXPECT_EQ(monitor["metadata"]["labels"],
            (Json{{"app.kubernetes.io/managed-by", "pharos-operator"},
                  {"pharos.dev/discovered-from", "ingress"}}));
  EXPECT_EQ(monitor["metadata"]["ownerReferences"],
            Json::array({{{"apiVersion", "networking.k8s.io/v1"},
                          {"kind", "Ingress"},
                          {"name", "shop"},
                          {"uid", "u-1"},
                          {"controller", true}}}));
  EXPECT_EQ(monitor["spec"],
            (Json{{"type", "http"}, {"http", {{"url", "http://shop.example.com/store"}}}}));
  EXPECT_TRUE(DiscoveredMonitor::OwnedBy(monitor, Kind::kIngress, "shop"));
  EXPECT_FALSE(DiscoveredMonitor::OwnedBy(monitor, Kind::kIngress, "other"));
  EXPECT_FALSE(DiscoveredMonitor::OwnedBy(monitor, Kind::kHttpRoute, "shop"));
}

TEST(DiscoveredMonitorTest, TlsCoveringTheHostMakesItHttps) {
  Json spec = {{"rules", Rules("shop.example.com")},
               {"tls", {{{"hosts", {"shop.example.com"}}, {"secretName", "cert"}}}}};
  EXPECT_EQ(Built(Kind::kIngress, Ingress(kWanted, spec))["spec"]["http"]["url"],
            "https://shop.example.com/");
  spec["tls"] = {{{"hosts", {"other.example.com"}}}};
  EXPECT_EQ(Built(Kind::kIngress, Ingress(kWanted, spec))["spec"]["http"]["url"],
            "http://shop.example.com/");
  spec["tls"] = {{{"secretName", "default-cert"}}};  // no hosts: every host
  EXPECT_EQ(Built(Kind::kIngress, Ingress(kWanted, spec))["spec"]["http"]["url"],
            "https://shop.example.com/");
}

TEST(DiscoveredMonitorTest, WildcardHostsAreSkippedAndRegexPathsNotRequested) {
  Json rules = Rules("*.example.com");
  rules.push_back(Rules("shop.example.com", "/api/(.*)", "ImplementationSpecific")[0]);
  EXPECT_EQ(Built(Kind::kIngress, Ingress(kWanted, {{"rules", rules}}))["spec"]["http"]["url"],
            "http://shop.example.com/");
  EXPECT_NE(BuildError(Kind::kIngress, Ingress(kWanted, {{"rules", Rules("*.example.com")}}))
                .find("spec.rules names no host"),
            std::string::npos);
  EXPECT_NE(BuildError(Kind::kIngress,
                       Ingress(kWanted, {{"defaultBackend", {{"service", {{"name", "x"}}}}}}))
                .find("no host"),
            std::string::npos);
}

TEST(DiscoveredMonitorTest, AnnotationsSetPathSchemeFrequencyAndStatus) {
  Json annotations = kWanted;
  annotations["pharos.dev/path"] = "/healthz?deep=1";
  annotations["pharos.dev/scheme"] = "https";
  annotations["pharos.dev/frequency"] = "30s";
  annotations["pharos.dev/expect-status"] = "204";
  Json spec = Built(Kind::kIngress, Ingress(annotations, {{"rules", Rules("a.example")}}))["spec"];
  EXPECT_EQ(spec["http"]["url"], "https://a.example/healthz?deep=1");
  EXPECT_EQ(spec["frequency"], "30s");
  EXPECT_EQ(spec["assertions"],
            Json::array({{{"type", "statusCode"}, {"op", "eq"}, {"value", "204"}}}));

  annotations["pharos.dev/expect-status"] = "2xx";
  spec = Built(Kind::kIngress, Ingress(annotations, {{"rules", Rules("a.example")}}))["spec"];
  EXPECT_EQ(spec["assertions"],
            Json::array({{{"type", "statusCode"}, {"op", "gte"}, {"value", "200"}},
                         {{"type", "statusCode"}, {"op", "lt"}, {"value", "300"}}}));
}

TEST(DiscoveredMonitorTest, BadAnnotationsAreErrorsNamingThem) {
  const Json spec = {{"rules", Rules("a.example")}};
  for (const auto& [name, value] :
       {std::pair{"pharos.dev/expect-status", "20"}, std::pair{"pharos.dev/expect-status", "600"},
        std::pair{"pharos.dev/expect-status", "2x0"}, std::pair{"pharos.dev/scheme", "ftp"},
        std::pair{"pharos.dev/path", "healthz"}, std::pair{"pharos.dev/path", "/a b"}}) {
    Json annotations = kWanted;
    annotations[name] = value;
    EXPECT_NE(BuildError(Kind::kIngress, Ingress(annotations, spec)).find(name), std::string::npos)
        << name << "=" << value;
  }
}

TEST(DiscoveredMonitorTest, AnHttpRouteUsesItsFirstHostnameAndMatch) {
  Json spec = {
      {"hostnames", {"*.example.com", "api.example.com"}},
      {"rules", {{{"matches", {{{"path", {{"type", "PathPrefix"}, {"value", "/v1"}}}}}}}}}};
  Json monitor = Built(Kind::kHttpRoute, Route(kWanted, spec));
  EXPECT_EQ(monitor["metadata"]["name"], "api-httproute");
  EXPECT_EQ(monitor["metadata"]["labels"]["pharos.dev/discovered-from"], "httproute");
  EXPECT_EQ(monitor["metadata"]["ownerReferences"][0]["kind"], "HTTPRoute");
  EXPECT_EQ(monitor["metadata"]["ownerReferences"][0]["apiVersion"],
            "gateway.networking.k8s.io/v1");
  EXPECT_EQ(monitor["spec"]["http"]["url"], "http://api.example.com/v1");

  spec["rules"][0]["matches"][0]["path"] = {{"type", "RegularExpression"}, {"value", "/v[0-9]"}};
  EXPECT_EQ(Built(Kind::kHttpRoute, Route(kWanted, spec))["spec"]["http"]["url"],
            "http://api.example.com/");
  Json annotations = kWanted;
  annotations["pharos.dev/scheme"] = "https";
  EXPECT_EQ(Built(Kind::kHttpRoute, Route(annotations, spec))["spec"]["http"]["url"],
            "https://api.example.com/");
  EXPECT_NE(BuildError(Kind::kHttpRoute, Route(kWanted, {{"rules", Json::array()}}))
                .find("spec.hostnames"),
            std::string::npos);
}

TEST(DiscoveredMonitorTest, LongNamesStayValidAndDistinct) {
  const std::string long_a(250, 'a');
  const std::string long_b = long_a + "b";
  const std::string name_a = DiscoveredMonitor::MonitorName(Kind::kHttpRoute, long_a);
  const std::string name_b = DiscoveredMonitor::MonitorName(Kind::kHttpRoute, long_b);
  EXPECT_LE(name_a.size(), 253U);
  EXPECT_NE(name_a, name_b);
  EXPECT_TRUE(name_a.ends_with("-httproute"));
}

}  // namespace
}  // namespace pharos

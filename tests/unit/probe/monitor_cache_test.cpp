#include "probe/monitor_cache.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace pharos {
namespace {

using ::testing::HasSubstr;
using Steady = std::chrono::steady_clock;

nlohmann::json Object(const std::string& url, int64_t generation) {
  return {{"apiVersion", "pharos.dev/v1alpha1"},
          {"kind", "Monitor"},
          {"metadata",
           {{"name", "web"}, {"namespace", "shop"}, {"uid", "uid-1"}, {"generation", generation}}},
          {"spec", {{"type", "http"}, {"http", {{"url", url}}}}}};
}

TEST(MonitorCacheTest, ConvertsOnceAndServesRepeatsFromTheCache) {
  MonitorCache cache;
  const nlohmann::json object = Object("http://a.example/", 1);
  auto first = cache.Get("uid-1", 1, &object, Steady::now());
  ASSERT_TRUE(first.ok()) << first.error();
  EXPECT_EQ((*first)->Key(), "shop/web");
  EXPECT_EQ((*first)->http->url, "http://a.example/");
  auto again = cache.Get("uid-1", 1, &object, Steady::now());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(first->get(), again->get());
  auto without_object = cache.Get("uid-1", 1, nullptr, Steady::now());
  ASSERT_TRUE(without_object.ok());
  EXPECT_EQ(first->get(), without_object->get());
  EXPECT_EQ(cache.conversions(), 1u);
}

TEST(MonitorCacheTest, ChangedObjectIsConvertedAgainEvenWithTheSameGeneration) {
  MonitorCache cache;
  const nlohmann::json before = Object("http://a.example/", 1);
  const nlohmann::json after = Object("http://b.example/", 1);
  ASSERT_TRUE(cache.Get("uid-1", 1, &before, Steady::now()).ok());
  auto changed = cache.Get("uid-1", 1, &after, Steady::now());
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ((*changed)->http->url, "http://b.example/");
  EXPECT_EQ(cache.conversions(), 2u);
}

TEST(MonitorCacheTest, NewerGenerationWithoutObjectIsAnError) {
  MonitorCache cache;
  const nlohmann::json object = Object("http://a.example/", 1);
  ASSERT_TRUE(cache.Get("uid-1", 1, &object, Steady::now()).ok());
  auto newer = cache.Get("uid-1", 2, nullptr, Steady::now());
  ASSERT_FALSE(newer.ok());
  EXPECT_THAT(newer.error(), HasSubstr("sent no spec of monitor uid-1 (generation 2"));
  EXPECT_FALSE(cache.Get("uid-2", 1, nullptr, Steady::now()).ok());
}

TEST(MonitorCacheTest, InvalidMonitorIsAnErrorNamingTheProblem) {
  MonitorCache cache;
  const nlohmann::json object = Object("ftp://a.example/", 1);
  auto invalid = cache.Get("uid-1", 1, &object, Steady::now());
  ASSERT_FALSE(invalid.ok());
  EXPECT_THAT(invalid.error(), HasSubstr("spec.http.url: scheme must be http or https"));
  EXPECT_FALSE(cache.Get("uid-1", 1, &object, Steady::now()).ok());
  EXPECT_EQ(cache.conversions(), 1u);
}

TEST(MonitorCacheTest, TheOperatorsVersionDecidesWhetherASpecIsHeld) {
  MonitorCache cache;
  EXPECT_FALSE(cache.Holds("uid-1", "v1"));
  const nlohmann::json first = Object("http://a.example/", 1);
  ASSERT_TRUE(cache.Get("uid-1", 0, &first, Steady::now(), "v1").ok());
  EXPECT_TRUE(cache.Holds("uid-1", "v1"));
  EXPECT_FALSE(cache.Holds("uid-1", "v2"));
  EXPECT_FALSE(cache.Holds("uid-2", "v1"));
  // Items of the held version are served without an object; the generation comes from it.
  auto held = cache.Get("uid-1", 1, nullptr, Steady::now());
  ASSERT_TRUE(held.ok()) << held.error();
  EXPECT_EQ((*held)->http->url, "http://a.example/");

  // The same version again is not converted again; another version is, even with the same text.
  ASSERT_TRUE(cache.Get("uid-1", 0, &first, Steady::now(), "v1").ok());
  EXPECT_EQ(cache.conversions(), 1u);
  const nlohmann::json second = Object("http://b.example/", 1);
  auto changed = cache.Get("uid-1", 0, &second, Steady::now(), "v2");
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ((*changed)->http->url, "http://b.example/");
  EXPECT_TRUE(cache.Holds("uid-1", "v2"));
  EXPECT_EQ(cache.conversions(), 2u);
  // An invalid spec is held too (so it is not fetched again), and each item says why.
  const nlohmann::json invalid = Object("ftp://a.example/", 2);
  EXPECT_FALSE(cache.Get("uid-1", 0, &invalid, Steady::now(), "v3").ok());
  EXPECT_TRUE(cache.Holds("uid-1", "v3"));
  EXPECT_FALSE(cache.Get("uid-1", 2, nullptr, Steady::now()).ok());
}

TEST(MonitorCacheTest, PruneDropsIdleEntries) {
  MonitorCache cache(std::chrono::minutes(10));
  const nlohmann::json object = Object("http://a.example/", 1);
  const Steady::time_point start = Steady::now();
  ASSERT_TRUE(cache.Get("uid-1", 1, &object, start).ok());
  cache.Prune(start + std::chrono::minutes(5));
  EXPECT_EQ(cache.size(), 1u);
  cache.Prune(start + std::chrono::minutes(11));
  EXPECT_EQ(cache.size(), 0u);
}

}  // namespace
}  // namespace pharos

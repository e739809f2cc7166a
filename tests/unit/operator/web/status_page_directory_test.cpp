#include "operator/web/status_page_directory.h"

#include <gtest/gtest.h>

namespace pharos {
namespace {

StatusPage Page(std::string ns, std::string name, std::string slug, std::string title = "") {
  StatusPage page;
  page.namespace_name = std::move(ns);
  page.name = std::move(name);
  page.slug = std::move(slug);
  page.title = title.empty() ? page.name : std::move(title);
  return page;
}

TEST(StatusPageDirectoryTest, DefaultPageOnlyWithoutDeclaredPages) {
  StatusPageDirectory pages(/*default_page=*/true);
  ASSERT_NE(pages.Find("default"), nullptr);
  EXPECT_TRUE(pages.Find("default")->group_by_namespace);
  EXPECT_EQ(pages.List().size(), 1u);
  pages.ReplaceAll({Page("shop", "a", "a")});
  EXPECT_EQ(pages.Find("default"), nullptr);
  EXPECT_NE(pages.Find("a"), nullptr);
  pages.ReplaceAll({});
  EXPECT_NE(pages.Find("default"), nullptr);
  StatusPageDirectory operator_pages(/*default_page=*/false);
  EXPECT_EQ(operator_pages.Find("default"), nullptr);
  EXPECT_TRUE(operator_pages.List().empty());
}

TEST(StatusPageDirectoryTest, TheSmallestKeyServesASharedSlug) {
  StatusPageDirectory pages(false);
  EXPECT_TRUE(pages.Upsert(Page("shop", "zeta", "status", "Z")));
  EXPECT_TRUE(pages.Upsert(Page("billing", "alpha", "status", "A")));
  EXPECT_FALSE(pages.Upsert(Page("web", "beta", "status", "B")));
  EXPECT_EQ(pages.Find("status")->Key(), "billing/alpha");
  EXPECT_EQ(pages.List().size(), 1u);
  pages.Remove("billing/alpha");
  EXPECT_EQ(pages.Find("status")->Key(), "shop/zeta");
  pages.Upsert(Page("shop", "other", "other", "An other page"));
  ASSERT_EQ(pages.List().size(), 2u);
  EXPECT_EQ(pages.List()[0]->title, "An other page");  // by title
}

}  // namespace
}  // namespace pharos

#include "common/flat_index.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace pharos {
namespace {

struct Named {
  std::string name;
  int value = 0;
};

struct ByName {
  std::string_view KeyOf(const std::shared_ptr<Named>& slot) const { return slot->name; }
  static bool IsEmpty(const std::shared_ptr<Named>& slot) { return slot == nullptr; }
};

TEST(FlatIndexTest, FindsInsertsAndErasesByTheKeyTheSlotCarries) {
  FlatIndex<std::shared_ptr<Named>, ByName> index;
  EXPECT_EQ(index.Find(std::string_view("a")), nullptr);
  EXPECT_FALSE(index.Erase(std::string_view("a")));

  auto [added, inserted] = index.Insert(std::make_shared<Named>(Named{"a", 1}));
  EXPECT_TRUE(inserted);
  EXPECT_EQ((*added)->value, 1);
  // The same key again: the present slot stays.
  auto [present, again] = index.Insert(std::make_shared<Named>(Named{"a", 2}));
  EXPECT_FALSE(again);
  EXPECT_EQ((*present)->value, 1);
  EXPECT_EQ(index.size(), 1u);

  ASSERT_NE(index.Find(std::string_view("a")), nullptr);
  EXPECT_EQ((*index.Find(std::string_view("a")))->value, 1);
  EXPECT_TRUE(index.Erase(std::string_view("a")));
  EXPECT_EQ(index.Find(std::string_view("a")), nullptr);
  EXPECT_TRUE(index.empty());
}

// Every key hashes to one of few homes, so runs are long and wrap around the end of the table:
// backward-shift deletion must keep every remaining key findable.
struct CollidingPositions {
  const std::vector<std::string>* names;
  std::string_view KeyOf(uint32_t slot) const { return (*names)[slot - 1]; }
  size_t Hash(std::string_view key) const {
    // The last three slots of any table size: every run wraps around.
    return SIZE_MAX - std::hash<std::string_view>()(key) % 3;
  }
  static bool IsEmpty(uint32_t slot) { return slot == 0; }
};

TEST(FlatIndexTest, StaysCorrectUnderCollisionsWrapAroundAndGrowth) {
  std::vector<std::string> names;
  names.reserve(400);
  for (int i = 0; i < 400; ++i) {
    names.push_back("monitor-" + std::to_string(i));
  }
  FlatIndex<uint32_t, CollidingPositions> index(CollidingPositions{&names});
  std::map<std::string, uint32_t> model;

  uint64_t state = 42;
  const auto next = [&state](uint64_t bound) {
    state = state * 6364136223846793005u + 1442695040888963407u;
    return (state >> 33) % bound;
  };
  for (int step = 0; step < 20'000; ++step) {
    const uint32_t position = static_cast<uint32_t>(next(names.size())) + 1;
    const std::string& name = names[position - 1];
    // Grow to ~400, then shrink to a handful, then grow again: exercises rehash both ways.
    const bool removing = (step / 5'000) % 2 == 1 ? next(10) < 8 : next(10) < 3;
    if (removing) {
      EXPECT_EQ(index.Erase(std::string_view(name)), model.erase(name) == 1) << step;
    } else {
      const bool inserted = index.Insert(position).second;
      EXPECT_EQ(inserted, model.emplace(name, position).second) << step;
    }
    ASSERT_EQ(index.size(), model.size()) << step;
    if (step % 97 == 0) {
      for (size_t i = 0; i < names.size(); ++i) {
        const uint32_t* found = index.Find(std::string_view(names[i]));
        const auto expected = model.find(names[i]);
        if (expected == model.end()) {
          ASSERT_EQ(found, nullptr) << names[i] << " at step " << step;
        } else {
          ASSERT_NE(found, nullptr) << names[i] << " at step " << step;
          EXPECT_EQ(*found, expected->second);
        }
      }
    }
  }
  size_t visited = 0;
  index.ForEach([&](uint32_t slot) {
    ++visited;
    EXPECT_EQ(model.count(names[slot - 1]), 1u);
  });
  EXPECT_EQ(visited, model.size());
  index.Clear();
  EXPECT_TRUE(index.empty());
  EXPECT_EQ(index.Find(std::string_view(names[0])), nullptr);
}

// Slots owning their objects, keyed without a Hash in the traits (std::hash of the key type):
// lookups take a std::string too, and the objects stay where they are while the slots move.
struct OwnedByName {
  std::string_view KeyOf(const std::unique_ptr<Named>& slot) const { return slot->name; }
  static bool IsEmpty(const std::unique_ptr<Named>& slot) { return slot == nullptr; }
};

TEST(FlatIndexTest, HashesWithStdHashWhenTheTraitsDefineNone) {
  FlatIndex<std::unique_ptr<Named>, OwnedByName> index;
  std::vector<const Named*> objects;
  for (int i = 0; i < 100; ++i) {
    auto named = std::make_unique<Named>(Named{"n" + std::to_string(i), i});
    objects.push_back(named.get());
    ASSERT_TRUE(index.Insert(std::move(named)).second);
  }
  for (int i = 0; i < 100; i += 2) {
    ASSERT_TRUE(index.Erase(std::string("n" + std::to_string(i))));
  }
  ASSERT_EQ(index.size(), 50u);
  for (int i = 0; i < 100; ++i) {
    const std::string name = "n" + std::to_string(i);
    const std::unique_ptr<Named>* found = index.Find(name);
    if (i % 2 == 0) {
      EXPECT_EQ(found, nullptr) << name;
    } else {
      ASSERT_NE(found, nullptr) << name;
      EXPECT_EQ(found->get(), objects[static_cast<size_t>(i)]) << "the object did not move";
      EXPECT_EQ(index.Find(std::string_view(name)), found);
    }
  }
}

}  // namespace
}  // namespace pharos

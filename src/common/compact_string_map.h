#pragma once

// CompactStringMap: a sorted string → string map that costs one pointer while empty, with the
// parts of std::map's interface Pharos uses and value semantics (copies are deep). A Monitor
// carries metadata.labels and metadata.annotations, which are nearly always empty; held as two
// inline std::maps they would cost 96 bytes in every monitor the operator keeps, and it keeps
// tens of thousands. Here the map is allocated on first insertion (null = empty); a moved-from
// map is empty.
//
// Thread-safety: like std::map — const access from many threads, changes from one.

#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

namespace pharos {

class CompactStringMap {
 public:
  using Map = std::map<std::string, std::string, std::less<>>;
  using key_type = Map::key_type;
  using mapped_type = Map::mapped_type;
  using value_type = Map::value_type;
  using size_type = Map::size_type;
  // Read-only iteration: entries change through operator[], emplace and insert.
  using const_iterator = Map::const_iterator;
  using iterator = const_iterator;

  CompactStringMap() = default;
  CompactStringMap(std::initializer_list<value_type> entries) {
    insert(entries.begin(), entries.end());
  }
  CompactStringMap(const CompactStringMap& other)
      : map_(other.empty() ? nullptr : std::make_unique<Map>(*other.map_)) {}
  CompactStringMap(CompactStringMap&&) noexcept = default;
  CompactStringMap& operator=(const CompactStringMap& other) {
    if (this != &other) {
      map_ = other.empty() ? nullptr : std::make_unique<Map>(*other.map_);
    }
    return *this;
  }
  CompactStringMap& operator=(CompactStringMap&&) noexcept = default;
  ~CompactStringMap() = default;

  bool empty() const { return map_ == nullptr || map_->empty(); }
  size_type size() const { return map_ == nullptr ? 0 : map_->size(); }
  const_iterator begin() const { return Entries().begin(); }
  const_iterator end() const { return Entries().end(); }

  template <typename Key>
  const_iterator find(const Key& key) const {
    return Entries().find(key);
  }
  template <typename Key>
  size_type count(const Key& key) const {
    return Entries().count(key);
  }
  // Throws std::out_of_range when `key` is absent, as std::map::at.
  template <typename Key>
  const std::string& at(const Key& key) const {
    const_iterator found = find(key);
    if (found == end()) {
      throw std::out_of_range("CompactStringMap::at: no such key");
    }
    return found->second;
  }

  std::string& operator[](const std::string& key) { return Allocated()[key]; }
  template <typename... Args>
  std::pair<const_iterator, bool> emplace(Args&&... args) {
    return Allocated().emplace(std::forward<Args>(args)...);
  }
  // As std::map::insert: a key already present keeps its value. An empty range allocates nothing.
  template <typename InputIterator>
  void insert(InputIterator first, InputIterator last) {
    if (first != last) {
      Allocated().insert(first, last);
    }
  }

  friend bool operator==(const CompactStringMap& a, const CompactStringMap& b) {
    return a.Entries() == b.Entries();
  }

 private:
  const Map& Entries() const {
    static const Map kEmpty;
    return map_ == nullptr ? kEmpty : *map_;
  }
  Map& Allocated() {
    if (map_ == nullptr) {
      map_ = std::make_unique<Map>();
    }
    return *map_;
  }

  std::unique_ptr<Map> map_;
};

}  // namespace pharos

#pragma once

// FlatIndex<Slot, Traits>: a hash index of small slots that carry their own key — a shared_ptr
// to an object one of whose members is the key, or a position in a vector the owner keeps. It is
// an open-addressing table (linear probing, backward-shift deletion, so no tombstones) and exists
// for memory: a node-based std::unordered_map costs ~56 bytes per element before its key; here
// an element costs sizeof(Slot) / load factor, the load staying between 7/32 and 7/8 (a
// shared_ptr slot: ~18 to 73 bytes, ~30 on average; a 4-byte position: ~8). At 7/8 a lookup
// that hits probes ~4.5 slots on average, one that misses (an insert) ~32: cheap next to what
// the owners do per call, and halving the table at the largest sizes is worth more.
//
// Traits (an object the index keeps, so it may point into the owner's data):
//   Key KeyOf(const Slot&) const;    a non-empty slot's key (e.g. a std::string_view)
//   static bool IsEmpty(const Slot&);  a value-initialised Slot must be empty
//   size_t Hash(const Key&) const;   optional: std::hash<Key> when the traits define none
// Find/Erase take anything comparable with Key by == and hashed alike (Traits::Hash, or
// std::hash<Key> — e.g. a std::string for a std::string_view Key).
//
// Thread-safety: none, as std::unordered_map; the owner guards it.

#include <cstddef>
#include <functional>
#include <type_traits>
#include <utility>
#include <vector>

namespace pharos {

template <typename Slot, typename Traits>
class FlatIndex {
 public:
  explicit FlatIndex(Traits traits = Traits()) : traits_(std::move(traits)) {}

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  template <typename K>
  const Slot* Find(const K& key) const {
    if (size_ == 0) {
      return nullptr;
    }
    for (size_t i = Home(key);; i = Next(i)) {
      const Slot& slot = slots_[i];
      if (Traits::IsEmpty(slot)) {
        return nullptr;
      }
      if (traits_.KeyOf(slot) == key) {
        return &slot;
      }
    }
  }
  template <typename K>
  Slot* Find(const K& key) {
    return const_cast<Slot*>(std::as_const(*this).Find(key));
  }

  // Adds `slot` (not empty) unless a slot with its key is present. Returns the slot in the
  // index — the new one, or the present one (left unchanged) — and whether it was added. The
  // pointer is valid until the next Insert or Erase.
  std::pair<Slot*, bool> Insert(Slot slot) {
    if (Slot* present = Find(traits_.KeyOf(slot))) {
      return {present, false};
    }
    if ((size_ + 1) * 8 > slots_.size() * 7) {
      Rehash(slots_.empty() ? 16 : slots_.size() * 2);
    }
    size_t i = Home(traits_.KeyOf(slot));
    while (!Traits::IsEmpty(slots_[i])) {
      i = Next(i);
    }
    slots_[i] = std::move(slot);
    ++size_;
    return {&slots_[i], true};
  }

  // Removes the slot with this key; false when there is none.
  template <typename K>
  bool Erase(const K& key) {
    Slot* found = Find(key);
    if (found == nullptr) {
      return false;
    }
    size_t hole = static_cast<size_t>(found - slots_.data());
    slots_[hole] = Slot();
    --size_;
    // Backward shift: move up every later slot of the run whose home does not lie after the
    // hole, so a lookup never stops at the hole before reaching it.
    for (size_t i = Next(hole); !Traits::IsEmpty(slots_[i]); i = Next(i)) {
      const size_t home = Home(traits_.KeyOf(slots_[i]));
      const bool home_in_hole_to_i =
          hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
      if (!home_in_hole_to_i) {
        slots_[hole] = std::move(slots_[i]);
        slots_[i] = Slot();
        hole = i;
      }
    }
    if (slots_.size() > 16 && size_ * 32 < slots_.size() * 7) {
      Rehash(slots_.size() / 2);
    }
    return true;
  }

  void Clear() {
    slots_.clear();
    slots_.shrink_to_fit();
    size_ = 0;
  }

  // Calls `visit(slot)` for every slot, in no particular order. `visit` must not change the
  // index.
  template <typename Visit>
  void ForEach(Visit visit) const {
    for (const Slot& slot : slots_) {
      if (!Traits::IsEmpty(slot)) {
        visit(slot);
      }
    }
  }

 private:
  using Key =
      std::decay_t<decltype(std::declval<const Traits&>().KeyOf(std::declval<const Slot&>()))>;

  template <typename K>
  size_t HashOf(const K& key) const {
    if constexpr (requires(const Traits& traits) { traits.Hash(key); }) {
      return traits_.Hash(key);
    } else {
      return std::hash<Key>()(key);
    }
  }
  template <typename K>
  size_t Home(const K& key) const {
    return HashOf(key) & (slots_.size() - 1);
  }
  size_t Next(size_t i) const { return (i + 1) & (slots_.size() - 1); }

  // REQUIRES: `capacity` is a power of two larger than size_ * 8 / 7.
  void Rehash(size_t capacity) {
    std::vector<Slot> old(capacity);
    old.swap(slots_);
    for (Slot& slot : old) {
      if (Traits::IsEmpty(slot)) {
        continue;
      }
      size_t i = Home(traits_.KeyOf(slot));
      while (!Traits::IsEmpty(slots_[i])) {
        i = Next(i);
      }
      slots_[i] = std::move(slot);
    }
  }

  Traits traits_;
  std::vector<Slot> slots_;  // empty, or a power-of-two number of slots
  size_t size_ = 0;
};

}  // namespace pharos

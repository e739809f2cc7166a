#pragma once

// HeapOptional<T>: an optional value kept on the heap, with std::optional's interface (the parts
// Pharos uses) and value semantics (copies are deep). A Monitor has one spec section of three
// (http, tcp, dns); held inline, the two absent ones would cost ~170 bytes in every monitor
// the operator keeps, and it keeps tens of thousands. Here an absent value costs one pointer.
//
// Thread-safety: like std::optional — const access from many threads, changes from one.

#include <memory>
#include <optional>
#include <utility>

namespace pharos {

template <typename T>
class HeapOptional {
 public:
  HeapOptional() = default;
  HeapOptional(std::nullopt_t) {}  // NOLINT(google-explicit-constructor): as std::optional
  HeapOptional(T value)            // NOLINT(google-explicit-constructor): as std::optional
      : value_(std::make_unique<T>(std::move(value))) {}
  HeapOptional(const HeapOptional& other)
      : value_(other.value_ ? std::make_unique<T>(*other.value_) : nullptr) {}
  HeapOptional(HeapOptional&&) noexcept = default;
  HeapOptional& operator=(const HeapOptional& other) {
    if (this != &other) {
      value_ = other.value_ ? std::make_unique<T>(*other.value_) : nullptr;
    }
    return *this;
  }
  HeapOptional& operator=(HeapOptional&&) noexcept = default;
  HeapOptional& operator=(std::nullopt_t) {
    value_.reset();
    return *this;
  }
  HeapOptional& operator=(T value) {
    value_ = std::make_unique<T>(std::move(value));
    return *this;
  }
  ~HeapOptional() = default;

  template <typename... Args>
  T& emplace(Args&&... args) {
    value_ = std::make_unique<T>(std::forward<Args>(args)...);
    return *value_;
  }
  void reset() { value_.reset(); }

  bool has_value() const { return value_ != nullptr; }
  explicit operator bool() const { return has_value(); }
  // REQUIRES: has_value() (as std::optional's operators, unchecked).
  T& operator*() { return *value_; }
  const T& operator*() const { return *value_; }
  T* operator->() { return value_.get(); }
  const T* operator->() const { return value_.get(); }
  const T& value() const {
    if (!value_) {
      throw std::bad_optional_access();
    }
    return *value_;
  }
  T& value() {
    if (!value_) {
      throw std::bad_optional_access();
    }
    return *value_;
  }

  friend bool operator==(const HeapOptional& a, const HeapOptional& b) {
    if (!a.value_ || !b.value_) {
      return !a.value_ && !b.value_;
    }
    return *a.value_ == *b.value_;
  }
  friend bool operator==(const HeapOptional& a, std::nullopt_t) { return !a.value_; }

 private:
  std::unique_ptr<T> value_;
};

}  // namespace pharos

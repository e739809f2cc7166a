#pragma once

// Result<T>: a value or an Error (message and kind), the way errors cross module boundaries in
// Pharos (no exceptions through event loops). Status is Result<void>. Thread-safety: a value type;
// same rules as the T it holds.

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace pharos {

// What kind of failure an Error is, for callers that act differently on each (an exit code, an
// HTTP status, retry or not). Callers never tell errors apart by their message.
enum class ErrorKind {
  kFailed,           // something went wrong while doing it (I/O, a peer, the store)
  kInvalidArgument,  // the input or configuration is wrong: fixing it is the user's move
  kUnavailable,      // not now (shutting down, not the leader, a dependency away): retry later
};

// An error: what went wrong, in words a user can act on, and its kind.
struct Error {
  std::string message;
  ErrorKind kind = ErrorKind::kFailed;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : state_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  const T& value() const& {
    assert(ok());
    return std::get<0>(state_);
  }
  T& value() & {
    assert(ok());
    return std::get<0>(state_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(state_));
  }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

  const std::string& error() const {
    assert(!ok());
    return std::get<1>(state_).message;
  }
  ErrorKind error_kind() const {
    assert(!ok());
    return std::get<1>(state_).kind;
  }

 private:
  std::variant<T, Error> state_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error)  // NOLINT(google-explicit-constructor)
      : error_(std::move(error.message)), kind_(error.kind), failed_(true) {}

  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const std::string& error() const { return error_; }
  ErrorKind error_kind() const { return kind_; }

 private:
  std::string error_;
  ErrorKind kind_ = ErrorKind::kFailed;
  bool failed_ = false;
};

using Status = Result<void>;

inline Status OkStatus() { return {}; }

}  // namespace pharos

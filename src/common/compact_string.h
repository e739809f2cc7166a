#pragma once

// CompactString: a string that costs one pointer while empty, for fields of objects kept by the
// tens of thousands that are nearly always empty (a Monitor's request body and TLS server name).
// A std::string costs 32 bytes even when empty. Reads go through str() or the implicit
// conversion to const std::string&; writes replace the whole value (assign a std::string). Value
// semantics: copies are deep; a moved-from CompactString is empty.
//
// Thread-safety: like std::string — const access from many threads, changes from one.

#include <cstddef>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

namespace pharos {

class CompactString {
 public:
  CompactString() = default;
  CompactString(std::string text)  // NOLINT(google-explicit-constructor): a string value
      : text_(text.empty() ? nullptr : std::make_unique<std::string>(std::move(text))) {}
  CompactString(const char* text)  // NOLINT(google-explicit-constructor): a string value
      : CompactString(std::string(text)) {}
  CompactString(const CompactString& other) : CompactString(other.str()) {}
  CompactString(CompactString&&) noexcept = default;
  CompactString& operator=(const CompactString& other) {
    if (this != &other) {
      *this = CompactString(other);
    }
    return *this;
  }
  CompactString& operator=(CompactString&&) noexcept = default;
  ~CompactString() = default;

  const std::string& str() const { return text_ ? *text_ : Empty(); }
  operator const std::string&() const { return str(); }  // NOLINT(google-explicit-constructor)

  bool empty() const { return text_ == nullptr; }
  size_t size() const { return str().size(); }
  const char* c_str() const { return str().c_str(); }

  friend bool operator==(const CompactString& a, const CompactString& b) {
    return a.str() == b.str();
  }
  // Also for std::string, which would otherwise match both the string_view and the
  // CompactString overloads.
  friend bool operator==(const CompactString& a, const std::string& b) { return a.str() == b; }
  friend bool operator==(const CompactString& a, std::string_view b) { return a.str() == b; }
  friend bool operator==(const CompactString& a, const char* b) { return a.str() == b; }
  friend std::ostream& operator<<(std::ostream& out, const CompactString& text) {
    return out << text.str();
  }

 private:
  static const std::string& Empty() {
    static const std::string kEmpty;
    return kEmpty;
  }

  std::unique_ptr<std::string> text_;  // null when empty; never points at an empty string
};

}  // namespace pharos

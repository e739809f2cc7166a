#include "common/json_path.h"

#include <cctype>
#include <charconv>
#include <string>

namespace pharos {
namespace {

// Walks the expression once; positions in errors are 1-based characters.
class JsonPathScanner {
 public:
  explicit JsonPathScanner(std::string_view text) : text_(text) {}

  Result<std::vector<JsonPath::Step>> Scan() {
    if (text_.empty()) {
      return Error{"JSONPath is empty; it must start with '$'"};
    }
    if (text_[0] != '$') {
      return Fail("JSONPath must start with '$'", 0);
    }
    pos_ = 1;
    std::vector<JsonPath::Step> steps;
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      Result<JsonPath::Step> step = c == '.'   ? DotStep()
                                    : c == '[' ? BracketStep()
                                               : Fail(Unexpected(), pos_);
      if (!step.ok()) {
        return Error{step.error()};
      }
      steps.push_back(std::move(step).value());
    }
    return steps;
  }

 private:
  static bool IsNameChar(char c) {
    const auto byte = static_cast<unsigned char>(c);
    return std::isalnum(byte) != 0 || c == '_' || c == '-' || byte >= 0x80;
  }

  std::string Unexpected() const {
    return std::string("unexpected '") + text_[pos_] + "'; expected '.' or '['";
  }

  Error Fail(const std::string& what, size_t position) const {
    return Error{what + " at character " + std::to_string(position + 1)};
  }

  Result<JsonPath::Step> DotStep() {
    ++pos_;  // '.'
    if (pos_ >= text_.size()) {
      return Fail("expected a member name or '*' after '.'", pos_);
    }
    if (text_[pos_] == '.') {
      return Fail("recursive descent ('..') is not supported", pos_ - 1);
    }
    JsonPath::Step step;
    if (text_[pos_] == '*') {
      ++pos_;
      step.kind = JsonPath::Step::Kind::kWildcard;
      return step;
    }
    const size_t start = pos_;
    while (pos_ < text_.size() && IsNameChar(text_[pos_])) {
      ++pos_;
    }
    if (pos_ == start) {
      return Fail("expected a member name or '*' after '.'", pos_);
    }
    step.kind = JsonPath::Step::Kind::kMember;
    step.member = std::string(text_.substr(start, pos_ - start));
    return step;
  }

  void SkipSpaces() {
    while (pos_ < text_.size() && text_[pos_] == ' ') {
      ++pos_;
    }
  }

  Result<JsonPath::Step> BracketStep() {
    const size_t open = pos_;
    ++pos_;  // '['
    SkipSpaces();
    if (pos_ >= text_.size()) {
      return Fail("unterminated '['", open);
    }
    JsonPath::Step step;
    const char c = text_[pos_];
    if (c == '*') {
      ++pos_;
      step.kind = JsonPath::Step::Kind::kWildcard;
    } else if (c == '\'' || c == '"') {
      Result<std::string> name = QuotedName();
      if (!name.ok()) {
        return Error{name.error()};
      }
      step.kind = JsonPath::Step::Kind::kMember;
      step.member = std::move(name).value();
    } else if (c == '-' || std::isdigit(static_cast<unsigned char>(c)) != 0) {
      Result<long long> index = Index();
      if (!index.ok()) {
        return Error{index.error()};
      }
      step.kind = JsonPath::Step::Kind::kIndex;
      step.index = *index;
    } else {
      return Fail("expected an index, '*' or a quoted name after '['", pos_);
    }
    SkipSpaces();
    if (pos_ >= text_.size()) {
      return Fail("unterminated '['", open);
    }
    if (text_[pos_] != ']') {
      return Fail("expected ']'", pos_);
    }
    ++pos_;
    return step;
  }

  Result<std::string> QuotedName() {
    const char quote = text_[pos_];
    const size_t start = pos_;
    ++pos_;
    std::string name;
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == quote) {
        ++pos_;
        return name;
      }
      if (c == '\\') {
        if (pos_ + 1 >= text_.size()) {
          break;
        }
        const char escaped = text_[pos_ + 1];
        if (escaped != quote && escaped != '\\') {
          return Fail(std::string("unknown escape '\\") + escaped + "'", pos_);
        }
        name += escaped;
        pos_ += 2;
        continue;
      }
      name += c;
      ++pos_;
    }
    return Fail("unterminated quoted name", start);
  }

  Result<long long> Index() {
    const size_t start = pos_;
    if (text_[pos_] == '-') {
      ++pos_;
    }
    const size_t digits = pos_;
    while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_])) != 0) {
      ++pos_;
    }
    if (pos_ == digits) {
      return Fail("expected digits after '-'", pos_);
    }
    long long index = 0;
    const auto [end, error] = std::from_chars(text_.data() + start, text_.data() + pos_, index);
    if (error != std::errc() || end != text_.data() + pos_) {
      return Fail("index out of range", start);
    }
    return index;
  }

  std::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

Result<JsonPath> JsonPath::Parse(std::string_view expression) {
  Result<std::vector<Step>> steps = JsonPathScanner(expression).Scan();
  if (!steps.ok()) {
    return Error{steps.error()};
  }
  return JsonPath(std::string(expression), std::move(steps).value());
}

std::vector<const nlohmann::json*> JsonPath::Select(const nlohmann::json& document) const {
  std::vector<const nlohmann::json*> current{&document};
  for (const Step& step : steps_) {
    std::vector<const nlohmann::json*> next;
    for (const nlohmann::json* node : current) {
      switch (step.kind) {
        case Step::Kind::kMember:
          if (node->is_object()) {
            const auto found = node->find(step.member);
            if (found != node->end()) {
              next.push_back(&*found);
            }
          }
          break;
        case Step::Kind::kIndex:
          if (node->is_array()) {
            const auto size = static_cast<long long>(node->size());
            const long long index = step.index < 0 ? size + step.index : step.index;
            if (index >= 0 && index < size) {
              next.push_back(&(*node)[static_cast<size_t>(index)]);
            }
          }
          break;
        case Step::Kind::kWildcard:
          // Objects iterate in key order (nlohmann::json keeps keys sorted).
          if (node->is_object() || node->is_array()) {
            for (const auto& child : *node) {
              next.push_back(&child);
            }
          }
          break;
      }
    }
    current = std::move(next);
    if (current.empty()) {
      break;
    }
  }
  return current;
}

}  // namespace pharos

#include "common/document_node.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string_view>

namespace pharos {
namespace {

// Far deeper than any Monitor; stops recursion on hostile input.
constexpr int kMaxDepth = 64;

const std::string kTooDeep = "nested deeper than " + std::to_string(kMaxDepth) + " levels";
const char* kNotUtf8 = "text is not valid UTF-8";

// Monitors travel as JSON (API server, probe protocol), which needs UTF-8; YAML requires it too.
bool IsValidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto byte = static_cast<unsigned char>(text[i]);
    size_t length = 0;
    uint32_t code_point = 0;
    if (byte < 0x80) {
      ++i;
      continue;
    }
    if ((byte & 0xE0) == 0xC0) {
      length = 2;
      code_point = byte & 0x1F;
    } else if ((byte & 0xF0) == 0xE0) {
      length = 3;
      code_point = byte & 0x0F;
    } else if ((byte & 0xF8) == 0xF0) {
      length = 4;
      code_point = byte & 0x07;
    } else {
      return false;
    }
    if (i + length > text.size()) {
      return false;
    }
    for (size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) {
        return false;
      }
      code_point = (code_point << 6) | (next & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    constexpr uint32_t kMinimum[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code_point < kMinimum[length] || code_point > 0x10FFFF ||
        (code_point >= 0xD800 && code_point <= 0xDFFF)) {
      return false;
    }
    i += length;
  }
  return true;
}

SourceLocation LocationOf(const YAML::Mark& mark, const std::string& file_name) {
  if (mark.line < 0) {
    return SourceLocation{file_name, 0, 0};
  }
  return SourceLocation{file_name, mark.line + 1, mark.column + 1};
}

// Builds DocumentNodes from yaml-cpp's parser events. Events rather than YAML::LoadAll because
// LoadAll in yaml-cpp 0.7 loops forever on some malformed input (a stray ','), and because
// aliases must be counted as the copies they become here (a "billion laughs" document would
// otherwise expand without bound). The first problem ends the document; later events are ignored.
class DocumentBuilder : public YAML::EventHandler {
 public:
  explicit DocumentBuilder(const std::string& file_name) : file_name_(file_name) {}

  const YAML::Mark& start() const { return start_; }
  const std::optional<ValidationError>& failure() const { return failure_; }
  // The document's root; nullopt for an empty document.
  std::optional<DocumentNode>& root() { return root_; }

  void OnDocumentStart(const YAML::Mark& mark) override { start_ = mark; }
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    DocumentNode node;
    node.kind = DocumentNode::Kind::kNull;
    node.location = LocationOf(mark, file_name_);
    Add(std::move(node), anchor, mark);
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    if (failure_) {
      return;
    }
    const auto found = anchors_.find(anchor);
    if (found == anchors_.end()) {
      // yaml-cpp numbers an anchor when it opens: an alias to one that is not complete yet is
      // inside the node it names, which would contain itself.
      const bool open = std::any_of(stack_.begin(), stack_.end(), [anchor](const Frame& frame) {
        return frame.anchor == anchor;
      });
      return Fail(LocationOf(mark, file_name_),
                  open ? "an alias to the node that contains it (a recursive alias) cannot be "
                         "expanded"
                       : "an alias to an unknown anchor");
    }
    if (!Spend(found->second.size, mark)) {
      return;
    }
    Attach(DocumentNode(found->second.node));
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    if (failure_) {
      return;
    }
    DocumentNode node;
    node.kind = DocumentNode::Kind::kScalar;
    node.location = LocationOf(mark, file_name_);
    if (!IsValidUtf8(value)) {
      return Fail(node.location, kNotUtf8);
    }
    node.scalar = value;
    // "?" = plain scalar (could be a number or boolean); "!" = quoted; others are explicit tags.
    node.quoted = tag != "?";
    Add(std::move(node), anchor, mark);
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string& /*tag*/, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value /*style*/) override {
    Open(DocumentNode::Kind::kSequence, mark, anchor);
  }
  void OnSequenceEnd() override { Close(); }

  void OnMapStart(const YAML::Mark& mark, const std::string& /*tag*/, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value /*style*/) override {
    Open(DocumentNode::Kind::kMapping, mark, anchor);
  }
  void OnMapEnd() override { Close(); }

 private:
  // Values per document, aliases counted in full: far above any real Monitor file.
  static constexpr size_t kMaxValues = 100'000;

  struct Frame {
    DocumentNode node;
    YAML::anchor_t anchor = 0;
    size_t values_before = 0;
    std::optional<DocumentNode> key;  // mappings: the key waiting for its value
  };
  struct Anchored {
    DocumentNode node;
    size_t size = 0;  // values inside, itself included
  };

  void Fail(const SourceLocation& where, const std::string& message) {
    if (!failure_) {
      failure_ = ValidationError{where, "", message};
    }
  }

  bool Spend(size_t values, const YAML::Mark& mark) {
    values_ += values;
    if (values_ > kMaxValues) {
      Fail(LocationOf(mark, file_name_), "document too large: more than " +
                                             std::to_string(kMaxValues) +
                                             " values (aliases count as copies)");
    }
    return !failure_;
  }

  void Add(DocumentNode node, YAML::anchor_t anchor, const YAML::Mark& mark) {
    if (failure_ || !Spend(1, mark)) {
      return;
    }
    if (anchor != 0) {
      anchors_[anchor] = Anchored{node, 1};
    }
    Attach(std::move(node));
  }

  void Open(DocumentNode::Kind kind, const YAML::Mark& mark, YAML::anchor_t anchor) {
    if (failure_) {
      return;
    }
    Frame frame;
    frame.node.kind = kind;
    frame.node.location = LocationOf(mark, file_name_);
    if (stack_.size() >= static_cast<size_t>(kMaxDepth)) {
      return Fail(frame.node.location, kTooDeep);
    }
    frame.anchor = anchor;
    frame.values_before = values_;
    if (!Spend(1, mark)) {
      return;
    }
    stack_.push_back(std::move(frame));
  }

  void Close() {
    if (failure_ || stack_.empty()) {
      return;
    }
    Frame frame = std::move(stack_.back());
    stack_.pop_back();
    if (frame.anchor != 0) {
      anchors_[frame.anchor] = Anchored{frame.node, values_ - frame.values_before};
    }
    Attach(std::move(frame.node));
  }

  void Attach(DocumentNode node) {
    if (stack_.empty()) {
      root_ = std::move(node);
      return;
    }
    Frame& parent = stack_.back();
    if (parent.node.kind == DocumentNode::Kind::kSequence) {
      // yaml-cpp places an empty item at the next token; the list is a clearer place.
      if (node.kind == DocumentNode::Kind::kNull) {
        node.location = parent.node.location;
      }
      parent.node.items.push_back(std::move(node));
      return;
    }
    if (!parent.key) {
      if (node.kind != DocumentNode::Kind::kScalar) {
        const char* what = node.kind == DocumentNode::Kind::kMapping    ? "mappings"
                           : node.kind == DocumentNode::Kind::kSequence ? "lists"
                                                                        : "empty";
        return Fail(node.location, std::string("mapping keys must be plain names, not ") + what);
      }
      parent.key = std::move(node);
      return;
    }
    DocumentNode::Member member;
    member.key = std::move(parent.key->scalar);
    member.key_location = parent.key->location;
    // yaml-cpp places an empty value at the start of the next line; its key is clearer.
    if (node.kind == DocumentNode::Kind::kNull) {
      node.location = member.key_location;
    }
    member.value = std::move(node);
    parent.node.members.push_back(std::move(member));
    parent.key.reset();
  }

  const std::string& file_name_;
  YAML::Mark start_;
  std::vector<Frame> stack_;
  std::map<YAML::anchor_t, Anchored> anchors_;
  size_t values_ = 0;
  std::optional<DocumentNode> root_;
  std::optional<ValidationError> failure_;
};

Result<DocumentNode> FromJson(const nlohmann::json& value, int depth) {
  if (depth > kMaxDepth) {
    return Error{kTooDeep};
  }
  DocumentNode out;
  switch (value.type()) {
    case nlohmann::json::value_t::null:
    case nlohmann::json::value_t::discarded:
      out.kind = DocumentNode::Kind::kNull;
      return out;
    case nlohmann::json::value_t::string:
      out.kind = DocumentNode::Kind::kScalar;
      out.scalar = value.get<std::string>();
      out.quoted = true;
      return out;
    case nlohmann::json::value_t::boolean:
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
    case nlohmann::json::value_t::number_float:
      out.kind = DocumentNode::Kind::kScalar;
      out.scalar = value.dump();
      return out;
    case nlohmann::json::value_t::binary:
      out.kind = DocumentNode::Kind::kScalar;
      out.scalar = "<binary>";
      out.quoted = true;
      return out;
    case nlohmann::json::value_t::array:
      out.kind = DocumentNode::Kind::kSequence;
      for (const auto& item : value) {
        Result<DocumentNode> converted = FromJson(item, depth + 1);
        if (!converted.ok()) {
          return converted;
        }
        out.items.push_back(std::move(converted).value());
      }
      return out;
    case nlohmann::json::value_t::object:
      out.kind = DocumentNode::Kind::kMapping;
      for (const auto& [key, item] : value.items()) {
        Result<DocumentNode> converted = FromJson(item, depth + 1);
        if (!converted.ok()) {
          return converted;
        }
        out.members.push_back({key, SourceLocation{}, std::move(converted).value()});
      }
      return out;
  }
  return out;
}

}  // namespace

std::string DocumentNode::KindName() const {
  switch (kind) {
    case Kind::kNull:
      return "null";
    case Kind::kScalar: {
      // Long values are cut: the location already says where the whole value is.
      const std::string shown = scalar.size() > 40 ? scalar.substr(0, 37) + "..." : scalar;
      return (quoted ? "the string \"" : "\"") + shown + "\"";
    }
    case Kind::kSequence:
      return "a list";
    case Kind::kMapping:
      return "a mapping";
  }
  return "a value";
}

void ForEachYamlDocument(const std::string& text, const std::string& file_name,
                         const std::function<void(DocumentNode)>& on_document,
                         const std::function<void(ValidationError)>& on_error) {
  std::istringstream stream(text);
  int previous_start = -1;
  // Outside the try: when yaml-cpp gives up on a document (its own recursion limit, after ours
  // already failed), the builder's error says more than yaml-cpp's.
  std::unique_ptr<DocumentBuilder> current;
  try {
    YAML::Parser parser(stream);
    while (true) {
      current = std::make_unique<DocumentBuilder>(file_name);
      DocumentBuilder& builder = *current;
      if (!parser.HandleNextDocument(builder)) {
        break;
      }
      // A document that did not move the parser forward will repeat forever (yaml-cpp 0.7).
      if (builder.start().pos <= previous_start) {
        const auto pos = static_cast<size_t>(builder.start().pos);
        const char c = pos < text.size() ? text[pos] : ' ';
        on_error(ValidationError{
            LocationOf(builder.start(), file_name), "",
            "YAML syntax error: unexpected " +
                (c > ' ' && c < 0x7f ? "'" + std::string(1, c) + "'" : std::string("text"))});
        break;
      }
      previous_start = builder.start().pos;
      if (builder.failure()) {
        on_error(*builder.failure());
      } else if (builder.root() && builder.root()->kind != DocumentNode::Kind::kNull) {
        on_document(std::move(*builder.root()));
      }
    }
  } catch (const YAML::Exception& error) {
    // Documents before the error are complete; the one it interrupted is dropped.
    if (current && current->failure()) {
      on_error(*current->failure());
      return;
    }
    on_error(
        ValidationError{LocationOf(error.mark, file_name), "", "YAML syntax error: " + error.msg});
  } catch (const std::exception& error) {
    on_error(ValidationError{SourceLocation{file_name}, "",
                             "cannot parse YAML: " + std::string(error.what())});
  }
}

ParsedDocuments ParseYamlDocuments(const std::string& text, const std::string& file_name) {
  ParsedDocuments parsed;
  ForEachYamlDocument(
      text, file_name,
      [&](DocumentNode document) { parsed.documents.push_back(std::move(document)); },
      [&](ValidationError error) { parsed.errors.push_back(std::move(error)); });
  return parsed;
}

Result<DocumentNode> DocumentNodeFromJson(const nlohmann::json& value) {
  return FromJson(value, 0);
}

}  // namespace pharos

#include "common/field_locations.h"

namespace pharos {

void FieldLocations::Record(const std::string& path, const SourceLocation& key,
                            const SourceLocation& value, bool is_null) {
  fields_[path] = Where{key, value, is_null};
}

bool FieldLocations::Present(const std::string& path) const {
  const auto found = fields_.find(path);
  return found != fields_.end() && !found->second.is_null;
}

bool FieldLocations::Invalid(const std::string& path) const {
  // An ancestor that failed (spec written as a list) makes everything below it unusable.
  for (std::string ancestor = path; !ancestor.empty();) {
    ancestor = Parent(ancestor);
    if (invalid_.count(ancestor) != 0) {
      return true;
    }
  }
  for (auto it = invalid_.lower_bound(path); it != invalid_.end(); ++it) {
    if (it->compare(0, path.size(), path) != 0) {
      break;
    }
    // The path itself, or a field below it ("spec.http" covers "spec.http.url", not "spec.https").
    if (it->size() == path.size() || (*it)[path.size()] == '.' || (*it)[path.size()] == '[') {
      return true;
    }
  }
  return false;
}

SourceLocation FieldLocations::At(const std::string& path) const {
  if (const auto found = fields_.find(path); found != fields_.end()) {
    return found->second.value;
  }
  for (std::string ancestor = Parent(path); !ancestor.empty(); ancestor = Parent(ancestor)) {
    if (const auto found = fields_.find(ancestor); found != fields_.end()) {
      return found->second.key;
    }
  }
  return document_;
}

SourceLocation FieldLocations::KeyAt(const std::string& path) const {
  if (const auto found = fields_.find(path); found != fields_.end()) {
    return found->second.key;
  }
  return At(path);
}

std::string FieldLocations::Child(const std::string& path, std::string_view key) {
  if (path.empty()) {
    return std::string(key);
  }
  if (key.empty() || key.find_first_of(".[]\" ") != std::string_view::npos) {
    return path + "[\"" + std::string(key) + "\"]";
  }
  return path + "." + std::string(key);
}

std::string FieldLocations::Item(const std::string& path, size_t index) {
  return path + "[" + std::to_string(index) + "]";
}

std::string FieldLocations::Parent(const std::string& path) {
  // A quoted key ends in '"]'; cut before its '["' rather than inside the quotes.
  if (path.size() >= 2 && path.compare(path.size() - 2, 2, "\"]") == 0) {
    const size_t open = path.rfind("[\"");
    if (open != std::string::npos) {
      return path.substr(0, open);
    }
  }
  const size_t cut = path.find_last_of(".[");
  return cut == std::string::npos ? std::string() : path.substr(0, cut);
}

}  // namespace pharos

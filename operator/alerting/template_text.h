#pragma once

// TemplateText: the small template language of AlertChannel's `template.title` and
// `template.text` (docs/alerting.md#templates): plain text with `{{ name }}` placeholders for the
// facts of a notification (event, state, monitor.name, incident.id, regions, reason...). No logic,
// no escapes beyond `{{` itself: a template can only show facts, never fail at send time. Check
// validates a template against the known names, so a typo is an error at validation, not an empty
// message at 3 a.m.
// Thread-safety: pure functions.

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace pharos {

class TemplateText {
 public:
  // Every placeholder name a template may use.
  static const std::vector<std::string_view>& Names();
  // An error names the problem and where ("unknown placeholder {{ monitor.nme }} at offset 7;
  // did you mean monitor.name?", "{{ at offset 3 is never closed").
  static Status Check(std::string_view text);
  // Replaces each placeholder with its value (missing values render empty).
  static std::string Render(std::string_view text,
                            const std::map<std::string, std::string>& values);
};

}  // namespace pharos

// Fuzz target: the message templates of AlertChannel (`template.title`, `template.text`):
// checking a template against the known placeholders, and rendering it. A template that passes
// Check renders every placeholder it names.

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "operator/alerting/template_text.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  static const std::map<std::string, std::string> values = [] {
    std::map<std::string, std::string> all;
    for (std::string_view name : pharos::TemplateText::Names()) {
      all.emplace(std::string(name), "<" + std::string(name) + "> {{ not a placeholder }}");
    }
    return all;
  }();
  (void)pharos::TemplateText::Check(text);
  (void)pharos::TemplateText::Render(text, values);
  return 0;
}

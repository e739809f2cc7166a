#pragma once

// Escaping of text written into HTML and XML: the status pages, dashboard, feeds, badges and the
// HTML forms of notifications (e-mail, Telegram, Google Chat cards).
// Escapes & < > and " — enough for text content and for attribute values in double quotes, which
// is how every attribute Pharos writes is quoted. The apostrophe is left as it is: receivers such
// as Google Chat cards document only a small HTML subset, and an unquoted or single-quoted
// attribute is never written.
// Thread-safety: free functions.

#include <string>
#include <string_view>

namespace pharos {

void AppendHtmlEscaped(std::string& out, std::string_view text);
std::string HtmlEscaped(std::string_view text);

}  // namespace pharos

#pragma once

// HtmlLayout: the frame every Pharos page shares — doctype, head (title, viewport, the embedded
// stylesheet and script, icon, theme), skip link — and the generic pages built on it: an error
// page (404 for an unknown page or monitor, never a bare 500) and the password form of a
// protected status page.
// Thread-safety: free functions.

#include <string>
#include <string_view>

#include "operator/web/status_page.h"

namespace pharos {

struct HtmlHead {
  std::string title;
  std::string description;  // <meta name="description">; empty: none
  PageTheme theme = PageTheme::kAuto;
  std::string extra;  // raw markup added to <head> (feed links)
  bool robots_noindex = false;
};

class HtmlLayout {
 public:
  // "<!doctype html>…<body>" with the skip link to #main.
  static std::string Begin(const HtmlHead& head);
  // The closing tags and the script.
  static std::string End();

  // A complete page saying what was not found or what went wrong, with a link home.
  static std::string ErrorPage(int status, std::string_view heading, std::string_view message);
  // The password form of a protected page (`failed`: the last attempt was wrong).
  static std::string LoginPage(const StatusPage& page, bool failed, bool throttled);
};

}  // namespace pharos

#include "operator/web/html_layout.h"

#include "operator/web/web_assets.h"
#include "operator/web/web_format.h"

namespace pharos {

std::string HtmlLayout::Begin(const HtmlHead& head) {
  std::string out;
  out.reserve(4'096);
  out += "<!doctype html>\n<html lang=\"en\" data-theme=\"";
  out += ToString(head.theme);
  out +=
      "\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>";
  AppendHtmlEscaped(out, head.title);
  out += "</title>\n";
  if (!head.description.empty()) {
    out += "<meta name=\"description\" content=\"";
    AppendHtmlEscaped(out, head.description);
    out += "\">\n";
  }
  if (head.robots_noindex) out += "<meta name=\"robots\" content=\"noindex\">\n";
  out += "<link rel=\"stylesheet\" href=\"" + WebAssets::Url("pharos.css") + "\">\n";
  out +=
      "<link rel=\"icon\" href=\"" + WebAssets::Url("favicon.svg") + "\" type=\"image/svg+xml\">\n";
  out += head.extra;
  out += "<script src=\"" + WebAssets::Url("pharos.js") + "\" defer></script>\n";
  out += "</head>\n<body>\n<a class=\"skip\" href=\"#main\">Skip to content</a>\n";
  return out;
}

std::string HtmlLayout::End() { return "</body>\n</html>\n"; }

std::string HtmlLayout::ErrorPage(int status, std::string_view heading, std::string_view message) {
  std::string out = Begin(HtmlHead{std::string(heading), "", PageTheme::kAuto, "", true});
  out += "<main id=\"main\" class=\"wrap error-page\">\n<p class=\"sub\">Error " +
         std::to_string(status) + "</p>\n<h1>";
  AppendHtmlEscaped(out, heading);
  out += "</h1>\n<p>";
  AppendHtmlEscaped(out, message);
  out += "</p>\n<p><a href=\"/status\">All status pages</a></p>\n</main>\n";
  out += End();
  return out;
}

std::string HtmlLayout::LoginPage(const StatusPage& page, bool failed, bool throttled) {
  std::string out = Begin(HtmlHead{page.title, "", page.theme, "", true});
  out +=
      "<main id=\"main\" class=\"wrap\">\n<form class=\"card login\" method=\"post\" "
      "action=\"/status/";
  AppendHtmlEscaped(out, page.slug);
  out += "/login\">\n<h1>";
  AppendHtmlEscaped(out, page.title);
  out += "</h1>\n<p>This status page is protected. Enter its password to continue.</p>\n";
  if (throttled) {
    out +=
        "<p class=\"error\" role=\"alert\">Too many wrong passwords. Wait a minute and try "
        "again.</p>\n";
  } else if (failed) {
    out += "<p class=\"error\" role=\"alert\">That password is not right.</p>\n";
  }
  out +=
      "<label for=\"password\">Password</label>\n"
      "<input id=\"password\" name=\"password\" type=\"password\" "
      "autocomplete=\"current-password\" "
      "required autofocus>\n<button type=\"submit\">View status</button>\n</form>\n</main>\n";
  out += End();
  return out;
}

}  // namespace pharos

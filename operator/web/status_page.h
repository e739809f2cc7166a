#pragma once

// StatusPage: the in-memory form of a `pharos.dev/v1alpha1` StatusPage (docs/status-pages.md) — a
// public page of chosen monitors: its slug (the URL), title, description, logo, ordered groups of
// components (a monitor by name, or every monitor matching a label selector), the regions shown,
// the theme, footer links and who may read it. Plain data; StatusPageParser builds it from
// files and Kubernetes objects.
// Thread-safety: a value type.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/monitor.h"
#include "operator/web/ip_range.h"

namespace pharos {

inline constexpr std::string_view kStatusPageKind = "StatusPage";
// Annotation of a Monitor giving the name a page shows for it (selector components).
inline constexpr std::string_view kDisplayNameAnnotation = "pharos.dev/display-name";

struct StatusPageComponent {
  // Of the monitor(s): the page's own when not written. Empty only in the default page of
  // `pharos run`, whose one component selects every monitor of every namespace.
  std::string namespace_name;
  std::string monitor;  // by name; empty when `match_labels` selects them
  // Every monitor of the namespace carrying all these labels (empty map: every monitor), in
  // name order. Only used when `monitor` is empty.
  std::map<std::string, std::string> match_labels;
  std::string display_name;  // empty: the monitor's display-name annotation, else its name
  std::string description;   // a short help text shown with the component

  bool selects() const { return monitor.empty(); }
  bool operator==(const StatusPageComponent&) const = default;
};

struct StatusPageGroup {
  std::string name;  // may be empty: the components are shown without a heading
  std::vector<StatusPageComponent> components;
  bool operator==(const StatusPageGroup&) const = default;
};

struct FooterLink {
  std::string title;
  std::string url;  // http(s) or mailto
  bool operator==(const FooterLink&) const = default;
};

enum class PageTheme { kAuto, kLight, kDark };
const char* ToString(PageTheme theme);  // "auto" "light" "dark"

struct SecretKeyRef {
  std::string name;
  std::string key;
  bool operator==(const SecretKeyRef&) const = default;
};

struct PageAccess {
  // Readers must give this password (a form, or HTTP Basic for feeds and the JSON API).
  std::string password;
  // Kubernetes: the password is read from this Secret of the page's namespace (the operator
  // resolves it into `password`).
  std::optional<SecretKeyRef> password_secret;
  // Only clients from these ranges may read the page (empty: any client).
  std::vector<IpRange> allowed_cidrs;

  bool is_public() const { return password.empty() && !password_secret && allowed_cidrs.empty(); }
  bool operator==(const PageAccess&) const = default;
};

struct StatusPage {
  std::string namespace_name = "default";
  std::string name;  // metadata.name
  std::string slug;  // the URL: /status/{slug}; metadata.name when not written
  std::string title;
  std::string description;
  std::string logo_url;
  std::vector<StatusPageGroup> groups;
  std::vector<std::string> regions;  // regions shown; empty = every region
  PageTheme theme = PageTheme::kAuto;
  std::vector<FooterLink> footer_links;
  PageAccess access;
  // The default page of `pharos run`: one group per namespace instead of the groups above.
  bool group_by_namespace = false;
  SourceLocation source;

  std::string Key() const { return namespace_name + "/" + name; }
  bool operator==(const StatusPage&) const = default;
};

// The page `pharos run` serves when no StatusPage is declared: slug "default", every monitor,
// one group per namespace.
StatusPage DefaultStatusPage();

}  // namespace pharos

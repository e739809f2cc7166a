#include "operator/web/status_page.h"

namespace pharos {

const char* ToString(PageTheme theme) {
  switch (theme) {
    case PageTheme::kAuto:
      return "auto";
    case PageTheme::kLight:
      return "light";
    case PageTheme::kDark:
      return "dark";
  }
  return "auto";
}

StatusPage DefaultStatusPage() {
  StatusPage page;
  page.name = "default";
  page.slug = "default";
  page.title = "Service status";
  page.group_by_namespace = true;
  StatusPageComponent every;
  every.namespace_name.clear();
  page.groups.push_back(StatusPageGroup{"", {every}});
  return page;
}

}  // namespace pharos

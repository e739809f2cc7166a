#include "operator/web/status_page_parser.h"

#include <algorithm>
#include <map>
#include <string_view>
#include <utility>

#include "common/name_syntax.h"

namespace pharos {
namespace {

using Kind = DocumentNode::Kind;

constexpr size_t kMaxTitle = 200;
constexpr size_t kMaxDescription = 2'000;
constexpr size_t kMaxUrl = 2'048;

std::string Join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string Index(const std::string& path, size_t index) {
  return path + "[" + std::to_string(index) + "]";
}

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

// Reads one document, collecting errors.
class Reader {
 public:
  Reader(StatusPageSource source, std::vector<ValidationError>* errors)
      : source_(source), errors_(*errors) {}

  void Fail(const SourceLocation& where, const std::string& path, std::string message) {
    errors_.push_back(ValidationError{where, path, std::move(message)});
  }

  // The members of a mapping by key; unknown and duplicate keys reported (unknown ones only
  // when `strict`). Null values count as absent.
  std::map<std::string, const DocumentNode*> Open(const DocumentNode& node, const std::string& path,
                                                  std::vector<std::string_view> known,
                                                  bool strict = true) {
    std::map<std::string, const DocumentNode*> out;
    if (node.kind != Kind::kMapping) {
      Fail(node.location, path, "expected a mapping, got " + node.KindName());
      return out;
    }
    std::map<std::string, bool> seen;
    for (const DocumentNode::Member& member : node.members) {
      const std::string field = Join(path, member.key);
      if (seen.count(member.key) != 0) {
        Fail(member.key_location, field, "duplicate field \"" + member.key + "\"");
        continue;
      }
      seen[member.key] = true;
      if (std::find(known.begin(), known.end(), member.key) == known.end()) {
        if (strict) {
          std::string names;
          for (std::string_view name : known) {
            names += (names.empty() ? "" : ", ") + std::string(name);
          }
          Fail(member.key_location, field,
               "unknown field \"" + member.key + "\" (known fields: " + names + ")");
        }
        continue;
      }
      if (member.value.kind != Kind::kNull) out.emplace(member.key, &member.value);
    }
    return out;
  }

  bool String(const DocumentNode& node, const std::string& path, std::string* out,
              size_t max_length = 0) {
    if (node.kind != Kind::kScalar) {
      Fail(node.location, path, "expected a string, got " + node.KindName());
      return false;
    }
    if (max_length > 0 && node.scalar.size() > max_length) {
      Fail(node.location, path,
           "too long: " + std::to_string(node.scalar.size()) + " characters, at most " +
               std::to_string(max_length));
      return false;
    }
    *out = node.scalar;
    return true;
  }

  std::vector<const DocumentNode*> List(const DocumentNode& node, const std::string& path) {
    std::vector<const DocumentNode*> out;
    if (node.kind != Kind::kSequence) {
      Fail(node.location, path, "expected a list, got " + node.KindName());
      return out;
    }
    for (const DocumentNode& item : node.items) out.push_back(&item);
    return out;
  }

  // An http(s) URL, or (when `allow_path`) a path on this server ("/logo.svg"), or (when
  // `allow_mailto`) a mailto: link.
  bool Url(const DocumentNode& node, const std::string& path, std::string* out, bool allow_path,
           bool allow_mailto) {
    std::string text;
    if (!String(node, path, &text, kMaxUrl)) return false;
    const bool ok = ((StartsWith(text, "https://") || StartsWith(text, "http://")) &&
                     text.find_first_of(" \t\r\n\"<>") == std::string::npos) ||
                    (allow_path && StartsWith(text, "/") && !StartsWith(text, "//")) ||
                    (allow_mailto && StartsWith(text, "mailto:"));
    if (!ok) {
      Fail(node.location, path,
           "\"" + text + "\" is not an http(s) URL" +
               std::string(allow_path ? " or a path starting with /" : "") +
               std::string(allow_mailto ? " or a mailto: link" : ""));
      return false;
    }
    *out = std::move(text);
    return true;
  }

  void Parse(const DocumentNode& document, StatusPage* page) {
    page->source = document.location;
    if (document.kind != Kind::kMapping) {
      Fail(document.location, "",
           "expected a StatusPage (a mapping with apiVersion, kind, metadata and spec), got " +
               document.KindName());
      return;
    }
    auto top = Open(document, "", {"apiVersion", "kind", "metadata", "spec", "status"},
                    source_ == StatusPageSource::kFile);
    const std::pair<const char*, std::string_view> identity[] = {{"apiVersion", kMonitorApiVersion},
                                                                 {"kind", kStatusPageKind}};
    for (const auto& [field, expected] : identity) {
      const auto found = top.find(field);
      if (found == top.end()) {
        if (source_ == StatusPageSource::kFile) {
          Fail(document.location, field, "required (" + std::string(expected) + ")");
        }
        continue;
      }
      std::string value;
      if (String(*found->second, field, &value) && value != expected) {
        Fail(found->second->location, field,
             "must be " + std::string(expected) + " (got \"" + value + "\")");
      }
    }
    if (const auto metadata = top.find("metadata"); metadata != top.end()) {
      ParseMetadata(*metadata->second, page);
    } else {
      Fail(document.location, "metadata", "required (with at least a name)");
    }
    if (const auto spec = top.find("spec"); spec != top.end()) {
      ParseSpec(*spec->second, page);
    } else {
      Fail(document.location, "spec", "required (with at least one group of components)");
    }
    if (page->slug.empty()) page->slug = page->name;
    if (page->title.empty()) page->title = page->name;
  }

 private:
  void ParseMetadata(const DocumentNode& node, StatusPage* page) {
    auto fields = Open(node, "metadata", {"name", "namespace", "labels", "annotations"},
                       source_ == StatusPageSource::kFile);
    if (const auto name = fields.find("name"); name != fields.end()) {
      if (String(*name->second, "metadata.name", &page->name) && !IsDns1123Subdomain(page->name)) {
        Fail(name->second->location, "metadata.name",
             "\"" + page->name +
                 "\" is not a valid name: lower-case letters, digits, '-' and '.', starting and "
                 "ending with a letter or digit, at most 253 characters");
      }
    } else {
      Fail(node.location, "metadata.name", "required");
    }
    if (const auto ns = fields.find("namespace"); ns != fields.end()) {
      if (String(*ns->second, "metadata.namespace", &page->namespace_name) &&
          !IsDns1123Label(page->namespace_name)) {
        Fail(ns->second->location, "metadata.namespace",
             "\"" + page->namespace_name + "\" is not a valid namespace (a DNS-1123 label)");
      }
    }
  }

  void ParseSpec(const DocumentNode& node, StatusPage* page) {
    auto fields = Open(node, "spec",
                       {"slug", "title", "description", "logoUrl", "theme", "regions", "groups",
                        "footerLinks", "access"});
    if (const auto slug = fields.find("slug"); slug != fields.end()) {
      if (String(*slug->second, "spec.slug", &page->slug) && !IsDns1123Label(page->slug)) {
        Fail(slug->second->location, "spec.slug",
             "\"" + page->slug +
                 "\" cannot be a slug: 1-63 lower-case letters, digits and '-', starting and "
                 "ending with a letter or digit");
      }
    } else if (!page->name.empty() && !IsDns1123Label(page->name)) {
      Fail(node.location, "spec.slug",
           "required here: metadata.name \"" + page->name +
               "\" cannot be a slug (1-63 lower-case letters, digits and '-')");
    }
    if (const auto title = fields.find("title"); title != fields.end()) {
      String(*title->second, "spec.title", &page->title, kMaxTitle);
    }
    if (const auto description = fields.find("description"); description != fields.end()) {
      String(*description->second, "spec.description", &page->description, kMaxDescription);
    }
    if (const auto logo = fields.find("logoUrl"); logo != fields.end()) {
      Url(*logo->second, "spec.logoUrl", &page->logo_url, /*allow_path=*/true,
          /*allow_mailto=*/false);
    }
    if (const auto theme = fields.find("theme"); theme != fields.end()) {
      std::string text;
      if (String(*theme->second, "spec.theme", &text)) {
        if (text == "auto") {
          page->theme = PageTheme::kAuto;
        } else if (text == "light") {
          page->theme = PageTheme::kLight;
        } else if (text == "dark") {
          page->theme = PageTheme::kDark;
        } else {
          Fail(theme->second->location, "spec.theme",
               "\"" + text + "\" is not a theme: auto, light or dark");
        }
      }
    }
    if (const auto regions = fields.find("regions"); regions != fields.end()) {
      const std::vector<const DocumentNode*> items = List(*regions->second, "spec.regions");
      for (size_t i = 0; i < items.size(); ++i) {
        std::string region;
        const std::string path = Index("spec.regions", i);
        if (String(*items[i], path, &region)) {
          if (!IsDns1123Label(region)) {
            Fail(items[i]->location, path,
                 "\"" + region + "\" is not a region name (a DNS-1123 label)");
          } else {
            page->regions.push_back(region);
          }
        }
      }
    }
    if (const auto groups = fields.find("groups"); groups != fields.end()) {
      const std::vector<const DocumentNode*> items = List(*groups->second, "spec.groups");
      if (items.empty() && groups->second->kind == Kind::kSequence) {
        Fail(groups->second->location, "spec.groups", "needs at least one group of components");
      }
      for (size_t i = 0; i < items.size(); ++i) {
        page->groups.push_back(ParseGroup(*items[i], Index("spec.groups", i), *page));
      }
    } else {
      Fail(node.location, "spec.groups",
           "required: at least one group, e.g. groups: [{name: Website, components: "
           "[{monitor: homepage}]}]");
    }
    if (const auto links = fields.find("footerLinks"); links != fields.end()) {
      const std::vector<const DocumentNode*> items = List(*links->second, "spec.footerLinks");
      for (size_t i = 0; i < items.size(); ++i) {
        const std::string path = Index("spec.footerLinks", i);
        auto link_fields = Open(*items[i], path, {"title", "url"});
        FooterLink link;
        if (const auto title = link_fields.find("title"); title != link_fields.end()) {
          String(*title->second, Join(path, "title"), &link.title, kMaxTitle);
        } else if (items[i]->kind == Kind::kMapping) {
          Fail(items[i]->location, Join(path, "title"), "required");
        }
        if (const auto url = link_fields.find("url"); url != link_fields.end()) {
          Url(*url->second, Join(path, "url"), &link.url, /*allow_path=*/true,
              /*allow_mailto=*/true);
        } else if (items[i]->kind == Kind::kMapping) {
          Fail(items[i]->location, Join(path, "url"), "required");
        }
        page->footer_links.push_back(std::move(link));
      }
    }
    if (const auto access = fields.find("access"); access != fields.end()) {
      ParseAccess(*access->second, &page->access);
    }
  }

  StatusPageGroup ParseGroup(const DocumentNode& node, const std::string& path,
                             const StatusPage& page) {
    StatusPageGroup group;
    auto fields = Open(node, path, {"name", "components"});
    if (const auto name = fields.find("name"); name != fields.end()) {
      String(*name->second, Join(path, "name"), &group.name, kMaxTitle);
    }
    const std::string components_path = Join(path, "components");
    if (const auto components = fields.find("components"); components != fields.end()) {
      const std::vector<const DocumentNode*> items = List(*components->second, components_path);
      if (items.empty() && components->second->kind == Kind::kSequence) {
        Fail(components->second->location, components_path, "needs at least one component");
      }
      for (size_t i = 0; i < items.size(); ++i) {
        group.components.push_back(ParseComponent(*items[i], Index(components_path, i), page));
      }
    } else if (node.kind == Kind::kMapping) {
      Fail(node.location, components_path,
           "required: the monitors this group shows, e.g. [{monitor: checkout-api}]");
    }
    return group;
  }

  StatusPageComponent ParseComponent(const DocumentNode& node, const std::string& path,
                                     const StatusPage& page) {
    StatusPageComponent component;
    component.namespace_name = page.namespace_name;
    auto fields = Open(node, path, {"monitor", "selector", "namespace", "name", "description"});
    if (node.kind != Kind::kMapping) return component;
    if (const auto ns = fields.find("namespace"); ns != fields.end()) {
      if (String(*ns->second, Join(path, "namespace"), &component.namespace_name) &&
          !IsDns1123Label(component.namespace_name)) {
        Fail(ns->second->location, Join(path, "namespace"),
             "\"" + component.namespace_name + "\" is not a valid namespace (a DNS-1123 label)");
      }
    }
    const auto monitor = fields.find("monitor");
    const auto selector = fields.find("selector");
    if (monitor != fields.end() && selector != fields.end()) {
      Fail(node.location, path, "give either monitor (one monitor by name) or selector, not both");
    } else if (monitor != fields.end()) {
      if (String(*monitor->second, Join(path, "monitor"), &component.monitor) &&
          !IsDns1123Subdomain(component.monitor)) {
        Fail(monitor->second->location, Join(path, "monitor"),
             "\"" + component.monitor + "\" is not a Monitor name");
      }
    } else if (selector != fields.end()) {
      const std::string selector_path = Join(path, "selector");
      auto selector_fields = Open(*selector->second, selector_path, {"matchLabels"});
      if (const auto labels = selector_fields.find("matchLabels");
          labels != selector_fields.end()) {
        const std::string labels_path = Join(selector_path, "matchLabels");
        if (labels->second->kind != Kind::kMapping) {
          Fail(labels->second->location, labels_path,
               "expected a mapping of label names to values, got " + labels->second->KindName());
        } else {
          for (const DocumentNode::Member& member : labels->second->members) {
            std::string value;
            if (String(member.value, Join(labels_path, member.key), &value)) {
              component.match_labels[member.key] = value;
            }
          }
        }
      }
    } else {
      Fail(node.location, path,
           "needs monitor (a Monitor's name) or selector ({matchLabels: {...}}; {} selects "
           "every monitor of the namespace)");
    }
    if (const auto name = fields.find("name"); name != fields.end()) {
      String(*name->second, Join(path, "name"), &component.display_name, kMaxTitle);
    }
    if (const auto description = fields.find("description"); description != fields.end()) {
      String(*description->second, Join(path, "description"), &component.description,
             kMaxDescription);
    }
    return component;
  }

  void ParseAccess(const DocumentNode& node, PageAccess* access) {
    auto fields = Open(node, "spec.access", {"password", "passwordSecretRef", "allowedCidrs"});
    const auto password = fields.find("password");
    const auto secret = fields.find("passwordSecretRef");
    if (password != fields.end() && secret != fields.end()) {
      Fail(node.location, "spec.access", "give either password or passwordSecretRef, not both");
    } else if (password != fields.end()) {
      if (String(*password->second, "spec.access.password", &access->password, 1'024) &&
          access->password.empty()) {
        Fail(password->second->location, "spec.access.password",
             "must not be empty (leave access.password out for a public page)");
      }
    } else if (secret != fields.end()) {
      if (source_ == StatusPageSource::kFile) {
        Fail(secret->second->location, "spec.access.passwordSecretRef",
             "Secrets exist only in Kubernetes: in pharos run files write access.password");
      } else {
        auto ref_fields = Open(*secret->second, "spec.access.passwordSecretRef", {"name", "key"});
        SecretKeyRef ref;
        for (auto [field, out] : {std::pair{"name", &ref.name}, std::pair{"key", &ref.key}}) {
          const std::string path = Join("spec.access.passwordSecretRef", field);
          if (const auto found = ref_fields.find(field); found != ref_fields.end()) {
            String(*found->second, path, out);
          }
          if (out->empty()) Fail(secret->second->location, path, "required");
        }
        access->password_secret = std::move(ref);
      }
    }
    if (const auto cidrs = fields.find("allowedCidrs"); cidrs != fields.end()) {
      const std::vector<const DocumentNode*> items =
          List(*cidrs->second, "spec.access.allowedCidrs");
      for (size_t i = 0; i < items.size(); ++i) {
        const std::string path = Index("spec.access.allowedCidrs", i);
        std::string text;
        if (!String(*items[i], path, &text)) continue;
        Result<IpRange> range = IpRange::Parse(text);
        if (!range) {
          Fail(items[i]->location, path, range.error());
        } else {
          access->allowed_cidrs.push_back(*range);
        }
      }
    }
  }

  const StatusPageSource source_;
  std::vector<ValidationError>& errors_;
};

}  // namespace

ParsedStatusPage ParseStatusPage(const DocumentNode& document, StatusPageSource source) {
  ParsedStatusPage out;
  Reader(source, &out.errors).Parse(document, &out.page);
  return out;
}

std::vector<ValidationError> CheckStatusPageSet(const std::vector<StatusPage>& pages) {
  std::vector<ValidationError> errors;
  std::map<std::string, const StatusPage*> by_slug;
  for (const StatusPage& page : pages) {
    const auto [first, added] = by_slug.emplace(page.slug, &page);
    if (!added) {
      const SourceLocation& other = first->second->source;
      errors.push_back(ValidationError{
          page.source, "spec.slug",
          "slug \"" + page.slug + "\" is already used by StatusPage " + first->second->Key() +
              (other.line > 0 ? " (" + other.file + ":" + std::to_string(other.line) + ")" : "")});
    }
  }
  return errors;
}

}  // namespace pharos

#pragma once

// StatusPageParser: turns one `kind: StatusPage` document (a file's, or a Kubernetes object's)
// into a StatusPage, reporting every problem with its location and field path
// ("pages.yaml:12:9: spec.groups[0].components[1]: give either monitor or selector, not both").
// Files are strict (every field known, apiVersion and kind required); Kubernetes objects may
// carry fields the server adds (metadata.uid, status...). The schema is docs/status-pages.md and
// crds/statuspages.pharos.dev.yaml.
// Thread-safety: free functions; no shared state.

#include <vector>

#include "common/document_node.h"
#include "common/monitor_loader.h"
#include "operator/web/status_page.h"

namespace pharos {

enum class StatusPageSource {
  kFile,       // `pharos run` files: passwordSecretRef is refused (no Secrets to read)
  kApiObject,  // Kubernetes: unknown metadata ignored
};

struct ParsedStatusPage {
  StatusPage page;  // fields that failed keep their defaults
  std::vector<ValidationError> errors;
};

ParsedStatusPage ParseStatusPage(const DocumentNode& document, StatusPageSource source);

// Errors across pages: two pages with one slug (each error points at the later page).
std::vector<ValidationError> CheckStatusPageSet(const std::vector<StatusPage>& pages);

}  // namespace pharos

#pragma once

// WebFrontend: the web side of both editions (docs/status-pages.md, docs/dashboard.md) — the
// routes it adds to the control plane's HTTP server:
//   GET  /                                   302 to /status
//   GET  /status                             the only page, or the index of pages
//   GET  /status/{slug}                      a status page (HTML)
//   POST /status/{slug}/login                the password form of a protected page
//   GET  /status/{slug}/feed.rss|feed.atom   its incidents as a feed
//   GET  /api/v1/status/{slug}               the page as JSON
//   GET  /ui/                                the dashboard: every monitor, sortable, filterable, paged
//   GET  /ui/monitors/{namespace}/{name}     one monitor: charts, results, incidents
//   GET  /badge/{namespace}/{name}/status.svg|uptime.svg|latency.svg
//   GET  /api/v1/screenshots/{id}.png        a screenshot taken on downtime
//   GET  /assets/{name}                      the embedded stylesheet, script and icons
// Unknown pages and monitors get a 404 page (HTML) or a JSON 404 (API), never a 500. Status
// pages, feeds and the JSON are built at most once per `page_cache_ttl` per page and carry an
// ETag; If-None-Match gets 304.
// Handlers can be called directly (tests) with a Reply function.
// Thread-safety: handlers may run concurrently on any thread.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/http_server.h"
#include "common/result.h"
#include "operator/control/incident_reader.h"
#include "operator/control/maintenance_calendar.h"
#include "operator/control/result_store.h"
#include "operator/control/status_reader.h"
#include "operator/web/dashboard_pages.h"
#include "operator/web/page_guard.h"
#include "operator/web/screenshot_index.h"
#include "operator/web/status_page_builder.h"
#include "operator/web/status_page_directory.h"

namespace pharos {

// Serves stored screenshots (ScreenshotStore implements it).
class ScreenshotFiles {
 public:
  virtual ~ScreenshotFiles() = default;
  // The PNG of screenshot `id`; nullopt when there is none.
  virtual std::optional<std::string> ReadPng(const std::string& id) const = 0;
};

class WebFrontend {
 public:
  using Reply = std::function<void(HttpResponse)>;
  using RouteAdder =
      std::function<Status(std::string_view method, std::string_view pattern, HttpHandler handler)>;

  struct Sources {
    StatusReader& status;
    HistoryReader& history;
    IncidentReader& incidents;
    const MaintenanceCalendar& calendar;
    const ScreenshotIndex* screenshot_index = nullptr;  // may be null
    const ScreenshotFiles* screenshot_files = nullptr;  // may be null
  };

  struct Options {
    // How long a built page (HTML, JSON, feed) is served before it is built again; 0 builds
    // every request.
    std::chrono::milliseconds page_cache_ttl{5'000};
    // Proxies whose X-Forwarded-For names the client (allowedCidrs of pages behind an Ingress).
    std::vector<IpRange> trusted_proxies;
    // The edition's name in the dashboard ("pharos run" or "pharos-operator").
    std::string edition = "pharos";
  };

  // Every source, `pages` and `clock` must outlive the frontend.
  WebFrontend(Sources sources, StatusPageDirectory& pages, const Clock& clock, Options options);

  // Adds every route above.
  Status Register(const RouteAdder& add);

  void HandleRoot(const HttpRequest& request, const Reply& reply);
  void HandleStatusIndex(const HttpRequest& request, const Reply& reply);
  void HandleStatusPage(const HttpRequest& request, const Reply& reply);
  void HandleLogin(const HttpRequest& request, const Reply& reply);
  void HandleFeed(const HttpRequest& request, const Reply& reply);
  void HandleStatusJson(const HttpRequest& request, const Reply& reply);
  void HandleDashboard(const HttpRequest& request, const Reply& reply);
  void HandleMonitorPage(const HttpRequest& request, const Reply& reply);
  void HandleBadge(const HttpRequest& request, const Reply& reply);
  void HandleScreenshot(const HttpRequest& request, const Reply& reply);
  void HandleAsset(const HttpRequest& request, const Reply& reply);

  // Drops every built page (tests; a changed page set is picked up at the next TTL anyway).
  void ForgetCachedPages();

 private:
  enum class Representation { kHtml, kJson, kRss, kAtom };
  struct Built {
    std::shared_ptr<const StatusPage> page;  // the page it was built from (a changed page rebuilds)
    std::string content_type;
    std::string body;
    std::string etag;
    std::chrono::steady_clock::time_point at{};
  };

  // The page as `representation`, from the cache when fresh. Errors: reading the history.
  Result<std::shared_ptr<const Built>> BuildPage(const std::shared_ptr<const StatusPage>& page,
                                                 Representation representation,
                                                 const std::string& base_url);
  // The page of request's {slug}, or a reply (404, 403, the password form) and nullptr.
  std::shared_ptr<const StatusPage> OpenPage(const HttpRequest& request, const Reply& reply,
                                             bool html);
  void ServePage(const HttpRequest& request, const Reply& reply,
                 const std::shared_ptr<const StatusPage>& page, Representation representation);

  const Sources sources_;
  StatusPageDirectory& pages_;
  const Clock& clock_;
  const Options options_;
  StatusPageBuilder builder_;
  DashboardPages dashboard_;
  PageGuard guard_;

  std::mutex cache_mu_;
  std::map<std::string, std::shared_ptr<const Built>> cache_;  // GUARDED_BY(cache_mu_)
};

}  // namespace pharos

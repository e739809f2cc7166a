#pragma once

// WebFrontend: the web side of both editions (docs/status-pages.md, docs/dashboard.md) — the
// routes it adds to the control plane's HTTP server:
//   GET  /                                   302 to /status
//   GET  /status                             the only page, or the index of pages
//   GET  /status/{slug}                      a status page (HTML)
//   POST /status/{slug}/login                the password form of a protected page
//   GET  /status/{slug}/feed.rss|feed.atom   its incidents as a feed
//   GET  /api/v1/status/{slug}               the page as JSON
//   GET  /ui/                                the dashboard: every monitor, sortable, filterable,
//   paged GET  /ui/monitors/{namespace}/{name}     one monitor: charts, results, incidents GET
//   /badge/{namespace}/{name}/status.svg|uptime.svg|latency.svg GET  /api/v1/screenshots/{id}.png
//   a screenshot taken on downtime GET  /assets/{name}                      the embedded
//   stylesheet, script and icons
// Unknown pages and monitors get a 404 page (HTML) or a JSON 404 (API), never a 500. Status
// pages, feeds and the JSON are built (and gzip-compressed) at most once per `page_cache_ttl`:
// a reader gets the page as last built, and a page older than the ttl is served while the
// thread "pharos-web" builds it again (stale-while-revalidate), so no reader waits for a build
// except the first one and after `max_stale` without readers. Responses carry an ETag;
// If-None-Match gets 304.
// Handlers can be called directly (tests) with a Reply function.
// Thread-safety: handlers may run concurrently on any thread.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/http_server.h"
#include "common/mutex.h"
#include "common/result.h"
#include "operator/control/incident_reader.h"
#include "operator/control/maintenance_calendar.h"
#include "operator/control/result_store.h"
#include "operator/control/status_reader.h"
#include "operator/web/bar_cell_cache.h"
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
    // How long a built page (HTML, JSON, feed) is served before it is built again (in the
    // background); 0 builds every request on the request's thread (benchmarks).
    std::chrono::milliseconds page_cache_ttl{5'000};
    // A page older than this is built again before it is served.
    std::chrono::milliseconds max_stale{60'000};
    // Complete days and hours of the rollups are read again after this (late results).
    std::chrono::milliseconds rollup_cache_ttl{600'000};
    // Proxies whose X-Forwarded-For names the client (allowedCidrs of pages behind an Ingress).
    std::vector<IpRange> trusted_proxies;
    // The edition's name in the dashboard ("pharos run" or "pharos-operator").
    std::string edition = "pharos";
  };

  // Every source, `pages` and `clock` must outlive the frontend. Starts "pharos-web".
  WebFrontend(Sources sources, StatusPageDirectory& pages, const Clock& clock, Options options);
  // Stops "pharos-web" (call before the sources go).
  ~WebFrontend();
  WebFrontend(const WebFrontend&) = delete;
  WebFrontend& operator=(const WebFrontend&) = delete;

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
  // Waits until no page is being built in the background (tests).
  void WaitForRefreshes();

 private:
  enum class Representation { kHtml, kJson, kRss, kAtom };
  struct Built {
    std::shared_ptr<const StatusPage> page;  // the page it was built from (a changed page rebuilds)
    std::string content_type;
    std::string body;
    std::string gzip;  // the body compressed; empty when not worth it
    std::string etag;
    std::chrono::steady_clock::time_point at{};
  };
  struct Slot {
    std::shared_ptr<const Built> built;
    bool refreshing = false;
    std::chrono::steady_clock::time_point last_request{};
  };
  struct Refresh {
    std::string key;
    std::shared_ptr<const StatusPage> page;
    Representation representation;
    std::string base_url;
  };

  // The page as `representation`: the cached one, or built now (with its gzip form when cached
  // or `wants_gzip`). Errors: reading the history.
  Result<std::shared_ptr<const Built>> GetPage(const std::shared_ptr<const StatusPage>& page,
                                               Representation representation,
                                               const std::string& base_url, bool wants_gzip);
  Result<std::shared_ptr<const Built>> Build(const std::shared_ptr<const StatusPage>& page,
                                             Representation representation,
                                             const std::string& base_url, bool compress);
  void RefreshLoop(const std::stop_token& stop);
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
  BarCellCache bar_cells_;  // the complete days of the pages' bars, between renderings
  DashboardPages dashboard_;
  PageGuard guard_;

  Mutex cache_mu_;
  CondVar cache_cv_;  // a refresh queued or finished
  std::map<std::string, Slot> cache_ GUARDED_BY(cache_mu_);
  std::vector<Refresh> refreshes_ GUARDED_BY(cache_mu_);
  int building_ GUARDED_BY(cache_mu_) = 0;  // background builds running
  std::jthread refresher_;                  // last: stopped first
};

}  // namespace pharos

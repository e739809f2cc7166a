#include "operator/web/web_frontend.h"

#include <pthread.h>

#include <utility>

#include "common/http_router.h"
#include "common/logging.h"
#include "operator/web/badge_svg.h"
#include "operator/web/html_layout.h"
#include "operator/web/status_feed.h"
#include "operator/web/status_page_html.h"
#include "operator/web/status_page_json.h"
#include "operator/web/web_assets.h"
#include "operator/web/web_response.h"

namespace pharos {
namespace {

constexpr std::string_view kPublicCache = "public, max-age=30";
constexpr std::string_view kPrivateCache = "private, no-cache";
constexpr std::string_view kBadgeCache = "public, max-age=60, s-maxage=60";
constexpr std::string_view kDashboardCache = "private, no-cache";

const Logger& Log() {
  static const Logger logger("web");
  return logger;
}

HttpResponse HtmlError(const HttpRequest& request, int status, std::string_view heading,
                       std::string_view message) {
  return WebResponse::Make(request, status, WebResponse::kHtml,
                           HtmlLayout::ErrorPage(status, heading, message), kPrivateCache);
}

// "https://status.example.com" from the request (the feed's absolute links).
std::string BaseUrl(const HttpRequest& request) {
  std::string host(request.Header("Host"));
  const bool valid = !host.empty() && host.size() < 256 &&
                     host.find_first_not_of(
                         "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                         "0123456789.-:[]") == std::string::npos;
  if (!valid) host = "localhost";
  const std::string_view proto = request.Header("X-Forwarded-Proto");
  return (proto == "https" ? "https://" : "http://") + host;
}

// The value of a form field (application/x-www-form-urlencoded); "" when absent.
std::string FormField(const std::string& body, const std::string& name) {
  Result<std::map<std::string, std::string>> fields = ParseQueryString(body);
  if (!fields) return "";
  const auto found = fields->find(name);
  return found == fields->end() ? "" : found->second;
}

}  // namespace

WebFrontend::WebFrontend(Sources sources, StatusPageDirectory& pages, const Clock& clock,
                         Options options)
    : sources_(sources),
      pages_(pages),
      clock_(clock),
      options_(std::move(options)),
      builder_(sources.status, sources.history, sources.incidents, sources.calendar,
               sources.screenshot_index,
               RollupCountsCache::Options{options_.rollup_cache_ttl, 50'000}),
      dashboard_(sources.status, sources.history, sources.incidents, clock, options_.edition),
      guard_(options_.trusted_proxies) {
  refresher_ = std::jthread([this](const std::stop_token& stop) {
    pthread_setname_np(pthread_self(), "pharos-web");
    RefreshLoop(stop);
  });
}

WebFrontend::~WebFrontend() {
  refresher_.request_stop();
  cache_cv_.NotifyAll();
}

Status WebFrontend::Register(const RouteAdder& add) {
  using Handler = void (WebFrontend::*)(const HttpRequest&, const Reply&);
  const std::tuple<const char*, const char*, Handler> routes[] = {
      {"GET", "/", &WebFrontend::HandleRoot},
      {"GET", "/status", &WebFrontend::HandleStatusIndex},
      {"GET", "/status/{slug}", &WebFrontend::HandleStatusPage},
      {"POST", "/status/{slug}/login", &WebFrontend::HandleLogin},
      {"GET", "/status/{slug}/{feed}", &WebFrontend::HandleFeed},
      {"GET", "/api/v1/status/{slug}", &WebFrontend::HandleStatusJson},
      {"GET", "/ui", &WebFrontend::HandleDashboard},
      {"GET", "/ui/monitors/{namespace}/{name}", &WebFrontend::HandleMonitorPage},
      {"GET", "/badge/{namespace}/{name}/{badge}", &WebFrontend::HandleBadge},
      {"GET", "/api/v1/screenshots/{file}", &WebFrontend::HandleScreenshot},
      {"GET", "/assets/{name}", &WebFrontend::HandleAsset},
  };
  for (const auto& [method, pattern, handler] : routes) {
    Status added = add(
        method, pattern, [this, handler = handler](const HttpRequest& request, HttpResponder out) {
          (this->*handler)(request,
                           [&out](HttpResponse response) { out.Send(std::move(response)); });
        });
    if (!added) return added;
  }
  return OkStatus();
}

void WebFrontend::ForgetCachedPages() {
  MutexLock lock(cache_mu_);
  cache_.clear();
}

void WebFrontend::HandleRoot(const HttpRequest&, const Reply& reply) {
  reply(WebResponse::Redirect(302, "/status"));
}

void WebFrontend::HandleStatusIndex(const HttpRequest& request, const Reply& reply) {
  const std::vector<std::shared_ptr<const StatusPage>> pages = pages_.List();
  if (pages.size() == 1) {
    // One page: shown here as well as at its own address.
    if (guard_.Check(*pages.front(), request, clock_.Now()) == PageGuard::Verdict::kAllowed) {
      return ServePage(request, reply, pages.front(), Representation::kHtml);
    }
    return reply(WebResponse::Redirect(302, "/status/" + pages.front()->slug));
  }
  reply(WebResponse::Make(request, 200, WebResponse::kHtml, StatusPageHtml::RenderIndex(pages),
                          kPublicCache));
}

std::shared_ptr<const StatusPage> WebFrontend::OpenPage(const HttpRequest& request,
                                                        const Reply& reply, bool html) {
  const std::string& slug = request.path_params.at("slug");
  std::shared_ptr<const StatusPage> page = pages_.Find(slug);
  if (!page) {
    reply(html ? HtmlError(request, 404, "No such status page",
                           "There is no status page called \"" + slug + "\".")
               : HttpResponse::Error(404, "no status page \"" + slug + "\""));
    return nullptr;
  }
  switch (guard_.Check(*page, request, clock_.Now())) {
    case PageGuard::Verdict::kAllowed:
      return page;
    case PageGuard::Verdict::kForbidden:
      reply(html ? HtmlError(request, 403, "Not available from your network",
                             "This status page can only be read from allowed networks.")
                 : HttpResponse::Error(403, "this status page is not readable from your address"));
      return nullptr;
    case PageGuard::Verdict::kNeedsPassword:
      if (html) {
        reply(WebResponse::Make(request, 401, WebResponse::kHtml,
                                HtmlLayout::LoginPage(*page, false, false), kPrivateCache));
      } else {
        HttpResponse response = HttpResponse::Error(401, "this status page needs its password");
        response.headers.emplace_back("WWW-Authenticate",
                                      "Basic realm=\"" + page->slug + "\", charset=\"UTF-8\"");
        reply(std::move(response));
      }
      return nullptr;
  }
  return nullptr;
}

Result<std::shared_ptr<const WebFrontend::Built>> WebFrontend::Build(
    const std::shared_ptr<const StatusPage>& page, Representation representation,
    const std::string& base_url, bool compress) {
  Result<StatusPageView> view = builder_.Build(page, clock_.Now());
  if (!view) return Error{view.error()};
  auto built = std::make_shared<Built>();
  built->page = page;
  built->at = std::chrono::steady_clock::now();
  switch (representation) {
    case Representation::kHtml:
      built->content_type = WebResponse::kHtml;
      built->body = StatusPageHtml::Render(*view, &bar_cells_);
      break;
    case Representation::kJson:
      built->content_type = "application/json";
      built->body = StatusPageJson::Render(*view);
      break;
    case Representation::kRss:
      built->content_type = "application/rss+xml; charset=utf-8";
      built->body = StatusFeed::Rss(*view, base_url);
      break;
    case Representation::kAtom:
      built->content_type = "application/atom+xml; charset=utf-8";
      built->body = StatusFeed::Atom(*view, base_url);
      break;
  }
  built->etag = WebResponse::EtagOf(built->body);
  if (compress && built->body.size() >= WebResponse::kCompressAbove) {
    built->gzip = WebResponse::Gzip(built->body);
  }
  return std::shared_ptr<const Built>(std::move(built));
}

Result<std::shared_ptr<const WebFrontend::Built>> WebFrontend::GetPage(
    const std::shared_ptr<const StatusPage>& page, Representation representation,
    const std::string& base_url, bool wants_gzip) {
  // Uncached, the page is built for this request alone: compressed only if it takes gzip.
  if (options_.page_cache_ttl.count() <= 0) {
    return Build(page, representation, base_url, wants_gzip);
  }
  const bool feed =
      representation == Representation::kRss || representation == Representation::kAtom;
  const std::string key = page->Key() + "\n" + page->slug + "\n" +
                          std::to_string(static_cast<int>(representation)) + "\n" +
                          (feed ? base_url : "");
  const auto now = std::chrono::steady_clock::now();
  {
    MutexLock lock(cache_mu_);
    Slot& slot = cache_[key];
    slot.last_request = now;
    if (slot.built && slot.built->page == page) {
      const auto age = now - slot.built->at;
      if (age < options_.page_cache_ttl) return slot.built;
      if (age < options_.max_stale) {
        if (!slot.refreshing) {
          slot.refreshing = true;
          refreshes_.push_back(Refresh{key, page, representation, base_url});
          cache_cv_.NotifyAll();
        }
        return slot.built;
      }
    }
  }
  Result<std::shared_ptr<const Built>> built = Build(page, representation, base_url, true);
  if (built) {
    MutexLock lock(cache_mu_);
    cache_[key].built = *built;
  }
  return built;
}

void WebFrontend::RefreshLoop(const std::stop_token& stop) {
  MutexLock lock(cache_mu_);
  while (!stop.stop_requested()) {
    if (refreshes_.empty()) {
      // Pages nobody asked for in a while are let go.
      const auto now = std::chrono::steady_clock::now();
      std::erase_if(cache_, [&](const auto& item) {
        return !item.second.refreshing && now - item.second.last_request > 2 * options_.max_stale;
      });
      cache_cv_.WaitFor(cache_mu_, stop, options_.max_stale,
                        [&]() REQUIRES(cache_mu_) { return !refreshes_.empty(); });
      continue;
    }
    Refresh job = std::move(refreshes_.front());
    refreshes_.erase(refreshes_.begin());
    ++building_;
    lock.Unlock();
    Result<std::shared_ptr<const Built>> built =
        Build(job.page, job.representation, job.base_url, true);
    if (!built) {
      Log().Error("building a status page failed; readers get the last one built",
                  {{"page", job.page->slug}, {"error", built.error()}});
    }
    lock.Lock();
    --building_;
    Slot& slot = cache_[job.key];
    slot.refreshing = false;
    if (built) slot.built = *built;
    cache_cv_.NotifyAll();
  }
}

void WebFrontend::WaitForRefreshes() {
  MutexLock lock(cache_mu_);
  cache_cv_.Wait(cache_mu_,
                 [&]() REQUIRES(cache_mu_) { return refreshes_.empty() && building_ == 0; });
}

void WebFrontend::ServePage(const HttpRequest& request, const Reply& reply,
                            const std::shared_ptr<const StatusPage>& page,
                            Representation representation) {
  Result<std::shared_ptr<const Built>> built =
      GetPage(page, representation, BaseUrl(request), WebResponse::AcceptsGzip(request));
  if (!built) {
    Log().Error("building a status page failed", {{"page", page->slug}, {"error", built.error()}});
    const std::string message = "The page could not be read from the store; try again shortly.";
    return reply(
        representation == Representation::kHtml
            ? HtmlError(request, 503, "Status temporarily unavailable", message)
            : HttpResponse::Error(503, "reading the page's history failed: " + built.error()));
  }
  const Built& body = **built;
  reply(WebResponse::MakePrepared(request, 200, body.content_type, body.body, body.gzip, body.etag,
                                  page->access.is_public() ? kPublicCache : kPrivateCache));
}

void WebFrontend::HandleStatusPage(const HttpRequest& request, const Reply& reply) {
  if (std::shared_ptr<const StatusPage> page = OpenPage(request, reply, true)) {
    ServePage(request, reply, page, Representation::kHtml);
  }
}

void WebFrontend::HandleLogin(const HttpRequest& request, const Reply& reply) {
  const std::string& slug = request.path_params.at("slug");
  std::shared_ptr<const StatusPage> page = pages_.Find(slug);
  if (!page) {
    return reply(HtmlError(request, 404, "No such status page",
                           "There is no status page called \"" + slug + "\"."));
  }
  std::string cookie;
  switch (
      guard_.TryLogin(*page, request, FormField(request.body, "password"), clock_.Now(), &cookie)) {
    case PageGuard::Login::kAccepted: {
      HttpResponse response = WebResponse::Redirect(303, "/status/" + page->slug);
      response.headers.emplace_back("Set-Cookie", cookie);
      return reply(std::move(response));
    }
    case PageGuard::Login::kWrong:
      return reply(WebResponse::Make(request, 401, WebResponse::kHtml,
                                     HtmlLayout::LoginPage(*page, true, false), kPrivateCache));
    case PageGuard::Login::kThrottled:
      return reply(WebResponse::Make(request, 429, WebResponse::kHtml,
                                     HtmlLayout::LoginPage(*page, false, true), kPrivateCache));
  }
}

void WebFrontend::HandleFeed(const HttpRequest& request, const Reply& reply) {
  const std::string& feed = request.path_params.at("feed");
  if (feed != "feed.rss" && feed != "feed.atom") {
    return reply(HtmlError(request, 404, "Page not found",
                           "Status pages have feed.rss and feed.atom, nothing else."));
  }
  if (std::shared_ptr<const StatusPage> page = OpenPage(request, reply, false)) {
    ServePage(request, reply, page,
              feed == "feed.rss" ? Representation::kRss : Representation::kAtom);
  }
}

void WebFrontend::HandleStatusJson(const HttpRequest& request, const Reply& reply) {
  if (std::shared_ptr<const StatusPage> page = OpenPage(request, reply, false)) {
    ServePage(request, reply, page, Representation::kJson);
  }
}

void WebFrontend::HandleDashboard(const HttpRequest& request, const Reply& reply) {
  Result<MonitorTable::Query> query = MonitorTable::ParseQuery(request.query);
  if (!query) return reply(HtmlError(request, 400, "Bad filter", query.error()));
  reply(WebResponse::Make(request, 200, WebResponse::kHtml, dashboard_.RenderList(*query),
                          kDashboardCache));
}

void WebFrontend::HandleMonitorPage(const HttpRequest& request, const Reply& reply) {
  DashboardPages::Window window = DashboardPages::Window::k24h;
  if (const auto found = request.query.find("window"); found != request.query.end()) {
    std::optional<DashboardPages::Window> parsed = DashboardPages::ParseWindow(found->second);
    if (!parsed) {
      return reply(HtmlError(request, 400, "Bad period",
                             "window: expected 24h, 7d or 30d, got \"" + found->second + "\""));
    }
    window = *parsed;
  }
  const auto region = request.query.find("region");
  const std::string& ns = request.path_params.at("namespace");
  const std::string& name = request.path_params.at("name");
  Result<std::optional<std::string>> page = dashboard_.RenderMonitor(
      ns, name, window, region == request.query.end() ? "" : region->second);
  if (!page) {
    Log().Error("building a monitor page failed",
                {{"monitor", ns + "/" + name}, {"error", page.error()}});
    return reply(HtmlError(request, 503, "Monitor temporarily unavailable",
                           "Its history could not be read from the store; try again shortly."));
  }
  if (!*page) {
    return reply(
        HtmlError(request, 404, "No such monitor", "There is no monitor " + ns + "/" + name + "."));
  }
  reply(WebResponse::Make(request, 200, WebResponse::kHtml, **page, kDashboardCache));
}

void WebFrontend::HandleBadge(const HttpRequest& request, const Reply& reply) {
  constexpr std::string_view kSvg = "image/svg+xml";
  const std::string& badge = request.path_params.at("badge");
  const std::string label = badge == "uptime.svg"    ? "uptime"
                            : badge == "latency.svg" ? "response time"
                                                     : "status";
  if (badge != "status.svg" && badge != "uptime.svg" && badge != "latency.svg") {
    return reply(WebResponse::Make(request, 404, kSvg, BadgeSvg::NotFound("badge"), kBadgeCache));
  }
  std::optional<MonitorStatus> status = sources_.status.SnapshotByKey(
      request.path_params.at("namespace"), request.path_params.at("name"));
  if (!status) {
    return reply(WebResponse::Make(request, 404, kSvg, BadgeSvg::NotFound(label), kBadgeCache));
  }
  std::string svg;
  if (badge == "status.svg") {
    svg = BadgeSvg::Status(*status);
  } else if (badge == "latency.svg") {
    svg = BadgeSvg::Latency(status->latency_p50_us, *status);
  } else {
    const auto window = request.query.find("window");
    const std::string which = window == request.query.end() ? "24h" : window->second;
    if (which == "24h") {
      svg = BadgeSvg::Uptime(status->uptime_24h, which);
    } else if (which == "7d") {
      svg = BadgeSvg::Uptime(status->uptime_7d, which);
    } else if (which == "30d") {
      svg = BadgeSvg::Uptime(status->uptime_30d, which);
    } else {
      return reply(
          HttpResponse::Error(400, "window: expected 24h, 7d or 30d, got \"" + which + "\""));
    }
  }
  reply(WebResponse::Make(request, 200, kSvg, svg, kBadgeCache));
}

void WebFrontend::HandleScreenshot(const HttpRequest& request, const Reply& reply) {
  const std::string& file = request.path_params.at("file");
  constexpr std::string_view kSuffix = ".png";
  const std::string id =
      file.size() > kSuffix.size() && file.substr(file.size() - kSuffix.size()) == kSuffix
          ? file.substr(0, file.size() - kSuffix.size())
          : "";
  std::optional<std::string> png;
  if (!id.empty() && sources_.screenshot_files != nullptr) {
    png = sources_.screenshot_files->ReadPng(id);
  }
  if (!png) return reply(HttpResponse::Error(404, "no screenshot \"" + file + "\""));
  // A screenshot never changes once taken.
  reply(WebResponse::Make(request, 200, "image/png", *png, "public, max-age=86400, immutable"));
}

void WebFrontend::HandleAsset(const HttpRequest& request, const Reply& reply) {
  const WebAsset* asset = WebAssets::Find(request.path_params.at("name"));
  if (asset == nullptr) {
    return reply(HttpResponse::Error(404, "no asset \"" + request.path_params.at("name") + "\""));
  }
  // Pages link assets with ?v=<hash>: those URLs change with the content.
  const bool versioned = request.query.count("v") != 0;
  reply(WebResponse::MakeWithEtag(
      request, 200, asset->content_type, asset->content, asset->etag,
      versioned ? "public, max-age=31536000, immutable" : "public, max-age=300"));
}

}  // namespace pharos

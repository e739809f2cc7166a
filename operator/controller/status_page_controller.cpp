#include "operator/controller/status_page_controller.h"

#include <pthread.h>

#include <map>
#include <vector>

#include "common/document_node.h"
#include "common/logging.h"
#include "common/rfc3339.h"
#include "operator/kube/kube_config.h"
#include "operator/web/status_page_parser.h"

namespace pharos {
namespace {

using Json = nlohmann::json;

const Logger& Log() {
  static const Logger logger("status-pages");
  return logger;
}

std::string JoinErrors(const std::vector<ValidationError>& errors) {
  std::string joined;
  for (const ValidationError& error : errors) {
    joined += (joined.empty() ? "" : "; ") + error.ToString();
  }
  return joined;
}

}  // namespace

StatusPageController::StatusPageController(KubeClient& client, StatusPageDirectory& pages,
                                           const Clock& clock, Options options)
    : client_(client),
      pages_(pages),
      clock_(clock),
      options_(std::move(options)),
      status_(client,
              StatusPatcherOptions{ApiResource::StatusPages(), "StatusPage",
                                   StatusPatchMode::kMergePatch, "pharos-operator", 5, 10, 5},
              clock) {
  InformerOptions informer_options;
  informer_options.resource = ApiResource::StatusPages();
  informer_options.namespace_name = options_.watch_namespace;
  informer_options.thread_name = "sp-informer";
  InformerHandlers handlers;
  handlers.on_add = [this](const Json& object) {
    MutexLock lock(apply_mu_);
    Apply(object);
    RefreshStatuses();
  };
  handlers.on_update = [this](const Json&, const Json& object) {
    MutexLock lock(apply_mu_);
    Apply(object);
    RefreshStatuses();
  };
  handlers.on_delete = [this](const Json& object) { OnDeleted(object); };
  informer_ = std::make_unique<Informer>(client, informer_options, std::move(handlers));
}

StatusPageController::~StatusPageController() { Stop(); }

void StatusPageController::Start() {
  informer_->Start();
  resync_ = std::jthread([this](const std::stop_token& stop) {
    pthread_setname_np(pthread_self(), "sp-resync");
    ResyncLoop(stop);
  });
}

void StatusPageController::Stop() {
  status_.Shutdown();
  if (resync_.joinable()) {
    resync_.request_stop();
    resync_.join();
  }
  if (informer_) informer_->Stop();
}

void StatusPageController::ResyncLoop(const std::stop_token& stop) {
  while (!stop.stop_requested()) {
    {
      MutexLock lock(wake_mu_);
      wake_cv_.WaitFor(wake_mu_, stop, options_.resync_period,
                       [this]() REQUIRES(wake_mu_) { return wake_; });
      wake_ = false;
    }
    if (stop.stop_requested()) return;
    if (informer_->HasSynced()) Resync();
  }
}

bool StatusPageController::HasSynced() const { return informer_->HasSynced(); }

void StatusPageController::SetLeading(bool leading) {
  if (leading_.exchange(leading) == leading || !leading) return;
  {
    MutexLock lock(wake_mu_);
    wake_ = true;
  }
  wake_cv_.NotifyAll();
}

void StatusPageController::Resync() {
  MutexLock lock(apply_mu_);
  for (const Json& object : informer_->List()) Apply(object);
  RefreshStatuses();
}

void StatusPageController::Apply(const Json& object) {
  const std::string key = ObjectKey(object);
  const auto refuse = [&](const std::string& reason,
                          const std::string& message) REQUIRES(apply_mu_) {
    pages_.Remove(key);
    Verdict& verdict = verdicts_[key];
    if (verdict.candidate || verdict.reason != reason || verdict.message != message) {
      Log().Warn("StatusPage not served; fix it and it is picked up",
                 {{"page", key}, {"reason", reason}, {"error", message}});
    }
    verdict = Verdict{false, reason, message, ""};
  };
  Result<DocumentNode> node = DocumentNodeFromJson(object);
  if (!node) {
    refuse("InvalidSpec", node.error());
    return;
  }
  ParsedStatusPage parsed = ParseStatusPage(*node, StatusPageSource::kApiObject);
  if (!parsed.errors.empty()) {
    refuse("InvalidSpec", JoinErrors(parsed.errors));
    return;
  }
  StatusPage page = std::move(parsed.page);
  if (page.access.password_secret) {
    Result<std::string> password = ReadPassword(
        page.namespace_name, page.access.password_secret->name, page.access.password_secret->key);
    if (!password && password.error_kind() == ErrorKind::kUnavailable && verdicts_[key].candidate &&
        pages_.Find(verdicts_[key].slug) != nullptr) {
      // The API server is away for a moment: the page keeps the password it was served with.
      Log().Warn("reading a StatusPage's password Secret failed; the page keeps its password",
                 {{"page", key}, {"error", password.error()}});
      return;
    }
    if (!password) {
      refuse("SecretUnavailable", password.error());
      return;
    }
    page.access.password = std::move(password).value();
  }
  const std::string slug = page.slug;
  const bool was_candidate = verdicts_[key].candidate;
  pages_.Upsert(std::move(page));
  if (!was_candidate) Log().Info("StatusPage in force", {{"page", key}, {"slug", slug}});
  verdicts_[key] = Verdict{true, "", "", slug};
}

void StatusPageController::OnDeleted(const Json& object) {
  MutexLock lock(apply_mu_);
  const std::string key = ObjectKey(object);
  pages_.Remove(key);
  verdicts_.erase(key);
  Log().Info("StatusPage removed", {{"page", key}});
  // A page waiting for this one's slug serves it now: its status says so.
  RefreshStatuses();
}

void StatusPageController::RefreshStatuses() {
  if (!leading_) return;
  for (const auto& [key, verdict] : verdicts_) {
    std::optional<Json> object = informer_->Get(key);
    if (!object) continue;
    if (!verdict.candidate) {
      WriteStatus(*object, false, verdict.reason, verdict.message, "");
      continue;
    }
    std::shared_ptr<const StatusPage> serving = pages_.Find(verdict.slug);
    if (serving && serving->Key() == key) {
      WriteStatus(*object, true, "Served", "Served at /status/" + verdict.slug, verdict.slug);
    } else {
      WriteStatus(*object, false, "SlugConflict",
                  "slug \"" + verdict.slug + "\" is already served by StatusPage " +
                      (serving ? serving->Key() : std::string("(another page)")) +
                      "; give this page another spec.slug (it takes the slug over if that page "
                      "is deleted)",
                  "");
    }
  }
}

Result<std::string> StatusPageController::ReadPassword(const std::string& namespace_name,
                                                       const std::string& name,
                                                       const std::string& key) {
  const std::string where = "Secret " + namespace_name + "/" + name;
  KubeResponse response = client_.Get(ApiResource::Secrets(), namespace_name, name);
  if (response.IsNotFound()) {
    return Error{where + " (spec.access.passwordSecretRef) does not exist",
                 ErrorKind::kInvalidArgument};
  }
  if (response.http_status == 403) {
    return Error{"the operator may not read " + where +
                     " (add its name to the chart's statusPages.secretNames)",
                 ErrorKind::kInvalidArgument};
  }
  if (!response.ok()) {
    return Error{"reading " + where + ": " + response.Describe(), ErrorKind::kUnavailable};
  }
  const std::string encoded = JsonStringAt(response.body, {"data", key});
  std::optional<std::string> decoded = DecodeBase64(encoded);
  if (encoded.empty() || !decoded) {
    return Error{where + " has no key \"" + key + "\" (spec.access.passwordSecretRef.key)",
                 ErrorKind::kInvalidArgument};
  }
  std::string password = std::move(*decoded);
  while (!password.empty() && (password.back() == '\n' || password.back() == '\r')) {
    password.pop_back();
  }
  if (password.empty()) {
    return Error{where + " key \"" + key + "\" is empty", ErrorKind::kInvalidArgument};
  }
  return password;
}

void StatusPageController::WriteStatus(const Json& object, bool ready, const std::string& reason,
                                       const std::string& message, const std::string& slug) {
  const int64_t generation = object["metadata"].value("generation", int64_t{0});
  const std::string word = ready ? "True" : "False";
  const std::string url = slug.empty() ? "" : "/status/" + slug;
  if (object.contains("status") && object["status"].is_object()) {
    const Json& current = object["status"];
    if (current.value("observedGeneration", int64_t{-1}) == generation &&
        current.value("slug", "") == slug && current.value("url", "") == url) {
      for (const Json& condition : current.value("conditions", Json::array())) {
        if (condition.value("type", "") == "Ready" && condition.value("status", "") == word &&
            condition.value("reason", "") == reason && condition.value("message", "") == message) {
          return;  // already says so
        }
      }
    }
  }
  Json status = {
      {"observedGeneration", generation},
      {"slug", slug.empty() ? Json(nullptr) : Json(slug)},
      {"url", url.empty() ? Json(nullptr) : Json(url)},
      {"conditions", Json::array({{{"type", "Ready"},
                                   {"status", word},
                                   {"reason", reason},
                                   {"message", message.substr(0, 32768)},
                                   {"observedGeneration", generation},
                                   {"lastTransitionTime", FormatRfc3339(clock_.Now())}}})}};
  KubeResponse written = status_.Patch(JsonStringAt(object, {"metadata", "namespace"}),
                                       JsonStringAt(object, {"metadata", "name"}), status);
  if (!written.ok() && !written.IsNotFound()) {
    Log().Warn("writing a StatusPage's status failed; retried at the next resync",
               {{"page", ObjectKey(object)}, {"error", written.Describe()}});
  }
}

}  // namespace pharos

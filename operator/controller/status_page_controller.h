#pragma once

// StatusPageController: StatusPages in pharos-operator (docs/status-pages.md#kubernetes) —
//   Informer(statuspages.pharos.dev) ──► StatusPageParser ──► StatusPageDirectory (what the
//     WebFrontend serves at /status/{slug})
// A page whose spec the operator refuses (what the CRD's schema cannot say), whose slug another
// page already serves (the smaller namespace/name keeps it), or whose passwordSecretRef cannot be
// read is not served (never served without its password) and says why in its Ready condition;
// a page that is served says so with status.slug and status.url. Password Secrets are read again
// at each resync ("sp-resync", every `resync_period`), so a rotated password applies without
// touching the page (while the API server is unavailable a served page keeps its password). Every
// replica serves pages; only the leader writes their status. Thread-safety: Start/Stop from the
// owner thread; the rest from any thread (informer handlers run on "sp-informer").

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <stop_token>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/result.h"
#include "operator/kube/informer.h"
#include "operator/kube/kube_client.h"
#include "operator/kube/status_patcher.h"
#include "operator/web/status_page_directory.h"

namespace pharos {

class StatusPageController {
 public:
  struct Options {
    std::string watch_namespace;  // "" = every namespace
    // Password Secrets re-read and statuses re-checked this often.
    std::chrono::milliseconds resync_period{60'000};
  };

  // `client`, `pages` and `clock` must outlive the controller.
  StatusPageController(KubeClient& client, StatusPageDirectory& pages, const Clock& clock,
                       Options options);
  ~StatusPageController();  // Stop()
  StatusPageController(const StatusPageController&) = delete;
  StatusPageController& operator=(const StatusPageController&) = delete;

  void Start();
  void Stop();
  // The leader writes the pages' status (soon, on "sp-resync", for the cached ones).
  void SetLeading(bool leading);
  bool HasSynced() const;
  // Every cached page again: password Secrets re-read, conditions brought up to date.
  void Resync();

 private:
  // What the operator made of a page at its last Apply.
  struct Verdict {
    bool candidate = false;  // valid, password read: served unless another page has the slug
    std::string reason;      // why not (InvalidSpec, SecretUnavailable)
    std::string message;
    std::string slug;
  };

  // Parses one object, reads its password Secret, updates the directory.
  void Apply(const nlohmann::json& object) REQUIRES(apply_mu_);
  void OnDeleted(const nlohmann::json& object);
  // Leading: writes each page's status where it no longer says what the verdict and the
  // directory's slug owners say.
  void RefreshStatuses() REQUIRES(apply_mu_);
  void ResyncLoop(const std::stop_token& stop);
  // The password of a page's passwordSecretRef, from a Secret of the page's namespace. Errors
  // name the Secret and key (never a value) and what to do.
  Result<std::string> ReadPassword(const std::string& namespace_name, const std::string& name,
                                   const std::string& key);
  void WriteStatus(const nlohmann::json& object, bool ready, const std::string& reason,
                   const std::string& message, const std::string& slug);

  KubeClient& client_;
  StatusPageDirectory& pages_;
  const Clock& clock_;
  const Options options_;
  StatusPatcher status_;
  std::unique_ptr<Informer> informer_;
  std::atomic<bool> leading_{false};
  // Applies one object at a time (informer thread, Resync, SetLeading), so a page and the pages
  // whose slug it frees are evaluated in one order.
  Mutex apply_mu_;
  std::map<std::string, Verdict> verdicts_ GUARDED_BY(apply_mu_);  // by namespace/name
  Mutex wake_mu_;
  CondVar wake_cv_;
  bool wake_ GUARDED_BY(wake_mu_) = false;  // resync now (became the leader)
  std::jthread resync_;                     // last: stopped first
};

}  // namespace pharos

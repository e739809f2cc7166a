// Informer against a real kube-apiserver: add/update/delete, resuming after an API server
// restart without missing anything, and re-listing after a 410 Gone from etcd compaction.

#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "e2e/kube/kube_e2e_helpers.h"
#include "operator/kube/informer.h"

namespace pharos::e2e {
namespace {

// Forwards to a real client; while the gate is closed a new Watch waits at the gate (and counts
// as waiting), so a test can change the cluster while the informer is certainly not watching.
class GatedClient : public KubeClient {
 public:
  explicit GatedClient(KubeClient& real) : real_(real) {}

  void Close() {
    std::lock_guard<std::mutex> lock(mutex_);
    open_ = false;
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }
  int waiting() {
    std::lock_guard<std::mutex> lock(mutex_);
    return waiting_;
  }

  KubeResponse Get(const ApiResource& r, std::string_view ns, std::string_view name) override {
    return real_.Get(r, ns, name);
  }
  KubeResponse List(const ApiResource& r, std::string_view ns, const ListOptions& o) override {
    return real_.List(r, ns, o);
  }
  KubeResponse Create(const ApiResource& r, std::string_view ns,
                      const nlohmann::json& object) override {
    return real_.Create(r, ns, object);
  }
  KubeResponse Update(const ApiResource& r, std::string_view ns, std::string_view name,
                      const nlohmann::json& object, const UpdateOptions& o) override {
    return real_.Update(r, ns, name, object, o);
  }
  KubeResponse Patch(const ApiResource& r, std::string_view ns, std::string_view name,
                     PatchType type, const nlohmann::json& patch, const PatchOptions& o) override {
    return real_.Patch(r, ns, name, type, patch, o);
  }
  KubeResponse Delete(const ApiResource& r, std::string_view ns, std::string_view name,
                      const DeleteOptions& o) override {
    return real_.Delete(r, ns, name, o);
  }
  KubeResponse Watch(const ApiResource& r, std::string_view ns, const WatchOptions& o,
                     const WatchHandler& handler, std::stop_token stop) override {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      ++waiting_;
      // Polls so that a cancelled watch leaves the gate within 50 ms.
      while (!open_ && !stop.stop_requested()) {
        changed_.wait_for(lock, std::chrono::milliseconds(50));
      }
      --waiting_;
      watched_from_.push_back(o.resource_version);
    }
    return real_.Watch(r, ns, o, handler, stop);
  }

  std::vector<std::string> watched_from() {
    std::lock_guard<std::mutex> lock(mutex_);
    return watched_from_;
  }

 private:
  KubeClient& real_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool open_ = true;
  int waiting_ = 0;
  std::vector<std::string> watched_from_;
};

class Seen {
 public:
  InformerHandlers Handlers() {
    return {[this](const nlohmann::json& o) { Push("add " + Name(o)); },
            [this](const nlohmann::json&, const nlohmann::json& o) {
              Push("update " + Name(o) + "=" + JsonStringAt(o, {"data", "key"}));
            },
            [this](const nlohmann::json& o) { Push("delete " + Name(o)); }};
  }
  std::vector<std::string> Lines() {
    std::lock_guard<std::mutex> lock(mutex_);
    return lines_;
  }
  bool Has(const std::string& line) {
    for (const auto& l : Lines()) {
      if (l == line) return true;
    }
    return false;
  }

 private:
  static std::string Name(const nlohmann::json& o) { return JsonStringAt(o, {"metadata", "name"}); }
  void Push(std::string line) {
    std::lock_guard<std::mutex> lock(mutex_);
    lines_.push_back(std::move(line));
  }
  std::mutex mutex_;
  std::vector<std::string> lines_;
};

class InformerE2ETest : public KubeE2ETest {
 protected:
  InformerOptions Options() {
    InformerOptions options;
    options.resource = ApiResource::ConfigMaps();
    options.namespace_name = namespace_;
    options.thread_name = "e2e-informer";
    options.page_size = 2;
    return options;
  }
  // The names the API server has now, and the names in the informer's cache.
  std::set<std::string> ServerNames() {
    const KubeResponse listed = client_->ListAll(ApiResource::ConfigMaps(), namespace_, {});
    EXPECT_TRUE(listed.ok()) << listed.Describe();
    std::set<std::string> names;
    for (const auto& item : listed.body.value("items", nlohmann::json::array())) {
      names.insert(JsonStringAt(item, {"metadata", "name"}));
    }
    return names;
  }
  static std::set<std::string> CachedNames(const Informer& informer) {
    std::set<std::string> names;
    for (const auto& object : informer.List()) {
      names.insert(JsonStringAt(object, {"metadata", "name"}));
    }
    return names;
  }
  void CreateConfigMap(const std::string& name, const std::string& value = "v") {
    const KubeResponse created = client_->Create(ApiResource::ConfigMaps(), namespace_,
                                                 ConfigMapObject(namespace_, name, value));
    ASSERT_TRUE(created.ok()) << created.Describe();
  }
  void SetValue(const std::string& name, const std::string& value) {
    const KubeResponse patched =
        client_->Patch(ApiResource::ConfigMaps(), namespace_, name, PatchType::kMerge,
                       {{"data", {{"key", value}}}}, PatchOptions{});
    ASSERT_TRUE(patched.ok()) << patched.Describe();
  }
  void DeleteConfigMap(const std::string& name) {
    ASSERT_TRUE(client_->Delete(ApiResource::ConfigMaps(), namespace_, name, DeleteOptions{}).ok());
  }

  Seen seen_;
};

TEST_F(InformerE2ETest, SeesAddsUpdatesAndDeletes) {
  CreateConfigMap("before-1");
  CreateConfigMap("before-2");
  CreateConfigMap("before-3");
  Informer informer(*client_, Options(), seen_.Handlers());
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(std::chrono::seconds(30)));
  EXPECT_EQ(CachedNames(informer), (std::set<std::string>{"before-1", "before-2", "before-3"}));
  CreateConfigMap("live");
  SetValue("before-1", "changed");
  DeleteConfigMap("before-2");
  ASSERT_TRUE(Eventually([&] {
    return seen_.Has("add live") && seen_.Has("update before-1=changed") &&
           seen_.Has("delete before-2");
  })) << ::testing::PrintToString(seen_.Lines());
  EXPECT_EQ(CachedNames(informer), ServerNames());
  EXPECT_EQ(informer.stats().lists, 1);
  informer.Stop();
}

TEST_F(InformerE2ETest, ResumesAfterAnApiServerRestartWithNothingMissed) {
  CreateConfigMap("a");
  CreateConfigMap("b");
  GatedClient gated(*client_);
  Informer informer(gated, Options(), seen_.Handlers());
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(std::chrono::seconds(30)));
  const std::string synced_at = informer.LastResourceVersion();

  // The informer's watch breaks with the restart; its next watch waits at the gate, so the
  // changes below happen while it is disconnected.
  ASSERT_TRUE(Eventually([&] { return gated.watched_from().size() == 1; }));
  gated.Close();
  control_plane().RestartApiServer();
  ASSERT_TRUE(Eventually([&] { return gated.waiting() == 1; }));
  CreateConfigMap("c");
  SetValue("a", "while-away");
  DeleteConfigMap("b");
  gated.Open();
  ASSERT_TRUE(Eventually([&] {
    return seen_.Has("add c") && seen_.Has("update a=while-away") && seen_.Has("delete b");
  })) << ::testing::PrintToString(seen_.Lines());
  EXPECT_EQ(CachedNames(informer), ServerNames());
  // Resumed from the last version it had seen: a watch, not a new LIST.
  EXPECT_EQ(informer.stats().lists, 1);
  EXPECT_EQ(gated.watched_from().back(), synced_at);

  // And without the gate: after another restart it reconnects by itself.
  control_plane().RestartApiServer();
  CreateConfigMap("after-second-restart");
  ASSERT_TRUE(Eventually([&] { return seen_.Has("add after-second-restart"); }))
      << ::testing::PrintToString(seen_.Lines());
  EXPECT_EQ(CachedNames(informer), ServerNames());
  informer.Stop();
}

TEST_F(InformerE2ETest, RelistsWhenItsVersionWasCompactedAway) {
  CreateConfigMap("kept");
  CreateConfigMap("removed");
  GatedClient gated(*client_);
  InformerOptions options = Options();
  // Short watches, so that the next one (from the old version) starts soon.
  options.min_watch_timeout = std::chrono::seconds(2);
  options.max_watch_timeout = std::chrono::seconds(2);
  Informer informer(gated, options, seen_.Handlers());
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(std::chrono::seconds(30)));
  const std::string synced_at = informer.LastResourceVersion();

  // The first watch runs; when it ends (after 2 s) the next one, from the same version, waits.
  ASSERT_TRUE(Eventually([&] { return gated.watched_from().size() == 1; }));
  gated.Close();
  ASSERT_TRUE(Eventually([&] { return gated.waiting() == 1; }));
  CreateConfigMap("new");
  SetValue("kept", "changed");
  DeleteConfigMap("removed");
  control_plane().Compact();
  gated.Open();
  ASSERT_TRUE(Eventually([&] { return informer.stats().relists_after_gone >= 1; }));
  ASSERT_TRUE(Eventually([&] {
    return seen_.Has("add new") && seen_.Has("update kept=changed") && seen_.Has("delete removed");
  })) << ::testing::PrintToString(seen_.Lines());
  EXPECT_GE(informer.stats().lists, 2);
  EXPECT_EQ(gated.watched_from()[1], synced_at);
  EXPECT_NE(informer.LastResourceVersion(), synced_at);
  EXPECT_EQ(CachedNames(informer), ServerNames());
  informer.Stop();
}

TEST_F(InformerE2ETest, WatchesAllNamespaces) {
  const std::string other = NewNamespace();
  InformerOptions options = Options();
  options.namespace_name = "";
  options.label_selector = "e2e-run=" + namespace_;
  Informer informer(*client_, options, seen_.Handlers());
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(std::chrono::seconds(30)));
  for (const std::string& ns : {namespace_, other}) {
    nlohmann::json cm = ConfigMapObject(ns, "labelled");
    cm["metadata"]["labels"] = {{"e2e-run", namespace_}};
    ASSERT_TRUE(client_->Create(ApiResource::ConfigMaps(), ns, cm).ok());
  }
  ASSERT_TRUE(
      client_->Create(ApiResource::ConfigMaps(), other, ConfigMapObject(other, "unlabelled")).ok());
  ASSERT_TRUE(Eventually([&] { return informer.List().size() == 2; }));
  EXPECT_TRUE(informer.Get(namespace_ + "/labelled").has_value());
  EXPECT_TRUE(informer.Get(other + "/labelled").has_value());
  EXPECT_FALSE(informer.Get(other + "/unlabelled").has_value());
  informer.Stop();
}

}  // namespace
}  // namespace pharos::e2e

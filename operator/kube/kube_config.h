#pragma once

// KubeConfig: where the Kubernetes API server is and how to authenticate to it, from kubeconfig
// files (the same merge rules as kubectl) or from the in-cluster service account. Supported:
// clusters' server, certificate-authority(-data), insecure-skip-tls-verify, tls-server-name;
// users' token, tokenFile, client-certificate(-data) and client-key(-data); contexts' cluster,
// user and namespace; current-context or an explicit context. Credential plugins (exec,
// auth-provider), basic auth and impersonation are refused with an error naming the user entry.
// Every error names the file and the entry it is about.
// Thread-safety: a value type.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace pharos {

// How KubeConfig::Load finds its configuration; the environment is injectable for tests.
struct KubeConfigLoadOptions {
  // --kubeconfig: when set, only this file is read (it must exist).
  std::string kubeconfig_path;
  // --context: overrides current-context.
  std::string context;
  // Environment lookup; defaults to std::getenv.
  std::function<std::optional<std::string>(const std::string&)> getenv;
  // Where the in-cluster service account files are.
  std::string service_account_dir = "/var/run/secrets/kubernetes.io/serviceaccount";
};

struct KubeConfig {
  // "https://host:port" (a path prefix is kept: "https://host/k8s").
  std::string server;

  // Trust: the CA as a file or as PEM text; or no verification at all.
  std::string ca_file;
  std::string ca_pem;
  bool insecure_skip_tls_verify = false;
  // Name to verify the server certificate against (and send as SNI) instead of the URL's host.
  std::string tls_server_name;

  // Client certificate authentication: each as a file or as PEM text.
  std::string client_cert_file;
  std::string client_cert_pem;
  std::string client_key_file;
  std::string client_key_pem;

  // Bearer token authentication: fixed, or read from a file that may rotate (re-read every
  // minute by the client).
  std::string token;
  std::string token_file;

  // The default namespace (context namespace, service account namespace, else "default").
  std::string namespace_name = "default";

  // For logs: "kubeconfig /home/me/.kube/config (context kind-test)" or "in-cluster".
  std::string source;

  // The order controller-runtime uses: --kubeconfig, then $KUBECONFIG (a ':'-separated list,
  // merged), then the in-cluster service account when KUBERNETES_SERVICE_HOST is set, then
  // $HOME/.kube/config. The error lists what was tried when nothing is found.
  static Result<KubeConfig> Load(const KubeConfigLoadOptions& options);

  // Reads and merges kubeconfig files: for clusters, users and contexts the first file that
  // defines a name wins, and so does the first current-context. Files that do not exist are
  // skipped (as kubectl does for $KUBECONFIG) unless none exists. `context` overrides
  // current-context when not empty. Relative paths are resolved against the folder of the file
  // the entry was read from.
  static Result<KubeConfig> FromFiles(const std::vector<std::string>& files,
                                      std::string_view context);

  // The pod's service account: KUBERNETES_SERVICE_HOST/PORT (an IPv6 host is bracketed), token,
  // ca.crt and namespace files in `options.service_account_dir`.
  static Result<KubeConfig> InCluster(const KubeConfigLoadOptions& options);

  // Splits a $KUBECONFIG value on ':' dropping empty parts and repeats.
  static std::vector<std::string> SplitPathList(std::string_view value);
};

// "host:port", bracketing IPv6 literals: ("fd00::1", "443") → "[fd00::1]:443".
std::string JoinHostPort(std::string_view host, std::string_view port);

// Decodes standard base64 (padding optional, whitespace ignored); nullopt on a bad character.
std::optional<std::string> DecodeBase64(std::string_view text);

}  // namespace pharos

#pragma once

// HttpRouter: matches a request's method and path against route patterns, the routing half of
// HttpServer (kept apart from the socket code so it can be tested directly).
// Pattern syntax: "/api/v1/monitors/{namespace}/{name}/results" — literal segments and {param}
// segments (one whole segment each); the last segment may be {param...}, which matches one or
// more remaining segments ("a/b/c"). A trailing slash is ignored in patterns and paths ("/metrics/"
// is "/metrics"). Path segments are percent-decoded before matching; parameters hold decoded text.
// When several routes match, the most specific wins: segment by segment, literal beats {param}
// beats {param...}. A HEAD request uses the GET route when there is no HEAD route.
// Thread-safety: Add must not run concurrently with Match; Match is const and safe from any
// thread.

#include <cstddef>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace pharos {

struct RouteMatch {
  enum class Kind { kFound, kNotFound, kMethodNotAllowed, kBadPath };
  Kind kind = Kind::kNotFound;
  // kFound: the value Add returned for the route, and the decoded parameters.
  size_t route = 0;
  std::map<std::string, std::string> params;
  // kMethodNotAllowed: the methods the path does accept, for the Allow header.
  std::set<std::string> allowed_methods;
  // kBadPath: what is wrong with the path (e.g. a bad percent-escape).
  std::string error;
};

class HttpRouter {
 public:
  // Returns the route's index (0, 1, 2... in order of Add), or an error naming what is wrong with
  // the method or pattern, or the route it conflicts with.
  Result<size_t> Add(std::string_view method, std::string_view pattern);

  // `path`: the request path as sent, percent-encoded, without the query.
  RouteMatch Match(std::string_view method, std::string_view path) const;

 private:
  struct Segment {
    enum class Kind { kLiteral, kParam, kRest };
    Kind kind;
    std::string text;  // the literal, or the parameter name
  };
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<Segment> segments;
  };

  // Binds `segments` (decoded path segments) to the route; false when it does not match.
  static bool Bind(const Route& route, const std::vector<std::string>& segments,
                   std::map<std::string, std::string>* params);
  // True when `a` is more specific than `b`.
  static bool MoreSpecific(const Route& a, const Route& b);

  std::vector<Route> routes_;
};

// Decodes %XX escapes; with `plus_is_space` (query strings) '+' becomes ' '. Errors name the bad
// escape.
Result<std::string> PercentDecode(std::string_view text, bool plus_is_space);

// "a=1&b=two%20words&flag" → {a: "1", b: "two words", flag: ""}. For a repeated key the first
// value wins.
Result<std::map<std::string, std::string>> ParseQueryString(std::string_view query);

}  // namespace pharos

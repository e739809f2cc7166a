#include "common/http_router.h"

#include <algorithm>

namespace pharos {
namespace {

bool IsIdentifier(std::string_view text) {
  if (text.empty() || (text[0] >= '0' && text[0] <= '9')) return false;
  return std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

bool IsMethod(std::string_view method) {
  return !method.empty() &&
         std::all_of(method.begin(), method.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

// "/a/b/" → {"a", "b"}; "/" → {}. The leading slash is required by the caller.
std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> segments;
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  if (path.size() <= 1) return segments;
  size_t start = 1;
  while (true) {
    const size_t slash = path.find('/', start);
    segments.push_back(path.substr(start, slash == path.npos ? path.npos : slash - start));
    if (slash == path.npos) break;
    start = slash + 1;
  }
  return segments;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Result<std::string> PercentDecode(std::string_view text, bool plus_is_space) {
  std::string decoded;
  decoded.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%') {
      const int high = i + 2 < text.size() ? HexValue(text[i + 1]) : -1;
      const int low = i + 2 < text.size() ? HexValue(text[i + 2]) : -1;
      if (high < 0 || low < 0) {
        return Error{"bad percent-escape \"" + std::string(text.substr(i, 3)) + "\" at offset " +
                     std::to_string(i)};
      }
      decoded += static_cast<char>(high * 16 + low);
      i += 2;
    } else if (text[i] == '+' && plus_is_space) {
      decoded += ' ';
    } else {
      decoded += text[i];
    }
  }
  return decoded;
}

Result<std::map<std::string, std::string>> ParseQueryString(std::string_view query) {
  std::map<std::string, std::string> params;
  size_t position = 0;
  while (position < query.size()) {
    const size_t end = std::min(query.find('&', position), query.size());
    const std::string_view pair = query.substr(position, end - position);
    position = end + 1;
    if (pair.empty()) continue;
    const size_t equals = pair.find('=');
    auto key = PercentDecode(pair.substr(0, equals), true);
    if (!key.ok()) return Error{"query: " + key.error()};
    auto value = PercentDecode(equals == pair.npos ? "" : pair.substr(equals + 1), true);
    if (!value.ok()) return Error{"query parameter \"" + *key + "\": " + value.error()};
    params.emplace(std::move(*key), std::move(*value));
  }
  return params;
}

Result<size_t> HttpRouter::Add(std::string_view method, std::string_view pattern) {
  const std::string where = std::string(method) + " " + std::string(pattern);
  if (!IsMethod(method)) {
    return Error{"route " + where + ": the method must be an upper-case token such as GET"};
  }
  if (pattern.empty() || pattern[0] != '/') {
    return Error{"route " + where + ": the pattern must start with /"};
  }
  Route route{std::string(method), std::string(pattern), {}};
  const std::vector<std::string_view> parts = SplitPath(pattern);
  std::set<std::string_view> names;
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string_view part = parts[i];
    if (part.empty()) return Error{"route " + where + ": empty path segment"};
    if (part.front() != '{') {
      if (part.find_first_of("{}") != part.npos) {
        return Error{"route " + where + ": a {parameter} must be a whole segment"};
      }
      route.segments.push_back({Segment::Kind::kLiteral, std::string(part)});
      continue;
    }
    if (part.back() != '}') {
      return Error{"route " + where + ": unclosed { in \"" + std::string(part) + "\""};
    }
    std::string_view name = part.substr(1, part.size() - 2);
    Segment::Kind kind = Segment::Kind::kParam;
    if (name.ends_with("...")) {
      if (i + 1 != parts.size()) {
        return Error{"route " + where + ": {" + std::string(name) + "} must be the last segment"};
      }
      name.remove_suffix(3);
      kind = Segment::Kind::kRest;
    }
    if (!IsIdentifier(name)) {
      return Error{"route " + where + ": parameter name \"" + std::string(name) +
                   "\" must be letters, digits and _"};
    }
    if (!names.insert(name).second) {
      return Error{"route " + where + ": parameter {" + std::string(name) + "} appears twice"};
    }
    route.segments.push_back({kind, std::string(name)});
  }
  for (const Route& other : routes_) {
    const bool same_shape =
        other.method == route.method && other.segments.size() == route.segments.size() &&
        std::equal(other.segments.begin(), other.segments.end(), route.segments.begin(),
                   [](const Segment& a, const Segment& b) {
                     return a.kind == b.kind &&
                            (a.kind != Segment::Kind::kLiteral || a.text == b.text);
                   });
    if (same_shape) {
      return Error{"route " + where + " conflicts with " + other.method + " " + other.pattern};
    }
  }
  routes_.push_back(std::move(route));
  return routes_.size() - 1;
}

bool HttpRouter::Bind(const Route& route, const std::vector<std::string>& segments,
                      std::map<std::string, std::string>* params) {
  params->clear();
  for (size_t i = 0; i < route.segments.size(); ++i) {
    const Segment& segment = route.segments[i];
    if (segment.kind == Segment::Kind::kRest) {
      if (i >= segments.size()) return false;
      std::string rest = segments[i];
      for (size_t k = i + 1; k < segments.size(); ++k) rest += "/" + segments[k];
      (*params)[segment.text] = std::move(rest);
      return true;
    }
    if (i >= segments.size()) return false;
    if (segment.kind == Segment::Kind::kLiteral) {
      if (segment.text != segments[i]) return false;
    } else {
      if (segments[i].empty()) return false;
      (*params)[segment.text] = segments[i];
    }
  }
  return route.segments.size() == segments.size();
}

bool HttpRouter::MoreSpecific(const Route& a, const Route& b) {
  const size_t common = std::min(a.segments.size(), b.segments.size());
  for (size_t i = 0; i < common; ++i) {
    if (a.segments[i].kind != b.segments[i].kind) {
      return a.segments[i].kind < b.segments[i].kind;
    }
  }
  return a.segments.size() > b.segments.size();
}

RouteMatch HttpRouter::Match(std::string_view method, std::string_view path) const {
  RouteMatch match;
  if (path.empty() || path[0] != '/') {
    match.kind = RouteMatch::Kind::kBadPath;
    match.error = "the path must start with /";
    return match;
  }
  std::vector<std::string> segments;
  for (const std::string_view part : SplitPath(path)) {
    auto decoded = PercentDecode(part, /*plus_is_space=*/false);
    if (!decoded.ok()) {
      match.kind = RouteMatch::Kind::kBadPath;
      match.error = "path: " + decoded.error();
      return match;
    }
    segments.push_back(std::move(*decoded));
  }
  const Route* best = nullptr;
  const Route* best_get = nullptr;  // for HEAD without a HEAD route
  std::map<std::string, std::string> params;
  for (const Route& route : routes_) {
    if (!Bind(route, segments, &params)) continue;
    match.allowed_methods.insert(route.method);
    if (route.method == "GET") match.allowed_methods.insert("HEAD");
    const Route** slot = route.method == method                        ? &best
                         : (method == "HEAD" && route.method == "GET") ? &best_get
                                                                       : nullptr;
    if (slot != nullptr && (*slot == nullptr || MoreSpecific(route, **slot))) *slot = &route;
  }
  if (best == nullptr) best = best_get;
  if (best == nullptr) {
    match.kind = match.allowed_methods.empty() ? RouteMatch::Kind::kNotFound
                                               : RouteMatch::Kind::kMethodNotAllowed;
    return match;
  }
  match.kind = RouteMatch::Kind::kFound;
  match.route = static_cast<size_t>(best - routes_.data());
  Bind(*best, segments, &match.params);
  match.allowed_methods.clear();
  return match;
}

}  // namespace pharos

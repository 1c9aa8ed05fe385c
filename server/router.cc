#include "server/router.h"

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace aisle {

int Router::Add(std::string method, absl::string_view pattern) {
  Route r;
  r.method = std::move(method);
  for (absl::string_view s : absl::StrSplit(pattern.substr(1), '/')) r.segments.emplace_back(s);
  routes_.push_back(std::move(r));
  return static_cast<int>(routes_.size()) - 1;
}

bool Router::Matches(const Route& r, const std::vector<absl::string_view>& segments,
                     std::vector<std::pair<std::string, std::string>>* params) {
  if (r.segments.size() != segments.size()) return false;
  for (size_t i = 0; i < segments.size(); ++i) {
    const std::string& p = r.segments[i];
    if (!p.empty() && p[0] == ':') {
      if (segments[i].empty()) return false;
      if (params) params->emplace_back(p, std::string(segments[i]));
    } else if (p != segments[i]) {
      return false;
    }
  }
  return true;
}

Router::Match Router::Find(absl::string_view method, absl::string_view path) const {
  Match m;
  if (path.empty() || path[0] != '/') return m;
  std::vector<absl::string_view> segments = absl::StrSplit(path.substr(1), '/');
  std::vector<std::string> methods;
  for (size_t i = 0; i < routes_.size(); ++i) {
    const Route& r = routes_[i];
    if (!Matches(r, segments, nullptr)) continue;
    m.path_known = true;
    methods.push_back(r.method);
    if (r.method == "GET") methods.push_back("HEAD");
    if (m.route < 0 && (r.method == method || (method == "HEAD" && r.method == "GET"))) {
      m.route = static_cast<int>(i);
      Matches(r, segments, &m.params);
    }
  }
  if (m.path_known) {
    methods.push_back("OPTIONS");
    m.allow = absl::StrJoin(methods, ", ");
  }
  return m;
}

}  // namespace aisle

// Router: which route a method and a path name. Patterns are paths whose
// segments are literal or ":name" (any non-empty segment, handed to the
// handler still percent-encoded). Besides the match it says whether the
// path is known under other methods (for 405 and its Allow header, and for
// OPTIONS). Immutable after setup; thread-safe to read.
#pragma once

#include <string>
#include "absl/strings/string_view.h"
#include <utility>
#include <vector>

namespace aisle {

class Router {
 public:
  struct Match {
    int route = -1;  // the index Add returned; -1: none for this method
    std::vector<std::pair<std::string, std::string>> params;
    bool path_known = false;  // some route has this path
    std::string allow;        // the methods this path takes ("GET, HEAD, OPTIONS")
  };

  // Returns the route's index (0, 1, ...).
  int Add(std::string method, absl::string_view pattern);
  // HEAD matches GET routes.
  Match Find(absl::string_view method, absl::string_view path) const;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;
  };
  static bool Matches(const Route& r, const std::vector<absl::string_view>& segments,
                      std::vector<std::pair<std::string, std::string>>* params);
  std::vector<Route> routes_;
};

}  // namespace aisle

// The access log: lines written off the request path, every appended line
// out by Flush and at destruction, in order from one thread, none torn
// across threads, and a log that cannot write drops lines instead of
// holding requests.
#include "server/access_log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <set>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "tests/test_util.h"

namespace aisle {
namespace {

std::vector<std::string> Lines(const std::string& path) {
  std::vector<std::string> out;
  for (absl::string_view l : absl::StrSplit(::aisle::testing::ReadAll(path), '\n', absl::SkipEmpty())) {
    out.emplace_back(l);
  }
  return out;
}

TEST(AccessLog, EveryLineIsWrittenWholeByFlushAndAtTheEnd) {
  ::aisle::testing::TempDir dir;
  const std::string path = dir.Path("access.log");
  FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  {
    AccessLog::Options o;
    o.flush_interval = std::chrono::milliseconds(10000);  // only Flush and size write before the end
    o.flush_bytes = 4096;
    AccessLog log(f, o);
    log.Append("{\"n\":0}\n");
    log.Flush();
    EXPECT_EQ(Lines(path), std::vector<std::string>{"{\"n\":0}"});
    // Four threads append 2,000 lines each meanwhile.
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&log, t] {
        for (int i = 0; i < 2000; ++i) log.Append(absl::StrCat("{\"t\":", t, ",\"i\":", i, "}\n"));
      });
    }
    for (std::thread& t : threads) t.join();
    EXPECT_EQ(log.dropped(), 0u);
    log.Append("{\"n\":\"last\"}\n");
  }  // destruction writes the rest
  std::fclose(f);
  const std::vector<std::string> lines = Lines(path);
  ASSERT_EQ(lines.size(), 8002u);
  EXPECT_EQ(lines.back(), "{\"n\":\"last\"}");
  std::vector<int> next(4, 0);  // each thread's lines in its order, none torn
  for (size_t k = 1; k + 1 < lines.size(); ++k) {
    int t = -1, i = -1;
    ASSERT_EQ(std::sscanf(lines[k].c_str(), "{\"t\":%d,\"i\":%d}", &t, &i), 2) << lines[k];
    ASSERT_TRUE(t >= 0 && t < 4);
    EXPECT_EQ(i, next[t]++) << lines[k];
  }
}

TEST(AccessLog, AnOutputThatBlocksDropsLinesInsteadOfHoldingRequests) {
  // A pipe nobody reads: the writer blocks once the pipe is full; appends
  // keep returning at once and lines past the bound are counted dropped.
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  FILE* w = ::fdopen(fds[1], "w");
  ASSERT_NE(w, nullptr);
  {
    AccessLog::Options o;
    o.flush_interval = std::chrono::milliseconds(1);
    o.max_buffered_bytes = 64 << 10;
    AccessLog log(w, o);
    const std::string line(200, 'x');
    const absl::Time start = absl::Now();
    for (int i = 0; i < 20000; ++i) log.Append(line + "\n");  // 4 MB against a 64 KB pipe and 64 KB buffer
    EXPECT_LT(absl::Now() - start, absl::Seconds(2));
    EXPECT_GT(log.dropped(), 10000u);
    // Let the writer finish: read the pipe until it closes.
    std::thread reader([fd = fds[0]] {
      char buf[65536];
      while (::read(fd, buf, sizeof buf) > 0) {
      }
    });
    log.Flush();
    std::fclose(w);  // the log is idle now; closing ends the reader
    reader.join();
  }
  ::close(fds[0]);
}

}  // namespace
}  // namespace aisle

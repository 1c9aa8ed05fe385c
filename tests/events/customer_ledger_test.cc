// The consent and erasure ledger: durable choices, erasure that leaves no
// trace of the id in the file, torn tails, and what the trainer drops.
#include "events/customer_ledger.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "events/event_log.h"
#include "tests/test_util.h"

namespace aisle {
namespace {

using ::aisle::testing::ReadAll;
using ::aisle::testing::TempDir;

TEST(CustomerLedger, ConsentSurvivesReopening) {
  TempDir dir;
  {
    auto l = CustomerLedger::Open(dir.path());
    ASSERT_TRUE(l.ok()) << l.status();
    ASSERT_TRUE((*l)->SetConsent("alice", false, 1000).ok());
    ASSERT_TRUE((*l)->SetConsent("bob", false, 1001).ok());
    ASSERT_TRUE((*l)->SetConsent("bob", true, 1002).ok());
  }
  auto l = CustomerLedger::Open(dir.path());
  ASSERT_TRUE(l.ok());
  ASSERT_TRUE((*l)->Consent("alice").has_value());
  EXPECT_FALSE((*l)->Consent("alice")->personalization);
  EXPECT_TRUE((*l)->Consent("bob")->personalization);
  EXPECT_EQ((*l)->Consent("bob")->at_ms, 1002);
  EXPECT_FALSE((*l)->Consent("carol").has_value());
}

TEST(CustomerLedger, ErasureKeepsOnlyAPseudonym) {
  TempDir dir;
  auto l = CustomerLedger::Open(dir.path());
  ASSERT_TRUE(l.ok());
  ASSERT_TRUE((*l)->SetConsent("customer-4711", true, 1000).ok());
  ASSERT_TRUE((*l)->SetConsent("other", false, 1000).ok());
  auto had = (*l)->Erase("customer-4711", 2000);
  ASSERT_TRUE(had.ok());
  EXPECT_TRUE(*had);
  EXPECT_EQ((*l)->ErasedAt("customer-4711"), 2000);
  EXPECT_FALSE((*l)->ErasedAt("other").has_value());
  EXPECT_FALSE((*l)->Consent("customer-4711").has_value());
  // The id in no file (not its digits alone: the key and the pseudonyms are
  // random hex, which holds "4711" once in a few hundred runs).
  for (const char* f : {"customers.log", "erasure.key"}) {
    EXPECT_EQ(ReadAll(dir.Path(f)).find("customer-4711"), std::string::npos) << f;
  }
  // The trainer's view reads the same facts.
  auto state = CustomerLedger::Read(dir.path());
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->ErasedAt("customer-4711"), 2000);
  EXPECT_FALSE(state->consent.at("other").personalization);
  // Appends after the rewrite still land.
  ASSERT_TRUE((*l)->SetConsent("third", true, 3000).ok());
  state = CustomerLedger::Read(dir.path());
  EXPECT_TRUE(state->consent.contains("third"));
}

TEST(CustomerLedger, ALostKeyWithErasuresOnRecordIsRefused) {
  TempDir dir;
  {
    auto l = CustomerLedger::Open(dir.path());
    ASSERT_TRUE(l.ok());
    ASSERT_TRUE((*l)->Erase("someone", 1).ok());
  }
  std::filesystem::remove(dir.Path("erasure.key"));
  EXPECT_EQ(CustomerLedger::Open(dir.path()).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(CustomerLedger::Read(dir.path()).status().code(), absl::StatusCode::kDataLoss);
}

TEST(CustomerLedger, PseudonymsDependOnTheKey) {
  const std::string a(64, 'a'), b(64, 'b');
  EXPECT_EQ(CustomerLedger::Pseudonym(a, "x"), CustomerLedger::Pseudonym(a, "x"));
  EXPECT_NE(CustomerLedger::Pseudonym(a, "x"), CustomerLedger::Pseudonym(b, "x"));
  EXPECT_NE(CustomerLedger::Pseudonym(a, "x"), CustomerLedger::Pseudonym(a, "y"));
  EXPECT_EQ(CustomerLedger::Pseudonym(a, "x").size(), 64u);
}

TEST(CustomerLedger, ATornLastLineIsCutAndDamageElsewhereRefused) {
  TempDir dir;
  {
    auto l = CustomerLedger::Open(dir.path());
    ASSERT_TRUE(l.ok());
    ASSERT_TRUE((*l)->SetConsent("a", false, 1).ok());
  }
  const std::string good = ReadAll(dir.Path("customers.log"));
  dir.Write("customers.log", good + good.substr(0, good.size() / 2));
  {
    auto l = CustomerLedger::Open(dir.path());
    ASSERT_TRUE(l.ok()) << l.status();
    EXPECT_EQ(ReadAll(dir.Path("customers.log")), good);
  }
  std::string damaged = good;
  damaged[12] = '#';
  dir.Write("customers.log", damaged + good);
  auto l = CustomerLedger::Open(dir.path());
  EXPECT_EQ(l.status().code(), absl::StatusCode::kDataLoss) << l.status();
}

TEST(ApplyLedger, DropsWithheldAndErasedCustomers) {
  CustomerLedger::State st;
  st.key = std::string(64, '1');
  st.consent["no"] = {false, 0};
  st.consent["yes"] = {true, 0};
  st.erased[CustomerLedger::Pseudonym(st.key, "gone")] = 5000;  // ms
  EventLog log;
  auto add = [&](const std::string& c, int64_t ts) {
    log.events.push_back({log.customers.Insert(c), log.products.Insert("p"), ts, 1, NAN, EventType::kPurchase,
                          Channel::kUnknown, kNoCountry});
  };
  add("no", 1);
  add("yes", 1);
  add("silent", 1);
  add("gone", 4);   // before the erasure: dropped
  add("gone", 10);  // after it (a returning customer): kept
  LedgerFilterStats f = ApplyLedger(st, /*default_consent=*/true, &log);
  EXPECT_EQ(f.no_consent_customers, 1u);
  EXPECT_EQ(f.erased_events, 1u);
  ASSERT_EQ(log.events.size(), 3u);
  EXPECT_EQ(log.customers.id(log.events[2].customer), "gone");
  EXPECT_EQ(log.events[2].timestamp, 10);
  // Opt-in stores: only who said yes.
  f = ApplyLedger(st, /*default_consent=*/false, &log);
  ASSERT_EQ(log.events.size(), 1u);
  EXPECT_EQ(log.customers.id(log.events[0].customer), "yes");
}

}  // namespace
}  // namespace aisle

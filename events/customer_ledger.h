// CustomerLedger: what customers said about their data, durable beside the
// event journal in DIR/customers.log, and read by the trainer:
//  - consent to personalization (PUT /v1/customers/{id}/consent): the
//    latest choice per customer;
//  - erasures (DELETE /v1/customers/{id}): only the fact that a customer
//    was erased, and when, under a pseudonym (HMAC-SHA256 of the id with
//    the directory's secret key DIR/erasure.key), never the id itself, so
//    that the trainer can drop the customer's events from every input
//    without any file keeping the id.
// Each line is "<crc32c hex> <JSON>\n", written and fdatasync'ed before a
// call returns. Erase() rewrites the file (temp file, fsync, rename)
// without the customer's consent records. Opening cuts a torn last line
// (a crash during a write) and refuses a file damaged elsewhere.
// Thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace aisle {

struct EventLog;

struct ConsentRecord {
  bool personalization = true;
  int64_t at_ms = 0;
};

class CustomerLedger {
 public:
  struct State {
    absl::flat_hash_map<std::string, ConsentRecord> consent;  // by customer id
    absl::flat_hash_map<std::string, int64_t> erased;         // pseudonym -> when (Unix ms)
    std::string key;                                          // the pseudonym key (hex); empty: none yet
    // When `id` was erased, or nullopt.
    std::optional<int64_t> ErasedAt(absl::string_view id) const;
  };

  // Opens (creating) DIR/customers.log and DIR/erasure.key for writing.
  static absl::StatusOr<std::unique_ptr<CustomerLedger>> Open(const std::string& dir, bool sync = true);
  // Reads a directory's ledger without writing (an empty state when there is none).
  static absl::StatusOr<State> Read(const std::string& dir);
  ~CustomerLedger();

  // HMAC-SHA256 of `id` under `key_hex`, as 64 hex digits.
  static std::string Pseudonym(absl::string_view key_hex, absl::string_view id);

  std::optional<ConsentRecord> Consent(absl::string_view customer) const;
  absl::Status SetConsent(absl::string_view customer, bool personalization, int64_t at_ms);
  // Records the erasure and drops the customer's consent record from the
  // file. Returns whether there was a consent record.
  absl::StatusOr<bool> Erase(absl::string_view customer, int64_t at_ms);
  std::optional<int64_t> ErasedAt(absl::string_view customer) const;
  // A copy of the state (pseudonyms, consent).
  State Snapshot() const;
  size_t consent_records() const;
  size_t erasures() const;

 private:
  CustomerLedger() = default;
  absl::Status AppendLine(const std::string& json);
  std::string path_;
  int fd_ = -1;
  bool sync_ = true;
  std::mutex write_mu_;     // the file (writes and syncs)
  mutable std::mutex mu_;   // state_, held briefly
  State state_;
};

// What the trainer does with the ledger: drops the events of customers
// who withheld consent (explicitly, or by default with `default_consent`
// false and no choice recorded) and of erased customers up to their
// erasure. Returns the counts. The id maps keep the ids (no model row is
// made for a customer without events).
struct LedgerFilterStats {
  uint64_t no_consent_customers = 0, no_consent_events = 0;
  uint64_t erased_customers = 0, erased_events = 0;
};
LedgerFilterStats ApplyLedger(const CustomerLedger::State& ledger, bool default_consent, EventLog* log);

}  // namespace aisle

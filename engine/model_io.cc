#include "engine/model_io.h"

#include <atomic>
#include <cstring>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "engine/atomic_file.h"
#include "engine/checksum.h"
#include "engine/json_text.h"
#include "engine/mapped_file.h"

namespace aisle {
namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "model files are little-endian");

constexpr char kMagic[8] = {'A', 'I', 'S', 'L', 'E', 'M', 'D', 'L'};
constexpr size_t kHeaderSize = 64;

constexpr uint32_t Tag(const char (&s)[5]) {
  return static_cast<uint32_t>(static_cast<unsigned char>(s[0])) |
         static_cast<uint32_t>(static_cast<unsigned char>(s[1])) << 8 |
         static_cast<uint32_t>(static_cast<unsigned char>(s[2])) << 16 |
         static_cast<uint32_t>(static_cast<unsigned char>(s[3])) << 24;
}
constexpr uint32_t kMeta = Tag("META");
constexpr uint32_t kCustomerIds = Tag("CIDS");
constexpr uint32_t kProductIds = Tag("PIDS");
constexpr uint32_t kUserFactors = Tag("UFAC");
constexpr uint32_t kItemFactors = Tag("IFAC");
constexpr uint32_t kPurchased = Tag("PURC");
constexpr uint32_t kPopularity = Tag("IPOP");

template <typename T>
void Put(std::string* out, T v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof(T));
}

std::string EncodeIds(const IdMap& ids) {
  std::string out;
  size_t total = 8;
  for (const std::string& s : ids.ids()) total += 4 + s.size();
  out.reserve(total);
  Put<uint64_t>(&out, ids.size());
  for (const std::string& s : ids.ids()) {
    Put<uint32_t>(&out, static_cast<uint32_t>(s.size()));
    out.append(s);
  }
  return out;
}

// A section's content as a list of byte ranges (to avoid copying factors).
struct Section {
  uint32_t tag;
  std::vector<absl::Span<const char>> parts;
  uint64_t length() const {
    uint64_t n = 0;
    for (auto p : parts) n += p.size();
    return n;
  }
};

template <typename T>
absl::Span<const char> Bytes(const T* p, size_t count) {
  return absl::MakeConstSpan(reinterpret_cast<const char*>(p), count * sizeof(T));
}

// Reads from a byte range with bounds checks; every failure is DataLoss.
class Reader {
 public:
  Reader(const char* p, size_t n, const std::string& name, const char* what)
      : p_(p), n_(n), name_(name), what_(what) {}
  template <typename T>
  bool Get(T* v) {
    if (n_ - off_ < sizeof(T)) return false;
    std::memcpy(v, p_ + off_, sizeof(T));
    off_ += sizeof(T);
    return true;
  }
  bool GetBytes(void* dst, uint64_t n) {
    if (n > n_ - off_) return false;
    std::memcpy(dst, p_ + off_, n);
    off_ += n;
    return true;
  }
  bool GetView(uint64_t n, absl::string_view* v) {
    if (n > n_ - off_) return false;
    *v = absl::string_view(p_ + off_, n);
    off_ += n;
    return true;
  }
  bool AtEnd() const { return off_ == n_; }
  absl::Status Error(absl::string_view why) const {
    return absl::DataLossError(absl::StrCat(name_, ": corrupt ", what_, " section: ", why));
  }

 private:
  const char* p_;
  size_t n_;
  size_t off_ = 0;
  const std::string& name_;
  const char* what_;
};

absl::Status DecodeIds(Reader r, IdMap* ids, uint64_t expected, uint64_t section_bytes) {
  uint64_t count;
  if (!r.Get(&count)) return r.Error("truncated count");
  if (count != expected) return r.Error(absl::StrCat(count, " ids, header says ", expected));
  // Each id takes at least its 4-byte length: a count the section cannot
  // hold is refused before anything is allocated for it.
  if (count > (section_bytes - 8) / 4) return r.Error(absl::StrCat(count, " ids cannot fit in ", section_bytes, " bytes"));
  std::vector<std::string> v;
  v.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    uint32_t len;
    absl::string_view s;
    if (!r.Get(&len) || !r.GetView(len, &s)) return r.Error(absl::StrCat("truncated at id ", i));
    v.emplace_back(s);
  }
  if (!r.AtEnd()) return r.Error("trailing bytes");
  if (!ids->Assign(std::move(v))) return r.Error("duplicate id");
  return absl::OkStatus();
}

absl::Status DecodeFactors(Reader r, uint64_t rows, uint32_t cols, uint64_t length,
                           FactorMatrix* m) {
  if (length != rows * cols * sizeof(float)) {
    return r.Error(absl::StrCat(length, " bytes for a ", rows, "x", cols, " float matrix"));
  }
  m->resize(static_cast<Eigen::Index>(rows), cols);
  if (!r.GetBytes(m->data(), length)) return r.Error("truncated");
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteModelV1(const Model& model, const std::string& path) {
  if (absl::Status s = model.Validate(); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("refusing to write model: ", s.message()));
  }
  const uint64_t nc = model.customers.size();
  const uint64_t np = model.products.size();
  const uint32_t k = model.num_factors();

  const std::string meta = model.metadata.dump();
  const std::string cids = EncodeIds(model.customers);
  const std::string pids = EncodeIds(model.products);
  std::string purc_head;
  Put<uint64_t>(&purc_head, model.purchased.nnz());

  std::vector<Section> sections = {
      {kMeta, {Bytes(meta.data(), meta.size())}},
      {kCustomerIds, {Bytes(cids.data(), cids.size())}},
      {kProductIds, {Bytes(pids.data(), pids.size())}},
      {kUserFactors, {Bytes(model.user_factors.data(), nc * k)}},
      {kItemFactors, {Bytes(model.item_factors.data(), np * k)}},
      {kPurchased,
       {Bytes(purc_head.data(), purc_head.size()),
        Bytes(model.purchased.indptr.data(), model.purchased.indptr.size()),
        Bytes(model.purchased.indices.data(), model.purchased.indices.size())}},
      {kPopularity, {Bytes(model.item_popularity.data(), np)}},
  };

  // Section headers and padding are small; build them up front so the
  // payload checksum can be computed before anything is written.
  static constexpr char kZeros[8] = {};
  std::vector<std::string> section_heads;
  uint64_t payload_size = 0;
  uint32_t crc = 0;
  for (const Section& s : sections) {
    std::string head;
    Put<uint32_t>(&head, s.tag);
    Put<uint32_t>(&head, 0);
    Put<uint64_t>(&head, s.length());
    crc = Crc32c(crc, head.data(), head.size());
    for (auto p : s.parts) crc = Crc32c(crc, p.data(), p.size());
    size_t pad = (8 - s.length() % 8) % 8;
    crc = Crc32c(crc, kZeros, pad);
    payload_size += head.size() + s.length() + pad;
    section_heads.push_back(std::move(head));
  }

  std::string header;
  header.append(kMagic, sizeof(kMagic));
  Put<uint32_t>(&header, 1);
  Put<uint32_t>(&header, kHeaderSize);
  Put<uint64_t>(&header, nc);
  Put<uint64_t>(&header, np);
  Put<uint32_t>(&header, k);
  Put<uint32_t>(&header, static_cast<uint32_t>(sections.size()));
  Put<uint64_t>(&header, payload_size);
  Put<uint32_t>(&header, crc);
  Put<uint64_t>(&header, 0);
  Put<uint32_t>(&header, Crc32c(0, header.data(), header.size()));

  AtomicFileWriter w;
  if (absl::Status s = w.Open(path); !s.ok()) return s;
  if (absl::Status s = w.Append(header); !s.ok()) return s;
  for (size_t i = 0; i < sections.size(); ++i) {
    if (absl::Status s = w.Append(section_heads[i]); !s.ok()) return s;
    for (auto p : sections[i].parts) {
      if (absl::Status s = w.Append(p.data(), p.size()); !s.ok()) return s;
    }
    size_t pad = (8 - sections[i].length() % 8) % 8;
    if (absl::Status s = w.Append(kZeros, pad); !s.ok()) return s;
  }
  return w.Commit();
}

absl::StatusOr<Model> ParseModelV1(absl::string_view bytes, const std::string& name) {
  if (bytes.size() < kHeaderSize) {
    if (bytes.size() >= sizeof(kMagic) && std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
      return absl::DataLossError(absl::StrCat(name, ": not an aisle model file (bad magic)"));
    }
    return absl::DataLossError(
        absl::StrCat(name, ": truncated: ", bytes.size(), " bytes, shorter than the header"));
  }
  Reader h(bytes.data(), kHeaderSize, name, "header");
  char magic[8];
  uint32_t version, header_size, k, num_sections, payload_crc, header_crc;
  uint64_t nc, np, payload_size, reserved;
  h.GetBytes(magic, 8);
  if (std::memcmp(magic, kMagic, 8) != 0) {
    return absl::DataLossError(absl::StrCat(name, ": not an aisle model file (bad magic)"));
  }
  h.Get(&version);
  h.Get(&header_size);
  h.Get(&nc);
  h.Get(&np);
  h.Get(&k);
  h.Get(&num_sections);
  h.Get(&payload_size);
  h.Get(&payload_crc);
  h.Get(&reserved);
  h.Get(&header_crc);
  if (Crc32c(0, bytes.data(), kHeaderSize - 4) != header_crc) {
    return absl::DataLossError(absl::StrCat(name, ": header checksum mismatch (corrupt file)"));
  }
  if (version != 1) {
    return absl::FailedPreconditionError(absl::StrCat(name, ": model format version ", version,
                                                      " is not supported (this build reads versions 1 and ",
                                                      kModelFormatVersion, ")"));
  }
  if (header_size != kHeaderSize) {
    return absl::DataLossError(absl::StrCat(name, ": bad header size ", header_size));
  }
  if (bytes.size() - kHeaderSize != payload_size) {
    return absl::DataLossError(absl::StrCat(
        name, bytes.size() - kHeaderSize < payload_size ? ": truncated: " : ": trailing bytes: ",
        "payload is ", bytes.size() - kHeaderSize, " bytes, header says ", payload_size));
  }
  const char* payload = bytes.data() + kHeaderSize;
  if (Crc32c(0, payload, payload_size) != payload_crc) {
    return absl::DataLossError(absl::StrCat(name, ": payload checksum mismatch (corrupt file)"));
  }
  if (k == 0 || k > 4096) return absl::DataLossError(absl::StrCat(name, ": bad factor count ", k));
  if (nc >= IdMap::kMaxSize || np >= IdMap::kMaxSize) {
    return absl::DataLossError(absl::StrCat(name, ": bad sizes"));
  }

  Model m;
  uint32_t seen = 0;
  Reader sections(payload, payload_size, name, "section table");
  for (uint32_t i = 0; i < num_sections; ++i) {
    uint32_t tag, zero;
    uint64_t len;
    absl::string_view body;
    if (!sections.Get(&tag) || !sections.Get(&zero) || !sections.Get(&len) ||
        !sections.GetView(len, &body)) {
      return sections.Error(absl::StrCat("section ", i, " runs past the end"));
    }
    absl::string_view pad;
    if (!sections.GetView((8 - len % 8) % 8, &pad)) return sections.Error("missing padding");
    switch (tag) {
      case kMeta: {
        Reader rm(body.data(), body.size(), name, "META");
        auto meta = ParseJsonText(body);
        if (!meta.ok()) return rm.Error(meta.status().message());
        if (absl::Status s = m.SetMetadata(*std::move(meta)); !s.ok()) return rm.Error(s.message());
        seen |= 1;
        break;
      }
      case kCustomerIds:
        if (auto s = DecodeIds(Reader(body.data(), body.size(), name, "CIDS"), &m.customers, nc, len); !s.ok()) return s;
        seen |= 2;
        break;
      case kProductIds:
        if (auto s = DecodeIds(Reader(body.data(), body.size(), name, "PIDS"), &m.products, np, len); !s.ok()) return s;
        seen |= 4;
        break;
      case kUserFactors:
        if (auto s = DecodeFactors(Reader(body.data(), body.size(), name, "UFAC"), nc, k, len, &m.user_factors); !s.ok()) return s;
        seen |= 8;
        break;
      case kItemFactors:
        if (auto s = DecodeFactors(Reader(body.data(), body.size(), name, "IFAC"), np, k, len, &m.item_factors); !s.ok()) return s;
        seen |= 16;
        break;
      case kPurchased: {
        Reader rp(body.data(), body.size(), name, "PURC");
        uint64_t nnz;
        if (!rp.Get(&nnz)) return rp.Error("truncated");
        // Sizes checked against the section before any arithmetic that could wrap.
        if ((nc + 1) > (len - 8) / 8 || nnz > (len - 8 - (nc + 1) * 8) / 4 ||
            len != 8 + (nc + 1) * 8 + nnz * 4) {
          return rp.Error("length does not match its sizes");
        }
        m.purchased.rows = static_cast<uint32_t>(nc);
        m.purchased.cols = static_cast<uint32_t>(np);
        m.purchased.indptr.resize(nc + 1);
        m.purchased.indices.resize(nnz);
        rp.GetBytes(m.purchased.indptr.data(), (nc + 1) * 8);
        rp.GetBytes(m.purchased.indices.data(), nnz * 4);
        seen |= 32;
        break;
      }
      case kPopularity: {
        Reader rp(body.data(), body.size(), name, "IPOP");
        if (len != np * 4) return rp.Error("length does not match the product count");
        m.item_popularity.resize(np);
        rp.GetBytes(m.item_popularity.data(), len);
        seen |= 64;
        break;
      }
      default:
        break;  // unknown section from a newer writer of the same version: skip
    }
  }
  if (seen != 127) {
    return absl::DataLossError(absl::StrCat(name, ": missing required sections (mask ", seen, ")"));
  }
  if (absl::Status s = m.Validate(/*loaded=*/true); !s.ok()) {
    return absl::DataLossError(absl::StrCat(name, ": ", s.message()));
  }
  return m;
}

}  // namespace aisle

// ---- Format version 2: aligned sections that can be mapped ----

namespace aisle {
namespace {

constexpr uint32_t kItemClusters = Tag("ICLU");
constexpr uint32_t kSimilarClusters = Tag("SCLU");
constexpr uint32_t kHistory = Tag("PHIS");
constexpr uint32_t kNeighbours = Tag("NBRS");
constexpr uint32_t kItemWeights = Tag("IWGT");
constexpr uint64_t kAlign = 64;
constexpr uint64_t kEntrySize = 32;
constexpr uint64_t kCrcChunk = uint64_t{64} << 20;  // checksummed between cancellation checks

uint64_t AlignUp(uint64_t x) { return (x + kAlign - 1) / kAlign * kAlign; }

// u64 count, u64 id bytes, u64 slots, u64 offsets[count + 1], u32 slots[slots], the id bytes.
std::string EncodeIdTable(const IdMap& ids) {
  std::string out;
  Put<uint64_t>(&out, ids.size());
  Put<uint64_t>(&out, ids.bytes().size());
  Put<uint64_t>(&out, ids.slots().size());
  out.append(reinterpret_cast<const char*>(ids.offsets().data()), ids.offsets().size() * sizeof(uint64_t));
  out.append(reinterpret_cast<const char*>(ids.slots().data()), ids.slots().size() * sizeof(uint32_t));
  out.append(ids.bytes());
  return out;
}

// u64 clusters, u64 products, u32 order[products], u32 offsets[clusters + 1], f32 centres[clusters x k].
std::string EncodeClusters(const ProductClusters& c) {
  std::string out;
  Put<uint64_t>(&out, c.offsets.size() - 1);
  Put<uint64_t>(&out, c.order.size());
  out.append(reinterpret_cast<const char*>(c.order.data()), c.order.size() * sizeof(uint32_t));
  out.append(reinterpret_cast<const char*>(c.offsets.data()), c.offsets.size() * sizeof(uint32_t));
  out.append(reinterpret_cast<const char*>(c.centroids.data()), c.centroids.size() * sizeof(float));
  return out;
}

// A section's place in a version 2 file.
struct Entry {
  uint32_t tag = 0;
  uint64_t offset = 0, length = 0;
  uint32_t crc = 0;
};

// Copies `n` elements of T from `p` (any alignment) into a vector.
template <typename T>
std::vector<T> CopyArray(const char* p, uint64_t n) {
  std::vector<T> v(n);
  if (n > 0) std::memcpy(v.data(), p, n * sizeof(T));
  return v;
}

absl::Status DecodeIdTable(absl::string_view body, uint64_t expected, const std::string& name, const char* what,
                           IdMap* ids) {
  Reader r(body.data(), body.size(), name, what);
  uint64_t count, nbytes, nslots;
  if (!r.Get(&count) || !r.Get(&nbytes) || !r.Get(&nslots)) return r.Error("truncated");
  if (count != expected) return r.Error(absl::StrCat(count, " ids, header says ", expected));
  const uint64_t len = body.size();
  // Each size bounded by the section before any arithmetic that could wrap.
  if (count >= len / 8 || nslots > len / 4 || nbytes > len || 24 + (count + 1) * 8 + nslots * 4 + nbytes != len) {
    return r.Error("length does not match its sizes");
  }
  const char* p = body.data() + 24;
  std::vector<uint64_t> offsets = CopyArray<uint64_t>(p, count + 1);
  p += (count + 1) * 8;
  std::vector<uint32_t> slots = CopyArray<uint32_t>(p, nslots);
  p += nslots * 4;
  std::string bytes(p, nbytes);
  if (auto why = IdMap::FromParts(std::move(bytes), std::move(offsets), std::move(slots), ids)) return r.Error(*why);
  return absl::OkStatus();
}

absl::Status DecodeClusters(absl::string_view body, uint64_t np, uint32_t k, const std::string& name, const char* what,
                            ProductClusters* c) {
  Reader r(body.data(), body.size(), name, what);
  uint64_t nc, n;
  if (!r.Get(&nc) || !r.Get(&n)) return r.Error("truncated");
  const uint64_t len = body.size();
  if (n != np) return r.Error(absl::StrCat(n, " products, header says ", np));
  if (nc == 0 || nc > np || nc >= len / 4 || n >= len / 4 ||
      16 + n * 4 + (nc + 1) * 4 + nc * uint64_t{k} * 4 != len) {
    return r.Error("length does not match its sizes");
  }
  const char* p = body.data() + 16;
  c->order = CopyArray<uint32_t>(p, n);
  p += n * 4;
  c->offsets = CopyArray<uint32_t>(p, nc + 1);
  p += (nc + 1) * 4;
  c->centroids.resize(static_cast<Eigen::Index>(nc), k);
  std::memcpy(c->centroids.data(), p, nc * k * sizeof(float));
  return absl::OkStatus();  // the contents are checked by Model::Validate
}

// u64 pairs, u64 customers, i64 reference_day, u32 days[pairs],
// i32 first_day[pairs], i32 last_day[pairs], f32 recent[pairs],
// u32 customer_days[customers].
std::string EncodeHistory(const PurchaseHistory& h) {
  std::string out;
  Put<uint64_t>(&out, h.days.size());
  Put<uint64_t>(&out, h.customer_days.size());
  Put<int64_t>(&out, h.reference_day);
  out.append(reinterpret_cast<const char*>(h.days.data()), h.days.size() * sizeof(uint32_t));
  out.append(reinterpret_cast<const char*>(h.first_day.data()), h.first_day.size() * sizeof(int32_t));
  out.append(reinterpret_cast<const char*>(h.last_day.data()), h.last_day.size() * sizeof(int32_t));
  out.append(reinterpret_cast<const char*>(h.recent.data()), h.recent.size() * sizeof(float));
  out.append(reinterpret_cast<const char*>(h.customer_days.data()), h.customer_days.size() * sizeof(uint32_t));
  return out;
}

absl::Status DecodeHistory(absl::string_view body, uint64_t nc, const std::string& name, PurchaseHistory* h) {
  Reader r(body.data(), body.size(), name, "PHIS");
  uint64_t pairs, customers;
  int64_t reference;
  if (!r.Get(&pairs) || !r.Get(&customers) || !r.Get(&reference)) return r.Error("truncated");
  const uint64_t len = body.size();
  if (customers != nc) return r.Error(absl::StrCat(customers, " customers, header says ", nc));
  if (pairs >= len / 16 + 1 || customers >= len / 4 + 1 || 24 + pairs * 16 + customers * 4 != len) {
    return r.Error("length does not match its sizes");
  }
  if (reference < INT32_MIN || reference > INT32_MAX) return r.Error("reference day out of range");
  h->reference_day = static_cast<int32_t>(reference);
  const char* p = body.data() + 24;
  h->days = CopyArray<uint32_t>(p, pairs);
  p += pairs * 4;
  h->first_day = CopyArray<int32_t>(p, pairs);
  p += pairs * 4;
  h->last_day = CopyArray<int32_t>(p, pairs);
  p += pairs * 4;
  h->recent = CopyArray<float>(p, pairs);
  p += pairs * 4;
  h->customer_days = CopyArray<uint32_t>(p, customers);
  return absl::OkStatus();  // checked against the purchases by Model::Validate
}

// u64 products, u64 entries, u64 offsets[products + 1], u32 neighbour[entries], f32 similarity[entries].
std::string EncodeNeighbours(const ItemNeighbours& n) {
  const CsrMatrix& m = n.similar;
  std::string out;
  Put<uint64_t>(&out, m.rows);
  Put<uint64_t>(&out, m.nnz());
  out.append(reinterpret_cast<const char*>(m.indptr.data()), m.indptr.size() * sizeof(uint64_t));
  out.append(reinterpret_cast<const char*>(m.indices.data()), m.indices.size() * sizeof(uint32_t));
  out.append(reinterpret_cast<const char*>(m.values.data()), m.values.size() * sizeof(float));
  return out;
}

absl::Status DecodeNeighbours(absl::string_view body, uint64_t np, const std::string& name, ItemNeighbours* n,
                              const char* tag = "NBRS") {
  Reader r(body.data(), body.size(), name, tag);
  uint64_t products, entries;
  if (!r.Get(&products) || !r.Get(&entries)) return r.Error("truncated");
  const uint64_t len = body.size();
  if (products != np) return r.Error(absl::StrCat(products, " products, header says ", np));
  if (products >= len / 8 || entries >= len / 8 + 1 || 16 + (products + 1) * 8 + entries * 8 != len) {
    return r.Error("length does not match its sizes");
  }
  CsrMatrix& m = n->similar;
  m.rows = m.cols = static_cast<uint32_t>(products);
  const char* p = body.data() + 16;
  m.indptr = CopyArray<uint64_t>(p, products + 1);
  p += (products + 1) * 8;
  m.indices = CopyArray<uint32_t>(p, entries);
  p += entries * 4;
  m.values = CopyArray<float>(p, entries);
  return absl::OkStatus();  // checked by Model::Validate
}

// Checks a version 2 file held in `bytes` and builds the model: the factors
// point into `mapping` when it is given (the bytes are its contents), else
// they are copied.
absl::StatusOr<Model> ParseModelV2(absl::string_view bytes, const std::string& name,
                                   std::shared_ptr<const MappedFile> mapping, const std::atomic<bool>* cancel) {
  Reader h(bytes.data(), kHeaderSize, name, "header");
  char magic[8];
  uint32_t version, header_size, k, num_sections, table_crc, header_crc;
  uint64_t nc, np, file_size, reserved;
  h.GetBytes(magic, 8);
  h.Get(&version);
  h.Get(&header_size);
  h.Get(&nc);
  h.Get(&np);
  h.Get(&k);
  h.Get(&num_sections);
  h.Get(&file_size);
  h.Get(&table_crc);
  h.Get(&reserved);
  h.Get(&header_crc);
  if (header_size != kHeaderSize) return absl::DataLossError(absl::StrCat(name, ": bad header size ", header_size));
  if (bytes.size() != file_size) {
    return absl::DataLossError(absl::StrCat(name, bytes.size() < file_size ? ": truncated: " : ": trailing bytes: ",
                                            "file is ", bytes.size(), " bytes, header says ", file_size));
  }
  if (num_sections == 0 || num_sections > 64 || kHeaderSize + num_sections * kEntrySize > file_size) {
    return absl::DataLossError(absl::StrCat(name, ": bad section count ", num_sections));
  }
  const char* table = bytes.data() + kHeaderSize;
  if (Crc32c(0, table, num_sections * kEntrySize) != table_crc) {
    return absl::DataLossError(absl::StrCat(name, ": section table checksum mismatch (corrupt file)"));
  }
  // 0 factors: an item-item model (Model::Validate checks the algorithm has none).
  if (k > 4096) return absl::DataLossError(absl::StrCat(name, ": bad factor count ", k));
  if (nc >= IdMap::kMaxSize || np >= IdMap::kMaxSize) return absl::DataLossError(absl::StrCat(name, ": bad sizes"));
  std::vector<Entry> entries(num_sections);
  uint64_t end = kHeaderSize + num_sections * kEntrySize;
  Reader t(table, num_sections * kEntrySize, name, "section table");
  for (Entry& e : entries) {
    uint32_t zero, pad;
    t.Get(&e.tag);
    t.Get(&zero);
    t.Get(&e.offset);
    t.Get(&e.length);
    t.Get(&e.crc);
    t.Get(&pad);
    // In file order, aligned, not overlapping, inside the file.
    if (e.offset % kAlign != 0 || e.offset < end || e.offset > file_size || e.length > file_size - e.offset) {
      return t.Error(absl::StrCat("section ", e.tag, " lies outside the file or overlaps another"));
    }
    // The padding before it: zeros (no byte of the file escapes a check).
    for (uint64_t b = end; b < e.offset; ++b) {
      if (bytes[b] != 0) return t.Error("non-zero padding between sections");
    }
    end = e.offset + e.length;
  }
  if (end != file_size) return absl::DataLossError(absl::StrCat(name, ": trailing bytes after the last section"));
  // Checksums of every section, in chunks on all threads.
  struct Chunk {
    size_t entry;
    uint64_t begin, end;
  };
  std::vector<Chunk> chunks;
  for (size_t i = 0; i < entries.size(); ++i) {
    for (uint64_t b = 0; b < entries[i].length || b == 0; b += kCrcChunk) {
      chunks.push_back({i, b, std::min(entries[i].length, b + kCrcChunk)});
      if (entries[i].length == 0) break;
    }
  }
  std::vector<uint32_t> chunk_crc(chunks.size());
  std::atomic<bool> cancelled{false};
#pragma omp parallel for schedule(dynamic, 1)
  for (size_t c = 0; c < chunks.size(); ++c) {
    if (cancelled.load(std::memory_order_relaxed)) continue;
    if (cancel != nullptr && cancel->load(std::memory_order_relaxed)) {
      cancelled = true;
      continue;
    }
    const Chunk& ch = chunks[c];
    chunk_crc[c] = Crc32c(0, bytes.data() + entries[ch.entry].offset + ch.begin, ch.end - ch.begin);
  }
  if (cancelled) return absl::CancelledError(absl::StrCat(name, ": loading cancelled"));
  // A section's checksum is the CRC-32C of its chunks' CRC-32Cs (WriteModel).
  std::vector<uint32_t> section_crc(entries.size(), 0);
  for (size_t c = 0; c < chunks.size(); ++c) {
    section_crc[chunks[c].entry] = Crc32c(section_crc[chunks[c].entry], &chunk_crc[c], sizeof(uint32_t));
  }
  for (size_t i = 0; i < entries.size(); ++i) {
    if (section_crc[i] != entries[i].crc) {
      return absl::DataLossError(absl::StrCat(name, ": section ", i, " checksum mismatch (corrupt file)"));
    }
  }

  Model m;
  uint32_t seen = 0;
  auto stop = [cancel] { return cancel != nullptr && cancel->load(std::memory_order_relaxed); };
  for (const Entry& e : entries) {
    if (stop()) return absl::CancelledError(absl::StrCat(name, ": loading cancelled"));
    const absl::string_view body(bytes.data() + e.offset, e.length);
    uint32_t bit = 0;
    switch (e.tag) {
      case kMeta: {
        bit = 1;
        Reader rm(body.data(), body.size(), name, "META");
        auto meta = ParseJsonText(body);
        if (!meta.ok()) return rm.Error(meta.status().message());
        if (absl::Status s = m.SetMetadata(*std::move(meta)); !s.ok()) return rm.Error(s.message());
        break;
      }
      case kCustomerIds:
        bit = 2;
        if (auto s = DecodeIdTable(body, nc, name, "CIDS", &m.customers); !s.ok()) return s;
        break;
      case kProductIds:
        bit = 4;
        if (auto s = DecodeIdTable(body, np, name, "PIDS", &m.products); !s.ok()) return s;
        break;
      case kUserFactors:
      case kItemFactors: {
        const bool users = e.tag == kUserFactors;
        bit = users ? 8 : 16;
        const uint64_t rows = users ? nc : np;
        Reader rf(body.data(), body.size(), name, users ? "UFAC" : "IFAC");
        if (k == 0 ? e.length != 0 : (rows > e.length / (uint64_t{k} * 4) || e.length != rows * k * 4)) {
          return rf.Error(absl::StrCat(e.length, " bytes for a ", rows, "x", k, " float matrix"));
        }
        if (mapping) {
          (users ? m.mapped_users : m.mapped_items) = reinterpret_cast<const float*>(body.data());
        } else {
          FactorMatrix& f = users ? m.user_factors : m.item_factors;
          f.resize(static_cast<Eigen::Index>(rows), k);
          if (e.length > 0) std::memcpy(f.data(), body.data(), e.length);
        }
        break;
      }
      case kPurchased: {
        bit = 32;
        Reader rp(body.data(), body.size(), name, "PURC");
        uint64_t nnz;
        if (!rp.Get(&nnz)) return rp.Error("truncated");
        const uint64_t len = e.length;
        if ((nc + 1) > (len - 8) / 8 || nnz > (len - 8 - (nc + 1) * 8) / 4 || len != 8 + (nc + 1) * 8 + nnz * 4) {
          return rp.Error("length does not match its sizes");
        }
        m.purchased.rows = static_cast<uint32_t>(nc);
        m.purchased.cols = static_cast<uint32_t>(np);
        m.purchased.indptr = CopyArray<uint64_t>(body.data() + 8, nc + 1);
        m.purchased.indices = CopyArray<uint32_t>(body.data() + 8 + (nc + 1) * 8, nnz);
        break;
      }
      case kPopularity: {
        bit = 64;
        Reader rp(body.data(), body.size(), name, "IPOP");
        if (e.length != np * 4) return rp.Error("length does not match the product count");
        m.item_popularity = CopyArray<float>(body.data(), np);
        break;
      }
      case kItemClusters:
        if (auto s = DecodeClusters(body, np, k, name, "ICLU", &m.item_clusters); !s.ok()) return s;
        break;
      case kSimilarClusters:
        if (auto s = DecodeClusters(body, np, k, name, "SCLU", &m.similar_clusters); !s.ok()) return s;
        break;
      case kHistory:
        if (auto s = DecodeHistory(body, nc, name, &m.history); !s.ok()) return s;
        break;
      case kNeighbours:
        if (auto s = DecodeNeighbours(body, np, name, &m.neighbours); !s.ok()) return s;
        break;
      case kItemWeights:
        if (auto s = DecodeNeighbours(body, np, name, &m.item_weights, "IWGT"); !s.ok()) return s;
        break;
      default:
        break;  // unknown section from a newer writer of the same version: skip
    }
    if (bit != 0 && (seen & bit) != 0) {
      return absl::DataLossError(absl::StrCat(name, ": section ", e.tag, " appears twice"));
    }
    seen |= bit;
  }
  if (seen != 127) {
    return absl::DataLossError(absl::StrCat(name, ": missing required sections (mask ", seen, ")"));
  }
  if (mapping) {
    m.mapped_factors = k;
    m.mapping = std::move(mapping);
  }
  if (stop()) return absl::CancelledError(absl::StrCat(name, ": loading cancelled"));
  if (absl::Status s = m.Validate(/*loaded=*/true); !s.ok()) {
    return absl::DataLossError(absl::StrCat(name, ": ", s.message()));
  }
  return m;
}

// Version and size checks common to both versions; the version.
absl::StatusOr<uint32_t> CheckHeader(absl::string_view bytes, const std::string& name) {
  if (bytes.size() < kHeaderSize) {
    if (bytes.size() >= sizeof(kMagic) && std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
      return absl::DataLossError(absl::StrCat(name, ": not an aisle model file (bad magic)"));
    }
    return absl::DataLossError(absl::StrCat(name, ": truncated: ", bytes.size(), " bytes, shorter than the header"));
  }
  if (std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
    return absl::DataLossError(absl::StrCat(name, ": not an aisle model file (bad magic)"));
  }
  uint32_t header_crc, version;
  std::memcpy(&header_crc, bytes.data() + kHeaderSize - 4, 4);
  if (Crc32c(0, bytes.data(), kHeaderSize - 4) != header_crc) {
    return absl::DataLossError(absl::StrCat(name, ": header checksum mismatch (corrupt file)"));
  }
  std::memcpy(&version, bytes.data() + 8, 4);
  if (version != 1 && version != kModelFormatVersion) {
    return absl::FailedPreconditionError(absl::StrCat(name, ": model format version ", version,
                                                      " is not supported (this build reads versions 1 and ",
                                                      kModelFormatVersion, ")"));
  }
  return version;
}

}  // namespace

absl::Status WriteModel(const Model& model, const std::string& path) {
  if (absl::Status s = model.Validate(); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("refusing to write model: ", s.message()));
  }
  const uint64_t nc = model.customers.size();
  const uint64_t np = model.products.size();
  const uint32_t k = model.num_factors();
  const FactorView users = model.users(), items = model.items();

  const std::string meta = model.metadata.dump();
  const std::string cids = EncodeIdTable(model.customers);
  const std::string pids = EncodeIdTable(model.products);
  std::string purc_head;
  Put<uint64_t>(&purc_head, model.purchased.nnz());
  std::vector<Section> sections = {
      {kMeta, {Bytes(meta.data(), meta.size())}},
      {kCustomerIds, {Bytes(cids.data(), cids.size())}},
      {kProductIds, {Bytes(pids.data(), pids.size())}},
      {kUserFactors, {Bytes(users.data(), nc * k)}},
      {kItemFactors, {Bytes(items.data(), np * k)}},
      {kPurchased,
       {Bytes(purc_head.data(), purc_head.size()),
        Bytes(model.purchased.indptr.data(), model.purchased.indptr.size()),
        Bytes(model.purchased.indices.data(), model.purchased.indices.size())}},
      {kPopularity, {Bytes(model.item_popularity.data(), np)}},
  };
  std::string iclu, sclu;
  if (!model.item_clusters.empty()) {
    iclu = EncodeClusters(model.item_clusters);
    sections.push_back({kItemClusters, {Bytes(iclu.data(), iclu.size())}});
  }
  if (!model.similar_clusters.empty()) {
    sclu = EncodeClusters(model.similar_clusters);
    sections.push_back({kSimilarClusters, {Bytes(sclu.data(), sclu.size())}});
  }
  std::string phis;
  if (!model.history.empty()) {
    phis = EncodeHistory(model.history);
    sections.push_back({kHistory, {Bytes(phis.data(), phis.size())}});
  }
  std::string nbrs;
  if (!model.neighbours.empty()) {
    nbrs = EncodeNeighbours(model.neighbours);
    sections.push_back({kNeighbours, {Bytes(nbrs.data(), nbrs.size())}});
  }
  std::string iwgt;
  if (!model.item_weights.empty()) {
    iwgt = EncodeNeighbours(model.item_weights);
    sections.push_back({kItemWeights, {Bytes(iwgt.data(), iwgt.size())}});
  }

  // Layout: header, section table, then each section at a 64-byte boundary.
  std::vector<Entry> entries(sections.size());
  uint64_t cursor = kHeaderSize + sections.size() * kEntrySize;
  for (size_t i = 0; i < sections.size(); ++i) {
    Entry& e = entries[i];
    e.tag = sections[i].tag;
    e.offset = AlignUp(cursor);
    e.length = sections[i].length();
    // The CRC of the CRCs of each 64 MB chunk (so readers check chunks in parallel).
    uint32_t crc = 0;
    uint64_t done = 0;
    std::vector<absl::Span<const char>> parts = sections[i].parts;
    size_t part = 0, in_part = 0;
    do {
      const uint64_t chunk_end = std::min(e.length, done + kCrcChunk);
      uint32_t c = 0;
      while (done < chunk_end) {
        const uint64_t n = std::min<uint64_t>(parts[part].size() - in_part, chunk_end - done);
        c = Crc32c(c, parts[part].data() + in_part, n);
        done += n;
        in_part += n;
        if (in_part == parts[part].size()) {
          ++part;
          in_part = 0;
        }
      }
      crc = Crc32c(crc, &c, sizeof(c));
    } while (done < e.length);
    e.crc = crc;
    cursor = e.offset + e.length;
  }
  std::string table;
  for (const Entry& e : entries) {
    Put<uint32_t>(&table, e.tag);
    Put<uint32_t>(&table, 0);
    Put<uint64_t>(&table, e.offset);
    Put<uint64_t>(&table, e.length);
    Put<uint32_t>(&table, e.crc);
    Put<uint32_t>(&table, 0);
  }
  std::string header;
  header.append(kMagic, sizeof(kMagic));
  Put<uint32_t>(&header, kModelFormatVersion);
  Put<uint32_t>(&header, kHeaderSize);
  Put<uint64_t>(&header, nc);
  Put<uint64_t>(&header, np);
  Put<uint32_t>(&header, k);
  Put<uint32_t>(&header, static_cast<uint32_t>(sections.size()));
  Put<uint64_t>(&header, cursor);  // the file's size
  Put<uint32_t>(&header, Crc32c(0, table.data(), table.size()));
  Put<uint64_t>(&header, 0);
  Put<uint32_t>(&header, Crc32c(0, header.data(), header.size()));

  AtomicFileWriter w;
  if (absl::Status s = w.Open(path); !s.ok()) return s;
  if (absl::Status s = w.Append(header); !s.ok()) return s;
  if (absl::Status s = w.Append(table); !s.ok()) return s;
  static constexpr char kZeros[kAlign] = {};
  uint64_t at = kHeaderSize + table.size();
  for (size_t i = 0; i < sections.size(); ++i) {
    if (absl::Status s = w.Append(kZeros, entries[i].offset - at); !s.ok()) return s;
    for (auto p : sections[i].parts) {
      if (absl::Status s = w.Append(p.data(), p.size()); !s.ok()) return s;
    }
    at = entries[i].offset + entries[i].length;
  }
  return w.Commit();
}

absl::StatusOr<Model> ParseModel(absl::string_view bytes, const std::string& name) {
  auto version = CheckHeader(bytes, name);
  if (!version.ok()) return version.status();
  if (*version == 1) return ParseModelV1(bytes, name);
  return ParseModelV2(bytes, name, nullptr, nullptr);
}

absl::StatusOr<Model> ReadModel(const std::string& path) {
  auto file = MappedFile::Open(path, /*guard=*/true);
  if (!file.ok()) return file.status();
  return ParseModel(file->data(), path);
}

absl::StatusOr<Model> MapModel(const std::string& path, const std::atomic<bool>* cancel) {
  // Not populated up front (that one system call cannot be cancelled): the
  // checksum pass, in chunks on all threads, reads the pages in.
  auto file = MappedFile::Open(path, /*guard=*/true, MappedFile::Access::kWillNeed);
  if (!file.ok()) return file.status();
  auto mapping = std::make_shared<const MappedFile>(*std::move(file));
  const absl::string_view bytes = mapping->data();
  auto version = CheckHeader(bytes, path);
  if (!version.ok()) return version.status();
  if (*version == 1) return ParseModelV1(bytes, path);  // the old layout cannot be mapped: copied
  auto m = ParseModelV2(bytes, path, mapping, cancel);
  if (!m.ok()) return m.status();
  // Everything but the factors was copied: let those pages go.
  mapping->DropPagesOutside({{m->mapped_users, static_cast<size_t>(m->users().size()) * sizeof(float)},
                              {m->mapped_items, static_cast<size_t>(m->items().size()) * sizeof(float)}});
  return m;
}

}  // namespace aisle

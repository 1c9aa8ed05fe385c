#include "engine/model_io.h"

#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "engine/atomic_file.h"
#include "engine/checksum.h"
#include "engine/json_text.h"

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

absl::Status WriteModel(const Model& model, const std::string& path) {
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
  Put<uint32_t>(&header, kModelFormatVersion);
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

absl::StatusOr<Model> ReadModel(const std::string& path) {
  // Read, not mapped: a file overwritten in place while it is read (cp over
  // the served file) then fails its checksum instead of raising SIGBUS, and
  // nothing loaded depends on the file afterwards.
  std::string bytes;
  if (absl::Status s = ReadFileToString(path, &bytes); !s.ok()) return s;
  return ParseModel(bytes, path);
}

absl::StatusOr<Model> ParseModel(absl::string_view bytes, const std::string& name) {
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
  if (version != kModelFormatVersion) {
    return absl::FailedPreconditionError(absl::StrCat(name, ": model format version ", version,
                                                      " is not supported (this build reads version ",
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

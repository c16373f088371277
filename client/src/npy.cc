// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: npy.cc
// -----------------------------------------------------------------------------
// NumPy .npy files: headers (parsed with py_literal.cc, dtypes converted by
// dtype.cc) and chunked readers and writers so that big files are never
// held twice.

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <istream>
#include <memory>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "npy_internal.h"
#include "shmarray/shm/any_view.h"
#include "shmarray/shm/copy.h"
#include "shmarray/shm/errors.h"
#include "shmarray/shm/format.h"
#include "shmarray/shm/layout.h"
#include "utf8.h"

namespace shmarray::client {
namespace internal {

[[noreturn]] void Fail(const std::string& message) { throw NpyError(message); }

std::string Quote(std::string_view s) {
  std::string out = "'";
  for (char c : s.substr(0, 80)) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  if (s.size() > 80) out += "...";
  return out + "'";
}

}  // namespace internal

namespace {

using internal::DecodeUtf8;
using internal::DescrValueToFormat;
using internal::Fail;
using internal::Latin1ToUtf8;
using internal::ParseFormatOrFail;
using internal::ParsePyLiteral;
using internal::PyValue;
using internal::Quote;
using internal::Utf8ToLatin1;

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicBytes = 6;
constexpr int64_t kArrayAlign = 64;
// np.save leaves room after the header so that a growing axis can be
// rewritten in place (numpy.lib.format.GROWTH_AXIS_MAX_DIGITS).
constexpr size_t kGrowthAxisMaxDigits = 21;

struct DecodedHeader {
  int major = 1;
  int64_t header_bytes = 0;
  std::string text;  // UTF-8
};

NpyHeader HeaderFromText(const DecodedHeader& decoded) {
  const PyValue dict = ParsePyLiteral(decoded.text);
  if (dict.kind != PyValue::Kind::kDict) Fail("invalid header: not a dict literal");
  const PyValue* descr = nullptr;
  const PyValue* fortran = nullptr;
  const PyValue* shape = nullptr;
  for (size_t i = 0; i < dict.items.size(); i += 2) {
    const PyValue& key = dict.items[i];
    if (key.kind != PyValue::Kind::kStr) Fail("invalid header: a key is not a string");
    const PyValue** slot = key.str == "descr"           ? &descr
                           : key.str == "fortran_order" ? &fortran
                           : key.str == "shape"         ? &shape
                                                        : nullptr;
    if (slot == nullptr) Fail("invalid header: unexpected key " + Quote(key.str));
    if (*slot != nullptr) Fail("invalid header: duplicate key " + Quote(key.str));
    *slot = &dict.items[i + 1];
  }
  if (descr == nullptr || fortran == nullptr || shape == nullptr) {
    Fail("invalid header: it must have the keys 'descr', 'fortran_order' and 'shape'");
  }
  NpyHeader h;
  h.major_version = decoded.major;
  h.minor_version = 0;
  h.header_bytes = decoded.header_bytes;
  if (fortran->kind != PyValue::Kind::kBool) {
    Fail("invalid header: 'fortran_order' must be True or False");
  }
  h.fortran_order = fortran->boolean;
  if (shape->kind != PyValue::Kind::kTuple) Fail("invalid header: 'shape' must be a tuple");
  if (shape->items.size() > static_cast<size_t>(shm::kMaxDims)) {
    Fail("invalid header: shape has " + std::to_string(shape->items.size()) +
         " axes, more than the maximum of " + std::to_string(shm::kMaxDims));
  }
  for (const PyValue& e : shape->items) {
    if (e.kind != PyValue::Kind::kInt) Fail("invalid header: 'shape' must hold integers");
    if (e.integer < 0) {
      Fail("invalid header: negative extent " + std::to_string(e.integer) + " in 'shape'");
    }
    h.shape.push_back(e.integer);
  }
  h.descr = decoded.text.substr(descr->begin, descr->end - descr->begin);
  const std::string format_text = DescrValueToFormat(*descr, 0);
  h.format = ParseFormatOrFail(format_text, h.descr);
  h.itemsize = h.format.itemsize();
  int64_t bytes = h.itemsize;
  for (int64_t e : h.shape) {
    if (__builtin_mul_overflow(bytes, e, &bytes)) {
      Fail("invalid header: shape " + shm::TupleString(h.shape) + " of " +
           std::to_string(h.itemsize) + "-byte items overflows 64 bits");
    }
  }
  h.data_bytes = bytes;
  return h;
}

// Reads exactly n bytes or reports how many were available.
template <typename ReadFn>
NpyHeader ReadHeaderWith(ReadFn&& read) {
  char prefix[8];
  size_t got = read(prefix, 8);
  if (got < kMagicBytes || std::memcmp(prefix, kMagic, kMagicBytes) != 0) {
    if (got == 0) Fail("not a NumPy .npy file (the file is empty)");
    Fail("not a NumPy .npy file (bad magic string)");
  }
  if (got < 8) Fail("truncated header: the file ends inside the version number");
  const int major = static_cast<unsigned char>(prefix[6]);
  const int minor = static_cast<unsigned char>(prefix[7]);
  if ((major != 1 && major != 2 && major != 3) || minor != 0) {
    Fail("unsupported .npy format version " + std::to_string(major) + "." + std::to_string(minor) +
         " (supported: 1.0, 2.0, 3.0)");
  }
  const size_t len_bytes = major == 1 ? 2 : 4;
  unsigned char len_buf[4] = {0, 0, 0, 0};
  if (read(reinterpret_cast<char*>(len_buf), len_bytes) != len_bytes) {
    Fail("truncated header: the file ends inside the header length");
  }
  uint64_t header_len = 0;
  for (size_t i = len_bytes; i-- > 0;) header_len = (header_len << 8) | len_buf[i];
  if (header_len > static_cast<uint64_t>(kMaxNpyHeaderBytes)) {
    Fail("header of " + std::to_string(header_len) + " bytes is longer than the limit of " +
         std::to_string(kMaxNpyHeaderBytes) + " bytes");
  }
  std::string raw(header_len, '\0');
  const size_t raw_got = read(raw.data(), header_len);
  if (raw_got != header_len) {
    Fail("truncated header: it declares " + std::to_string(header_len) + " bytes but only " +
         std::to_string(raw_got) + " follow");
  }
  DecodedHeader decoded;
  decoded.major = major;
  decoded.header_bytes = static_cast<int64_t>(8 + len_bytes + header_len);
  if (major == 3) {
    std::vector<uint32_t> cps;
    if (!DecodeUtf8(raw, &cps)) Fail("invalid header: version 3.0 header is not valid UTF-8");
    decoded.text = std::move(raw);
  } else {
    decoded.text = Latin1ToUtf8(raw);
  }
  if (decoded.text.find('\0') != std::string::npos) Fail("invalid header: it contains a NUL byte");
  return HeaderFromText(decoded);
}

std::string WrapHeader(const std::string& encoded, int major) {
  const int64_t prefix = major == 1 ? 10 : 12;
  const int64_t hlen = static_cast<int64_t>(encoded.size()) + 1;
  const int64_t padlen = kArrayAlign - ((prefix + hlen) % kArrayAlign);
  const uint64_t total = static_cast<uint64_t>(hlen + padlen);
  std::string out(kMagic, kMagicBytes);
  out.push_back(static_cast<char>(major));
  out.push_back('\0');
  for (int i = 0; i < (major == 1 ? 2 : 4); ++i)
    out.push_back(static_cast<char>((total >> (8 * i)) & 0xFF));
  out += encoded;
  out.append(static_cast<size_t>(padlen), ' ');
  out.push_back('\n');
  return out;
}

std::string WithPath(const std::string& path, const char* what) { return path + ": " + what; }

std::string ErrnoText() { return std::strerror(errno); }

}  // namespace

std::string MakeNpyHeader(const shm::Format& format, int64_t itemsize,
                          std::span<const int64_t> shape, shm::Order order) {
  if (shape.size() > static_cast<size_t>(shm::kMaxDims)) {
    Fail("shape has more than " + std::to_string(shm::kMaxDims) + " axes");
  }
  if (itemsize == 0) itemsize = format.itemsize();
  int64_t bytes = itemsize;
  for (int64_t e : shape) {
    if (e < 0) Fail("negative extent " + std::to_string(e) + " in the shape");
    if (__builtin_mul_overflow(bytes, e, &bytes)) Fail("the shape overflows 64 bits");
  }
  const bool fortran = order == shm::Order::kF;
  const std::vector<int64_t> shape_vec(shape.begin(), shape.end());
  std::string text = "{'descr': " + FormatToDescr(format, itemsize) +
                     ", 'fortran_order': " + (fortran ? "True" : "False") +
                     ", 'shape': " + shm::TupleString(shape_vec) + ", }";
  if (!shape.empty()) {
    const size_t digits = std::to_string(shape[fortran ? shape.size() - 1 : 0]).size();
    if (digits < kGrowthAxisMaxDigits) text.append(kGrowthAxisMaxDigits - digits, ' ');
  }
  std::string latin1;
  if (Utf8ToLatin1(text, &latin1)) {
    // Version 1.0 stores hlen + padlen in 16 bits; 2.0 in 32 bits.
    std::string v1 = WrapHeader(latin1, 1);
    if (v1.size() - 10 <= 65535) return v1;
    return WrapHeader(latin1, 2);
  }
  return WrapHeader(text, 3);
}

NpyHeader ReadNpyHeader(std::istream& in) {
  return ReadHeaderWith([&in](char* buf, size_t n) -> size_t {
    in.read(buf, static_cast<std::streamsize>(n));
    return static_cast<size_t>(in.gcount());
  });
}

NpyHeader ParseNpyHeader(std::string_view bytes) {
  size_t pos = 0;
  return ReadHeaderWith([&](char* buf, size_t n) -> size_t {
    const size_t k = std::min(n, bytes.size() - pos);
    std::memcpy(buf, bytes.data() + pos, k);
    pos += k;
    return k;
  });
}

// ---------------------------------------------------------------------------
// NpyReader

NpyReader NpyReader::Open(const std::string& path) {
  NpyReader r;
  r.path_ = path;
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) Fail(WithPath(path, "is a directory"));
  r.in_ = std::make_unique<std::ifstream>(path, std::ios::binary);
  if (!*r.in_) Fail(path + ": cannot open: " + ErrnoText());
  try {
    r.header_ = ReadNpyHeader(*r.in_);
  } catch (const NpyError& e) {
    Fail(path + ": " + e.what());
  }
  const uintmax_t file_size = std::filesystem::file_size(path, ec);
  if (!ec) {
    const uintmax_t available = file_size - static_cast<uintmax_t>(r.header_.header_bytes);
    if (available < static_cast<uintmax_t>(r.header_.data_bytes)) {
      Fail(path + ": file is truncated: the header declares " +
           std::to_string(r.header_.data_bytes) + " data bytes but only " +
           std::to_string(available) + " follow");
    }
  }
  r.remaining_bytes_ = r.header_.data_bytes;
  return r;
}

NpyReader::NpyReader(NpyReader&&) noexcept = default;
NpyReader& NpyReader::operator=(NpyReader&&) noexcept = default;
NpyReader::~NpyReader() = default;

int64_t NpyReader::Read(std::span<std::byte> out) {
  const int64_t want = std::min<int64_t>(static_cast<int64_t>(out.size()), remaining_bytes_);
  if (want <= 0) return 0;
  in_->read(reinterpret_cast<char*>(out.data()), want);
  const int64_t got = in_->gcount();
  if (got != want) {
    const int64_t read_so_far = header_.data_bytes - remaining_bytes_ + got;
    Fail(path_ + ": file is truncated: the header declares " + std::to_string(header_.data_bytes) +
         " data bytes but only " + std::to_string(read_so_far) + " follow");
  }
  remaining_bytes_ -= got;
  return got;
}

// ---------------------------------------------------------------------------
// NpyWriter

NpyWriter NpyWriter::Create(const std::string& path, const shm::Format& format, int64_t itemsize,
                            std::span<const int64_t> shape, shm::Order order) {
  const std::string header = MakeNpyHeader(format, itemsize, shape, order);
  if (itemsize == 0) itemsize = format.itemsize();
  int64_t bytes = itemsize;
  for (int64_t e : shape) bytes *= e;  // checked by MakeNpyHeader
  NpyWriter w;
  w.path_ = path;
  w.out_ = std::make_unique<std::ofstream>(path, std::ios::binary | std::ios::trunc);
  if (!*w.out_) Fail(path + ": cannot create: " + ErrnoText());
  w.out_->write(header.data(), static_cast<std::streamsize>(header.size()));
  if (!*w.out_) {
    const std::string err = ErrnoText();
    w.Abandon();
    Fail(path + ": write failed: " + err);
  }
  w.remaining_bytes_ = bytes;
  return w;
}

NpyWriter::NpyWriter(NpyWriter&& other) noexcept
    : path_(std::move(other.path_)),
      out_(std::move(other.out_)),
      remaining_bytes_(other.remaining_bytes_) {}

NpyWriter& NpyWriter::operator=(NpyWriter&& other) noexcept {
  if (this != &other) {
    Abandon();
    path_ = std::move(other.path_);
    out_ = std::move(other.out_);
    remaining_bytes_ = other.remaining_bytes_;
  }
  return *this;
}

NpyWriter::~NpyWriter() { Abandon(); }

void NpyWriter::Abandon() noexcept {
  if (out_ != nullptr) {
    out_->close();
    out_.reset();
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
}

void NpyWriter::Write(std::span<const std::byte> data) {
  if (out_ == nullptr) Fail(path_ + ": write after commit");
  if (static_cast<int64_t>(data.size()) > remaining_bytes_) {
    Fail(path_ + ": " + std::to_string(data.size()) + " bytes given but only " +
         std::to_string(remaining_bytes_) + " data bytes remain");
  }
  out_->write(reinterpret_cast<const char*>(data.data()),
              static_cast<std::streamsize>(data.size()));
  if (!*out_) Fail(path_ + ": write failed: " + ErrnoText());
  remaining_bytes_ -= static_cast<int64_t>(data.size());
}

void NpyWriter::Commit() {
  if (out_ == nullptr) Fail(path_ + ": already committed");
  if (remaining_bytes_ != 0) {
    Abandon();
    Fail(path_ + ": incomplete data: " + std::to_string(remaining_bytes_) + " bytes missing");
  }
  out_->flush();
  out_->close();
  if (out_->fail()) {
    const std::string err = ErrnoText();
    Abandon();
    Fail(path_ + ": write failed: " + err);
  }
  out_.reset();
}

// ---------------------------------------------------------------------------

shm::AnyView ReadNpy(const std::string& path) {
  NpyReader reader = NpyReader::Open(path);
  const NpyHeader& h = reader.header();
  shm::AnyView out = shm::AnyView::Allocate(h.format, h.shape, h.order(), h.itemsize);
  std::byte* dst = out.first();
  int64_t done = 0;
  while (done < h.data_bytes) {
    const int64_t n = std::min(kNpyChunkBytes, h.data_bytes - done);
    reader.Read(std::span<std::byte>(dst + done, static_cast<size_t>(n)));
    done += n;
  }
  return out;
}

shm::AnyView MapNpy(const std::string& path) {
  NpyHeader h = NpyReader::Open(path).header();  // validates the header and the file size
  if (h.data_bytes == 0) return ReadNpy(path).AsReadOnly();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) Fail(path + ": cannot open: " + ErrnoText());
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const std::string err = ErrnoText();
    ::close(fd);
    Fail(path + ": cannot stat: " + err);
  }
  const int64_t needed = h.header_bytes + h.data_bytes;
  if (st.st_size < needed) {
    ::close(fd);
    Fail(path + ": file is truncated: the header declares " + std::to_string(h.data_bytes) +
         " data bytes but only " +
         std::to_string(std::max<int64_t>(0, st.st_size - h.header_bytes)) + " follow");
  }
  void* addr = ::mmap(nullptr, static_cast<size_t>(needed), PROT_READ, MAP_SHARED, fd, 0);
  const std::string err = ErrnoText();
  ::close(fd);
  if (addr == MAP_FAILED) Fail(path + ": cannot map: " + err);
  const size_t length = static_cast<size_t>(needed);
  std::shared_ptr<const void> base(
      addr, [length](const void* p) { ::munmap(const_cast<void*>(p), length); });
  auto* data = static_cast<std::byte*>(addr) + h.header_bytes;
  return shm::AnyView(h.format, h.layout(), data, /*readonly=*/true, std::move(base));
}

void WriteNpy(const std::string& path, const shm::AnyView& view, shm::Order order) {
  NpyWriter writer =
      NpyWriter::Create(path, view.format(), view.itemsize(), view.layout().shape, order);
  const int64_t total = view.nbytes();
  const bool contiguous = order == shm::Order::kC ? view.is_c_contig() : view.is_f_contig();
  if (contiguous) {
    // A contiguous layout starts at its lowest address (NumPy's flags imply
    // positive strides on every axis longer than 1).
    const std::byte* src = view.first();
    for (int64_t done = 0; done < total;) {
      const int64_t n = std::min(kNpyChunkBytes, total - done);
      writer.Write(std::span<const std::byte>(src + done, static_cast<size_t>(n)));
      done += n;
    }
  } else {
    std::vector<std::byte> buf(static_cast<size_t>(std::min(kNpyChunkBytes, total)));
    for (int64_t done = 0; done < total;) {
      const int64_t n = std::min(kNpyChunkBytes, total - done);
      shm::PackRange(view.layout(), view.data(), order, done, n, buf.data());
      writer.Write(std::span<const std::byte>(buf.data(), static_cast<size_t>(n)));
      done += n;
    }
  }
  writer.Commit();
}

}  // namespace shmarray::client

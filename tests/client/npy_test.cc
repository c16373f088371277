// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: npy_test.cc
// -----------------------------------------------------------------------------
// Tests of client/src/npy.cc: round trips of every dtype family and order
// through WriteNpy/ReadNpy/MapNpy and the streaming classes, descr <-> PEP
// 3118 conversions, hand-made headers of versions 1.0, 2.0 and 3.0, malformed
// files (each with its message), and a cross-check with NumPy
// (SHMARRAY_PYTHON3): files np.save wrote are read here, files written here
// are loaded by np.load, compared value by value and re-saved byte for byte.

#include "shmarray/client/npy.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "shmarray/shm/any_view.h"
#include "shmarray/shm/copy.h"
#include "shmarray/shm/format.h"
#include "shmarray/shm/index.h"
#include "shmarray/shm/layout.h"

namespace shmarray::client {
namespace {

using shm::AnyView;
using shm::Format;
using shm::Order;
using ::testing::HasSubstr;
using ::testing::StartsWith;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = ::testing::TempDir() + "npy_test.XXXXXX";
    char* p = mkdtemp(tmpl.data());
    EXPECT_NE(p, nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good());
}

// The items of `v` packed in C order.
std::string CBytes(const AnyView& v) {
  std::string out(static_cast<size_t>(v.nbytes()), '\0');
  shm::PackBytes(v.layout(), v.data(), Order::kC, reinterpret_cast<std::byte*>(out.data()));
  return out;
}

// A fresh array of `format` with pseudo-random bytes (0/1 for bools).
AnyView RandomArray(const std::string& format, std::vector<int64_t> shape, Order order,
                    uint32_t seed) {
  const Format f = Format::Parse(format);
  AnyView a = AnyView::Allocate(f, shape, order);
  std::mt19937 rng(seed);
  const bool is_bool = f.canonical() == "<?";
  for (int64_t i = 0; i < a.nbytes(); ++i) {
    a.first()[i] = static_cast<std::byte>(is_bool ? rng() % 2 : rng() % 256);
  }
  return a;
}

// magic + version + little-endian length + `dict`, as a hand-made header.
std::string Header(int major, const std::string& dict) {
  std::string out = std::string("\x93NUMPY", 6);
  out.push_back(static_cast<char>(major));
  out.push_back('\0');
  const uint32_t len = static_cast<uint32_t>(dict.size());
  for (int i = 0; i < (major == 1 ? 2 : 4); ++i) out.push_back(static_cast<char>(len >> (8 * i)));
  return out + dict;
}

std::string Dict(const std::string& descr, const std::string& shape, bool fortran = false) {
  return "{'descr': " + descr + ", 'fortran_order': " + (fortran ? "True" : "False") +
         ", 'shape': " + shape + ", }\n";
}

// ---------------------------------------------------------------------------
// descr <-> format

TEST(NpyDescrTest, SimpleDescrsToCanonicalFormats) {
  EXPECT_EQ(DescrToFormat("'<f8'"), "<d");
  EXPECT_EQ(DescrToFormat("'>f8'"), ">d");
  EXPECT_EQ(DescrToFormat("'|u1'"), "<B");
  EXPECT_EQ(DescrToFormat("'|i1'"), "<b");
  EXPECT_EQ(DescrToFormat("'>i4'"), ">i");
  EXPECT_EQ(DescrToFormat("'<i8'"), "<q");
  EXPECT_EQ(DescrToFormat("'<u2'"), "<H");
  EXPECT_EQ(DescrToFormat("'<c8'"), "<Zf");
  EXPECT_EQ(DescrToFormat("'<c16'"), "<Zd");
  EXPECT_EQ(DescrToFormat("'<c32'"), "<Zg");
  EXPECT_EQ(DescrToFormat("'<f16'"), "<g");
  EXPECT_EQ(DescrToFormat("'|b1'"), "<?");
  EXPECT_EQ(DescrToFormat("'<f2'"), "<e");
  EXPECT_EQ(DescrToFormat("'|S10'"), "<10s");
  EXPECT_EQ(DescrToFormat("'|V8'"), "T{8x}");
  EXPECT_EQ(DescrToFormat("\"=f4\""), "<f");
  EXPECT_EQ(DescrToFormat("'f8'"), "<d");
}

TEST(NpyDescrTest, StructDescrsToCanonicalFormats) {
  EXPECT_EQ(DescrToFormat("[('x', '<f8'), ('y', '<i4', (2, 3))]"), "T{<d:x:(2,3)<i:y:}");
  EXPECT_EQ(DescrToFormat("[('a', '|i1'), ('', '|V7'), ('b', '<i8')]"), "T{<b:a:7x<q:b:}");
  EXPECT_EQ(DescrToFormat("[('a', '<i2'), ('s', [('b', '>f4'), ('c', '|u1', (2,))])]"),
            "T{<h:a:T{>f:b:(2)<B:c:}:s:}");
  EXPECT_EQ(DescrToFormat("[('s', [('b', '<f4')], (3,))]"), "T{(3)T{<f:b:}:s:}");
  EXPECT_EQ(DescrToFormat("[('', '<f8'), ('', '<i4')]"), "T{<d:f0:<i:f1:}");
  EXPECT_EQ(DescrToFormat("[(('Title', 'x'), '<f8')]"), "T{<d:x:}");
  EXPECT_EQ(DescrToFormat("[('raw', '|V4'), ('v', '<i4', 2)]"), "T{4x:raw:(2)<i:v:}");
  EXPECT_EQ(DescrToFormat("('<f8', (2, 3))"), "(2,3)<d");
}

TEST(NpyDescrTest, FormatsToDescrsAsNumPyWritesThem) {
  EXPECT_EQ(FormatToDescr(Format::Parse("d")), "'<f8'");
  EXPECT_EQ(FormatToDescr(Format::Parse("!i")), "'>i4'");
  EXPECT_EQ(FormatToDescr(Format::Parse("l")), "'<i8'");
  EXPECT_EQ(FormatToDescr(Format::Parse("B")), "'|u1'");
  EXPECT_EQ(FormatToDescr(Format::Parse("?")), "'|b1'");
  EXPECT_EQ(FormatToDescr(Format::Parse("e")), "'<f2'");
  EXPECT_EQ(FormatToDescr(Format::Parse("g")), "'<f16'");
  EXPECT_EQ(FormatToDescr(Format::Parse("Zf")), "'<c8'");
  EXPECT_EQ(FormatToDescr(Format::Parse("10s")), "'|S10'");
  EXPECT_EQ(FormatToDescr(Format::Parse("c")), "'|S1'");
  EXPECT_EQ(FormatToDescr(Format::Parse("8x")), "'|V8'");
  EXPECT_EQ(FormatToDescr(Format::Parse("T{d:x:(2,3)i:y:}")),
            "[('x', '<f8'), ('y', '<i4', (2, 3))]");
  EXPECT_EQ(FormatToDescr(Format::Parse("T{b:a:xxxxxxxl:b:}")),
            "[('a', '|i1'), ('', '|V7'), ('b', '<i8')]");
  EXPECT_EQ(FormatToDescr(Format::Parse("T{h:a:T{>f:b:(2)B:c:}:s:}")),
            "[('a', '<i2'), ('s', [('b', '>f4'), ('c', '|u1', (2,))])]");
  EXPECT_EQ(FormatToDescr(Format::Parse("ii")), "[('f0', '<i4'), ('f1', '<i4')]");
  EXPECT_EQ(FormatToDescr(Format::Parse("3i")), "[('f0', '<i4', (3,))]");
  // Found by npy_header_fuzzer (fuzz/corpus/npy_header_fuzzer/crash-baec186c...):
  // a top-level sub-array read back from its descr is the one-field struct
  // (np.load keeps the array's shape), not the sub-array again.
  EXPECT_EQ(DescrToFormat(FormatToDescr(Format::Parse(DescrToFormat("'2b1'")))), "T{(2)<?:f0:}");
  EXPECT_EQ(FormatToDescr(Format::Parse("T{d:it's:}")), "[(\"it's\", '<f8')]");
  // Trailing padding from an itemsize larger than the format.
  EXPECT_EQ(FormatToDescr(Format::Parse("i"), 8), "[('f0', '<i4'), ('', '|V4')]");
  EXPECT_EQ(FormatToDescr(Format::Parse("T{d:x:}"), 16), "[('x', '<f8'), ('', '|V8')]");
  // Unnamed fields take the first f<j> no field of the struct has, as
  // NumPy's _dtype_from_pep3118 names them (padding does not count); checked
  // against NumPy itself in dtype_test.cc.
  EXPECT_EQ(FormatToDescr(Format::Parse("bi")), "[('f0', '|i1'), ('', '|V3'), ('f1', '<i4')]");
  EXPECT_EQ(FormatToDescr(Format::Parse("T{<i<i:f0:}")), "[('f1', '<i4'), ('f0', '<i4')]");
  EXPECT_EQ(FormatToDescr(Format::Parse("T{<b3x<i:f0:<i}")),
            "[('f1', '|i1'), ('', '|V3'), ('f0', '<i4'), ('f2', '<i4')]");
  EXPECT_EQ(FormatToDescr(Format::Parse("T{<i4x:a:<i}")),
            "[('f0', '<i4'), ('a', '|V4'), ('f1', '<i4')]");
}

TEST(NpyDescrTest, EveryConversionRoundTrips) {
  for (const char* f :
       {"<d", ">i", "<10s", "T{<d:x:(2,3)<i:y:}", "T{<b:a:7x<q:b:}", "T{<h:a:T{>f:b:(2)<B:c:}:s:}",
        "T{8x}", "T{4x:raw:(2)<i:v:}", "<Zg", "T{(3)T{<f:b:}:s:}", "<?", ">e", "<Q"}) {
    SCOPED_TRACE(f);
    EXPECT_EQ(DescrToFormat(FormatToDescr(Format::Parse(f))), f);
  }
}

TEST(NpyDescrTest, UnsupportedDtypesAndFormatsAreClearErrors) {
  auto descr_error = [](const std::string& d) {
    try {
      DescrToFormat(d);
    } catch (const NpyError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_THAT(descr_error("'|O'"), HasSubstr("unsupported dtype '|O': Python objects"));
  EXPECT_THAT(descr_error("'<M8[ns]'"), HasSubstr("datetime"));
  EXPECT_THAT(descr_error("'<m8[s]'"), HasSubstr("timedelta"));
  EXPECT_THAT(descr_error("'<U5'"), HasSubstr("unicode strings"));
  EXPECT_THAT(descr_error("'<f3'"), HasSubstr("no 3-byte type of kind 'f'"));
  EXPECT_THAT(descr_error("'<q8'"), HasSubstr("unknown type code 'q'"));
  EXPECT_THAT(descr_error("[]"), HasSubstr("a struct with no fields"));
  EXPECT_THAT(descr_error("[('a:b', '<f8')]"), HasSubstr("cannot contain ':'"));
  EXPECT_THAT(descr_error("[('a', '<f8'), ('a', '<f8')]"), HasSubstr("duplicate"));
  EXPECT_THROW(FormatToDescr(Format::Parse("5p")), NpyError);
  EXPECT_THROW(FormatToDescr(Format::Parse("d"), 4), NpyError);
}

// ---------------------------------------------------------------------------
// Round trips

struct RoundTripCase {
  const char* format;
  std::vector<int64_t> shape;
};

// Names each case by its format and shape in test listings (ctest shows them).
void PrintTo(const RoundTripCase& c, std::ostream* os) {
  *os << "'" << c.format << "' shape (";
  for (size_t i = 0; i < c.shape.size(); ++i) *os << (i ? ", " : "") << c.shape[i];
  *os << ")";
}

class NpyRoundTripTest : public ::testing::TestWithParam<RoundTripCase> {};

TEST_P(NpyRoundTripTest, WriteThenReadKeepsFormatShapeOrderAndBytes) {
  const RoundTripCase& c = GetParam();
  TempDir dir;
  for (Order order : {Order::kC, Order::kF}) {
    SCOPED_TRACE(order == Order::kC ? "C" : "F");
    const AnyView a = RandomArray(c.format, c.shape, order, 7);
    const std::string path = dir / "a.npy";
    WriteNpy(path, a, order);
    const std::string file = ReadFile(path);
    ASSERT_GE(file.size(), 64u);
    EXPECT_EQ(file[6], '\x01');
    const NpyHeader h = ParseNpyHeader(file);
    EXPECT_EQ(h.header_bytes % 64, 0);
    EXPECT_EQ(h.fortran_order, order == Order::kF);
    EXPECT_EQ(static_cast<int64_t>(file.size()), h.header_bytes + a.nbytes());

    const AnyView b = ReadNpy(path);
    EXPECT_EQ(FormatToDescr(b.format(), b.itemsize()), FormatToDescr(a.format(), a.itemsize()));
    if (std::string(c.format) != "c") {
      EXPECT_EQ(b.format().canonical(), a.format().canonical());
    }
    EXPECT_EQ(b.layout().shape, c.shape);
    EXPECT_EQ(b.itemsize(), a.itemsize());
    EXPECT_EQ(order == Order::kC ? b.is_c_contig() : b.is_f_contig(), true);
    EXPECT_FALSE(b.readonly());
    EXPECT_EQ(CBytes(b), CBytes(a));

    const AnyView m = MapNpy(path);
    EXPECT_TRUE(m.readonly());
    EXPECT_EQ(m.layout().shape, c.shape);
    EXPECT_EQ(CBytes(m), CBytes(a));
    // The data starts after the padded header: 64-byte aligned in the file.
    EXPECT_EQ((m.first() - static_cast<const std::byte*>(m.base().get())) % 64, 0);
  }
}

INSTANTIATE_TEST_SUITE_P(
    EveryFamily, NpyRoundTripTest,
    ::testing::Values(
        RoundTripCase{"?", {5, 3}}, RoundTripCase{"b", {4, 3}}, RoundTripCase{"B", {7}},
        RoundTripCase{"h", {2, 3, 4}}, RoundTripCase{"H", {3, 2}}, RoundTripCase{"i", {3, 4}},
        RoundTripCase{"I", {3, 4}}, RoundTripCase{"q", {2, 5}}, RoundTripCase{"Q", {5, 2}},
        RoundTripCase{">i", {3, 3}}, RoundTripCase{"e", {4, 4}}, RoundTripCase{"f", {2, 2, 2}},
        RoundTripCase{"d", {6, 5}}, RoundTripCase{">d", {2, 7}}, RoundTripCase{"g", {3, 2}},
        RoundTripCase{"Zf", {2, 3}}, RoundTripCase{"Zd", {3, 2}}, RoundTripCase{"Zg", {2, 2}},
        RoundTripCase{"10s", {3, 2}}, RoundTripCase{"c", {4, 2}}, RoundTripCase{"8x", {3, 2}},
        RoundTripCase{"d", {}}, RoundTripCase{"i", {0, 5}}, RoundTripCase{"d", {1, 1, 1}},
        RoundTripCase{"T{d:x:(2,3)i:y:}", {4, 3}}, RoundTripCase{"T{b:a:xxxxxxxl:b:}", {3, 5}},
        RoundTripCase{"T{h:a:T{>f:b:(2)B:c:}:s:}", {2, 3}},
        RoundTripCase{"T{(3)T{<f:b:}:s:8x:raw:}", {2, 2}}));

TEST(NpyWriteTest, StridedViewsArePacked) {
  TempDir dir;
  const AnyView a = RandomArray("i", {6, 8}, Order::kC, 3);
  const AnyView s = a.slice(shm::ParseIndex("1::2, ::-3"));
  ASSERT_FALSE(s.is_c_contig());
  for (Order order : {Order::kC, Order::kF}) {
    WriteNpy(dir / "s.npy", s, order);
    const AnyView b = ReadNpy(dir / "s.npy");
    EXPECT_EQ(b.layout().shape, (std::vector<int64_t>{3, 3}));
    EXPECT_EQ(order == Order::kF, ParseNpyHeader(ReadFile(dir / "s.npy")).fortran_order);
    EXPECT_EQ(CBytes(b), CBytes(s));
  }
}

TEST(NpyWriteTest, ItemsizeLargerThanFormatIsWrittenWithTrailingPadding) {
  TempDir dir;
  AnyView a = AnyView::Allocate(Format::Parse("i"), std::vector<int64_t>{3}, Order::kC, 8);
  for (int64_t i = 0; i < a.nbytes(); ++i) a.first()[i] = static_cast<std::byte>(i);
  WriteNpy(dir / "p.npy", a);
  const NpyHeader h = ParseNpyHeader(ReadFile(dir / "p.npy"));
  EXPECT_EQ(h.descr, "[('f0', '<i4'), ('', '|V4')]");
  EXPECT_EQ(h.itemsize, 8);
  EXPECT_EQ(CBytes(ReadNpy(dir / "p.npy")), CBytes(a));
}

TEST(NpyWriteTest, UnsupportedFormatLeavesNoFile) {
  TempDir dir;
  const AnyView a = AnyView::Allocate(Format::Parse("5p"), std::vector<int64_t>{2}, Order::kC);
  EXPECT_THROW(WriteNpy(dir / "p.npy", a), NpyError);
  EXPECT_FALSE(std::filesystem::exists(dir / "p.npy"));
}

TEST(NpyStreamTest, ReaderAndWriterWorkInChunks) {
  TempDir dir;
  const AnyView a = RandomArray("d", {100, 37}, Order::kF, 11);
  {
    const std::vector<int64_t> shape = {100, 37};
    NpyWriter w = NpyWriter::Create(dir / "w.npy", a.format(), 0, shape, Order::kF);
    EXPECT_EQ(w.remaining_bytes(), a.nbytes());
    const std::byte* p = a.first();
    for (int64_t done = 0; done < a.nbytes(); done += 1000) {
      const int64_t n = std::min<int64_t>(1000, a.nbytes() - done);
      w.Write(std::span<const std::byte>(p + done, static_cast<size_t>(n)));
    }
    EXPECT_THROW(w.Write(std::span<const std::byte>(p, 1)), NpyError);
    w.Commit();
  }
  NpyReader r = NpyReader::Open(dir / "w.npy");
  EXPECT_TRUE(r.header().fortran_order);
  std::string got;
  std::vector<std::byte> buf(777);
  while (int64_t n = r.Read(buf)) got.append(reinterpret_cast<const char*>(buf.data()), n);
  EXPECT_EQ(r.remaining_bytes(), 0);
  EXPECT_EQ(got, std::string(reinterpret_cast<const char*>(a.first()), a.nbytes()));
}

TEST(NpyStreamTest, UncommittedWriterRemovesItsFile) {
  TempDir dir;
  const std::vector<int64_t> shape = {4};
  {
    NpyWriter w = NpyWriter::Create(dir / "u.npy", Format::Parse("d"), 0, shape, Order::kC);
    EXPECT_TRUE(std::filesystem::exists(dir / "u.npy"));
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "u.npy"));
  NpyWriter w = NpyWriter::Create(dir / "v.npy", Format::Parse("d"), 0, shape, Order::kC);
  EXPECT_THAT([&] { w.Commit(); },
              ::testing::ThrowsMessage<NpyError>(HasSubstr("32 bytes missing")));
  EXPECT_FALSE(std::filesystem::exists(dir / "v.npy"));
}

// ---------------------------------------------------------------------------
// Hand-made headers of every version

TEST(NpyHeaderTest, Version1) {
  const NpyHeader h =
      ParseNpyHeader(Header(1, "{'descr': '<i4', 'fortran_order': True, 'shape': (2, 3), }   \n"));
  EXPECT_EQ(h.major_version, 1);
  EXPECT_EQ(h.minor_version, 0);
  EXPECT_EQ(h.descr, "'<i4'");
  EXPECT_EQ(h.format.canonical(), "<i");
  EXPECT_EQ(h.itemsize, 4);
  EXPECT_EQ(h.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_TRUE(h.fortran_order);
  EXPECT_EQ(h.order(), Order::kF);
  EXPECT_EQ(h.data_bytes, 24);
  EXPECT_EQ(h.header_bytes, 10 + 62);
}

TEST(NpyHeaderTest, Version1Python2Spellings) {
  // Python 2 wrote longs with an L suffix and unicode names as u'...'.
  const NpyHeader h = ParseNpyHeader(
      Header(1, "{\"descr\": [(u'x', '<f8')], \"fortran_order\": False, \"shape\": (2L, 3L)}"));
  EXPECT_EQ(h.format.canonical(), "T{<d:x:}");
  EXPECT_EQ(h.shape, (std::vector<int64_t>{2, 3}));
}

TEST(NpyHeaderTest, Version1ZeroDimensionalAndLatin1Names) {
  const NpyHeader h = ParseNpyHeader(
      Header(1, "{'shape': (), 'descr': [('caf\xe9', '<f8')], 'fortran_order': False}"));
  EXPECT_TRUE(h.shape.empty());
  EXPECT_EQ(h.data_bytes, 8);
  EXPECT_EQ(h.format.canonical(), "T{<d:caf\xc3\xa9:}");  // latin-1 e-acute, as UTF-8
}

TEST(NpyHeaderTest, Version2) {
  const NpyHeader h = ParseNpyHeader(Header(2, Dict("'>f8'", "(5,)")));
  EXPECT_EQ(h.major_version, 2);
  EXPECT_EQ(h.format.canonical(), ">d");
  EXPECT_EQ(h.shape, (std::vector<int64_t>{5}));
  EXPECT_EQ(h.header_bytes, 12 + static_cast<int64_t>(Dict("'>f8'", "(5,)").size()));
}

TEST(NpyHeaderTest, Version3Utf8) {
  const NpyHeader h = ParseNpyHeader(
      Header(3, Dict("[('\xe6\xb8\xa9\xe5\xba\xa6', '<f4'), ('\\u00e9', '|u1')]", "(4,)")));
  EXPECT_EQ(h.major_version, 3);
  EXPECT_EQ(h.format.canonical(), "T{<f:\xe6\xb8\xa9\xe5\xba\xa6:<B:\xc3\xa9:}");
  EXPECT_EQ(h.itemsize, 5);
}

TEST(NpyHeaderTest, ReadFromStreamStopsAtTheData) {
  std::istringstream in(Header(1, Dict("'|u1'", "(3,)")) + "abc");
  const NpyHeader h = ReadNpyHeader(in);
  std::string rest(3, '\0');
  in.read(rest.data(), 3);
  EXPECT_EQ(rest, "abc");
  EXPECT_EQ(h.data_bytes, 3);
}

TEST(NpyHeaderTest, WriterPicksVersionsAsNumPy) {
  const std::vector<int64_t> shape = {3, 4};
  const std::string v1 = MakeNpyHeader(Format::Parse("d"), 0, shape, Order::kC);
  EXPECT_EQ(v1.size() % 64, 0u);
  EXPECT_EQ(v1[6], 1);
  EXPECT_EQ(v1.back(), '\n');
  EXPECT_THAT(v1.substr(10),
              StartsWith("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }   "));

  // Latin-1 names stay in version 1.0 (encoded as latin-1).
  const std::string latin = MakeNpyHeader(Format::Parse("T{d:caf\xc3\xa9:}"), 0, shape, Order::kC);
  EXPECT_EQ(latin[6], 1);
  EXPECT_THAT(latin, HasSubstr("'caf\xe9'"));
  EXPECT_EQ(ParseNpyHeader(latin).format.canonical(), "T{<d:caf\xc3\xa9:}");

  // Other names need UTF-8: version 3.0.
  const std::string v3 = MakeNpyHeader(Format::Parse("T{d:\xe6\xb8\xa9:}"), 0, shape, Order::kF);
  EXPECT_EQ(v3[6], 3);
  EXPECT_EQ(v3.size() % 64, 0u);
  EXPECT_EQ(ParseNpyHeader(v3).format.canonical(), "T{<d:\xe6\xb8\xa9:}");

  // More than 65535 bytes of header: version 2.0.
  std::string big = "T{";
  for (int i = 0; i < 2200; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "abcdefghijklmnop%04d", i);
    big += std::string("d:") + name + ":";
  }
  big += "}";
  const std::string v2 = MakeNpyHeader(Format::Parse(big), 0, shape, Order::kC);
  EXPECT_EQ(v2[6], 2);
  EXPECT_GT(v2.size(), 65536u);
  EXPECT_EQ(v2.size() % 64, 0u);
  const NpyHeader h = ParseNpyHeader(v2);
  EXPECT_EQ(h.itemsize, 2200 * 8);
  EXPECT_EQ(h.header_bytes, static_cast<int64_t>(v2.size()));
}

// ---------------------------------------------------------------------------
// Malformed files: each gives a clear error naming the file.

struct MalformedCase {
  const char* label;
  std::string bytes;
  const char* message;
};

std::vector<MalformedCase> MalformedCases() {
  std::string nested = "{'descr': ";
  for (int i = 0; i < 100; ++i) nested += "[";
  std::string shape33 = "(";
  for (int i = 0; i < 33; ++i) shape33 += "1, ";
  shape33 += ")";
  std::string bad_v2 = Header(2, "");
  bad_v2[8] = '\0';
  bad_v2[9] = '\0';
  bad_v2[10] = '\0';
  bad_v2[11] = '\x40';  // 1 GiB header
  return {
      {"empty", "", "not a NumPy .npy file (the file is empty)"},
      {"bad_magic", "\x93NUMPZ\x01\x00\x10\x00{}", "bad magic string"},
      {"text_file", "hello world, this is not numpy", "bad magic string"},
      {"truncated_version", std::string("\x93NUMPY\x01", 7), "ends inside the version"},
      {"version_4", std::string("\x93NUMPY\x04\x00\x02\x00{}", 12),
       "unsupported .npy format version 4.0"},
      {"truncated_length", std::string("\x93NUMPY\x01\x00\x10", 9),
       "ends inside the header length"},
      {"truncated_header", Header(1, Dict("'<f8'", "(3,)")).substr(0, 30),
       "truncated header: it declares"},
      {"header_too_long", bad_v2, "longer than the limit of 1048576 bytes"},
      {"not_a_dict", Header(1, "[1, 2]"), "not a dict literal"},
      {"missing_key", Header(1, "{'descr': '<f8', 'fortran_order': False}"),
       "it must have the keys 'descr', 'fortran_order' and 'shape'"},
      {"extra_key", Header(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (), 'x': 1}"),
       "unexpected key 'x'"},
      {"duplicate_key",
       Header(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (), 'shape': ()}"),
       "duplicate key 'shape'"},
      {"missing_comma", Header(1, "{'descr': '<f8' 'fortran_order': False, 'shape': ()}"),
       "expected ',' or '}'"},
      {"code_injection", Header(1, "{'descr': __import__('os'), 'fortran_order': False}"),
       "unexpected character"},
      {"unterminated_string", Header(1, "{'descr': '<f8, 'fortran_order': False}"),
       "invalid header"},
      {"nested_too_deep", Header(1, nested), "nested too deeply"},
      {"bad_descr", Header(1, Dict("'<x8'", "(3,)")), "unknown type code 'x'"},
      {"object_descr", Header(1, Dict("'|O'", "(3,)")), "Python objects"},
      {"datetime_descr", Header(1, Dict("'<M8[ns]'", "(3,)")), "datetime"},
      {"unicode_descr", Header(1, Dict("'<U3'", "(3,)")), "unicode strings"},
      {"bad_field", Header(1, Dict("[1]", "(3,)")), "a struct field must be a tuple"},
      {"zero_subarray", Header(1, Dict("[('a', '<f8', (0,))]", "(3,)")),
       "sub-array extents must be positive"},
      {"fortran_not_bool", Header(1, "{'descr': '<f8', 'fortran_order': 'yes', 'shape': ()}"),
       "'fortran_order' must be True or False"},
      {"negative_shape", Header(1, Dict("'<f8'", "(3, -1)")), "negative extent -1 in 'shape'"},
      {"shape_list", Header(1, Dict("'<f8'", "[3, 4]")), "'shape' must be a tuple"},
      {"shape_int", Header(1, Dict("'<f8'", "(3)")), "'shape' must be a tuple"},
      {"shape_overflow", Header(1, Dict("'<f8'", "(1099511627776, 1099511627776)")),
       "overflows 64 bits"},
      {"shape_huge_int", Header(1, Dict("'<f8'", "(99999999999999999999,)")),
       "does not fit in 64 bits"},
      {"too_many_axes", Header(1, Dict("'<f8'", shape33)), "more than the maximum of 32"},
      {"bad_utf8_v3", Header(3, Dict("[('\xff\xfe', '<f8')]", "(1,)")), "not valid UTF-8"},
      {"nul_in_header", Header(1, std::string("{'descr': '<f8'\0", 16)), "NUL"},
      {"short_data", Header(1, Dict("'<f8'", "(3, 4)")) + std::string(10, 'x'),
       "file is truncated: the header declares 96 data bytes but only 10 follow"},
  };
}

TEST(NpyMalformedTest, EachFileGivesAClearError) {
  TempDir dir;
  int count = 0;
  for (const MalformedCase& c : MalformedCases()) {
    SCOPED_TRACE(c.label);
    const std::string path = dir / (std::string(c.label) + ".npy");
    WriteFile(path, c.bytes);
    std::string message = "no error";
    try {
      ReadNpy(path);
    } catch (const NpyError& e) {
      message = e.what();
    }
    EXPECT_THAT(message, StartsWith(path + ": "));
    EXPECT_THAT(message, HasSubstr(c.message));
    EXPECT_EQ(message.find('\n'), std::string::npos);
    EXPECT_THROW(MapNpy(path), NpyError);
    ++count;
  }
  EXPECT_GE(count, 15);
}

TEST(NpyMalformedTest, MissingFileAndDirectory) {
  TempDir dir;
  EXPECT_THAT([&] { ReadNpy(dir / "nope.npy"); },
              ::testing::ThrowsMessage<NpyError>(HasSubstr("No such file or directory")));
  EXPECT_THAT([&] { ReadNpy(dir.path()); },
              ::testing::ThrowsMessage<NpyError>(HasSubstr("is a directory")));
  EXPECT_THROW(WriteNpy(dir / "no/such/dir.npy",
                        AnyView::Allocate(Format::Parse("d"), std::vector<int64_t>{1}, Order::kC)),
               NpyError);
}

// ---------------------------------------------------------------------------
// NumPy cross-check

struct ProcessResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

ProcessResult RunProcess(const std::vector<std::string>& argv) {
  int fds[2];
  ProcessResult r;
  if (pipe2(fds, O_CLOEXEC) != 0) return r;
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(fds[1]);
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) r.output.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

constexpr char kNumPySaveScript[] = R"PY(
import os, sys
import numpy as np
d = sys.argv[1]
rng = np.random.default_rng(1)
arrays = {
  'f8': rng.random((3, 4)),
  'f4': rng.random((5,)).astype('<f4'),
  'f2': rng.random((2, 3)).astype('<f2'),
  'f16': np.arange(6, dtype=np.longdouble).reshape(2, 3) / 7,
  'c8': (rng.random((2, 2)) + 1j * rng.random((2, 2))).astype('<c8'),
  'c16': rng.random((3,)) + 1j,
  'c32': np.arange(4, dtype=np.clongdouble) * (1 + 2j),
  'i1': rng.integers(-128, 127, (4, 4), dtype='i1'),
  'i2': rng.integers(-1000, 1000, (3, 5), dtype='<i2'),
  'i4_be': rng.integers(-10**9, 10**9, (2, 3)).astype('>i4'),
  'i8': rng.integers(-10**18, 10**18, (7,), dtype='<i8'),
  'u1': rng.integers(0, 255, (3, 3), dtype='u1'),
  'u2': rng.integers(0, 65535, (2, 2), dtype='<u2'),
  'u4': rng.integers(0, 2**32 - 1, (3,), dtype='<u4'),
  'u8_be': rng.integers(0, 2**63, (2, 2), dtype='<u8').astype('>u8'),
  'f8_be': rng.random((2, 2)).astype('>f8'),
  'bool': rng.random((4, 3)) > 0.5,
  'bytes': np.array([b'hello', b'numpy', b'', b'0123456789'], dtype='S10'),
  'void': np.frombuffer(bytes(range(24)), dtype='V8'),
  'fortran': np.asfortranarray(rng.random((3, 4, 5))),
  'fortran_int': np.asfortranarray(rng.integers(0, 100, (6, 7), dtype='<i4')),
  'zero_d': np.array(3.5),
  'empty': np.zeros((0, 3)),
  'struct': np.array([(1.5, np.arange(6).reshape(2, 3)), (-2.0, -np.arange(6).reshape(2, 3))],
                     dtype=[('x', '<f8'), ('y', '<i4', (2, 3))]),
  'nested': np.zeros(3, dtype=[('a', '<i2'), ('s', [('b', '>f4'), ('c', 'u1', (2,))])]),
  'aligned': np.zeros(4, dtype=np.dtype([('a', 'i1'), ('b', '<i8')], align=True)),
  'struct_fortran': np.asfortranarray(np.zeros((3, 2), dtype=[('p', '<f4'), ('q', '<u2')])),
  'latin1_name': np.ones(2, dtype=[('caf\u00e9', '<f8')]),
  'utf8_name': np.ones(2, dtype=[('\u6e29\u5ea6', '<f4')]),
}
arrays['nested']['a'] = [1, 2, 3]
arrays['nested']['s']['b'] = [0.5, 1.5, 2.5]
arrays['aligned']['b'] = [10, 20, 30, 40]
arrays['struct_fortran']['p'] = rng.random((3, 2))
with open(os.path.join(d, 'manifest.txt'), 'w', encoding='utf-8') as m:
  for name, a in arrays.items():
    np.save(os.path.join(d, name + '.npy'), a)
    with open(os.path.join(d, name + '.bin'), 'wb') as f:
      f.write(a.tobytes(order='C'))
    try:
      fmt = memoryview(a).format
    except Exception:
      fmt = '-'
    fortran = int(a.flags.f_contiguous and not a.flags.c_contiguous)
    m.write('%s\t%s\t%d\n' % (name, fmt, fortran))
)PY";

TEST(NpyNumPyTest, ReadsWhatNumPySaves) {
  const std::string python = SHMARRAY_PYTHON3;
  if (python.empty()) GTEST_SKIP() << "no python3 with NumPy";
  TempDir dir;
  const ProcessResult r = RunProcess({python, "-c", kNumPySaveScript, dir.path()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::ifstream manifest(dir / "manifest.txt");
  std::string line;
  int count = 0;
  while (std::getline(manifest, line)) {
    std::istringstream fields(line);
    std::string name, fmt, fortran;
    std::getline(fields, name, '\t');
    std::getline(fields, fmt, '\t');
    std::getline(fields, fortran, '\t');
    SCOPED_TRACE(name);
    const std::string path = dir / (name + ".npy");
    AnyView a;
    ASSERT_NO_THROW(a = ReadNpy(path));
    EXPECT_EQ(CBytes(a), ReadFile(dir / (name + ".bin")));
    if (fortran == "1") {
      EXPECT_TRUE(a.is_f_contig());
    }
    EXPECT_EQ(ParseNpyHeader(ReadFile(path)).fortran_order, fortran == "1");
    if (fmt != "-") {
      // NumPy's own buffer format of the array means the same bytes.
      EXPECT_EQ(Format::Parse(fmt).canonical(), a.format().canonical());
    }
    EXPECT_EQ(CBytes(MapNpy(path)), CBytes(a));
    ++count;
  }
  EXPECT_EQ(count, 29);
}

constexpr char kNumPyLoadScript[] = R"PY(
import io, os, sys
import numpy as np
d = sys.argv[1]
failures = 0
for line in open(os.path.join(d, 'manifest.txt'), encoding='utf-8'):
  name, descr, fortran = line.rstrip('\n').split('\t')
  path = os.path.join(d, name + '.npy')
  try:
    a = np.load(path)
    raw = open(os.path.join(d, name + '.bin'), 'rb').read()
    assert a.tobytes(order='C') == raw, 'values differ'
    assert np.lib.format.dtype_to_descr(a.dtype) == eval(descr), 'dtype %r' % (a.dtype,)
    if fortran == '1' and a.ndim > 1 and a.size > 1:
      assert a.flags.f_contiguous and not a.flags.c_contiguous, 'not Fortran order'
    if not (fortran == '1' and a.flags.c_contiguous):
      b = io.BytesIO()
      np.save(b, a)
      assert b.getvalue() == open(path, 'rb').read(), 'np.save writes other bytes'
    print('ok', name)
  except Exception as e:
    failures += 1
    print('FAIL', name, e)
sys.exit(1 if failures else 0)
)PY";

TEST(NpyNumPyTest, NumPyLoadsWhatWeWrite) {
  const std::string python = SHMARRAY_PYTHON3;
  if (python.empty()) GTEST_SKIP() << "no python3 with NumPy";
  TempDir dir;
  struct Out {
    std::string name;
    AnyView view;
    Order order;
  };
  std::vector<Out> outs;
  uint32_t seed = 100;
  for (const char* f : {"?", "b", "B", "h",  "H", "i",  "I",  "q",  "Q",   ">i", ">Q",
                        "e", "f", "d", ">d", "g", "Zf", "Zd", "Zg", "10s", "c",  "8x"}) {
    const std::string base = std::string("t_") + std::to_string(seed);
    outs.push_back({base + "_c", RandomArray(f, {3, 4}, Order::kC, seed), Order::kC});
    outs.push_back({base + "_f", RandomArray(f, {3, 4}, Order::kF, seed + 1), Order::kF});
    seed += 2;
  }
  for (const char* f : {"T{d:x:(2,3)i:y:}", "T{b:a:xxxxxxxl:b:}", "T{h:a:T{>f:b:(2)B:c:}:s:}", "ii",
                        "(2,3)d", "T{d:caf\xc3\xa9:}", "T{f:\xe6\xb8\xa9\xe5\xba\xa6:}"}) {
    outs.push_back(
        {"s_" + std::to_string(seed), RandomArray(f, {2, 3}, Order::kC, seed), Order::kC});
    outs.push_back(
        {"sf_" + std::to_string(seed), RandomArray(f, {2, 3}, Order::kF, seed), Order::kF});
    ++seed;
  }
  const AnyView big = RandomArray("i", {10, 12}, Order::kC, 5);
  outs.push_back({"strided_c", big.slice(shm::ParseIndex("::3, 1::-2")), Order::kC});
  outs.push_back({"strided_f", big.slice(shm::ParseIndex("::-2, ::5")), Order::kF});
  outs.push_back({"zero_d", RandomArray("d", {}, Order::kC, 9), Order::kC});
  outs.push_back({"empty", RandomArray("d", {0, 4}, Order::kF, 9), Order::kF});
  outs.push_back({"padded",
                  AnyView::Allocate(Format::Parse("i"), std::vector<int64_t>{3}, Order::kC, 8),
                  Order::kC});

  std::ofstream manifest(dir / "manifest.txt");
  for (const Out& o : outs) {
    WriteNpy(dir / (o.name + ".npy"), o.view, o.order);
    WriteFile(dir / (o.name + ".bin"), CBytes(o.view));
    manifest << o.name << "\t" << FormatToDescr(o.view.format(), o.view.itemsize()) << "\t"
             << (o.order == Order::kF ? 1 : 0) << "\n";
  }
  manifest.close();
  const ProcessResult r = RunProcess({python, "-c", kNumPyLoadScript, dir.path()});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, ::testing::Not(HasSubstr("FAIL")));
  EXPECT_THAT(r.output, HasSubstr("ok strided_f"));
}

}  // namespace
}  // namespace shmarray::client

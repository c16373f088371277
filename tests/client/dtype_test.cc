// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: dtype_test.cc
// -----------------------------------------------------------------------------
// Tests of the NumPy dtype spellings of client/npy.h (DtypeToFormat,
// DtypeName, FormatSpellingHint): a table of spellings and their canonical
// PEP 3118 formats, the errors, and a cross-check with NumPy
// (SHMARRAY_PYTHON3): for every spelling, np.dtype(spelling) equals the dtype
// of the format we made (its .npy descr) and of the name we give it, and
// unnamed struct fields get NumPy's names.

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "shmarray/client/npy.h"
#include "shmarray/shm/format.h"

namespace shmarray::client {
namespace {

using ::testing::HasSubstr;

// Runs `python -c script arg` and returns its exit status (-1 if it did not
// exit), its stdout and stderr in `*out`.
int RunPython(const std::string& python, const char* script, const std::string& arg,
              std::string* out) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  const pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    execl(python.c_str(), python.c_str(), "-c", script, arg.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) out->append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Checks `cases` with NumPy: writes them (one line each, the fields
// separated by tabs) to a temporary file and runs SHMARRAY_PYTHON3 on it,
// with `check_source` defining `check(*fields)`, which returns a message for
// a case NumPy disagrees with (None if it agrees). `ast`, `sys` and `np` are
// imported. Expects every case checked and none disagreeing.
void ExpectNumPyAgrees(const std::string& check_source,
                       const std::vector<std::vector<std::string>>& cases) {
  char tmpl[] = "/tmp/shmarray-dtype-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string path = std::string(tmpl) + "/cases.txt";
  {
    FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    for (const std::vector<std::string>& fields : cases) {
      for (size_t i = 0; i < fields.size(); ++i) {
        std::fprintf(f, "%s%s", i > 0 ? "\t" : "", fields[i].c_str());
      }
      std::fputc('\n', f);
    }
    std::fclose(f);
  }
  const std::string script = "import ast, sys\nimport numpy as np\n" + check_source + R"PY(
bad = []
n = 0
for line in open(sys.argv[1], encoding='utf-8'):
    problem = check(*line.rstrip('\n').split('\t'))
    if problem:
        bad.append(problem)
    n += 1
print('\n'.join(bad))
print('%d cases checked' % n)
sys.exit(1 if bad else 0)
)PY";
  std::string out;
  EXPECT_EQ(RunPython(SHMARRAY_PYTHON3, script.c_str(), path, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr(std::to_string(cases.size()) + " cases checked")) << out;
  std::remove(path.c_str());
  rmdir(tmpl);
}

TEST(DtypeTest, SpellingsToCanonicalFormats) {
  const std::pair<const char*, const char*> cases[] = {
      {"f8", "<d"},
      {"<i4", "<i"},
      {">i4", ">i"},
      {"=i2", "<h"},
      {"|b1", "?"},
      {"int64", "<q"},
      {"float32", "<f"},
      {"c16", "<Zd"},
      {"complex64", "<Zf"},
      {"S5", "5s"},
      {"a3", "3s"},
      {"V8", "8x"},
      {"bool", "?"},
      {"?", "?"},
      {"uint8", "<B"},
      {"i1", "<b"},
      {"u2", "<H"},
      {"float16", "<e"},
      {"e", "<e"},
      {"g", "<g"},
      {"longdouble", "<g"},
      {"F", "<Zf"},
      {"D", "<Zd"},
      {"G", "<Zg"},
      {"d", "<d"},
      {">d", ">d"},
      {"l", "<q"},
      {"L", "<Q"},
      {"int", "<q"},
      {"float", "<d"},
      {"complex", "<Zd"},
      {"intc", "<i"},
      {"c", "1s"},
      {"(2,3)f8", "(2,3)<d"},
      {"2i4", "(2)<i"},
      {"i8,f4", "T{<q:f0:<f:f1:}"},
      {"[('x','<f8'),('y','<f8')]", "T{<d:x:<d:y:}"},
      {"[('x', 'f8'), ('y', 'int32', (2,))]", "T{<d:x:(2)<i:y:}"},
      {"[('p', [('a', '>u2'), ('b', 'S2')])]", "T{T{>H:a:2s:b:}:p:}"},
      {"  float64 ", "<d"},
  };
  for (const auto& [spelling, format] : cases) {
    SCOPED_TRACE(spelling);
    EXPECT_EQ(DtypeToFormat(spelling), shm::Format::Parse(format).canonical());
  }
}

TEST(DtypeTest, NotADtypeOrNotSupported) {
  const std::pair<const char*, const char*> cases[] = {
      {"float65", "unknown NumPy dtype 'float65'"},
      {"<float64", "'<float64'"},
      {"O", "Python objects"},
      {"object", "Python objects"},
      {"U5", "unicode"},
      {"str", "unicode"},
      {"M8", "datetime"},
      {"datetime64[s]", "datetime"},
      {"S", "zero-length"},
      {"bytes", "zero-length"},
      {"", "empty dtype"},
      {"[('x', 'f8'", "invalid header"},
      {"(2,3", "unclosed"},
  };
  for (const auto& [spelling, message] : cases) {
    SCOPED_TRACE(spelling);
    try {
      DtypeToFormat(spelling);
      ADD_FAILURE() << "no error";
    } catch (const NpyError& e) {
      EXPECT_THAT(e.what(), HasSubstr(message));
    }
  }
}

TEST(DtypeTest, NamesAreNumPys) {
  const std::pair<const char*, const char*> cases[] = {
      {"<d", "float64"},     {"d", "float64"},   {"<q", "int64"},
      {"<i", "int32"},       {"?", "bool"},      {"B", "uint8"},
      {"<Zd", "complex128"}, {"<g", "float128"}, {">d", ">f8"},
      {"10s", "S10"},        {"4x", "V4"},       {"T{<d:x:<d:y:}", "[('x', '<f8'), ('y', '<f8')]"},
  };
  for (const auto& [format, name] : cases) {
    SCOPED_TRACE(format);
    EXPECT_EQ(DtypeName(shm::Format::Parse(format)), name);
  }
  EXPECT_THROW(DtypeName(shm::Format::Parse("5p")), NpyError);
}

TEST(DtypeTest, HintsForNumPySpellingsGivenAsFormats) {
  EXPECT_EQ(FormatSpellingHint("int64"), "did you mean 'q' (NumPy 'int64')?");
  EXPECT_EQ(FormatSpellingHint("f8"), "did you mean 'd' (NumPy 'float64')?");
  EXPECT_EQ(FormatSpellingHint("<i8"), "did you mean 'q' (NumPy 'int64')?");
  EXPECT_EQ(FormatSpellingHint(">f4"), "did you mean '>f' (NumPy '>f4')?");
  EXPECT_EQ(FormatSpellingHint("c16"), "did you mean 'Zd' (NumPy 'complex128')?");
  EXPECT_EQ(FormatSpellingHint("S5"), "did you mean '5s' (NumPy 'S5')?");
  EXPECT_EQ(FormatSpellingHint("[('x','<f8'),('y','<f8')]"),
            "did you mean 'T{<d:x:<d:y:}' (NumPy '[('x', '<f8'), ('y', '<f8')]')?");
  EXPECT_EQ(FormatSpellingHint("T{i:a"), "");
  EXPECT_EQ(FormatSpellingHint("nonsense"), "");
}

// Every spelling through NumPy: np.dtype(spelling) == np.dtype(our descr) ==
// np.dtype(our name).
TEST(DtypeNumPyTest, AgreesWithNumPy) {
  if (std::string(SHMARRAY_PYTHON3).empty()) GTEST_SKIP() << "no python3 with NumPy";
  const std::vector<std::string> spellings = {"f8",
                                              "<f8",
                                              ">f8",
                                              "=f8",
                                              "f4",
                                              "f2",
                                              "f16",
                                              "i1",
                                              "i2",
                                              "<i4",
                                              ">i4",
                                              "i8",
                                              "u1",
                                              "u2",
                                              "u4",
                                              "u8",
                                              ">u8",
                                              "b1",
                                              "?",
                                              "c8",
                                              "c16",
                                              ">c16",
                                              "c32",
                                              "S1",
                                              "S5",
                                              "a7",
                                              "V3",
                                              "V16",
                                              "bool",
                                              "bool_",
                                              "int8",
                                              "int16",
                                              "int32",
                                              "int64",
                                              "uint8",
                                              "uint16",
                                              "uint32",
                                              "uint64",
                                              "float16",
                                              "float32",
                                              "float64",
                                              "float128",
                                              "complex64",
                                              "complex128",
                                              "complex256",
                                              "byte",
                                              "ubyte",
                                              "short",
                                              "ushort",
                                              "intc",
                                              "uintc",
                                              "int",
                                              "int_",
                                              "long",
                                              "uint",
                                              "ulong",
                                              "longlong",
                                              "ulonglong",
                                              "intp",
                                              "uintp",
                                              "half",
                                              "single",
                                              "double",
                                              "float",
                                              "float_",
                                              "longdouble",
                                              "csingle",
                                              "cdouble",
                                              "complex",
                                              "clongdouble",
                                              "b",
                                              "B",
                                              "h",
                                              "H",
                                              "i",
                                              "I",
                                              "l",
                                              "L",
                                              "q",
                                              "Q",
                                              "p",
                                              "P",
                                              "e",
                                              "f",
                                              "d",
                                              "g",
                                              "F",
                                              "D",
                                              "G",
                                              "c",
                                              "<d",
                                              ">i",
                                              "(2,3)f8",
                                              "(4,)i2",
                                              "2i4",
                                              "i8,f4",
                                              "u1,>i2,S3",
                                              "[('x','<f8'),('y','<f8')]",
                                              "[('x', 'f8'), ('y', 'int32', (2,))]",
                                              "[('p', [('a', '>u2'), ('b', 'S2')]), ('q', '?')]"};
  std::vector<std::vector<std::string>> cases;
  for (const std::string& s : spellings) {
    const shm::Format format = shm::Format::Parse(DtypeToFormat(s));
    cases.push_back({s, FormatToDescr(format), DtypeName(format)});
  }
  ExpectNumPyAgrees(R"PY(
def check(spelling, descr, name):
    want = np.dtype(ast.literal_eval(spelling) if spelling.startswith('[') else spelling)
    ours = np.dtype(ast.literal_eval(descr))
    named = np.dtype(ast.literal_eval(name) if name.startswith('[') else name)
    # A sub-array dtype is stored as its one-field struct.
    if want.subdtype is not None:
        want = np.dtype([('f0', want)])
    if ours != want or named != want:
        return '%s: numpy %r, descr %s -> %r, name %s -> %r' % (spelling, want, descr, ours, name, named)
)PY",
                    cases);
}

// Unnamed struct fields get the names NumPy's PEP 3118 import gives them
// (_dtype_from_pep3118, _fix_names): the first f<j> no field of the struct
// has, counting neither padding nor the position in the format.
TEST(DtypeNumPyTest, UnnamedFieldsAreNamedAsNumPyNamesThem) {
  if (std::string(SHMARRAY_PYTHON3).empty()) GTEST_SKIP() << "no python3 with NumPy";
  const std::vector<std::string> formats = {"ii",
                                            "bi",
                                            "T{<b3x<i}",
                                            "T{<i<i:f0:}",
                                            "T{<b:f1:<i<i}",
                                            "T{<i4x:a:<i}",
                                            "T{<b3x<i:f0:<i}",
                                            "T{<i:f2:<b<i:f0:3x<h<q}",
                                            "T{<h:a:T{<b3x<i<i:f0:}:s:<i}",
                                            "T{<b(2)T{<b<d:f0:}<i:f1:}",
                                            "T{xbxxb:f0:x(3)h}",
                                            "T{<i:f0:<i:f1:<i<i:f3:<i}"};
  std::vector<std::vector<std::string>> cases;
  for (const std::string& format : formats) {
    cases.push_back({format, FormatToDescr(shm::Format::Parse(format))});
  }
  ExpectNumPyAgrees(R"PY(
try:
    from numpy._core._internal import _dtype_from_pep3118
except ImportError:
    from numpy.core._internal import _dtype_from_pep3118
from numpy.lib.format import dtype_to_descr

def check(fmt, descr):
    want = dtype_to_descr(_dtype_from_pep3118(fmt))
    if ast.literal_eval(descr) != want:
        return '%s: numpy %r, ours %s' % (fmt, want, descr)
)PY",
                    cases);
}

}  // namespace
}  // namespace shmarray::client

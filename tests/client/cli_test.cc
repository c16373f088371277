// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: cli_test.cc
// -----------------------------------------------------------------------------
// Tests of the `shmarray` CLI (client/cli/main.cc) through the real binaries:
// a TestDaemon runs shmarrayd, the CLI (SHMARRAY_CLI_PATH) is fork/exec'd
// with stdout and stderr captured, --json output is parsed back into the
// proto messages, and .npy transfers are checked with NumPy
// (SHMARRAY_PYTHON3) in both directions.

#include <fcntl.h>
#include <gmock/gmock.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "shmarray/v1/array_service.pb.h"
#include "testing/daemon.h"

namespace shmarray {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

struct CliResult {
  int exit_code = -1;  // 128 + signal when killed
  std::string out;
  std::string err;
};

// A started process with its stdout and stderr on pipes.
struct Running {
  pid_t pid = -1;
  int out_fd = -1;
  int err_fd = -1;
};

Running Spawn(const std::vector<std::string>& argv) {
  int out[2], err[2];
  Running r;
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) return r;
  r.pid = fork();
  if (r.pid == 0) {
    const int null_fd = open("/dev/null", O_RDONLY);
    dup2(null_fd, 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  r.out_fd = out[0];
  r.err_fd = err[0];
  return r;
}

// Reads both pipes to EOF and reaps the process; kills it after `timeout`.
CliResult Finish(Running r, std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  CliResult result;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string* sinks[2] = {&result.out, &result.err};
  int fds[2] = {r.out_fd, r.err_fd};
  bool killed = false;
  while (fds[0] >= 0 || fds[1] >= 0) {
    pollfd p[2];
    for (int i = 0; i < 2; ++i) p[i] = {fds[i], POLLIN, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 && !killed) {
      kill(r.pid, SIGKILL);
      killed = true;
    }
    poll(p, 2, killed ? 1000 : static_cast<int>(std::min<int64_t>(left.count(), 1000)));
    for (int i = 0; i < 2; ++i) {
      if (fds[i] < 0 || (p[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      char buf[65536];
      const ssize_t n = read(fds[i], buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<size_t>(n));
      } else {
        close(fds[i]);
        fds[i] = -1;
      }
    }
  }
  int status = 0;
  waitpid(r.pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

CliResult RunCli(const std::vector<std::string>& argv) { return Finish(Spawn(argv)); }

int CountLines(const std::string& s) {
  return static_cast<int>(std::count(s.begin(), s.end(), '\n'));
}

// Expects a failure with `code` and exactly one line "shmarray: error: <...>".
void ExpectError(const CliResult& r, int code, const std::string& message) {
  EXPECT_EQ(r.exit_code, code) << r.out << r.err;
  EXPECT_THAT(r.err, StartsWith("shmarray: error: "));
  EXPECT_THAT(r.err, HasSubstr(message));
  EXPECT_EQ(CountLines(r.err), 1) << r.err;
  EXPECT_EQ(r.err.back(), '\n');
}

template <typename M>
M ParseJson(const std::string& text) {
  M m;
  const auto status = google::protobuf::util::JsonStringToMessage(text, &m);
  EXPECT_TRUE(status.ok()) << status.ToString() << " in " << text;
  return m;
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto daemon = testing::TestDaemon::Start();
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = std::move(*daemon);
  }

  std::vector<std::string> Argv(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {SHMARRAY_CLI_PATH, "--socket", daemon_->socket_path()};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
  CliResult Cli(const std::vector<std::string>& args) const { return RunCli(Argv(args)); }
  // Runs and expects success with nothing on stderr.
  std::string Ok(const std::vector<std::string>& args) const {
    const CliResult r = Cli(args);
    EXPECT_EQ(r.exit_code, 0) << ::testing::PrintToString(args) << "\n" << r.err;
    EXPECT_EQ(r.err, "");
    return r.out;
  }
  std::string Path(const std::string& name) const { return daemon_->dir() + "/" + name; }

  // Runs python (NumPy) with `script` and the daemon's directory as argv[1].
  CliResult Python(const std::string& script) const {
    return RunCli({SHMARRAY_PYTHON3, "-c", script, daemon_->dir()});
  }

  std::unique_ptr<testing::TestDaemon> daemon_;
};

// ---------------------------------------------------------------------------

TEST(CliHelpTest, EveryCommandHasHelpWithExamples) {
  for (const char* cmd :
       {"", "ls", "info", "create", "rm", "seal", "slice", "copy", "get", "put", "watch"}) {
    SCOPED_TRACE(cmd);
    std::vector<std::string> argv = {SHMARRAY_CLI_PATH};
    if (*cmd) argv.push_back(cmd);
    argv.push_back("--help");
    const CliResult r = RunCli(argv);
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_THAT(r.out, HasSubstr("Usage: shmarray"));
    EXPECT_THAT(r.out, HasSubstr("Example"));
    if (*cmd) {
      EXPECT_THAT(r.out, HasSubstr(std::string("shmarray ") + cmd));
    }
    EXPECT_EQ(r.err, "");
  }
}

TEST(CliUsageTest, UsageErrorsExitTwoWithOneLine) {
  const std::string cli = SHMARRAY_CLI_PATH;
  ExpectError(RunCli({cli}), 2, "a command is required (see shmarray --help)");
  ExpectError(RunCli({cli, "bogus"}), 2, "unknown command 'bogus'");
  ExpectError(RunCli({cli, "info", "a", "b"}), 2, "unexpected argument 'b'");
  ExpectError(RunCli({cli, "ls", "--bogus"}), 2, "unexpected argument '--bogus'");
  ExpectError(RunCli({cli, "create", "x", "--shape", "3"}), 2, "--format is required");
  ExpectError(RunCli({cli, "create", "x", "--format", "d", "--shape", "3,a"}), 2,
              "invalid --shape '3,a'");
  ExpectError(RunCli({cli, "create", "x", "--format", "d", "--shape", "3", "--order", "Q"}), 2,
              "--order");
  ExpectError(RunCli({cli, "create", "x", "--format", "B", "--shape", "2", "--fill", "300"}), 2,
              "invalid --fill value '300' for format 'B': out of range");
  ExpectError(RunCli({cli, "create", "x", "--format", "?", "--shape", "2", "--fill", "maybe"}), 2,
              "expected true or false");
  ExpectError(RunCli({cli, "create", "x", "--format", "d", "--shape", "2", "--fill", "1.5x"}), 2,
              "invalid --fill value '1.5x'");
  ExpectError(RunCli({cli, "create", "x", "--format", "T{d:a:}", "--shape", "2", "--fill", "1"}), 2,
              "scalar formats only");
  ExpectError(RunCli({cli, "create", "x", "--format", "T{i:a", "--shape", "2", "--fill", "1"}), 2,
              "invalid --format");
  ExpectError(RunCli({cli, "get", "x[1", "f.npy"}), 2, "must end with ']'");
  ExpectError(RunCli({cli, "put", "--create", "x[1]", "f.npy"}), 2, "without an index");
  ExpectError(RunCli({cli, "copy", "a", "b[0]", "--order", "F"}), 2,
              "--order applies to a new array");
  ExpectError(RunCli({cli, "--socket", "/a", "--target", "b:1", "ls"}), 2, "excludes");
  ExpectError(RunCli({cli, "info"}), 2, "NAME is required");
}

TEST(CliUsageTest, NoDaemonIsUnavailable) {
  ExpectError(RunCli({SHMARRAY_CLI_PATH, "--socket", "/nonexistent/shmarray.sock", "ls"}), 1,
              "UNAVAILABLE: ");
}

// ---------------------------------------------------------------------------

TEST_F(CliTest, CreateInfoLsSealRmAsText) {
  std::string out = Ok({"create", "cube", "--format", "d", "--shape", "3,3,3"});
  EXPECT_THAT(out, HasSubstr("name:            cube\n"));
  EXPECT_THAT(out, HasSubstr("shape:           (3, 3, 3)\n"));
  EXPECT_THAT(out, HasSubstr("strides:         (72, 24, 8)\n"));
  out = Ok({"create", "img", "--format", "B", "--shape", "4,5", "--order", "F", "--fill", "7"});
  EXPECT_THAT(out, HasSubstr("strides:         (1, 4)\n"));

  out = Ok({"info", "cube"});
  for (const char* field :
       {"name:", "kind:            array", "format:          <d", "itemsize:        8",
        "offset:          0", "nbytes:          216", "readonly:        false",
        "c_contiguous:    true", "f_contiguous:    false", "generation:", "base:",
        "base_generation:", "segment_name:    ", "segment_size:", "data_offset:     4096",
        "data_size:       216", "created:"}) {
    EXPECT_THAT(out, HasSubstr(field));
  }
  EXPECT_THAT(out, HasSubstr(daemon_->segment_prefix()));

  Ok({"slice", "cube", "0, ::-1", "--as", "cube/face"});
  Ok({"seal", "img"});
  out = Ok({"ls"});
  std::vector<std::string> lines;
  std::stringstream ss(out);
  for (std::string line; std::getline(ss, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 4u) << out;
  EXPECT_THAT(lines[0], StartsWith("NAME"));
  for (const char* col : {"FORMAT", "SHAPE", "ORDER", "BYTES", "FLAGS"}) {
    EXPECT_THAT(lines[0], HasSubstr(col));
  }
  EXPECT_THAT(lines[1], ::testing::MatchesRegex("cube +<d +\\(3, 3, 3\\) +C +216 +- *"));
  EXPECT_THAT(lines[2], ::testing::MatchesRegex("cube/face +<d +\\(3, 3\\) +- +72 +view *"));
  EXPECT_THAT(lines[3], ::testing::MatchesRegex("img +<B +\\(4, 5\\) +F +20 +ro *"));
  out = Ok({"ls", "cube/"});
  EXPECT_THAT(out, HasSubstr("cube/face"));
  EXPECT_THAT(out, ::testing::Not(HasSubstr("img")));

  ExpectError(Cli({"rm", "cube"}), 1, "FAILED_PRECONDITION: ");
  EXPECT_EQ(Ok({"rm", "cube", "--cascade"}), "deleted cube\ndeleted cube/face\n");
  EXPECT_EQ(Ok({"rm", "img"}), "deleted img\n");
  EXPECT_EQ(Ok({"ls"}), "NAME  FORMAT  SHAPE  ORDER  BYTES  FLAGS\n");
  EXPECT_THAT(daemon_->ListSegments(), IsEmpty());
}

TEST_F(CliTest, JsonOutputIsTheProtoMessages) {
  const auto created =
      ParseJson<v1::ArrayInfo>(Ok({"--json", "create", "a", "--format", "i", "--shape", "2,3"}));
  EXPECT_EQ(created.name(), "a");
  EXPECT_EQ(created.format(), "<i");
  EXPECT_EQ(created.itemsize(), 4);
  EXPECT_THAT(created.shape(), ElementsAre(2, 3));
  EXPECT_THAT(created.strides(), ElementsAre(12, 4));
  EXPECT_EQ(created.offset(), 0);
  EXPECT_EQ(created.nbytes(), 24);
  EXPECT_TRUE(created.c_contiguous());
  EXPECT_FALSE(created.f_contiguous());
  EXPECT_FALSE(created.readonly());
  EXPECT_EQ(created.kind(), v1::ARRAY_KIND_ARRAY);
  EXPECT_NE(created.generation(), 0u);
  EXPECT_THAT(created.segment_name(), StartsWith(daemon_->segment_prefix()));
  EXPECT_EQ(created.data_offset(), 4096);
  EXPECT_EQ(created.data_size(), 24);
  EXPECT_GT(created.created_unix_ns(), 0);

  // Global flags may also follow the command.
  const auto info = ParseJson<v1::ArrayInfo>(Ok({"info", "a", "--json"}));
  EXPECT_EQ(info.generation(), created.generation());
  EXPECT_EQ(info.segment_name(), created.segment_name());

  const auto view =
      ParseJson<v1::ArrayInfo>(Ok({"--json", "slice", "a", "::-1, 1:", "--as", "a/v"}));
  EXPECT_EQ(view.name(), "a/v");
  EXPECT_EQ(view.kind(), v1::ARRAY_KIND_VIEW);
  EXPECT_EQ(view.base(), "a");
  EXPECT_EQ(view.base_generation(), created.generation());
  EXPECT_THAT(view.shape(), ElementsAre(2, 2));
  EXPECT_THAT(view.strides(), ElementsAre(-12, 4));
  EXPECT_EQ(view.offset(), 16);

  const auto anonymous = ParseJson<v1::ArrayInfo>(Ok({"--json", "slice", "a", "1"}));
  EXPECT_THAT(anonymous.shape(), ElementsAre(3));
  EXPECT_EQ(anonymous.offset(), 12);

  const auto copied =
      ParseJson<v1::ArrayInfo>(Ok({"--json", "copy", "a[:, ::2]", "b", "--order", "F"}));
  EXPECT_EQ(copied.name(), "b");
  EXPECT_THAT(copied.shape(), ElementsAre(2, 2));
  EXPECT_TRUE(copied.f_contiguous());
  EXPECT_FALSE(copied.c_contiguous());

  const auto sealed = ParseJson<v1::ArrayInfo>(Ok({"--json", "seal", "b"}));
  EXPECT_TRUE(sealed.readonly());

  const auto list = ParseJson<v1::ListResponse>(Ok({"--json", "ls"}));
  ASSERT_EQ(list.arrays_size(), 3);
  EXPECT_EQ(list.arrays(0).name(), "a");
  EXPECT_EQ(list.arrays(1).name(), "a/v");
  EXPECT_EQ(list.arrays(2).name(), "b");
  EXPECT_TRUE(list.arrays(2).readonly());
  EXPECT_EQ(list.arrays(0).generation(), created.generation());

  const auto deleted = ParseJson<v1::DeleteResponse>(Ok({"--json", "rm", "a", "--cascade"}));
  EXPECT_THAT(deleted.deleted(), ElementsAre("a", "a/v"));
}

TEST_F(CliTest, ServerErrorsExitOneWithTheCodeAndMessage) {
  Ok({"create", "x", "--format", "d", "--shape", "3,4"});
  ExpectError(Cli({"info", "nope"}), 1, "NOT_FOUND: ");
  EXPECT_THAT(Cli({"info", "nope"}).err, HasSubstr("'nope'"));
  ExpectError(Cli({"create", "x", "--format", "d", "--shape", "1"}), 1, "ALREADY_EXISTS: ");
  ExpectError(Cli({"create", "y", "--format", "T{i:a", "--shape", "1"}), 1, "INVALID_ARGUMENT: ");
  ExpectError(Cli({"slice", "x", "::0"}), 1, "INVALID_ARGUMENT: Step may not be zero (axis 0)");
  ExpectError(Cli({"slice", "x", "7"}), 1, "OUT_OF_RANGE: Index out of bounds (axis 0)");
  ExpectError(Cli({"slice", "x", "1, 2, 3"}), 1,
              "too many indices for array: array is 2-dimensional, but 3 were indexed");
  ExpectError(Cli({"copy", "x[0]", "x[:, 0]"}), 1, "got differing extents in dimension 0");
  Ok({"seal", "x"});
  ExpectError(Cli({"copy", "x[0]", "x[1]"}), 1, "FAILED_PRECONDITION: ");
  ExpectError(Cli({"rm", "nope"}), 1, "NOT_FOUND: ");
  // File errors are exit code 1 too.
  ExpectError(Cli({"get", "x", "/nonexistent/dir/x.npy"}), 1, "/nonexistent/dir/x.npy");
  ExpectError(Cli({"put", "x", Path("missing.npy")}), 1, "missing.npy: cannot open");
  {
    std::ofstream bad(Path("bad.npy"));
    bad << "not numpy";
  }
  ExpectError(Cli({"put", "--create", "z", Path("bad.npy")}), 1, "bad magic string");
  EXPECT_EQ(Cli({"info", "z"}).exit_code, 1);
}

TEST_F(CliTest, FillValuesFollowTheFormat) {
  if (std::string(SHMARRAY_PYTHON3).empty()) GTEST_SKIP() << "no NumPy";
  struct Case {
    const char* format;
    const char* fill;
    const char* expected;  // Python expression
  };
  const Case cases[] = {
      {"d", "2.5", "2.5"},
      {">h", "-300", "-300"},
      {"?", "true", "True"},
      {"?", "False", "False"},
      {"Zf", "1+2j", "1+2j"},
      {"Zd", "(-0.5-1e3j)", "-0.5-1000j"},
      {"e", "0.5", "0.5"},
      {"f", "-inf", "-np.inf"},
      {"10s", "abc", "b'abc'"},
      {"B", "0xff", "255"},
      {"q", "-9223372036854775808", "-2**63"},
      {"Q", "18446744073709551615", "2**64-1"},
      {"(2)i", "7", "np.array(([7, 7],), dtype=a.dtype)"},
      {"g", "0.1", "np.longdouble('0.1')"},
  };
  std::string script = "import numpy as np, os, sys\nd = sys.argv[1]\nbad = 0\n";
  int i = 0;
  for (const Case& c : cases) {
    const std::string name = "fill" + std::to_string(i);
    Ok({"create", name, "--format", c.format, "--shape", "2,3", "--fill", c.fill});
    Ok({"get", name, Path(name + ".npy")});
    script += "a = np.load(os.path.join(d, '" + name + ".npy'))\n";
    script += "if not (a == (" + std::string(c.expected) + ")).all(): bad += 1; print('FAIL', " +
              std::to_string(i) + ", a)\n";
    ++i;
  }
  script += "sys.exit(1 if bad else 0)\n";
  const CliResult r = Python(script);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

constexpr char kMakeFiles[] = R"PY(
import os, sys
import numpy as np
d = sys.argv[1]
rng = np.random.default_rng(3)
files = {
  'c_f8': rng.random((4, 5)),
  'f_i4': np.asfortranarray(rng.integers(-1000, 1000, (3, 4, 5)).astype('<i4')),
  'be_f4': rng.random((6,)).astype('>f4'),
  'bool': rng.random((3, 3)) > 0.5,
  'c16': rng.random((2, 3)) + 1j * rng.random((2, 3)),
  'struct': np.array([(1.0, [1, 2]), (2.0, [3, 4]), (3.0, [5, 6])],
                     dtype=[('x', '<f8'), ('y', '<i2', (2,))]),
  'bytes': np.array([b'ab', b'cde'], dtype='S4'),
  'zero_d': np.array(42, dtype='<u8'),
  'empty': np.zeros((0, 3), dtype='<f4'),
  'row': np.arange(10, 15).astype('<f8') * -1,
}
for name, a in files.items():
  np.save(os.path.join(d, name + '.npy'), a)
)PY";

constexpr char kCheckFiles[] = R"PY(
import os, sys
import numpy as np
d = sys.argv[1]
def load(n):
  return np.load(os.path.join(d, n + '.npy'))
bad = []
def check(label, got, want, fortran=None):
  if got.dtype != want.dtype or got.shape != want.shape or not np.array_equal(got, want):
    bad.append('%s: got %r %r %r want %r %r %r' % (label, got.dtype, got.shape, got, want.dtype, want.shape, want))
  if fortran is not None and got.ndim > 1 and bool(np.isfortran(got)) != fortran:
    bad.append('%s: fortran order %r' % (label, np.isfortran(got)))
for n in ['c_f8', 'f_i4', 'be_f4', 'bool', 'c16', 'struct', 'bytes', 'zero_d', 'empty']:
  check(n, load('out_' + n), load(n), fortran=False)
check('f_i4 as F', load('outF_f_i4'), load('f_i4'), fortran=True)
check('strided get', load('strided'), load('c_f8')[::2, ::-1])
check('strided F get', load('stridedF'), load('f_i4')[1, ::-2, 1::2], fortran=True)
want = load('c_f8').copy()
want[1, ::2] = load('row')[:3]
want[3, :] = load('row')
check('put into selections', load('after_put'), want)
print('\n'.join(bad))
sys.exit(1 if bad else 0)
)PY";

TEST_F(CliTest, GetPutRoundTripsWithNumPy) {
  if (std::string(SHMARRAY_PYTHON3).empty()) GTEST_SKIP() << "no NumPy";
  CliResult r = Python(kMakeFiles);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* n :
       {"c_f8", "f_i4", "be_f4", "bool", "c16", "struct", "bytes", "zero_d", "empty", "row"}) {
    SCOPED_TRACE(n);
    EXPECT_THAT(Ok({"put", "--create", n, Path(std::string(n) + ".npy")}), HasSubstr(" bytes"));
    if (std::string(n) != "row") Ok({"get", n, Path(std::string("out_") + n + ".npy")});
  }
  // The F-order file made an F-order array.
  const auto f = ParseJson<v1::ArrayInfo>(Ok({"--json", "info", "f_i4"}));
  EXPECT_TRUE(f.f_contiguous());
  EXPECT_THAT(f.shape(), ElementsAre(3, 4, 5));
  EXPECT_EQ(ParseJson<v1::ArrayInfo>(Ok({"--json", "info", "be_f4"})).format(), ">f");
  EXPECT_EQ(ParseJson<v1::ArrayInfo>(Ok({"--json", "info", "struct"})).format(),
            "T{<d:x:(2)<h:y:}");

  Ok({"get", "f_i4", Path("outF_f_i4.npy"), "--order", "F"});
  Ok({"get", "c_f8[::2, ::-1]", Path("strided.npy")});
  Ok({"get", "f_i4[1, ::-2, 1::2]", Path("stridedF.npy"), "--order", "F"});

  // put into strided selections of an existing array.
  Ok({"copy", "c_f8", "target"});
  Ok({"get", "row[:3]", Path("row3.npy")});
  Ok({"put", "target[1, ::2]", Path("row3.npy")});
  const auto written =
      ParseJson<v1::WriteResponse>(Ok({"--json", "put", "target[3, :]", Path("row.npy")}));
  EXPECT_EQ(written.bytes_written(), 40);
  EXPECT_THAT(written.info().shape(), ElementsAre(5));
  Ok({"get", "target", Path("after_put.npy")});

  r = Python(kCheckFiles);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;

  // Mismatches are the daemon's errors.
  ExpectError(Cli({"put", "target[0]", Path("row3.npy")}), 1, "INVALID_ARGUMENT: ");
  ExpectError(Cli({"put", "target[0, :]", Path("f_i4.npy")}), 1, "INVALID_ARGUMENT: ");
  ExpectError(Cli({"put", "--create", "c_f8", Path("c_f8.npy")}), 1, "ALREADY_EXISTS: ");
  Ok({"seal", "target"});
  ExpectError(Cli({"put", "target[3, :]", Path("row.npy")}), 1, "FAILED_PRECONDITION: ");
}

TEST_F(CliTest, CopyIntoAndCopyToNewArray) {
  if (std::string(SHMARRAY_PYTHON3).empty()) GTEST_SKIP() << "no NumPy";
  ASSERT_EQ(Python("import numpy as np, sys; np.save(sys.argv[1] + '/a.npy', "
                   "np.arange(16, dtype='<i8').reshape(4, 4))")
                .exit_code,
            0);
  Ok({"put", "--create", "a", Path("a.npy")});
  Ok({"copy", "a[::2, ::2]", "b", "--order", "F"});
  Ok({"create", "c", "--format", "q", "--shape", "2,2"});
  Ok({"copy", "a[1, :2]", "c[0]"});
  Ok({"copy", "a[3, 2:]", "c[1, ::-1]"});
  Ok({"get", "b", Path("b.npy")});
  Ok({"get", "c", Path("c.npy")});
  const CliResult r = Python(
      "import numpy as np, sys\n"
      "b = np.load(sys.argv[1] + '/b.npy'); c = np.load(sys.argv[1] + '/c.npy')\n"
      "a = np.arange(16).reshape(4, 4)\n"
      "assert np.array_equal(b, a[::2, ::2]), b\n"
      "assert np.array_equal(c, [[4, 5], [15, 14]]), c\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

// Starts `watch` and creates arrays until it has exited (it stops after
// --count events; events before its registration are not delivered, so the
// test keeps producing them instead of sleeping).
TEST_F(CliTest, WatchPrintsOneLinePerEvent) {
  Running w = Spawn(Argv({"watch", "w/", "--count", "3"}));
  ASSERT_GT(w.pid, 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  int i = 0;
  int status = 0;
  pid_t done = 0;
  while (done == 0 && std::chrono::steady_clock::now() < deadline) {
    Ok({"create", "other" + std::to_string(i), "--format", "d", "--shape", "1"});
    Ok({"create", "w/" + std::to_string(i), "--format", "d", "--shape", "1"});
    ++i;
    done = waitpid(w.pid, &status, WNOHANG);
  }
  if (done == 0) {
    const CliResult r = Finish(w, std::chrono::milliseconds(1));
    FAIL() << "watch did not stop: " << r.out << r.err;
  }
  // Reaped already: read what it printed.
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(w.out_fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  close(w.out_fd);
  close(w.err_fd);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  ASSERT_EQ(CountLines(out), 3) << out;
  std::stringstream ss(out);
  for (std::string line; std::getline(ss, line);) {
    EXPECT_THAT(line, ::testing::MatchesRegex("created w/[0-9]+ <d \\(1,\\)")) << out;
  }
}

TEST_F(CliTest, WatchJsonAndInterrupt) {
  Running w = Spawn(Argv({"--json", "watch", "j/"}));
  ASSERT_GT(w.pid, 0);
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  // Reads what the watcher printed for up to 200 ms, until `needle` shows.
  auto read_some = [&](const std::string& needle) {
    pollfd p = {w.out_fd, POLLIN, 0};
    while (out.find(needle) == std::string::npos && poll(&p, 1, 200) > 0) {
      char buf[4096];
      const ssize_t n = read(w.out_fd, buf, sizeof buf);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out.find(needle) != std::string::npos;
  };
  // Produce events until the first line arrives (events before the watch
  // is registered are not delivered).
  for (int i = 0; !read_some("\n"); ++i) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "no event";
    Ok({"create", "j/" + std::to_string(i), "--format", "i", "--shape", "2"});
  }
  Ok({"seal", "j/0"});
  Ok({"rm", "j/0"});
  while (!read_some("TYPE_DELETED")) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "no delete event: " << out;
  }
  kill(w.pid, SIGINT);
  const CliResult r = Finish(w);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  out += r.out;
  std::vector<v1::WatchEvent> events;
  std::stringstream ss(out);
  for (std::string line; std::getline(ss, line);) {
    events.push_back(ParseJson<v1::WatchEvent>(line));
  }
  ASSERT_GE(events.size(), 3u) << out;
  EXPECT_EQ(events[0].type(), v1::WatchEvent::TYPE_CREATED);
  EXPECT_THAT(events[0].name(), StartsWith("j/"));
  EXPECT_EQ(events[0].info().format(), "<i");
  EXPECT_THAT(events[0].info().shape(), ElementsAre(2));
  EXPECT_GT(events[0].unix_ns(), 0);
  EXPECT_EQ(events[events.size() - 2].type(), v1::WatchEvent::TYPE_SEALED);
  EXPECT_EQ(events[events.size() - 2].name(), "j/0");
  EXPECT_TRUE(events[events.size() - 2].info().readonly());
  EXPECT_EQ(events.back().type(), v1::WatchEvent::TYPE_DELETED);
  EXPECT_EQ(events.back().name(), "j/0");
}

TEST(CliTokenTest, TokenFileIsSent) {
  testing::TestDaemonOptions options;
  options.token = "s3cret";
  auto daemon = testing::TestDaemon::Start(options);
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  const std::string socket = (*daemon)->socket_path();
  const std::string token_file = (*daemon)->dir() + "/client.token";
  std::ofstream(token_file) << "  s3cret\n";
  const std::string wrong_file = (*daemon)->dir() + "/wrong.token";
  std::ofstream(wrong_file) << "nope\n";
  const std::string cli = SHMARRAY_CLI_PATH;
  ExpectError(RunCli({cli, "--socket", socket, "ls"}), 1, "UNAUTHENTICATED: ");
  ExpectError(RunCli({cli, "--socket", socket, "--token-file", wrong_file, "ls"}), 1,
              "UNAUTHENTICATED: ");
  ExpectError(RunCli({cli, "--socket", socket, "--token-file", "/nonexistent/token", "ls"}), 1,
              "cannot read token file");
  const CliResult r = RunCli({cli, "--socket", socket, "--token-file", token_file, "ls"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith("NAME"));
}

}  // namespace
}  // namespace shmarray

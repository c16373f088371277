// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: cli_test.cc
// -----------------------------------------------------------------------------
// Tests of the `shmarray` CLI (client/cli/) through the real binaries:
// a TestDaemon runs shmarrayd, the CLI (SHMARRAY_CLI_PATH) is fork/exec'd
// with stdout and stderr captured, --json output is checked against its
// pinned schema (and parsed by Python's json), and .npy transfers are checked
// with NumPy (SHMARRAY_PYTHON3) in both directions. TLS through the CLI uses a
// certificate made by openssl.

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "testing/daemon.h"

extern char** environ;

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

Running Spawn(const std::vector<std::string>& argv, const std::vector<std::string>* env = nullptr) {
  // The child's environment, built before fork: the test's own, without its
  // SHMARRAY_* variables when `env` is given, plus `env`.
  std::vector<std::string> environment;
  for (char** e = environ; *e != nullptr; ++e) {
    if (env == nullptr || std::string_view(*e).rfind("SHMARRAY_", 0) != 0) {
      environment.emplace_back(*e);
    }
  }
  if (env != nullptr) environment.insert(environment.end(), env->begin(), env->end());
  std::vector<char*> envp;
  for (std::string& e : environment) envp.push_back(e.data());
  envp.push_back(nullptr);
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
    execve(args[0], args.data(), envp.data());
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

// As RunCli with `env` ("NAME=value") added to the environment, and the
// SHMARRAY_* variables of the test's own environment removed.
CliResult RunCliWithEnv(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  return Finish(Spawn(argv, &env));
}

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

// The JSON text of the value of `key` in the top-level object `json` ("" when
// absent). Enough for the CLI's compact objects; full parsing is Python's.
std::string Field(const std::string& json, const std::string& key) {
  const std::string needle = "\"" + key + "\":";
  int depth = 0;
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (c == '"') {
      if (depth == 1 && json.compare(i, needle.size(), needle) == 0) {
        const size_t start = i + needle.size();
        int d = 0;
        bool in_string = false;
        for (size_t j = start; j < json.size(); ++j) {
          const char v = json[j];
          if (in_string) {
            if (v == '\\') {
              ++j;
            } else if (v == '"') {
              in_string = false;
            }
          } else if (v == '"') {
            in_string = true;
          } else if (v == '{' || v == '[') {
            ++d;
          } else if (v == '}' || v == ']') {
            if (d == 0) return json.substr(start, j - start);
            --d;
          } else if (v == ',' && d == 0) {
            return json.substr(start, j - start);
          }
        }
        return "";
      }
      for (++i; i < json.size() && json[i] != '"'; ++i) {
        if (json[i] == '\\') ++i;
      }
      continue;
    }
    if (c == '{' || c == '[') ++depth;
    if (c == '}' || c == ']') --depth;
  }
  return "";
}

// The value of a string field, unquoted (no escapes in the tests' values).
std::string StrField(const std::string& json, const std::string& key) {
  const std::string raw = Field(json, key);
  if (raw.size() < 2 || raw.front() != '"') return "<not a string: " + raw + ">";
  return raw.substr(1, raw.size() - 2);
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
  ExpectError(RunCli({cli, "create", "x", "--shape", "3"}), 2,
              "create needs exactly one of --format (PEP 3118) and --dtype (NumPy)");
  ExpectError(RunCli({cli, "create", "x", "--format", "d", "--dtype", "f8", "--shape", "3"}), 2,
              "exactly one of --format");
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

TEST(CliUsageTest, NoDaemonIsUnavailableWithAHint) {
  CliResult r = RunCli({SHMARRAY_CLI_PATH, "--socket", "/nonexistent/shmarray.sock", "ls"});
  ExpectError(r, 1, "UNAVAILABLE: ");
  EXPECT_THAT(r.err, HasSubstr("(is shmarrayd running? it should listen on "
                               "unix:/nonexistent/shmarray.sock)"));
  // The default socket is named.
  const std::string runtime = ::testing::TempDir() + "/cli-no-daemon";
  std::filesystem::create_directories(runtime);
  r = RunCliWithEnv({SHMARRAY_CLI_PATH, "ls"}, {"XDG_RUNTIME_DIR=" + runtime});
  ExpectError(r, 1, "UNAVAILABLE: ");
  EXPECT_THAT(r.err, HasSubstr("is shmarrayd running? it listens on unix:" + runtime +
                               "/shmarray/default.sock by default"));
  // TCP: the hint also names TLS.
  r = RunCli({SHMARRAY_CLI_PATH, "--target", "127.0.0.1:1", "ls"});
  ExpectError(r, 1, "UNAVAILABLE: ");
  EXPECT_THAT(r.err, HasSubstr("listening on 127.0.0.1:1? if it serves TLS, pass --tls-ca FILE"));
}

TEST(CliUsageTest, ConnectionFlagMistakes) {
  const std::string cli = SHMARRAY_CLI_PATH;
  ExpectError(RunCli({cli, "--socket", "/a.sock", "--tls-ca", "/etc/hostname", "ls"}), 2,
              "--tls-ca applies to a TCP --target HOST:PORT");
  ExpectError(RunCli({cli, "--target", "127.0.0.1:1", "--tls-server-name", "x", "ls"}), 2,
              "--tls-server-name needs --tls-ca");
  ExpectError(RunCli({cli, "--target", "127.0.0.1:1", "--tls-ca", "/nonexistent.pem", "ls"}), 1,
              "cannot read --tls-ca file '/nonexistent.pem'");
  ExpectError(RunCli({cli, "--socket", "/a.sock", "--token-file", "/nonexistent/t", "ls"}), 1,
              "cannot read token file");
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
  for (const char* field : {"name:",
                            "kind:            array",
                            "format:          <d",
                            "dtype:           float64",
                            "description:     double",
                            "itemsize:        8",
                            "order:           C",
                            "size:            27",
                            "offset:          0",
                            "nbytes:          216",
                            "readonly:        false",
                            "c_contiguous:    true",
                            "f_contiguous:    false",
                            "generation:",
                            "base:",
                            "base_generation:",
                            "segment_name:    ",
                            "segment_size:",
                            "data_offset:     4096",
                            "data_size:       216",
                            "created:"}) {
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
  for (const char* col : {"FORMAT", "DTYPE", "SHAPE", "ORDER", "BYTES", "FLAGS"}) {
    EXPECT_THAT(lines[0], HasSubstr(col));
  }
  EXPECT_THAT(lines[1], ::testing::MatchesRegex("cube +<d +float64 +\\(3, 3, 3\\) +C +216 +- *"));
  EXPECT_THAT(lines[2],
              ::testing::MatchesRegex("cube/face +<d +float64 +\\(3, 3\\) +- +72 +view *"));
  EXPECT_THAT(lines[3], ::testing::MatchesRegex("img +<B +uint8 +\\(4, 5\\) +F +20 +ro *"));
  out = Ok({"ls", "cube/"});
  EXPECT_THAT(out, HasSubstr("cube/face"));
  EXPECT_THAT(out, ::testing::Not(HasSubstr("img")));

  // The daemon refuses; the CLI says how to go on.
  ExpectError(Cli({"rm", "cube"}), 1,
              "FAILED_PRECONDITION: array 'cube' has named views 'cube/face'; delete them first "
              "or run 'shmarray rm --cascade cube'");
  EXPECT_EQ(Ok({"rm", "cube", "--cascade"}), "deleted cube\ndeleted cube/face\n");
  EXPECT_EQ(Ok({"rm", "img"}), "deleted img\n");
  EXPECT_EQ(Ok({"ls"}), "NAME  FORMAT  DTYPE  SHAPE  ORDER  BYTES  FLAGS\n");
  EXPECT_THAT(daemon_->ListSegments(), IsEmpty());
}

// Replaces what changes from run to run (generations, segment names, times)
// so that the rest of the JSON can be compared byte for byte.
std::string Masked(std::string json, const std::string& prefix) {
  json = std::regex_replace(json, std::regex("\"generation\":[0-9]+"), "\"generation\":G");
  json =
      std::regex_replace(json, std::regex("\"base_generation\":[0-9]+"), "\"base_generation\":G");
  json = std::regex_replace(json, std::regex("\"unix_ns\":[0-9]+"), "\"unix_ns\":T");
  json =
      std::regex_replace(json, std::regex("\"created_unix_ns\":[0-9]+"), "\"created_unix_ns\":T");
  json = std::regex_replace(
      json, std::regex("\"(created|time)\":\"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\\.[0-9]{9}Z\""),
      "\"$1\":\"TIME\"");
  json = std::regex_replace(json, std::regex(prefix + "[./][0-9a-f]+"), "SEGMENT");
  return json;
}

// The JSON schema of every command, pinned (README and client/json.h
// document it): key order, numbers as numbers, null for absent values,
// every field the text output shows, and the expression of a selection.
TEST_F(CliTest, JsonSchemaIsPinned) {
  const std::string p = daemon_->segment_prefix();
  std::string out = Ok({"--json", "create", "a", "--format", "i", "--shape", "2,3"});
  EXPECT_EQ(Masked(out, p),
            "{\"name\":\"a\",\"kind\":\"array\",\"format\":\"<i\",\"dtype\":\"int32\","
            "\"description\":\"int32_t\",\"itemsize\":4,\"shape\":[2,3],\"strides\":[12,4],"
            "\"offset\":0,\"order\":\"C\",\"size\":6,\"nbytes\":24,\"readonly\":false,"
            "\"c_contiguous\":true,\"f_contiguous\":false,\"generation\":G,\"base\":null,"
            "\"base_generation\":null,\"segment_name\":\"SEGMENT\",\"segment_size\":4120,"
            "\"data_offset\":4096,\"data_size\":24,\"created\":\"TIME\","
            "\"created_unix_ns\":T}\n");
  const std::string generation = Field(out, "generation");
  // Global flags may also follow the command.
  EXPECT_EQ(Field(Ok({"info", "a", "--json"}), "generation"), generation);

  out = Ok({"--json", "slice", "a[::-1, 1:]", "--as", "a/v"});
  EXPECT_EQ(Masked(out, p),
            "{\"expression\":\"a[::-1, 1:]\",\"name\":\"a/v\",\"kind\":\"view\","
            "\"format\":\"<i\",\"dtype\":\"int32\",\"description\":\"int32_t\",\"itemsize\":4,"
            "\"shape\":[2,2],\"strides\":[-12,4],\"offset\":16,\"order\":\"-\",\"size\":4,"
            "\"nbytes\":16,\"readonly\":false,\"c_contiguous\":false,\"f_contiguous\":false,"
            "\"generation\":G,\"base\":\"a\",\"base_generation\":G,\"segment_name\":\"SEGMENT\","
            "\"segment_size\":4120,\"data_offset\":4096,\"data_size\":24,\"created\":\"TIME\","
            "\"created_unix_ns\":T}\n");
  EXPECT_EQ(Field(out, "base_generation"), generation);
  // NAME EXPR is echoed as NAME[EXPR].
  out = Ok({"--json", "slice", "a", "1"});
  EXPECT_EQ(StrField(out, "expression"), "a[1]");
  EXPECT_EQ(Field(out, "shape"), "[3]");
  EXPECT_EQ(Field(out, "offset"), "12");
  EXPECT_EQ(StrField(Ok({"--json", "info", "a[:, 0]"}), "expression"), "a[:, 0]");

  out = Ok({"--json", "copy", "a[:, ::2]", "b", "--order", "F"});
  EXPECT_EQ(StrField(out, "name"), "b");
  EXPECT_EQ(Field(out, "shape"), "[2,2]");
  EXPECT_EQ(StrField(out, "order"), "F");
  EXPECT_EQ(Field(out, "expression"), "");
  EXPECT_EQ(StrField(Ok({"--json", "copy", "a[0, :2]", "b[:, 1]"}), "expression"), "b[:, 1]");
  EXPECT_EQ(Field(Ok({"--json", "seal", "b"}), "readonly"), "true");

  out = Ok({"--json", "ls"});
  EXPECT_THAT(out, StartsWith("{\"arrays\":[{\"name\":\"a\","));
  EXPECT_EQ(CountLines(out), 1);
  EXPECT_THAT(out, HasSubstr("},{\"name\":\"a/v\","));
  EXPECT_THAT(out, HasSubstr("},{\"name\":\"b\","));

  if (!std::string(SHMARRAY_PYTHON3).empty()) {
    Ok({"get", "b", Path("b.npy")});
    out = Ok({"--json", "get", "a[1, ::-1]", Path("row.npy")});
    EXPECT_EQ(out, "{\"source\":\"a[1, ::-1]\",\"file\":\"" + Path("row.npy") +
                       "\",\"format\":\"<i\",\"dtype\":\"int32\",\"shape\":[3],\"order\":\"C\","
                       "\"nbytes\":12}\n");
    out = Ok({"--json", "put", "a[0]", Path("row.npy")});
    EXPECT_THAT(out, StartsWith("{\"file\":\"" + Path("row.npy") +
                                "\",\"target\":\"a[0]\",\"bytes_written\":12,\"array\":{"
                                "\"expression\":\"a[0]\",\"name\":\"a\","));
    // Python's json reads every command's output; integers stay integers.
    const std::string ls = Ok({"--json", "ls"});
    std::ofstream(Path("ls.json")) << ls;
    const CliResult r = Python(
        "import json, sys\n"
        "d = json.load(open(sys.argv[1] + '/ls.json'))\n"
        "a = d['arrays'][0]\n"
        "assert a['shape'] == [2, 3] and isinstance(a['generation'], int), a\n"
        "assert a['generation'] > 2**53 or a['generation'] > 0\n"
        "assert d['arrays'][1]['base_generation'] == a['generation']\n"
        "assert a['base'] is None and d['arrays'][1]['base'] == 'a'\n"
        "assert [x['name'] for x in d['arrays']] == ['a', 'a/v', 'b']\n");
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  }

  EXPECT_EQ(Ok({"--json", "rm", "a", "--cascade"}), "{\"deleted\":[\"a\",\"a/v\"]}\n");
}

TEST_F(CliTest, ServerErrorsExitOneWithTheCodeAndMessage) {
  Ok({"create", "x", "--format", "d", "--shape", "3,4"});
  ExpectError(Cli({"info", "nope"}), 1, "NOT_FOUND: ");
  EXPECT_THAT(Cli({"info", "nope"}).err, HasSubstr("'nope'"));
  ExpectError(Cli({"create", "x", "--format", "d", "--shape", "1"}), 1, "ALREADY_EXISTS: ");
  // A bad format is refused before the daemon is asked.
  ExpectError(Cli({"create", "y", "--format", "T{i:a", "--shape", "1"}), 2, "invalid --format");
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
  const std::string f = Ok({"--json", "info", "f_i4"});
  EXPECT_EQ(Field(f, "f_contiguous"), "true");
  EXPECT_EQ(Field(f, "shape"), "[3,4,5]");
  EXPECT_EQ(StrField(Ok({"--json", "info", "be_f4"}), "format"), ">f");
  EXPECT_EQ(StrField(Ok({"--json", "info", "be_f4"}), "dtype"), ">f4");
  EXPECT_EQ(StrField(Ok({"--json", "info", "struct"}), "format"), "T{<d:x:(2)<h:y:}");

  Ok({"get", "f_i4", Path("outF_f_i4.npy"), "--order", "F"});
  Ok({"get", "c_f8[::2, ::-1]", Path("strided.npy")});
  Ok({"get", "f_i4[1, ::-2, 1::2]", Path("stridedF.npy"), "--order", "F"});

  // put into strided selections of an existing array.
  Ok({"copy", "c_f8", "target"});
  Ok({"get", "row[:3]", Path("row3.npy")});
  Ok({"put", "target[1, ::2]", Path("row3.npy")});
  const std::string written = Ok({"--json", "put", "target[3, :]", Path("row.npy")});
  EXPECT_EQ(Field(written, "bytes_written"), "40");
  EXPECT_EQ(Field(Field(written, "array"), "shape"), "[5]");
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
  while (!read_some("\"event\":\"deleted\"")) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "no delete event: " << out;
  }
  kill(w.pid, SIGINT);
  const CliResult r = Finish(w);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  out += r.out;
  std::vector<std::string> events;
  std::stringstream ss(out);
  for (std::string line; std::getline(ss, line);) events.push_back(line);
  ASSERT_GE(events.size(), 3u) << out;
  EXPECT_EQ(
      Masked(events[0], daemon_->segment_prefix()).substr(0, 70),
      "{\"event\":\"created\",\"name\":\"j/0\",\"time\":\"TIME\",\"unix_ns\":T,\"dropped\":0,");
  EXPECT_EQ(StrField(Field(events[0], "array"), "format"), "<i");
  EXPECT_EQ(Field(Field(events[0], "array"), "shape"), "[2]");
  EXPECT_EQ(StrField(events[events.size() - 2], "event"), "sealed");
  EXPECT_EQ(StrField(events[events.size() - 2], "name"), "j/0");
  EXPECT_EQ(Field(Field(events[events.size() - 2], "array"), "readonly"), "true");
  EXPECT_EQ(StrField(events.back(), "event"), "deleted");
  EXPECT_EQ(StrField(events.back(), "name"), "j/0");
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

// ---------------------------------------------------------------------------
// NAME[EXPR] everywhere, NumPy dtypes, dtype names.

TEST_F(CliTest, EveryCommandTakesNameExpr) {
  Ok({"create", "j1", "--format", "i", "--shape", "5"});
  // The issue's example: slice 'j1[::-2]'.
  std::string out = Ok({"slice", "j1[::-2]"});
  EXPECT_THAT(out, StartsWith("expression:      j1[::-2]\nname:            j1\n"));
  EXPECT_THAT(out, HasSubstr("shape:           (3,)\n"));
  EXPECT_THAT(out, HasSubstr("strides:         (-8,)\n"));
  EXPECT_EQ(Ok({"slice", "j1", "::-2"}), out);  // NAME EXPR is the same
  out = Ok({"slice", "j1[-1]", "--as", "j1/last"});
  EXPECT_THAT(out, HasSubstr("kind:            view\n"));
  EXPECT_THAT(out, HasSubstr("shape:           ()\n"));
  out = Ok({"info", "j1[1:3]"});
  EXPECT_THAT(out, StartsWith("expression:      j1[1:3]\n"));
  EXPECT_THAT(out, HasSubstr("offset:          4\n"));
  EXPECT_THAT(Ok({"info", "j1"}), StartsWith("name:            j1\n"));
  Ok({"copy", "j1[::2]", "j2"});
  Ok({"copy", "j1[:2]", "j2[1:]"});
  if (!std::string(SHMARRAY_PYTHON3).empty()) {
    Ok({"get", "j2[::-1]", Path("j2.npy")});
    Ok({"put", "j1[2:]", Path("j2.npy")});
    ExpectError(Cli({"put", "j1[0]", Path("j2.npy")}), 1, "INVALID_ARGUMENT: ");
  }
  // Where an index has no meaning, the CLI says so.
  ExpectError(Cli({"rm", "j1[0]"}), 2, "rm takes a NAME, not NAME[EXPR]: 'j1[0]'");
  ExpectError(Cli({"seal", "j1[::2]"}), 2, "seal takes a NAME, not NAME[EXPR]");
  ExpectError(Cli({"create", "n[0]", "--format", "d", "--shape", "1"}), 2,
              "create takes a NAME, not NAME[EXPR]");
  ExpectError(Cli({"slice", "j1[1]", "2"}), 2, "give the index once");
  ExpectError(Cli({"slice", "j1"}), 2, "slice needs an index: 'NAME[EXPR]'");
  ExpectError(Cli({"info", "j1[9]"}), 1, "OUT_OF_RANGE: Index out of bounds (axis 0)");
  ExpectError(Cli({"info", "[0]"}), 2, "missing array name");
  Ok({"rm", "--cascade", "j1"});
  Ok({"rm", "j2"});
}

TEST_F(CliTest, CreateTakesNumPyDtypes) {
  const std::pair<const char*, const char*> cases[] = {
      {"f8", "<d"},           {"<i4", "<i"},
      {">i4", ">i"},          {"int64", "<q"},
      {"float32", "<f"},      {"c16", "<Zd"},
      {"S5", "<5s"},          {"bool", "<?"},
      {"(2,3)f4", "(2,3)<f"}, {"[('x','<f8'),('y','<f8')]", "T{<d:x:<d:y:}"},
  };
  int i = 0;
  for (const auto& [dtype, format] : cases) {
    SCOPED_TRACE(dtype);
    const std::string name = "dt" + std::to_string(i++);
    const std::string out = Ok({"--json", "create", name, "--dtype", dtype, "--shape", "2"});
    EXPECT_EQ(StrField(out, "format"), format);
  }
  // The same array as with --format.
  EXPECT_EQ(StrField(Ok({"--json", "create", "q1", "--dtype", "int64", "--shape", "2"}), "format"),
            StrField(Ok({"--json", "create", "q2", "--format", "q", "--shape", "2"}), "format"));
  EXPECT_THAT(Ok({"create", "filled", "--dtype", "int16", "--shape", "3", "--fill", "-3"}),
              HasSubstr("dtype:           int16\n"));

  // A NumPy spelling given as --format: the error says what to write.
  ExpectError(Cli({"create", "x", "--format", "int64", "--shape", "3"}), 2,
              "did you mean 'q' (NumPy 'int64')? (or pass --dtype 'int64')");
  ExpectError(Cli({"create", "x", "--format", "f8", "--shape", "3"}), 2,
              "did you mean 'd' (NumPy 'float64')?");
  ExpectError(Cli({"create", "x", "--format", "<i8", "--shape", "3"}), 2,
              "did you mean 'q' (NumPy 'int64')?");
  ExpectError(Cli({"create", "x", "--format", "c16", "--shape", "3"}), 2,
              "did you mean 'Zd' (NumPy 'complex128')?");
  // And the other way round.
  ExpectError(Cli({"create", "x", "--dtype", "Zd", "--shape", "3"}), 2, "use --format 'Zd'");
  ExpectError(Cli({"create", "x", "--dtype", "float65", "--shape", "3"}), 2,
              "invalid --dtype 'float65': unknown NumPy dtype 'float65'");
  ExpectError(Cli({"create", "x", "--dtype", "U5", "--shape", "3"}), 2, "unicode");
  EXPECT_EQ(Cli({"info", "x"}).exit_code, 1);  // nothing was created
}

// ls, info and get name the dtype the same way, and it is the .npy file's.
TEST_F(CliTest, GetWritesTheDtypeLsShows) {
  if (std::string(SHMARRAY_PYTHON3).empty()) GTEST_SKIP() << "no NumPy";
  Ok({"create", "le", "--dtype", "f8", "--shape", "4,6", "--fill", "1.5"});
  Ok({"create", "be", "--format", ">f", "--shape", "3"});
  Ok({"create", "st", "--dtype", "[('x','<f8'),('y','<i2')]", "--shape", "2"});
  const std::string ls = Ok({"ls"});
  EXPECT_THAT(ls, ::testing::ContainsRegex("\nle +<d +float64 +\\(4, 6\\)"));
  EXPECT_THAT(ls, ::testing::ContainsRegex("\nbe +>f +>f4 +\\(3,\\)"));
  EXPECT_THAT(ls, ::testing::ContainsRegex("\nst +T\\{<d:x:<h:y:\\} +\\[\\('x', '<f8'\\), "
                                           "\\('y', '<i2'\\)\\] +\\(2,\\)"));
  EXPECT_EQ(Ok({"get", "le[1, ::-2]", Path("le.npy")}),
            "le[1, ::-2] -> " + Path("le.npy") + ": float64 (3,) C order, 24 bytes\n");
  EXPECT_EQ(Ok({"get", "be", Path("be.npy")}),
            "be -> " + Path("be.npy") + ": >f4 (3,) C order, 12 bytes\n");
  EXPECT_EQ(Ok({"get", "st", Path("st.npy")}),
            "st -> " + Path("st.npy") + ": [('x', '<f8'), ('y', '<i2')] (2,) C order, 20 bytes\n");
  const CliResult r = Python(
      "import numpy as np, sys\n"
      "d = sys.argv[1]\n"
      "assert np.load(d + '/le.npy').dtype == np.dtype('float64')\n"
      "assert np.load(d + '/be.npy').dtype == np.dtype('>f4')\n"
      "assert np.load(d + '/st.npy').dtype == np.dtype([('x', '<f8'), ('y', '<i2')])\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

// ---------------------------------------------------------------------------
// Reaching every daemon setup: TLS, tokens, the environment.

// Makes a self-signed certificate for `san` in `dir`; returns false when
// openssl fails.
bool MakeCertificate(const std::string& dir, const std::string& name, const std::string& san) {
  const CliResult r =
      RunCli({"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
              dir + "/" + name + ".key", "-out", dir + "/" + name + ".pem", "-days", "1", "-subj",
              "/CN=shmarray-test", "-addext", "subjectAltName=" + san});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.exit_code == 0;
}

// README's secure setup: --listen with TLS and a token. The CLI reaches it
// with --tls-ca and --token-file, or with the environment; flags win.
TEST(CliTlsTest, ReachesATlsDaemonWithATokenByFlagsOrEnvironment) {
  const std::string dir = ::testing::TempDir() + "/cli-tls-" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  ASSERT_TRUE(MakeCertificate(dir, "ip", "IP:127.0.0.1"));
  testing::TestDaemonOptions options;
  options.listen_tcp = true;
  options.token = "tls-t0ken";
  options.extra_flags = {"--tls-cert", dir + "/ip.pem", "--tls-key", dir + "/ip.key"};
  auto daemon = testing::TestDaemon::Start(options);
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  const std::string target = (*daemon)->tcp_target();
  std::ofstream(dir + "/token") << "tls-t0ken\n";
  const std::string cli = SHMARRAY_CLI_PATH;

  // Plaintext to a TLS port: UNAVAILABLE with the TLS hint.
  CliResult r = RunCliWithEnv({cli, "--target", target, "--token-file", dir + "/token", "ls"}, {});
  ExpectError(r, 1, "UNAVAILABLE: ");
  EXPECT_THAT(r.err, HasSubstr("if it serves TLS, pass --tls-ca FILE"));
  // TLS without the token.
  ExpectError(RunCliWithEnv({cli, "--target", target, "--tls-ca", dir + "/ip.pem", "ls"}, {}), 1,
              "UNAUTHENTICATED: ");
  // Flags.
  r = RunCliWithEnv({cli, "--target", target, "--tls-ca", dir + "/ip.pem", "--token-file",
                     dir + "/token", "create", "over/tls", "--dtype", "i4", "--shape", "3"},
                    {});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // The environment alone.
  const std::vector<std::string> env = {"SHMARRAY_TARGET=" + target,
                                        "SHMARRAY_TLS_CA=" + dir + "/ip.pem",
                                        "SHMARRAY_TOKEN_FILE=" + dir + "/token"};
  r = RunCliWithEnv({cli, "ls"}, env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("over/tls"));
  // Flags win over the environment: a wrong SHMARRAY_TARGET is overridden.
  r = RunCliWithEnv({cli, "--target", target, "ls"},
                    {"SHMARRAY_TARGET=127.0.0.1:1", "SHMARRAY_TLS_CA=" + dir + "/ip.pem",
                     "SHMARRAY_TOKEN_FILE=" + dir + "/token"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // ... and a wrong token file in the environment is overridden by the flag.
  std::ofstream(dir + "/wrong") << "nope\n";
  r = RunCliWithEnv({cli, "--token-file", dir + "/token", "ls"},
                    {"SHMARRAY_TARGET=" + target, "SHMARRAY_TLS_CA=" + dir + "/ip.pem",
                     "SHMARRAY_TOKEN_FILE=" + dir + "/wrong"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // A Unix socket ignores SHMARRAY_TLS_CA (the same daemon's socket).
  r = RunCliWithEnv({cli, "--socket", (*daemon)->socket_path(), "rm", "over/tls"}, env);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "deleted over/tls\n");
  std::filesystem::remove_all(dir);
}

// A certificate for a DNS name, reached by IP: --tls-server-name.
TEST(CliTlsTest, ServerNameOverride) {
  const std::string dir = ::testing::TempDir() + "/cli-tls-name-" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  ASSERT_TRUE(MakeCertificate(dir, "dns", "DNS:shmarrayd.test"));
  testing::TestDaemonOptions options;
  options.listen_tcp = true;
  options.extra_flags = {"--tls-cert", dir + "/dns.pem", "--tls-key", dir + "/dns.key"};
  auto daemon = testing::TestDaemon::Start(options);
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  const std::string target = (*daemon)->tcp_target();
  const std::string cli = SHMARRAY_CLI_PATH;
  CliResult r = RunCliWithEnv({cli, "--target", target, "--tls-ca", dir + "/dns.pem", "ls"}, {});
  ExpectError(r, 1, "UNAVAILABLE: ");
  EXPECT_THAT(r.err, HasSubstr("--tls-server-name"));
  r = RunCliWithEnv({cli, "--target", target, "--tls-ca", dir + "/dns.pem", "--tls-server-name",
                     "shmarrayd.test", "ls"},
                    {});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith("NAME"));
  r = RunCliWithEnv({cli, "ls"},
                    {"SHMARRAY_TARGET=" + target, "SHMARRAY_TLS_CA=" + dir + "/dns.pem",
                     "SHMARRAY_TLS_SERVER_NAME=shmarrayd.test"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::filesystem::remove_all(dir);
}

TEST_F(CliTest, EnvironmentNamesTheUnixSocket) {
  CliResult r = RunCliWithEnv({SHMARRAY_CLI_PATH, "create", "e", "--dtype", "u1", "--shape", "2"},
                              {"SHMARRAY_TARGET=unix:" + daemon_->socket_path()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = RunCliWithEnv({SHMARRAY_CLI_PATH, "rm", "e"}, {"SHMARRAY_TARGET=" + daemon_->socket_path()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "deleted e\n");
}

// --- RPCs per command ---------------------------------------------------------

// Runs `argv` and returns its stdout ("" when it cannot run or fails).
std::string Capture(const std::vector<std::string>& argv) {
  const CliResult r = RunCli(argv);
  EXPECT_EQ(r.exit_code, 0) << ::testing::PrintToString(argv) << "\n" << r.err;
  return r.out;
}

// Every command is as few round trips as its work needs: `put` is one Write
// (the daemon checks shape, format and size with the target), `put --create`
// a Create and a Write, `get` one Read (the stream's first message describes
// what follows), also with --json; on the daemon's host `get` copies from
// shared memory after one Stat, and --stream-reads makes it the one Read. Counted by the daemon
// itself, on its Prometheus endpoint (grpc_server_started_total per method).
class CliRpcCountTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::TestDaemonOptions options;
    options.extra_flags = {"--metrics-listen", "127.0.0.1:0"};
    auto daemon = testing::TestDaemon::Start(options);
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = std::move(*daemon);
    static constexpr char kNeedle[] = "metrics on http://127.0.0.1:";
    ASSERT_TRUE(daemon_->WaitForStderr(kNeedle, std::chrono::seconds(10))) << daemon_->StderrTail();
    const std::string text = daemon_->StderrText();
    port_ = std::atoi(text.c_str() + text.find(kNeedle) + sizeof(kNeedle) - 1);
    ASSERT_GT(port_, 0);
  }

  // Method -> ArrayService RPCs started so far.
  std::map<std::string, int> Started() const {
    std::map<std::string, int> out;
    const std::string body = Capture({"/usr/bin/curl", "-sSf", "--max-time", "10",
                                      "http://127.0.0.1:" + std::to_string(port_) + "/metrics"});
    static const std::regex kLine(R"re(^grpc_server_started_total\{(.*)\} ([0-9.e+]+)$)re");
    static const std::regex kMethod(R"re(grpc_method="([A-Za-z]+)")re");
    std::stringstream in(body);
    for (std::string line; std::getline(in, line);) {
      std::smatch m, method;
      if (!std::regex_match(line, m, kLine)) continue;
      const std::string labels = m[1];
      if (labels.find("grpc_service=\"shmarray.v1.ArrayService\"") == std::string::npos) continue;
      if (!std::regex_search(labels, method, kMethod)) continue;
      out[method[1]] += static_cast<int>(std::strtod(m[2].str().c_str(), nullptr));
    }
    return out;
  }

  // The RPCs (method -> count) that `args` made.
  std::map<std::string, int> Count(const std::vector<std::string>& args) const {
    const std::map<std::string, int> before = Started();
    std::vector<std::string> argv = {SHMARRAY_CLI_PATH, "--socket", daemon_->socket_path()};
    argv.insert(argv.end(), args.begin(), args.end());
    Capture(argv);
    std::map<std::string, int> diff = Started();
    for (const auto& [method, n] : before) {
      diff[method] -= n;
      if (diff[method] == 0) diff.erase(method);
    }
    return diff;
  }

  std::string Path(const std::string& name) const { return daemon_->dir() + "/" + name; }

  std::unique_ptr<testing::TestDaemon> daemon_;
  int port_ = 0;
};

TEST_F(CliRpcCountTest, PutAndGetAreOneStreamEach) {
  using Calls = std::map<std::string, int>;
  EXPECT_EQ(Count({"create", "a", "--format", "d", "--shape", "4,3", "--fill", "2"}),
            (Calls{{"Create", 1}}));
  EXPECT_EQ(Count({"get", "a", Path("a.npy")}), (Calls{{"Stat", 1}}));
  EXPECT_EQ(Count({"--stream-reads", "get", "a", Path("streamed.npy")}), (Calls{{"Read", 1}}));
  EXPECT_EQ(Count({"--json", "--stream-reads", "get", "a[1]", Path("row.npy")}),
            (Calls{{"Read", 1}}));
  EXPECT_EQ(Count({"--json", "get", "a[1]", Path("row_local.npy")}), (Calls{{"Stat", 1}}));
  EXPECT_EQ(Count({"put", "a", Path("a.npy")}), (Calls{{"Write", 1}}));
  EXPECT_EQ(Count({"--json", "put", "a", Path("a.npy")}), (Calls{{"Write", 1}}));
  EXPECT_EQ(Count({"--json", "put", "a[2]", Path("row.npy")}), (Calls{{"Write", 1}}));
  EXPECT_EQ(Count({"--json", "put", "--create", "b", Path("a.npy")}),
            (Calls{{"Create", 1}, {"Write", 1}}));
  // The checks still hold: a row into the whole array is refused before any
  // byte lands, with both shapes named.
  const CliResult r =
      RunCli({SHMARRAY_CLI_PATH, "--socket", daemon_->socket_path(), "put", "a", Path("row.npy")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("INVALID_ARGUMENT"));
  EXPECT_THAT(r.err, HasSubstr("the source has shape (3,) but the selection has shape (4, 3)"));
}

// --streams N: get and put of an array over 4 MiB are the first 4 MiB plus
// N parallel parts (N + 1 streams); smaller ones stay one stream. The bytes
// are those of a single stream.
TEST_F(CliRpcCountTest, StreamsSplitLargeGetAndPut) {
  using Calls = std::map<std::string, int>;
  EXPECT_EQ(Count({"create", "big", "--format", "<d", "--shape", "1048576", "--fill", "3"}),
            (Calls{{"Create", 1}}));
  EXPECT_EQ(Count({"create", "small", "--format", "<d", "--shape", "1000", "--fill", "2"}),
            (Calls{{"Create", 1}}));
  EXPECT_EQ(Count({"--stream-reads", "get", "big", Path("one.npy")}), (Calls{{"Read", 1}}));
  EXPECT_EQ(Count({"--stream-reads", "--streams", "3", "get", "big", Path("three.npy")}),
            (Calls{{"Read", 4}}));
  EXPECT_EQ(Count({"--stream-reads", "--streams", "3", "get", "small", Path("small.npy")}),
            (Calls{{"Read", 1}}));
  const auto slurp = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  const std::string one = slurp(Path("one.npy"));
  EXPECT_GT(one.size(), 8u << 20);
  EXPECT_EQ(slurp(Path("three.npy")), one);
  EXPECT_EQ(Count({"--streams", "3", "put", "big", Path("three.npy")}), (Calls{{"Write", 4}}));
  EXPECT_EQ(Count({"--streams", "3", "put", "small", Path("small.npy")}), (Calls{{"Write", 1}}));
  EXPECT_EQ(Count({"--stream-reads", "get", "big", Path("again.npy")}), (Calls{{"Read", 1}}));
  EXPECT_EQ(slurp(Path("again.npy")), one);
  // On the daemon's host, without --stream-reads: the same file, no Read.
  EXPECT_EQ(Count({"get", "big", Path("local.npy")}), (Calls{{"Stat", 1}}));
  EXPECT_EQ(slurp(Path("local.npy")), one);
  for (const char* bad : {"0", "65", "x"}) {
    const CliResult r =
        RunCli({SHMARRAY_CLI_PATH, "--socket", daemon_->socket_path(), "--streams", bad, "ls"});
    EXPECT_EQ(r.exit_code, 2) << bad;
    EXPECT_THAT(r.err, HasSubstr("--streams")) << bad;
  }
}

}  // namespace
}  // namespace shmarray

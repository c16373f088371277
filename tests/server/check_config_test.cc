// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: check_config_test.cc
// -----------------------------------------------------------------------------
// `shmarrayd --check-config` (server/main.cc) through the real binary: it
// accepts exactly the flags and values that would start the daemon, prints
// the effective configuration, exits 0 without serving (no socket, no
// directories, no segments, no files read) and exits 2 with a message on
// anything the daemon itself would refuse at the flag stage. Kubernetes and
// compose manifests are checked with it (tests/deploy/manifests_test.py).

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "testing/daemon.h"

namespace shmarray {
namespace {

using ::shmarray::testing::ExitResult;
using ::shmarray::testing::TestDaemon;
using ::shmarray::testing::TestDaemonOptions;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// A scratch directory removed at the end of the test.
class CheckConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/shmarray-check-config.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Runs shmarrayd --check-config with the harness's --socket (inside a
  // directory that does not exist yet) and --instance, plus `flags`.
  ExitResult Check(std::vector<std::string> flags, const std::string& instance = "") {
    TestDaemonOptions options;
    options.socket_path = dir_ + "/run/d.sock";
    options.instance = instance;
    options.extra_flags = std::move(flags);
    options.extra_flags.push_back("--check-config");
    absl::StatusOr<ExitResult> result = TestDaemon::RunUntilExit(options, std::chrono::seconds(10));
    EXPECT_TRUE(result.ok()) << result.status();
    if (!result.ok()) return {};
    EXPECT_TRUE(result->exited) << "killed by signal " << result->signal;
    return *result;
  }

  std::string dir_;
};

TEST_F(CheckConfigTest, ValidFlagsPrintTheConfigurationAndServeNothing) {
  const std::string instance = "cc" + std::to_string(::getpid());
  const ExitResult r =
      Check({"--listen", "0.0.0.0:7070", "--insecure", "--token-file", dir_ + "/no/such/token",
             "--max-bytes", "2G", "--max-arrays", "500", "--group", "12345", "--log-level", "warn"},
            instance);
  EXPECT_EQ(r.code, 0) << r.stderr_text;
  EXPECT_THAT(r.stderr_text, HasSubstr("shmarrayd: configuration OK"));
  EXPECT_THAT(r.stderr_text, HasSubstr("socket:         " + dir_ + "/run/d.sock"));
  EXPECT_THAT(r.stderr_text, HasSubstr("listen:         0.0.0.0:7070 (plaintext)"));
  EXPECT_THAT(r.stderr_text, HasSubstr("token-file:     " + dir_ + "/no/such/token"));
  EXPECT_THAT(r.stderr_text, HasSubstr("max-bytes:      2147483648"));
  EXPECT_THAT(r.stderr_text, HasSubstr("max-arrays:     500"));
  EXPECT_THAT(r.stderr_text, HasSubstr("group:          12345"));
  EXPECT_THAT(r.stderr_text, HasSubstr("log-level:      warn"));
  EXPECT_THAT(r.stderr_text,
              HasSubstr("segment prefix: shmarray." + std::to_string(::getuid()) + "." + instance));
  EXPECT_THAT(r.stderr_text, Not(HasSubstr("shmarrayd ready")));
  // Nothing was created: not the socket's directory, not a segment.
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/run"));
  std::vector<std::string> segments;
  for (const auto& entry : std::filesystem::directory_iterator("/dev/shm")) {
    const std::string name = entry.path().filename();
    if (name.find("." + instance) != std::string::npos) segments.push_back(name);
  }
  EXPECT_THAT(segments, IsEmpty());
}

TEST_F(CheckConfigTest, DefaultsAreShown) {
  const ExitResult r = Check({});
  EXPECT_EQ(r.code, 0) << r.stderr_text;
  EXPECT_THAT(r.stderr_text, HasSubstr("listen:         none"));
  EXPECT_THAT(r.stderr_text, HasSubstr("max-bytes:      0 (no quota)"));
  EXPECT_THAT(r.stderr_text, HasSubstr("max-arrays:     0 (100000)"));
  EXPECT_THAT(r.stderr_text, HasSubstr("token-file:     none"));
  EXPECT_THAT(r.stderr_text, HasSubstr("group:          none (modes 0600)"));
}

TEST_F(CheckConfigTest, TlsAndNoUnixAreShown) {
  const ExitResult r =
      Check({"--no-unix", "--listen", "10.1.2.3:7443", "--tls-cert", dir_ + "/c.pem", "--tls-key",
             dir_ + "/k.pem", "--token-file", dir_ + "/token"});
  EXPECT_EQ(r.code, 0) << r.stderr_text;
  EXPECT_THAT(r.stderr_text, HasSubstr("socket:         none (--no-unix)"));
  EXPECT_THAT(r.stderr_text, HasSubstr("listen:         10.1.2.3:7443 (tls)"));
}

TEST_F(CheckConfigTest, UnknownFlagsAndBadValuesExitWith2) {
  const std::vector<std::vector<std::string>> bad = {
      {"--no-such-flag"},
      {"--max-bytes", "12Q"},
      {"--max-arrays", "-1"},
      {"--log-level", "loud"},
      {"--instance", "bad/name"},
      {"--listen", "nonsense"},
      {"--tls-cert", "c.pem", "--listen", "127.0.0.1:1"},
      {"--no-unix"},
  };
  for (const std::vector<std::string>& flags : bad) {
    SCOPED_TRACE(::testing::PrintToString(flags));
    const ExitResult r = Check(flags);
    EXPECT_EQ(r.code, 2) << r.stderr_text;
    EXPECT_THAT(r.stderr_text, Not(HasSubstr("configuration OK")));
    EXPECT_FALSE(r.stderr_text.empty());
  }
  EXPECT_THAT(Check({"--no-such-flag"}).stderr_text, HasSubstr("--no-such-flag"));
  EXPECT_THAT(Check({"--tls-cert", "c.pem", "--listen", "127.0.0.1:1"}).stderr_text,
              HasSubstr("--tls-cert and --tls-key must be given together"));
}

TEST(CheckConfigLiveTest, LeavesARunningDaemonOnTheSameSocketAlone) {
  absl::StatusOr<std::unique_ptr<TestDaemon>> daemon = TestDaemon::Start();
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  TestDaemonOptions options;
  options.socket_path = (*daemon)->socket_path();
  options.instance = (*daemon)->instance();
  options.extra_flags = {"--check-config"};
  absl::StatusOr<ExitResult> r = TestDaemon::RunUntilExit(options, std::chrono::seconds(10));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->code, 0) << r->stderr_text;
  struct stat st;
  ASSERT_EQ(::lstat((*daemon)->socket_path().c_str(), &st), 0) << "the socket was removed";
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  absl::StatusOr<int> health =
      TestDaemon::HealthCheck((*daemon)->channel().get(), std::chrono::seconds(5));
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(*health, TestDaemon::kServing);
  absl::StatusOr<int> code = (*daemon)->Stop();
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
}

}  // namespace
}  // namespace shmarray

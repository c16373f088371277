// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: multiprocess_test.cc
// -----------------------------------------------------------------------------
// One writer process and three reader processes attached to one array of a
// real shmarrayd. Every write is visible to every reader through the mapping
// it made once at startup (no copy, no re-attach), and each process checks
// that its data pointer lies in a shared mapping of /dev/shm/<segment>, the
// same physical pages. The helpers are this test binary re-executed with a
// gtest filter selecting a DISABLED_ helper test; the parent drives them
// through pipes (fd 3: commands in, fd 4: answers out), never with sleeps.

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shmarray/client/client.h"
#include "shmarray/shm/view.h"
#include "testing/daemon.h"
#include "testing/proc_maps.h"

extern char** environ;

namespace shmarray::client {
namespace {

using ::shmarray::shm::c_contig;
using ::shmarray::shm::View;
using ::shmarray::testing::TestDaemon;
using ::testing::IsEmpty;

constexpr int kCmdFd = 3;            // in the helper: commands from the parent
constexpr int kAckFd = 4;            // in the helper: answers to the parent
constexpr int64_t kItems = 1 << 16;  // 512 KiB of int64: many pages
constexpr int kReaders = 3;
constexpr int kRounds = 6;
constexpr auto kTimeout = std::chrono::seconds(30);

int64_t Expected(int round, int64_t i) { return int64_t{round} * 1000003 + i * 7; }

bool WriteLine(int fd, const std::string& line) {
  std::string s = line + "\n";
  size_t done = 0;
  while (done < s.size()) {
    const ssize_t n = ::write(fd, s.data() + done, s.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// One line from `fd` (without '\n'), waiting at most `timeout`; "" on EOF,
// error or timeout (callers treat "" as a failure).
std::string ReadLine(int fd, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string line;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return "";
    pollfd p{fd, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return "";
    char c;
    const ssize_t n = ::read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return "";
    if (c == '\n') return line;
    line.push_back(c);
  }
}

// "perms path" of the mapping holding `p` ("unmapped" when none).
std::string MappingOf(const void* p) {
  const testing::MapsEntry e = testing::MapsEntryOf(p);
  return e.perms.empty() ? "unmapped" : e.perms + " " + e.path;
}

// --- The helper side. ----------------------------------------------------------

// The role's loop: answers "ready <mapping>" after attaching, then one line
// per command until "quit".
void RunHelper(bool writer) {
  const char* target = std::getenv("SHMARRAY_MP_TARGET");
  const char* name = std::getenv("SHMARRAY_MP_NAME");
  ASSERT_NE(target, nullptr);
  ASSERT_NE(name, nullptr);
  Client client = Client::Connect({.target = target});
  const std::string segment = "/dev/shm/" + client.stat(name).segment_name;
  View<int64_t, 1, c_contig> w;
  View<const int64_t, 1, c_contig> r;
  if (writer) {
    w = client.attach<int64_t, 1, c_contig>(name);
    r = w;
  } else {
    r = client.attach_readonly<int64_t, 1, c_contig>(name);
  }
  const std::string expected_perms = writer ? "rw-s " : "r--s ";
  // Both ends of the data must be in the one shared mapping of the segment.
  const std::string first = MappingOf(r.data());
  const std::string last = MappingOf(&r(kItems - 1));
  ASSERT_EQ(first, expected_perms + segment);
  ASSERT_EQ(last, first);
  ASSERT_TRUE(WriteLine(kAckFd, "ready " + first));
  while (true) {
    const std::string cmd = ReadLine(kCmdFd, kTimeout);
    ASSERT_FALSE(cmd.empty()) << "no command from the parent";
    if (cmd == "quit") break;
    std::istringstream in(cmd);
    std::string verb;
    int round = 0;
    in >> verb >> round;
    if (verb == "write" && writer) {
      for (int64_t i = 0; i < kItems; ++i) w(i) = Expected(round, i);
      ASSERT_TRUE(WriteLine(kAckFd, "ok"));
    } else if (verb == "check" && !writer) {
      int64_t bad = -1;
      for (int64_t i = 0; i < kItems && bad < 0; ++i) {
        if (r(i) != Expected(round, i)) bad = i;
      }
      // Still the same mapping of the same file: nothing was re-attached.
      const std::string now = MappingOf(r.data());
      if (bad >= 0) {
        ASSERT_TRUE(WriteLine(
            kAckFd, "fail item " + std::to_string(bad) + " is " + std::to_string(r(bad))));
      } else if (now != first) {
        ASSERT_TRUE(WriteLine(kAckFd, "fail mapping is now " + now));
      } else {
        ASSERT_TRUE(WriteLine(kAckFd, "ok"));
      }
    } else {
      ASSERT_TRUE(WriteLine(kAckFd, "fail unknown command " + cmd));
    }
  }
}

TEST(MultiprocessHelper, DISABLED_Writer) { RunHelper(/*writer=*/true); }
TEST(MultiprocessHelper, DISABLED_Reader) { RunHelper(/*writer=*/false); }

// --- The parent side. ------------------------------------------------------------

// A helper process with its two pipes; the destructor closes them and reaps
// the process (killing it if it does not exit once its input is closed).
class Helper {
 public:
  static std::unique_ptr<Helper> Spawn(const std::string& role, const std::string& target,
                                       const std::string& name) {
    int cmd[2], ack[2];
    if (pipe2(cmd, O_CLOEXEC) != 0) return nullptr;
    if (pipe2(ack, O_CLOEXEC) != 0) {
      close(cmd[0]);
      close(cmd[1]);
      return nullptr;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, cmd[0], kCmdFd);  // dup2 clears CLOEXEC
    posix_spawn_file_actions_adddup2(&actions, ack[1], kAckFd);
    std::vector<std::string> env = {"SHMARRAY_MP_TARGET=" + target, "SHMARRAY_MP_NAME=" + name};
    for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
    std::vector<char*> envp;
    for (std::string& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::string arg0 = "client_tests";
    std::string filter = "--gtest_filter=MultiprocessHelper.DISABLED_" + role;
    std::string also = "--gtest_also_run_disabled_tests";
    char* argv[] = {arg0.data(), filter.data(), also.data(), nullptr};
    auto helper = std::unique_ptr<Helper>(new Helper);
    const int rc =
        posix_spawn(&helper->pid_, "/proc/self/exe", &actions, nullptr, argv, envp.data());
    posix_spawn_file_actions_destroy(&actions);
    close(cmd[0]);
    close(ack[1]);
    helper->cmd_ = cmd[1];
    helper->ack_ = ack[0];
    if (rc != 0) helper->pid_ = -1;
    return helper;
  }

  ~Helper() {
    Wait();
    if (ack_ >= 0) close(ack_);
  }

  bool running() const { return pid_ > 0; }
  bool Send(const std::string& line) { return WriteLine(cmd_, line); }
  std::string Receive() { return ReadLine(ack_, kTimeout); }

  // Reaps the process; its exit code, or -1 if it was killed or not running.
  // Closes the command pipe (a helper waiting for a command then fails and
  // exits), waits up to kTimeout for the answer pipe to reach EOF (the
  // helper's exit closes it), then reaps; SIGKILLs a helper that hangs.
  int Wait() {
    if (pid_ <= 0) return -1;
    if (cmd_ >= 0) close(cmd_);
    cmd_ = -1;
    const auto deadline = std::chrono::steady_clock::now() + kTimeout;
    while (ack_ >= 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{ack_, POLLIN, 0};
      const int r = ::poll(&p, 1, static_cast<int>(left.count()));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      char sink[256];
      const ssize_t n = ::read(ack_, sink, sizeof(sink));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        close(ack_);
        ack_ = -1;
      }
    }
    if (ack_ >= 0) kill(pid_, SIGKILL);  // hung: no EOF in time
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  Helper() = default;
  pid_t pid_ = -1;
  int cmd_ = -1;
  int ack_ = -1;
};

TEST(MultiprocessTest, EveryWriteIsVisibleToEveryReaderThroughTheSamePages) {
  auto daemon = TestDaemon::Start();
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  Client client = Client::Connect({.target = (*daemon)->target()});
  View<int64_t, 1, c_contig> mine = client.create<int64_t, 1, c_contig>("mp/shared", {kItems});
  const std::string segment = "/dev/shm/" + client.stat("mp/shared").segment_name;
  EXPECT_EQ(MappingOf(mine.data()), "rw-s " + segment);

  std::unique_ptr<Helper> writer = Helper::Spawn("Writer", (*daemon)->target(), "mp/shared");
  ASSERT_TRUE(writer && writer->running());
  std::vector<std::unique_ptr<Helper>> readers;
  for (int i = 0; i < kReaders; ++i) {
    readers.push_back(Helper::Spawn("Reader", (*daemon)->target(), "mp/shared"));
    ASSERT_TRUE(readers.back() && readers.back()->running());
  }
  // Every process attached once, to a shared mapping of the segment file.
  EXPECT_EQ(writer->Receive(), "ready rw-s " + segment);
  for (auto& r : readers) EXPECT_EQ(r->Receive(), "ready r--s " + segment);

  for (int round = 1; round <= kRounds; ++round) {
    ASSERT_TRUE(writer->Send("write " + std::to_string(round)));
    ASSERT_EQ(writer->Receive(), "ok") << "round " << round;
    for (auto& r : readers) ASSERT_TRUE(r->Send("check " + std::to_string(round)));
    for (auto& r : readers) EXPECT_EQ(r->Receive(), "ok") << "round " << round;
    // The parent's own mapping sees the same bytes.
    EXPECT_EQ(mine(kItems - 1), Expected(round, kItems - 1));
  }
  // A write by the parent is seen by the readers too.
  for (int64_t i = 0; i < kItems; ++i) mine(i) = Expected(99, i);
  for (auto& r : readers) ASSERT_TRUE(r->Send("check 99"));
  for (auto& r : readers) EXPECT_EQ(r->Receive(), "ok");

  ASSERT_TRUE(writer->Send("quit"));
  for (auto& r : readers) ASSERT_TRUE(r->Send("quit"));
  EXPECT_EQ(writer->Wait(), 0);
  for (auto& r : readers) EXPECT_EQ(r->Wait(), 0);

  client.remove("mp/shared");
  EXPECT_THAT((*daemon)->ListSegments(), IsEmpty());
}

}  // namespace
}  // namespace shmarray::client

// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: local_read_test.cc
// -----------------------------------------------------------------------------
// read() and read_into() on the daemon's host (ClientOptions::local_reads),
// and the reuse of a dropped read() result's memory
// (ClientOptions::reuse_read_buffers),
// against the real shmarrayd: the bytes come straight from the segment with
// no Read RPC (counted with the daemon's own Prometheus counters), and a
// local read and a streamed one (local_reads = false) agree on bytes,
// description and errors for every selection and order tried; a segment
// truncated by another process is kDataLoss, and the reading process lives.

#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "read_buffers.h"
#include "shmarray/client/client.h"
#include "shmarray/shm/any_view.h"
#include "testing/daemon.h"
#include "testing/metrics.h"

namespace shmarray::client {
namespace {

using ::shmarray::testing::MetricsPort;
using ::shmarray::testing::StartedCalls;
using ::shmarray::testing::TestDaemon;
using ::shmarray::testing::TestDaemonOptions;
using ::testing::HasSubstr;

class LocalReadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TestDaemonOptions o;
    o.extra_flags = {"--metrics-listen", "127.0.0.1:0"};
    auto d = TestDaemon::Start(o);
    ASSERT_TRUE(d.ok()) << d.status();
    daemon_ = *std::move(d);
    port_ = MetricsPort(*daemon_);
    ASSERT_GT(port_, 0);
    local_ = std::make_unique<Client>(Client::Connect({.target = daemon_->target()}));
    streamed_ = std::make_unique<Client>(
        Client::Connect({.target = daemon_->target(), .local_reads = false}));
  }

  double Reads() const {
    const double n = StartedCalls(port_, "Read");
    EXPECT_GE(n, 0) << "cannot read the daemon's /metrics page";
    return n;
  }

  // An int32 array of `shape` whose item i (in C order) holds i.
  ArrayInfo MakeCounting(const std::string& name, const std::vector<int64_t>& shape) {
    shm::AnyView src = shm::AnyView::Allocate(shm::Format::Parse("<i"), shape, shm::Order::kC);
    auto* items = reinterpret_cast<int32_t*>(src.first());
    for (int64_t i = 0; i < src.size(); ++i) items[i] = static_cast<int32_t>(i);
    streamed_->create_any(name, "<i", shape);
    ArrayInfo info;
    streamed_->write(name, "", src, nullptr, &info);
    return streamed_->stat(name);
  }

  std::unique_ptr<TestDaemon> daemon_;
  int port_ = 0;
  std::unique_ptr<Client> local_;
  std::unique_ptr<Client> streamed_;
};

std::vector<std::byte> Bytes(const shm::AnyView& v) {
  const auto* p = v.first();
  return std::vector<std::byte>(p, p + v.nbytes());
}

void ExpectSameInfo(const ArrayInfo& a, const ArrayInfo& b, const std::string& what) {
  EXPECT_EQ(a.name, b.name) << what;
  EXPECT_EQ(a.format.canonical(), b.format.canonical()) << what;
  EXPECT_EQ(a.layout.itemsize, b.layout.itemsize) << what;
  EXPECT_EQ(a.layout.shape, b.layout.shape) << what;
  EXPECT_EQ(a.layout.strides, b.layout.strides) << what;
  EXPECT_EQ(a.layout.offset, b.layout.offset) << what;
  EXPECT_EQ(a.readonly, b.readonly) << what;
  EXPECT_EQ(a.c_contiguous, b.c_contiguous) << what;
  EXPECT_EQ(a.f_contiguous, b.f_contiguous) << what;
  EXPECT_EQ(a.generation, b.generation) << what;
  EXPECT_EQ(a.kind, b.kind) << what;
  EXPECT_EQ(a.base, b.base) << what;
  EXPECT_EQ(a.base_generation, b.base_generation) << what;
  EXPECT_EQ(a.segment_name, b.segment_name) << what;
  EXPECT_EQ(a.segment_size, b.segment_size) << what;
  EXPECT_EQ(a.data_offset, b.data_offset) << what;
  EXPECT_EQ(a.data_size, b.data_size) << what;
  EXPECT_EQ(a.created_unix_ns, b.created_unix_ns) << what;
}

TEST_F(LocalReadTest, ReadsOfAVisibleSegmentMakeNoReadRpc) {
  MakeCounting("big", {16, 256, 1024});  // 16 MiB of int32
  local_->slice("big", "4:8", "big_part");
  ASSERT_EQ(Reads(), 0);

  // Streamed: the daemon serves a Read.
  const shm::AnyView want = streamed_->read("big");
  EXPECT_EQ(Reads(), 1);

  // Local: whole array, a block of planes, every other plane (runs of 1
  // MiB), Fortran order of a C array's last axis, a named view, read_into;
  // with progress reports that end at the total.
  std::vector<std::pair<int64_t, int64_t>> reports;
  ArrayInfo info;
  const shm::AnyView whole = local_->read(
      "big", "", shm::Order::kC,
      [&](int64_t done, int64_t total) { reports.emplace_back(done, total); }, &info);
  EXPECT_EQ(Bytes(whole), Bytes(want));
  EXPECT_EQ(info.layout.shape, (std::vector<int64_t>{16, 256, 1024}));
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.back(), (std::pair<int64_t, int64_t>{16 << 20, 16 << 20}));
  for (size_t i = 1; i < reports.size(); ++i) EXPECT_GT(reports[i].first, reports[i - 1].first);

  EXPECT_EQ(Bytes(local_->read("big", "::2")), Bytes(streamed_->read("big", "::2")));
  EXPECT_EQ(Bytes(local_->read("big", "3")), Bytes(streamed_->read("big", "3")));
  EXPECT_EQ(Bytes(local_->read("big_part")), Bytes(streamed_->read("big_part")));
  const double streamed_reads = 4;  // the three streamed reads above and `want`
  shm::AnyView dst = shm::AnyView::Allocate(shm::Format::Parse("<i"),
                                            std::vector<int64_t>{16, 256, 1024}, shm::Order::kC);
  EXPECT_EQ(local_->read_into("big", "", dst), 16 << 20);
  EXPECT_EQ(Bytes(dst), Bytes(want));
  EXPECT_EQ(Reads(), streamed_reads);

  // A small array too (one run of 400 bytes).
  MakeCounting("small", {100});
  EXPECT_EQ(Bytes(local_->read("small", "10:20")), Bytes(streamed_->read("small", "10:20")));
  EXPECT_EQ(Reads(), streamed_reads + 1);

  // Many short runs are the daemon's to pack: streamed.
  (void)local_->read("big", ":, :, ::2");
  EXPECT_EQ(Reads(), streamed_reads + 2);
}

// The same bytes, description and errors, local or streamed, for selections
// of one run, of long runs, of short runs, reversed, of a named view and of
// a sealed array, in both orders; errors word for word.
TEST_F(LocalReadTest, LocalAndStreamedReadsAgree) {
  MakeCounting("a", {6, 64, 512});  // planes of 128 KiB, rows of 2 KiB
  local_->slice("a", "1:5, ::-1", "a_view");
  MakeCounting("sealed", {3, 40000});
  local_->seal("sealed");
  MakeCounting("zero_d", {});
  MakeCounting("empty", {0, 7});
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"a", ""},         {"a", "2"},          {"a", "1:4"},        {"a", "::2"},
      {"a", "::-1"},     {"a", "-1, 5"},      {"a", ":, 3:9"},     {"a", ":, :, 7"},
      {"a", "..., 1:3"}, {"a", "None, 2:4"},  {"a", "5, 63, 511"}, {"a", "2:2"},
      {"a_view", ""},    {"a_view", "1"},     {"a_view", "::2"},   {"sealed", ""},
      {"sealed", "1:"},  {"zero_d", ""},      {"empty", ""},       {"a", "9"},
      {"a", "::0"},      {"a", "1, 2, 3, 4"}, {"a", "..., ..."},   {"a", "x"},
      {"missing", ""},   {"a", "0.5"},        {"bad name!", ""},
  };
  for (const auto& [name, index] : cases) {
    for (shm::Order order : {shm::Order::kC, shm::Order::kF}) {
      const std::string what =
          name + "[" + index + "] order " + (order == shm::Order::kC ? "C" : "F");
      ArrayInfo li, si;
      shm::AnyView l, s;
      absl::Status ls, ss;
      try {
        l = local_->read(name, index, order, nullptr, &li);
      } catch (const RpcError& e) {
        ls = e.status();
      }
      try {
        s = streamed_->read(name, index, order, nullptr, &si);
      } catch (const RpcError& e) {
        ss = e.status();
      }
      EXPECT_EQ(ls, ss) << what;
      if (!ls.ok() || !ss.ok()) continue;
      EXPECT_EQ(l.layout().shape, s.layout().shape) << what;
      EXPECT_EQ(l.layout().strides, s.layout().strides) << what;
      EXPECT_EQ(Bytes(l), Bytes(s)) << what;
      ExpectSameInfo(li, si, what);

      // read_into: the right destination, then a wrong shape.
      shm::AnyView dst = shm::AnyView::Allocate(l.format(), l.layout().shape, order);
      EXPECT_EQ(local_->read_into(name, index, dst), l.nbytes()) << what;
      EXPECT_EQ(Bytes(dst), Bytes(s)) << what;
      std::vector<int64_t> wrong = l.layout().shape;
      wrong.push_back(2);
      shm::AnyView bad = shm::AnyView::Allocate(l.format(), wrong, order);
      absl::Status lb, sb;
      try {
        local_->read_into(name, index, bad);
      } catch (const RpcError& e) {
        lb = e.status();
      }
      try {
        streamed_->read_into(name, index, bad);
      } catch (const RpcError& e) {
        sb = e.status();
      }
      EXPECT_EQ(lb.code(), absl::StatusCode::kInvalidArgument) << what << ": " << lb;
      EXPECT_EQ(lb, sb) << what;
    }
  }
}

// Another process cuts the segment while a local read copies it (here: from
// the progress callback, after the first 4 MiB): kDataLoss in the daemon's
// words; nothing is mapped, so nothing raises SIGBUS, and the same client
// reads other arrays on.
TEST_F(LocalReadTest, ASegmentCutDuringTheReadIsDataLossAndTheReaderLives) {
  const ArrayInfo info = MakeCounting("cut", {4, 1 << 20});  // 16 MiB
  MakeCounting("whole", {1000});
  const std::string path = "/dev/shm/" + info.segment_name;
  const double before = Reads();
  int calls = 0;
  try {
    (void)local_->read("cut", "", shm::Order::kC, [&](int64_t, int64_t) {
      if (++calls == 1) {
        ASSERT_EQ(truncate(path.c_str(), info.data_offset + (1 << 20)), 0);
      }
    });
    FAIL() << "read a truncated segment";
  } catch (const RpcError& e) {
    EXPECT_EQ(e.code(), absl::StatusCode::kDataLoss) << e.what();
    EXPECT_EQ(std::string(e.what()),
              "array 'cut' lost its memory during this request: another process truncated its "
              "segment " +
                  info.segment_name + "; the request did not complete");
  }
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(Reads(), before);  // the local read saw it, not the daemon
  EXPECT_EQ(Bytes(local_->read("whole")), Bytes(streamed_->read("whole")));
}

// A sealed array whose segment was made writable again is the daemon's to
// report: the local client streams it and gets the daemon's DATA_LOSS.
TEST_F(LocalReadTest, ASealedSegmentMadeWritableIsTheDaemonsToReport) {
  const ArrayInfo info = MakeCounting("s", {1000});
  local_->seal("s");
  ASSERT_EQ(chmod(("/dev/shm/" + info.segment_name).c_str(), 0640), 0);
  absl::Status ls, ss;
  try {
    (void)local_->read("s");
  } catch (const RpcError& e) {
    ls = e.status();
  }
  try {
    (void)streamed_->read("s");
  } catch (const RpcError& e) {
    ss = e.status();
  }
  EXPECT_EQ(ls.code(), absl::StatusCode::kDataLoss) << ls;
  EXPECT_THAT(std::string(ls.message()), HasSubstr("is writable again"));
  EXPECT_EQ(ls, ss);
}

// A dropped read() result of 4 MiB or more keeps its memory for the next
// read() that fits: same address, fresh bytes. A result still held is never
// handed out, a buffer more than twice the size needed is not used, and
// reuse_read_buffers = false neither takes nor keeps one.
TEST_F(LocalReadTest, ADroppedResultsMemoryIsReusedByTheNextRead) {
  internal::DropKeptReadBuffer();
  MakeCounting("r", {10, 1 << 18});  // 10 MiB
  const std::vector<std::byte> want = Bytes(streamed_->read("r"));
  const std::byte* first = nullptr;
  {
    const shm::AnyView a = local_->read("r");
    first = a.first();
    EXPECT_EQ(Bytes(a), want);
    EXPECT_EQ(internal::KeptReadBufferBytes(), 0);
  }
  EXPECT_EQ(internal::KeptReadBufferBytes(), 10 << 20);
  // New contents, read into the kept memory (local and streamed alike).
  shm::View<int32_t, 2> v = local_->attach<int32_t, 2>("r");
  v(9, (1 << 18) - 1) = -5;
  for (Client* c : {local_.get(), streamed_.get()}) {
    const shm::AnyView b = c->read("r");
    EXPECT_EQ(b.first(), first);
    EXPECT_EQ((b.as<const int32_t, 2>()(9, (1 << 18) - 1)), -5);
    EXPECT_EQ((b.as<const int32_t, 2>()(3, 7)), 3 * (1 << 18) + 7);
    EXPECT_EQ(internal::KeptReadBufferBytes(), 0);
    // Held: a second read gets memory of its own.
    const shm::AnyView c2 = c->read("r");
    EXPECT_NE(c2.first(), b.first());
    EXPECT_EQ(Bytes(c2), Bytes(b));
  }
  // Kept now: one 10 MiB buffer (the last one released).
  EXPECT_EQ(internal::KeptReadBufferBytes(), 10 << 20);
  // Too large for a 4 MiB read: not used, and replaced when that one goes.
  {
    const shm::AnyView small = local_->read("r", ":4");
    EXPECT_EQ(small.nbytes(), 4 << 20);
    EXPECT_EQ(internal::KeptReadBufferBytes(), 10 << 20);
  }
  EXPECT_EQ(internal::KeptReadBufferBytes(), 4 << 20);
  // Off: a Client that neither takes the kept buffer nor gives one back.
  Client plain = Client::Connect({.target = daemon_->target(), .reuse_read_buffers = false});
  {
    const shm::AnyView c = plain.read("r", ":4");
    EXPECT_EQ(Bytes(c), std::vector<std::byte>(want.begin(), want.begin() + (4 << 20)));
    EXPECT_EQ(internal::KeptReadBufferBytes(), 4 << 20);
  }
  EXPECT_EQ(internal::KeptReadBufferBytes(), 4 << 20);
  internal::DropKeptReadBuffer();
  EXPECT_EQ(internal::KeptReadBufferBytes(), 0);
}

}  // namespace
}  // namespace shmarray::client

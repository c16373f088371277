// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: client_test.cc
// -----------------------------------------------------------------------------
// Tests of shmarray::client::Client against the real shmarrayd (TestDaemon):
// every call, server errors as RpcError codes, attach binding errors with
// Cython's messages, mapping lifetime, named views, Read/Write round trips,
// Watch events, tokens, and attach from a private /dev/shm (a helper process
// in its own mount namespace).

#include "shmarray/client/client.h"

#include <fcntl.h>
#include <sched.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shmarray/shm/any_view.h"
#include "shmarray/shm/errors.h"
#include "shmarray/shm/view.h"
#include "testing/daemon.h"
#include "testing/proc_maps.h"

extern char** environ;

namespace shmarray::client {
namespace {

using ::shmarray::shm::AnyView;
using ::shmarray::shm::c_contig;
using ::shmarray::shm::f_contig;
using ::shmarray::shm::Order;
using ::shmarray::shm::View;
using ::shmarray::testing::TestDaemon;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

// Runs `fn`, expecting RpcError with `code`; returns its message.
template <typename Fn>
std::string ExpectRpcError(absl::StatusCode code, Fn&& fn) {
  try {
    fn();
  } catch (const RpcError& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no RpcError thrown, expected code " << absl::StatusCodeToString(code);
  return "";
}

// Runs `fn`, expecting exception E; returns its message.
template <typename E, typename Fn>
std::string ExpectThrow(Fn&& fn) {
  try {
    fn();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception: " << e.what();
    return e.what();
  }
  ADD_FAILURE() << "nothing thrown";
  return "";
}

using ::shmarray::testing::MapsEntryOf;

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto daemon = TestDaemon::Start();
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = *std::move(daemon);
    client_ = std::make_unique<Client>(Client::Connect({.target = daemon_->target()}));
  }

  void TearDown() override {
    if (daemon_ == nullptr) return;
    // Deleting every name unlinks every segment: nothing is left in /dev/shm.
    try {
      for (const ArrayInfo& info : client_->list()) {
        if (info.kind == ArrayKind::kArray) client_->remove(info.name, /*cascade=*/true);
      }
    } catch (const std::exception& e) {
      ADD_FAILURE() << "cleanup: " << e.what();
    }
    EXPECT_THAT(daemon_->ListSegments(), IsEmpty());
  }

  // A C-ordered int32 array with a[i, j] = 10 * i + j.
  View<int, 2> MakeIota(const std::string& name, int64_t rows, int64_t cols,
                        Order order = Order::kC) {
    View<int, 2> v = client_->create<int, 2>(name, {rows, cols}, order);
    for (int64_t i = 0; i < rows; ++i) {
      for (int64_t j = 0; j < cols; ++j) v(i, j) = static_cast<int>(10 * i + j);
    }
    return v;
  }

  std::unique_ptr<TestDaemon> daemon_;
  std::unique_ptr<Client> client_;
};

// --- Connecting. -------------------------------------------------------------

TEST(ClientConnectTest, DefaultTargetIsTheInstanceSocketUnderXdgRuntimeDir) {
  const char* old = std::getenv("XDG_RUNTIME_DIR");
  const std::string saved = old ? old : "";
  ASSERT_EQ(setenv("XDG_RUNTIME_DIR", "/tmp/xdg-test", 1), 0);
  EXPECT_EQ(Client::Connect({.instance = "blue"}).target(),
            "unix:/tmp/xdg-test/shmarray/blue.sock");
  EXPECT_EQ(Client::Connect({}).target(), "unix:/tmp/xdg-test/shmarray/default.sock");
  EXPECT_EQ(*DefaultSocketPath("x_1-2"), "/tmp/xdg-test/shmarray/x_1-2.sock");
  ASSERT_EQ(setenv("XDG_RUNTIME_DIR", "", 1), 0);  // empty counts as unset
  EXPECT_EQ(*DefaultSocketPath("x"), "/run/shmarray/x.sock");
  ASSERT_EQ(unsetenv("XDG_RUNTIME_DIR"), 0);
  // The same path for every user: the daemon's, whoever runs it.
  EXPECT_EQ(*DefaultSocketPath(""), "/run/shmarray/default.sock");
  EXPECT_EQ(Client::Connect({.instance = "blue"}).target(), "unix:/run/shmarray/blue.sock");
  EXPECT_EQ(DefaultSocketPath("no spaces").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DefaultSocketPath("no spaces").status().message(),
            "invalid instance name 'no spaces': expected 1-64 characters of [A-Za-z0-9_-]");
  EXPECT_EQ(DefaultSocketPath(std::string(65, 'a')).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(DefaultSocketPath(std::string(64, 'a')).ok());
  if (old != nullptr) setenv("XDG_RUNTIME_DIR", saved.c_str(), 1);
}

TEST(ClientConnectTest, TargetsAndBadInstances) {
  EXPECT_EQ(Client::Connect({.target = "unix:/tmp/a.sock"}).target(), "unix:/tmp/a.sock");
  EXPECT_EQ(Client::Connect({.target = "/tmp/b.sock"}).target(), "unix:/tmp/b.sock");
  EXPECT_EQ(Client::Connect({.target = "127.0.0.1:7070"}).target(), "127.0.0.1:7070");
  EXPECT_THAT(ExpectRpcError(absl::StatusCode::kInvalidArgument,
                             [] { Client::Connect({.instance = "bad/name"}); }),
              HasSubstr("invalid instance name 'bad/name'"));
  ExpectRpcError(absl::StatusCode::kInvalidArgument,
                 [] { Client::Connect({.instance = std::string(65, 'a')}); });
  ExpectRpcError(absl::StatusCode::kInvalidArgument, [] { Client::Connect({.target = "unix:"}); });
}

TEST(ClientConnectTest, NoDaemonIsUnavailable) {
  Client client = Client::Connect({.target = "unix:/nonexistent-shmarray-dir/none.sock"});
  ExpectRpcError(absl::StatusCode::kUnavailable, [&] { client.stat("a"); });
}

// A bad name is refused before any RPC: with no daemon to answer, every
// call that takes a name says INVALID_ARGUMENT in the daemon's words, not
// UNAVAILABLE.
TEST(ClientConnectTest, BadNamesAreRefusedWithoutAnRpc) {
  Client client = Client::Connect({.target = "unix:/nonexistent-shmarray-dir/none.sock"});
  const std::string bad = "a//b";
  const std::string expected = "invalid name 'a//b': empty component ('//')";
  const std::vector<int64_t> shape = {2};
  const std::vector<std::function<void()>> calls = {
      [&] { client.create_any(bad, "d", shape); },
      [&] { client.attach_any(bad); },
      [&] { client.stat(bad); },
      [&] { client.remove(bad); },
      [&] { client.seal(bad); },
      [&] { client.slice(bad, {}); },
      [&] { client.slice("good", {}, bad); },
      [&] { client.copy(bad, {}, "new"); },
      [&] { client.copy("good", {}, bad); },
      [&] { client.copy_into("good", {}, bad, {}); },
      [&] { client.read(bad); },
  };
  for (size_t i = 0; i < calls.size(); ++i) {
    SCOPED_TRACE("call " + std::to_string(i));
    EXPECT_EQ(ExpectRpcError(absl::StatusCode::kInvalidArgument, calls[i]), expected);
  }
  // A good name still goes to the (absent) daemon.
  ExpectRpcError(absl::StatusCode::kUnavailable, [&] { client.stat("a/b"); });
}

TEST(ClientConnectTest, TokenIsSentAsBearerMetadata) {
  shmarray::testing::TestDaemonOptions options;
  options.token = "s3cret";
  auto daemon = TestDaemon::Start(options);
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  Client anonymous = Client::Connect({.target = (*daemon)->target()});
  ExpectRpcError(absl::StatusCode::kUnauthenticated, [&] { anonymous.list(); });
  Client wrong = Client::Connect({.target = (*daemon)->target(), .token = "nope"});
  EXPECT_THAT(ExpectRpcError(absl::StatusCode::kUnauthenticated, [&] { wrong.list(); }),
              HasSubstr("invalid bearer token"));
  Client good = Client::Connect({.target = (*daemon)->target(), .token = "s3cret"});
  good.create_any("t", "d", std::vector<int64_t>{2});
  EXPECT_EQ(good.list().size(), 1u);
  View<double, 1> v = good.attach<double, 1>("t");
  EXPECT_EQ(v.shape(0), 2);
  good.remove("t");
  EXPECT_THAT((*daemon)->ListSegments(), IsEmpty());
}

TEST_F(ClientTest, TcpTargetWorksToo) {
  shmarray::testing::TestDaemonOptions options;
  options.listen_tcp = true;
  auto daemon = TestDaemon::Start(options);
  ASSERT_TRUE(daemon.ok()) << daemon.status();
  Client tcp = Client::Connect({.target = (*daemon)->tcp_target()});
  EXPECT_EQ(tcp.target(), (*daemon)->tcp_target());
  tcp.create_any("over/tcp", "q", std::vector<int64_t>{3});
  View<int64_t, 1> v = tcp.attach<int64_t, 1>("over/tcp");  // same host: mapping works
  v(1) = 42;
  AnyView r = tcp.read("over/tcp");
  EXPECT_EQ((r.as<const int64_t, 1>()(1)), 42);
  tcp.remove("over/tcp");
  EXPECT_THAT((*daemon)->ListSegments(), IsEmpty());
}

// Runs `argv` (searched on PATH) and returns its exit status, or -1.
int RunProgram(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ) != 0) return -1;
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

// --tls-cert/--tls-key: a client that trusts the certificate works over TCP;
// one without it (plaintext) cannot talk to the TLS port.
TEST(ClientConnectTest, TlsListenerServesClientsThatTrustItsCertificate) {
  char tmpl[] = "/tmp/shmarray-tls-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  const std::string cert = dir + "/cert.pem";
  const std::string key = dir + "/key.pem";
  ASSERT_EQ(RunProgram({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                        "-out", cert, "-days", "1", "-subj", "/CN=shmarray-test", "-addext",
                        "subjectAltName=IP:127.0.0.1"}),
            0)
      << "openssl could not make a test certificate";
  {
    shmarray::testing::TestDaemonOptions options;
    options.listen_tcp = true;
    options.extra_flags = {"--tls-cert", cert, "--tls-key", key};
    auto daemon = TestDaemon::Start(options);
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    Client tls = Client::Connect(
        {.target = (*daemon)->tcp_target(), .tls_root_cert_pem = ReadWholeFile(cert)});
    tls.create_any("over/tls", "i", std::vector<int64_t>{4});
    View<int, 1> v = tls.attach<int, 1>("over/tls");
    v(2) = 7;
    AnyView r = tls.read("over/tls", "::-1");
    EXPECT_EQ((r.as<const int, 1>()(1)), 7);
    Client plain = Client::Connect({.target = (*daemon)->tcp_target(), .timeout_ms = 3000});
    const absl::StatusCode code = [&] {
      try {
        plain.list();
      } catch (const RpcError& e) {
        return e.code();
      }
      return absl::StatusCode::kOk;
    }();
    EXPECT_NE(code, absl::StatusCode::kOk) << "a plaintext client reached the TLS port";
    tls.remove("over/tls");
    EXPECT_THAT((*daemon)->ListSegments(), IsEmpty());
  }
  std::remove(cert.c_str());
  std::remove(key.c_str());
  ::rmdir(dir.c_str());
}

// --- Create, stat, list, remove, seal. ---------------------------------------

TEST_F(ClientTest, CreateAnyDescribesTheNewArray) {
  const ArrayInfo info = client_->create_any("a", "i", std::vector<int64_t>{2, 3});
  EXPECT_EQ(info.name, "a");
  EXPECT_EQ(info.format.canonical(), "<i");
  EXPECT_EQ(info.itemsize(), 4);
  EXPECT_THAT(info.shape(), ElementsAre(2, 3));
  EXPECT_THAT(info.strides(), ElementsAre(12, 4));
  EXPECT_EQ(info.layout.offset, 0);
  EXPECT_EQ(info.nbytes(), 24);
  EXPECT_TRUE(info.c_contiguous);
  EXPECT_FALSE(info.f_contiguous);
  EXPECT_FALSE(info.readonly);
  EXPECT_EQ(info.kind, ArrayKind::kArray);
  EXPECT_TRUE(info.base.empty());
  EXPECT_NE(info.generation, 0u);
  EXPECT_THAT(info.segment_name, StartsWith(daemon_->segment_prefix() + "/"));
  EXPECT_EQ(info.data_offset, 4096);
  EXPECT_GE(info.data_size, 24);
  EXPECT_EQ(info.segment_size, info.data_offset + info.data_size);
  EXPECT_GT(info.created_unix_ns, 0);
  EXPECT_THAT(daemon_->ListSegments(), ElementsAre(info.segment_name));

  const ArrayInfo stat = client_->stat("a");
  EXPECT_EQ(stat.generation, info.generation);
  EXPECT_EQ(stat.layout, info.layout);
  EXPECT_EQ(stat.segment_name, info.segment_name);
}

TEST_F(ClientTest, CreateFortranOrderFillAndItemsize) {
  const ArrayInfo f = client_->create_any("f", "d", std::vector<int64_t>{2, 3}, Order::kF);
  EXPECT_THAT(f.strides(), ElementsAre(8, 16));
  EXPECT_TRUE(f.f_contiguous);
  EXPECT_FALSE(f.c_contiguous);

  View<int, 1> filled = client_->create<int, 1>("filled", {5}, Order::kC, 7);
  for (int64_t i = 0; i < 5; ++i) EXPECT_EQ(filled(i), 7);

  const ArrayInfo padded =
      client_->create_any("padded", "f", std::vector<int64_t>{4}, Order::kC, {}, 8);
  EXPECT_EQ(padded.itemsize(), 8);
  EXPECT_THAT(padded.strides(), ElementsAre(8));

  const ArrayInfo scalar = client_->create_any("scalar", "q", std::vector<int64_t>{});
  EXPECT_EQ(scalar.ndim(), 0);
  EXPECT_EQ(scalar.nbytes(), 8);
  View<int64_t, 0> s = client_->attach<int64_t, 0>("scalar");
  s() = -5;
  EXPECT_EQ((client_->read("scalar").as<const int64_t, 0>()()), -5);
}

TEST_F(ClientTest, ServerErrorsAreRpcErrorsWithCodes) {
  client_->create_any("x", "i", std::vector<int64_t>{4, 5});
  EXPECT_THAT(ExpectRpcError(absl::StatusCode::kNotFound, [&] { client_->stat("missing"); }),
              HasSubstr("missing"));
  ExpectRpcError(absl::StatusCode::kAlreadyExists,
                 [&] { client_->create_any("x", "i", std::vector<int64_t>{1}); });
  ExpectRpcError(absl::StatusCode::kInvalidArgument,
                 [&] { client_->create_any("../x", "i", std::vector<int64_t>{1}); });
  EXPECT_THAT(ExpectRpcError(absl::StatusCode::kInvalidArgument,
                             [&] { client_->create_any("y", "T{i:a", std::vector<int64_t>{1}); }),
              HasSubstr("'T{i:a' is not a valid PEP 3118 buffer format string"));
  ExpectRpcError(absl::StatusCode::kInvalidArgument,
                 [&] { client_->create_any("y", "i", std::vector<int64_t>{-1}); });
  EXPECT_EQ(ExpectRpcError(absl::StatusCode::kOutOfRange, [&] { client_->slice("x", "4"); }),
            "Index out of bounds (axis 0)");
  EXPECT_EQ(
      ExpectRpcError(absl::StatusCode::kInvalidArgument, [&] { client_->slice("x", ":, ::0"); }),
      "Step may not be zero (axis 1)");
  EXPECT_EQ(ExpectRpcError(absl::StatusCode::kInvalidArgument,
                           [&] { client_->slice("x", "..., 1, ..."); }),
            "an index can only have a single ellipsis ('...')");
  EXPECT_EQ(
      ExpectRpcError(absl::StatusCode::kInvalidArgument, [&] { client_->slice("x", "1, 2, 3"); }),
      "too many indices for array: array is 2-dimensional, but 3 were indexed");
  ExpectRpcError(absl::StatusCode::kNotFound, [&] { client_->remove("missing"); });
  ExpectRpcError(absl::StatusCode::kNotFound, [&] { client_->seal("missing"); });
  ExpectRpcError(absl::StatusCode::kNotFound, [&] { client_->read("missing"); });
  ExpectRpcError(absl::StatusCode::kNotFound, [&] { client_->attach_any("missing"); });
  // Nothing was created by the failed calls.
  EXPECT_EQ(client_->list().size(), 1u);
}

TEST_F(ClientTest, ListFiltersByPrefixSortsAndFollowsPages) {
  client_->create_any("p/b", "B", std::vector<int64_t>{1});
  client_->create_any("p/a", "B", std::vector<int64_t>{1});
  client_->create_any("q/c", "B", std::vector<int64_t>{1});
  std::vector<std::string> names;
  for (const ArrayInfo& info : client_->list("p/")) names.push_back(info.name);
  EXPECT_THAT(names, ElementsAre("p/a", "p/b"));
  EXPECT_EQ(client_->list().size(), 3u);
  EXPECT_THAT(client_->list("zzz"), IsEmpty());

  // More entries than one page holds (the server caps pages at 1000).
  constexpr int kMany = 1005;
  for (int i = 0; i < kMany; ++i) {
    char name[32];
    std::snprintf(name, sizeof(name), "many/%04d", i);
    client_->create_any(name, "B", std::vector<int64_t>{0});
  }
  const std::vector<ArrayInfo> many = client_->list("many/");
  ASSERT_EQ(many.size(), static_cast<size_t>(kMany));
  EXPECT_EQ(many.front().name, "many/0000");
  EXPECT_EQ(many.back().name, "many/1004");
  for (size_t i = 1; i < many.size(); ++i) EXPECT_LT(many[i - 1].name, many[i].name);
}

TEST_F(ClientTest, RemoveUnlinksAndFreesTheName) {
  const ArrayInfo a = client_->create_any("r", "d", std::vector<int64_t>{3});
  EXPECT_THAT(client_->remove("r"), ElementsAre("r"));
  ExpectRpcError(absl::StatusCode::kNotFound, [&] { client_->stat("r"); });
  EXPECT_THAT(daemon_->ListSegments(), IsEmpty());
  const ArrayInfo b = client_->create_any("r", "d", std::vector<int64_t>{3});
  EXPECT_NE(a.generation, b.generation);
  EXPECT_NE(a.segment_name, b.segment_name);
}

TEST_F(ClientTest, SealMakesReadOnlyAndAttachBindsOnlyConst) {
  View<double, 1> w = client_->create<double, 1>("s", {4});
  w(2) = 2.5;
  const ArrayInfo sealed = client_->seal("s");
  EXPECT_TRUE(sealed.readonly);
  EXPECT_TRUE(client_->stat("s").readonly);

  EXPECT_EQ(ExpectThrow<shm::ReadOnlyError>([&] { client_->attach<double, 1>("s"); }),
            "buffer source array is read-only");
  View<const double, 1> r = client_->attach<const double, 1>("s");
  EXPECT_EQ(r(2), 2.5);
  View<const double, 1> r2 = client_->attach_readonly<double, 1>("s");
  EXPECT_EQ(r2(2), 2.5);
  AnyView any = client_->attach_any("s");
  EXPECT_TRUE(any.readonly());
  // The mapping itself is read-only (PROT_READ, shared).
  EXPECT_EQ(MapsEntryOf(r.data()).perms, "r--s");
  // The pre-existing writable mapping cannot be revoked (documented).
  EXPECT_EQ(MapsEntryOf(w.data()).perms, "rw-s");

  EXPECT_THAT(ExpectRpcError(absl::StatusCode::kFailedPrecondition,
                             [&] {
                               client_->write(
                                   "s", "",
                                   AnyView::Allocate(shm::Format::Parse("d"),
                                                     std::vector<int64_t>{4}, Order::kC));
                             }),
              HasSubstr("read-only"));
  ExpectRpcError(absl::StatusCode::kFailedPrecondition, [&] {
    client_->create_any("src", "d", std::vector<int64_t>{4});
    client_->copy_into("src", "", "s", "");
  });
}

TEST_F(ClientTest, AttachReadonlyOfWritableArrayMapsReadOnly) {
  View<int, 1> w = client_->create<int, 1>("rw", {3});
  View<const int, 1> r = client_->attach_readonly<int, 1>("rw");
  w(0) = 9;
  EXPECT_EQ(r(0), 9);
  EXPECT_EQ(MapsEntryOf(r.data()).perms, "r--s");
  EXPECT_TRUE(client_->attach_any("rw", /*readonly=*/true).readonly());
  EXPECT_FALSE(client_->attach_any("rw").readonly());
}

// --- Attach binding errors (Cython's messages). --------------------------------

TEST_F(ClientTest, AttachMismatchesThrowTheLibrarysErrors) {
  client_->create_any("i2", "i", std::vector<int64_t>{2, 3});
  client_->create_any("f2", "i", std::vector<int64_t>{2, 3}, Order::kF);
  client_->create_any("pad", "f", std::vector<int64_t>{4}, Order::kC, {}, 8);

  EXPECT_EQ(ExpectThrow<shm::FormatError>([&] { client_->attach<double, 2>("i2"); }),
            "Buffer dtype mismatch, expected 'double' but got 'int32_t'");
  EXPECT_EQ(ExpectThrow<shm::ShapeError>([&] { client_->attach<int, 3>("i2"); }),
            "Buffer has wrong number of dimensions (expected 3, got 2)");
  EXPECT_EQ(ExpectThrow<shm::ShapeError>([&] { client_->attach<float, 1>("pad"); }),
            "Item size of buffer (8 bytes) does not match size of 'float' (4 bytes)");
  EXPECT_EQ(ExpectThrow<shm::ShapeError>([&] { client_->attach<int, 2, c_contig>("f2"); }),
            "buffer is not C-contiguous");
  EXPECT_EQ(ExpectThrow<shm::ShapeError>([&] { client_->attach<int, 2, f_contig>("i2"); }),
            "buffer is not Fortran contiguous");
  // The matching ones bind; `long` is 8 bytes here, so it is not 'i'.
  EXPECT_NO_THROW((client_->attach<int, 2, c_contig>("i2")));
  EXPECT_NO_THROW((client_->attach<int, 2, f_contig>("f2")));
  EXPECT_NO_THROW((client_->attach<int32_t, 2>("f2")));
  EXPECT_EQ(ExpectThrow<shm::FormatError>([&] { client_->attach<long, 2>("i2"); }),
            "Buffer dtype mismatch, expected 'int64_t' but got 'int32_t'");
}

// --- Lifetime. ---------------------------------------------------------------

TEST_F(ClientTest, BaseKeepsTheMappingAliveAfterClientAndNameAreGone) {
  View<int64_t, 1> v;
  {
    Client other = Client::Connect({.target = daemon_->target()});
    v = other.create<int64_t, 1>("life", {1000});
    v(999) = 123;
  }  // the Client is gone
  EXPECT_EQ(v(999), 123);
  EXPECT_EQ(client_->remove("life"), std::vector<std::string>{"life"});
  EXPECT_THAT(daemon_->ListSegments(), IsEmpty());  // unlinked...
  v(0) = 7;                                         // ...but still mapped
  EXPECT_EQ(v(0), 7);
  EXPECT_EQ(v(999), 123);
  EXPECT_THAT(MapsEntryOf(v.data()).path, HasSubstr("(deleted)"));
  std::weak_ptr<const void> weak = v.base();
  View<int64_t, 1> copy = v;
  v = View<int64_t, 1>();
  EXPECT_FALSE(weak.expired());  // a copy of the view still holds it
  copy = View<int64_t, 1>();
  EXPECT_TRUE(weak.expired());
}

TEST_F(ClientTest, AttachesShareMemory) {
  View<double, 2> a = client_->create<double, 2>("share", {3, 4});
  // One Client maps a segment once while a view of it lives...
  View<double, 2, c_contig> b = client_->attach<double, 2, c_contig>("share");
  EXPECT_EQ(static_cast<void*>(a.data()), static_cast<void*>(b.data()));
  // ...another Client (as another process) maps it again: same pages.
  Client other = Client::Connect({.target = daemon_->target()});
  View<double, 2> c = other.attach<double, 2>("share");
  EXPECT_NE(static_cast<void*>(a.data()), static_cast<void*>(c.data()));
  a(1, 2) = 3.25;
  EXPECT_EQ(c(1, 2), 3.25);
  c(2, 3) = -1;
  EXPECT_EQ(a.at(-1, -1), -1);
  const std::string seg = "/dev/shm/" + client_->stat("share").segment_name;
  EXPECT_EQ(MapsEntryOf(a.data()).path, seg);
  EXPECT_EQ(MapsEntryOf(c.data()).path, seg);
}

TEST_F(ClientTest, OverlapBetweenTwoAttachesIsSeen) {
  // a.assign(b.T()) where a and b are two attaches of one array: with two
  // mappings at two addresses the overlap check could not see that they are
  // the same memory, and 1536 of 4096 items came out wrong.
  View<int, 2> a = client_->create<int, 2>("square", {64, 64});
  for (int64_t i = 0; i < 64; ++i) {
    for (int64_t j = 0; j < 64; ++j) a(i, j) = static_cast<int>(64 * i + j);
  }
  View<int, 2> b = client_->attach<int, 2>("square");
  a.assign(b.T());
  int wrong = 0;
  for (int64_t i = 0; i < 64; ++i) {
    for (int64_t j = 0; j < 64; ++j) wrong += a(i, j) != static_cast<int>(64 * j + i);
  }
  EXPECT_EQ(wrong, 0);
}

TEST_F(ClientTest, MappingIsReleasedWithTheLastView) {
  client_->create_any("gone", "d", std::vector<int64_t>{512});
  void* first = nullptr;
  {
    AnyView v = client_->attach_any("gone");
    first = v.data();
    EXPECT_EQ(MapsEntryOf(first).path, "/dev/shm/" + client_->stat("gone").segment_name);
  }
  // The cache holds no reference: the mapping went with the view.
  EXPECT_NE(MapsEntryOf(first).path, "/dev/shm/" + client_->stat("gone").segment_name);
  // A read-only attach never reuses a writable mapping.
  AnyView rw = client_->attach_any("gone");
  AnyView ro = client_->attach_any("gone", /*readonly=*/true);
  EXPECT_NE(rw.data(), ro.data());
  EXPECT_TRUE(ro.readonly());
}

// --- Named views and slices. -----------------------------------------------------

TEST_F(ClientTest, NamedViewAttachesZeroCopyWithTheViewsLayout) {
  View<int, 2> base = MakeIota("base", 4, 6);
  const ArrayInfo vi = client_->slice("base", "::2, ::-1", "base_rev");
  EXPECT_EQ(vi.name, "base_rev");
  EXPECT_EQ(vi.kind, ArrayKind::kView);
  EXPECT_EQ(vi.base, "base");
  EXPECT_EQ(vi.base_generation, client_->stat("base").generation);
  EXPECT_EQ(vi.segment_name, client_->stat("base").segment_name);
  EXPECT_THAT(vi.shape(), ElementsAre(2, 6));
  EXPECT_THAT(vi.strides(), ElementsAre(48, -4));
  EXPECT_EQ(vi.layout.offset, 20);

  View<int, 2> v = client_->attach<int, 2>("base_rev");
  EXPECT_THAT(v.shape(), ElementsAre(2, 6));
  EXPECT_EQ(v(0, 0), 5);
  EXPECT_EQ(v(1, 5), 20);
  base(2, 5) = 1000;  // visible through the view at once
  EXPECT_EQ(v(1, 0), 1000);
  v(0, 5) = -3;
  EXPECT_EQ(base(0, 0), -3);
  EXPECT_EQ(MapsEntryOf(v.data()).path, "/dev/shm/" + vi.segment_name);

  // A view of a view, then the stat of a slice without a name.
  client_->slice("base_rev", "1", "row");
  View<const int, 1> row = client_->attach_readonly<int, 1>("row");
  EXPECT_EQ(row(0), 1000);
  const ArrayInfo unnamed = client_->slice("base", ":, 1");
  EXPECT_THAT(unnamed.shape(), ElementsAre(4));
  EXPECT_THAT(unnamed.strides(), ElementsAre(24));
  ExpectRpcError(absl::StatusCode::kAlreadyExists, [&] { client_->slice("base", "1", "row"); });

  // A base with views is not deleted unless cascading.
  EXPECT_THAT(
      ExpectRpcError(absl::StatusCode::kFailedPrecondition, [&] { client_->remove("base"); }),
      HasSubstr("base_rev"));
  std::vector<std::string> removed = client_->remove("base", /*cascade=*/true);
  EXPECT_THAT(removed, ::testing::UnorderedElementsAre("base", "base_rev", "row"));
  EXPECT_EQ(row(0), 1000);  // mappings stay valid
}

TEST_F(ClientTest, SliceAcceptsStructuredIndexExpressions) {
  MakeIota("st", 5, 5);
  shm::IndexExpr expr = {shm::Slice{1, std::nullopt, 2}, shm::newaxis, int64_t{-1}};
  const ArrayInfo info = client_->slice("st", expr, "st_v");
  EXPECT_THAT(info.shape(), ElementsAre(2, 1));
  View<const int, 2> v = client_->attach_readonly<int, 2>("st_v");
  EXPECT_EQ(v(0, 0), 14);
  EXPECT_EQ(v(1, 0), 34);
}

TEST_F(ClientTest, NamedViewOfSealedBaseIsReadOnly) {
  MakeIota("sb", 2, 2);
  client_->seal("sb");
  client_->slice("sb", "0", "sb_row");
  EXPECT_TRUE(client_->stat("sb_row").readonly);
  EXPECT_EQ(ExpectThrow<shm::ReadOnlyError>([&] { client_->attach<int, 1>("sb_row"); }),
            "buffer source array is read-only");
  EXPECT_EQ((client_->attach_readonly<int, 1>("sb_row")(1)), 1);
}

// --- Copy. -------------------------------------------------------------------

TEST_F(ClientTest, CopyToNewArrayInEitherOrder) {
  MakeIota("c", 3, 4);
  const ArrayInfo f = client_->copy("c", "::-1, 1:", "c_f", Order::kF);
  EXPECT_TRUE(f.f_contiguous);
  EXPECT_THAT(f.shape(), ElementsAre(3, 3));
  View<int, 2, f_contig> fv = client_->attach<int, 2, f_contig>("c_f");
  EXPECT_EQ(fv(0, 0), 21);
  EXPECT_EQ(fv(2, 2), 3);
  const ArrayInfo c = client_->copy("c", "", "c_c");
  EXPECT_TRUE(c.c_contiguous);
  View<int, 2, c_contig> cv = client_->attach<int, 2, c_contig>("c_c");
  EXPECT_EQ(cv(2, 3), 23);
  EXPECT_NE(c.segment_name, client_->stat("c").segment_name);  // a real copy
  ExpectRpcError(absl::StatusCode::kAlreadyExists, [&] { client_->copy("c", "", "c_c"); });
}

TEST_F(ClientTest, CopyIntoAnExistingSelection) {
  MakeIota("src", 2, 3);
  View<int, 2> dst = client_->create<int, 2>("dst", {4, 3});
  client_->copy_into("src", "", "dst", "1:3, :");
  EXPECT_EQ(dst(0, 0), 0);
  EXPECT_EQ(dst(1, 0), 0);
  EXPECT_EQ(dst(2, 2), 12);
  client_->copy_into("src", "1", "dst", "::3");  // broadcast a row into two rows
  EXPECT_EQ(dst(0, 1), 11);
  EXPECT_EQ(dst(3, 2), 12);
  EXPECT_EQ(ExpectRpcError(absl::StatusCode::kInvalidArgument,
                           [&] { client_->copy_into("src", "", "dst", ":3"); }),
            "got differing extents in dimension 0 (got 3 and 2)");
}

// --- Read and write. -------------------------------------------------------------

TEST_F(ClientTest, ReadInCAndFortranOrder) {
  MakeIota("rd", 3, 4);
  AnyView c = client_->read("rd");
  EXPECT_TRUE(c.is_c_contig());
  EXPECT_FALSE(c.readonly());
  EXPECT_EQ(c.format().canonical(), "<i");
  View<int, 2, c_contig> cv = c.as<int, 2, c_contig>();
  EXPECT_EQ(cv(2, 3), 23);
  EXPECT_EQ(static_cast<void*>(cv.data()), static_cast<void*>(c.first()));

  AnyView f = client_->read("rd", "", Order::kF);
  EXPECT_TRUE(f.is_f_contig());
  View<const int, 2, f_contig> fv = f.as<const int, 2, f_contig>();
  EXPECT_EQ(fv(2, 3), 23);
  EXPECT_EQ(fv(1, 0), 10);
  EXPECT_EQ(reinterpret_cast<const int*>(f.first())[1], 10);  // column-major bytes
}

TEST_F(ClientTest, ReadOfStridedSelections) {
  MakeIota("sel", 5, 6);
  AnyView s = client_->read("sel", "::2, ::-2");
  View<const int, 2> v = s.as<const int, 2>();
  EXPECT_THAT(v.shape(), ElementsAre(3, 3));
  EXPECT_EQ(v(0, 0), 5);
  EXPECT_EQ(v(0, 2), 1);
  EXPECT_EQ(v(2, 1), 43);
  AnyView e = client_->read("sel", "1, None, 2:4");
  EXPECT_THAT(e.layout().shape, ElementsAre(1, 2));
  EXPECT_EQ((e.as<const int, 2>()(0, 1)), 13);
  AnyView empty = client_->read("sel", "3:3");
  EXPECT_EQ(empty.nbytes(), 0);
  EXPECT_THAT(empty.layout().shape, ElementsAre(0, 6));
}

TEST_F(ClientTest, ReadIntoFillsTheCallersMemoryInItsOrder) {
  MakeIota("ri", 5, 6);
  for (const char* index : {"", "::2, ::-2", "1, None, 2:4", "3:3"}) {
    SCOPED_TRACE(index);
    for (const Order order : {Order::kC, Order::kF}) {
      const AnyView expected = client_->read("ri", index, order);
      AnyView dst = AnyView::Allocate(shm::Format::Parse("i"), expected.layout().shape, order);
      std::memset(dst.first(), 0x7f, static_cast<size_t>(dst.nbytes()));
      ArrayInfo info;
      EXPECT_EQ(client_->read_into("ri", index, dst, nullptr, &info), expected.nbytes());
      EXPECT_EQ(info.layout.shape, expected.layout().shape);
      // The same bytes in the same order: the destination's order was sent.
      EXPECT_EQ(std::memcmp(dst.first(), expected.first(), expected.nbytes()), 0);
    }
  }
  // Again into the same memory: each read brings the bytes of that moment.
  AnyView dst = AnyView::Allocate(shm::Format::Parse("i"), std::vector<int64_t>{5, 6}, Order::kC);
  View<int, 2> written = client_->attach<int, 2>("ri");
  for (int round = 0; round < 3; ++round) {
    written(4, 5) = 1000 + round;
    client_->read_into("ri", "", dst);
    EXPECT_EQ((dst.as<const int, 2>()(4, 5)), 1000 + round);
  }
}

TEST_F(ClientTest, ReadIntoRefusesAMismatchedDestinationAndLeavesItUntouched) {
  MakeIota("rm", 3, 4);
  struct Case {
    const char* what;
    AnyView dst;
    const char* message;
  };
  const auto make = [](const char* format, std::vector<int64_t> shape) {
    return AnyView::Allocate(shm::Format::Parse(format), std::move(shape), Order::kC);
  };
  AnyView wide = make("i", {3, 8});
  std::vector<Case> cases;
  cases.push_back({"shape", make("i", {4, 3}),
                   "read of 'rm' into a destination: the selection has shape (3, 4) but the "
                   "destination has shape (4, 3)"});
  cases.push_back({"itemsize", make("q", {3, 4}),
                   "read of 'rm' into a destination: the array's items have 4 bytes but the "
                   "destination's have 8"});
  cases.push_back({"format", make("f", {3, 4}), "Buffer dtype mismatch"});
  cases.push_back({"strided", wide.slice(shm::ParseIndex(":, ::2")),
                   "read of 'rm' into a destination that is not contiguous (strides (32, 8))"});
  AnyView sealed_like = make("i", {3, 4});
  cases.push_back({"read-only",
                   AnyView(sealed_like.format(), sealed_like.layout(), sealed_like.data(),
                           /*readonly=*/true, sealed_like.base()),
                   "read of 'rm' into a destination that is read-only"});
  for (Case& c : cases) {
    SCOPED_TRACE(c.what);
    const std::vector<std::byte> sentinel(static_cast<size_t>(c.dst.layout().nbytes()),
                                          std::byte{0x5c});
    std::memset(c.dst.first(), 0x5c, sentinel.size());
    EXPECT_THAT(ExpectRpcError(absl::StatusCode::kInvalidArgument,
                               [&] { client_->read_into("rm", "", c.dst); }),
                HasSubstr(c.message));
    EXPECT_EQ(std::memcmp(c.dst.first(), sentinel.data(), sentinel.size()), 0);
  }
  // The name is checked as by every call.
  AnyView ok = make("i", {3, 4});
  ExpectRpcError(absl::StatusCode::kNotFound, [&] { client_->read_into("nope", "", ok); });
}

TEST_F(ClientTest, ReadIntoOverSplitStreams) {
  constexpr int64_t kRows = 1500;
  constexpr int64_t kCols = 2000;  // 12 MB of int32: more than the first part
  MakeIota("ris", kRows, kCols);
  Client split = Client::Connect({.target = daemon_->target(), .streams = 3});
  for (const Order order : {Order::kC, Order::kF}) {
    SCOPED_TRACE(order == Order::kC ? "C" : "F");
    const AnyView one = client_->read("ris", "", order);
    AnyView dst = AnyView::Allocate(shm::Format::Parse("i"), one.layout().shape, order);
    std::vector<int64_t> progress;
    EXPECT_EQ(
        split.read_into("ris", "", dst, [&](int64_t done, int64_t) { progress.push_back(done); }),
        one.nbytes());
    EXPECT_EQ(std::memcmp(dst.first(), one.first(), one.nbytes()), 0);
    ASSERT_FALSE(progress.empty());
    EXPECT_EQ(progress.back(), one.nbytes());
  }
}

TEST_F(ClientTest, WriteRoundTripsOfContiguousAndStridedSources) {
  View<int, 2> a = client_->create<int, 2>("w", {4, 6});
  // C-contiguous source into a row block.
  AnyView c = AnyView::Allocate(shm::Format::Parse("i"), std::vector<int64_t>{2, 6}, Order::kC);
  View<int, 2> cv = c.as<int, 2>();
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 6; ++j) cv(i, j) = 100 + 10 * i + j;
  EXPECT_EQ(client_->write("w", "1:3", c), 48);
  EXPECT_EQ(a(1, 0), 100);
  EXPECT_EQ(a(2, 5), 115);
  EXPECT_EQ(a(0, 0), 0);
  EXPECT_EQ(a(3, 5), 0);

  // Fortran-ordered source: the bytes travel in F order, values land right.
  AnyView f = AnyView::Allocate(shm::Format::Parse("i"), std::vector<int64_t>{4, 2}, Order::kF);
  View<int, 2, f_contig> fv = f.as<int, 2, f_contig>();
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 2; ++j) fv(i, j) = -(10 * i + j);
  client_->write("w", ":, 4:", f);
  EXPECT_EQ(a(3, 5), -31);
  EXPECT_EQ(a(2, 4), -20);

  // A strided (non-contiguous) source into a strided selection.
  AnyView big = AnyView::Allocate(shm::Format::Parse("i"), std::vector<int64_t>{4, 6}, Order::kC);
  View<int, 2> bv = big.as<int, 2>();
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 6; ++j) bv(i, j) = 1000 + 10 * i + j;
  AnyView strided = big.slice(shm::ParseIndex("::2, ::-3"));  // shape (2, 2)
  ASSERT_FALSE(strided.is_c_contig());
  client_->write("w", "::3, 1:3", strided);
  EXPECT_EQ(a(0, 1), 1005);
  EXPECT_EQ(a(0, 2), 1002);
  EXPECT_EQ(a(3, 1), 1025);
  EXPECT_EQ(a(3, 2), 1022);

  // Written bytes read back identically.
  AnyView back = client_->read("w", "::3, 1:3");
  EXPECT_EQ((back.as<const int, 2>()(1, 0)), 1025);
}

TEST_F(ClientTest, WriteRejectsMismatchedShapeAndFormat) {
  client_->create_any("wm", "i", std::vector<int64_t>{3, 4});
  AnyView wrong_shape =
      AnyView::Allocate(shm::Format::Parse("i"), std::vector<int64_t>{4, 3}, Order::kC);
  EXPECT_THAT(ExpectRpcError(absl::StatusCode::kInvalidArgument,
                             [&] { client_->write("wm", "", wrong_shape); }),
              HasSubstr("shape (4, 3)"));
  AnyView wrong_format =
      AnyView::Allocate(shm::Format::Parse("f"), std::vector<int64_t>{3, 4}, Order::kC);
  ExpectRpcError(absl::StatusCode::kInvalidArgument,
                 [&] { client_->write("wm", "", wrong_format); });
  ExpectRpcError(absl::StatusCode::kOutOfRange, [&] { client_->write("wm", "7", wrong_shape); });
}

// The checks travel with the Write's target (one RPC): the shape with both
// shapes named, the expected generation, and nothing lands when one fails.
TEST_F(ClientTest, WriteChecksShapeAndGenerationBeforeTheFirstByte) {
  const ArrayInfo first = client_->create_any("wg", "i", std::vector<int64_t>{2, 3});
  AnyView ones = AnyView::Allocate(shm::Format::Parse("i"), std::vector<int64_t>{6}, Order::kC);
  for (int k = 0; k < 6; ++k) reinterpret_cast<int*>(ones.first())[k] = 1;
  // Same byte count, another shape: refused, nothing written.
  EXPECT_THAT(
      ExpectRpcError(absl::StatusCode::kInvalidArgument, [&] { client_->write("wg", "", ones); }),
      HasSubstr("write to 'wg': the source has shape (6,) but the selection has shape "
                "(2, 3)"));
  // A 0-d source into a 1-element selection of shape (1,).
  AnyView scalar = AnyView::Allocate(shm::Format::Parse("i"), std::vector<int64_t>{}, Order::kC);
  EXPECT_THAT(ExpectRpcError(absl::StatusCode::kInvalidArgument,
                             [&] { client_->write("wg", "0, :1", scalar); }),
              HasSubstr("the source has shape () but the selection has shape (1,)"));
  EXPECT_EQ(client_->write("wg", "0, 0", scalar), 4);

  AnyView row = AnyView::Allocate(shm::Format::Parse("i"), std::vector<int64_t>{3}, Order::kC);
  for (int k = 0; k < 3; ++k) reinterpret_cast<int*>(row.first())[k] = 7;
  ArrayInfo written;
  EXPECT_EQ(client_->write("wg", "1", row, nullptr, &written, first.generation), 12);
  EXPECT_EQ(written.name, "wg");
  EXPECT_EQ(written.shape(), std::vector<int64_t>{3});
  EXPECT_EQ(written.generation, first.generation);

  // Deleted and created again: the old generation is refused.
  client_->remove("wg");
  const ArrayInfo second = client_->create_any("wg", "i", std::vector<int64_t>{2, 3});
  ASSERT_NE(second.generation, first.generation);
  EXPECT_THAT(
      ExpectRpcError(absl::StatusCode::kFailedPrecondition,
                     [&] { client_->write("wg", "1", row, nullptr, nullptr, first.generation); }),
      HasSubstr("expected generation"));
  AnyView back = client_->read("wg");
  EXPECT_EQ((back.as<const int, 2>()(1, 2)), 0);  // nothing landed
  EXPECT_EQ(client_->write("wg", "1", row, nullptr, nullptr, second.generation), 12);

  // read() hands back the stream's description: no slice() needed.
  ArrayInfo read_info;
  AnyView got = client_->read("wg", "1", Order::kC, nullptr, &read_info);
  EXPECT_EQ(read_info.name, "wg");
  EXPECT_EQ(read_info.shape(), std::vector<int64_t>{3});
  EXPECT_EQ(read_info.generation, second.generation);
  EXPECT_EQ(reinterpret_cast<const int*>(got.first())[2], 7);
}

TEST_F(ClientTest, LargeTransfersStreamInChunksWithProgress) {
  constexpr int64_t kN = (5 << 20) / 8 + 3;  // a bit over 5 MiB of doubles
  AnyView src = AnyView::Allocate(shm::Format::Parse("d"), std::vector<int64_t>{kN}, Order::kC);
  View<double, 1> sv = src.as<double, 1>();
  for (int64_t i = 0; i < kN; ++i) sv(i) = static_cast<double>(i) * 0.5;
  View<double, 1> dst = client_->create<double, 1>("big", {kN});

  std::vector<std::pair<int64_t, int64_t>> calls;
  auto record = [&](int64_t done, int64_t total) { calls.emplace_back(done, total); };
  EXPECT_EQ(client_->write("big", "", src, record), kN * 8);
  ASSERT_GE(calls.size(), 6u);  // 1 MiB chunks
  EXPECT_EQ(calls.back().first, kN * 8);
  for (const auto& [done, total] : calls) EXPECT_EQ(total, kN * 8);
  for (size_t i = 1; i < calls.size(); ++i) EXPECT_GT(calls[i].first, calls[i - 1].first);
  EXPECT_EQ(dst(kN - 1), static_cast<double>(kN - 1) * 0.5);

  calls.clear();
  AnyView back = client_->read("big", "", Order::kC, record);
  ASSERT_GE(calls.size(), 2u);
  EXPECT_EQ(calls.back().first, kN * 8);
  EXPECT_EQ(std::memcmp(back.first(), src.first(), kN * 8), 0);
}

// The daemon's open sockets (its listener and one per client connection).
int SocketsOf(pid_t pid) {
  int n = 0;
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::error_code ec;
    const std::filesystem::path target = std::filesystem::read_symlink(entry.path(), ec);
    if (!ec && target.string().starts_with("socket:")) ++n;
  }
  return n;
}

// streams > 1: a large read or write is split across that many connections
// and moves exactly the bytes one stream moves, for strided selections in
// either order; progress rises to the total on the calling thread.
TEST_F(ClientTest, SplitTransfersMoveTheSameBytesOverSeparateConnections) {
  for (const char* bad : {"0", "65"}) {
    SCOPED_TRACE(bad);
    EXPECT_THAT(
        ExpectRpcError(
            absl::StatusCode::kInvalidArgument,
            [&] { Client::Connect({.target = daemon_->target(), .streams = std::atoi(bad)}); }),
        HasSubstr("streams must be in [1, 64], got "));
  }
  constexpr int64_t kRows = 1500;
  constexpr int64_t kCols = 2000;  // 12 MB of int32
  MakeIota("split", kRows, kCols);
  client_->stat("split");
  // Channels with equal arguments share a connection (gRPC's subchannel
  // pool): the split client's own channel is client_'s connection.
  const int before = SocketsOf(daemon_->pid());
  Client split = Client::Connect({.target = daemon_->target(), .streams = 3});
  split.stat("split");
  EXPECT_EQ(SocketsOf(daemon_->pid()), before);
  for (const Order order : {Order::kC, Order::kF}) {
    for (const char* index : {"", "::-1, 1::3", "7"}) {
      SCOPED_TRACE(std::string(index) + (order == Order::kC ? " C" : " F"));
      const AnyView one = client_->read("split", index, order);
      std::vector<int64_t> progress;
      ArrayInfo info;
      const AnyView many = split.read(
          "split", index, order,
          [&](int64_t done, int64_t total) {
            EXPECT_EQ(total, one.nbytes());
            progress.push_back(done);
          },
          &info);
      ASSERT_EQ(many.nbytes(), one.nbytes());
      EXPECT_EQ(std::memcmp(many.first(), one.first(), one.nbytes()), 0);
      EXPECT_EQ(info.layout.shape, one.layout().shape);
      ASSERT_FALSE(progress.empty());
      EXPECT_EQ(progress.back(), one.nbytes());
      EXPECT_TRUE(std::is_sorted(progress.begin(), progress.end()));
    }
  }
  // Two more connections, kept for later transfers.
  EXPECT_EQ(SocketsOf(daemon_->pid()), before + 2);

  // A strided source (every other row of a larger buffer), F order
  // selection, through the split path.
  AnyView buffer =
      AnyView::Allocate(shm::Format::Parse("i"), std::vector<int64_t>{2 * kRows, kCols}, Order::kC);
  View<int, 2> bv = buffer.as<int, 2>();
  for (int64_t i = 0; i < 2 * kRows; ++i) {
    for (int64_t j = 0; j < kCols; ++j) bv(i, j) = static_cast<int>(i * 7 + j * 3);
  }
  const AnyView src = buffer.slice(shm::ParseIndex("::2, ::-1"));
  std::vector<int64_t> progress;
  EXPECT_EQ(split.write("split", "", src, [&](int64_t done, int64_t) { progress.push_back(done); }),
            kRows * kCols * 4);
  EXPECT_EQ(progress.back(), kRows * kCols * 4);
  EXPECT_TRUE(std::is_sorted(progress.begin(), progress.end()));
  const View<const int, 2> back = client_->attach_readonly<int, 2>("split");
  for (int64_t i = 0; i < kRows; i += 97) {
    for (int64_t j = 0; j < kCols; j += 89) {
      ASSERT_EQ(back(i, j), static_cast<int>(2 * i * 7 + (kCols - 1 - j) * 3)) << i << "," << j;
    }
  }
  ASSERT_EQ(back(kRows - 1, 0), static_cast<int>(2 * (kRows - 1) * 7 + (kCols - 1) * 3));
  // And a contiguous source (sent without a copy) into a strided selection.
  const AnyView rows = client_->read("split", "::2, :");
  EXPECT_EQ(split.write("split", "1::2, :", rows), rows.nbytes());
  const AnyView odd = client_->read("split", "1::2, :");
  EXPECT_EQ(std::memcmp(odd.first(), rows.first(), rows.nbytes()), 0);
  EXPECT_EQ(SocketsOf(daemon_->pid()), before + 2);
}

// A name deleted and created again between the first part of a split
// transfer and the rest: the other parts are refused (FAILED_PRECONDITION),
// never mixed from two incarnations. A local read holds the segment it
// opened, so it reads the whole of the incarnation it started with.
TEST_F(ClientTest, SplitTransferRefusesAReplacedArray) {
  constexpr int64_t kN = 3 << 20;  // 12 MiB of int32
  {
    View<int, 1> old = client_->create<int, 1>("swap", {kN});
    old(kN - 1) = 11;
    const uint64_t old_generation = client_->stat("swap").generation;
    Client local = Client::Connect({.target = daemon_->target()});
    bool swapped = false;
    ArrayInfo info;
    const AnyView got = local.read(
        "swap", "", Order::kC,
        [&](int64_t, int64_t) {
          if (swapped) return;
          swapped = true;
          client_->remove("swap");
          client_->create<int, 1>("swap", {kN});
        },
        &info);
    EXPECT_TRUE(swapped);
    EXPECT_EQ(info.generation, old_generation);
    EXPECT_EQ((got.as<const int, 1>()(kN - 1)), 11);
    EXPECT_NE(client_->stat("swap").generation, old_generation);
  }
  Client split = Client::Connect({.target = daemon_->target(), .local_reads = false, .streams = 2});
  bool replaced = false;
  const auto replace = [&](int64_t, int64_t) {
    if (replaced) return;
    replaced = true;
    client_->remove("swap");
    client_->create<int, 1>("swap", {kN});
  };
  ExpectRpcError(absl::StatusCode::kFailedPrecondition,
                 [&] { split.read("swap", "", Order::kC, replace); });
  EXPECT_TRUE(replaced);
  replaced = false;
  AnyView src = AnyView::Allocate(shm::Format::Parse("i"), std::vector<int64_t>{kN}, Order::kC);
  std::memset(src.first(), 0x5a, static_cast<size_t>(src.nbytes()));
  ExpectRpcError(absl::StatusCode::kFailedPrecondition,
                 [&] { split.write("swap", "", src, replace); });
  EXPECT_TRUE(replaced);
  // The new incarnation got no byte of the parts after the first.
  const View<const int, 1> now = client_->attach_readonly<int, 1>("swap");
  EXPECT_EQ(now(kN - 1), 0);
}

// --- Watch. ------------------------------------------------------------------------

TEST_F(ClientTest, WatchDeliversCreatedSealedDeletedUnderThePrefix) {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<WatchEvent> events;
  WatchHandle handle = client_->watch("w/", [&](const WatchEvent& e) {
    std::lock_guard<std::mutex> lock(mu);
    events.push_back(e);
    cv.notify_all();
  });
  EXPECT_TRUE(handle.active());
  auto wait_for = [&](auto pred) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(10), [&] { return pred(events); });
  };
  // A probe first: the stream delivers at all (watch() returned after the
  // daemon registered it, so the first probe is normally the one seen).
  bool seen = false;
  for (int i = 0; i < 50 && !seen; ++i) {
    const std::string probe = "w/probe" + std::to_string(i);
    client_->create_any(probe, "B", std::vector<int64_t>{1});
    std::unique_lock<std::mutex> lock(mu);
    seen = cv.wait_for(lock, std::chrono::milliseconds(200), [&] { return !events.empty(); });
  }
  ASSERT_TRUE(seen) << "the watch never delivered an event";
  {
    std::lock_guard<std::mutex> lock(mu);
    events.clear();
  }
  client_->create_any("other/x", "B", std::vector<int64_t>{1});  // not under the prefix
  client_->create_any("w/a", "d", std::vector<int64_t>{2});
  client_->seal("w/a");
  client_->remove("w/a");
  ASSERT_TRUE(wait_for([](const auto& ev) { return ev.size() >= 3; }));
  handle.cancel();
  EXPECT_FALSE(handle.active());
  EXPECT_NO_THROW(handle.wait());  // a cancelled watch ended cleanly
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].type, WatchEvent::Type::kCreated);
  EXPECT_EQ(events[0].name, "w/a");
  EXPECT_THAT(events[0].info.shape(), ElementsAre(2));
  EXPECT_EQ(events[0].info.format.canonical(), "<d");
  EXPECT_EQ(events[1].type, WatchEvent::Type::kSealed);
  EXPECT_TRUE(events[1].info.readonly);
  EXPECT_EQ(events[2].type, WatchEvent::Type::kDeleted);
  EXPECT_EQ(events[2].name, "w/a");
  for (const WatchEvent& e : events) EXPECT_GT(e.unix_ns, 0);
}

TEST_F(ClientTest, WatchHandleStopsOnDestructionAndOutlivesTheClient) {
  std::atomic<int> count{0};
  {
    Client other = Client::Connect({.target = daemon_->target()});
    WatchHandle h = other.watch("", [&](const WatchEvent&) { ++count; });
    WatchHandle moved = std::move(h);
    EXPECT_FALSE(h.active());  // NOLINT(bugprone-use-after-move): moved-from is inert
    EXPECT_TRUE(moved.active());
  }  // destroyed: cancelled and joined
  client_->create_any("after", "B", std::vector<int64_t>{1});
  EXPECT_EQ(count.load(), 0);
}

// watch() returns once the daemon has registered the watch, so a create made
// right after it returns is always delivered: 50 fresh watches, each
// followed at once by a create under its prefix.
TEST_F(ClientTest, WatchSeesACreateMadeRightAfterItReturns) {
  for (int round = 0; round < 50; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const std::string name = "wr" + std::to_string(round) + "/a";
    std::mutex mu;
    std::condition_variable cv;
    bool seen = false;
    WatchHandle handle =
        client_->watch("wr" + std::to_string(round) + "/", [&](const WatchEvent& e) {
          std::lock_guard<std::mutex> lock(mu);
          if (e.type == WatchEvent::Type::kCreated && e.name == name) seen = true;
          cv.notify_all();
        });
    ASSERT_TRUE(handle.active());
    client_->create_any(name, "B", std::vector<int64_t>{1});
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return seen; }))
        << "the create right after watch() returned was not delivered";
  }
}

// --- A process that cannot see the segments. -----------------------------------

// Helper run in a child process (exec of this binary): a private /dev/shm in
// its own mount namespace, then attach must fail naming read/write, and
// read/write must work. Reports through its exit code and stderr.
TEST(ClientHelper, DISABLED_PrivateDevShm) {
  const char* target = std::getenv("SHMARRAY_HELPER_TARGET");
  ASSERT_NE(target, nullptr);
  // Before any thread exists (unshare(CLONE_NEWNS) needs a single thread).
  ASSERT_EQ(unshare(CLONE_NEWNS), 0) << std::strerror(errno);
  ASSERT_EQ(mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), 0) << std::strerror(errno);
  ASSERT_EQ(mount("tmpfs", "/dev/shm", "tmpfs", 0, nullptr), 0) << std::strerror(errno);
  Client client = Client::Connect({.target = target});
  const ArrayInfo info = client.stat("remote");
  try {
    client.attach<int, 1>("remote");
    FAIL() << "attach worked from a private /dev/shm";
  } catch (const SegmentUnreachableError& e) {
    EXPECT_EQ(e.code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(std::string(e.what()),
              "array 'remote' lives in shared memory segment '" + info.segment_name +
                  "' that this process cannot open (No such file or directory); are you on "
                  "another host or in another container? use Client::read()/write(), which "
                  "stream over gRPC");
  }
  AnyView r = client.read("remote");
  EXPECT_EQ((r.as<const int, 1>()(2)), 42);
  AnyView one = AnyView::Allocate(shm::Format::Parse("i"), std::vector<int64_t>{1}, Order::kC);
  one.as<int, 1>()(0) = 77;
  client.write("remote", "0:1", one);
}

TEST_F(ClientTest, AttachFromAPrivateDevShmNamesReadAndWrite) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root for unshare(CLONE_NEWNS)";
  View<int, 1> v = client_->create<int, 1>("remote", {4});
  v(2) = 42;
  // posix_spawn, not fork: this process already runs gRPC threads.
  std::vector<std::string> env_strings = {"SHMARRAY_HELPER_TARGET=" + daemon_->target()};
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string filter = "--gtest_filter=ClientHelper.DISABLED_PrivateDevShm";
  std::string also = "--gtest_also_run_disabled_tests";
  std::string arg0 = "client_tests";
  char* argv[] = {arg0.data(), filter.data(), also.data(), nullptr};
  pid_t pid = -1;
  ASSERT_EQ(posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv, envp.data()), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the helper failed (see its stderr above)";
  EXPECT_EQ(v(0), 77);  // its write landed in our mapping
}

}  // namespace
}  // namespace shmarray::client

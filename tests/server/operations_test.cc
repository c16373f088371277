// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: operations_test.cc
// -----------------------------------------------------------------------------
// What an operator sees of the REAL shmarrayd binary: gRPC health per service
// (through the generated grpc.health.v1 client, Check and Watch, SERVING and
// NOT_SERVING during a graceful shutdown), server reflection behind the token,
// Prometheus metrics scraped with a real HTTP client (curl) while RPCs move
// the numbers, and the log: its line format and that a stderr nobody reads
// never stops the daemon. Nothing waits by sleeping: every wait polls with a
// deadline.

#include <fcntl.h>
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "shmarray/server/log.h"
#include "shmarray/v1/array_service.grpc.pb.h"
#include "testing/daemon.h"

extern char** environ;

namespace shmarray {
namespace {

using ::shmarray::testing::DescribeStatus;
using ::shmarray::testing::TestDaemon;
using ::shmarray::testing::TestDaemonOptions;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using HealthStatus = grpc::health::v1::HealthCheckResponse::ServingStatus;
using Clock = std::chrono::steady_clock;

constexpr char kArrayService[] = "shmarray.v1.ArrayService";

std::chrono::system_clock::time_point Deadline(int seconds = 10) {
  return std::chrono::system_clock::now() + std::chrono::seconds(seconds);
}

TestDaemonOptions WithToken(const std::string& token) {
  TestDaemonOptions o;
  o.token = token;
  return o;
}

TestDaemonOptions WithFlags(std::vector<std::string> flags) {
  TestDaemonOptions o;
  o.extra_flags = std::move(flags);
  return o;
}

std::unique_ptr<TestDaemon> StartOrDie(TestDaemonOptions options) {
  auto daemon = TestDaemon::Start(std::move(options));
  EXPECT_TRUE(daemon.ok()) << daemon.status();
  return daemon.ok() ? std::move(*daemon) : nullptr;
}

// Health Check of `service` (no token): the status, or the RPC's error code.
struct HealthAnswer {
  grpc::StatusCode code = grpc::StatusCode::OK;
  HealthStatus status = grpc::health::v1::HealthCheckResponse::UNKNOWN;
};
HealthAnswer Check(grpc::health::v1::Health::Stub& health, const std::string& service) {
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline());
  grpc::health::v1::HealthCheckRequest req;
  req.set_service(service);
  grpc::health::v1::HealthCheckResponse resp;
  const grpc::Status s = health.Check(&ctx, req, &resp);
  return {s.error_code(), resp.status()};
}

grpc::Status CreateArray(const TestDaemon& d, v1::ArrayService::Stub& stub, const std::string& name,
                         int64_t n) {
  grpc::ClientContext ctx;
  d.Authorize(&ctx);
  ctx.set_deadline(Deadline());
  v1::CreateRequest req;
  req.set_name(name);
  req.set_format("B");
  req.add_shape(n);
  v1::ArrayInfo info;
  return stub.Create(&ctx, req, &info);
}

grpc::Status DeleteArray(const TestDaemon& d, v1::ArrayService::Stub& stub,
                         const std::string& name) {
  grpc::ClientContext ctx;
  d.Authorize(&ctx);
  ctx.set_deadline(Deadline());
  v1::DeleteRequest req;
  req.set_name(name);
  req.set_cascade(true);
  v1::DeleteResponse resp;
  return stub.Delete(&ctx, req, &resp);
}

// Runs `argv` (PATH searched) and returns its stdout, or nullopt when it
// cannot run or exits non-zero.
std::optional<std::string> RunCapture(const std::vector<std::string>& argv) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return std::nullopt;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  std::string out;
  if (rc == 0) {
    char buf[65536];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  if (rc != 0) return std::nullopt;
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return std::nullopt;
  return out;
}

// The metrics port from the log line "metrics on http://127.0.0.1:PORT/metrics".
int MetricsPort(const TestDaemon& d) {
  static constexpr char kNeedle[] = "metrics on http://127.0.0.1:";
  if (!d.WaitForStderr(kNeedle, std::chrono::seconds(10))) return 0;
  const std::string text = d.StderrText();
  return std::atoi(text.c_str() + text.find(kNeedle) + sizeof(kNeedle) - 1);
}

// One scrape with curl: "name{labels}" -> value for every sample line.
std::map<std::string, double> Scrape(int port) {
  std::map<std::string, double> samples;
  const std::optional<std::string> body =
      RunCapture({"curl", "-sSf", "--max-time", "10",
                  "http://127.0.0.1:" + std::to_string(port) + "/metrics"});
  EXPECT_TRUE(body.has_value()) << "curl could not scrape port " << port;
  if (!body) return samples;
  std::stringstream in(*body);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    samples[line.substr(0, space)] = std::strtod(line.c_str() + space + 1, nullptr);
  }
  return samples;
}

std::string Handled(const std::string& method, const std::string& code) {
  return "grpc_server_handled_total{grpc_code=\"" + code + "\",grpc_method=\"" + method +
         "\",grpc_service=\"shmarray.v1.ArrayService\",grpc_type=\"unary\"}";
}

// ==============================================================================
// Health.
// ==============================================================================

TEST(HealthTest, ServerAndArrayServiceAreServingUnknownServicesAreNotFound) {
  auto d = StartOrDie(WithToken("tok"));
  ASSERT_NE(d, nullptr);
  auto health = grpc::health::v1::Health::NewStub(d->channel());
  for (const std::string service : {"", kArrayService}) {
    SCOPED_TRACE(service);
    const HealthAnswer a = Check(*health, service);  // no token: health is open
    EXPECT_EQ(a.code, grpc::StatusCode::OK);
    EXPECT_EQ(a.status, grpc::health::v1::HealthCheckResponse::SERVING);
  }
  EXPECT_EQ(Check(*health, "shmarray.v1.NoSuchService").code, grpc::StatusCode::NOT_FOUND);
}

// A Read stream that the client does not drain keeps the daemon draining
// after SIGTERM; meanwhile health says NOT_SERVING, both to a Watch that was
// open before and to a new Check, for "" and for the ArrayService.
TEST(HealthTest, NotServingWhileShuttingDown) {
  auto d = StartOrDie({});
  ASSERT_NE(d, nullptr);
  auto stub = d->NewStub();
  constexpr int64_t kBytes = int64_t{64} << 20;  // far more than gRPC's flow-control windows
  ASSERT_TRUE(CreateArray(*d, *stub, "h/a", kBytes).ok());
  auto health = grpc::health::v1::Health::NewStub(TestDaemon::NewChannel(d->target()));

  grpc::ClientContext watch_ctx;
  watch_ctx.set_deadline(Deadline(30));
  grpc::health::v1::HealthCheckRequest watch_req;
  watch_req.set_service(kArrayService);
  auto watch = health->Watch(&watch_ctx, watch_req);
  grpc::health::v1::HealthCheckResponse update;
  ASSERT_TRUE(watch->Read(&update));
  EXPECT_EQ(update.status(), grpc::health::v1::HealthCheckResponse::SERVING);

  // A call in flight: its first message arrived, the rest waits for us.
  grpc::ClientContext read_ctx;
  read_ctx.set_deadline(Deadline(30));
  v1::ReadRequest read_req;
  read_req.set_name("h/a");
  auto reader = stub->Read(&read_ctx, read_req);
  v1::ReadResponse chunk;
  ASSERT_TRUE(reader->Read(&chunk));
  ASSERT_TRUE(chunk.has_info());

  ASSERT_EQ(kill(d->pid(), SIGTERM), 0);
  ASSERT_TRUE(watch->Read(&update)) << "the health Watch ended without NOT_SERVING";
  EXPECT_EQ(update.status(), grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  for (const std::string service : {"", kArrayService}) {
    SCOPED_TRACE(service);
    const HealthAnswer a = Check(*health, service);
    EXPECT_EQ(a.code, grpc::StatusCode::OK);
    EXPECT_EQ(a.status, grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  }
  // Reading the rest lets the shutdown complete.
  int64_t received = 0;
  while (reader->Read(&chunk)) received += static_cast<int64_t>(chunk.data().size());
  const grpc::Status finished = reader->Finish();
  EXPECT_TRUE(finished.ok()) << DescribeStatus(finished);
  EXPECT_EQ(received, kBytes);
  watch_ctx.TryCancel();
  watch->Finish();
  absl::StatusOr<int> code = d->WaitForExit(std::chrono::seconds(20));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
  d->RemoveSegments();
}

// ==============================================================================
// Reflection.
// ==============================================================================

namespace refl = grpc::reflection::v1alpha;

// One reflection exchange; returns the final status and fills *resp.
grpc::Status Reflect(grpc::ChannelInterface* channel, const std::string& token,
                     const refl::ServerReflectionRequest& req,
                     refl::ServerReflectionResponse* resp) {
  auto stub = refl::ServerReflection::NewStub(
      std::shared_ptr<grpc::ChannelInterface>(channel, [](grpc::ChannelInterface*) {}));
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline());
  if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
  auto stream = stub->ServerReflectionInfo(&ctx);
  stream->Write(req);
  stream->WritesDone();
  refl::ServerReflectionResponse r;
  while (stream->Read(&r)) *resp = r;
  return stream->Finish();
}

TEST(ReflectionTest, NeedsTheTokenWhenOneIsSet) {
  auto d = StartOrDie(WithToken("s3cret"));
  ASSERT_NE(d, nullptr);
  refl::ServerReflectionRequest list;
  list.set_list_services("*");
  refl::ServerReflectionResponse resp;
  for (const std::string token : {"", "wrong"}) {
    SCOPED_TRACE(token);
    resp.Clear();
    const grpc::Status s = Reflect(d->channel().get(), token, list, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << DescribeStatus(s);
    EXPECT_FALSE(resp.has_list_services_response()) << "described without the token";
  }
  // With the token: the services, and the files that describe them.
  ASSERT_TRUE(Reflect(d->channel().get(), "s3cret", list, &resp).ok());
  std::vector<std::string> names;
  for (const auto& s : resp.list_services_response().service()) names.push_back(s.name());
  EXPECT_THAT(names, Contains(kArrayService));
  EXPECT_THAT(names, Contains("grpc.health.v1.Health"));

  refl::ServerReflectionRequest symbol;
  symbol.set_file_containing_symbol(std::string(kArrayService) + ".Create");
  ASSERT_TRUE(Reflect(d->channel().get(), "s3cret", symbol, &resp).ok());
  ASSERT_EQ(resp.file_descriptor_response().file_descriptor_proto_size(), 1);
  google::protobuf::FileDescriptorProto file;
  ASSERT_TRUE(file.ParseFromString(resp.file_descriptor_response().file_descriptor_proto(0)));
  EXPECT_EQ(file.name(), "shmarray/v1/array_service.proto");
  ASSERT_EQ(file.service_size(), 1);
  EXPECT_EQ(file.service(0).name(), "ArrayService");

  refl::ServerReflectionRequest missing;
  missing.set_file_by_filename("no/such.proto");
  ASSERT_TRUE(Reflect(d->channel().get(), "s3cret", missing, &resp).ok());
  EXPECT_EQ(resp.error_response().error_code(), static_cast<int>(grpc::StatusCode::NOT_FOUND));
  // Health stays open on the same daemon.
  auto health = grpc::health::v1::Health::NewStub(d->channel());
  EXPECT_EQ(Check(*health, kArrayService).status, grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST(ReflectionTest, OpenWithoutAToken) {
  auto d = StartOrDie({});
  ASSERT_NE(d, nullptr);
  refl::ServerReflectionRequest list;
  list.set_list_services("*");
  refl::ServerReflectionResponse resp;
  ASSERT_TRUE(Reflect(d->channel().get(), "", list, &resp).ok());
  EXPECT_GE(resp.list_services_response().service_size(), 3);
}

// ==============================================================================
// Metrics.
// ==============================================================================

TEST(MetricsTest, OffByDefault) {
  auto d = StartOrDie({});
  ASSERT_NE(d, nullptr);
  EXPECT_THAT(d->StderrText(), ::testing::Not(HasSubstr("metrics on")));
}

TEST(MetricsTest, NonLoopbackNeedsInsecureAndBadAddressesExitWith2) {
  for (const std::vector<std::string>& flags :
       {std::vector<std::string>{"--metrics-listen", "0.0.0.0:0"},
        std::vector<std::string>{"--metrics-listen", "nonsense"}}) {
    SCOPED_TRACE(flags[1]);
    auto result = TestDaemon::RunUntilExit(WithFlags(flags), std::chrono::seconds(10));
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_TRUE(result->exited);
    EXPECT_EQ(result->code, 2) << result->stderr_text;
    EXPECT_THAT(result->stderr_text, HasSubstr("--metrics-listen"));
  }
  auto d = StartOrDie(WithFlags({"--metrics-listen", "0.0.0.0:0", "--insecure"}));
  ASSERT_NE(d, nullptr);
  EXPECT_TRUE(d->WaitForStderr("metrics on http://0.0.0.0:", std::chrono::seconds(10)))
      << d->StderrTail();
}

TEST(MetricsTest, NumbersMoveAsRpcsAreMade) {
  auto d = StartOrDie(
      WithFlags({"--metrics-listen", "127.0.0.1:0", "--max-bytes", "1M", "--max-arrays", "50"}));
  ASSERT_NE(d, nullptr);
  const int port = MetricsPort(*d);
  ASSERT_GT(port, 0) << d->StderrTail();
  auto stub = d->NewStub();

  std::map<std::string, double> m = Scrape(port);
  EXPECT_EQ(m["shmarray_quota_max_bytes"], 1 << 20);
  EXPECT_EQ(m["shmarray_quota_max_entries"], 50);
  EXPECT_EQ(m["shmarray_catalog_entries{kind=\"array\"}"], 0);
  EXPECT_EQ(m["shmarray_catalog_bytes"], 0);
  EXPECT_EQ(m.count(Handled("Create", "OK")), 0u);

  {
    const grpc::Status created = CreateArray(*d, *stub, "m/a", 1000);
    ASSERT_TRUE(created.ok()) << created.error_message() << d->StderrTail();
  }
  {  // Write all 1000 bytes.
    grpc::ClientContext ctx;
    v1::WriteResponse resp;
    auto writer = stub->Write(&ctx, &resp);
    v1::WriteRequest req;
    req.mutable_target()->set_name("m/a");
    req.mutable_target()->set_nbytes(1000);
    writer->Write(req);
    req.set_data(std::string(1000, 'x'));
    writer->Write(req);
    writer->WritesDone();
    ASSERT_TRUE(writer->Finish().ok());
  }
  {  // Read 500 of them: m/a[::2].
    grpc::ClientContext ctx;
    v1::ReadRequest req;
    req.set_name("m/a");
    req.mutable_index()->set_text("::2");
    auto reader = stub->Read(&ctx, req);
    v1::ReadResponse resp;
    while (reader->Read(&resp)) {
    }
    ASSERT_TRUE(reader->Finish().ok());
  }
  {  // Copy 250 bytes into a new array, and register a named view.
    grpc::ClientContext ctx;
    v1::CopyRequest req;
    req.set_source("m/a");
    req.mutable_source_index()->set_text("::4");
    req.set_new_name("m/b");
    v1::ArrayInfo info;
    ASSERT_TRUE(stub->Copy(&ctx, req, &info).ok());
    grpc::ClientContext ctx2;
    v1::SliceRequest slice;
    slice.set_name("m/a");
    slice.mutable_index()->set_text("1:");
    slice.set_new_name("m/v");
    ASSERT_TRUE(stub->Slice(&ctx2, slice, &info).ok());
  }
  {  // A NOT_FOUND.
    grpc::ClientContext ctx;
    v1::StatRequest req;
    req.set_name("m/missing");
    v1::ArrayInfo info;
    EXPECT_EQ(stub->Stat(&ctx, req, &info).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  // A watcher stays open while we scrape.
  grpc::ClientContext watch_ctx;
  v1::WatchRequest watch_req;
  auto watch = stub->Watch(&watch_ctx, watch_req);
  watch->WaitForInitialMetadata();

  m = Scrape(port);
  EXPECT_EQ(m[Handled("Create", "OK")], 1);
  EXPECT_EQ(m[Handled("Stat", "NOT_FOUND")], 1);
  EXPECT_EQ(m[Handled("Copy", "OK")], 1);
  EXPECT_EQ(m["grpc_server_handled_total{grpc_code=\"OK\",grpc_method=\"Write\",grpc_service="
              "\"shmarray.v1.ArrayService\",grpc_type=\"client_stream\"}"],
            1);
  EXPECT_EQ(m["grpc_server_handling_seconds_count{grpc_method=\"Create\",grpc_service="
              "\"shmarray.v1.ArrayService\",grpc_type=\"unary\"}"],
            1);
  EXPECT_GT(m["grpc_server_handling_seconds_sum{grpc_method=\"Create\",grpc_service="
              "\"shmarray.v1.ArrayService\",grpc_type=\"unary\"}"],
            0);
  EXPECT_EQ(m["shmarray_written_bytes_total"], 1000);
  EXPECT_EQ(m["shmarray_read_bytes_total"], 500);
  EXPECT_EQ(m["shmarray_copied_bytes_total"], 250);
  EXPECT_EQ(m["shmarray_catalog_entries{kind=\"array\"}"], 2);
  EXPECT_EQ(m["shmarray_catalog_entries{kind=\"view\"}"], 1);
  EXPECT_EQ(m["shmarray_catalog_bytes"], 1250);
  EXPECT_EQ(m["shmarray_watchers"], 1);
  EXPECT_EQ(m["shmarray_active_streams{grpc_method=\"Watch\"}"], 1);
  EXPECT_EQ(m["shmarray_active_streams{grpc_method=\"Write\"}"], 0);

  watch_ctx.TryCancel();
  watch->Finish();
  ASSERT_TRUE(DeleteArray(*d, *stub, "m/a").ok());
  // The watcher's end is counted when its call is torn down: poll.
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  do {
    m = Scrape(port);
  } while (m["shmarray_watchers"] != 0 && Clock::now() < deadline);
  EXPECT_EQ(m["shmarray_watchers"], 0);
  EXPECT_EQ(m["shmarray_catalog_entries{kind=\"array\"}"], 1);
  EXPECT_EQ(m["shmarray_catalog_entries{kind=\"view\"}"], 0);
  EXPECT_EQ(m["shmarray_catalog_bytes"], 250);
  EXPECT_EQ(m[Handled("Delete", "OK")], 1);
  EXPECT_EQ(m["shmarray_recovered_entries{kind=\"array\"}"], 0);

  // Restart over what is left plus a corrupt segment (in the segment
  // directory, mode 0600 as the daemon makes them): the recovery counts.
  d->Kill();
  {  // A file the daemon could have made (its uid, mode 0600) with no header.
    const std::string junk_path = d->segment_dir() + "/fff";
    {
      std::ofstream junk(junk_path);
      junk << std::string(8192, 'j');
    }
    ASSERT_EQ(::chmod(junk_path.c_str(), 0600), 0);
  }
  std::filesystem::permissions(d->segment_dir() + "/fff", std::filesystem::perms::owner_read |
                                                              std::filesystem::perms::owner_write);
  ASSERT_TRUE(d->Restart().ok()) << d->StderrTail();
  const int port2 = MetricsPort(*d);
  ASSERT_GT(port2, 0);
  m = Scrape(port2);
  EXPECT_EQ(m["shmarray_recovered_entries{kind=\"array\"}"], 1);
  EXPECT_EQ(m["shmarray_recovered_entries{kind=\"view\"}"], 0);
  EXPECT_EQ(m["shmarray_recovery_removed_segments"], 1);
  EXPECT_EQ(m["shmarray_catalog_entries{kind=\"array\"}"], 1);
  EXPECT_EQ(m["shmarray_catalog_bytes"], 250);
  auto stub2 = d->NewStub();
  ASSERT_TRUE(DeleteArray(*d, *stub2, "m/b").ok());
  EXPECT_THAT(d->ListSegments(), IsEmpty());
}

// ==============================================================================
// Logs.
// ==============================================================================

// Watches that their clients cancel while events stream to them leave the
// count of open watches (the daemon has torn their calls down) without
// waiting for the daemon to stop.
TEST(MetricsTest, CancelledWatchesLeaveTheWatcherCountWhileEventsFlow) {
  auto d = StartOrDie(WithFlags({"--metrics-listen", "127.0.0.1:0"}));
  ASSERT_NE(d, nullptr);
  const int port = MetricsPort(*d);
  ASSERT_GT(port, 0) << d->StderrTail();
  auto stub = d->NewStub();
  constexpr int kWatches = 8;
  struct Stream {
    grpc::ClientContext ctx;
    std::unique_ptr<grpc::ClientReader<v1::WatchEvent>> reader;
  };
  std::vector<std::unique_ptr<Stream>> streams;
  v1::WatchRequest req;
  req.set_prefix("c/");
  for (int i = 0; i < kWatches; ++i) {
    auto s = std::make_unique<Stream>();
    d->Authorize(&s->ctx);
    s->ctx.set_deadline(Deadline(60));
    s->reader = stub->Watch(&s->ctx, req);
    s->reader->WaitForInitialMetadata();
    streams.push_back(std::move(s));
  }
  const auto watchers = [&] { return Scrape(port)["shmarray_watchers"]; };
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (watchers() != kWatches && Clock::now() < deadline) {
  }
  ASSERT_EQ(watchers(), kWatches);

  std::atomic<bool> stop{false};
  std::thread churn([&] {
    for (int i = 0; !stop && i < 100000; ++i) {
      if (!CreateArray(*d, *stub, "c/x", 1).ok() || !DeleteArray(*d, *stub, "c/x").ok()) break;
    }
  });
  for (const auto& s : streams) {
    v1::WatchEvent ev;
    EXPECT_TRUE(s->reader->Read(&ev));  // events are flowing
    s->ctx.TryCancel();
    while (s->reader->Read(&ev)) {
    }
    EXPECT_EQ(s->reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  // Still churning: the streams end on their cancellation, not for want of
  // events.
  deadline = Clock::now() + std::chrono::seconds(10);
  while (watchers() != 0 && Clock::now() < deadline) {
  }
  stop = true;
  churn.join();
  std::map<std::string, double> m = Scrape(port);
  EXPECT_EQ(m["shmarray_watchers"], 0);
  EXPECT_EQ(m["shmarray_active_streams{grpc_method=\"Watch\"}"], 0);
  (void)DeleteArray(*d, *stub, "c/x");
}

TEST(LogFormatTest, FieldsAreLogfmt) {
  EXPECT_EQ(server::FormatLogFields({{"name", "a/b"}, {"bytes", 96}}), " name=a/b bytes=96");
  EXPECT_EQ(server::FormatLogFields({{"peer", "ipv4:127.0.0.1:5"}, {"msg", "two words"}}),
            " peer=ipv4:127.0.0.1:5 msg=\"two words\"");
  EXPECT_EQ(server::FormatLogFields({{"empty", ""}, {"q", "say \"hi\"\n"}}),
            " empty=\"\" q=\"say \\\"hi\\\"\\n\"");
}

TEST(LogTest, OneLinePerEventWithTimeLevelAndFields) {
  auto d = StartOrDie({});
  ASSERT_NE(d, nullptr);
  auto stub = d->NewStub();
  ASSERT_TRUE(CreateArray(*d, *stub, "log/a", 24).ok());
  ASSERT_TRUE(DeleteArray(*d, *stub, "log/a").ok());
  ASSERT_TRUE(d->WaitForStderr("deleted name=log/a", std::chrono::seconds(10))) << d->StderrTail();
  const std::string text = d->StderrText();
  const std::string ts = R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)";
  EXPECT_TRUE(std::regex_search(
      text, std::regex(ts + R"( info created name=log/a kind=array format=<B shape=\(24,\) )"
                            R"(bytes=24 generation=[0-9a-f]+ peer=unix:\S*\n)")))
      << text;
  EXPECT_TRUE(std::regex_search(
      text, std::regex(ts + R"( info deleted name=log/a kind=array generation=[0-9a-f]+ )"
                            R"(peer=unix:\S*\n)")))
      << text;
  EXPECT_TRUE(std::regex_search(text, std::regex(ts + " info shmarrayd ready\n"))) << text;
  // Every line has the time and a level.
  std::stringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    EXPECT_TRUE(std::regex_search(line, std::regex("^" + ts + " (info|warning|error) "))) << line;
  }
}

// The daemon's stderr is a pipe that nobody reads: once it is full, lines are
// dropped (and counted), and RPCs, health and the shutdown go on.
TEST(LogTest, StuckStderrNeverStopsTheDaemon) {
  char dir_template[] = "/tmp/shmarray-stuck-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  const std::string socket = dir + "/d.sock";
  const std::string instance = "stuck" + std::to_string(getpid());
  int err[2];
  ASSERT_EQ(pipe2(err, O_CLOEXEC), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    dup2(err[1], 2);
    const int null_fd = open("/dev/null", O_RDWR);
    dup2(null_fd, 0);
    dup2(null_fd, 1);
    execl(SHMARRAY_DAEMON_PATH, SHMARRAY_DAEMON_PATH, "--socket", socket.c_str(), "--instance",
          instance.c_str(), "--metrics-listen", "127.0.0.1:0", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(err[1]);  // err[0] stays open and unread: writes block once it is full.
  auto channel = TestDaemon::NewChannel("unix:" + socket);
  auto health = grpc::health::v1::Health::NewStub(channel);
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(Deadline(10));
    ctx.set_wait_for_ready(true);
    grpc::health::v1::HealthCheckRequest req;
    grpc::health::v1::HealthCheckResponse resp;
    ASSERT_TRUE(health->Check(&ctx, req, &resp).ok());
  }
  auto stub = v1::ArrayService::NewStub(channel);
  // 2 log lines per round: far more than the pipe (64 KiB) and the queue hold.
  constexpr int kRounds = 5000;
  const auto started = Clock::now();
  for (int i = 0; i < kRounds; ++i) {
    grpc::ClientContext c1;
    c1.set_deadline(Deadline(10));
    v1::CreateRequest req;
    req.set_name("stuck/" + std::to_string(i));
    req.add_shape(1);
    v1::ArrayInfo info;
    const grpc::Status created = stub->Create(&c1, req, &info);
    ASSERT_TRUE(created.ok()) << "round " << i << ": " << DescribeStatus(created);
    grpc::ClientContext c2;
    c2.set_deadline(Deadline(10));
    v1::DeleteRequest del;
    del.set_name(req.name());
    v1::DeleteResponse deleted;
    ASSERT_TRUE(stub->Delete(&c2, del, &deleted).ok()) << "round " << i;
  }
  std::cout << "[          ] " << 2 * kRounds << " RPCs with a stuck stderr in "
            << std::chrono::duration<double>(Clock::now() - started).count() << " s\n";
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(Deadline(10));
    grpc::health::v1::HealthCheckRequest req;
    grpc::health::v1::HealthCheckResponse resp;
    ASSERT_TRUE(health->Check(&ctx, req, &resp).ok());
    EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  }
  // The metrics port is in the log we do not read: find it in /proc instead.
  std::optional<std::string> ss = RunCapture({"ss", "-Hltnp"});
  int port = 0;
  if (ss) {
    std::stringstream in(*ss);
    for (std::string line; std::getline(in, line);) {
      if (line.find("pid=" + std::to_string(pid) + ",") == std::string::npos) continue;
      const std::smatch m = [&] {
        std::smatch mm;
        std::regex_search(line, mm, std::regex(R"(127\.0\.0\.1:(\d+))"));
        return mm;
      }();
      if (!m.empty()) port = std::stoi(m[1]);
    }
  }
  if (port > 0) {
    std::map<std::string, double> m = Scrape(port);
    EXPECT_GT(m["shmarray_log_lines_dropped_total"], 0);
  } else {
    ADD_FAILURE() << "no metrics port found with ss";
  }
  channel.reset();
  stub.reset();
  health.reset();
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  // It exits although the log cannot be written (the drain is bounded).
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  ASSERT_GE(pidfd, 0);
  pollfd exited = {pidfd, POLLIN, 0};
  const bool done = poll(&exited, 1, 30000) == 1;
  close(pidfd);
  int status = 0;
  if (!done) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    ADD_FAILURE() << "the daemon did not exit with a stuck stderr";
  } else {
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  }
  close(err[0]);
  std::filesystem::remove_all(dir);
  // The daemon keeps its segment directory when it stops; the test does not.
  std::filesystem::remove_all("/dev/shm/shmarray." + std::to_string(geteuid()) + "." + instance);
}

}  // namespace
}  // namespace shmarray

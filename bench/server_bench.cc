// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: server_bench.cc
// -----------------------------------------------------------------------------
// Benchmarks of the real shmarrayd (started by testing::TestDaemon with a
// loopback TCP listener), each against a baseline timed in the same run
// (docs/performance.md):
//
//   BM_Stat                 vs BM_EmptyRpc (grpc.health.v1.Health/Check, the
//                           honest empty call on the same server), 1 and 8
//                           client threads, one connection per thread: >= 0.8x
//   BM_StatPaired           Stat and the empty RPC alternating on one connection,
//                           each timed: the ratio as a counter, stable under
//                           load that moves the separate runs above: >= 0.9x
//   BM_Read (256 MiB)       (client::Client::read) vs BM_PlainStream (the same
//                           bytes through a plain socket in 1 MiB writes), Unix
//                           socket and TCP: >= 0.45x; vs BM_GrpcRead (a plain
//                           gRPC server stream of the same bytes in 1 MiB
//                           protobuf `bytes` messages): >= 0.9x. Over the
//                           Unix socket the client reads the segment itself
//                           (ClientOptions::local_reads)
//   BM_ReadStreamed         BM_Read over the Unix socket with local reads off:
//                           the stream through the daemon, for information
//   BM_ReadInto (256 MiB)   (client::Client::read_into a reused, faulted-in
//                           buffer) vs the same baselines, for information
//   BM_ReadSealed,          Read and read_into of a sealed 256 MiB array, which
//   BM_ReadIntoSealed       the daemon sends zero copy (a writable one is
//                           copied chunk by chunk), for information
//   BM_Write (256 MiB)      (client::Client::write) vs BM_PlainStream: >= 0.4x;
//                           vs BM_GrpcWrite (the same, client streaming): >= 0.8x
//   BM_ReadStreams/         Read and Write of 1 GiB split across N = 1, 2, 4, 8
//   BM_WriteStreams         streams (ClientOptions::streams) vs
//                           BM_PlainStream1GiB; Read over TCP with the best N:
//                           >= 0.7x
//   BM_LocalCopyOut/In      copies of the 256 MiB out of / into the array
//                           through a view attached once (the local path), vs
//                           BM_PlainStream/0, for information
//   BM_GrpcRawRead/Write    the gRPC ceiling: the same bytes as raw grpc::Slice
//                           ByteBuffers (no protobuf), shown for reference
//   BM_AttachStatMap        (Stat + shm::MapDataRegion + unmap) vs
//   BM_AttachBaseline       (one empty RPC + open/fstat/mmap/munmap of the segment), for
//                           a 4 KiB and a 256 MiB array: within 1.2x, and
//                           independent of the size.
//   BM_CreateFill1GiB       (Create with a non-zero fill) vs
//   BM_FallocateMemcpy/1GiB (fallocate + mmap + memcpy of the same bytes): within 1.2x
//   BM_ServerCopy256MiB     (Copy RPC to a new array) vs BM_FallocateMemcpy/256MiB
//
// The gRPC baselines run in a child process (forked before gRPC starts) with
// a plain sync gRPC server, on the same kinds of channel as the daemon.
//
// Arguments: transport 0 = Unix socket, 1 = loopback TCP. All use real time.
// After the usual output, a summary prints each ratio (medians over
// --benchmark_repetitions) next to its target. Run a Release build:
//   server_bench --benchmark_repetitions=5
//
// Thread-safety: the daemon is started in main() (its parent-death signal is
// tied to the thread that forks it) before any benchmark thread exists.

#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/client_unary_call.h>
#include <grpcpp/impl/rpc_method.h>
#include <grpcpp/impl/rpc_service_method.h>
#include <grpcpp/support/method_handler.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "google/protobuf/wrappers.pb.h"
#include "shmarray/client/client.h"
#include "shmarray/shm/any_view.h"
#include "shmarray/shm/malloc_tuning.h"
#include "shmarray/shm/segment.h"
#include "shmarray/v1/array_service.grpc.pb.h"
#include "testing/daemon.h"

namespace shmarray {
namespace {

using ::shmarray::testing::TestDaemon;

constexpr int64_t kMiB = 1 << 20;
constexpr int64_t kBigBytes = 256 * kMiB;
constexpr int64_t kHugeBytes = 1024 * kMiB;
constexpr int64_t kSmallBytes = 4096;
constexpr const char* kStatName = "bench/stat";
constexpr const char* kBigName = "bench/big";
constexpr const char* kHugeName = "bench/huge";  // kHugeBytes, for the streams curve
constexpr const char* kSmallName = "bench/small";
constexpr const char* kSealedName = "bench/sealed";  // kBigBytes, sealed: read zero copy

TestDaemon* g_daemon = nullptr;

std::string Target(int64_t transport) {
  return transport == 1 ? g_daemon->tcp_target() : g_daemon->target();
}

// One empty unary call (Health/Check with an empty request), made exactly as
// a generated stub makes its calls.
grpc::Status EmptyRpc(grpc::ChannelInterface* channel) {
  static const grpc::internal::RpcMethod kCheck("/grpc.health.v1.Health/Check",
                                                grpc::internal::RpcMethod::NORMAL_RPC);
  grpc::ClientContext context;
  grpc::Slice empty;
  grpc::ByteBuffer request(&empty, 1);
  grpc::ByteBuffer response;
  return grpc::internal::BlockingUnaryCall<grpc::ByteBuffer, grpc::ByteBuffer>(
      channel, kCheck, &context, request, &response);
}

grpc::Status StatRpc(v1::ArrayService::Stub* stub, const std::string& name, v1::ArrayInfo* info) {
  grpc::ClientContext context;
  v1::StatRequest request;
  request.set_name(name);
  return stub->Stat(&context, request, info);
}

// --- RPC rate -------------------------------------------------------------------

// Each repetition of the call-rate benchmarks runs this long: with
// Google Benchmark's default 0.5 s, the Stat / empty RPC ratio moved by more
// than 10% between runs of the same build.
constexpr double kRateMinTime = 2.0;

void BM_EmptyRpc(benchmark::State& state) {
  // One connection per client thread (a local subchannel pool).
  std::shared_ptr<grpc::Channel> channel = TestDaemon::NewChannel(Target(state.range(0)));
  if (!EmptyRpc(channel.get()).ok()) state.SkipWithError("warm-up call failed");
  for (auto _ : state) {
    grpc::Status status = EmptyRpc(channel.get());
    if (!status.ok()) {
      state.SkipWithError(status.error_message().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EmptyRpc)
    ->Arg(0)
    ->Arg(1)
    ->Threads(1)
    ->Threads(8)
    ->UseRealTime()
    ->MinTime(kRateMinTime);

void BM_Stat(benchmark::State& state) {
  std::shared_ptr<grpc::Channel> channel = TestDaemon::NewChannel(Target(state.range(0)));
  std::unique_ptr<v1::ArrayService::Stub> stub = v1::ArrayService::NewStub(channel);
  v1::ArrayInfo info;
  if (!StatRpc(stub.get(), kStatName, &info).ok()) state.SkipWithError("warm-up Stat failed");
  for (auto _ : state) {
    grpc::Status status = StatRpc(stub.get(), kStatName, &info);
    if (!status.ok()) {
      state.SkipWithError(status.error_message().c_str());
      break;
    }
    benchmark::DoNotOptimize(info.generation());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Stat)->Arg(0)->Arg(1)->Threads(1)->Threads(8)->UseRealTime()->MinTime(kRateMinTime);

// Stat and the empty RPC paired: each iteration makes one of each on the
// same connection (alternating which goes first) and times both, so that a
// change in the machine's load hits both sides of the ratio alike. Counter
// `stat_vs_empty` is the Stat call rate over the empty RPC's (empty time /
// Stat time); `stat_us` and `empty_us` are the mean call times.
void BM_StatPaired(benchmark::State& state) {
  using Clock = std::chrono::steady_clock;
  std::shared_ptr<grpc::Channel> channel = TestDaemon::NewChannel(Target(state.range(0)));
  std::unique_ptr<v1::ArrayService::Stub> stub = v1::ArrayService::NewStub(channel);
  v1::ArrayInfo info;
  if (!StatRpc(stub.get(), kStatName, &info).ok() || !EmptyRpc(channel.get()).ok()) {
    state.SkipWithError("warm-up calls failed");
  }
  Clock::duration stat{};
  Clock::duration empty{};
  bool stat_first = false;
  for (auto _ : state) {
    stat_first = !stat_first;
    for (int k = 0; k < 2; ++k) {
      const bool is_stat = (k == 0) == stat_first;
      const Clock::time_point start = Clock::now();
      const grpc::Status status =
          is_stat ? StatRpc(stub.get(), kStatName, &info) : EmptyRpc(channel.get());
      (is_stat ? stat : empty) += Clock::now() - start;
      if (!status.ok()) {
        state.SkipWithError(status.error_message().c_str());
        return;
      }
    }
  }
  const double n = static_cast<double>(state.iterations());
  const auto us = [n](Clock::duration d) {
    return std::chrono::duration<double, std::micro>(d).count() / n;
  };
  using benchmark::Counter;
  state.counters["stat_vs_empty"] = Counter(us(empty) / us(stat), Counter::kAvgThreads);
  state.counters["stat_us"] = Counter(us(stat), Counter::kAvgThreads);
  state.counters["empty_us"] = Counter(us(empty), Counter::kAvgThreads);
}
BENCHMARK(BM_StatPaired)
    ->Arg(0)
    ->Arg(1)
    ->Threads(1)
    ->Threads(8)
    ->UseRealTime()
    ->MinTime(kRateMinTime);

// --- bulk transfer ----------------------------------------------------------------

// A new C-order array of `bytes` bytes, every one `value` (so every page is
// touched before any timing).
shm::AnyView FilledBytes(int64_t bytes, unsigned char value) {
  shm::AnyView a =
      shm::AnyView::Allocate(shm::Format::Parse("B"), std::vector<int64_t>{bytes}, shm::Order::kC);
  std::memset(a.first(), value, static_cast<size_t>(bytes));
  return a;
}

// Reads `name` (`bytes` long) through the client library (what users call)
// with `streams` streams: Client::read copies the array into a new buffer of
// its own, over the Unix socket straight from the segment (local reads)
// unless `local_reads` is false.
void ReadLoop(benchmark::State& state, int64_t transport, int streams, const char* name,
              int64_t bytes, bool local_reads = true) {
  client::ClientOptions options;
  options.target = Target(transport);
  options.streams = streams;
  options.local_reads = local_reads;
  client::Client reader = client::Client::Connect(options);
  for (auto _ : state) {
    try {
      const shm::AnyView data = reader.read(name);
      if (data.nbytes() != bytes) {
        state.SkipWithError("short read");
        break;
      }
      benchmark::DoNotOptimize(data.first());
    } catch (const std::exception& e) {
      state.SkipWithError(e.what());
      break;
    }
  }
  state.SetBytesProcessed(state.iterations() * bytes);
}

// Writes `name` (`bytes` long) through the client library with `streams`
// streams: the source is contiguous, so each 1 MiB chunk is sent without a
// copy.
void WriteLoop(benchmark::State& state, int64_t transport, int streams, const char* name,
               int64_t bytes) {
  client::ClientOptions options;
  options.target = Target(transport);
  options.streams = streams;
  client::Client writer = client::Client::Connect(options);
  shm::AnyView source = FilledBytes(bytes, 0x5a);
  for (auto _ : state) {
    try {
      if (writer.write(name, "", source) != bytes) {
        state.SkipWithError("short write");
        break;
      }
    } catch (const std::exception& e) {
      state.SkipWithError(e.what());
      break;
    }
  }
  state.SetBytesProcessed(state.iterations() * bytes);
}

void BM_Read(benchmark::State& state) { ReadLoop(state, state.range(0), 1, kBigName, kBigBytes); }
BENCHMARK(BM_Read)->Arg(0)->Arg(1)->UseRealTime()->Unit(benchmark::kMillisecond);

// BM_Read over the Unix socket with ClientOptions::local_reads = false: the
// stream through the daemon that a client on the daemon's host no longer
// uses, for information (over TCP, BM_Read is that stream).
void BM_ReadStreamed(benchmark::State& state) {
  ReadLoop(state, state.range(0), 1, kBigName, kBigBytes, /*local_reads=*/false);
}
BENCHMARK(BM_ReadStreamed)->Arg(0)->UseRealTime()->Unit(benchmark::kMillisecond);

// Client::read_into a destination reused across iterations (faulted in
// before the timing), as a consumer that reads the same array again and
// again does: the stream without the allocation and the fresh pages of read().
void ReadIntoLoop(benchmark::State& state, const char* name) {
  client::ClientOptions options;
  options.target = Target(state.range(0));
  client::Client reader = client::Client::Connect(options);
  shm::AnyView dst = FilledBytes(kBigBytes, 0);
  for (auto _ : state) {
    try {
      if (reader.read_into(name, "", dst) != kBigBytes) {
        state.SkipWithError("short read");
        break;
      }
      benchmark::DoNotOptimize(dst.first());
    } catch (const std::exception& e) {
      state.SkipWithError(e.what());
      break;
    }
  }
  state.SetBytesProcessed(state.iterations() * kBigBytes);
}

void BM_ReadInto(benchmark::State& state) { ReadIntoLoop(state, kBigName); }
BENCHMARK(BM_ReadInto)->Arg(0)->Arg(1)->UseRealTime()->Unit(benchmark::kMillisecond);

// The same reads of a sealed array: the daemon sends its chunks as slices of
// the mapping (zero copy), where a writable array's are copied first (so
// that a truncation of the segment by another process fails only that Read).
void BM_ReadSealed(benchmark::State& state) {
  ReadLoop(state, state.range(0), 1, kSealedName, kBigBytes);
}
BENCHMARK(BM_ReadSealed)->Arg(0)->Arg(1)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_ReadIntoSealed(benchmark::State& state) { ReadIntoLoop(state, kSealedName); }
BENCHMARK(BM_ReadIntoSealed)->Arg(0)->Arg(1)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_Write(benchmark::State& state) { WriteLoop(state, state.range(0), 1, kBigName, kBigBytes); }
BENCHMARK(BM_Write)->Arg(0)->Arg(1)->UseRealTime()->Unit(benchmark::kMillisecond);

// The local counterparts of BM_Read and BM_Write, for information: a process
// on the daemon's host attaches the array once (Client::attach_any; no byte
// crosses a socket) and then copies the 256 MiB out into a new C-order array,
// or in from a buffer of its own, as often as it needs. The attachment is
// made and its pages touched once before the timing, as a consumer that keeps
// its view does. Compared with BM_PlainStream over the Unix socket.
void BM_LocalCopyOut(benchmark::State& state) {
  client::ClientOptions options;
  options.target = Target(0);
  client::Client reader = client::Client::Connect(options);
  try {
    const shm::AnyView view = reader.attach_any(kBigName, /*readonly=*/true);
    benchmark::DoNotOptimize(view.copy().first());
    for (auto _ : state) {
      const shm::AnyView copy = view.copy();
      benchmark::DoNotOptimize(copy.first());
    }
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
  state.SetBytesProcessed(state.iterations() * kBigBytes);
}
BENCHMARK(BM_LocalCopyOut)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_LocalCopyIn(benchmark::State& state) {
  client::ClientOptions options;
  options.target = Target(0);
  client::Client writer = client::Client::Connect(options);
  shm::AnyView source = FilledBytes(kBigBytes, 0x5a);
  try {
    const shm::AnyView view = writer.attach_any(kBigName);
    shm::CopyInto(view, source);
    for (auto _ : state) {
      shm::CopyInto(view, source);
      benchmark::ClobberMemory();
    }
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
  state.SetBytesProcessed(state.iterations() * kBigBytes);
}
BENCHMARK(BM_LocalCopyIn)->UseRealTime()->Unit(benchmark::kMillisecond);

// Read and Write of 1 GiB split across N streams (ClientOptions::streams),
// each on its own connection: the curve for N = 1, 2, 4, 8. Args: transport, N.
void BM_ReadStreams(benchmark::State& state) {
  ReadLoop(state, state.range(0), static_cast<int>(state.range(1)), kHugeName, kHugeBytes);
}
BENCHMARK(BM_ReadStreams)
    ->ArgsProduct({{0, 1}, {1, 2, 4, 8}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

void BM_WriteStreams(benchmark::State& state) {
  WriteLoop(state, state.range(0), static_cast<int>(state.range(1)), kHugeName, kHugeBytes);
}
BENCHMARK(BM_WriteStreams)
    ->ArgsProduct({{0, 1}, {1, 2, 4, 8}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// A connected pair of stream sockets: AF_UNIX, or TCP over 127.0.0.1.
bool SocketPair(bool tcp, int* a, int* b) {
  if (!tcp) {
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return false;
    *a = fds[0];
    *b = fds[1];
    return true;
  }
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  bool ok = bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
            listen(listener, 1) == 0 &&
            getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  *a = ok ? socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0) : -1;
  ok = ok && *a >= 0 && connect(*a, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  *b = ok ? accept4(listener, nullptr, nullptr, SOCK_CLOEXEC) : -1;
  close(listener);
  return ok && *b >= 0;
}

// `bytes` through a plain socket: a sender thread writes them in 1 MiB
// writes, this thread reads them.
void PlainStreamLoop(benchmark::State& state, int64_t bytes) {
  int send_fd = -1;
  int recv_fd = -1;
  if (!SocketPair(state.range(0) == 1, &send_fd, &recv_fd)) {
    state.SkipWithError("cannot make a socket pair");
    return;
  }
  std::vector<char> out(kMiB, '\x5a');
  std::vector<char> in(kMiB);
  for (auto _ : state) {
    std::thread sender([&] {
      for (int64_t sent = 0; sent < bytes;) {
        const ssize_t n = write(send_fd, out.data(), out.size());
        if (n <= 0) return;
        sent += n;
      }
    });
    int64_t received = 0;
    while (received < bytes) {
      const ssize_t n = read(recv_fd, in.data(), in.size());
      if (n <= 0) break;
      received += n;
    }
    sender.join();
    if (received != bytes) {
      state.SkipWithError("short plain stream");
      break;
    }
  }
  close(send_fd);
  close(recv_fd);
  state.SetBytesProcessed(state.iterations() * bytes);
}

// The baseline of BM_Read/BM_Write: the same 256 MiB.
void BM_PlainStream(benchmark::State& state) { PlainStreamLoop(state, kBigBytes); }
BENCHMARK(BM_PlainStream)->Arg(0)->Arg(1)->UseRealTime()->Unit(benchmark::kMillisecond);

// The baseline of BM_ReadStreams/BM_WriteStreams: the same 1 GiB.
void BM_PlainStream1GiB(benchmark::State& state) { PlainStreamLoop(state, kHugeBytes); }
BENCHMARK(BM_PlainStream1GiB)->Arg(0)->Arg(1)->UseRealTime()->Unit(benchmark::kMillisecond);

// --- gRPC baselines -------------------------------------------------------------
//
// A plain gRPC service (no shmarray code) in a child process: the same 256
// MiB as BM_Read/BM_Write in 1 MiB messages, as protobuf `bytes`
// (google.protobuf.BytesValue, serialized and parsed as any generated service
// does) and as raw grpc::Slice ByteBuffers (the slice is sent by reference on
// the server, the client only counts bytes: the ceiling of the transport).

constexpr char kGrpcRead[] = "/shmarray.bench.Baseline/Read";
constexpr char kGrpcRawRead[] = "/shmarray.bench.Baseline/RawRead";
constexpr char kGrpcWrite[] = "/shmarray.bench.Baseline/Write";
constexpr char kGrpcRawWrite[] = "/shmarray.bench.Baseline/RawWrite";

using Bytes = google::protobuf::BytesValue;

// A BytesValue of 1 MiB of 0x5a, serialized once: tag, varint length, payload.
grpc::Slice SerializedChunk() {
  Bytes chunk;
  chunk.set_value(std::string(kMiB, '\x5a'));
  return grpc::Slice(chunk.SerializeAsString());
}

class BaselineService : public grpc::Service {
 public:
  BaselineService() : raw_chunk_(SerializedChunk()) {
    chunk_.set_value(std::string(kMiB, '\x5a'));
    using grpc::internal::RpcMethod;
    using grpc::internal::RpcServiceMethod;
    AddMethod(new RpcServiceMethod(
        kGrpcRead, RpcMethod::SERVER_STREAMING,
        new grpc::internal::ServerStreamingHandler<BaselineService, Bytes, Bytes>(
            [](BaselineService* self, grpc::ServerContext*, const Bytes*,
               grpc::ServerWriter<Bytes>* writer) {
              for (int64_t sent = 0; sent < kBigBytes; sent += kMiB) {
                if (!writer->Write(self->chunk_)) return grpc::Status::CANCELLED;
              }
              return grpc::Status::OK;
            },
            this)));
    AddMethod(new RpcServiceMethod(
        kGrpcRawRead, RpcMethod::SERVER_STREAMING,
        new grpc::internal::ServerStreamingHandler<BaselineService, grpc::ByteBuffer,
                                                   grpc::ByteBuffer>(
            [](BaselineService* self, grpc::ServerContext*, const grpc::ByteBuffer*,
               grpc::ServerWriter<grpc::ByteBuffer>* writer) {
              for (int64_t sent = 0; sent < kBigBytes; sent += kMiB) {
                if (!writer->Write(grpc::ByteBuffer(&self->raw_chunk_, 1))) {
                  return grpc::Status::CANCELLED;
                }
              }
              return grpc::Status::OK;
            },
            this)));
    AddMethod(new RpcServiceMethod(
        kGrpcWrite, RpcMethod::CLIENT_STREAMING,
        new grpc::internal::ClientStreamingHandler<BaselineService, Bytes, Bytes>(
            [](BaselineService*, grpc::ServerContext*, grpc::ServerReader<Bytes>* reader,
               Bytes* response) {
              Bytes message;
              int64_t received = 0;
              while (reader->Read(&message)) received += message.value().size();
              response->set_value(std::to_string(received));
              return grpc::Status::OK;
            },
            this)));
    AddMethod(new RpcServiceMethod(
        kGrpcRawWrite, RpcMethod::CLIENT_STREAMING,
        new grpc::internal::ClientStreamingHandler<BaselineService, grpc::ByteBuffer, Bytes>(
            [](BaselineService*, grpc::ServerContext*, grpc::ServerReader<grpc::ByteBuffer>* reader,
               Bytes* response) {
              grpc::ByteBuffer message;
              int64_t received = 0;
              while (reader->Read(&message)) received += message.Length();
              response->set_value(std::to_string(received));
              return grpc::Status::OK;
            },
            this)));
  }

 private:
  Bytes chunk_;
  grpc::Slice raw_chunk_;
};

// The child process that serves BaselineService on a Unix socket and on
// 127.0.0.1 until the parent closes `alive_fd` (or dies).
struct BaselineServer {
  pid_t pid = -1;
  std::string dir;
  std::string unix_target;
  std::string tcp_target;
  int alive_fd = -1;
};

BaselineServer* g_baseline = nullptr;

// Forks the baseline server; REQUIRES: gRPC not used yet in this process.
bool StartBaselineServer(BaselineServer* out) {
  char dir[] = "/tmp/shmarray-bench-XXXXXX";
  if (mkdtemp(dir) == nullptr) return false;
  out->dir = dir;
  const std::string socket_path = out->dir + "/baseline.sock";
  int ready[2], alive[2];
  if (pipe2(ready, O_CLOEXEC) != 0 || pipe2(alive, O_CLOEXEC) != 0) return false;
  out->pid = fork();
  if (out->pid < 0) return false;
  if (out->pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    close(ready[0]);
    close(alive[1]);
    // The daemon's malloc settings, so that the baseline server's receive
    // buffers cost what shmarrayd's do.
    shm::TuneMallocForStreaming();
    BaselineService service;
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    builder.AddListeningPort("unix:" + socket_path, grpc::InsecureServerCredentials());
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&service);
    std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
    const int32_t answer = server != nullptr && port > 0 ? port : -1;
    if (write(ready[1], &answer, sizeof answer) != sizeof answer || answer < 0) _exit(1);
    char c;
    while (read(alive[0], &c, 1) > 0) {
    }
    server->Shutdown(std::chrono::system_clock::now());
    _exit(0);
  }
  close(ready[1]);
  close(alive[0]);
  out->alive_fd = alive[1];
  int32_t port = -1;
  const bool ok = read(ready[0], &port, sizeof port) == sizeof port && port > 0;
  close(ready[0]);
  out->unix_target = "unix:" + socket_path;
  out->tcp_target = "127.0.0.1:" + std::to_string(port);
  return ok;
}

void StopBaselineServer(BaselineServer* server) {
  if (server->alive_fd >= 0) close(server->alive_fd);
  if (server->pid > 0) waitpid(server->pid, nullptr, 0);
  if (!server->dir.empty()) {
    unlink((server->dir + "/baseline.sock").c_str());
    rmdir(server->dir.c_str());
  }
}

std::shared_ptr<grpc::Channel> BaselineChannel(int64_t transport) {
  return TestDaemon::NewChannel(transport == 1 ? g_baseline->tcp_target : g_baseline->unix_target);
}

// Reads the 256 MiB stream of `method` as messages of type R.
template <typename R>
void GrpcReadLoop(benchmark::State& state, const char* method) {
  std::shared_ptr<grpc::Channel> channel = BaselineChannel(state.range(0));
  const grpc::internal::RpcMethod rpc(method, grpc::internal::RpcMethod::SERVER_STREAMING);
  R request;
  if constexpr (std::is_same_v<R, grpc::ByteBuffer>) {
    grpc::Slice empty;  // an empty message, not a null buffer
    request = grpc::ByteBuffer(&empty, 1);
  }
  R message;
  for (auto _ : state) {
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReader<R>> reader(
        grpc::internal::ClientReaderFactory<R>::Create(channel.get(), rpc, &context, request));
    int64_t received = 0;
    while (reader->Read(&message)) {
      if constexpr (std::is_same_v<R, Bytes>) {
        received += static_cast<int64_t>(message.value().size());
      } else {
        received += static_cast<int64_t>(message.Length()) - 4;  // tag + 3-byte varint
      }
    }
    grpc::Status status = reader->Finish();
    if (!status.ok() || received != kBigBytes) {
      state.SkipWithError(status.ok() ? "short read" : status.error_message().c_str());
      break;
    }
  }
  state.SetBytesProcessed(state.iterations() * kBigBytes);
}

void BM_GrpcRead(benchmark::State& state) { GrpcReadLoop<Bytes>(state, kGrpcRead); }
BENCHMARK(BM_GrpcRead)->Arg(0)->Arg(1)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_GrpcRawRead(benchmark::State& state) {
  GrpcReadLoop<grpc::ByteBuffer>(state, kGrpcRawRead);
}
BENCHMARK(BM_GrpcRawRead)->Arg(0)->Arg(1)->UseRealTime()->Unit(benchmark::kMillisecond);

// Writes 256 MiB to `method` as messages of type W.
template <typename W>
void GrpcWriteLoop(benchmark::State& state, const char* method) {
  std::shared_ptr<grpc::Channel> channel = BaselineChannel(state.range(0));
  const grpc::internal::RpcMethod rpc(method, grpc::internal::RpcMethod::CLIENT_STREAMING);
  Bytes chunk;
  chunk.set_value(std::string(kMiB, '\x5a'));
  grpc::Slice raw = SerializedChunk();
  for (auto _ : state) {
    grpc::ClientContext context;
    Bytes response;
    std::unique_ptr<grpc::ClientWriter<W>> writer(
        grpc::internal::ClientWriterFactory<W>::Create(channel.get(), rpc, &context, &response));
    bool ok = true;
    for (int64_t sent = 0; ok && sent < kBigBytes; sent += kMiB) {
      if constexpr (std::is_same_v<W, Bytes>) {
        ok = writer->Write(chunk);
      } else {
        ok = writer->Write(grpc::ByteBuffer(&raw, 1));
      }
    }
    if (ok) writer->WritesDone();
    grpc::Status status = writer->Finish();
    if (!status.ok() || !ok) {
      state.SkipWithError(status.ok() ? "write failed" : status.error_message().c_str());
      break;
    }
  }
  state.SetBytesProcessed(state.iterations() * kBigBytes);
}

void BM_GrpcWrite(benchmark::State& state) { GrpcWriteLoop<Bytes>(state, kGrpcWrite); }
BENCHMARK(BM_GrpcWrite)->Arg(0)->Arg(1)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_GrpcRawWrite(benchmark::State& state) {
  GrpcWriteLoop<grpc::ByteBuffer>(state, kGrpcRawWrite);
}
BENCHMARK(BM_GrpcRawWrite)->Arg(0)->Arg(1)->UseRealTime()->Unit(benchmark::kMillisecond);

// --- local attach ---------------------------------------------------------------

// Arg: 0 = the 4 KiB array, 1 = the 256 MiB one.
const char* AttachName(int64_t arg) { return arg == 1 ? kBigName : kSmallName; }

void BM_AttachStatMap(benchmark::State& state) {
  std::shared_ptr<grpc::Channel> channel = TestDaemon::NewChannel(g_daemon->target());
  std::unique_ptr<v1::ArrayService::Stub> stub = v1::ArrayService::NewStub(channel);
  const std::string name = AttachName(state.range(0));
  v1::ArrayInfo info;
  if (!StatRpc(stub.get(), name, &info).ok()) state.SkipWithError("warm-up Stat failed");
  for (auto _ : state) {
    grpc::Status status = StatRpc(stub.get(), name, &info);
    if (!status.ok()) {
      state.SkipWithError(status.error_message().c_str());
      break;
    }
    std::byte* data = nullptr;
    absl::StatusOr<std::shared_ptr<const void>> owner =
        shm::MapDataRegion(info.segment_name(), shm::Segment::Access::kReadOnly, info.generation(),
                           info.data_size(), &data);
    if (!owner.ok()) {
      state.SkipWithError(std::string(owner.status().message()).c_str());
      break;
    }
    benchmark::DoNotOptimize(data);
  }  // the mapping goes with `owner`
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AttachStatMap)->Arg(0)->Arg(1)->UseRealTime();

void BM_AttachBaseline(benchmark::State& state) {
  std::shared_ptr<grpc::Channel> channel = TestDaemon::NewChannel(g_daemon->target());
  std::unique_ptr<v1::ArrayService::Stub> stub = v1::ArrayService::NewStub(channel);
  v1::ArrayInfo info;
  if (!StatRpc(stub.get(), AttachName(state.range(0)), &info).ok()) {
    state.SkipWithError("Stat failed");
    return;
  }
  const std::string path = "/dev/shm/" + info.segment_name();
  for (auto _ : state) {
    if (!EmptyRpc(channel.get()).ok()) {
      state.SkipWithError("empty RPC failed");
      break;
    }
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
      state.SkipWithError("open/fstat failed");
      break;
    }
    const size_t size = static_cast<size_t>(st.st_size - shm::kDataOffset);
    void* p = mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, shm::kDataOffset);
    close(fd);
    if (p == MAP_FAILED) {
      state.SkipWithError("mmap failed");
      break;
    }
    benchmark::DoNotOptimize(p);
    munmap(p, size);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AttachBaseline)->Arg(0)->Arg(1)->UseRealTime();

// --- create + fill, server-side copy --------------------------------------------

constexpr int64_t kGiB = int64_t{1} << 30;

// Deletes `name`; the benchmarks below time creation only.
void DeleteQuietly(v1::ArrayService::Stub* stub, const std::string& name) {
  grpc::ClientContext context;
  v1::DeleteRequest request;
  request.set_name(name);
  v1::DeleteResponse response;
  (void)stub->Delete(&context, request, &response);
}

// Create of a 1 GiB array of doubles filled with 1.5 (a non-zero item, so
// every byte is written), over the Unix socket.
void BM_CreateFill1GiB(benchmark::State& state) {
  std::shared_ptr<grpc::Channel> channel = TestDaemon::NewChannel(g_daemon->target());
  std::unique_ptr<v1::ArrayService::Stub> stub = v1::ArrayService::NewStub(channel);
  const double one_and_a_half = 1.5;
  v1::CreateRequest request;
  request.set_name("bench/fill");
  request.set_format("d");
  request.add_shape(kGiB / 8);
  request.set_fill(std::string(reinterpret_cast<const char*>(&one_and_a_half), 8));
  for (auto _ : state) {
    grpc::ClientContext context;
    v1::ArrayInfo info;
    grpc::Status status = stub->Create(&context, request, &info);
    state.PauseTiming();
    DeleteQuietly(stub.get(), request.name());
    state.ResumeTiming();
    if (!status.ok()) {
      state.SkipWithError(status.error_message().c_str());
      break;
    }
  }
  state.SetBytesProcessed(state.iterations() * kGiB);
}
BENCHMARK(BM_CreateFill1GiB)->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(3);

// The baseline: a shared-memory object reserved with fallocate, mapped, and
// the same bytes memcpy'd into it from a buffer that is already in memory.
// Arg: bytes.
void BM_FallocateMemcpy(benchmark::State& state) {
  const int64_t bytes = state.range(0);
  std::vector<double> source(static_cast<size_t>(bytes / 8), 1.5);
  const std::string path = "/shmarray-bench." + std::to_string(getpid());
  for (auto _ : state) {
    const int fd = shm_open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || posix_fallocate(fd, 0, bytes) != 0) {
      state.SkipWithError("shm_open/fallocate failed");
      if (fd >= 0) close(fd);
      shm_unlink(path.c_str());
      break;
    }
    void* p = mmap(nullptr, static_cast<size_t>(bytes), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) {
      state.SkipWithError("mmap failed");
      shm_unlink(path.c_str());
      break;
    }
    std::memcpy(p, source.data(), static_cast<size_t>(bytes));
    benchmark::ClobberMemory();
    state.PauseTiming();
    munmap(p, static_cast<size_t>(bytes));
    shm_unlink(path.c_str());
    state.ResumeTiming();
  }
  state.SetBytesProcessed(state.iterations() * bytes);
}
BENCHMARK(BM_FallocateMemcpy)
    ->Arg(kGiB)
    ->Arg(kBigBytes)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);

// Server-side Copy of the 256 MiB array into a new C-order array.
void BM_ServerCopy256MiB(benchmark::State& state) {
  std::shared_ptr<grpc::Channel> channel = TestDaemon::NewChannel(g_daemon->target());
  std::unique_ptr<v1::ArrayService::Stub> stub = v1::ArrayService::NewStub(channel);
  v1::CopyRequest request;
  request.set_source(kBigName);
  request.set_new_name("bench/copy");
  for (auto _ : state) {
    grpc::ClientContext context;
    v1::ArrayInfo info;
    grpc::Status status = stub->Copy(&context, request, &info);
    state.PauseTiming();
    DeleteQuietly(stub.get(), request.new_name());
    state.ResumeTiming();
    if (!status.ok()) {
      state.SkipWithError(status.error_message().c_str());
      break;
    }
  }
  state.SetBytesProcessed(state.iterations() * kBigBytes);
}
BENCHMARK(BM_ServerCopy256MiB)->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(5);

// --- the summary ------------------------------------------------------------------

// Console output as usual; also keeps every run's rate for the ratios.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  RatioReporter() : ConsoleReporter(isatty(STDOUT_FILENO) ? OO_ColorTabular : OO_Tabular) {}

  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.error_occurred) continue;
      const bool median = run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
      if (run.run_type != Run::RT_Iteration && !median) continue;
      std::string key = run.run_name.function_name;
      if (!run.run_name.args.empty()) key += "/" + run.run_name.args;
      key += "/threads:" + std::to_string(run.threads);
      for (const char* counter : {"items_per_second", "bytes_per_second"}) {
        auto it = run.counters.find(counter);
        if (it == run.counters.end()) continue;
        if (median) {
          medians_[key] = it->second.value;
        } else {
          rates_[key].push_back(it->second.value);
        }
      }
    }
  }

  // Median rate of `key` (the library's median aggregate when repetitions
  // were run, else the median of the runs seen), or 0 when it did not run.
  double Median(const std::string& key) const {
    if (auto m = medians_.find(key); m != medians_.end()) return m->second;
    auto it = rates_.find(key);
    if (it == rates_.end() || it->second.empty()) return 0;
    std::vector<double> v = it->second;
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  }

  void PrintSummary() const {
    std::printf("\nRatios (medians; docs/performance.md targets):\n");
    auto line = [this](const std::string& what, const std::string& num, const std::string& den,
                       double target) {
      const double a = Median(num);
      const double b = Median(den);
      if (a <= 0 || b <= 0) {
        std::printf("  %-44s   (not run)\n", what.c_str());
        return;
      }
      const double ratio = a / b;
      if (target <= 0) {
        std::printf("  %-44s %6.2fx  (reference)\n", what.c_str(), ratio);
        return;
      }
      std::printf("  %-44s %6.2fx  target >= %.2fx  %s\n", what.c_str(), ratio, target,
                  ratio >= target ? "ok" : "MISSED");
    };
    for (const char* t : {"1", "8"}) {
      for (const char* tr : {"0", "1"}) {
        const std::string suffix = std::string("/") + tr + "/threads:" + t;
        line(std::string("Stat vs empty RPC, ") + (tr[0] == '0' ? "unix" : "tcp") + ", " + t +
                 " thread(s)",
             "BM_Stat" + suffix, "BM_EmptyRpc" + suffix, 0.8);
      }
    }
    for (const char* tr : {"0", "1"}) {
      const std::string suffix = std::string("/") + tr + "/threads:1";
      const std::string where = tr[0] == '0' ? "unix" : "tcp";
      line("Read 256 MiB vs plain stream, " + where, "BM_Read" + suffix, "BM_PlainStream" + suffix,
           0.45);
      line("Write 256 MiB vs plain stream, " + where, "BM_Write" + suffix,
           "BM_PlainStream" + suffix, 0.4);
      line("Read 256 MiB vs gRPC bytes stream, " + where, "BM_Read" + suffix,
           "BM_GrpcRead" + suffix, 0.9);
      line("Write 256 MiB vs gRPC bytes stream, " + where, "BM_Write" + suffix,
           "BM_GrpcWrite" + suffix, 0.8);
      line("Read 256 MiB vs gRPC raw slices, " + where, "BM_Read" + suffix,
           "BM_GrpcRawRead" + suffix, 0);
      line("Read streamed (no local read) vs plain stream, " + where, "BM_ReadStreamed" + suffix,
           "BM_PlainStream" + suffix, 0);
      line("Read streamed (no local read) vs gRPC bytes, " + where, "BM_ReadStreamed" + suffix,
           "BM_GrpcRead" + suffix, 0);
      line("read_into 256 MiB vs plain stream, " + where, "BM_ReadInto" + suffix,
           "BM_PlainStream" + suffix, 0);
      line("read_into 256 MiB vs gRPC bytes stream, " + where, "BM_ReadInto" + suffix,
           "BM_GrpcRead" + suffix, 0);
      line("Write 256 MiB vs gRPC raw slices, " + where, "BM_Write" + suffix,
           "BM_GrpcRawWrite" + suffix, 0);
      line("Read sealed 256 MiB vs gRPC bytes stream, " + where, "BM_ReadSealed" + suffix,
           "BM_GrpcRead" + suffix, 0);
      line("read_into sealed vs gRPC bytes stream, " + where, "BM_ReadIntoSealed" + suffix,
           "BM_GrpcRead" + suffix, 0);
    }
    // Attach: within 1.2x of the baseline's time = rate ratio >= 1/1.2.
    line("Attach (Stat+map) vs RPC+mmap, 4 KiB", "BM_AttachStatMap/0/threads:1",
         "BM_AttachBaseline/0/threads:1", 1 / 1.2);
    line("Attach (Stat+map) vs RPC+mmap, 256 MiB", "BM_AttachStatMap/1/threads:1",
         "BM_AttachBaseline/1/threads:1", 1 / 1.2);
    line("Attach 256 MiB vs 4 KiB (size independence)", "BM_AttachStatMap/1/threads:1",
         "BM_AttachStatMap/0/threads:1", 1 / 1.2);
  }

 private:
  std::map<std::string, std::vector<double>> rates_;
  std::map<std::string, double> medians_;
};

// Creates the arrays the benchmarks use; false (with a message) on failure.
bool MakeArrays(TestDaemon& daemon) {
  v1::ArrayService::Stub& stub = daemon.stub();
  // True when `status` is OK; else prints which call on which array failed.
  auto reported = [](const char* rpc, const char* name, const grpc::Status& status) {
    if (!status.ok())
      std::fprintf(stderr, "%s %s: %s\n", rpc, name, status.error_message().c_str());
    return status.ok();
  };
  auto create = [&](const char* name, int64_t n) {
    grpc::ClientContext context;
    v1::CreateRequest request;
    request.set_name(name);
    request.set_format("B");
    request.add_shape(n);
    v1::ArrayInfo info;
    return reported("Create", name, stub.Create(&context, request, &info));
  };
  // Touches every page of a large array once (a first touch costs ~3 us/page).
  auto fill = [&](const char* name, int64_t n) {
    grpc::ClientContext context;
    v1::WriteResponse response;
    std::unique_ptr<grpc::ClientWriter<v1::WriteRequest>> writer = stub.Write(&context, &response);
    v1::WriteRequest message;
    message.mutable_target()->set_name(name);
    message.mutable_target()->set_nbytes(n);
    bool ok = writer->Write(message);
    message.set_data(std::string(kMiB, '\x01'));
    for (int64_t sent = 0; ok && sent < n; sent += kMiB) ok = writer->Write(message);
    writer->WritesDone();
    return reported("Write", name, writer->Finish());
  };
  auto seal = [&](const char* name) {
    grpc::ClientContext context;
    v1::SealRequest request;
    request.set_name(name);
    v1::ArrayInfo info;
    return reported("Seal", name, stub.Seal(&context, request, &info));
  };
  return create(kStatName, 16) && create(kSmallName, kSmallBytes) && create(kBigName, kBigBytes) &&
         create(kHugeName, kHugeBytes) && create(kSealedName, kBigBytes) &&
         fill(kBigName, kBigBytes) && fill(kHugeName, kHugeBytes) && fill(kSealedName, kBigBytes) &&
         seal(kSealedName);
}

}  // namespace
}  // namespace shmarray

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  // The gRPC baselines' server is forked before this process uses gRPC.
  shmarray::BaselineServer baseline;
  if (!shmarray::StartBaselineServer(&baseline)) {
    std::fprintf(stderr, "cannot start the gRPC baseline server\n");
    shmarray::StopBaselineServer(&baseline);
    return 1;
  }
  shmarray::g_baseline = &baseline;
  // The malloc settings client::Client makes for this process on first use
  // (ClientOptions::tune_malloc), made now so that the gRPC baselines' client
  // side has them whichever benchmarks run.
  shmarray::shm::TuneMallocForStreaming();
  shmarray::testing::TestDaemonOptions options;
  options.listen_tcp = true;
  absl::StatusOr<std::unique_ptr<shmarray::testing::TestDaemon>> daemon =
      shmarray::testing::TestDaemon::Start(options);
  if (!daemon.ok()) {
    std::fprintf(stderr, "cannot start shmarrayd: %s\n", daemon.status().ToString().c_str());
    return 1;
  }
  shmarray::g_daemon = daemon->get();
  if (!shmarray::MakeArrays(**daemon)) return 1;
  shmarray::RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.PrintSummary();
  benchmark::Shutdown();
  shmarray::g_daemon = nullptr;
  daemon->reset();  // stops the daemon and removes its segments
  shmarray::StopBaselineServer(&baseline);
  shmarray::g_baseline = nullptr;
  return 0;
}

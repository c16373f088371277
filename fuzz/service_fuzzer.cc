// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: service_fuzzer.cc
// -----------------------------------------------------------------------------
// libFuzzer target for every request handler of shmarray.v1.ArrayService,
// called in-process against a real Catalog in /dev/shm (a private instance
// "shmarray.<uid>.fuzz-<pid>", small quotas, removed at exit) and a real gRPC
// server on a Unix socket in a private temporary directory.
//
// The first input byte picks the method (10 of them); the rest is the
// request on the wire:
//   - unary methods (Create, Stat, List, Delete, Seal, Slice, Copy): the bytes
//     are parsed as the request message, as gRPC does before calling the
//     handler, and the handler is called directly;
//   - Read, Watch: the bytes are sent unparsed as the one request message
//     over the Unix socket (so gRPC's and the raw handler's parsing are both
//     reached);
//   - Write: the rest is a sequence of messages, each a 16-bit little-endian
//     length and that many bytes, streamed over the Unix socket.
// (gRPC's in-process channel is not used: with it, a Write stream that the
// server ended while the client still sent left about 30 KB behind per call,
// 4 GB after 560,000 runs; the same calls to shmarrayd over its socket leave
// nothing.)
// Checks, besides "no crash, no sanitizer report, no exception escapes":
//   - no call ends with UNKNOWN (an exception escaped into gRPC), and every
//     error status the service itself produces has a message;
//   - a unary call that fails changes nothing in the catalog (names,
//     generations, read-only flags);
//   - a sealed canary array keeps its bytes while it exists.

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_util.h"
#include "service_internal.h"
#include "shmarray/server/catalog.h"
#include "shmarray/shm/any_view.h"
#include "shmarray/shm/format.h"
#include "shmarray/shm/layout.h"
#include "shmarray/shm/segment.h"
#include "shmarray/v1/array_service.pb.h"
#include "watch_hub.h"

namespace {

namespace shm = shmarray::shm;
namespace server = shmarray::server;
namespace v1 = shmarray::v1;
using shmarray::fuzz::Fail;

constexpr char kSealedCanary[] = "canary/sealed";
constexpr char kCanaryBytes[] = "0123456789abcdef0123456789abcdef";  // 32 bytes

struct World {
  std::string prefix;
  std::string socket_dir;  // holds the server's socket
  std::unique_ptr<server::Catalog> catalog;
  std::unique_ptr<server::internal::WatchHub> hub;
  std::unique_ptr<server::internal::ArrayServiceImpl> service;
  std::unique_ptr<grpc::Server> grpc_server;
  std::shared_ptr<grpc::Channel> channel;
  uint64_t sealed_generation = 0;
};

World* world = nullptr;

void RemoveSegments() {
  if (world == nullptr) return;
  ::unlink((world->socket_dir + "/s.sock").c_str());
  ::rmdir(world->socket_dir.c_str());
  absl::StatusOr<std::vector<std::string>> names = shm::Segment::List(world->prefix);
  if (!names.ok()) return;
  for (const std::string& n : *names) (void)shm::Segment::Unlink(n);
}

// (Re)creates the canaries that are missing: a sealed array of 32 known
// bytes, a writable array and a named view of it, for requests to find.
void EnsureCanaries() {
  server::Catalog& catalog = *world->catalog;
  if (!catalog.Lookup(kSealedCanary).ok()) {
    const shm::Format format = shm::Format::Parse("<B");
    auto entry =
        catalog.CreateArray(kSealedCanary, format, shm::Layout::Contiguous(1, {32}, shm::Order::kC),
                            [](const shm::AnyView& data) -> absl::Status {
                              std::memcpy(data.data(), kCanaryBytes, 32);
                              return absl::OkStatus();
                            });
    if (!entry.ok() || !catalog.Seal(kSealedCanary).ok()) Fail("cannot create the sealed canary");
    world->sealed_generation = entry->generation;
  }
  if (!catalog.Lookup("canary/rw").ok()) {
    auto rw = catalog.CreateArray("canary/rw", shm::Format::Parse("<i"),
                                  shm::Layout::Contiguous(4, {3, 4}, shm::Order::kC), nullptr);
    if (rw.ok()) {
      (void)catalog.CreateView("canary/rw.T", *rw, rw->layout.T());
    }
  }
}

void CheckSealedCanary() {
  absl::StatusOr<server::CatalogEntry> e = world->catalog->Lookup(kSealedCanary);
  if (!e.ok() || e->generation != world->sealed_generation) return;  // deleted by a request
  SHMARRAY_FUZZ_CHECK(e->readonly, "the sealed canary is writable");
  absl::StatusOr<shm::AnyView> v = world->catalog->Map(*e, false);
  SHMARRAY_FUZZ_CHECK(v.ok(), v.status().ToString());
  SHMARRAY_FUZZ_CHECK(std::memcmp(v->first(), kCanaryBytes, 32) == 0, "the sealed canary changed");
}

// Names, generations and read-only flags of every entry.
std::string Snapshot() {
  std::string out;
  std::string token;
  do {
    absl::StatusOr<server::Catalog::Page> page = world->catalog->List("", 1000, token);
    if (!page.ok()) Fail("List failed", page.status().ToString());
    for (const server::CatalogEntry& e : page->entries) {
      out += e.name + "/" + std::to_string(e.generation) + (e.readonly ? "r" : "w") + ";";
    }
    token = page->next_token;
  } while (!token.empty());
  return out;
}

void CheckStatus(const grpc::Status& s, const char* method, bool from_handler) {
  SHMARRAY_FUZZ_CHECK(s.error_code() != grpc::StatusCode::UNKNOWN,
                      std::string(method) + ": " + s.error_message());
  if (from_handler && !s.ok()) {
    SHMARRAY_FUZZ_CHECK(!s.error_message().empty(), std::string(method) + ": empty message");
  }
}

template <typename Context, typename Request, typename Response>
void CallUnary(std::string_view bytes, const char* method,
               grpc::Status (server::internal::ArrayServiceImpl::*handler)(Context*, const Request*,
                                                                           Response*)) {
  Request req;
  // gRPC refuses what does not parse before any handler runs.
  if (!req.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return;
  const std::string before = Snapshot();
  grpc::ServerContext ctx;
  Response resp;
  const grpc::Status s = (world->service.get()->*handler)(&ctx, &req, &resp);
  CheckStatus(s, method, true);
  if (!s.ok()) {
    SHMARRAY_FUZZ_CHECK(Snapshot() == before, std::string(method) + " failed (" +
                                                  s.error_message() + ") but changed the catalog");
  }
}

// Waits for the one operation with `tag` on `cq`; returns its ok flag.
bool Await(grpc::CompletionQueue* cq, void* tag) {
  void* got = nullptr;
  bool ok = false;
  if (!cq->Next(&got, &ok) || got != tag) Fail("completion queue out of order");
  return ok;
}

grpc::ByteBuffer Buffer(std::string_view bytes) {
  grpc::Slice slice(bytes.data(), bytes.size());
  return grpc::ByteBuffer(&slice, 1);
}

// Streams `messages` to `method` as raw bytes and reads up to a few
// responses; cancels the call once it has seen enough. Returns the status.
grpc::Status CallStreaming(const std::string& method, const std::vector<std::string_view>& messages,
                           bool watch) {
  grpc::GenericStub stub(world->channel);
  grpc::CompletionQueue cq;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call =
      stub.PrepareCall(&ctx, "/shmarray.v1.ArrayService/" + method, &cq);
  int tags[8];
  call->StartCall(&tags[0]);
  bool ok = Await(&cq, &tags[0]);
  for (std::string_view m : messages) {
    if (!ok) break;
    call->Write(Buffer(m), &tags[1]);
    ok = Await(&cq, &tags[1]);
  }
  if (ok) {
    call->WritesDone(&tags[2]);
    (void)Await(&cq, &tags[2]);
  }
  if (watch) {
    // The handler sends initial metadata once it is subscribed; then cancel
    // it (its reactor finishes on OnCancel) while an event under its prefix
    // is published, which races the cancellation with a notify.
    call->ReadInitialMetadata(&tags[3]);
    (void)Await(&cq, &tags[3]);
    ctx.TryCancel();
    v1::WatchRequest req;
    if (!messages.empty() &&
        req.ParseFromArray(messages[0].data(), static_cast<int>(messages[0].size()))) {
      v1::WatchEvent ev;
      ev.set_type(v1::WatchEvent::TYPE_CREATED);
      ev.set_name(req.prefix());
      world->hub->Publish(ev);
    }
  } else {
    for (int n = 0; n < 16; ++n) {
      grpc::ByteBuffer response;
      call->Read(&response, &tags[4]);
      if (!Await(&cq, &tags[4])) break;
      if (n == 15) ctx.TryCancel();  // a long Read: enough seen
    }
  }
  grpc::Status status;
  call->Finish(&status, &tags[5]);
  (void)Await(&cq, &tags[5]);
  cq.Shutdown();
  void* tag = nullptr;
  while (cq.Next(&tag, &ok)) {
  }
  return status;
}

void CheckStreamingStatus(const grpc::Status& s, const char* method) {
  if (s.error_code() == grpc::StatusCode::CANCELLED) return;  // we cancelled it
  // gRPC's own refusal of a request that does not parse (before the
  // handler) has no message: INTERNAL on the synchronous API (Read, Write),
  // UNIMPLEMENTED on the callback one (Watch). The service's own errors
  // always have one.
  const bool grpc_parse_failure = (s.error_code() == grpc::StatusCode::INTERNAL ||
                                   s.error_code() == grpc::StatusCode::UNIMPLEMENTED) &&
                                  s.error_message().empty();
  CheckStatus(s, method, !grpc_parse_failure);
}

World* Setup() {
  auto* w = new World;
  w->prefix = "shmarray." + std::to_string(::getuid()) + ".fuzz-" + std::to_string(::getpid());
  server::CatalogOptions options;
  options.prefix = w->prefix;
  options.max_bytes = int64_t{1} << 20;
  options.max_arrays = 64;
  auto catalog = server::Catalog::Open(options, nullptr);
  if (!catalog.ok()) Fail("cannot open the catalog", catalog.status().ToString());
  w->catalog = std::move(*catalog);
  w->hub = std::make_unique<server::internal::WatchHub>(16);
  server::internal::WatchHub* hub = w->hub.get();
  w->catalog->SetListener([hub](const server::CatalogEvent& event) {
    hub->Publish(server::internal::ToWatchEvent(event));
  });
  w->service = std::make_unique<server::internal::ArrayServiceImpl>(w->catalog.get(), hub, nullptr);
  char dir[] = "/tmp/shmarray-fuzz-XXXXXX";
  if (::mkdtemp(dir) == nullptr) Fail("cannot make a directory for the socket");
  w->socket_dir = dir;
  const std::string address = "unix:" + w->socket_dir + "/s.sock";
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials());
  builder.RegisterService(w->service.get());
  w->grpc_server = builder.BuildAndStart();
  if (w->grpc_server == nullptr) Fail("cannot start the gRPC server on", address);
  w->channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  return w;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  world = Setup();
  std::atexit(RemoveSegments);
  EnsureCanaries();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // Keep the catalog small: start over when it fills up.
  if (world->catalog->TEST_entry_count() > 48) {
    absl::StatusOr<server::Catalog::Page> page = world->catalog->List("", 1000, "");
    if (page.ok()) {
      for (const server::CatalogEntry& e : page->entries)
        (void)world->catalog->Delete(e.name, true);
    }
  }
  EnsureCanaries();
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  using Impl = server::internal::ArrayServiceImpl;
  switch (data[0] % 10) {
    case 0:
      CallUnary(rest, "Create", &Impl::Create);
      break;
    case 1:
      CallUnary(rest, "Stat", &Impl::ServeStat);
      break;
    case 2:
      CallUnary(rest, "List", &Impl::List);
      break;
    case 3:
      CallUnary(rest, "Delete", &Impl::Delete);
      break;
    case 4:
      CallUnary(rest, "Seal", &Impl::Seal);
      break;
    case 5:
      CallUnary(rest, "Slice", &Impl::Slice);
      break;
    case 6:
      CallUnary(rest, "Copy", &Impl::Copy);
      break;
    case 7:
      CheckStreamingStatus(CallStreaming("Read", {rest}, false), "Read");
      break;
    case 8: {
      std::vector<std::string_view> messages;
      shmarray::fuzz::Input in(data + 1, size - 1);
      while (in.remaining() > 0 && messages.size() < 64) {
        const uint16_t len = in.Take<uint16_t>();
        messages.push_back(in.TakeBytes(len));
      }
      CheckStreamingStatus(CallStreaming("Write", messages, false), "Write");
      break;
    }
    default:
      CheckStreamingStatus(CallStreaming("Watch", {rest}, true), "Watch");
      break;
  }
  CheckSealedCanary();
  return 0;
}

// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: client.h
// -----------------------------------------------------------------------------
// The client library of shmarray (docs/architecture.md). A Client talks to one
// `shmarrayd` over gRPC (a Unix socket by default, or TCP) and gives typed,
// zero-copy views of named arrays in POSIX shared memory:
//
//   auto client = shmarray::client::Client::Connect({});   // default socket
//   View<double, 2> a = client.create<double, 2>("temps", {480, 640});
//   a.at(0, 0) = 21.5;                                      // every attacher sees it
//   View<const double, 2, c_contig> r = client.attach_readonly<double, 2, c_contig>("temps");
//   AnyView rows = client.read("temps", "::2, :");          // a copy (works from any host)
//   client.write("temps", "0, :", rows.slice(ParseIndex("0")));
//
// attach() is Stat + map + checked bind (on a Unix socket, after the first
// attach, a lookup in the daemon's catalog file in shared memory replaces the
// Stat: see ClientOptions::use_shm_catalog): the returned view's base() owns the
// mapping, so the view stays valid after the Client is destroyed and after
// the name is deleted (POSIX keeps unlinked memory mapped). A process that
// cannot open the segment (another host, another container with its own
// /dev/shm) gets SegmentUnreachableError and uses read()/write(), which
// stream the bytes through gRPC.
//
// Errors. One regime: every call throws RpcError carrying the gRPC status
// code; no member of Client or WatchHandle returns an absl::Status or
// StatusOr (DefaultSocketPath, re-exported from shm/instance.h at the end,
// keeps that library's StatusOr). Connect()
// throws for bad options, every call that reaches the daemon throws when the
// daemon (or gRPC) answers with a non-OK status, and WatchHandle::wait()
// throws the error that ended a watch. code() is the gRPC status code,
// status() the same error as an absl::Status, and what() the server's
// message, word for word, e.g. kNotFound for a missing name,
// kAlreadyExists for a taken one, kInvalidArgument for a bad name, format,
// shape or index expression, kOutOfRange for an integer index outside its
// axis, kFailedPrecondition for a write to a read-only array or a delete of a
// base with views, kResourceExhausted over a quota, kUnauthenticated for a
// missing or wrong token, kUnavailable when no daemon answers,
// kDeadlineExceeded after ClientOptions::timeout_ms. A name that is not a
// valid shm::ArrayName is refused here, before any RPC, with the daemon's
// own message (kInvalidArgument). attach() throws SegmentUnreachableError, an
// RpcError, when the segment cannot be opened. Binding a mapped array to a
// typed view throws the view library's exceptions (shm/errors.h) with
// Cython's messages: shm::ReadOnlyError "buffer source array is read-only",
// shm::ShapeError "Buffer has wrong number of dimensions (expected 2, got 3)",
// shm::FormatError "Buffer dtype mismatch, expected 'int32_t' but got
// 'double'", shm::ShapeError "buffer is not C-contiguous".
//
// Thread-safety: a Client may be used from several threads at once (every
// call is an independent RPC). Views are values; see view.h. Writes through
// shared memory are not synchronised between processes: coordinate them as
// you would with NumPy arrays in shared memory.

#ifndef SHMARRAY_CLIENT_CLIENT_H_
#define SHMARRAY_CLIENT_CLIENT_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "shmarray/shm/any_view.h"
#include "shmarray/shm/format.h"
#include "shmarray/shm/index.h"
#include "shmarray/shm/instance.h"
#include "shmarray/shm/layout.h"
#include "shmarray/shm/view.h"

namespace shmarray::client {

// A non-OK answer from the daemon or gRPC (or a failure to map memory that
// the daemon described). code() is the gRPC / absl status code; what() is
// the message, word for word the server's.
class RpcError : public std::runtime_error {
 public:
  RpcError(absl::StatusCode code, const std::string& message)
      : std::runtime_error(message), code_(code) {}
  // REQUIRES: !status.ok().
  explicit RpcError(const absl::Status& status)
      : RpcError(status.code(), std::string(status.message())) {}

  absl::StatusCode code() const noexcept { return code_; }
  // The error as a Status (same code and message).
  absl::Status status() const { return absl::Status(code_, what()); }

 private:
  absl::StatusCode code_;
};

// attach() could not open the shared-memory segment that the daemon says
// holds the array: this process is on another host or in another container
// (ENOENT), or lacks permission (EACCES). code() is kFailedPrecondition; the
// message names the array, the segment, the OS error and the way out:
//   array 'x' lives in shared memory segment 'shmarray.0.1f' that this
//   process cannot open (No such file or directory); are you on another host
//   or in another container? use Client::read()/write(), which stream over gRPC
class SegmentUnreachableError : public RpcError {
 public:
  using RpcError::RpcError;
};

// How to reach the daemon.
// Bounds of ClientOptions::streams.
inline constexpr int kDefaultStreams = 1;
inline constexpr int kMaxStreams = 64;

struct ClientOptions {
  // "" = the default Unix socket of `instance`: $XDG_RUNTIME_DIR/shmarray/
  // <instance>.sock, or /run/shmarray/<instance>.sock when XDG_RUNTIME_DIR is
  // unset (as the daemon computes it). "unix:/path" (or an absolute path) =
  // that socket. "host:port" (or any other gRPC target) = TCP.
  std::string target{};
  // The daemon's --instance; "" = "default". Used only when target is "".
  std::string instance{};
  // Bearer token sent as `authorization: Bearer <token>` on every RPC; ""
  // sends none. Needed when the daemon runs with --token-file.
  std::string token{};
  // PEM root certificate(s) to verify a TLS daemon; "" = plaintext (insecure
  // channel credentials; always used for Unix sockets).
  std::string tls_root_cert_pem{};
  // With TLS: the name the daemon's certificate must carry, when it differs
  // from the target's host (e.g. a certificate for "shmarrayd.internal"
  // reached as 10.0.0.5:7070); "" = the target's host.
  std::string tls_server_name{};
  // Deadline of each unary RPC (stat, create, ...), in milliseconds; 0 = no
  // deadline. Streams (read, write, watch) have no deadline.
  int64_t timeout_ms = 60000;
  // With a Unix-socket target: after the first attach through Stat, attach()
  // resolves names through the daemon's catalog file in shared memory, with
  // no RPC (docs/architecture.md), and falls back to Stat whenever the file
  // is not visible or does not have the entry. false = always Stat.
  bool use_shm_catalog = true;
  // With a Unix-socket target: read() and read_into() of a segment this
  // process can open copy the selection straight out of it with pread(2)
  // (one copy, no stream through the daemon; a segment truncated meanwhile
  // by another process is kDataLoss, never SIGBUS). The name is resolved as
  // attach() resolves it (catalog file, else Stat). Streamed as before: a
  // segment not visible here (another container), a selection of more than
  // 64 runs of contiguous bytes shorter than 64 KiB each in the requested
  // order (the daemon packs those), and every request the daemon must judge
  // (a bad name or index, a sealed segment made writable again): the
  // result, description and errors are the same either way. Local reads do
  // not show in the daemon's Read metrics. false = always stream.
  bool local_reads = true;
  // read() results of 4 MiB or more: when one is dropped, its memory is
  // kept (one buffer per process, the last one dropped) and the next read()
  // it fits (up to twice the size needed) lands in it instead of in a new
  // mapping whose every page faults in as the bytes arrive (20-25 ms per
  // 256 MiB on a 2-core VM, and up to ~400 ms when the hypervisor had taken
  // the freed memory back: docs/performance.md). The price: up to one
  // dropped result's size stays allocated until the next read() reuses or
  // replaces it. false = results of this Client come from, and go back to,
  // the operating system.
  bool reuse_read_buffers = true;
  // Concurrent streams, each on its own connection, that read() and write()
  // split a large transfer across (1 to kMaxStreams). A transfer of at most
  // 4 MiB always uses one stream; a larger one sends its first 4 MiB over
  // one stream and the rest over `streams` (a local read, see local_reads,
  // does not stream at all; docs/performance.md has the
  // measurements behind the default).
  int streams = kDefaultStreams;
  // gRPC allocates its socket read buffers per read and frees them soon
  // after; with glibc's default trim threshold (128 KiB) the freed heap top
  // goes back to the OS and every buffer faults in afresh, which made read()
  // over TCP about 5x slower. true = on the first Client with it, set
  // glibc's M_MMAP_THRESHOLD to 32 MiB and M_TRIM_THRESHOLD to 128 MiB for
  // the whole process, as shmarrayd does (up to 128 MiB of freed heap is
  // then kept for reuse). false = leave malloc alone. No effect without glibc.
  bool tune_malloc = true;
};

// Whether a catalog entry owns its memory or is a named view of another's.
enum class ArrayKind { kArray, kView };

// The description of an array or named view (the wire's ArrayInfo, with
// library types). Plain value.
struct ArrayInfo {
  std::string name;           // the user's name
  shm::Format format;         // canonical PEP 3118 format
  shm::Layout layout;         // itemsize, shape, byte strides, offset in the data region
  bool readonly = false;      // sealed (or a view of a sealed array)
  bool c_contiguous = false;  // NumPy's flag
  bool f_contiguous = false;  // NumPy's flag
  uint64_t generation = 0;    // unique id of this incarnation of the name
  ArrayKind kind = ArrayKind::kArray;
  std::string base;              // named view: the base array's name; "" otherwise
  uint64_t base_generation = 0;  // named view: the base's generation
  std::string segment_name;      // "<dir>/<file>": the data is in /dev/shm/<dir>/<file>
  int64_t segment_size = 0;      // bytes of the segment, header page included
  int64_t data_offset = 0;       // bytes from the segment start to the data region
  int64_t data_size = 0;         // bytes of the data region
  int64_t created_unix_ns = 0;   // creation time, ns since the Unix epoch

  int ndim() const { return layout.ndim(); }
  const std::vector<int64_t>& shape() const { return layout.shape; }
  const std::vector<int64_t>& strides() const { return layout.strides; }
  int64_t itemsize() const { return layout.itemsize; }
  int64_t size() const { return layout.size(); }
  int64_t nbytes() const { return layout.nbytes(); }
};

// An index expression for a request: Python subscript text ("1:3, ::-1,
// None") parsed by the server, or a structured shm::IndexExpr. The default
// (and "") is the whole array. Implicit from both, so calls read
// client.read("a", "::2") or client.read("a", shm::IndexExpr{...}).
class Index {
 public:
  Index() = default;
  Index(const char* text) : text_(text) {}         // NOLINT(google-explicit-constructor)
  Index(std::string_view text) : text_(text) {}    // NOLINT(google-explicit-constructor)
  Index(const std::string& text) : text_(text) {}  // NOLINT(google-explicit-constructor)
  Index(shm::IndexExpr expr) : expr_(std::move(expr)), structured_(true) {}  // NOLINT

  bool structured() const { return structured_; }
  const std::string& text() const { return text_; }
  const shm::IndexExpr& expr() const { return expr_; }

 private:
  std::string text_;
  shm::IndexExpr expr_;
  bool structured_ = false;
};

// Progress of a read() or write(): bytes done so far and the total. Called
// on the calling thread after each chunk (and once with done == total).
using ProgressCallback = std::function<void(int64_t done_bytes, int64_t total_bytes)>;

// One event of watch().
struct WatchEvent {
  enum class Type { kCreated, kSealed, kDeleted, kOverflow };
  Type type = Type::kCreated;
  std::string name;
  ArrayInfo info;       // created/sealed: the entry; deleted: its last description
  int64_t unix_ns = 0;  // when it happened
  int64_t dropped = 0;  // kOverflow: how many events were dropped
};

// A running watch (see Client::watch). Move-only; destroying it (or
// cancel()) stops the stream and joins the thread that runs the callback.
class WatchHandle {
 public:
  WatchHandle();
  WatchHandle(WatchHandle&&) noexcept;
  WatchHandle& operator=(WatchHandle&&) noexcept;
  WatchHandle(const WatchHandle&) = delete;
  WatchHandle& operator=(const WatchHandle&) = delete;
  // Cancels and joins. REQUIRES: not called from the watch callback.
  ~WatchHandle();

  // Stops the stream and waits until the callback thread has finished (no
  // callback runs after cancel() returns). Idempotent.
  // REQUIRES: not called from the watch callback (it would deadlock).
  void cancel();
  // True until the stream has ended (cancelled, or closed by the server).
  bool active() const;
  // Blocks until the stream ends. Returns when it ended cleanly: the server
  // closed it with OK, or it was cancelled (cancel() from another thread, or
  // a kCancelled status). Throws RpcError with the stream's final code and
  // message otherwise, e.g. the server's refusal of the watch
  // (kUnauthenticated, ...) or kUnavailable when the daemon went away;
  // RpcError kFailedPrecondition "no watch" for a default-constructed or
  // moved-from handle. May be called again: it returns or throws the same.
  void wait();

  class Impl;

 private:
  explicit WatchHandle(std::unique_ptr<Impl> impl);
  friend class Client;
  std::unique_ptr<Impl> impl_;
};

class Client {
 public:
  // A client for `options`. Creates the gRPC channel; does not contact the
  // daemon (the first call does, and throws RpcError kUnavailable if no daemon
  // answers). Errors: RpcError kInvalidArgument for a bad instance name or an
  // empty unix: path, kFailedPrecondition when neither XDG_RUNTIME_DIR is set
  // nor the process is root and no target is given, kInvalidArgument when
  // options.streams is outside [1, kMaxStreams], kInternal when gRPC cannot
  // create the channel.
  static Client Connect(const ClientOptions& options = {});

  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  // Closes the channel. Views from attach() stay valid (their base owns the
  // mapping); running watches must be cancelled or destroyed first.
  ~Client();

  // The gRPC target in use, e.g. "unix:/run/shmarray/default.sock" or
  // "10.0.0.1:7070".
  const std::string& target() const;

  // --- Creating. ----------------------------------------------------------
  // Allocates array `name` of `format` (PEP 3118; "" = "B") and `shape`
  // (at most 32 axes; empty = 0-d) contiguous in `order`. `fill` is one item
  // (itemsize bytes) written to every item; empty = zeros. `itemsize` 0 = the
  // format's size; larger adds trailing padding. Returns its description.
  // Errors (RpcError): kInvalidArgument (bad name, format, shape, fill size),
  // kAlreadyExists, kResourceExhausted (quota, /dev/shm full).
  ArrayInfo create_any(std::string_view name, std::string_view format,
                       std::span<const int64_t> shape, shm::Order order = shm::Order::kC,
                       std::span<const std::byte> fill = {}, int64_t itemsize = 0);

  // Creates an array of T (format shm::format_of<T>()) filled with zeros and
  // attaches to it: create_any + attach<T, N, Contig>. The view's base owns
  // the mapping. Errors as create_any and attach.
  template <typename T, int N, typename Contig = shm::strided>
  shm::View<T, N, Contig> create(std::string_view name, const std::array<int64_t, N>& shape,
                                 shm::Order order = shm::Order::kC) {
    static_assert(!std::is_const_v<T>, "create<T>: T must not be const");
    create_any(name, shm::format_of<T>(), shape, order);
    return attach<T, N, Contig>(name);
  }
  // As above with every item set to `fill`.
  template <typename T, int N, typename Contig = shm::strided>
  shm::View<T, N, Contig> create(std::string_view name, const std::array<int64_t, N>& shape,
                                 shm::Order order, const T& fill) {
    static_assert(!std::is_const_v<T>, "create<T>: T must not be const");
    static_assert(std::is_trivially_copyable_v<T>);
    create_any(name, shm::format_of<T>(), shape, order,
               std::as_bytes(std::span<const T, 1>(&fill, 1)));
    return attach<T, N, Contig>(name);
  }

  // --- Attaching (zero-copy, same host only). ---------------------------
  // Stat + map of the data region + checked bind. The result shares the
  // segment's memory with every other process attached to it; its base()
  // owns the mapping (valid after this Client and after the name are gone).
  // A sealed array (or a view of one) is mapped read-only; binding it to a
  // non-const T throws shm::ReadOnlyError "buffer source array is
  // read-only" (use attach_readonly or View<const T>). A named view maps its
  // base's segment with the view's layout.
  // Errors: RpcError from Stat (kNotFound, ...); SegmentUnreachableError when
  // the segment cannot be opened (another host or container: use read/write);
  // RpcError kAborted when the name was replaced between Stat and map twice in
  // a row (one retry with a fresh Stat is made); RpcError kDataLoss for a
  // corrupt segment header; the view library's exceptions from View::From
  // (ndim, dtype, itemsize, contiguity, read-only), with Cython's messages.
  template <typename T, int N, typename Contig = shm::strided>
  shm::View<T, N, Contig> attach(std::string_view name) {
    return shm::View<T, N, Contig>::From(attach_any(name, std::is_const_v<T>));
  }
  // attach<const T, N, Contig>: maps read-only whatever the array's flag.
  template <typename T, int N, typename Contig = shm::strided>
  shm::View<const T, N, Contig> attach_readonly(std::string_view name) {
    return shm::View<const T, N, Contig>::From(attach_any(name, /*readonly=*/true));
  }
  // The type-erased form: a view of the mapped array with its format and
  // layout. `readonly` maps read-only; otherwise the mapping is writable
  // unless the array is read-only (then AnyView::readonly() is true). When
  // `info` is not null it receives the description the view was made from.
  // Errors as attach(), except the view binding ones.
  //
  // Mappings are shared: while any view of a segment mapped by this Client
  // lives, attaching the same array (or a named view of it, or its base)
  // again with the same access reuses that mapping, so the views share
  // addresses and View::assign/CopyInto see their overlap. Two Clients, or
  // two processes, map a segment at different addresses: an assignment
  // between such views that overlap in the segment is not detected.
  shm::AnyView attach_any(std::string_view name, bool readonly = false, ArrayInfo* info = nullptr);

  // --- Catalog. ---------------------------------------------------------------
  // The description of `name` (array or named view). Errors: kNotFound.
  ArrayInfo stat(std::string_view name);
  // Every entry whose name starts with `prefix` ("" = all), sorted by name
  // (fetches all pages).
  std::vector<ArrayInfo> list(std::string_view prefix = "");
  // Removes `name` (and, with `cascade`, the named views of an array) and
  // returns every name removed. Mappings already held stay valid.
  // Errors: kNotFound; kFailedPrecondition when `name` has named views and
  // !cascade (the message names them).
  std::vector<std::string> remove(std::string_view name, bool cascade = false);
  // Makes array `name` read-only for good and returns its new description.
  // Writable mappings that already exist cannot be revoked. Errors:
  // kNotFound, kInvalidArgument / kFailedPrecondition for a named view.
  ArrayInfo seal(std::string_view name);
  // The layout of name[index] (NumPy basic indexing). With a `new_name`,
  // registers it as a named view that attach() maps zero-copy. Errors:
  // kNotFound, kInvalidArgument (bad expression, zero step, second ellipsis,
  // too many indices), kOutOfRange (integer outside its axis),
  // kAlreadyExists (new_name taken).
  ArrayInfo slice(std::string_view name, const Index& index, std::string_view new_name = "");
  // Server-side copy of source[source_index] into a new contiguous array
  // `new_name` in `order`; returns the new array. Errors as slice() plus
  // kAlreadyExists, kResourceExhausted.
  ArrayInfo copy(std::string_view source, const Index& source_index, std::string_view new_name,
                 shm::Order order = shm::Order::kC);
  // Server-side copy of source[source_index] into destination[dest_index]
  // (shapes must match, broadcasting as Cython); returns the destination
  // selection. Errors as slice() plus kInvalidArgument "got differing extents
  // in dimension 0 (got 2 and 3)", kFailedPrecondition for a read-only
  // destination.
  ArrayInfo copy_into(std::string_view source, const Index& source_index,
                      std::string_view destination, const Index& dest_index);

  // --- Streaming (works from any host). ----------------------------------------
  // The items of name[index], streamed over gRPC into a new owning, writable
  // AnyView contiguous in `order`, with the array's format and itemsize. On
  // the daemon's host the bytes are copied straight from the segment
  // instead (ClientOptions::local_reads), with the same result.
  // `progress` (optional) is called after each chunk. `info` (optional)
  // receives the description the stream starts with: the selection as a
  // contiguous array in `order` (name, format, shape, generation, readonly),
  // so no slice() is needed to describe what was read. Errors: as slice(),
  // plus kDataLoss when the stream's byte count does not match its
  // description. One RPC.
  shm::AnyView read(std::string_view name, const Index& index = {},
                    shm::Order order = shm::Order::kC, const ProgressCallback& progress = nullptr,
                    ArrayInfo* info = nullptr);
  // The same stream, into memory the caller already has: `dst` must be
  // writable and C- or Fortran-contiguous (the stream is sent in that
  // order), with the selection's shape, itemsize and format (as write()
  // checks its source). A consumer that reads the same selection again and
  // again (a frame buffer) pays no allocation and no fresh-page faults.
  // Returns the bytes read. Errors: as read(), plus kInvalidArgument when dst
  // is read-only or not contiguous, or its shape, itemsize or format differs
  // from the selection's; the description is checked before any byte lands,
  // so dst is untouched then. After another error (the stream broke) dst may
  // hold part of the bytes. One RPC (per stream).
  int64_t read_into(std::string_view name, const Index& index, const shm::AnyView& dst,
                    const ProgressCallback& progress = nullptr, ArrayInfo* info = nullptr);
  // Writes the items of `src` into name[index], streamed in 1 MiB chunks
  // (src may be any strided view; it is packed chunk by chunk, never copied
  // whole). Returns the bytes written. Errors: as slice(), plus
  // kInvalidArgument when src's format or shape does not match the selection,
  // kFailedPrecondition for a read-only array, or when `expected_generation`
  // is non-zero and `name` now holds another generation (it was deleted and
  // created again). Nothing is written unless the server accepted the target:
  // the shape, format, byte count and generation travel with it and are
  // checked before the first byte lands, so a write is one RPC. `info`
  // (optional) receives the description of the selection written.
  int64_t write(std::string_view name, const Index& index, const shm::AnyView& src,
                const ProgressCallback& progress = nullptr, ArrayInfo* info = nullptr,
                uint64_t expected_generation = 0);

  // --- Events. -------------------------------------------------------------------
  // Calls `callback` on a background thread for every created / sealed /
  // deleted event of names starting with `prefix`, until the returned handle
  // is cancelled or destroyed or the server closes the stream. Returns once
  // the server has registered the watch (or refused it: the handle's wait()
  // throws the RpcError that says why), so every event of a change made after it returns is
  // delivered; earlier ones are not.
  // `callback` must not throw and must not cancel its own handle. The handle
  // keeps the connection alive: it may outlive this Client.
  WatchHandle watch(std::string_view prefix, std::function<void(const WatchEvent&)> callback);

  class Impl;

 private:
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The default Unix socket path of `instance`, the daemon's own (shm/instance.h).
using shm::DefaultSocketPath;

}  // namespace shmarray::client

#endif  // SHMARRAY_CLIENT_CLIENT_H_

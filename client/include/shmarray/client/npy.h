// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: npy.h
// -----------------------------------------------------------------------------
// NumPy `.npy` files (format versions 1.0, 2.0 and 3.0), so that arrays move
// between shmarray and Python with `np.save` / `np.load`:
//
//   shm::AnyView a = ReadNpy("x.npy");                 // owning array, file's dtype and order
//   WriteNpy("y.npy", a.slice(shm::ParseIndex("::2")), shm::Order::kF);  // packs the strided view
//
//   NpyReader in = NpyReader::Open("big.npy");         // streaming: header first ...
//   std::vector<std::byte> buf(1 << 20);
//   while (int64_t n = in.Read(buf)) Consume(buf.data(), n);   // ... then the data in chunks
//
// Dtypes: every numeric and struct dtype NumPy writes. The descr of the header
// (a Python literal) converts to and from a PEP 3118 format:
//   '|b1' <-> '?'     '|i1' '<i2' '<i4' '<i8' <-> b h i q    (u: B H I Q)
//   '<f2' '<f4' '<f8' '<f16' <-> e f d g      '<c8' '<c16' '<c32' <-> Zf Zd Zg
//   '|S10' <-> '10s'  ('c' is written as '|S1')    '|V8' <-> '8x' (raw bytes)
//   [('x', '<f8'), ('y', '<i4', (2, 3))] <-> 'T{<d:x:(2,3)<i:y:}'
// with any byte order ('<', '>', '|', '=' for native), nested structs,
// sub-array fields, padding fields ('', '|V4') <-> '4x' and titles (the
// title is dropped). Unnamed struct items get NumPy's names 'f0', 'f1', ...
// A format NumPy has no dtype for, or a dtype PEP 3118 cannot carry, is an
// NpyError: object 'O', datetime 'M8' / timedelta 'm8', unicode 'U' (its
// buffer format 'w' is not supported), pascal strings 'p'.
// Two spellings are not preserved by a round trip: a top-level sub-array
// format such as '(2,3)<d' is written as the one-field struct
// [('f0', '<f8', (2, 3))], and an itemsize larger than the format's as a
// struct with a trailing padding field.
//
// Header parsing treats the file as untrusted: a small parser of Python
// literals (no eval) with bounded nesting, a header of at most
// kMaxNpyHeaderBytes, exactly the keys 'descr', 'fortran_order' and 'shape',
// overflow-checked shapes of at most shm::kMaxDims axes, and a data region
// whose size is checked against the file before anything is allocated.
// Bytes after the data are ignored, as np.load does.
//
// Errors: every function here throws NpyError (a std::runtime_error) with a
// message that names the file when there is one, e.g.
//   x.npy: not a NumPy .npy file (bad magic string)
//   x.npy: file is truncated: the header declares 800 data bytes but only 96 follow
//   x.npy: unsupported dtype '|O': Python objects have no meaning in shared memory
// plus std::bad_alloc when memory runs out.
//
// Thread-safety: the free functions are thread-safe; NpyReader and NpyWriter
// are move-only objects to be used by one thread at a time.

#ifndef SHMARRAY_CLIENT_NPY_H_
#define SHMARRAY_CLIENT_NPY_H_

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <istream>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "shmarray/shm/any_view.h"
#include "shmarray/shm/format.h"
#include "shmarray/shm/layout.h"

namespace shmarray::client {

// A malformed, truncated or unsupported .npy file, an unsupported format, or
// an I/O failure. The message is meant for users as it is.
class NpyError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The largest header (the Python dict literal) accepted when reading. NumPy
// writes a few hundred bytes; large structured dtypes need more.
inline constexpr int64_t kMaxNpyHeaderBytes = int64_t{1} << 20;
// Chunk size used by ReadNpy/WriteNpy and suggested for streaming.
inline constexpr int64_t kNpyChunkBytes = int64_t{4} << 20;

// What the header of a .npy file says.
struct NpyHeader {
  int major_version = 1;       // 1, 2 or 3
  int minor_version = 0;       // 0
  std::string descr;           // the descr as written in the header, e.g. "'<f8'"
  shm::Format format;          // the PEP 3118 format of one item (see file comment)
  int64_t itemsize = 1;        // bytes per item (the dtype's itemsize)
  std::vector<int64_t> shape;  // ITEMS per axis; empty = 0-d (one item)
  bool fortran_order = false;  // data in Fortran (column-major) order
  int64_t header_bytes = 0;    // bytes from the start of the file to the data
  int64_t data_bytes = 0;      // product(shape) * itemsize

  shm::Order order() const { return fortran_order ? shm::Order::kF : shm::Order::kC; }
  // The contiguous layout of the data in the file.
  shm::Layout layout() const { return shm::Layout::Contiguous(itemsize, shape, order()); }
};

// Parses the header of a .npy file from `in`, which must be positioned at the
// magic string; on return `in` is positioned at the first data byte. Throws
// NpyError for a bad magic string, an unknown version, a header that is too
// long, truncated, not a Python dict literal of the three keys, or not
// latin-1 / UTF-8 text as its version requires, an unsupported descr, a
// negative or overflowing shape. The returned header owns its data.
NpyHeader ReadNpyHeader(std::istream& in);

// The same, from the bytes of a header (at least the whole header; data may
// follow). Throws as ReadNpyHeader.
NpyHeader ParseNpyHeader(std::string_view bytes);

// The complete header (magic, version, length, padded dict, '\n') for an
// array of `format` (itemsize bytes per item, 0 = format.itemsize()), `shape`
// and `order`, as np.save writes it: version 1.0 when it fits, 2.0 when the
// header is longer than 65535 bytes, 3.0 when a field name is not latin-1;
// its length is a multiple of 64. Throws NpyError for formats with no NumPy
// dtype and for shapes that are negative or overflow.
std::string MakeNpyHeader(const shm::Format& format, int64_t itemsize,
                          std::span<const int64_t> shape, shm::Order order);

// The PEP 3118 format (in canonical form, see shm::Format) of a descr given
// as the text of its Python literal, e.g. "'<f8'" or "[('x', '<f8')]". Throws
// NpyError for text that does not parse or a dtype that is not supported.
std::string DescrToFormat(std::string_view descr);

// The descr (Python literal text, as np.save writes it) of items of `format`
// that are `itemsize` bytes long (0 = format.itemsize()); e.g. "'<f8'" for
// "d". Built from format.root(). Gaps between fields are NumPy's padding
// fields ('', '|Vn'); unnamed fields are named as NumPy's PEP 3118 import
// names them: the first f<j> no other field of the struct has ("bi" ->
// "[('f0', '|i1'), ('', '|V3'), ('f1', '<i4')]"). Throws NpyError for
// formats NumPy has no dtype for (Pascal strings `p`).
std::string FormatToDescr(const shm::Format& format, int64_t itemsize = 0);

// The canonical PEP 3118 format of a NumPy dtype given the way np.dtype()
// takes it as a string: a name ("int64", "float32", "bool", "complex128"),
// a typestr with or without byte order ("f8", "<i4", ">c16", "S5", "V8"), a
// character code ("d", "<q", "F"), a sub-array ("(2,3)f8", "2i4"), NumPy's
// comma form ("i8,f4": fields f0, f1) or the list syntax
// "[('x', '<f8'), ('y', '<i4', (2,))]". Sizes are this platform's (long is 8
// bytes). E.g. "int64" -> "<q", "f8" -> "<d", "c16" -> "<Zd", "S5" -> "5s",
// "[('x','<f8'),('y','<f8')]" -> "T{<d:x:<d:y:}". Throws NpyError for text
// that is not a dtype ("unknown NumPy dtype 'float65'") and for dtypes with
// no PEP 3118 format (object, unicode, datetime, zero-length).
std::string DtypeToFormat(std::string_view dtype);

// NumPy's name of the dtype of items of `format` (`itemsize` bytes, 0 = the
// format's size): "float64", "int32", "bool", "complex128", "S5", "V8";
// big-endian scalars as typestrs (">f8"); structs and sub-arrays as the
// descr literal ("[('x', '<f8'), ('y', '<f8')]"). np.dtype() accepts all of
// them. Throws NpyError for formats NumPy has no dtype for.
std::string DtypeName(const shm::Format& format, int64_t itemsize = 0);

// For a --format text that is not PEP 3118 but is a NumPy dtype: the
// suggestion "did you mean 'q' (NumPy 'int64')?"; "" when `text` is not a
// dtype either.
std::string FormatSpellingHint(std::string_view text);

// Reads a whole .npy file into a new owning, writable, contiguous array in
// the file's order with the file's format. Throws NpyError (file not found,
// unreadable, malformed or truncated), std::bad_alloc.
shm::AnyView ReadNpy(const std::string& path);

// Maps the data of the .npy file at `path` read-only (mmap) instead of
// reading it: a read-only AnyView in the file's format, shape and order whose
// base() owns the mapping (it stays valid after the file is deleted). Pages
// are read on demand, so a big file is never held twice in memory; the file
// should not be truncated while the view lives (SIGBUS, as with any mmap).
// Throws NpyError as NpyReader::Open, and when the file cannot be mapped.
shm::AnyView MapNpy(const std::string& path);

// Writes the items of `view` to a new .npy file at `path` (replacing a file
// there) in `order`. A view that is not contiguous in `order` is packed in
// chunks of kNpyChunkBytes, never copied whole. On failure the partial file
// is removed. Throws NpyError (I/O failure, a format with no NumPy dtype).
void WriteNpy(const std::string& path, const shm::AnyView& view, shm::Order order = shm::Order::kC);

// Streaming reader: the header, then the data in chunks of the caller's size.
// Move-only; the file is closed by the destructor.
class NpyReader {
 public:
  // Opens `path` and reads its header. Throws NpyError (as ReadNpyHeader, and
  // when the file is shorter than header_bytes + data_bytes).
  static NpyReader Open(const std::string& path);

  NpyReader(NpyReader&&) noexcept;
  NpyReader& operator=(NpyReader&&) noexcept;
  ~NpyReader();

  const NpyHeader& header() const { return header_; }
  const std::string& path() const { return path_; }
  // Data bytes not read yet.
  int64_t remaining_bytes() const { return remaining_bytes_; }

  // Reads up to out.size() of the remaining data bytes into `out` and returns
  // how many (0 once all data is read). Throws NpyError when the file ends
  // early or a read fails.
  int64_t Read(std::span<std::byte> out);

 private:
  NpyReader() = default;
  std::string path_;
  NpyHeader header_;
  std::unique_ptr<std::ifstream> in_;
  int64_t remaining_bytes_ = 0;
};

// Streaming writer: writes the header at once, then takes the data bytes (the
// items in the file's order) in chunks. Commit() checks that exactly
// data_bytes were written and closes the file; a writer destroyed without a
// successful Commit() removes its file. Move-only.
class NpyWriter {
 public:
  // Creates (or truncates) `path` and writes the header of MakeNpyHeader.
  // Throws NpyError (as MakeNpyHeader; when the file cannot be created).
  static NpyWriter Create(const std::string& path, const shm::Format& format, int64_t itemsize,
                          std::span<const int64_t> shape, shm::Order order);

  NpyWriter(NpyWriter&&) noexcept;
  NpyWriter& operator=(NpyWriter&&) noexcept;
  ~NpyWriter();

  const std::string& path() const { return path_; }
  // Data bytes still expected.
  int64_t remaining_bytes() const { return remaining_bytes_; }

  // Appends data bytes. Throws NpyError when more than remaining_bytes()
  // are given or the write fails.
  void Write(std::span<const std::byte> data);
  // Flushes and closes the file. Throws NpyError when bytes are missing or
  // the flush fails (the file is then removed).
  void Commit();

 private:
  NpyWriter() = default;
  void Abandon() noexcept;
  std::string path_;
  std::unique_ptr<std::ofstream> out_;
  int64_t remaining_bytes_ = 0;
};

}  // namespace shmarray::client

#endif  // SHMARRAY_CLIENT_NPY_H_

// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: format.h
// -----------------------------------------------------------------------------
// PEP 3118 / struct-module format strings: parsing, itemsize and alignment,
// the canonical spelling the daemon stores, and the compile-time format of a
// C++ element type.
//
//   Format f = Format::Parse("T{d:x:d:y:}");
//   f.itemsize();   // 16
//   f.canonical();  // "T{<d:x:<d:y:}"
//   CheckFormat<double>(Format::Parse("d"));  // ok; throws FormatError on mismatch
//
// Grammar accepted (docs/views.md), as NumPy reads it:
//   format  := item+                  (the empty string means "B", PEP 3118's default)
//   item    := order | [shape] order* [count] elem [':' name ':']
//   order   := '@' | '=' | '<' | '>' | '!' | '^'      sticky until changed, also
//                                                    across struct boundaries
//   shape   := '(' extent (',' extent)* ')'
//   elem    := '?' b B h H i I l L q Q n N e f d g Zf Zd Zg c s p x P | 'T{' item+ '}'
// Whitespace is allowed between any two tokens (also inside a shape and
// before a name) and ignored; inside a name it is part of the name; inside a
// number, 'Zf' or 'T{' it is an error.
//   - `@` (the start state): native sizes and alignment; every item is aligned
//     to its natural alignment and a struct (and the whole format) is padded
//     to the largest alignment of its `@` items, as NumPy does (`ix` is 8
//     bytes, `^ix` 5). Whether an item is aligned, and whether a struct gets
//     tail padding, depends on the byte order in force after it (NumPy).
//   - `^`: native sizes, no alignment. `= < > !`: standard sizes, no
//     alignment (`l`/`L` are 4 bytes).
//   - Counts: for `s` and `p` the length of the string, for `x` the number of
//     pad bytes, otherwise an extra trailing sub-array axis (`3i` is one item
//     of 12 bytes, `(2)3i` is int32_t[2][3]).
//   - `T{...}` with optional `:name:` after each item; unnamed items are
//     allowed; an unnamed `x` is padding, a named one is a field of raw bytes.
// Decisions where PEP 3118, struct and NumPy differ or are silent (x86-64):
//   - `g` is the 16-byte x86 extended long double and `Zg` two of them in
//     every mode: `<g`/`<Zg` are accepted (NumPy and struct reject them) so
//     that `g` has a canonical spelling.
//   - `n`, `N`, `P` exist only in the native modes `@` and `^` (as in
//     struct); `=n`, `<P` are rejected. Their canonical forms are `<q`, `<Q`,
//     `<Q`: in shared memory a pointer is just 8 bytes.
//   - Rejected on purpose: `O` (a Python object pointer means nothing in
//     another process), `w` `u` `t` `&` `X{}`, a zero count or extent, an
//     empty struct `T{}` (items of 0 bytes; NumPy accepts them), a byte order
//     with no item after it, a `}` with no `T{` (NumPy stops parsing there),
//     duplicate field names, an empty name `::`.
//   - The empty string means "B" (PEP 3118: a missing format is "B"; a
//     protobuf string cannot tell missing from empty). NumPy's Python parser
//     reads '' as a 0-byte struct; its buffer import also uses "B".
// Anything else throws FormatError naming the format and the 0-based position
// of the fault:
//   'T{i:a' is not a valid PEP 3118 buffer format string: expected ':' to end the field name at
//   position 5
//
// Canonical form: explicit byte order, standard sizes, native padding spelled
// out as `x`, so the same bytes have the same spelling on every platform:
//   - every scalar carries its own byte order, `<` or `>` (`@ = ^` become the
//     host's order, `!` becomes `>`), even inside a struct and when it repeats
//     the previous one; one-byte codes and `s`/`p` always get `<`;
//   - codes are standard-size: on x86-64 `l`, `n` -> `q`; `L`, `N`, `P` -> `Q`;
//     `=l` -> `i`;
//   - a count on a non-string code becomes a shape; shape comes first, then the
//     byte order, then the length of `s`/`p` (`(2,3)<d`, `(3)<i`, `<5s`); a
//     count of 1 disappears, an extent of 1 stays (`1i` -> `<i`, `(1)i` -> `(1)<i`);
//   - structs: `T{` ... `}` without a prefix; padding (alignment gaps, tail
//     padding, explicit `x`) merged into one `<n>x` per gap, never prefixed;
//     names kept as written; `T{b:a:i:b:}` -> `T{<b:a:3x<i:b:}`;
//   - a format of several items, or of one named or padded item, is a struct
//     and is wrapped in `T{...}` (`ii` -> `T{<i<i}`, `ix` -> `T{<i4x}`).
// Canonicalising is idempotent; two formats meaning the same bytes of the
// same scalar type have the same canonical form (`i`, `<i`, `=i`, `=l`,
// `^i` -> `<i`; `l`, `q`, `n`, `<q` -> `<q`; `!i` -> `>i`; `>b`, `b` -> `<b`).
//
// The parsed tree: Format::root() is the item as a FormatNode, the structure
// canonical() spells (and what callers walk instead of re-parsing text):
//   Format::Parse("T{b:a:i:b:}").root()   // kStruct, size_bytes 8, 2 fields:
//     fields[0]  name "a", offset_bytes 0, node kScalar 'b'
//     fields[1]  name "b", offset_bytes 4, node kScalar 'i' (the 3 bytes
//                between them are a gap, not a field)
//
// Thread-safety: Format is an immutable value; concurrent use is safe.

#ifndef SHMARRAY_SHM_FORMAT_H_
#define SHMARRAY_SHM_FORMAT_H_

#include <complex>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace shmarray::shm {

// Limits that keep parsing bounded whatever the input.
inline constexpr size_t kMaxFormatLength = 64 * 1024;           // characters
inline constexpr int kMaxFormatNesting = 32;                    // nested T{ }
inline constexpr int64_t kMaxItemsizeBytes = int64_t{1} << 40;  // one item
inline constexpr int kMaxSubarrayDims = 32;  // axes of a sub-array shape (NumPy's limit)

struct FormatField;

// The complex types: PEP 3118 spells them with two characters, `Zf` `Zd`
// `Zg`; a FormatNode holds them as the one-character codes 'F' 'D' 'G'
// (NumPy's). The one table of the mapping, both ways.
struct ComplexCode {
  char code;                  // FormatNode::code
  std::string_view spelling;  // PEP 3118
};
inline constexpr ComplexCode kComplexCodes[] = {{'F', "Zf"}, {'D', "Zd"}, {'G', "Zg"}};

// One node of a parsed format: a scalar, a byte string, named padding or a
// struct, possibly repeated as a sub-array. Nodes are built by Format::Parse
// and never change; all sizes and offsets are in bytes, in the layout the
// format describes (native `@` alignment already applied).
struct FormatNode {
  enum class Kind {
    kScalar,  // a number, bool or char: `?`, `c`, `b` ... `Zg`
    kBytes,   // a byte string: `s` (NumPy 'S') or `p` (Pascal, length byte first)
    kPad,     // raw bytes `x`; only ever a *named* field (see FormatField)
    kStruct,  // `T{...}`; also any format of several items or of one named or
              // padded item (`ii`, `d:x:`, `ix`)
  };
  Kind kind = Kind::kScalar;
  // The canonical type code. kScalar: the standard-size code canonical()
  // writes, one of `? c b B h H i I q Q e f d g`, or 'F', 'D', 'G' for `Zf`,
  // `Zd`, `Zg` (kComplexCodes; code_spelling() is the PEP 3118 spelling).
  // `l`, `n`, `P`, ... never appear: they are already mapped to `i`/`q`/`Q`
  // as in canonical(). kBytes: 's' or 'p'. kPad: 'x'. kStruct: 'T'.
  char code = 'B';
  // kScalar of more than one byte: the byte order canonical() writes (`>`
  // when true, `<` when false; `@ = ^` resolved to the host's order). False
  // for everything else (one-byte codes, strings, padding, structs: the
  // fields carry their own order).
  bool big_endian = false;
  // kBytes and kPad: the bytes of one element (`5s` -> 5, `4x:raw:` -> 4);
  // 1 for kScalar and kStruct.
  int64_t length_bytes = 1;
  // The sub-array shape, outermost axis first, as canonical() writes it in
  // front of the code (`(2,3)<d` -> {2, 3}; a count on a non-string code is an
  // axis: `3i` -> {3}); empty for a single element. Extents are positive.
  std::vector<int64_t> shape;
  // Size of the whole node, shape included (`(2,3)<d` -> 48). For kStruct it
  // includes alignment gaps and tail padding.
  int64_t size_bytes = 0;
  // kStruct only: the fields of one element, in the order written, with
  // increasing offsets. Unnamed padding is not a field: see FormatField.
  std::vector<FormatField> fields;

  // True for a complex scalar: code 'F', 'D' or 'G' (`Zf`, `Zd`, `Zg`).
  bool is_complex() const {
    for (const ComplexCode& c : kComplexCodes) {
      if (c.code == code) return true;
    }
    return false;
  }
  // `code` as PEP 3118 and canonical() spell it: "Zf", "Zd", "Zg" for the
  // complex codes, otherwise the code's one character ("d", "s", "x", "T").
  // May view this node: valid as long as the node lives.
  std::string_view code_spelling() const {
    for (const ComplexCode& c : kComplexCodes) {
      if (c.code == code) return c.spelling;
    }
    return std::string_view(&code, 1);
  }

  // Size of one element of the sub-array: size_bytes / product(shape).
  int64_t element_size_bytes() const {
    int64_t size = size_bytes;
    for (int64_t extent : shape) size /= extent;
    return size;
  }
};

// A field of a struct node.
//
// Padding: an unnamed `x` (explicit padding), a native alignment gap and the
// tail padding of a native struct are not fields. They are the bytes that no
// field covers: between one field's offset_bytes + node.size_bytes and the
// next field's offset_bytes, and after the last field up to the struct's
// element_size_bytes(). canonical() spells each such gap as one `<n>x`
// (`T{b:a:xxxi:b:}` and `T{b:a:i:b:}` have the same tree and the same
// canonical form `T{<b:a:3x<i:b:}`), and a struct of padding only has no
// fields (`4x` -> `T{4x}`: kStruct, size_bytes 4, no fields). A *named* `x`
// (`4x:raw:`) is a field whose node is kPad.
struct FormatField {
  FormatNode node;
  // The name written between colons, as written; empty if unnamed (`T{<i<i}`
  // has two unnamed fields). Names within one struct are distinct.
  std::string name;
  bool named = false;  // true iff the format gave a `:name:`
  // Offset of the field from the start of its struct element.
  int64_t offset_bytes = 0;
};

class Format {
 public:
  // The format of single bytes, "<B" (PEP 3118 says a missing format means "B").
  Format();

  // Parses `text` (PEP 3118, see the file comment). Throws FormatError with
  // the position of the fault for anything outside the grammar, an
  // unbalanced `T{`, counts or sizes that overflow or exceed
  // kMaxItemsizeBytes, a sub-array shape of more than kMaxSubarrayDims axes
  // (NumPy could not load it), nesting deeper than kMaxFormatNesting, text longer
  // than kMaxFormatLength (or a canonical form that would be), an embedded
  // NUL. Never hangs, never allocates more than O(text size).
  // Thread-safe.
  static Format Parse(std::string_view text);

  // The canonical spelling (see file comment). Parse(canonical()) == *this.
  const std::string& canonical() const { return canonical_; }
  // The text this Format was parsed from ("" for Format()).
  const std::string& original() const { return original_; }
  // Size in bytes of one item as the format describes it (native `@` structs
  // are padded to their alignment, as NumPy does).
  int64_t itemsize() const { return itemsize_; }
  // Alignment in bytes that a native compiler would give the item: the
  // largest natural alignment of its `@`-mode scalars (1 for standard-size
  // and `^` formats, so `i` is 4 and `<i` is 1).
  int64_t alignment() const { return alignment_; }
  // A human name of what the format means, used in error messages:
  // 'double', 'int32_t', 'uint8_t', 'bool', 'char', 'complex double',
  // 'long double', 'float16', 'big-endian int32_t', 'char[16]' (for `16s`),
  // 'pascal char[16]' (for `16p`), 'int32_t[2][3]', 'a struct'.
  const std::string& description() const { return description_; }
  // True if the item is a struct (`T{...}`, several items, a named or padded
  // item), or a sub-array of one; description() is then "a struct".
  bool is_struct() const { return is_struct_; }
  // The parsed item as a tree (see FormatNode and FormatField), the same
  // structure canonical() spells: the root is kStruct iff is_struct(), and
  // root().size_bytes == itemsize(). Format() has a kScalar 'B' root. The
  // tree is shared by copies of this Format and immutable; the reference is
  // valid as long as this Format (or a copy of it) lives: not past the end
  // of the statement for a temporary (`Format::Parse(s).root()`).
  // Thread-safe.
  const FormatNode& root() const { return *root_; }

  // Test hook: the elementary steps (loop iterations over the text, bytes of
  // names and messages handled, characters of the canonical form written) of
  // the last Parse() on this thread, whether it returned or threw. Parsing is
  // linear: the steps stay below a constant times (text length + 1), which
  // tests and the fuzzer check by counting, not by the clock.
  static int64_t TEST_last_parse_steps();

  // Same canonical form: the same bytes mean the same values.
  friend bool operator==(const Format& a, const Format& b) { return a.canonical_ == b.canonical_; }

 private:
  std::string original_;
  std::string canonical_;
  std::string description_;
  int64_t itemsize_ = 1;
  int64_t alignment_ = 1;
  bool is_struct_ = false;
  std::shared_ptr<const FormatNode> root_;  // never null
};

// FormatTraits<T> tells the library the PEP 3118 format and the C++ name of an
// element type. It is defined for every arithmetic type, bool and
// std::complex<float|double|long double>. A user struct declares its own once:
//
//   struct Point { double x, y; };
//   template <> struct shmarray::shm::FormatTraits<Point> {
//     static constexpr std::string_view kFormat = "T{d:x:d:y:}";
//     static constexpr std::string_view kName = "Point";
//   };
//
// The format must describe sizeof(T) bytes (checked when a view binds).
template <typename T>
struct FormatTraits;  // undefined: a type without traits cannot be viewed

#define SHMARRAY_FORMAT_TRAITS_(type, fmt, name)     \
  template <>                                        \
  struct FormatTraits<type> {                        \
    static constexpr std::string_view kFormat = fmt; \
    static constexpr std::string_view kName = name;  \
  }

SHMARRAY_FORMAT_TRAITS_(bool, "?", "bool");
SHMARRAY_FORMAT_TRAITS_(char, "c", "char");
SHMARRAY_FORMAT_TRAITS_(signed char, "b", "int8_t");
SHMARRAY_FORMAT_TRAITS_(unsigned char, "B", "uint8_t");
SHMARRAY_FORMAT_TRAITS_(short, "h", "int16_t");
SHMARRAY_FORMAT_TRAITS_(unsigned short, "H", "uint16_t");
SHMARRAY_FORMAT_TRAITS_(int, "i", "int32_t");
SHMARRAY_FORMAT_TRAITS_(unsigned int, "I", "uint32_t");
SHMARRAY_FORMAT_TRAITS_(long, "l", sizeof(long) == 8 ? "int64_t" : "int32_t");
SHMARRAY_FORMAT_TRAITS_(unsigned long, "L", sizeof(long) == 8 ? "uint64_t" : "uint32_t");
SHMARRAY_FORMAT_TRAITS_(long long, "q", "long long");
SHMARRAY_FORMAT_TRAITS_(unsigned long long, "Q", "unsigned long long");
SHMARRAY_FORMAT_TRAITS_(float, "f", "float");
SHMARRAY_FORMAT_TRAITS_(double, "d", "double");
SHMARRAY_FORMAT_TRAITS_(long double, "g", "long double");
SHMARRAY_FORMAT_TRAITS_(std::complex<float>, "Zf", "complex float");
SHMARRAY_FORMAT_TRAITS_(std::complex<double>, "Zd", "complex double");
SHMARRAY_FORMAT_TRAITS_(std::complex<long double>, "Zg", "complex long double");
// The character types are integers of their size (PEP 3118 has no UTF-16).
SHMARRAY_FORMAT_TRAITS_(char8_t, "B", "char8_t");
SHMARRAY_FORMAT_TRAITS_(char16_t, "H", "char16_t");
SHMARRAY_FORMAT_TRAITS_(char32_t, "I", "char32_t");
SHMARRAY_FORMAT_TRAITS_(wchar_t,
                        sizeof(wchar_t) == 4   ? (std::is_signed_v<wchar_t> ? "i" : "I")
                        : sizeof(wchar_t) == 2 ? (std::is_signed_v<wchar_t> ? "h" : "H")
                                               : "B",
                        "wchar_t");
#undef SHMARRAY_FORMAT_TRAITS_

// Const and volatile element types have the format of the plain type.
template <typename T>
struct FormatTraits<const T> : FormatTraits<T> {};
template <typename T>
struct FormatTraits<volatile T> : FormatTraits<T> {};
template <typename T>
struct FormatTraits<const volatile T> : FormatTraits<T> {};

// The PEP 3118 format of T as declared by its traits, e.g. "i" for int.
template <typename T>
constexpr std::string_view format_of() {
  return FormatTraits<T>::kFormat;
}

// The name used for T in error messages, e.g. 'int32_t'.
template <typename T>
constexpr std::string_view type_name_of() {
  return FormatTraits<T>::kName;
}

// The parsed `format` of a C++ type named `type_name` of `type_size` bytes
// (normally FormatTraits<T>::kFormat, kName and sizeof(T)). Parses once per
// (format, size) and caches the result for the life of the process; the
// returned reference stays valid until exit. Throws FormatError if `format`
// is invalid or its itemsize is not `type_size`:
//   format 'T{c:c:}' of 'Pad' describes 1 byte but the type has 8 bytes
// Thread-safe (the cache is guarded by a mutex).
const Format& FormatForType(std::string_view format, std::string_view type_name, size_t type_size);

// Throws FormatError "Buffer dtype mismatch, expected '<type_name>' but got
// '<description>'" unless `actual` has the same canonical form as `expected`.
// A struct whose canonical form differs reads "... but got a struct" (no
// quotes, as Cython). Thread-safe.
void CheckFormatMatches(const Format& expected, std::string_view type_name, const Format& actual);

// Convenience: checks `actual` against T's format (errors as
// FormatForType and CheckFormatMatches). Thread-safe; after the first
// successful call for T it takes no lock.
template <typename T>
void CheckFormat(const Format& actual) {
  static const Format& expected = FormatForType(format_of<T>(), type_name_of<T>(), sizeof(T));
  CheckFormatMatches(expected, type_name_of<T>(), actual);
}

}  // namespace shmarray::shm

#endif  // SHMARRAY_SHM_FORMAT_H_

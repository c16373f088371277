// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: main.cc
// -----------------------------------------------------------------------------
// `shmarray`, the command-line tool of shmarray (docs/architecture.md): catalog
// commands (ls, info, create, rm, seal, slice, copy), NumPy .npy transfers
// (get, put) and event watching (watch), on top of shmarray::client::Client.
//
//   shmarray create temps --dtype float64 --shape 480,640 --fill 21.5
//   shmarray get 'temps[::2, :]' half.npy --order F
//   shmarray --json info 'temps[0]'
//
// Where the daemon is: --socket PATH, --target HOST:PORT (with --tls-ca and
// --tls-server-name for TLS) or --instance NAME; else the environment
// (SHMARRAY_TARGET, SHMARRAY_TOKEN_FILE, SHMARRAY_TLS_CA,
// SHMARRAY_TLS_SERVER_NAME); else the default socket. Flags win over the
// environment.
//
// Exit codes: 0 success; 1 an error from the daemon, gRPC or a file; 2 a
// usage error. A failure prints exactly one line "shmarray: error: ..." on
// stderr (for the daemon's errors: its code name and message, plus a hint
// when one helps). Progress of get/put goes to stderr only when stderr is a
// terminal. --json prints the stable JSON of client/json.h.

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "shmarray/client/client.h"
#include "shmarray/client/json.h"
#include "shmarray/client/npy.h"
#include "shmarray/shm/any_view.h"
#include "shmarray/shm/errors.h"
#include "shmarray/shm/format.h"
#include "shmarray/shm/layout.h"

namespace shmarray::client {
namespace {

// A usage error found after CLI11's parsing: exit code 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A failure outside the daemon (a file, a certificate): exit code 1.
class CliError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

struct GlobalFlags {
  std::string socket;
  std::string target;
  std::string token_file;
  std::string instance;
  std::string tls_ca;
  std::string tls_server_name;
  bool json = false;
};

std::string OneLine(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  std::replace(s.begin(), s.end(), '\r', ' ');
  return s;
}

int PrintError(const std::string& message, int code) {
  std::cout.flush();
  std::cerr << "shmarray: error: " << OneLine(message) << std::endl;
  return code;
}

std::string Trim(std::string s) {
  const char* ws = " \t\r\n\f\v";
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  const size_t e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

std::string ReadFileOrThrow(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw CliError("cannot read " + what + " '" + path + "': " + std::strerror(errno));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ---------------------------------------------------------------------------
// Where the daemon is: flags, then the environment, then the default socket.

struct Connection {
  ClientOptions options;
  std::string shown_target;  // for hints: "unix:/path" or "host:port"
  bool local = true;         // a Unix socket
};

bool IsLocalTarget(const std::string& target) {
  return target.empty() || target.starts_with("unix:") || target.starts_with("/");
}

Connection Resolve(const GlobalFlags& g) {
  Connection c;
  if (!g.socket.empty()) {
    c.options.target = "unix:" + g.socket;
  } else if (!g.target.empty()) {
    c.options.target = g.target;
  } else if (g.instance.empty()) {
    c.options.target = Env("SHMARRAY_TARGET");
  }
  c.options.instance = g.instance;
  c.local = IsLocalTarget(c.options.target);
  if (c.options.target.empty()) {
    absl::StatusOr<std::string> path = DefaultSocketPath(g.instance);
    c.shown_target = path.ok() ? "unix:" + *path : "the default socket";
  } else if (c.options.target.starts_with("/")) {
    c.shown_target = "unix:" + c.options.target;
  } else {
    c.shown_target = c.options.target;
  }

  const std::string token_file = !g.token_file.empty() ? g.token_file : Env("SHMARRAY_TOKEN_FILE");
  if (!token_file.empty()) {
    c.options.token = Trim(ReadFileOrThrow(token_file, "token file"));
    if (c.options.token.empty()) throw CliError("token file '" + token_file + "' is empty");
  }

  // TLS: only for TCP targets. An explicit flag on a Unix socket is a
  // mistake; the environment's CA simply does not apply to one.
  if (!g.tls_ca.empty() && c.local) {
    throw UsageError("--tls-ca applies to a TCP --target HOST:PORT, not to a Unix socket");
  }
  if (!g.tls_server_name.empty() && c.local) {
    throw UsageError("--tls-server-name applies to a TCP --target HOST:PORT");
  }
  if (!c.local) {
    const std::string ca = !g.tls_ca.empty() ? g.tls_ca : Env("SHMARRAY_TLS_CA");
    const std::string name =
        !g.tls_server_name.empty() ? g.tls_server_name : Env("SHMARRAY_TLS_SERVER_NAME");
    if (!name.empty() && ca.empty()) {
      throw UsageError("--tls-server-name needs --tls-ca FILE (or SHMARRAY_TLS_CA)");
    }
    if (!ca.empty()) {
      c.options.tls_root_cert_pem = ReadFileOrThrow(ca, "--tls-ca file");
      if (Trim(c.options.tls_root_cert_pem).empty()) {
        throw CliError("--tls-ca file '" + ca + "' is empty");
      }
      c.options.tls_server_name = name;
    }
  }
  return c;
}

// The hint appended to an UNAVAILABLE error.
std::string UnavailableHint(const Connection& c) {
  if (c.local && c.options.target.empty()) {
    return "is shmarrayd running? it listens on " + c.shown_target +
           " by default; for another daemon use --socket, --target, --instance or "
           "SHMARRAY_TARGET";
  }
  if (c.local) return "is shmarrayd running? it should listen on " + c.shown_target;
  if (c.options.tls_root_cert_pem.empty()) {
    return "is shmarrayd running and listening on " + c.shown_target +
           "? if it serves TLS, pass --tls-ca FILE";
  }
  return "is shmarrayd running and listening on " + c.shown_target +
         " with TLS? check that --tls-ca signed its certificate and that the certificate names "
         "the host (or pass --tls-server-name)";
}

// ---------------------------------------------------------------------------
// NAME[EXPR]: the index is the text between the first '[' and a final ']'.

struct Target {
  std::string name;
  std::string index;
  bool has_index = false;
};

Target ParseTarget(const std::string& text) {
  Target t;
  const size_t open = text.find('[');
  if (open == std::string::npos) {
    t.name = text;
  } else {
    if (text.back() != ']') {
      throw UsageError("'" + text + "': an index must end with ']' (NAME[EXPR])");
    }
    t.name = text.substr(0, open);
    t.index = text.substr(open + 1, text.size() - open - 2);
    t.has_index = true;
  }
  if (t.name.empty()) throw UsageError("'" + text + "': missing array name");
  return t;
}

// For commands whose array cannot be a selection (create, rm, seal).
std::string PlainName(const std::string& text, const char* command) {
  const Target t = ParseTarget(text);
  if (t.has_index) {
    throw UsageError(std::string(command) + " takes a NAME, not NAME[EXPR]: '" + text + "'");
  }
  return t.name;
}

shm::Order ParseOrder(const std::string& s) {
  return s == "F" || s == "f" ? shm::Order::kF : shm::Order::kC;
}

std::vector<int64_t> ParseShape(const std::string& text) {
  std::string s = Trim(text);
  if (!s.empty() && (s.front() == '(' || s.front() == '[')) s = s.substr(1);
  if (!s.empty() && (s.back() == ')' || s.back() == ']')) s.pop_back();
  std::vector<int64_t> shape;
  if (Trim(s).empty()) return shape;  // 0-d
  std::stringstream ss(s);
  std::string part;
  while (std::getline(ss, part, ',')) {
    part = Trim(part);
    if (part.empty() && ss.eof()) break;  // trailing comma
    int64_t v = 0;
    const auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    if (part.empty() || ec != std::errc() || ptr != part.data() + part.size() || v < 0) {
      throw UsageError("invalid --shape '" + text +
                       "': expected non-negative integers separated by commas, e.g. 3,4");
    }
    shape.push_back(v);
  }
  return shape;
}

// The canonical format of --format (PEP 3118) or --dtype (NumPy), with a
// suggestion when the other spelling was meant.
std::string ResolveFormat(const std::string& format, const std::string& dtype) {
  if (!dtype.empty()) {
    try {
      return DtypeToFormat(dtype);
    } catch (const NpyError& e) {
      std::string message = std::string("invalid --dtype '") + dtype + "': " + e.what();
      try {
        const std::string pep = shm::Format::Parse(dtype).canonical();
        message += "; as a PEP 3118 format it is '" + pep + "': use --format '" + dtype + "'";
      } catch (const shm::FormatError&) {
      }
      throw UsageError(message);
    }
  }
  try {
    return shm::Format::Parse(format).canonical();
  } catch (const shm::FormatError& e) {
    std::string message = std::string("invalid --format: ") + e.what();
    const std::string hint = FormatSpellingHint(format);
    if (!hint.empty()) message += "; " + hint + " (or pass --dtype '" + format + "')";
    throw UsageError(message);
  }
}

// ---------------------------------------------------------------------------
// --fill: one item of a scalar format from text.

template <typename T>
void AppendRaw(T v, std::vector<std::byte>* out) {
  const auto* p = reinterpret_cast<const std::byte*>(&v);
  out->insert(out->end(), p, p + sizeof(T));
}

uint16_t FloatToHalf(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000;
  const int32_t exp = static_cast<int32_t>((x >> 23) & 0xFF);
  uint32_t mant = x & 0x7FFFFF;
  if (exp == 0xFF) return static_cast<uint16_t>(sign | 0x7C00 | (mant ? 0x200 : 0));  // inf/nan
  int32_t e = exp - 127 + 15;
  if (e >= 31) return static_cast<uint16_t>(sign | 0x7C00);  // overflow -> inf
  if (e <= 0) {                                              // subnormal or zero
    if (e < -10) return static_cast<uint16_t>(sign);
    mant |= 0x800000;
    const int shift = 14 - e;
    uint32_t half = mant >> shift;
    const uint32_t rem = mant & ((1u << shift) - 1);
    const uint32_t mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1))) ++half;
    return static_cast<uint16_t>(sign | half);
  }
  uint32_t half = (static_cast<uint32_t>(e) << 10) | (mant >> 13);
  const uint32_t rem = mant & 0x1FFF;
  if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) ++half;  // may carry into inf: correct
  return static_cast<uint16_t>(sign | half);
}

long double ParseFloat(const std::string& text, const std::string& what) {
  const std::string s = Trim(text);
  if (s.empty()) throw UsageError(what);
  errno = 0;
  char* end = nullptr;
  const long double v = std::strtold(s.c_str(), &end);
  if (end != s.c_str() + s.size()) throw UsageError(what);
  return v;
}

std::pair<long double, long double> ParseComplex(const std::string& text, const std::string& what) {
  std::string s = Trim(text);
  if (s.size() >= 2 && s.front() == '(' && s.back() == ')') s = Trim(s.substr(1, s.size() - 2));
  if (s.empty()) throw UsageError(what);
  if (s.back() != 'j' && s.back() != 'J') return {ParseFloat(s, what), 0.0L};
  s.pop_back();
  // Split at the last sign that is not an exponent's.
  size_t split = std::string::npos;
  for (size_t i = s.size(); i-- > 1;) {
    if ((s[i] == '+' || s[i] == '-') && s[i - 1] != 'e' && s[i - 1] != 'E') {
      split = i;
      break;
    }
  }
  auto imag_of = [&](std::string t) {
    if (t == "+" || t.empty()) return 1.0L;
    if (t == "-") return -1.0L;
    return ParseFloat(t, what);
  };
  if (split == std::string::npos) return {0.0L, imag_of(s)};
  return {ParseFloat(s.substr(0, split), what), imag_of(s.substr(split))};
}

std::vector<std::byte> EncodeScalar(const std::string& code, int64_t count, char order,
                                    const std::string& text, const std::string& format_text) {
  const std::string what = "invalid --fill value '" + text + "' for format '" + format_text + "'";
  std::vector<std::byte> out;
  auto integer = [&](int bytes, bool is_signed) {
    std::string s = Trim(text);
    bool negative = false;
    if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
      negative = s[0] == '-';
      s = s.substr(1);
    }
    int base = 10;
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
      base = 16;
      s = s.substr(2);
    }
    uint64_t mag = 0;
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), mag, base);
    if (s.empty() || ec == std::errc::invalid_argument || ptr != s.data() + s.size()) {
      throw UsageError(what + ": not an integer");
    }
    const int bits = bytes * 8;
    const uint64_t max_pos = is_signed ? (uint64_t{1} << (bits - 1)) - 1
                                       : (bits == 64 ? UINT64_MAX : (uint64_t{1} << bits) - 1);
    const uint64_t max_neg = is_signed ? uint64_t{1} << (bits - 1) : 0;
    if (ec == std::errc::result_out_of_range || (negative ? mag > max_neg : mag > max_pos)) {
      throw UsageError(what + ": out of range");
    }
    const uint64_t v = negative ? 0 - mag : mag;
    for (int i = 0; i < bytes; ++i) out.push_back(static_cast<std::byte>((v >> (8 * i)) & 0xFF));
  };
  if (code == "?") {
    std::string s = Trim(text);
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    if (s == "true" || s == "1") {
      out.push_back(std::byte{1});
    } else if (s == "false" || s == "0") {
      out.push_back(std::byte{0});
    } else {
      throw UsageError(what + ": expected true or false");
    }
  } else if (code == "b" || code == "B") {
    integer(1, code == "b");
  } else if (code == "h" || code == "H") {
    integer(2, code == "h");
  } else if (code == "i" || code == "I" || code == "l" || code == "L") {
    integer(4, code == "i" || code == "l");
  } else if (code == "q" || code == "Q" || code == "n" || code == "N" || code == "P") {
    integer(8, code == "q" || code == "n");
  } else if (code == "e") {
    AppendRaw(FloatToHalf(static_cast<float>(ParseFloat(text, what))), &out);
  } else if (code == "f") {
    AppendRaw(static_cast<float>(ParseFloat(text, what)), &out);
  } else if (code == "d") {
    AppendRaw(static_cast<double>(ParseFloat(text, what)), &out);
  } else if (code == "g") {
    out.assign(16, std::byte{0});
    const long double v = ParseFloat(text, what);
    std::memcpy(out.data(), &v, std::min<size_t>(sizeof v, 16));
  } else if (code == "Zf" || code == "Zd" || code == "Zg") {
    const auto [re, im] = ParseComplex(text, what);
    if (code == "Zf") {
      AppendRaw(static_cast<float>(re), &out);
      AppendRaw(static_cast<float>(im), &out);
    } else if (code == "Zd") {
      AppendRaw(static_cast<double>(re), &out);
      AppendRaw(static_cast<double>(im), &out);
    } else {
      out.assign(32, std::byte{0});
      std::memcpy(out.data(), &re, std::min<size_t>(sizeof re, 16));
      std::memcpy(out.data() + 16, &im, std::min<size_t>(sizeof im, 16));
    }
  } else if (code == "c") {
    if (text.size() != 1) throw UsageError(what + ": expected one character");
    out.push_back(static_cast<std::byte>(text[0]));
  } else if (code == "s" || code == "p") {
    const size_t room = static_cast<size_t>(code == "p" ? count - 1 : count);
    if (text.size() > room) {
      throw UsageError(what + ": longer than " + std::to_string(room) + " bytes");
    }
    if (code == "p") out.push_back(static_cast<std::byte>(text.size()));
    for (char c : text) out.push_back(static_cast<std::byte>(c));
    out.resize(static_cast<size_t>(count), std::byte{0});
    return out;  // byte strings have no byte order
  } else {
    throw UsageError("--fill does not support format '" + format_text + "'");
  }
  if (order == '>') {  // swap each scalar (each half of a complex)
    const size_t part = code[0] == 'Z' ? out.size() / 2 : out.size();
    for (size_t b = 0; b < out.size(); b += part)
      std::reverse(out.begin() + b, out.begin() + b + part);
  }
  return out;
}

std::vector<std::byte> EncodeFill(const std::string& format_text, int64_t itemsize,
                                  const std::string& text) {
  shm::Format format;
  try {
    format = shm::Format::Parse(format_text);
  } catch (const shm::FormatError& e) {
    throw UsageError(std::string("invalid --format: ") + e.what());
  }
  const std::string& c = format.canonical();
  size_t pos = 0;
  int64_t repeat = 1;
  if (c[0] == '(') {
    const size_t close = c.find(')');
    std::stringstream ss(c.substr(1, close - 1));
    std::string part;
    while (std::getline(ss, part, ',')) repeat *= std::stoll(part);
    pos = close + 1;
  }
  if (c.compare(pos, 2, "T{") == 0) {
    throw UsageError("--fill supports scalar formats only, not the struct '" + c + "'");
  }
  char order = '<';
  if (c[pos] == '<' || c[pos] == '>') order = c[pos++];
  int64_t count = 1;
  if (pos < c.size() && std::isdigit(static_cast<unsigned char>(c[pos]))) {
    size_t n = 0;
    count = std::stoll(c.substr(pos), &n);
    pos += n;
  }
  const std::vector<std::byte> one = EncodeScalar(c.substr(pos), count, order, text, format_text);
  std::vector<std::byte> item;
  for (int64_t i = 0; i < repeat; ++i) item.insert(item.end(), one.begin(), one.end());
  if (itemsize > static_cast<int64_t>(item.size())) item.resize(static_cast<size_t>(itemsize));
  return item;
}

// ---------------------------------------------------------------------------
// Output

// NumPy's name of the items of `info`, or "-" when NumPy has none.
std::string DtypeText(const ArrayInfo& info) {
  try {
    return DtypeName(info.format, info.itemsize());
  } catch (const NpyError&) {
    return "-";
  }
}

void PrintJsonLine(const JsonObject& o) { std::cout << o.str() << std::endl; }

// `expression` ("x[::2]") is printed first when not empty.
void PrintInfo(const ArrayInfo& a, bool json, const std::string& expression = "") {
  if (json) return PrintJsonLine(ArrayInfoJson(a, expression));
  auto line = [](const char* key, const std::string& value) {
    std::printf("%-16s %s\n", key, value.c_str());
  };
  if (!expression.empty()) line("expression:", expression);
  line("name:", a.name);
  line("kind:", a.kind == ArrayKind::kView ? "view" : "array");
  line("format:", a.format.canonical());
  line("dtype:", DtypeText(a));
  line("description:", a.format.description());
  line("itemsize:", std::to_string(a.itemsize()));
  line("shape:", shm::TupleString(a.shape()));
  line("strides:", shm::TupleString(a.strides()));
  line("offset:", std::to_string(a.layout.offset));
  line("order:", OrderText(a));
  line("size:", std::to_string(a.size()));
  line("nbytes:", std::to_string(a.nbytes()));
  line("readonly:", a.readonly ? "true" : "false");
  line("c_contiguous:", a.c_contiguous ? "true" : "false");
  line("f_contiguous:", a.f_contiguous ? "true" : "false");
  line("generation:", std::to_string(a.generation));
  line("base:", a.base);
  line("base_generation:", std::to_string(a.base_generation));
  line("segment_name:", a.segment_name);
  line("segment_size:", std::to_string(a.segment_size));
  line("data_offset:", std::to_string(a.data_offset));
  line("data_size:", std::to_string(a.data_size));
  line("created:",
       UtcTimeString(a.created_unix_ns) + " (" + std::to_string(a.created_unix_ns) + ")");
  std::fflush(stdout);
}

void PrintTable(const std::vector<ArrayInfo>& arrays) {
  std::vector<std::vector<std::string>> rows = {
      {"NAME", "FORMAT", "DTYPE", "SHAPE", "ORDER", "BYTES", "FLAGS"}};
  for (const ArrayInfo& a : arrays) {
    std::string flags;
    if (a.readonly) flags += "ro";
    if (a.kind == ArrayKind::kView) flags += flags.empty() ? "view" : ",view";
    rows.push_back({a.name, a.format.canonical(), DtypeText(a), shm::TupleString(a.shape()),
                    OrderText(a), std::to_string(a.nbytes()), flags.empty() ? "-" : flags});
  }
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  for (const auto& r : rows) {
    std::string out;
    for (size_t i = 0; i < r.size(); ++i) {
      out += r[i];
      if (i + 1 < r.size()) out += std::string(width[i] - r[i].size() + 2, ' ');
    }
    std::cout << out << "\n";
  }
  std::cout.flush();
}

// "\rget x: 45% 120/268 MiB" on stderr when it is a terminal; nullptr otherwise.
ProgressCallback MakeProgress(const std::string& label) {
  if (!isatty(STDERR_FILENO)) return nullptr;
  auto last = std::make_shared<int>(-1);
  return [label, last](int64_t done, int64_t total) {
    const int percent = total > 0 ? static_cast<int>(done * 100 / total) : 100;
    if (percent == *last && done != total) return;
    *last = percent;
    const bool mib = total >= (int64_t{1} << 20);
    const int64_t unit = mib ? int64_t{1} << 20 : 1;
    std::fprintf(stderr, "\r%s: %3d%% %lld/%lld %s", label.c_str(), percent,
                 static_cast<long long>(done / unit), static_cast<long long>(total / unit),
                 mib ? "MiB" : "bytes");
    if (done == total) std::fprintf(stderr, "\n");
    std::fflush(stderr);
  };
}

// ---------------------------------------------------------------------------
// Commands

struct Args {
  std::string prefix;
  std::string name;
  std::string expr;
  std::string as;
  std::string format;
  std::string dtype;
  std::string shape;
  std::string order = "C";
  std::string fill;
  int64_t itemsize = 0;
  bool cascade = false;
  bool create = false;
  std::string src;
  std::string dst;
  std::string file;
  int64_t count = 0;
};

struct Context {
  bool json = false;
  Connection conn;
  Client Connect() const { return Client::Connect(conn.options); }
};

int CmdLs(const Context& c, const Args& a) {
  Client client = c.Connect();
  const std::vector<ArrayInfo> arrays = client.list(a.prefix);
  if (c.json) {
    std::vector<JsonObject> items;
    for (const ArrayInfo& info : arrays) items.push_back(ArrayInfoJson(info));
    PrintJsonLine(JsonObject().AddObjects("arrays", items));
  } else {
    PrintTable(arrays);
  }
  return 0;
}

int CmdInfo(const Context& c, const Args& a) {
  const Target t = ParseTarget(a.name);
  Client client = c.Connect();
  if (t.has_index) {
    PrintInfo(client.slice(t.name, Index(t.index)), c.json, a.name);
  } else {
    PrintInfo(client.stat(t.name), c.json);
  }
  return 0;
}

int CmdCreate(const Context& c, const Args& a, bool fill_given) {
  const std::string name = PlainName(a.name, "create");
  if (a.format.empty() == a.dtype.empty()) {
    throw UsageError("create needs exactly one of --format (PEP 3118) and --dtype (NumPy)");
  }
  const std::string format = ResolveFormat(a.format, a.dtype);
  const std::vector<int64_t> shape = ParseShape(a.shape);
  if (a.itemsize < 0) throw UsageError("--itemsize must be positive");
  std::vector<std::byte> fill;
  // (Messages name the format as the user spelled it.)
  if (fill_given) fill = EncodeFill(a.dtype.empty() ? a.format : format, a.itemsize, a.fill);
  Client client = c.Connect();
  PrintInfo(client.create_any(name, format, shape, ParseOrder(a.order), fill, a.itemsize), c.json);
  return 0;
}

int CmdRm(const Context& c, const Args& a) {
  const std::string name = PlainName(a.name, "rm");
  Client client = c.Connect();
  std::vector<std::string> deleted;
  try {
    deleted = client.remove(name, a.cascade);
  } catch (const RpcError& e) {
    std::string message = e.what();
    if (e.code() == absl::StatusCode::kFailedPrecondition && !a.cascade &&
        message.find("named views") != std::string::npos) {
      // The daemon speaks of its request field; say it the CLI's way.
      const std::string cli = "run 'shmarray rm --cascade " + name + "'";
      const size_t at = message.find("pass cascade");
      if (at != std::string::npos) {
        message.replace(at, std::string_view("pass cascade").size(), cli);
      } else {
        message += " (" + cli + " to delete it with its views)";
      }
      throw RpcError(e.code(), message);
    }
    throw;
  }
  if (c.json) {
    PrintJsonLine(JsonObject().AddStrings("deleted", deleted));
  } else {
    for (const std::string& n : deleted) std::cout << "deleted " << n << "\n";
    std::cout.flush();
  }
  return 0;
}

int CmdSeal(const Context& c, const Args& a) {
  const std::string name = PlainName(a.name, "seal");
  Client client = c.Connect();
  PrintInfo(client.seal(name), c.json);
  return 0;
}

int CmdSlice(const Context& c, const Args& a) {
  Target t = ParseTarget(a.name);
  if (t.has_index && !a.expr.empty()) {
    throw UsageError("give the index once: 'NAME[EXPR]' or NAME EXPR, not both");
  }
  if (!t.has_index) {
    if (a.expr.empty()) {
      throw UsageError("slice needs an index: 'NAME[EXPR]' (or NAME EXPR), e.g. 'temps[::2, 1]'");
    }
    t.index = a.expr;
  }
  const std::string expression = t.name + "[" + t.index + "]";
  Client client = c.Connect();
  PrintInfo(client.slice(t.name, Index(t.index), a.as), c.json, expression);
  return 0;
}

int CmdCopy(const Context& c, const Args& a, bool order_given) {
  const Target src = ParseTarget(a.src);
  const Target dst = ParseTarget(a.dst);
  if (dst.has_index && order_given) {
    throw UsageError("--order applies to a new array, not to a copy into DST[EXPR]");
  }
  Client client = c.Connect();
  if (dst.has_index) {
    PrintInfo(client.copy_into(src.name, Index(src.index), dst.name, Index(dst.index)), c.json,
              a.dst);
  } else {
    PrintInfo(client.copy(src.name, Index(src.index), dst.name, ParseOrder(a.order)), c.json);
  }
  return 0;
}

int CmdGet(const Context& c, const Args& a) {
  const Target t = ParseTarget(a.name);
  const shm::Order order = ParseOrder(a.order);
  Client client = c.Connect();
  const shm::AnyView data =
      client.read(t.name, Index(t.index), order, MakeProgress("get " + a.name));
  WriteNpy(a.file, data, order);
  // The file's dtype, as NumPy names it (np.load(file).dtype).
  const std::string dtype = DtypeName(data.format(), data.itemsize());
  const char* order_text = order == shm::Order::kF ? "F" : "C";
  if (c.json) {
    PrintJsonLine(JsonObject()
                      .AddString("source", a.name)
                      .AddString("file", a.file)
                      .AddString("format", data.format().canonical())
                      .AddString("dtype", dtype)
                      .AddInts("shape", data.layout().shape)
                      .AddString("order", order_text)
                      .AddInt("nbytes", data.nbytes()));
  } else {
    std::cout << a.name << " -> " << a.file << ": " << dtype << " "
              << shm::TupleString(data.layout().shape) << " " << order_text << " order, "
              << data.nbytes() << " bytes" << std::endl;
  }
  return 0;
}

int CmdPut(const Context& c, const Args& a) {
  const Target t = ParseTarget(a.name);
  if (a.create && t.has_index) throw UsageError("put --create takes a NAME without an index");
  shm::AnyView data = MapNpy(a.file);
  Client client = c.Connect();
  const ProgressCallback progress = MakeProgress("put " + a.name);
  int64_t written = 0;
  ArrayInfo written_info;  // the selection written, as the Write answer describes it
  if (a.create) {
    client.create_any(t.name, data.format().canonical(), data.layout().shape,
                      data.is_c_contig() ? shm::Order::kC : shm::Order::kF, {}, data.itemsize());
    try {
      written = client.write(t.name, Index(), data, progress, &written_info);
    } catch (...) {
      try {
        client.remove(t.name);
      } catch (...) {
      }
      throw;
    }
  } else {
    // One Write RPC: the daemon checks format, shape and size before the
    // first byte lands. Only when it refuses the file's format is the target
    // looked up: a file whose dtype is the target's under another spelling
    // (e.g. '|S1' for 'c') is then written again with the target's format.
    try {
      written = client.write(t.name, Index(t.index), data, progress, &written_info);
    } catch (const RpcError& e) {
      if (e.code() != absl::StatusCode::kInvalidArgument) throw;
      const ArrayInfo target = client.slice(t.name, Index(t.index));
      if (target.format == data.format() || target.itemsize() != data.itemsize()) throw;
      std::string a_descr, b_descr;
      try {
        a_descr = FormatToDescr(target.format, target.itemsize());
        b_descr = FormatToDescr(data.format(), data.itemsize());
      } catch (const NpyError&) {
      }
      if (a_descr.empty() || a_descr != b_descr) throw;
      data = shm::AnyView(target.format, data.layout(), data.data(), true, data.base());
      written = client.write(t.name, Index(t.index), data, progress, &written_info);
    }
  }
  if (c.json) {
    PrintJsonLine(JsonObject()
                      .AddString("file", a.file)
                      .AddString("target", a.name)
                      .AddInt("bytes_written", written)
                      .AddObject("array", ArrayInfoJson(written_info, t.has_index ? a.name : "")));
  } else {
    std::cout << a.file << " -> " << a.name << ": " << written << " bytes" << std::endl;
  }
  return 0;
}

const char* EventTypeName(WatchEvent::Type t) {
  switch (t) {
    case WatchEvent::Type::kCreated:
      return "created";
    case WatchEvent::Type::kSealed:
      return "sealed";
    case WatchEvent::Type::kDeleted:
      return "deleted";
    case WatchEvent::Type::kOverflow:
      return "overflow";
  }
  return "unknown";
}

int CmdWatch(const Context& c, const Args& a) {
  if (a.count < 0) throw UsageError("--count must be >= 0");
  // SIGINT/SIGTERM are taken by a thread of our own (sigwait), so that
  // Ctrl-C ends the watch cleanly; every thread inherits the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::mutex mu;
  std::condition_variable cv;
  int64_t seen = 0;
  bool done = false;
  bool interrupted = false;
  bool ended = false;
  absl::Status end_status;

  std::thread signal_thread([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    std::lock_guard<std::mutex> lock(mu);
    interrupted = true;
    cv.notify_all();
  });
  auto stop_signal_thread = [&] {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (interrupted) {
        signal_thread.join();
        return;
      }
    }
    pthread_kill(signal_thread.native_handle(), SIGTERM);
    signal_thread.join();
  };

  std::optional<Client> client;
  WatchHandle handle;
  try {
    client.emplace(c.Connect());
    handle = client->watch(a.prefix, [&](const WatchEvent& e) {
      std::lock_guard<std::mutex> lock(mu);
      if (done) return;
      if (c.json) {
        PrintJsonLine(WatchEventJson(e));
      } else if (e.type == WatchEvent::Type::kOverflow) {
        std::cout << "overflow " << e.dropped << " events dropped" << std::endl;
      } else if (e.type == WatchEvent::Type::kDeleted) {
        std::cout << "deleted " << e.name << std::endl;
      } else {
        std::cout << EventTypeName(e.type) << " " << e.name << " " << e.info.format.canonical()
                  << " " << shm::TupleString(e.info.shape()) << std::endl;
      }
      ++seen;
      if (a.count > 0 && seen >= a.count) done = true;
      cv.notify_all();
    });
  } catch (...) {
    stop_signal_thread();
    throw;
  }
  std::thread waiter([&] {
    absl::Status s = handle.wait();
    std::lock_guard<std::mutex> lock(mu);
    ended = true;
    end_status = s;
    cv.notify_all();
  });
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return done || interrupted || ended; });
  }
  handle.cancel();
  waiter.join();
  stop_signal_thread();
  std::lock_guard<std::mutex> lock(mu);
  if (!done && !interrupted && !end_status.ok() &&
      end_status.code() != absl::StatusCode::kCancelled) {
    throw RpcError(end_status);
  }
  return 0;
}

// ---------------------------------------------------------------------------

constexpr char kEnvironmentHelp[] =
    "Environment (flags win over it):\n"
    "  SHMARRAY_TARGET           the daemon: unix:/path/to.sock or HOST:PORT\n"
    "  SHMARRAY_TOKEN_FILE       as --token-file\n"
    "  SHMARRAY_TLS_CA           as --tls-ca (TCP targets only)\n"
    "  SHMARRAY_TLS_SERVER_NAME  as --tls-server-name\n";

int Run(int argc, char** argv) {
  CLI::App app{
      "shmarray: named arrays in shared memory, served by shmarrayd.\n"
      "Arrays are addressed as NAME or NAME[EXPR], where EXPR is NumPy basic indexing,\n"
      "e.g. 'x[1:10:2, ..., None, -1]' (quote it for the shell).",
      "shmarray"};
  app.footer(
      std::string("Examples:\n"
                  "  shmarray create temps --dtype float64 --shape 480,640 --fill 21.5\n"
                  "  shmarray ls\n"
                  "  shmarray get 'temps[::2, :]' half.npy\n"
                  "  shmarray put --create from_numpy data.npy\n"
                  "  shmarray --json info temps\n"
                  "  shmarray --target 10.0.0.5:7070 --tls-ca ca.pem --token-file token ls\n") +
      kEnvironmentHelp +
      "Exit codes: 0 success, 1 error from the daemon or a file, 2 usage error.");
  app.require_subcommand(0, 1);
  app.fallthrough();
  GlobalFlags g;
  auto* socket_opt = app.add_option("--socket", g.socket,
                                    "Unix socket of the daemon (default: $SHMARRAY_TARGET, else "
                                    "$XDG_RUNTIME_DIR/shmarray/<instance>.sock)");
  auto* target_opt = app.add_option("--target", g.target,
                                    "gRPC target of the daemon: HOST:PORT (TCP) or unix:PATH");
  socket_opt->excludes(target_opt);
  app.add_option("--token-file", g.token_file,
                 "File holding the bearer token of the daemon (shmarrayd --token-file)");
  app.add_option("--tls-ca", g.tls_ca,
                 "PEM file of the CA (or the certificate itself) that signed the daemon's "
                 "--tls-cert; makes a TCP --target use TLS");
  app.add_option("--tls-server-name", g.tls_server_name,
                 "Name the daemon's certificate must carry when it differs from the target's "
                 "host (needs --tls-ca)");
  app.add_option("--instance", g.instance, "Daemon instance name (selects the default socket)");
  app.add_flag("--json", g.json,
               "Print one JSON object per result (stable schema; integers as numbers)");

  Args a;
  auto order_validator = CLI::IsMember({"C", "F", "c", "f"});

  auto* ls = app.add_subcommand("ls", "List arrays and named views, sorted by name");
  ls->add_option("prefix", a.prefix, "Only names starting with this");
  ls->footer(
      "Columns: NAME, FORMAT (canonical PEP 3118), DTYPE (NumPy's name), SHAPE,\n"
      "ORDER (C, F, C/F or - for strided), BYTES, FLAGS (ro = read-only, view = named view).\n"
      "Examples:\n  shmarray ls\n  shmarray ls sim/\n  shmarray --json ls");

  auto* info = app.add_subcommand("info", "Print every field of an array's description");
  info->add_option("NAME", a.name, "Array or named view, or NAME[EXPR] for a selection")
      ->required();
  info->footer(
      "Examples:\n  shmarray info temps\n  shmarray info 'temps[::2, 0]'\n"
      "  shmarray --json info temps");

  auto* create = app.add_subcommand("create", "Create a new array");
  create->add_option("NAME", a.name, "Name of the new array")->required();
  create->add_option("--format", a.format,
                     "PEP 3118 format, e.g. d, <i, 10s, T{d:x:d:y:} (or use --dtype)");
  create->add_option("--dtype", a.dtype,
                     "NumPy dtype instead of --format, e.g. float64, f8, <i4, c16, S5, "
                     "\"[('x','<f8'),('y','<f8')]\"");
  create->add_option("--shape", a.shape, "Extents separated by commas, e.g. 3,3,3 ('' = 0-d)")
      ->required();
  create->add_option("--order", a.order, "Memory order C (default) or F")->check(order_validator);
  auto* fill_opt = create->add_option(
      "--fill", a.fill, "Value of every item: an integer, a float, a complex (1+2j), true/false");
  create->add_option("--itemsize", a.itemsize, "Bytes per item (>= the format's size)");
  create->footer(
      "Exactly one of --format and --dtype. Both are stored as the canonical PEP 3118\n"
      "format (--dtype int64 and --format q make the same array).\n"
      "Examples:\n"
      "  shmarray create cube --format d --shape 3,3,3\n"
      "  shmarray create cube --dtype float64 --shape 3,3,3\n"
      "  shmarray create mask --format '?' --shape 100 --fill true\n"
      "  shmarray create points --dtype \"[('x','<f8'),('y','<f8')]\" --shape 1000\n"
      "  shmarray create img --format B --shape 480,640,3 --order F --fill 255");

  auto* rm = app.add_subcommand("rm", "Delete an array or named view");
  rm->add_option("NAME", a.name, "Array or named view")->required();
  rm->add_flag("--cascade", a.cascade, "Also delete the named views of the array");
  rm->footer("Examples:\n  shmarray rm temps\n  shmarray rm temps --cascade");

  auto* seal = app.add_subcommand("seal", "Make an array read-only for good");
  seal->add_option("NAME", a.name, "Array")->required();
  seal->footer("Example:\n  shmarray seal temps");

  auto* slice = app.add_subcommand("slice", "Describe NAME[EXPR], or register it as a named view");
  slice->add_option("NAME", a.name, "NAME[EXPR], or a NAME followed by EXPR")->required();
  slice->add_option("EXPR", a.expr, "NumPy index expression when NAME has none, e.g. '::2, 1'");
  slice->add_option("--as", a.as, "Register the result as a named view with this name");
  slice->footer(
      "Examples:\n  shmarray slice 'temps[::2, ::-1]'\n"
      "  shmarray slice 'temps[0, :]' --as temps/row0\n"
      "  shmarray slice temps '::2, ::-1'\n"
      "An EXPR starting with '-' needs '--' before it (shmarray slice temps -- '-1'),\n"
      "or the NAME[EXPR] form: shmarray slice 'temps[-1]'");

  auto* copy = app.add_subcommand("copy", "Copy SRC[EXPR] into a new array DST, or into DST[EXPR]");
  copy->add_option("SRC", a.src, "Source NAME or NAME[EXPR]")->required();
  copy->add_option("DST", a.dst, "New array NAME, or existing NAME[EXPR] ('NAME[...]' = whole)")
      ->required();
  auto* copy_order = copy->add_option("--order", a.order, "Order of a new array: C (default) or F")
                         ->check(order_validator);
  copy->footer(
      "Examples:\n  shmarray copy 'temps[::2, ::2]' small\n  shmarray copy temps temps_f --order "
      "F\n"
      "  shmarray copy 'a[0]' 'b[1]'      (into the existing array b)");

  auto* get = app.add_subcommand("get", "Save NAME[EXPR] to a NumPy .npy file");
  get->add_option("NAME", a.name, "NAME or NAME[EXPR]")->required();
  get->add_option("FILE", a.file, "Output .npy file (replaced if it exists)")->required();
  get->add_option("--order", a.order, "Order of the file: C (default) or F")
      ->check(order_validator);
  get->footer(
      "Prints the file's dtype as NumPy names it (the DTYPE column of ls).\n"
      "Examples:\n  shmarray get temps temps.npy\n  shmarray get 'temps[::2, 1:]' part.npy "
      "--order F\n"
      "Then in Python: np.load('temps.npy')");

  auto* put = app.add_subcommand("put", "Write a NumPy .npy file into NAME[EXPR], or create NAME");
  put->add_option("NAME", a.name,
                  "NAME or NAME[EXPR] (an existing array), or a new NAME with --create")
      ->required();
  put->add_option("FILE", a.file, "Input .npy file (np.save)")->required();
  put->add_flag("--create", a.create, "Create NAME with the file's dtype, shape and order");
  put->footer(
      "Examples:\n  shmarray put --create temps temps.npy\n  shmarray put 'temps[0, :]' row.npy\n"
      "The file's dtype must match the array's format; its shape the selection's.");

  auto* watch =
      app.add_subcommand("watch", "Print created/sealed/deleted events until interrupted");
  watch->add_option("prefix", a.prefix, "Only names starting with this");
  watch->add_option("--count", a.count, "Exit after this many events");
  watch->footer("Examples:\n  shmarray watch\n  shmarray watch sim/ --count 1");

  for (CLI::App* sub : {ls, info, create, rm, seal, slice, copy, get, put, watch}) {
    sub->fallthrough();
  }
  // Unknown arguments end up in app.remaining() and are reported below with
  // a clearer message than CLI11's (set after the subcommands: not inherited).
  app.allow_extras();

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::CallForAllHelp&) {
    std::cout << app.help("", CLI::AppFormatMode::All);
    return 0;
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {
      std::cout << app.help();
      return 0;
    }
    return PrintError(e.what(), kExitUsage);
  }
  const std::vector<std::string> extras = app.remaining();
  if (app.get_subcommands().empty()) {
    if (!extras.empty()) {
      return PrintError("unknown command '" + extras[0] + "' (see shmarray --help)", kExitUsage);
    }
    return PrintError("a command is required (see shmarray --help)", kExitUsage);
  }
  if (!extras.empty()) return PrintError("unexpected argument '" + extras[0] + "'", kExitUsage);

  Context c;
  c.json = g.json;
  try {
    c.conn = Resolve(g);
    if (*ls) return CmdLs(c, a);
    if (*info) return CmdInfo(c, a);
    if (*create) return CmdCreate(c, a, fill_opt->count() > 0);
    if (*rm) return CmdRm(c, a);
    if (*seal) return CmdSeal(c, a);
    if (*slice) return CmdSlice(c, a);
    if (*copy) return CmdCopy(c, a, copy_order->count() > 0);
    if (*get) return CmdGet(c, a);
    if (*put) return CmdPut(c, a);
    if (*watch) return CmdWatch(c, a);
    return PrintError("no command given", kExitUsage);
  } catch (const UsageError& e) {
    return PrintError(e.what(), kExitUsage);
  } catch (const RpcError& e) {
    std::string message = absl::StatusCodeToString(e.code()) + ": " + e.what();
    if (e.code() == absl::StatusCode::kUnavailable) message += " (" + UnavailableHint(c.conn) + ")";
    return PrintError(message, kExitError);
  } catch (const std::exception& e) {
    return PrintError(e.what(), kExitError);
  }
}

}  // namespace
}  // namespace shmarray::client

int main(int argc, char** argv) { return shmarray::client::Run(argc, argv); }

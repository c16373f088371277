// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: output.cc
// -----------------------------------------------------------------------------
// See output.h.

#include "output.h"

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "shmarray/client/npy.h"
#include "shmarray/shm/layout.h"

namespace shmarray::client::cli {
namespace {

// NumPy's name of the items of `info`, or "-" when NumPy has none.
std::string DtypeText(const ArrayInfo& info) {
  try {
    return DtypeName(info.format, info.itemsize());
  } catch (const NpyError&) {
    return "-";
  }
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

}  // namespace

void PrintJsonLine(const JsonObject& o) { std::cout << o.str() << std::endl; }

void PrintInfo(const ArrayInfo& a, bool json, const std::string& expression) {
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

void PrintWatchEvent(const WatchEvent& e, bool json) {
  if (json) {
    PrintJsonLine(WatchEventJson(e));
  } else if (e.type == WatchEvent::Type::kOverflow) {
    std::cout << "overflow " << e.dropped << " events dropped" << std::endl;
  } else if (e.type == WatchEvent::Type::kDeleted) {
    std::cout << "deleted " << e.name << std::endl;
  } else {
    std::cout << EventTypeName(e.type) << " " << e.name << " " << e.info.format.canonical() << " "
              << shm::TupleString(e.info.shape()) << std::endl;
  }
}

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

}  // namespace shmarray::client::cli

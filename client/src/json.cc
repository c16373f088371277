// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: json.cc
// -----------------------------------------------------------------------------
// See json.h.

#include "shmarray/client/json.h"

#include <cstdint>
#include <cstdio>
#include <ctime>

#include "shmarray/client/npy.h"
#include "utf8.h"

namespace shmarray::client {
namespace {

void AppendEscape(unsigned value, std::string* out) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "\\u%04x", value);
  out->append(buf);
}

}  // namespace

std::string JsonQuote(std::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    const char c = s[i];
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x80) {
      uint32_t cp;
      const size_t len = internal::DecodeUtf8Char(s.substr(i), &cp);
      if (len == 0) {
        AppendEscape(u, &out);  // the Latin-1 character of the byte
        ++i;
      } else {
        out.append(s.substr(i, len));
        i += len;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (u < 0x20 || u == 0x7f) {
          AppendEscape(u, &out);
        } else {
          out.push_back(c);
        }
    }
    ++i;
  }
  return out + "\"";
}

JsonObject& JsonObject::AddRaw(std::string_view key, std::string_view json) {
  if (!body_.empty()) body_.push_back(',');
  body_ += JsonQuote(key);
  body_.push_back(':');
  body_.append(json);
  return *this;
}

JsonObject& JsonObject::AddString(std::string_view key, std::string_view value) {
  return AddRaw(key, JsonQuote(value));
}

JsonObject& JsonObject::AddStringOrNull(std::string_view key, std::string_view value) {
  return value.empty() ? AddNull(key) : AddString(key, value);
}

JsonObject& JsonObject::AddInt(std::string_view key, int64_t value) {
  return AddRaw(key, std::to_string(value));
}

JsonObject& JsonObject::AddUint(std::string_view key, uint64_t value) {
  return AddRaw(key, std::to_string(value));
}

JsonObject& JsonObject::AddBool(std::string_view key, bool value) {
  return AddRaw(key, value ? "true" : "false");
}

JsonObject& JsonObject::AddNull(std::string_view key) { return AddRaw(key, "null"); }

JsonObject& JsonObject::AddInts(std::string_view key, std::span<const int64_t> values) {
  std::string json = "[";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) json.push_back(',');
    json += std::to_string(values[i]);
  }
  return AddRaw(key, json + "]");
}

JsonObject& JsonObject::AddStrings(std::string_view key, const std::vector<std::string>& values) {
  std::string json = "[";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) json.push_back(',');
    json += JsonQuote(values[i]);
  }
  return AddRaw(key, json + "]");
}

JsonObject& JsonObject::AddObject(std::string_view key, const JsonObject& value) {
  return AddRaw(key, value.str());
}

JsonObject& JsonObject::AddObjects(std::string_view key, const std::vector<JsonObject>& values) {
  std::string json = "[";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) json.push_back(',');
    json += values[i].str();
  }
  return AddRaw(key, json + "]");
}

std::string OrderText(const ArrayInfo& info) {
  if (info.c_contiguous && info.f_contiguous) return "C/F";
  if (info.c_contiguous) return "C";
  if (info.f_contiguous) return "F";
  return "-";
}

std::string UtcTimeString(int64_t unix_ns) {
  int64_t secs = unix_ns / 1000000000;
  int64_t frac = unix_ns % 1000000000;
  if (frac < 0) {
    frac += 1000000000;
    --secs;
  }
  const auto t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char tail[16];
  std::snprintf(tail, sizeof tail, ".%09lldZ", static_cast<long long>(frac));
  return std::string(buf) + tail;
}

JsonObject ArrayInfoJson(const ArrayInfo& info, std::string_view expression) {
  JsonObject o;
  if (!expression.empty()) o.AddString("expression", expression);
  o.AddString("name", info.name);
  o.AddString("kind", info.kind == ArrayKind::kView ? "view" : "array");
  o.AddString("format", info.format.canonical());
  std::string dtype;
  try {
    dtype = DtypeName(info.format, info.itemsize());
  } catch (const NpyError&) {
  }
  o.AddStringOrNull("dtype", dtype);
  o.AddString("description", info.format.description());
  o.AddInt("itemsize", info.itemsize());
  o.AddInts("shape", info.shape());
  o.AddInts("strides", info.strides());
  o.AddInt("offset", info.layout.offset);
  o.AddString("order", OrderText(info));
  o.AddInt("size", info.size());
  o.AddInt("nbytes", info.nbytes());
  o.AddBool("readonly", info.readonly);
  o.AddBool("c_contiguous", info.c_contiguous);
  o.AddBool("f_contiguous", info.f_contiguous);
  o.AddUint("generation", info.generation);
  const bool view = info.kind == ArrayKind::kView;
  if (view) {
    o.AddString("base", info.base);
    o.AddUint("base_generation", info.base_generation);
  } else {
    o.AddNull("base");
    o.AddNull("base_generation");
  }
  o.AddString("segment_name", info.segment_name);
  o.AddInt("segment_size", info.segment_size);
  o.AddInt("data_offset", info.data_offset);
  o.AddInt("data_size", info.data_size);
  o.AddString("created", UtcTimeString(info.created_unix_ns));
  o.AddInt("created_unix_ns", info.created_unix_ns);
  return o;
}

JsonObject WatchEventJson(const WatchEvent& event) {
  JsonObject o;
  switch (event.type) {
    case WatchEvent::Type::kCreated:
      o.AddString("event", "created");
      break;
    case WatchEvent::Type::kSealed:
      o.AddString("event", "sealed");
      break;
    case WatchEvent::Type::kDeleted:
      o.AddString("event", "deleted");
      break;
    case WatchEvent::Type::kOverflow:
      o.AddString("event", "overflow");
      break;
  }
  o.AddStringOrNull("name", event.name);
  o.AddString("time", UtcTimeString(event.unix_ns));
  o.AddInt("unix_ns", event.unix_ns);
  o.AddInt("dropped", event.dropped);
  if (event.type == WatchEvent::Type::kOverflow) {
    o.AddNull("array");
  } else {
    o.AddObject("array", ArrayInfoJson(event.info));
  }
  return o;
}

}  // namespace shmarray::client

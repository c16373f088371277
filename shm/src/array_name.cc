// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0

#include "shmarray/shm/array_name.h"

#include <cstdio>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "shmarray/shm/errors.h"

namespace shmarray::shm {
namespace {

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-' || c == '/';
}

}  // namespace

absl::StatusOr<ArrayName> ArrayName::Create(std::string_view text) {
  absl::Status status = Validate(text);
  if (!status.ok()) return status;
  return ArrayName(std::string(text));
}

absl::Status ArrayName::Validate(std::string_view text) {
  if (text.empty()) return absl::InvalidArgumentError("invalid name '': a name may not be empty");
  if (text.size() > kMaxNameLength) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid name: ", text.size(), " characters; at most ", kMaxNameLength, " are allowed"));
  }
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (IsNameChar(c)) continue;
    const auto u = static_cast<unsigned char>(c);
    std::string shown(1, c);
    if (u < 0x20 || u >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", u);
      shown = buf;
    }
    return absl::InvalidArgumentError(
        absl::StrCat("invalid name ", Quoted(text), ": character '", shown, "' at position ", i,
                     " is not allowed (use letters, digits, '.', '_', '-' and '/')"));
  }
  if (text.front() == '/' || text.back() == '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid name ", Quoted(text), ": it may not start or end with '/'"));
  }
  for (size_t start = 0; start <= text.size();) {
    size_t end = text.find('/', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view component = text.substr(start, end - start);
    if (component.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid name ", Quoted(text), ": empty component ('//')"));
    }
    if (component == "." || component == "..") {
      return absl::InvalidArgumentError(absl::StrCat("invalid name ", Quoted(text), ": component ",
                                                     Quoted(component), " is not allowed"));
    }
    start = end + 1;
  }
  return absl::OkStatus();
}

bool ArrayName::IsValid(std::string_view text) { return Validate(text).ok(); }

}  // namespace shmarray::shm

// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: instance_test.cc
// -----------------------------------------------------------------------------
// Tests for shm/instance: instance names and the default socket path that the
// daemon binds and every client dials.

#include "shmarray/shm/instance.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

namespace shmarray::shm {
namespace {

// Sets XDG_RUNTIME_DIR for one test and restores it afterwards.
class XdgRuntimeDir {
 public:
  explicit XdgRuntimeDir(const char* value) {
    const char* old = std::getenv("XDG_RUNTIME_DIR");
    had_ = old != nullptr;
    if (had_) saved_ = old;
    if (value == nullptr) {
      ::unsetenv("XDG_RUNTIME_DIR");
    } else {
      ::setenv("XDG_RUNTIME_DIR", value, 1);
    }
  }
  ~XdgRuntimeDir() {
    if (had_) {
      ::setenv("XDG_RUNTIME_DIR", saved_.c_str(), 1);
    } else {
      ::unsetenv("XDG_RUNTIME_DIR");
    }
  }

 private:
  bool had_ = false;
  std::string saved_;
};

TEST(InstanceTest, ValidNames) {
  EXPECT_TRUE(IsValidInstance("default"));
  EXPECT_TRUE(IsValidInstance("a_B-9"));
  EXPECT_TRUE(IsValidInstance(std::string(64, 'x')));
  EXPECT_FALSE(IsValidInstance(""));
  EXPECT_FALSE(IsValidInstance(std::string(65, 'x')));
  EXPECT_FALSE(IsValidInstance("a/b"));
  EXPECT_FALSE(IsValidInstance("a.b"));
  EXPECT_FALSE(IsValidInstance("a b"));
  EXPECT_TRUE(ValidateInstance("ok").ok());
  const absl::Status s = ValidateInstance("a\nb");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "invalid instance name 'a\\x0ab': expected 1-64 characters of [A-Za-z0-9_-]");
}

TEST(DefaultSocketPathTest, UnderXdgRuntimeDir) {
  XdgRuntimeDir env("/tmp/xdg");
  EXPECT_EQ(*DefaultSocketPath(), "/tmp/xdg/shmarray/default.sock");
  EXPECT_EQ(*DefaultSocketPath("blue"), "/tmp/xdg/shmarray/blue.sock");
}

TEST(DefaultSocketPathTest, UnderRunWithoutXdgRuntimeDirForEveryUser) {
  {
    XdgRuntimeDir env(nullptr);
    EXPECT_EQ(*DefaultSocketPath(""), "/run/shmarray/default.sock");
    EXPECT_EQ(*DefaultSocketPath("blue"), "/run/shmarray/blue.sock");
  }
  XdgRuntimeDir empty("");
  EXPECT_EQ(*DefaultSocketPath("blue"), "/run/shmarray/blue.sock");
}

TEST(DefaultSocketPathTest, BadInstanceIsInvalidArgument) {
  XdgRuntimeDir env("/tmp/xdg");
  EXPECT_EQ(DefaultSocketPath("../etc").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DefaultSocketPath(std::string(65, 'a')).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace shmarray::shm

// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: commands.h
// -----------------------------------------------------------------------------
// The subcommands of the `shmarray` CLI, one function each: catalog commands
// (ls, info, create, rm, seal, slice, copy), NumPy .npy transfers (get, put)
// and event watching (watch). main.cc parses the command line into Args and
// calls the function of the subcommand given.
//
// Each returns the exit code (0) or throws: UsageError (exit code 2),
// RpcError from the daemon or CliError and other exceptions (exit code 1).
// Private to the CLI (not installed).

#ifndef SHMARRAY_CLIENT_CLI_COMMANDS_H_
#define SHMARRAY_CLIENT_CLI_COMMANDS_H_

#include <cstdint>
#include <string>

#include "options.h"
#include "shmarray/client/client.h"

namespace shmarray::client::cli {

// The positional arguments and options of every subcommand, as given (one
// subcommand runs, so they share one struct).
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

// What every command needs besides its arguments.
struct Context {
  bool json = false;
  Connection conn;
  Client Connect() const { return Client::Connect(conn.options); }
};

int CmdLs(const Context& c, const Args& a);
int CmdInfo(const Context& c, const Args& a);
// `fill_given`: --fill was passed (its value may be empty).
int CmdCreate(const Context& c, const Args& a, bool fill_given);
int CmdRm(const Context& c, const Args& a);
int CmdSeal(const Context& c, const Args& a);
int CmdSlice(const Context& c, const Args& a);
// `order_given`: --order was passed (it cannot apply to a copy into DST[EXPR]).
int CmdCopy(const Context& c, const Args& a, bool order_given);
int CmdGet(const Context& c, const Args& a);
int CmdPut(const Context& c, const Args& a);
// Until --count events, an interruption (SIGINT, SIGTERM) or the end of the
// stream.
int CmdWatch(const Context& c, const Args& a);

}  // namespace shmarray::client::cli

#endif  // SHMARRAY_CLIENT_CLI_COMMANDS_H_

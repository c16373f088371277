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
//
// The parts: options.h (the global flags, the environment, the connection),
// commands.h (one function per subcommand), parse.h and fill.h (arguments
// from text), output.h (text and JSON), common.h (errors, exit codes). This
// file declares the command line (CLI11) and maps a failure to its exit code.

#include <CLI/CLI.hpp>
#include <algorithm>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "commands.h"
#include "common.h"
#include "options.h"
#include "shmarray/client/client.h"

namespace shmarray::client::cli {
namespace {

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
  AddGlobalFlags(&app, &g);

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
}  // namespace shmarray::client::cli

int main(int argc, char** argv) { return shmarray::client::cli::Run(argc, argv); }

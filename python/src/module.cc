// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: module.cc
// -----------------------------------------------------------------------------
// shmarray._shmarray: the extension module under the Python package. It binds
// the C++ client (shmarray::client::Client) as `_Client`, the watch stream as
// `_Watch`, shmarray.Mapping (mapping.cc) and a few helpers. The package's
// Python layer (shmarray/_client.py) turns NumPy dtypes into formats and
// Mappings into ndarrays; this file moves bytes and maps memory.
//
// Every call that talks to the daemon releases the GIL. Errors from the C++
// library become the package's exception classes (shmarray/_errors.py) at
// one place, TranslateException.

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "mapping_internal.h"
#include "shmarray/client/client.h"
#include "shmarray/shm/errors.h"
#include "shmarray/shm/format.h"
#include "shmarray/shm/layout.h"

namespace shmarray::python {
namespace py = pybind11;
using client::ArrayInfo;
using client::Client;

namespace {

// Raises the package's exception for a status code (shmarray._errors.
// _from_status builds the instance of the right class).
[[noreturn]] void RaiseStatus(int code, const std::string& message, const char* kind = "") {
  py::object errors = py::module_::import("shmarray._errors");
  py::object error = errors.attr("_from_status")(code, message, kind);
  PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(error.ptr())), error.ptr());
  throw py::error_already_set();
}

// The one conversion of C++ exceptions into Python ones.
void TranslateException(std::exception_ptr p) {
  try {
    if (p) std::rethrow_exception(p);
  } catch (const client::SegmentUnreachableError& e) {
    RaiseStatus(static_cast<int>(e.code()), e.what(), "unreachable");
  } catch (const client::RpcError& e) {
    RaiseStatus(static_cast<int>(e.code()), e.what());
  } catch (const shm::ReadOnlyError& e) {
    RaiseStatus(static_cast<int>(absl::StatusCode::kFailedPrecondition), e.what(), "readonly");
  } catch (const std::out_of_range& e) {
    RaiseStatus(static_cast<int>(absl::StatusCode::kOutOfRange), e.what());
  } catch (const std::invalid_argument& e) {
    RaiseStatus(static_cast<int>(absl::StatusCode::kInvalidArgument), e.what());
  }
}

shm::Order ParseOrder(const std::string& order) {
  if (order == "C" || order == "c") return shm::Order::kC;
  if (order == "F" || order == "f") return shm::Order::kF;
  throw std::invalid_argument("order must be 'C' or 'F', not '" + order + "'");
}

// The wire description as a dict of Python values (the Python layer wraps
// it in shmarray.ArrayInfo).
py::dict InfoToDict(const ArrayInfo& info) {
  py::dict d;
  d["name"] = info.name;
  d["format"] = info.format.canonical();
  d["itemsize"] = info.itemsize();
  d["shape"] = py::tuple(py::cast(info.shape()));
  d["strides"] = py::tuple(py::cast(info.strides()));
  d["offset"] = info.layout.offset;
  d["readonly"] = info.readonly;
  d["c_contiguous"] = info.c_contiguous;
  d["f_contiguous"] = info.f_contiguous;
  d["generation"] = info.generation;
  d["kind"] = info.kind == client::ArrayKind::kView ? "view" : "array";
  d["base"] = info.base;
  d["base_generation"] = info.base_generation;
  d["segment"] = info.segment_name;
  d["segment_size"] = info.segment_size;
  d["data_offset"] = info.data_offset;
  d["data_size"] = info.data_size;
  d["created_unix_ns"] = info.created_unix_ns;
  return d;
}

// An index from Python: None = the whole array, else NumPy subscript text.
client::Index ToIndex(const std::optional<std::string>& text) {
  return text ? client::Index(*text) : client::Index();
}

// A C++ Client shared by the calls in flight, so that close() from one
// thread never pulls the client from under a call running (without the GIL)
// in another.
class PyClient {
 public:
  PyClient(const std::string& target, const std::string& instance, const std::string& token,
           const std::string& tls_root_cert_pem, double timeout_s, int streams, bool tune_malloc,
           bool local_reads, bool reuse_read_buffers) {
    client::ClientOptions options;
    options.target = target;
    options.instance = instance;
    options.token = token;
    options.tls_root_cert_pem = tls_root_cert_pem;
    if (!(timeout_s >= 0)) throw std::invalid_argument("timeout must be >= 0 seconds");
    options.timeout_ms = static_cast<int64_t>(timeout_s * 1000.0 + 0.5);
    options.streams = streams;
    options.tune_malloc = tune_malloc;
    options.local_reads = local_reads;
    options.reuse_read_buffers = reuse_read_buffers;
    client_ = std::make_shared<Client>(Client::Connect(options));
  }

  // REQUIRES: the GIL is held (close() and get() race only under it).
  std::shared_ptr<Client> get() const {
    if (!client_) {
      RaiseStatus(static_cast<int>(absl::StatusCode::kFailedPrecondition), "the client is closed",
                  "closed");
    }
    return client_;
  }
  void close() { client_.reset(); }
  bool closed() const { return client_ == nullptr; }

 private:
  std::shared_ptr<Client> client_;
};

// Wraps a mapped or owned AnyView in a Python shmarray.Mapping.
py::object MakeMapping(shm::AnyView view, std::string name, uint64_t generation,
                       std::string segment) {
  return py::cast(
      std::make_unique<Mapping>(std::move(view), std::move(name), generation, std::move(segment)));
}

// A running Watch: the C++ callback queues events; next() waits for one.
class PyWatch {
 public:
  explicit PyWatch(std::shared_ptr<Client> client, const std::string& prefix)
      : state_(std::make_shared<State>()) {
    std::shared_ptr<State> state = state_;
    handle_ = client->watch(prefix, [state](const client::WatchEvent& event) {
      std::lock_guard<std::mutex> lock(state->mu);
      state->events.push_back(event);
      state->cv.notify_all();
    });
  }
  ~PyWatch() {
    py::gil_scoped_release release;
    handle_.cancel();
  }

  // The next event as a dict; None after `timeout_s` (< 0 = no limit) with
  // none; raises StopIteration once the stream has ended cleanly (closed by
  // close() or the server), or the stream's error.
  py::object Next(double timeout_s) {
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                              std::chrono::duration<double>(timeout_s < 0 ? 1e9 : timeout_s));
    for (;;) {
      std::optional<client::WatchEvent> event;
      bool ended = false;
      {
        py::gil_scoped_release release;
        std::unique_lock<std::mutex> lock(state_->mu);
        // Wake every 100 ms to let Python handle signals (Ctrl-C).
        const auto slice =
            std::min(deadline, std::chrono::steady_clock::now() + std::chrono::milliseconds(100));
        state_->cv.wait_until(lock, slice,
                              [this] { return !state_->events.empty() || !handle_.active(); });
        if (!state_->events.empty()) {
          event = std::move(state_->events.front());
          state_->events.pop_front();
        } else if (!handle_.active()) {
          ended = true;
        }
      }
      if (event) return EventToDict(*event);
      if (ended) {
        {
          py::gil_scoped_release release;
          handle_.wait();  // throws RpcError (translated below) for an error
        }
        throw py::stop_iteration();
      }
      if (PyErr_CheckSignals() != 0) throw py::error_already_set();
      if (std::chrono::steady_clock::now() >= deadline) return py::none();
    }
  }

  void Close() {
    py::gil_scoped_release release;
    handle_.cancel();
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->cv.notify_all();
  }

 private:
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<client::WatchEvent> events;
  };

  static py::dict EventToDict(const client::WatchEvent& event) {
    py::dict d;
    switch (event.type) {
      case client::WatchEvent::Type::kCreated:
        d["type"] = "created";
        break;
      case client::WatchEvent::Type::kSealed:
        d["type"] = "sealed";
        break;
      case client::WatchEvent::Type::kDeleted:
        d["type"] = "deleted";
        break;
      case client::WatchEvent::Type::kOverflow:
        d["type"] = "overflow";
        break;
    }
    d["name"] = event.name;
    d["info"] = event.info.name.empty() ? py::object(py::none()) : InfoToDict(event.info);
    d["unix_ns"] = event.unix_ns;
    d["dropped"] = event.dropped;
    return d;
  }

  std::shared_ptr<State> state_;
  client::WatchHandle handle_;
};

// Writes the buffer `data` (any strided buffer; the caller checked its dtype
// against the target's) into name[index] with `format` as the items' format.
// A view of the memory `raw` describes (PyBUF_RECORDS* request), with
// `format`. It does not own the memory: it must not outlive `raw`.
shm::AnyView BufferView(const Py_buffer& raw, const shm::Format& format, bool readonly) {
  shm::Layout layout;
  layout.itemsize = raw.itemsize;
  layout.shape.assign(raw.shape, raw.shape + raw.ndim);
  layout.strides.assign(raw.strides, raw.strides + raw.ndim);
  // The lowest address any item touches becomes the data region's start.
  int64_t low = 0;
  bool empty = false;
  for (int i = 0; i < raw.ndim; ++i) {
    if (raw.shape[i] == 0) empty = true;
    if (raw.strides[i] < 0 && raw.shape[i] > 0) low += (raw.shape[i] - 1) * raw.strides[i];
  }
  layout.offset = empty ? 0 : -low;
  std::byte* base = static_cast<std::byte*>(raw.buf) + (empty ? 0 : low);
  return shm::AnyView(format, std::move(layout), base, readonly, nullptr);
}

int64_t Write(const std::shared_ptr<Client>& client, const std::string& name,
              const std::optional<std::string>& index, const py::buffer& data,
              const std::string& format) {
  Py_buffer raw;
  if (PyObject_GetBuffer(data.ptr(), &raw, PyBUF_RECORDS_RO) != 0) throw py::error_already_set();
  std::unique_ptr<Py_buffer, void (*)(Py_buffer*)> buffer_guard(&raw, PyBuffer_Release);
  const shm::AnyView view = BufferView(raw, shm::Format::Parse(format), /*readonly=*/true);
  py::gil_scoped_release release;
  return client->write(name, ToIndex(index), view);
}

// Streams name[index] into `out`, a writable buffer (its own format).
int64_t ReadInto(const std::shared_ptr<Client>& client, const std::string& name,
                 const std::optional<std::string>& index, const py::buffer& out) {
  Py_buffer raw;
  if (PyObject_GetBuffer(out.ptr(), &raw, PyBUF_RECORDS) != 0) throw py::error_already_set();
  std::unique_ptr<Py_buffer, void (*)(Py_buffer*)> buffer_guard(&raw, PyBuffer_Release);
  const shm::AnyView view = BufferView(
      raw, shm::Format::Parse(raw.format != nullptr ? raw.format : "B"), /*readonly=*/false);
  py::gil_scoped_release release;
  return client->read_into(name, ToIndex(index), view);
}

}  // namespace

PYBIND11_MODULE(_shmarray, m) {
  m.doc() = "The C++ core of the shmarray package (use `import shmarray`).";
  py::register_exception_translator(&TranslateException);
  RegisterMapping(m);

  m.def(
      "canonical_format",
      [](const std::string& text) {
        const shm::Format format = shm::Format::Parse(text);
        return py::make_tuple(format.canonical(), format.itemsize());
      },
      py::arg("format"),
      "(canonical, itemsize) of a PEP 3118 format; InvalidArgumentError if it is not one.");
  m.def(
      "format_probe",
      [](const std::string& format) {
        return MakeMapping(shm::AnyView::Allocate(shm::Format::Parse(format), {0}, shm::Order::kC),
                           "", 0, "");
      },
      py::arg("format"),
      "An empty Mapping of `format`, shape (0,): numpy.asarray() of it reveals the dtype "
      "NumPy reads from the format.");
  m.def("as_ndarray", &AsNdarray, py::arg("mapping"), py::arg("dtype"),
        "An ndarray of `dtype` over a Mapping's memory, with the Mapping as its base.");

  py::class_<PyClient>(m, "_Client")
      .def(py::init<const std::string&, const std::string&, const std::string&, const std::string&,
                    double, int, bool, bool, bool>(),
           py::arg("target"), py::arg("instance"), py::arg("token"), py::arg("tls_root_cert_pem"),
           py::arg("timeout_s"), py::arg("streams"), py::arg("tune_malloc"), py::arg("local_reads"),
           py::arg("reuse_read_buffers"))
      .def_property_readonly("target", [](const PyClient& self) { return self.get()->target(); })
      .def_property_readonly("closed", &PyClient::closed)
      .def("close", &PyClient::close)
      .def("create",
           [](const PyClient& self, const std::string& name, const std::string& format,
              const std::vector<int64_t>& shape, const std::string& order,
              const std::optional<py::bytes>& fill, int64_t itemsize) {
             std::shared_ptr<Client> c = self.get();
             std::string fill_bytes = fill ? std::string(*fill) : std::string();
             const shm::Order o = ParseOrder(order);
             ArrayInfo info;
             {
               py::gil_scoped_release release;
               info = c->create_any(name, format, shape, o,
                                    std::as_bytes(std::span<const char>(fill_bytes)), itemsize);
             }
             return InfoToDict(info);
           })
      .def("attach",
           [](const PyClient& self, const std::string& name, bool readonly) {
             std::shared_ptr<Client> c = self.get();
             shm::AnyView view;
             ArrayInfo info;
             {
               py::gil_scoped_release release;
               view = c->attach_any(name, readonly, &info);
             }
             return MakeMapping(
                 std::move(view), info.name,
                 info.kind == client::ArrayKind::kView ? info.base_generation : info.generation,
                 info.segment_name);
           })
      .def("stat",
           [](const PyClient& self, const std::string& name) {
             std::shared_ptr<Client> c = self.get();
             ArrayInfo info;
             {
               py::gil_scoped_release release;
               info = c->stat(name);
             }
             return InfoToDict(info);
           })
      .def("list",
           [](const PyClient& self, const std::string& prefix) {
             std::shared_ptr<Client> c = self.get();
             std::vector<ArrayInfo> infos;
             {
               py::gil_scoped_release release;
               infos = c->list(prefix);
             }
             py::list out;
             for (const ArrayInfo& info : infos) out.append(InfoToDict(info));
             return out;
           })
      .def("remove",
           [](const PyClient& self, const std::string& name, bool cascade) {
             std::shared_ptr<Client> c = self.get();
             py::gil_scoped_release release;
             return c->remove(name, cascade);
           })
      .def("seal",
           [](const PyClient& self, const std::string& name) {
             std::shared_ptr<Client> c = self.get();
             ArrayInfo info;
             {
               py::gil_scoped_release release;
               info = c->seal(name);
             }
             return InfoToDict(info);
           })
      .def("slice",
           [](const PyClient& self, const std::string& name,
              const std::optional<std::string>& index, const std::string& new_name) {
             std::shared_ptr<Client> c = self.get();
             ArrayInfo info;
             {
               py::gil_scoped_release release;
               info = c->slice(name, ToIndex(index), new_name);
             }
             return InfoToDict(info);
           })
      .def("copy",
           [](const PyClient& self, const std::string& source,
              const std::optional<std::string>& source_index, const std::string& new_name,
              const std::string& order) {
             std::shared_ptr<Client> c = self.get();
             const shm::Order o = ParseOrder(order);
             ArrayInfo info;
             {
               py::gil_scoped_release release;
               info = c->copy(source, ToIndex(source_index), new_name, o);
             }
             return InfoToDict(info);
           })
      .def("copy_into",
           [](const PyClient& self, const std::string& source,
              const std::optional<std::string>& source_index, const std::string& destination,
              const std::optional<std::string>& dest_index) {
             std::shared_ptr<Client> c = self.get();
             ArrayInfo info;
             {
               py::gil_scoped_release release;
               info = c->copy_into(source, ToIndex(source_index), destination, ToIndex(dest_index));
             }
             return InfoToDict(info);
           })
      .def("read",
           [](const PyClient& self, const std::string& name,
              const std::optional<std::string>& index, const std::string& order) {
             std::shared_ptr<Client> c = self.get();
             const shm::Order o = ParseOrder(order);
             shm::AnyView view;
             {
               py::gil_scoped_release release;
               view = c->read(name, ToIndex(index), o);
             }
             return MakeMapping(std::move(view), name, 0, "");
           })
      .def("write",
           [](const PyClient& self, const std::string& name,
              const std::optional<std::string>& index, const py::buffer& data,
              const std::string& format) { return Write(self.get(), name, index, data, format); })
      .def(
          "read_into",
          [](const PyClient& self, const std::string& name, const std::optional<std::string>& index,
             const py::buffer& out) { return ReadInto(self.get(), name, index, out); })
      .def("watch", [](const PyClient& self, const std::string& prefix) {
        std::shared_ptr<Client> c = self.get();
        // Waits for the daemon to register the watch: without the GIL.
        py::gil_scoped_release release;
        return std::make_unique<PyWatch>(c, prefix);
      });

  py::class_<PyWatch>(m, "_Watch")
      .def("next", &PyWatch::Next, py::arg("timeout_s"))
      .def("close", &PyWatch::Close);
}

}  // namespace shmarray::python

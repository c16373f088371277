// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: mapping.cc
// -----------------------------------------------------------------------------
// shmarray.Mapping and its buffer-protocol slot (see mapping_internal.h).

#include <pybind11/stl.h>

#include <algorithm>
#include <bit>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "mapping_internal.h"
#include "shmarray/shm/layout.h"

namespace shmarray::python {
namespace py = pybind11;

namespace {

// The format a buffer request receives: the canonical one, except that a
// little-endian long double ("<g", "<Zg") is spelled "^g" / "^Zg" (native
// order and size, no alignment) on a little-endian host, since PEP 3118
// gives long double no standard size and NumPy, Cython and struct refuse
// "<g". Field names (between colons) are copied as they are.
std::string ExportFormat(const std::string& canonical) {
  if constexpr (std::endian::native != std::endian::little) return canonical;
  std::string out;
  out.reserve(canonical.size());
  for (size_t i = 0; i < canonical.size(); ++i) {
    const char c = canonical[i];
    if (c == ':') {
      const size_t end = std::min(canonical.find(':', i + 1), canonical.size() - 1);
      out.append(canonical, i, end - i + 1);
      i = end;
    } else if (c == '<' &&
               (canonical.compare(i + 1, 1, "g") == 0 || canonical.compare(i + 1, 2, "Zg") == 0)) {
      out.push_back('^');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::vector<Py_ssize_t> CanonicalStrides(const shm::Layout& layout, shm::Order order) {
  const shm::Layout contiguous = shm::Layout::Contiguous(layout.itemsize, layout.shape, order);
  return {contiguous.strides.begin(), contiguous.strides.end()};
}

// The bf_getbuffer slot of shmarray.Mapping.
int MappingGetBuffer(PyObject* self, Py_buffer* buffer, int flags) {
  if (buffer == nullptr) {
    PyErr_SetString(PyExc_BufferError, "NULL view in getbuffer");
    return -1;
  }
  buffer->obj = nullptr;
  const Mapping* mapping = nullptr;
  try {
    mapping = py::handle(self).cast<const Mapping*>();
  } catch (const py::cast_error&) {
    PyErr_SetString(PyExc_BufferError, "not a shmarray.Mapping");
    return -1;
  }
  return mapping->GetBuffer(self, buffer, flags);
}

}  // namespace

Mapping::Mapping(shm::AnyView view, std::string name, uint64_t generation, std::string segment)
    : view_(std::move(view)),
      name_(std::move(name)),
      generation_(generation),
      segment_(std::move(segment)),
      export_format_(ExportFormat(view_.format().canonical())) {
  const shm::Layout& layout = view_.layout();
  shape_.assign(layout.shape.begin(), layout.shape.end());
  strides_.assign(layout.strides.begin(), layout.strides.end());
  c_strides_ = CanonicalStrides(layout, shm::Order::kC);
  f_strides_ = CanonicalStrides(layout, shm::Order::kF);
}

int Mapping::GetBuffer(PyObject* self, Py_buffer* buffer, int flags) const {
  const bool c_contig = view_.is_c_contig();
  const bool f_contig = view_.is_f_contig();
  if ((flags & PyBUF_WRITABLE) == PyBUF_WRITABLE && view_.readonly()) {
    // NumPy's exception and words, which a Cython memoryview passes on.
    PyErr_SetString(PyExc_ValueError, "buffer source array is read-only");
    return -1;
  }
  const Py_ssize_t* strides = nullptr;
  if ((flags & PyBUF_C_CONTIGUOUS) == PyBUF_C_CONTIGUOUS) {
    if (!c_contig) {
      PyErr_SetString(PyExc_BufferError, "buffer is not C-contiguous");
      return -1;
    }
    strides = c_strides_.data();
  } else if ((flags & PyBUF_F_CONTIGUOUS) == PyBUF_F_CONTIGUOUS) {
    if (!f_contig) {
      PyErr_SetString(PyExc_BufferError, "buffer is not Fortran contiguous");
      return -1;
    }
    strides = f_strides_.data();
  } else if ((flags & PyBUF_ANY_CONTIGUOUS) == PyBUF_ANY_CONTIGUOUS) {
    if (!c_contig && !f_contig) {
      PyErr_SetString(PyExc_BufferError, "buffer is not contiguous");
      return -1;
    }
    strides = c_contig ? c_strides_.data() : f_strides_.data();
  } else if ((flags & PyBUF_STRIDES) != PyBUF_STRIDES) {
    // Without strides the consumer assumes C order.
    if (!c_contig) {
      PyErr_SetString(PyExc_BufferError, "buffer is not C-contiguous");
      return -1;
    }
  } else {
    strides = c_contig ? c_strides_.data() : f_contig ? f_strides_.data() : strides_.data();
  }

  buffer->buf = view_.first();
  buffer->obj = self;
  Py_INCREF(self);
  buffer->len = static_cast<Py_ssize_t>(view_.nbytes());
  buffer->readonly = view_.readonly() ? 1 : 0;
  buffer->itemsize = static_cast<Py_ssize_t>(view_.itemsize());
  buffer->format =
      (flags & PyBUF_FORMAT) == PyBUF_FORMAT ? const_cast<char*>(export_format_.c_str()) : nullptr;
  buffer->ndim = view_.ndim();
  buffer->shape = (flags & PyBUF_ND) == PyBUF_ND ? const_cast<Py_ssize_t*>(shape_.data()) : nullptr;
  buffer->strides =
      (flags & PyBUF_STRIDES) == PyBUF_STRIDES ? const_cast<Py_ssize_t*>(strides) : nullptr;
  buffer->suboffsets = nullptr;
  buffer->internal = nullptr;
  return 0;
}

void RegisterMapping(py::module_& m) {
  py::class_<Mapping> cls(m, "Mapping", py::buffer_protocol(), R"doc(
The memory of one array: a mapping of its shared-memory segment (from
Client.attach_buffer / Client.attach) or the private buffer of Client.read.

A Mapping exports its memory through the buffer protocol (PEP 3118) with the
array's canonical format, shape, byte strides and read-only flag, so
memoryview(m), numpy.asarray(m) and a Cython typed memoryview
(``cdef int[:, ::1] v = m``) bind to it without a copy. The memory stays
valid while the Mapping, or anything that holds a buffer of it (a
memoryview, an ndarray), is alive: after the Client is closed, after the
array is deleted and after the daemon stops. Mappings are made by the
Client, not constructed directly.

A writable buffer request on read-only memory (a sealed array) raises
ValueError "buffer source array is read-only"; a C- or Fortran-contiguous
request on memory not laid out so raises BufferError.
)doc");
  cls.attr("__module__") = "shmarray";
  cls.def_property_readonly("name", &Mapping::name, "The array's name.")
      .def_property_readonly("generation", &Mapping::generation,
                             "The generation (incarnation) of the array that was mapped.")
      .def_property_readonly("segment", &Mapping::segment,
                             "The shared-memory segment mapped ('' for private memory).")
      .def_property_readonly(
          "format", [](const Mapping& self) { return self.view().format().canonical(); },
          "The canonical PEP 3118 format of one item.")
      .def_property_readonly(
          "itemsize", [](const Mapping& self) { return self.view().itemsize(); }, "Bytes per item.")
      .def_property_readonly(
          "ndim", [](const Mapping& self) { return self.view().ndim(); }, "Number of axes.")
      .def_property_readonly(
          "shape",
          [](const Mapping& self) { return py::tuple(py::cast(self.view().layout().shape)); },
          "Items per axis.")
      .def_property_readonly(
          "strides",
          [](const Mapping& self) { return py::tuple(py::cast(self.view().layout().strides)); },
          "Bytes per step on each axis (may be negative or zero).")
      .def_property_readonly(
          "nbytes", [](const Mapping& self) { return self.view().nbytes(); },
          "Bytes of the items (size * itemsize).")
      .def_property_readonly(
          "readonly", [](const Mapping& self) { return self.view().readonly(); },
          "True when the memory may not be written (a sealed array, or a read-only attach).")
      .def_property_readonly(
          "c_contiguous", [](const Mapping& self) { return self.view().is_c_contig(); },
          "NumPy's C_CONTIGUOUS flag.")
      .def_property_readonly(
          "f_contiguous", [](const Mapping& self) { return self.view().is_f_contig(); },
          "NumPy's F_CONTIGUOUS flag.")
      .def_property_readonly(
          "address",
          [](const Mapping& self) { return reinterpret_cast<uintptr_t>(self.view().first()); },
          "The address of item [0, ..., 0] in this process.")
      .def("__repr__", [](const Mapping& self) {
        std::string shape = py::str(py::tuple(py::cast(self.view().layout().shape)));
        return "<shmarray.Mapping '" + self.name() + "' format='" +
               self.view().format().canonical() + "' shape=" + shape +
               (self.view().readonly() ? " readonly" : "") + ">";
      });
  // pybind11's buffer slot serves py::buffer_info; ours serves the request
  // flags as PEP 3118 asks (contiguity, writability) and allocates nothing.
  auto* type = reinterpret_cast<PyHeapTypeObject*>(cls.ptr());
  type->as_buffer.bf_getbuffer = MappingGetBuffer;
  type->as_buffer.bf_releasebuffer = nullptr;
}

py::array AsNdarray(py::handle mapping, const py::dtype& dtype) {
  const Mapping& m = mapping.cast<const Mapping&>();
  const shm::Layout& layout = m.view().layout();
  std::vector<py::ssize_t> shape(layout.shape.begin(), layout.shape.end());
  std::vector<py::ssize_t> strides(layout.strides.begin(), layout.strides.end());
  py::array array(dtype, std::move(shape), std::move(strides), m.view().first(), mapping);
  if (m.view().readonly()) array.attr("setflags")(py::arg("write") = false);
  return array;
}

}  // namespace shmarray::python

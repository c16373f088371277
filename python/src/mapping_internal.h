// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: mapping_internal.h
// -----------------------------------------------------------------------------
// shmarray.Mapping: the Python object that owns the memory of an array (a
// mapping of a shared-memory segment, or the private buffer of a read()) and
// exports it through the buffer protocol (PEP 3118) with the array's
// canonical format, shape, byte strides and read-only flag. NumPy arrays made
// by the package have a Mapping as their `.base`; memoryview(), numpy.asarray()
// and Cython typed memoryviews bind to it without a copy. The memory lives as
// long as the Mapping or any buffer exported from it.
//
// The exported format is the canonical one, except that little-endian long
// doubles ("<g", "<Zg") are exported as "^g" / "^Zg": PEP 3118 defines no
// standard size for them, and NumPy, Cython and struct read only the native
// spelling.
//
// Buffer requests are honoured as NumPy honours them: a writable request on
// read-only memory raises ValueError "buffer source array is read-only"; a
// C-, Fortran- or any-contiguous request (or a request without strides) on
// memory that is not laid out so raises BufferError "buffer is not
// C-contiguous" / "buffer is not Fortran contiguous" / "buffer is not
// contiguous"; contiguous memory is exported with canonical strides (extent-1
// axes normalised), as NumPy does.
//
// Thread-safety: a Mapping is immutable after construction; the memory it
// owns is shared and not synchronised (as with NumPy arrays in shared memory).

#ifndef SHMARRAY_PYTHON_MAPPING_INTERNAL_H_
#define SHMARRAY_PYTHON_MAPPING_INTERNAL_H_

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <vector>

#include "shmarray/shm/any_view.h"

namespace shmarray::python {

class Mapping {
 public:
  // `view` must own its memory (a non-empty base) unless it is empty.
  Mapping(shm::AnyView view, std::string name, uint64_t generation, std::string segment);

  const shm::AnyView& view() const { return view_; }
  const std::string& name() const { return name_; }
  uint64_t generation() const { return generation_; }
  // The shared-memory segment mapped ("" for private memory).
  const std::string& segment() const { return segment_; }

  // Fills `buffer` for a PEP 3118 request with `flags`; on failure sets a
  // Python exception and returns -1. `self` is the Python object of this
  // Mapping (the buffer's owner). REQUIRES: the GIL is held.
  int GetBuffer(PyObject* self, Py_buffer* buffer, int flags) const;

 private:
  shm::AnyView view_;
  std::string name_;
  uint64_t generation_;
  std::string segment_;
  std::string export_format_;  // the format buffer requests receive
  std::vector<Py_ssize_t> shape_;
  std::vector<Py_ssize_t> strides_;    // as laid out
  std::vector<Py_ssize_t> c_strides_;  // canonical C strides (exported when C-contiguous)
  std::vector<Py_ssize_t> f_strides_;  // canonical Fortran strides
};

// Registers shmarray.Mapping (the class, its properties and its buffer slot)
// in `m`.
void RegisterMapping(pybind11::module_& m);

// A numpy.ndarray of `dtype` over the memory of `mapping` (a Mapping object),
// with the mapping's shape and strides and `mapping` as its base; read-only
// when the mapping is. REQUIRES: dtype.itemsize <= the mapping's itemsize.
pybind11::array AsNdarray(pybind11::handle mapping, const pybind11::dtype& dtype);

}  // namespace shmarray::python

#endif  // SHMARRAY_PYTHON_MAPPING_INTERNAL_H_

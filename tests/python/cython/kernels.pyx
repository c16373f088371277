# cython: language_level=3, boundscheck=True, wraparound=True
# Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
#
# Typed memoryviews over shmarray arrays, compiled by the test with cython3.
# Each function binds its argument the way user code does (`cdef T[...] v =
# obj`), so the exporter (shmarray.Mapping) meets Cython's real buffer
# requests and checks.

ctypedef packed struct Rec:
    unsigned char tag
    int value

ctypedef struct Point:
    double x
    double y


# The Cython guide's quickstart example.
cpdef int sum3d(int[:, :, :] arr) nogil:
    cdef size_t i, j, k, I, J, K
    cdef int total = 0
    I = arr.shape[0]
    J = arr.shape[1]
    K = arr.shape[2]
    for i in range(I):
        for j in range(J):
            for k in range(K):
                total += arr[i, j, k]
    return total


def fill_int2d_c(obj, int value):
    cdef int[:, ::1] v = obj
    v[...] = value
    return (v.shape[0], v.shape[1], v.strides[0], v.strides[1])


def sum_int2d(obj):
    cdef int[:, :] v = obj
    cdef long total = 0
    cdef Py_ssize_t i, j
    for i in range(v.shape[0]):
        for j in range(v.shape[1]):
            total += v[i, j]
    return total


def sum_int1d(obj):
    cdef int[:] v = obj
    cdef long total = 0
    cdef Py_ssize_t i
    for i in range(v.shape[0]):
        total += v[i]
    return total


def sum_long1d(obj):
    cdef long[:] v = obj
    cdef long total = 0
    cdef Py_ssize_t i
    for i in range(v.shape[0]):
        total += v[i]
    return total


def sum_const_double(obj):
    cdef const double[:] v = obj
    cdef double total = 0
    cdef Py_ssize_t i
    for i in range(v.shape[0]):
        total += v[i]
    return total


def set_double(obj, Py_ssize_t i, double value):
    cdef double[:] v = obj
    v[i] = value


def records(obj):
    cdef Rec[:] v = obj
    cdef Py_ssize_t i
    out = []
    for i in range(v.shape[0]):
        out.append((v[i].tag, v[i].value))
        v[i].value = v[i].value * 10
    return out


def points_norm2(obj):
    cdef Point[::1] v = obj
    cdef double total = 0
    cdef Py_ssize_t i
    for i in range(v.shape[0]):
        total += v[i].x * v[i].x + v[i].y * v[i].y
    return total

// Copyright 2026 The shmarray Authors. SPDX-License-Identifier: Apache-2.0
//
// File: layout_test.cc
// -----------------------------------------------------------------------------
// Tests for shm/layout: contiguous layouts, NumPy's contiguity flags, byte
// extents and bounds checks (with overflow), transposition, and slice() with
// every rule and message of docs/views.md. tests/shm/index_differential_test.py
// compares slice() with NumPy on random cases.

#include "shmarray/shm/layout.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "shmarray/shm/errors.h"
#include "shmarray/shm/index.h"

namespace shmarray::shm {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

using Shape = std::vector<int64_t>;

Layout Make(int64_t itemsize, Shape shape, Shape strides, int64_t offset = 0) {
  Layout l;
  l.itemsize = itemsize;
  l.shape = std::move(shape);
  l.strides = std::move(strides);
  l.offset = offset;
  return l;
}

Slice S(std::optional<int64_t> start, std::optional<int64_t> stop, std::optional<int64_t> step) {
  return Slice{start, stop, step};
}

Layout C(int64_t itemsize, Shape shape) { return Layout::Contiguous(itemsize, shape, Order::kC); }

// The message of the exception of type E that `f` throws, or a note that it
// threw nothing (or something else, which fails the test by propagating).
template <typename E, typename F>
std::string MessageOf(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "no error";
}

std::string SliceError(const Layout& l, std::string_view index) {
  try {
    l.slice(ParseIndex(index));
  } catch (const IndexError& e) {
    return std::string("IndexError: ") + e.what();
  } catch (const IndexExprError& e) {
    return std::string("IndexExprError: ") + e.what();
  } catch (const ShapeError& e) {
    return std::string("ShapeError: ") + e.what();
  }
  return "no error";
}

// --- Contiguous / ContiguousStrides -----------------------------------------

TEST(LayoutContiguousTest, COrder) {
  const Layout a = C(8, {4, 6});
  EXPECT_EQ(a.strides, (Shape{48, 8}));
  EXPECT_EQ(a.offset, 0);
  EXPECT_EQ(a.ndim(), 2);
  EXPECT_EQ(a.size(), 24);
  EXPECT_EQ(a.nbytes(), 192);
  EXPECT_TRUE(a.is_c_contig());
  EXPECT_FALSE(a.is_f_contig());
}

TEST(LayoutContiguousTest, FOrderAndOffset) {
  const Shape shape = {2, 3, 4};
  const Layout a = Layout::Contiguous(4, shape, Order::kF, 4096);
  EXPECT_EQ(a.strides, (Shape{4, 8, 24}));
  EXPECT_EQ(a.offset, 4096);
  EXPECT_TRUE(a.is_f_contig());
  EXPECT_FALSE(a.is_c_contig());
}

TEST(LayoutContiguousTest, ZeroDimensional) {
  const Layout a = C(16, {});
  EXPECT_EQ(a.ndim(), 0);
  EXPECT_EQ(a.size(), 1);
  EXPECT_EQ(a.nbytes(), 16);
  EXPECT_TRUE(a.is_c_contig());
  EXPECT_TRUE(a.is_f_contig());
}

TEST(LayoutContiguousTest, ZeroExtentCountsAsOneInStrides) {
  const Shape shape = {2, 0, 3};
  EXPECT_EQ(ContiguousStrides(8, shape, Order::kC), (Shape{24, 24, 8}));
  EXPECT_EQ(ContiguousStrides(8, shape, Order::kF), (Shape{8, 16, 16}));
  const Layout a = C(8, shape);
  EXPECT_EQ(a.size(), 0);
  EXPECT_EQ(a.nbytes(), 0);
}

TEST(LayoutContiguousTest, Errors) {
  EXPECT_EQ(MessageOf<ShapeError>([] {
              C(8, {2, -3});
            }),
            "negative dimensions are not allowed (axis 1 has extent -3)");
  EXPECT_EQ(MessageOf<ShapeError>([] { C(0, {2}); }), "itemsize must be positive, got 0");
  EXPECT_EQ(MessageOf<ShapeError>([] { C(-8, {2}); }), "itemsize must be positive, got -8");
  EXPECT_EQ(MessageOf<ShapeError>([] { C(1, Shape(33, 1)); }),
            "maximum supported dimension for an array is 32, found 33");
  EXPECT_NO_THROW(C(1, Shape(32, 1)));
  EXPECT_EQ(MessageOf<ShapeError>([] {
              C(8, {int64_t{1} << 31, int64_t{1} << 31});
            }),
            "array is too big: shape (2147483648, 2147483648) with itemsize 8 overflows int64");
  // The strides themselves overflow even though the array is empty.
  EXPECT_EQ(MessageOf<ShapeError>([] {
              C(8, {0, int64_t{1} << 40, int64_t{1} << 40});
            }),
            "array is too big: the strides of shape (0, 1099511627776, 1099511627776) with "
            "itemsize 8 overflow int64");
  EXPECT_THROW(Layout::Contiguous(8, Shape{4}, Order::kC, kMax - 16), ShapeError);
}

// --- Contiguity flags (NumPy's relaxed rules) -------------------------------

TEST(LayoutFlagsTest, ExtentOneAxesAreIgnored) {
  // Strict (Cython) rules say only C; NumPy says both.
  EXPECT_TRUE(Make(4, {3, 1}, {4, 4}).is_c_contig());
  EXPECT_TRUE(Make(4, {3, 1}, {4, 4}).is_f_contig());
  EXPECT_TRUE(Make(8, {1, 4}, {1000, 8}).is_c_contig());
  EXPECT_TRUE(Make(8, {1, 1, 1}, {7, -3, 0}).is_c_contig());
  EXPECT_TRUE(Make(8, {1, 1, 1}, {7, -3, 0}).is_f_contig());
}

TEST(LayoutFlagsTest, EmptyIsBoth) {
  const Layout e = Make(8, {3, 0, 5}, {-100, 7, 3});
  EXPECT_TRUE(e.is_c_contig());
  EXPECT_TRUE(e.is_f_contig());
}

TEST(LayoutFlagsTest, StridedNegativeAndBroadcastAreNeither) {
  for (const Layout& l : {Make(8, {4}, {16}), Make(8, {4}, {-8}), Make(8, {4}, {0}),
                          Make(8, {2, 3}, {8, 16}).T().T(), Make(8, {2, 3}, {32, 8})}) {
    EXPECT_FALSE(l.is_c_contig()) << l.DebugString();
  }
  EXPECT_TRUE(Make(8, {2, 3}, {8, 16}).is_f_contig());
  EXPECT_TRUE(Make(8, {4}, {8}).is_f_contig());
  EXPECT_TRUE(Make(8, {4}, {8}).is_c_contig());
}

TEST(LayoutFlagsTest, MalformedOrOverflowingIsNotContiguous) {
  EXPECT_FALSE(Make(8, {4}, {}).is_c_contig());
  EXPECT_FALSE(Make(8, {kMax / 4, 8}, {8, 8}).is_f_contig());
}

// IsContiguous is the one test behind both Layout flags (and View's and the
// copy planner's): the free function and the members agree on every case.
TEST(IsContiguousTest, AgreesWithTheLayoutFlags) {
  const std::vector<Layout> cases = {
      C(8, {4, 6}),
      Layout::Contiguous(8, {4, 6}, Order::kF),
      Make(4, {3, 1}, {4, 4}),
      Make(8, {1, 1, 1}, {7, -3, 0}),
      Make(8, {2, 0, 3}, {1, 2, 3}),
      Make(8, {2, 3}, {8, 16}),
      Make(8, {2, 3}, {-24, 8}),
      Make(8, {2, 3}, {0, 8}),
      Make(2, {}, {}),
      Make(8, {kMax / 4, 8}, {8, 8}),
      Make(8, {4}, {}),
      Make(8, {4}, {8}),
  };
  for (const Layout& l : cases) {
    EXPECT_EQ(IsContiguous(l.itemsize, l.shape, l.strides, Order::kC), l.is_c_contig())
        << l.DebugString();
    EXPECT_EQ(IsContiguous(l.itemsize, l.shape, l.strides, Order::kF), l.is_f_contig())
        << l.DebugString();
  }
}

TEST(IsContiguousTest, OverflowingProductIsNotContiguous) {
  // The running product 8 * 2^61 overflows before the outer axis is checked.
  const Shape shape = {2, int64_t{1} << 61};
  EXPECT_FALSE(IsContiguous(8, shape, Shape{0, 8}, Order::kC));
  EXPECT_FALSE(IsContiguous(8, Shape{4}, Shape{}, Order::kC));
  EXPECT_TRUE(IsContiguous(8, Shape{2, 0}, Shape{99, 1}, Order::kF));
}

TEST(TupleStringTest, PythonStyleAndCompactSeparator) {
  EXPECT_EQ(TupleString(Shape{2, 3}), "(2, 3)");
  EXPECT_EQ(TupleString(Shape{5}), "(5,)");
  EXPECT_EQ(TupleString(Shape{}), "()");
  EXPECT_EQ(TupleString(Shape{4, -6}, ","), "(4,-6)");
  EXPECT_EQ(TupleString(Shape{4}, ","), "(4,)");
}

// --- ByteExtent and CheckWithin ----------------------------------------------

TEST(LayoutExtentTest, PositiveNegativeAndEmpty) {
  const Layout a = C(8, {4, 6});
  EXPECT_EQ(a.ByteExtent().lo, 0);
  EXPECT_EQ(a.ByteExtent().hi, 192);
  const Layout r = Make(8, {2, 6}, {96, -8}, 40);
  EXPECT_EQ(r.ByteExtent().lo, 0);
  EXPECT_EQ(r.ByteExtent().hi, 144);
  const Layout e = Make(8, {2, 0}, {96, -8}, 40);
  EXPECT_EQ(e.ByteExtent().lo, 40);
  EXPECT_EQ(e.ByteExtent().hi, 40);
  const Layout z = Make(4, {}, {}, 12);
  EXPECT_EQ(z.ByteExtent().lo, 12);
  EXPECT_EQ(z.ByteExtent().hi, 16);
}

TEST(LayoutCheckWithinTest, InsideAndExactFit) {
  EXPECT_NO_THROW(C(8, {4, 6}).CheckWithin(192));
  EXPECT_NO_THROW(Make(8, {2, 6}, {96, -8}, 40).CheckWithin(144));
  EXPECT_NO_THROW(Make(8, {5}, {0}, 0).CheckWithin(8));  // broadcast
  EXPECT_NO_THROW(Make(8, {0}, {8}, 192).CheckWithin(192));
}

TEST(LayoutCheckWithinTest, OutsideNamesTheBytes) {
  EXPECT_EQ(MessageOf<ShapeError>([] {
              C(8, {4, 6}).CheckWithin(191);
            }),
            "layout reaches byte 192 but the buffer has 191 bytes");
  EXPECT_EQ(MessageOf<ShapeError>([] {
              Make(8, {3, 5}, {40, 8}, 0).CheckWithin(96);
            }),
            "layout reaches byte 120 but the buffer has 96 bytes");
  EXPECT_EQ(MessageOf<ShapeError>([] { Make(8, {4}, {-8}, 16).CheckWithin(96); }),
            "layout reaches byte -8 before the start of the buffer");
  EXPECT_EQ(MessageOf<ShapeError>([] { Make(8, {0}, {8}, 200).CheckWithin(192); }),
            "empty layout has offset 200 outside a buffer of 192 bytes");
  EXPECT_EQ(MessageOf<ShapeError>([] { Make(8, {0}, {8}, -1).CheckWithin(192); }),
            "empty layout has offset -1 outside a buffer of 192 bytes");
  EXPECT_EQ(MessageOf<ShapeError>([] { C(8, {2}).CheckWithin(-1); }),
            "buffer size must not be negative, got -1");
}

TEST(LayoutCheckWithinTest, MalformedLayouts) {
  EXPECT_EQ(MessageOf<ShapeError>([] { Make(0, {2}, {8}).CheckWithin(100); }),
            "itemsize must be positive, got 0");
  EXPECT_EQ(MessageOf<ShapeError>([] {
              Make(8, {2, 3}, {8}).CheckWithin(100);
            }),
            "layout has 2 extents but 1 strides");
  EXPECT_EQ(MessageOf<ShapeError>([] {
              Make(8, {2, -1}, {8, 8}).CheckWithin(100);
            }),
            "negative dimensions are not allowed (axis 1 has extent -1)");
  EXPECT_EQ(MessageOf<ShapeError>([] { Make(8, Shape(33, 1), Shape(33, 8)).CheckWithin(100); }),
            "maximum supported dimension for an array is 32, found 33");
}

TEST(LayoutSizeTest, ByteSizeOverflowIsAnErrorNotWrapAround) {
  // A broadcast (zero strides) of 2^61 items of 8 bytes: the byte extent is
  // one item but the byte size, 2^64, does not fit int64.
  const Layout l = Make(8, {int64_t{1} << 31, int64_t{1} << 30}, {0, 0});
  EXPECT_EQ(l.size(), int64_t{1} << 61);
  EXPECT_EQ(MessageOf<ShapeError>([&] { (void)l.nbytes(); }),
            "the byte size overflows int64 for layout itemsize=8 shape=(2147483648, 1073741824) "
            "strides=(0, 0) offset=0");
  EXPECT_EQ(Make(8, {int64_t{1} << 30, int64_t{1} << 29}, {0, 0}).nbytes(), int64_t{1} << 62);
}

TEST(LayoutCheckWithinTest, OverflowIsAnErrorNotWrapAround) {
  // stride * (extent - 1) overflows.
  EXPECT_EQ(MessageOf<ShapeError>([] { Make(8, {4}, {kMax / 2}).CheckWithin(kMax); }),
            "the byte extent overflows int64 for layout itemsize=8 shape=(4,) "
            "strides=(4611686018427387903,) offset=0");
  // The sum of two in-range spans overflows.
  EXPECT_THROW(Make(1, {2, 2}, {kMax / 2 + 1, kMax / 2 + 1}).CheckWithin(kMax), ShapeError);
  // Negative spans past INT64_MIN.
  EXPECT_THROW(Make(1, {3}, {-(kMax / 2) - 2}, 0).CheckWithin(kMax), ShapeError);
  // offset + itemsize overflows.
  EXPECT_THROW(Make(16, {}, {}, kMax - 8).CheckWithin(kMax), ShapeError);
  // A wrapped computation would land inside the buffer; the check must not.
  EXPECT_THROW(Make(8, {3}, {int64_t{1} << 62}, 0).CheckWithin(1 << 20), ShapeError);
}

// --- T / permute / DebugString ----------------------------------------------

TEST(LayoutPermuteTest, T) {
  const Layout t = Make(8, {2, 3, 4}, {96, 32, 8}, 16).T();
  EXPECT_EQ(t, Make(8, {4, 3, 2}, {8, 32, 96}, 16));
  EXPECT_TRUE(t.is_f_contig());
  EXPECT_EQ(C(8, {}).T(), C(8, {}));
}

TEST(LayoutPermuteTest, Permute) {
  const Layout a = Make(8, {2, 3, 4}, {96, 32, 8}, 16);
  const int axes[] = {1, 2, 0};
  EXPECT_EQ(a.permute(axes), Make(8, {3, 4, 2}, {32, 8, 96}, 16));
  const int identity[] = {0, 1, 2};
  EXPECT_EQ(a.permute(identity), a);
}

TEST(LayoutPermuteTest, NonPermutationsAreShapeErrors) {
  const Layout a = C(8, {2, 3});
  EXPECT_EQ(MessageOf<ShapeError>([&] {
              a.permute(std::vector<int>{0, 0});
            }),
            "axes (0, 0) don't match array: not a permutation of the 2 axes");
  EXPECT_EQ(MessageOf<ShapeError>([&] { a.permute(std::vector<int>{0}); }),
            "axes (0,) don't match array: not a permutation of the 2 axes");
  EXPECT_THROW(a.permute(std::vector<int>{0, 2}), ShapeError);
  EXPECT_THROW(a.permute(std::vector<int>{-1, 0}), ShapeError);
  EXPECT_THROW(a.permute(std::vector<int>{0, 1, 2}), ShapeError);
}

TEST(LayoutDebugStringTest, PythonTupleStyle) {
  EXPECT_EQ(C(8, {2, 3}).DebugString(), "itemsize=8 shape=(2, 3) strides=(24, 8) offset=0");
  EXPECT_EQ(Make(4, {5}, {-4}, 16).DebugString(), "itemsize=4 shape=(5,) strides=(-4,) offset=16");
  EXPECT_EQ(C(2, {}).DebugString(), "itemsize=2 shape=() strides=() offset=0");
}

// --- slice: the rules --------------------------------------------------------

TEST(LayoutSliceTest, HeaderExample) {
  const Layout a = Layout::Contiguous(8, {4, 6}, Order::kC);
  EXPECT_EQ(a.strides, (Shape{48, 8}));
  const Layout b = a.slice(ParseIndex("::2, ::-1"));
  EXPECT_EQ(b, Make(8, {2, 6}, {96, -8}, 40));
  EXPECT_NO_THROW(b.CheckWithin(a.nbytes()));
}

TEST(LayoutContiguousTest, BracedListOverloads) {
  EXPECT_EQ(Layout::Contiguous(4, {}, Order::kF), C(4, {}));
  EXPECT_EQ(Layout::Contiguous(4, {2, 3}, Order::kF, 8), Make(4, {2, 3}, {4, 8}, 8));
  EXPECT_EQ(ContiguousStrides(2, {3, 4, 5}, Order::kC), (Shape{40, 10, 2}));
  EXPECT_EQ(C(8, {2, 3}).permute({1, 0}), C(8, {2, 3}).T());
}

TEST(LayoutSliceTest, IntegersWrapNegativeAndDropTheAxis) {
  const Layout a = C(8, {4, 6});
  EXPECT_EQ(a.slice({int64_t{1}}), Make(8, {6}, {8}, 48));
  EXPECT_EQ(a.slice({int64_t{-1}}), Make(8, {6}, {8}, 144));
  EXPECT_EQ(a.slice({int64_t{-4}, int64_t{-6}}), Make(8, {}, {}, 0));
  EXPECT_EQ(a.slice({int64_t{3}, int64_t{5}}), Make(8, {}, {}, 184));
}

TEST(LayoutSliceTest, OutOfRangeIntegerIsIndexErrorNamingTheAxis) {
  const Layout a = C(8, {4, 6});
  EXPECT_EQ(SliceError(a, "4"), "IndexError: Index out of bounds (axis 0)");
  EXPECT_EQ(SliceError(a, "-5"), "IndexError: Index out of bounds (axis 0)");
  EXPECT_EQ(SliceError(a, "0, 6"), "IndexError: Index out of bounds (axis 1)");
  EXPECT_EQ(SliceError(a, "None, ..., -7"), "IndexError: Index out of bounds (axis 1)");
  EXPECT_EQ(SliceError(a, "-9223372036854775808"), "IndexError: Index out of bounds (axis 0)");
  EXPECT_EQ(SliceError(a, "9223372036854775807"), "IndexError: Index out of bounds (axis 0)");
  EXPECT_EQ(SliceError(C(8, {0}), "0"), "IndexError: Index out of bounds (axis 0)");
  EXPECT_THROW(a.slice({int64_t{4}}), std::out_of_range);
}

TEST(LayoutSliceTest, Slices) {
  const Layout a = C(4, {10});
  EXPECT_EQ(a.slice({S(2, 8, 3)}), Make(4, {2}, {12}, 8));
  EXPECT_EQ(a.slice({S(std::nullopt, std::nullopt, -1)}), Make(4, {10}, {-4}, 36));
  EXPECT_EQ(a.slice({S(-3, std::nullopt, std::nullopt)}), Make(4, {3}, {4}, 28));
  EXPECT_EQ(a.slice({S(-100, 100, std::nullopt)}), a);
  EXPECT_EQ(a.slice({S(100, -100, -4)}), Make(4, {3}, {-16}, 36));
}

TEST(LayoutSliceTest, EmptySliceKeepsStrideAndOffset) {
  // As NumPy: an empty slice does not move the data pointer, keeps the stride.
  const Layout a = Make(4, {10}, {-8}, 72);
  EXPECT_EQ(a.slice({S(5, 5, std::nullopt)}), Make(4, {0}, {-8}, 72));
  EXPECT_EQ(a.slice({S(8, 2, 3)}), Make(4, {0}, {-8}, 72));
}

TEST(LayoutSliceTest, CythonDivergentSlicesFollowPython) {
  const Layout a = C(8, {4});
  EXPECT_EQ(a.slice(ParseIndex("1:0:2")).shape, Shape{0});
  EXPECT_EQ(a.slice(ParseIndex("5:4:2")).shape, Shape{0});
  EXPECT_EQ(a.slice(ParseIndex("-7::-1")).shape, Shape{0});
  EXPECT_EQ(a.slice(ParseIndex(":-7:-1")), Make(8, {4}, {-8}, 24));
  EXPECT_EQ(a.slice(ParseIndex("4:-6:-1")), Make(8, {4}, {-8}, 24));
}

TEST(LayoutSliceTest, HugeStepSelectsOneItemAndKeepsTheAxisStride) {
  const Layout a = C(8, {5});
  // 8 * 2^62 overflows; the single item's stride is never used, so the
  // axis keeps its own (NumPy's value would be wrapped garbage).
  EXPECT_EQ(a.slice(ParseIndex("::4611686018427387904")), Make(8, {1}, {8}, 0));
  EXPECT_EQ(a.slice(ParseIndex("::-9223372036854775808")), Make(8, {1}, {8}, 32));
  EXPECT_EQ(a.slice(ParseIndex("::1000")), Make(8, {1}, {8000}, 0));
}

TEST(LayoutSliceTest, ZeroStepNamesTheAxis) {
  const Layout a = C(8, {4, 6});
  EXPECT_EQ(SliceError(a, "::0"), "IndexExprError: Step may not be zero (axis 0)");
  EXPECT_EQ(SliceError(a, "None, 1, 2:3:0"), "IndexExprError: Step may not be zero (axis 1)");
  EXPECT_EQ(SliceError(a, "..., ::0"), "IndexExprError: Step may not be zero (axis 1)");
}

TEST(LayoutSliceTest, EllipsisExpandsToTheMissingAxes) {
  const Layout a = C(1, {2, 3, 4, 5});
  EXPECT_EQ(a.slice(ParseIndex("...")), a);
  EXPECT_EQ(a.slice(ParseIndex("1, ..., 2")), Make(1, {3, 4}, {20, 5}, 62));
  EXPECT_EQ(a.slice(ParseIndex("..., 1")), Make(1, {2, 3, 4}, {60, 20, 5}, 1));
  EXPECT_EQ(a.slice(ParseIndex("0, 0, ..., 0, 0")), Make(1, {}, {}, 0));
  EXPECT_EQ(C(8, {}).slice(ParseIndex("...")), C(8, {}));
}

TEST(LayoutSliceTest, SecondEllipsisIsAnError) {
  const Layout a = C(8, {4, 6});
  EXPECT_EQ(SliceError(a, "..., ..."),
            "IndexExprError: an index can only have a single ellipsis ('...')");
  // Checked before the number of indices, as NumPy does.
  EXPECT_EQ(SliceError(a, "1, 2, 3, ..., ..."),
            "IndexExprError: an index can only have a single ellipsis ('...')");
}

TEST(LayoutSliceTest, NewAxisInsertsExtentOneStrideZero) {
  const Layout a = C(8, {4, 6});
  EXPECT_EQ(a.slice(ParseIndex("None")), Make(8, {1, 4, 6}, {0, 48, 8}));
  EXPECT_EQ(a.slice(ParseIndex(":, None, 2, np.newaxis")), Make(8, {4, 1, 1}, {48, 0, 0}, 16));
  EXPECT_EQ(C(8, {}).slice(ParseIndex("None, None")), Make(8, {1, 1}, {0, 0}));
}

TEST(LayoutSliceTest, MissingTrailingIndicesAreFullSlices) {
  const Layout a = Make(2, {3, 4, 5}, {-40, 10, 2}, 80);
  EXPECT_EQ(a.slice({}), a);
  EXPECT_EQ(a.slice({int64_t{1}}), Make(2, {4, 5}, {10, 2}, 40));
  EXPECT_EQ(a.slice({all}), a);
}

TEST(LayoutSliceTest, TooManyIndices) {
  const Layout a = C(8, {4, 6});
  EXPECT_EQ(SliceError(a, "1, 2, 3"),
            "IndexExprError: too many indices for array: array is 2-dimensional, but 3 were "
            "indexed");
  // None and ... are not indices; checked before bounds, as NumPy does.
  EXPECT_EQ(SliceError(a, "None, 9, :, :, ..."),
            "IndexExprError: too many indices for array: array is 2-dimensional, but 3 were "
            "indexed");
  EXPECT_EQ(SliceError(C(8, {}), "0"),
            "IndexExprError: too many indices for array: array is 0-dimensional, but 1 were "
            "indexed");
}

TEST(LayoutSliceTest, ErrorsComeInNumPysOrder) {
  const Layout a = C(8, {4, 6});
  EXPECT_EQ(SliceError(a, "9, ::0"), "IndexError: Index out of bounds (axis 0)");
  EXPECT_EQ(SliceError(a, "::0, 9"), "IndexExprError: Step may not be zero (axis 0)");
}

TEST(LayoutSliceTest, ResultOverKMaxDimsIsShapeError) {
  const IndexExpr nones(kMaxDims + 1, newaxis);
  EXPECT_EQ(SliceError(C(8, {}), FormatIndex(nones)),
            "ShapeError: the result of indexing has more than 32 dimensions");
  const IndexExpr just_enough(kMaxDims, newaxis);
  EXPECT_EQ(C(8, {}).slice(just_enough).ndim(), kMaxDims);
}

TEST(LayoutSliceTest, OffsetOverflowIsShapeError) {
  const Layout huge = Make(8, {4}, {int64_t{1} << 62});
  EXPECT_EQ(huge.slice({int64_t{1}}).offset, int64_t{1} << 62);
  EXPECT_EQ(SliceError(huge, "3"),
            "ShapeError: the byte offset of the index on axis 0 overflows int64 for layout "
            "itemsize=8 shape=(4,) strides=(4611686018427387904,) offset=0");
  EXPECT_THROW(Make(8, {4}, {1}, kMax).slice({int64_t{1}}), ShapeError);
  // stride * step overflows with more than one item selected.
  EXPECT_THROW(huge.slice({S(std::nullopt, std::nullopt, 2)}), ShapeError);
}

TEST(LayoutSliceTest, IntegerIntoAnEmptyLayoutCanLeaveTheBuffer) {
  // As NumPy: the strides of an empty array are not bounded by any buffer.
  const Layout a = Make(8, {3, 0}, {1000, 8});
  EXPECT_NO_THROW(a.CheckWithin(16));
  const Layout v = a.slice({int64_t{2}});
  EXPECT_EQ(v, Make(8, {0}, {8}, 2000));
  EXPECT_THROW(v.CheckWithin(16), ShapeError);
}

TEST(LayoutSliceTest, MalformedLayoutIsShapeError) {
  EXPECT_THROW(Make(8, {4, 6}, {8}).slice({}), ShapeError);
  EXPECT_THROW(Make(8, {-1}, {8}).slice({}), ShapeError);
}

// Safety invariant: whatever the expression, a view of a layout inside a
// buffer stays inside it.
TEST(LayoutSliceTest, ViewsOfLayoutsInsideABufferStayInside) {
  std::mt19937_64 rng(7);
  auto pick = [&rng](int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(rng() % static_cast<uint64_t>(hi - lo + 1));
  };
  int views = 0;
  for (int n = 0; n < 20000; ++n) {
    Layout l;
    l.itemsize = int64_t{1} << pick(0, 4);
    const int ndim = static_cast<int>(pick(0, 4));
    int64_t lo = 0;
    int64_t hi = l.itemsize;
    for (int i = 0; i < ndim; ++i) {
      l.shape.push_back(pick(0, 6));
      l.strides.push_back(pick(-24, 24));
      const int64_t span = l.strides.back() * (std::max<int64_t>(l.shape.back(), 1) - 1);
      (span < 0 ? lo : hi) += span;
    }
    l.offset = -lo + pick(0, 4);
    const int64_t buffer = l.offset + hi + pick(0, 4);
    ASSERT_NO_THROW(l.CheckWithin(buffer)) << l.DebugString();
    IndexExpr e;
    for (int k = static_cast<int>(pick(0, ndim + 1)); k > 0; --k) {
      switch (pick(0, 3)) {
        case 0:
          e.push_back(pick(-7, 7));
          break;
        case 1:
          e.push_back(Slice{pick(-9, 9), pick(-9, 9), pick(-4, 4) | 1});
          break;
        case 2:
          e.push_back(newaxis);
          break;
        default:
          e.push_back(Slice{std::nullopt, std::nullopt, pick(-3, 3) | 1});
      }
    }
    try {
      const Layout v = l.slice(e);
      ASSERT_NO_THROW(v.CheckWithin(buffer)) << l.DebugString() << " [" << FormatIndex(e) << "]";
      ++views;
    } catch (const IndexError&) {
    } catch (const IndexExprError&) {
    }
  }
  EXPECT_GT(views, 5000);
}

}  // namespace
}  // namespace shmarray::shm

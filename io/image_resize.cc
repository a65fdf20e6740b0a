// Resize + value mapping for the two reference preprocessing pipelines (see image_resize.h).
// Both resizers are written to repeat the reference arithmetic operation by operation:
//   TF:     tensorflow/core/kernels/image/scale_and_translate_op.cc (ComputeSpansCore,
//           GatherRows, GatherColumns) with TriangleKernelFunc from sampling_kernels.h.
//   Pillow: src/libImaging/Resample.c (precompute_coeffs, normalize_coeffs_8bpc,
//           ImagingResampleHorizontal_8bpc / Vertical_8bpc, ImagingResampleInner).
#include "io/image_resize.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "runtime/check.h"

namespace pg {
namespace {

void CheckImage(const Image& image, const char* what) {
  PG_CHECK(image.width > 0 && image.height > 0,
           what << ": image has no pixels (" << image.width << "x" << image.height << ")");
  PG_CHECK(image.rgb.size() == size_t(image.width) * image.height * 3,
           what << ": image buffer has " << image.rgb.size() << " bytes; expected "
                << image.width << "x" << image.height << "x3");
}

// ---- TF ScaleAndTranslate, triangle kernel -------------------------------------------------

// For each output index: the first input index and span_size weights (zero-padded).
struct TfSpans {
  int span_size = 0;
  std::vector<int> starts;     // [out_size]
  std::vector<float> weights;  // [out_size, span_size]
};

TfSpans ComputeTriangleSpans(int out_size, int in_size) {
  // tf.image.resize: scale = float32(new_size) / float32(old_size), translation = 0.
  const float scale = static_cast<float>(out_size) / static_cast<float>(in_size);
  const float inv_scale = 1.0 / scale;  // computed in double, stored as float, like TF
  const float inv_translate = -inv_scale * 0.0f;
  const float radius = 1.0f;
  const float kernel_scale = std::max(inv_scale, 1.0f);  // antialias: widen when shrinking
  TfSpans spans;
  spans.span_size =
      std::min(2 * static_cast<int>(std::ceil(radius * kernel_scale)) + 1, in_size);
  spans.starts.assign(out_size, 0);
  spans.weights.assign(size_t(out_size) * spans.span_size, 0.0f);
  const float one_over_kernel_scale = 1.0f / kernel_scale;
  std::vector<float> temp;
  for (int x = 0; x < out_size; ++x) {
    const float col_f = x + 0.5f;
    const float sample_f = col_f * inv_scale + inv_translate;
    if (sample_f < 0 || sample_f > in_size) continue;  // empty span (unreachable here)
    int64_t start = static_cast<int64_t>(std::ceil(sample_f - radius * kernel_scale - 0.5f));
    int64_t end = static_cast<int64_t>(std::floor(sample_f + radius * kernel_scale - 0.5f));
    start = std::clamp<int64_t>(start, 0, in_size - 1);
    end = std::clamp<int64_t>(end, 0, in_size - 1) + 1;
    float total = 0.0f;
    temp.clear();
    for (int64_t source = start; source < end; ++source) {
      const float kernel_pos = static_cast<float>(source) + 0.5f - sample_f;
      const float ax = std::abs(kernel_pos * one_over_kernel_scale);
      const float weight = ax < 1.0f ? 1.0f - ax : 0.0f;  // TriangleKernelFunc
      total += weight;
      temp.push_back(weight);
    }
    if (std::abs(total) >= 1000.0f * std::numeric_limits<float>::min()) {
      const float one_over_total = 1.0f / total;
      for (size_t i = 0; i < temp.size(); ++i)
        spans.weights[size_t(x) * spans.span_size + i] = temp[i] * one_over_total;
    }
    spans.starts[x] = static_cast<int>(start);
  }
  return spans;
}

}  // namespace

std::vector<float> ResizeBilinearAntialias(const Image& image, int out_height, int out_width) {
  CheckImage(image, "ResizeBilinearAntialias");
  PG_CHECK(out_height > 0 && out_width > 0,
           "ResizeBilinearAntialias: bad output size " << out_height << "x" << out_width);
  const int in_h = image.height, in_w = image.width, ch = 3;
  const TfSpans rows = ComputeTriangleSpans(out_height, in_h);
  const TfSpans cols = ComputeTriangleSpans(out_width, in_w);
  // GatherRows: vertical pass first. intermediate: [out_height, in_w, 3]
  const size_t in_row = size_t(in_w) * ch;
  std::vector<float> mid(size_t(out_height) * in_row, 0.0f);
  for (int y = 0; y < out_height; ++y) {
    float* out_row = mid.data() + size_t(y) * in_row;
    const int start = rows.starts[y];
    const int real_span = std::min(start + rows.span_size, in_h) - start;
    for (int i = 0; i < real_span; ++i) {
      const float w = rows.weights[size_t(y) * rows.span_size + i];
      const uint8_t* in = image.rgb.data() + size_t(start + i) * in_row;
      for (size_t j = 0; j < in_row; ++j) out_row[j] += w * static_cast<float>(in[j]);
    }
  }
  // GatherColumns: horizontal pass. out: [out_height, out_width, 3]
  std::vector<float> out(size_t(out_height) * out_width * ch);
  for (int y = 0; y < out_height; ++y) {
    const float* in_row_start = mid.data() + size_t(y) * in_row;
    for (int x = 0; x < out_width; ++x) {
      float* out_pix = out.data() + (size_t(y) * out_width + x) * ch;
      const int start = cols.starts[x];
      const int real_span = std::min(start + cols.span_size, in_w) - start;
      const float* in_pix = in_row_start + size_t(start) * ch;
      for (int c = 0; c < ch; ++c) out_pix[c] = 0.0f;
      for (int i = 0; i < real_span; ++i, in_pix += ch) {
        const float w = cols.weights[size_t(x) * cols.span_size + i];
        for (int c = 0; c < ch; ++c) out_pix[c] += w * in_pix[c];
      }
    }
  }
  return out;
}

// ---- Pillow BICUBIC ------------------------------------------------------------------------
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;  // Resample.c PRECISION_BITS

double BicubicFilter(double x) {  // Resample.c bicubic_filter, a = -0.5
  const double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

// Fixed-point coefficients for one axis.
struct PilCoeffs {
  int ksize = 0;
  std::vector<int> bounds;  // [out_size, 2]: first input index, number of taps
  std::vector<int32_t> k;   // [out_size, ksize], scaled by 2^22
};

PilCoeffs PrecomputePilCoeffs(int in_size, int out_size) {
  const float in0 = 0.0f, in1 = static_cast<float>(in_size);  // box = (0, 0, w, h)
  const double scale = static_cast<double>(in1 - in0) / out_size;
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = 2.0 * filterscale;  // BICUBIC support 2.0
  PilCoeffs c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.bounds.assign(size_t(out_size) * 2, 0);
  c.k.assign(size_t(out_size) * c.ksize, 0);
  std::vector<double> kd(c.ksize);
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = in0 + (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      kd[x] = BicubicFilter((x + xmin - center + 0.5) * ss);
      ww += kd[x];
    }
    for (int x = 0; x < xmax; ++x) {
      if (ww != 0.0) kd[x] /= ww;
      // normalize_coeffs_8bpc: round half away from zero, truncating conversion
      const double scaled = kd[x] * (1 << kPrecisionBits);
      c.k[size_t(xx) * c.ksize + x] =
          static_cast<int32_t>(kd[x] < 0 ? -0.5 + scaled : 0.5 + scaled);
    }
    c.bounds[size_t(xx) * 2] = xmin;
    c.bounds[size_t(xx) * 2 + 1] = xmax;
  }
  return c;
}

inline uint8_t Clip8(int64_t ss) {  // clip8(): lookup of ss >> 22, saturating to 0..255
  const int64_t v = ss >> kPrecisionBits;
  return static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
}

// One separable pass along an axis. in: [rows, cols, 3] -> out: [rows', cols', 3], where the
// axis is columns (horizontal) or rows (vertical). `row_offset` is the first input row used.
Image PilPass(const Image& in, const PilCoeffs& c, int out_size, bool horizontal,
              int row_offset, int out_rows) {
  Image out;
  out.width = horizontal ? out_size : in.width;
  out.height = out_rows;
  out.rgb.assign(size_t(out.width) * out.height * 3, 0);
  const int64_t half = int64_t{1} << (kPrecisionBits - 1);
  for (int yy = 0; yy < out.height; ++yy) {
    for (int xx = 0; xx < out.width; ++xx) {
      const int idx = horizontal ? xx : yy;
      const int min = c.bounds[size_t(idx) * 2], taps = c.bounds[size_t(idx) * 2 + 1];
      const int32_t* k = c.k.data() + size_t(idx) * c.ksize;
      int64_t ss[3] = {half, half, half};
      for (int t = 0; t < taps; ++t) {
        const uint8_t* p =
            horizontal ? &in.rgb[(size_t(yy + row_offset) * in.width + (t + min)) * 3]
                       : &in.rgb[(size_t(t + min) * in.width + xx) * 3];
        for (int ch = 0; ch < 3; ++ch) ss[ch] += int64_t{p[ch]} * k[t];
      }
      uint8_t* o = &out.rgb[(size_t(yy) * out.width + xx) * 3];
      for (int ch = 0; ch < 3; ++ch) o[ch] = Clip8(ss[ch]);
    }
  }
  return out;
}

}  // namespace

bool PilVerticalPassFirst(int in_height, int in_width, int out_height, int out_width) {
  const int64_t dh = int64_t{in_height} - out_height, dw = int64_t{in_width} - out_width;
  return dh > 0 && dh > 2 * dw;
}

Image ResizeBicubicPil(const Image& image, int out_height, int out_width) {
  CheckImage(image, "ResizeBicubicPil");
  PG_CHECK(out_height > 0 && out_width > 0,
           "ResizeBicubicPil: bad output size " << out_height << "x" << out_width);
  const bool need_horizontal = out_width != image.width;
  const bool need_vertical = out_height != image.height;
  if (!need_horizontal && !need_vertical) return image;  // Image.resize returns a copy
  PilCoeffs vert = PrecomputePilCoeffs(image.height, out_height);
  if (PilVerticalPassFirst(image.height, image.width, out_height, out_width)) {
    // Pillow >= 13: the vertical pass over every column, then the horizontal pass.
    Image cur = PilPass(image, vert, out_height, /*horizontal=*/false, 0, out_height);
    if (need_horizontal)
      cur = PilPass(cur, PrecomputePilCoeffs(image.width, out_width), out_width, /*horizontal=*/true, 0, out_height);
    return cur;
  }
  // ImagingResampleInner: the horizontal pass only covers the rows the vertical pass reads.
  const int ybox_first = vert.bounds[0];
  const int ybox_last = vert.bounds[size_t(out_height) * 2 - 2] + vert.bounds[size_t(out_height) * 2 - 1];
  Image cur = image;
  if (need_horizontal) {
    const PilCoeffs horiz = PrecomputePilCoeffs(image.width, out_width);
    for (int i = 0; i < out_height; ++i) vert.bounds[size_t(i) * 2] -= ybox_first;
    cur = PilPass(image, horiz, out_width, /*horizontal=*/true, ybox_first,
                  ybox_last - ybox_first);
  }
  if (need_vertical) cur = PilPass(cur, vert, out_height, /*horizontal=*/false, 0, out_height);
  return cur;
}

// ---- Value mapping ---------------------------------------------------------------------------

const char* ResizeFilterName(ResizeFilter filter) {
  return filter == ResizeFilter::kBilinearAntialias ? "bilinear" : "bicubic";
}

ResizeFilter ParseResizeFilter(const std::string& name) {
  if (name == "bilinear") return ResizeFilter::kBilinearAntialias;
  if (name == "bicubic") return ResizeFilter::kBicubicPil;
  PG_THROW("unknown resize filter '" << name
                                     << "'; expected 'bilinear' (big_vision, TF antialias) or "
                                        "'bicubic' (HF SiglipImageProcessor, PIL)");
}

std::vector<float> PreprocessImage(const Image& image, int size, ResizeFilter filter) {
  // image.rgb: [height, width, 3] -> [size, size, 3]
  CheckImage(image, "PreprocessImage");
  PG_CHECK(size > 0, "PreprocessImage: bad target size " << size);
  std::vector<float> out(size_t(size) * size * 3);
  const bool same = image.width == size && image.height == size;
  if (filter == ResizeFilter::kBilinearAntialias) {
    // Colab preprocess_image: float32(resized) / 127.5 - 1.0 in float32.
    if (same) {
      for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(image.rgb[i]);
    } else {
      out = ResizeBilinearAntialias(image, size, size);
    }
    for (float& v : out) v = v / 127.5f - 1.0f;
    return out;
  }
  // HF: rescale = float32(float64(x) * (1/255)); normalize = (x - 0.5f) / 0.5f in float32.
  const Image resized = same ? image : ResizeBicubicPil(image, size, size);
  for (size_t i = 0; i < out.size(); ++i) {
    const float r = static_cast<float>(static_cast<double>(resized.rgb[i]) * (1.0 / 255.0));
    out[i] = (r - 0.5f) / 0.5f;
  }
  return out;
}

}  // namespace pg
